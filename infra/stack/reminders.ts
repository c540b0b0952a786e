/** The reminder backup (scheduled) and restore (on demand) functions, on the Scheduler's etcd and the bucket. */
import { reminderBackupEnvSchema, reminderStorageEnvSchema } from "../../functions/reminder-backup/settings.ts";
import { reminderRestoreEnvSchema } from "../../functions/reminder-restore/settings.ts";
import { functionEnvironment } from "../../functions/support/env.ts";
import { ScheduledJob } from "../constructs/scheduled-job.ts";
import type { StackContext } from "./context.ts";

export function addReminderFunctions(ctx: StackContext): void {
  const { stack, config, deadLetterQueue: dlq } = ctx;
  const prefixes = config.storage.prefixes;
  const storageEnv = functionEnvironment(reminderStorageEnvSchema, {
    ...ctx.etcdEnv,
    BACKUP_BUCKET: ctx.bucketName,
    BACKUP_PREFIX: prefixes.backups,
    SCHEDULER_NAMESPACE: config.scheduler?.namespace,
  });
  const backup = config.reminderBackup;
  if (backup?.enabled) {
    const fn = ctx.addFunction("ReminderBackup", backup, {
      name: "reminder-backup",
      description: "dapr-housekeeper: backup of the Dapr Scheduler's jobs and reminders",
      environment: {
        ...storageEnv,
        ...functionEnvironment(reminderBackupEnvSchema, {
          DAPR_NAMESPACE: backup.daprNamespace,
          REMINDER_PREFIX: backup.reminderPrefix,
          RETENTION_KEEP_LAST: backup.keepLast,
          RETENTION_KEEP_WITHIN: backup.keepWithin,
        }),
      },
      onAsyncFailure: { queue: dlq!, retryAttempts: 1 },
    });
    ctx.storage.grantPrefix(fn.role, prefixes.backups, { read: true, write: true, delete: true, list: true });
    ctx.secrets.grantRead(fn.role, ctx.etcdSecretArns);
    new ScheduledJob(stack, "ReminderBackupSchedule", {
      description: "dapr-housekeeper reminder backup",
      settings: backup.schedule,
      target: { function: fn.fn },
      input: backup.input,
      deadLetterQueue: dlq!,
      group: ctx.scheduleGroup!,
    });
  }
  const restore = config.reminderRestore;
  if (restore?.enabled) {
    const fn = ctx.addFunction("ReminderRestore", restore, {
      name: "reminder-restore",
      description: "dapr-housekeeper: restore of the Dapr Scheduler's jobs and reminders from a backup (on demand)",
      environment: {
        ...storageEnv,
        ...functionEnvironment(reminderRestoreEnvSchema, { DAPR_NAMESPACE: restore.daprNamespace }),
      },
    });
    ctx.storage.grantPrefix(fn.role, prefixes.backups, { read: true, list: true });
    ctx.secrets.grantRead(fn.role, ctx.etcdSecretArns);
  }
}
