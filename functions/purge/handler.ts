/**
 * Scheduled retention purge (EventBridge Scheduler → Lambda, or a Step Functions loop for big backlogs): runs the
 * policy within the invocation's time (stopping cleanly before it runs out), stores a run report, emits metrics, and
 * returns `{purged, skipped, failed, isComplete, continuationToken}` so the next run continues where this one stopped.
 */
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import type { Context } from "aws-lambda";
import { purgeReportKey, writePurgeReport } from "../../shared/jobs/purge-report.ts";
import { type MergeRequest, mergeShardResults } from "../../shared/jobs/purge-shards.ts";
import { runRetentionPolicy } from "../../shared/jobs/retention-run.ts";
import type { ObjectStore } from "../../shared/object-store/object-store.ts";
import { openObjectStore } from "../../shared/object-store/open.ts";
import { traced } from "../../shared/tracing.ts";
import { createSecretResolver } from "../../shared/util/secrets.ts";
import { AdapterCache, settingsKey } from "../../shared/wiring/adapter-cache.ts";
import { targetPortsOpener } from "../../shared/wiring/target-ports.ts";
import { lambdaHandler, logFailure } from "../support/kit.ts";
import { meteredKit } from "../support/metrics.ts";
import { type PurgeFunctionSettings, purgeFunctionSettings } from "./settings.ts";

const kit = meteredKit("purge");
export const { logger, metrics } = kit;
/** Module scope: secrets stay cached across warm invocations (with a finite expiry), and so do the connections. */
const secrets = createSecretResolver();
export const ports = new AdapterCache();

/** Failures listed in the response (all of them are in the stored report): Step Functions caps a state at 256 KB. */
const RESPONSE_FAILURE_LIMIT = 50;

export interface PurgeResponse {
  purged: number;
  wouldPurge: number;
  skipped: number;
  failedCount: number;
  /** The first RESPONSE_FAILURE_LIMIT failures. */
  failed: Array<{ appId: string; namespace: string; instanceID: string; error: string }>;
  targetErrors: Array<{ appId: string; namespace: string; error: string }>;
  isComplete: boolean;
  continuationToken: string | undefined;
  reportKey: string | undefined;
}

/** The merge step's answer: the run's totals, and the shards that failed (the state machine fails if any did). */
export interface MergeResponse {
  ok: boolean;
  shards: number;
  purged: number;
  wouldPurge: number;
  skipped: number;
  failedCount: number;
  /** The first RESPONSE_FAILURE_LIMIT failed shards (all of them are in the stored report). */
  failedShards: Array<{ name: string; error: string }>;
  reportKey: string | undefined;
}

async function storeReport(
  settings: PurgeFunctionSettings,
  write: (store: ObjectStore, prefix: string) => Promise<string>,
): Promise<string | undefined> {
  const reports = settings.reports;
  if (!reports) return undefined;
  const store = await ports.get(
    "reports",
    settingsKey(reports.store),
    () => traced("s3", openObjectStore(reports.store)),
    (s) => s.close(),
  );
  return await write(store, reports.prefix);
}

async function merge(settings: PurgeFunctionSettings, request: MergeRequest): Promise<MergeResponse> {
  const report = mergeShardResults(settings.policy, request);
  const reportKey = await storeReport(settings, async (store, prefix) => {
    const key = purgeReportKey(`${prefix}/runs`, new Date(report.finishedAt));
    await store.put(key, `${JSON.stringify(report, null, 2)}\n`, { contentType: "application/json" });
    return key;
  });
  metrics.addMetric("PurgeShardsFailed", MetricUnit.Count, report.failedShards.length);
  logger.info("sharded retention purge run", { ...report, failedShards: report.failedShards.length, reportKey });
  return {
    ok: report.failedShards.length === 0,
    shards: report.shards,
    purged: report.purged,
    wouldPurge: report.wouldPurge,
    skipped: report.skipped,
    failedCount: report.failedCount,
    failedShards: report.failedShards.slice(0, RESPONSE_FAILURE_LIMIT),
    reportKey,
  };
}

export async function purge(
  event: unknown,
  context?: Pick<Context, "getRemainingTimeInMillis">,
): Promise<PurgeResponse | MergeResponse> {
  try {
    const settings = purgeFunctionSettings(process.env, event);
    if (settings.merge) return await merge(settings, settings.merge);
    const report = await runRetentionPolicy(settings.policy, {
      openTarget: targetPortsOpener(secrets, undefined, ports),
      continuationToken: settings.continuationToken,
      timeLeftMs: context ? () => context.getRemainingTimeInMillis() : undefined,
      safetyMarginMs: settings.safetyMarginMs,
    });
    const reportKey = await storeReport(settings, (store, prefix) => writePurgeReport(store, prefix, report));
    metrics.addMetric("Purged", MetricUnit.Count, report.purged);
    metrics.addMetric("PurgeFailed", MetricUnit.Count, report.failedCount);
    metrics.addMetric("PurgeSkipped", MetricUnit.Count, report.skipped);
    // Due instances seen and left for the next run: a lower bound (the rest of the store is not scanned to count).
    metrics.addMetric("PurgeBacklogRemaining", MetricUnit.Count, report.deferred);
    metrics.addMetric("PurgeRunIncomplete", MetricUnit.Count, report.isComplete ? 0 : 1);
    const targetErrors = report.targets.flatMap((t) =>
      t.error ? [{ appId: t.appId, namespace: t.namespace, error: t.error }] : [],
    );
    metrics.addMetric("PurgeTargetErrors", MetricUnit.Count, targetErrors.length);
    if (report.targets.some((t) => t.orphanReminders)) {
      metrics.addMetric("OrphanRemindersDeleted", MetricUnit.Count, report.dryRun ? 0 : report.orphanReminders);
    }
    logger.info("retention purge run", {
      purged: report.purged,
      wouldPurge: report.wouldPurge,
      skipped: report.skipped,
      failed: report.failedCount,
      deferred: report.deferred,
      orphanReminders: report.orphanReminders,
      targetErrors,
      purgedByStatus: report.purgedByStatus,
      purgedByApp: report.purgedByApp,
      durationMs: report.durationMs,
      rate: report.rate,
      isComplete: report.isComplete,
      ...(settings.item ? { target: settings.item.target, shard: settings.item.shard } : {}),
      reportKey,
    });
    return {
      purged: report.purged,
      wouldPurge: report.wouldPurge,
      skipped: report.skipped,
      failedCount: report.failedCount,
      failed: report.failed.slice(0, RESPONSE_FAILURE_LIMIT),
      targetErrors,
      isComplete: report.isComplete,
      continuationToken: report.continuationToken,
      reportKey,
    };
  } catch (error) {
    logFailure(kit, error, { message: "retention purge failed", metric: "PurgeRunFailed" });
    throw error;
  }
}

export const handler = lambdaHandler(kit, purge);
