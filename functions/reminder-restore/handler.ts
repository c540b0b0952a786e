/**
 * On-demand reminder restore (`aws lambda invoke` with `{ "backupKey": "…bin" | "latest", "dryRun": true, … }`):
 * verifies and decodes the whole backup before writing, then restores it into the Scheduler's etcd
 * (shared/jobs/reminder-restore.ts). Answers `{ ok: true, result }`, or `{ ok: false, error: { code, message } }`
 * for bad input and for every refusal the job explains (corrupt backup, missing manifest, ...). A restore that fails
 * midway is `ok: true` with `result.isComplete: false` and the keys it wrote; run the same request again to finish.
 */
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import type { Context } from "aws-lambda";
import { type ErrorCode, HousekeeperError } from "../../shared/errors.ts";
import { type ReminderRestoreResult, runReminderRestore } from "../../shared/jobs/reminder-restore.ts";
import { ReminderPortsCache } from "../../shared/wiring/reminder-storage-ports.ts";
import { lambdaHandler, logFailure } from "../support/kit.ts";
import { meteredKit } from "../support/metrics.ts";
import { reminderRestoreSettings } from "./settings.ts";

const kit = meteredKit("reminder-restore");
export const { logger, metrics } = kit;
/** Module scope: reused by warm invocations. */
export const ports = new ReminderPortsCache();

/** Keys listed per outcome in the response (Lambda responses are capped at 6 MB); counts stay exact. */
export const RESPONSE_KEY_LIMIT = 1000;

export type ReminderRestoreResponse =
  | { ok: true; result: ReminderRestoreResult }
  | { ok: false; error: { code: ErrorCode; message: string } };

export async function restoreReminders(event: unknown, _context?: Context): Promise<ReminderRestoreResponse> {
  try {
    const settings = reminderRestoreSettings(process.env, event);
    const result = await runReminderRestore(await ports.get(settings), {
      ...settings.request,
      reportLimit: RESPONSE_KEY_LIMIT,
    });
    metrics.addMetric("KeysCreated", MetricUnit.Count, result.counts.created);
    metrics.addMetric("KeysOverwritten", MetricUnit.Count, result.counts.overwritten);
    metrics.addMetric("KeysUnchanged", MetricUnit.Count, result.counts.unchanged);
    metrics.addMetric("KeysSkipped", MetricUnit.Count, result.counts.skipped);
    metrics.addMetric("RestoreDuration", MetricUnit.Milliseconds, result.durationMs);
    if (!result.isComplete) metrics.addMetric("RestoreFailed", MetricUnit.Count, 1);
    const log = result.isComplete ? logger.info.bind(logger) : logger.error.bind(logger);
    log(result.dryRun ? "reminder restore dry run" : "reminder restore", {
      backupKey: result.backupKey,
      conflictPolicy: result.conflictPolicy,
      prefix: result.prefix,
      counts: result.counts,
      transactions: result.transactions,
      isComplete: result.isComplete,
      ...(result.failure ? { failure: result.failure } : {}),
    });
    return { ok: true, result };
  } catch (error) {
    if (!(error instanceof HousekeeperError)) {
      logFailure(kit, error, { message: "reminder restore failed unexpectedly", metric: "RestoreFailed" });
      throw error;
    }
    logFailure(kit, error, { message: "reminder restore refused", metric: "RestoreRefused", level: "warn" });
    return { ok: false, error: { code: error.code, message: error.message } };
  }
}

export const handler = lambdaHandler(kit, restoreReminders);
