/**
 * Runs a retention policy over all its targets, one after another, within one time budget. The continuation token
 * says which target to resume and where in it, so a Lambda (or a Step Functions loop) can carry a big purge over
 * many invocations. It also produces the run report the purge function stores.
 */
import { createHash } from "node:crypto";
import type { RetentionPolicy } from "../config/retention-policy.ts";
import type { Target } from "../config/target.ts";
import { errorMessage, HousekeeperError } from "../errors.ts";
import type { SchedulerStore } from "../scheduler/store.ts";
import type { RuntimeStatus } from "../workflow/runtime-status.ts";
import { effectiveShard, formatShard } from "../workflow/shard.ts";
import { cleanOrphanReminders, type OrphanCleanup } from "./orphan-reminders.ts";
import type { PurgeDecision, RetentionPorts, RetentionResult } from "./retention-purge.ts";
import { DEFAULT_SAFETY_MARGIN_MS, runRetentionPurge } from "./retention-purge.ts";

export interface TargetPorts extends RetentionPorts {
  /** The target's Scheduler, when configured (orphan-reminder cleanup). */
  scheduler?: SchedulerStore;
  close(): Promise<void>;
}

/** Opens what a target needs (state store always; the sidecar in sidecar mode; the Scheduler if configured). */
export type OpenTargetPorts = (target: Target, needs: { sidecar: boolean }) => Promise<TargetPorts>;

export interface RetentionRunOptions {
  openTarget: OpenTargetPorts;
  continuationToken?: string;
  timeLeftMs?: () => number;
  safetyMarginMs?: number;
  onDecision?: (decision: PurgeDecision & { appId: string; namespace: string }) => void;
  /** Instances scanned so far, over all targets (a CLI's progress line). */
  onScanned?: (scanned: number) => void;
  now?: Date;
}

export interface TargetOutcome {
  appId: string;
  namespace: string;
  /** `K/N` when the target is one shard of its app (so the shards' reports can be told apart and merged). */
  shard?: string;
  /** Set when the target could not be opened or the run failed as a whole (one instance failing does not). */
  error?: string;
  result?: Omit<RetentionResult, "app">;
  /** With `orphanReminders: "delete"`, once the target's purge is complete. */
  orphanReminders?: OrphanCleanup;
}

export interface RetentionRunReport {
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  mode: RetentionPolicy["mode"];
  dryRun: boolean;
  ageFrom: RetentionPolicy["ageFrom"];
  /** The rules as given (durations in ms); no connection details or secrets. */
  retentionMs: RetentionPolicy["retention"];
  purged: number;
  /** Child workflows purged together with their parents (direct mode), not counted in `purged`. */
  childrenPurged: number;
  wouldPurge: number;
  skipped: number;
  /** Exact; `failed` lists at most the first 1000 per target. */
  failedCount: number;
  failed: Array<{ appId: string; namespace: string; instanceID: string; error: string }>;
  /** Due instances seen but left for the next run (a lower bound of the backlog; 0 when complete). */
  deferred: number;
  purgedByStatus: Partial<Record<RuntimeStatus, number>>;
  purgedByApp: Record<string, number>;
  /** Orphan reminders deleted (with `orphanReminders: "delete"`; in a dry run, found). */
  orphanReminders: number;
  /** Instances per second over the run. */
  rate: number;
  targets: TargetOutcome[];
  isComplete: boolean;
  continuationToken: string | undefined;
}

