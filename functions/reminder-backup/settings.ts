/**
 * Configuration of the reminder backup function: environment variables (where things are) plus the scheduled
 * event's input (what to do this time; EventBridge Scheduler sends the schedule's `input` JSON as the event), both
 * validated with zod. The event overrides the environment field by field.
 *
 * Environment:
 *   ETCD_ENDPOINTS         comma-separated host:port (http:// or https://) of the Scheduler's etcd (required)
 *   ETCD_KEY_ROOT          where Dapr's `dapr/` keys live in that etcd (default `dapr/`)
 *   ETCD_TLS_SECRET        secret reference (Secrets Manager ARN, secretsmanager:<name>, env:NAME) to JSON
 *                          {"ca": PEM, "cert": PEM, "key": PEM}: a private CA and/or a client certificate for etcd
 *   BACKUP_BUCKET          S3 bucket; without it backups go to the local filesystem (BACKUP_DIR)
 *   BACKUP_DIR             filesystem root when no bucket is set (default ./.housekeeper/backups/)
 *   BACKUP_PREFIX          key prefix in the bucket (default `reminders`)
 *   SCHEDULER_NAMESPACE    the Scheduler's namespace, the folder below the prefix (default `dapr-system`)
 *   DAPR_NAMESPACE         Dapr namespace a display-name prefix is resolved in (default `default`)
 *   REMINDER_PREFIX        back up only jobs under this display-name prefix (e.g. `workflow/my-app`)
 *   RETENTION_KEEP_LAST    keep the newest N backups
 *   RETENTION_KEEP_WITHIN  keep backups younger than this (Go duration `720h`, or days `30d`)
 *   S3_ENDPOINT            custom endpoint of an S3-compatible store (path-style addressing is then used)
 *   S3_FORCE_PATH_STYLE    true/false, to override that
 *   AWS_REGION             as usual
 */

import { z } from "zod";
import { type EtcdSettings, etcdSettingsFromEnv } from "../../shared/config/etcd.ts";
import type { ReminderBackupConfig } from "../../shared/jobs/reminder-backup.ts";
import type { ObjectStoreConfig } from "../../shared/object-store/open.ts";
import { DURATION_DOORS } from "../../shared/util/duration.ts";
import { durationSchema } from "../../shared/util/duration-schema.ts";
import { objectStoreFromEnv, parseOrThrow, scheduledEventInput } from "../support/parse.ts";

/** Milliseconds of a Go duration (`720h`, `90m`) or a whole number of days (`30d`); never negative. */
const duration = durationSchema(DURATION_DOORS.age);

const optionalText = z
  .string()
  .trim()
  .transform((s) => (s === "" ? undefined : s))
  .optional();

const boolText = z
  .enum(["true", "false", "1", "0", "yes", "no"])
  .transform((s) => s === "true" || s === "1" || s === "yes");

const namespace = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "letters, digits, '.', '_' and '-' only");
const displayPrefix = z
  .string()
  .regex(/^(all|app|actor|workflow)(\/[^/]+){0,2}$/, "a delete-all prefix such as workflow/my-app");

/** The environment shared by the backup and the restore functions. */
export const reminderStorageEnvSchema = z.object({
  ETCD_ENDPOINTS: z
    .string({ error: "ETCD_ENDPOINTS is required (comma-separated host:port)" })
    .transform((s) =>
      s
        .split(",")
        .map((e) => e.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string()).min(1, "ETCD_ENDPOINTS names no endpoint")),
  ETCD_KEY_ROOT: optionalText,
  ETCD_TLS_SECRET: optionalText,
  BACKUP_BUCKET: optionalText,
  BACKUP_DIR: optionalText,
  BACKUP_PREFIX: z.string().optional(),
  SCHEDULER_NAMESPACE: optionalText.pipe(namespace.optional()),
  DAPR_NAMESPACE: optionalText.pipe(namespace.optional()),
  S3_ENDPOINT: optionalText.pipe(z.url().optional()),
  S3_FORCE_PATH_STYLE: optionalText.pipe(boolText.optional()),
  AWS_REGION: optionalText,
});

export const reminderBackupEnvSchema = reminderStorageEnvSchema.extend({
  REMINDER_PREFIX: optionalText.pipe(displayPrefix.optional()),
  RETENTION_KEEP_LAST: optionalText.pipe(
    z.string().regex(/^\d+$/, "a whole number (0 or more)").transform(Number).optional(),
  ),
  RETENTION_KEEP_WITHIN: optionalText.pipe(duration.optional()),
});

/** The schedule's input: per-schedule overrides of the environment. */
export const reminderBackupEventSchema = z
  .object({
    prefix: displayPrefix.optional(),
    keyPrefix: z.string().optional(),
    schedulerNamespace: namespace.optional(),
    daprNamespace: namespace.optional(),
    keepLast: z.number().int().min(0).optional(),
    keepWithin: duration.optional(),
  })
  .strict();

export interface StorageSettings {
  etcd: EtcdSettings;
  objectStore: ObjectStoreConfig;
}

export interface ReminderBackupSettings extends StorageSettings {
  job: ReminderBackupConfig;
}

export function storageSettings(env: z.output<typeof reminderStorageEnvSchema>): StorageSettings {
  const objectStore = objectStoreFromEnv(env.BACKUP_BUCKET, env, env.BACKUP_DIR);
  return {
    etcd: etcdSettingsFromEnv(env),
    objectStore,
  };
}

/** Environment + event → validated settings; HousekeeperError("bad-input") naming every problem. */
export function reminderBackupSettings(env: NodeJS.ProcessEnv, event: unknown): ReminderBackupSettings {
  const e = parseOrThrow(reminderBackupEnvSchema, env, "environment");
  const input = parseOrThrow(reminderBackupEventSchema, scheduledEventInput(event), "event");
  const keepLast = input.keepLast ?? e.RETENTION_KEEP_LAST;
  const keepWithinMs = input.keepWithin ?? e.RETENTION_KEEP_WITHIN;
  const prefix = input.prefix ?? e.REMINDER_PREFIX;
  const schedulerNamespace = input.schedulerNamespace ?? e.SCHEDULER_NAMESPACE;
  const daprNamespace = input.daprNamespace ?? e.DAPR_NAMESPACE;
  const keyPrefix = input.keyPrefix ?? e.BACKUP_PREFIX;
  const job: ReminderBackupConfig = {
    ...(keyPrefix !== undefined ? { keyPrefix } : {}),
    ...(schedulerNamespace ? { schedulerNamespace } : {}),
    ...(daprNamespace ? { daprNamespace } : {}),
    ...(prefix ? { prefix } : {}),
    ...(keepLast !== undefined || keepWithinMs !== undefined
      ? {
          retention: {
            ...(keepLast !== undefined ? { keepLast } : {}),
            ...(keepWithinMs !== undefined ? { keepWithinMs } : {}),
          },
        }
      : {}),
    ...(env.HOUSEKEEPER_VERSION ? { toolVersion: env.HOUSEKEEPER_VERSION } : {}),
  };
  return { ...storageSettings(e), job };
}
