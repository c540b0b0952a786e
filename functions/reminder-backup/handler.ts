/**
 * Scheduled reminder backup (EventBridge Scheduler → Lambda): exports the Scheduler's jobs and counters to S3 in the
 * `dapr scheduler export` format with a manifest, and applies retention. Configuration: environment variables and
 * the schedule's input (./settings.ts). A failure is logged with its code, counted, and rethrown
 * so that the invocation fails (Scheduler retries, then its dead-letter queue).
 */
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import type { Context } from "aws-lambda";
import { type ReminderBackupResult, runReminderBackup } from "../../shared/jobs/reminder-backup.ts";
import { ReminderPortsCache } from "../../shared/wiring/reminder-storage-ports.ts";
import { lambdaHandler, logFailure } from "../support/kit.ts";
import { meteredKit } from "../support/metrics.ts";
import { reminderBackupSettings } from "./settings.ts";

const kit = meteredKit("reminder-backup");
export const { logger, metrics } = kit;
/** Module scope: reused by warm invocations. */
export const ports = new ReminderPortsCache();

export async function backupReminders(event: unknown, _context?: Context): Promise<ReminderBackupResult> {
  try {
    const settings = reminderBackupSettings(process.env, event);
    const result = await runReminderBackup(await ports.get(settings), settings.job);
    metrics.addMetric("JobsExported", MetricUnit.Count, result.jobs);
    metrics.addMetric("CountersExported", MetricUnit.Count, result.counters);
    metrics.addMetric("BackupBytes", MetricUnit.Bytes, result.bytes);
    metrics.addMetric("BackupDuration", MetricUnit.Milliseconds, result.durationMs);
    metrics.addMetric("BackupsDeleted", MetricUnit.Count, result.deletedBackups.length);
    logger.info("reminder backup written", {
      key: result.key,
      revision: result.revision,
      jobs: result.jobs,
      counters: result.counters,
      bytes: result.bytes,
      sha256: result.sha256,
      deletedBackups: result.deletedBackups,
      durationMs: result.durationMs,
    });
    return result;
  } catch (error) {
    logFailure(kit, error, { message: "reminder backup failed", metric: "BackupFailed" });
    throw error;
  }
}

export const handler = lambdaHandler(kit, backupReminders);