export async function runRetentionPolicy(
  policy: RetentionPolicy,
  options: RetentionRunOptions,
): Promise<RetentionRunReport> {
  const started = Date.now();
  const fingerprint = policyFingerprint(policy);
  const resume = decodeRunToken(options.continuationToken, fingerprint);
  const report: RetentionRunReport = {
    startedAt: new Date(started).toISOString(),
    finishedAt: "",
    durationMs: 0,
    mode: policy.mode,
    dryRun: policy.dryRun,
    ageFrom: policy.ageFrom,
    retentionMs: policy.retention,
    purged: 0,
    childrenPurged: 0,
    wouldPurge: 0,
    skipped: 0,
    failedCount: 0,
    failed: [],
    deferred: 0,
    purgedByStatus: {},
    purgedByApp: {},
    orphanReminders: 0,
    rate: 0,
    targets: [],
    isComplete: false,
    continuationToken: undefined,
  };

  let budgetLeftOver = policy.maxInstancesPerRun;
  let scannedBefore = 0;
  for (let index = resume.target; index < policy.targets.length; index++) {
    const target = policy.targets[index]!;
    const outcome: TargetOutcome = { appId: target.appId, namespace: target.namespace };
    const shard = effectiveShard(target.shard);
    if (shard) outcome.shard = formatShard(shard);
    report.targets.push(outcome);
    let ports: TargetPorts | undefined;
    try {
      ports = await options.openTarget(target, { sidecar: policy.mode === "sidecar" && !policy.dryRun });
      const result = await runRetentionPurge(ports, {
        retention: policy.retention,
        ageFrom: policy.ageFrom,
        mode: policy.mode,
        dryRun: policy.dryRun,
        maxInstances: budgetLeftOver,
        concurrency: policy.concurrency,
        recursive: policy.recursive,
        continuationToken: index === resume.target ? resume.inner : undefined,
        shard: target.shard,
        timeLeftMs: options.timeLeftMs,
        safetyMarginMs: options.safetyMarginMs,
        now: options.now,
        onDecision: options.onDecision
          ? (d) => options.onDecision!({ ...d, appId: target.appId, namespace: target.namespace })
          : undefined,
        onScanned: options.onScanned ? (n) => options.onScanned!(scannedBefore + n) : undefined,
      });
      scannedBefore += result.scanned;
      const { app: _app, ...rest } = result;
      outcome.result = rest;
      report.purged += result.purged;
      report.childrenPurged += result.childrenPurged;
      report.wouldPurge += result.dryRun ? result.matched : 0;
      report.skipped += result.skippedCount;
      report.failedCount += result.failedCount;
      report.deferred += result.deferred;
      for (const f of result.failed) report.failed.push({ appId: target.appId, namespace: target.namespace, ...f });
      for (const [status, n] of Object.entries(result.purgedByStatus)) {
        report.purgedByStatus[status as RuntimeStatus] = (report.purgedByStatus[status as RuntimeStatus] ?? 0) + n;
      }
      const appKey = `${target.namespace}/${target.appId}`;
      report.purgedByApp[appKey] = (report.purgedByApp[appKey] ?? 0) + result.purged;
      if (budgetLeftOver !== undefined)
        budgetLeftOver = Math.max(0, budgetLeftOver - result.purged - result.failedCount);
      if (!result.isComplete) {
        report.continuationToken = encodeRunToken({ target: index, inner: result.continuationToken }, fingerprint);
        return finish(report, started);
      }
      if (policy.orphanReminders === "delete" && ports.scheduler) {
        // Best effort within the budget: cut short, the next scheduled run finds the rest (deletes are idempotent).
        // A failure here is reported with the target, which stays purged: it is not a failed target.
        const margin = options.safetyMarginMs ?? DEFAULT_SAFETY_MARGIN_MS;
        try {
          const cleanup = await cleanOrphanReminders(
            { scheduler: ports.scheduler, store: ports.store },
            {
              dryRun: policy.dryRun,
              shard: target.shard,
              shouldStop: () => (options.timeLeftMs?.() ?? Number.POSITIVE_INFINITY) < margin,
              ...(options.now ? { now: options.now } : {}),
            },
          );
          outcome.orphanReminders = cleanup;
          report.orphanReminders += policy.dryRun ? cleanup.found : cleanup.deleted;
        } catch (error) {
          outcome.orphanReminders = { found: 0, deleted: 0, kept: 0, isComplete: false, error: errorMessage(error) };
        }
      }
    } catch (error) {
      // A target that cannot be opened (wrong password, store down) is reported; the other targets still run.
      outcome.error = errorMessage(error);
    } finally {
      await ports?.close().catch(() => {});
    }
  }
  report.isComplete = true;
  return finish(report, started);
}

function finish(report: RetentionRunReport, started: number): RetentionRunReport {
  const finished = Date.now();
  report.finishedAt = new Date(finished).toISOString();
  report.durationMs = finished - started;
  report.rate = report.durationMs > 0 ? Math.round((report.purged / report.durationMs) * 1000 * 10) / 10 : 0;
  return report;
}

/**
 * Binds a token to the policy's targets (and their shards), so a token from another policy, shard or shard count is
 * refused rather than misapplied. An unsharded target (or 1/1) adds nothing, so tokens issued before shards still fit.
 */
function policyFingerprint(policy: RetentionPolicy): string {
  const shape = policy.targets
    .map((t) => {
      const shard = effectiveShard(t.shard);
      return `${t.namespace}/${t.appId}${shard ? `#${formatShard(shard)}` : ""}`;
    })
    .join(",");
  return createHash("sha256").update(shape).digest("base64url").slice(0, 16);
}

function encodeRunToken(state: { target: number; inner: string | undefined }, fingerprint: string): string {
  return Buffer.from(JSON.stringify({ v: 1, p: fingerprint, t: state.target, i: state.inner ?? null })).toString(
    "base64url",
  );
}

function decodeRunToken(token: string | undefined, fingerprint: string): { target: number; inner: string | undefined } {
  if (!token) return { target: 0, inner: undefined };
  let parsed: { v?: unknown; p?: unknown; t?: unknown; i?: unknown };
  try {
    parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw new HousekeeperError("bad-input", "continuation token is not one this tool issued");
  }
  if (parsed.v !== 1 || typeof parsed.t !== "number" || !Number.isInteger(parsed.t) || parsed.t < 0) {
    throw new HousekeeperError("bad-input", "continuation token is not one this tool issued");
  }
  if (parsed.p !== fingerprint) {
    throw new HousekeeperError(
      "bad-input",
      "continuation token was issued for a policy with other targets (or other shards of them)",
    );
  }
  return { target: parsed.t, inner: typeof parsed.i === "string" ? parsed.i : undefined };
}
