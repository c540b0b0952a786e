/**
 * Scheduled retention purge (EventBridge Scheduler → Lambda, or a Step Functions loop for big backlogs): runs the
 * policy within the invocation's time (stopping cleanly before it runs out), stores a run report, emits metrics, and
 * returns `{purged, skipped, failed, isComplete, continuationToken}` so the next run continues where this one stopped.
 */
import { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import middy from "@middy/core";
import type { Context } from "aws-lambda";
import { purgeFunctionSettings } from "../../shared/config/purge-function.ts";
import { createSecretResolver } from "../../shared/config/secrets.ts";
import { errorMessage, HousekeeperError } from "../../shared/errors.ts";
import { writePurgeReport } from "../../shared/jobs/purge-report.ts";
import { runRetentionPolicy } from "../../shared/jobs/retention-run.ts";
import { targetPortsOpener } from "../../shared/jobs/target-ports.ts";
import { openObjectStore } from "../../shared/object-store/open.ts";

export const logger = new Logger({ serviceName: "purge" });
export const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? "DaprHousekeeper",
  serviceName: "purge",
});
/** Module scope: secrets stay cached across warm invocations (with a finite expiry). */
const secrets = createSecretResolver();

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

export async function purge(
  event: unknown,
  context?: Pick<Context, "getRemainingTimeInMillis">,
): Promise<PurgeResponse> {
  try {
    const settings = purgeFunctionSettings(process.env, event);
    const report = await runRetentionPolicy(settings.policy, {
      openTarget: targetPortsOpener(secrets),
      continuationToken: settings.continuationToken,
      timeLeftMs: context ? () => context.getRemainingTimeInMillis() : undefined,
      safetyMarginMs: settings.safetyMarginMs,
    });
    let reportKey: string | undefined;
    if (settings.reports) {
      const store = openObjectStore(settings.reports.store);
      try {
        reportKey = await writePurgeReport(store, settings.reports.prefix, report);
      } finally {
        await store.close();
      }
    }
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
    const code = error instanceof HousekeeperError ? error.code : "internal";
    metrics.addMetric("PurgeRunFailed", MetricUnit.Count, 1);
    logger.error("retention purge failed", { code, reason: errorMessage(error) });
    throw error;
  }
}

export const handler = middy(purge)
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics, { throwOnEmptyMetrics: false }));
