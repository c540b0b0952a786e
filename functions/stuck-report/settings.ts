/**
 * Configuration of the stuck-report function: environment variables (where things are, and defaults) plus the
 * scheduled event's input (per-schedule overrides; EventBridge Scheduler sends the schedule's `input` JSON as the
 * event, a legacy EventBridge rule wraps it in `detail`), both validated with zod. The event wins field by field.
 *
 * Environment:
 *   STATE_STORE_CONNECTION_STRING  the actor state store, in a form the CLI's --connection-string accepts, or a secret
 *                                  reference (secretsmanager:<name>, a Secrets Manager ARN, env:NAME) (required)
 *   STATE_STORE_TABLE              its table/collection, if not Dapr's default
 *   APP_IDS                        comma-separated app IDs to report on (or `apps` in the event)
 *   DAPR_NAMESPACE                 their namespace (default `default`)
 *   OLDER_THAN                     idle threshold of RUNNING/PENDING/SUSPENDED/STALLED (Go duration or `7d`; 24h)
 *   THRESHOLD_RUNNING, THRESHOLD_PENDING, THRESHOLD_SUSPENDED, THRESHOLD_STALLED   per-status overrides
 *   EVENT_WAIT_THRESHOLD           how long waiting for an external event is fine (default: the RUNNING threshold)
 *   TIMER_OVERDUE                  how far past its fire time a timer is overdue (default 1h)
 *   REMINDER_GRACE                 no-reminder only for instances untouched this long (default 5m)
 *   RETENTION                      `COMPLETED=720h,FAILED=90d` (`ANY=` for every terminal status); enables
 *                                  past-retention
 *   RETENTION_AGE_FROM             completed (default) | created
 *   ETCD_ENDPOINTS                 the Scheduler's etcd (comma-separated host:port); turns on the no-reminder check
 *   ETCD_KEY_ROOT                  where Dapr's `dapr/` keys live in that etcd (default `dapr/`)
 *   ETCD_TLS_SECRET                secret reference to etcd's TLS material (as for the backup function)
 *   REPORT_BUCKET                  S3 bucket for the reports; without it they go to REPORT_DIR on the filesystem
 *   REPORT_DIR                     filesystem root (default ./.housekeeper/reports/)
 *   REPORT_PREFIX                  key prefix (default `stuck-reports`)
 *   REPORT_FORMATS                 comma-separated subset of json,csv,html (default all)
 *   HTML_ROW_LIMIT                 rows in the HTML table (default 5000)
 *   SNS_TOPIC_ARN                  notify this topic when NOTIFY_THRESHOLD (default 1) or more instances are stuck
 *   SNS_ENDPOINT                   custom SNS endpoint
 *   S3_ENDPOINT, S3_FORCE_PATH_STYLE, AWS_REGION   as for the backup function
 *   PAGE_SIZE, READ_CONCURRENCY    scan tuning (defaults 200, 4)
 */

import { z } from "zod";
import { etcdSettingsFromEnv } from "../../shared/config/etcd.ts";
import { TERMINAL_STATUS_LIST } from "../../shared/config/stuck-report.ts";
import { HousekeeperError } from "../../shared/errors.ts";
import type { ReportFormat } from "../../shared/jobs/stuck-report/formats/writer.ts";
import { REPORT_FORMATS } from "../../shared/jobs/stuck-report/formats/writer.ts";
import type { WatchedStatus } from "../../shared/jobs/stuck-report/model.ts";
import { WATCHED_STATUSES } from "../../shared/jobs/stuck-report/model.ts";
import type { PublishOptions } from "../../shared/jobs/stuck-report/publish.ts";
import type { AppRef } from "../../shared/state-store/keys.ts";
import { DURATION_DOORS, parseStatusDurations } from "../../shared/util/duration.ts";
import { durationSchema } from "../../shared/util/duration-schema.ts";
import type { StuckReportPortSettings } from "../../shared/wiring/stuck-report-ports.ts";
import type { RuntimeStatus } from "../../shared/workflow/runtime-status.ts";
import { objectStoreFromEnv, parseOrThrow, scheduledEventInput } from "../support/parse.ts";

export const DEFAULT_REPORT_DIR = "./.housekeeper/reports/";

const optionalText = z
  .string()
  .trim()
  .transform((s) => (s === "" ? undefined : s))
  .optional();

/** A Go duration (`24h`, `90m`) or whole days (`7d`), never negative. */
const duration = durationSchema(DURATION_DOORS.age);

const retention = z.string().transform((text, ctx) => {
  try {
    return parseStatusDurations(text, TERMINAL_STATUS_LIST, "retention");
  } catch (error) {
    ctx.addIssue({ code: "custom", message: (error as Error).message });
    return z.NEVER;
  }
});

const list = z.string().transform((s) =>
  s
    .split(",")
    .map((e) => e.trim())
    .filter(Boolean),
);

const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "letters, digits, '.', '_' and '-' only");
const count = (min: number) => z.string().regex(/^\d+$/, "a whole number").transform(Number).pipe(z.number().min(min));
const boolText = z
  .enum(["true", "false", "1", "0", "yes", "no"])
  .transform((s) => s === "true" || s === "1" || s === "yes");
const formats = list.pipe(z.array(z.enum(REPORT_FORMATS)).min(1, "names no format"));

export const stuckReportEnvSchema = z.object({
  STATE_STORE_CONNECTION_STRING: z
    .string({ error: "STATE_STORE_CONNECTION_STRING is required (the actor state store's connection string)" })
    .min(1, "STATE_STORE_CONNECTION_STRING is empty"),
  STATE_STORE_TABLE: optionalText,
  APP_IDS: optionalText.pipe(list.pipe(z.array(name)).optional()),
  DAPR_NAMESPACE: optionalText.pipe(name.optional()),
  OLDER_THAN: optionalText.pipe(duration.optional()),
  THRESHOLD_RUNNING: optionalText.pipe(duration.optional()),
  THRESHOLD_PENDING: optionalText.pipe(duration.optional()),
  THRESHOLD_SUSPENDED: optionalText.pipe(duration.optional()),
  THRESHOLD_STALLED: optionalText.pipe(duration.optional()),
  EVENT_WAIT_THRESHOLD: optionalText.pipe(duration.optional()),
  TIMER_OVERDUE: optionalText.pipe(duration.optional()),
  REMINDER_GRACE: optionalText.pipe(duration.optional()),
  RETENTION: optionalText.pipe(retention.optional()),
  RETENTION_AGE_FROM: optionalText.pipe(z.enum(["completed", "created"]).optional()),
  ETCD_ENDPOINTS: optionalText.pipe(list.pipe(z.array(z.string()).min(1)).optional()),
  ETCD_KEY_ROOT: optionalText.pipe(z.string().endsWith("/", "must end in /").optional()),
  ETCD_TLS_SECRET: optionalText,
  REPORT_BUCKET: optionalText,
  REPORT_DIR: optionalText,
  REPORT_PREFIX: z.string().optional(),
  REPORT_FORMATS: optionalText.pipe(formats.optional()),
  HTML_ROW_LIMIT: optionalText.pipe(count(1).optional()),
  SNS_TOPIC_ARN: optionalText,
  SNS_ENDPOINT: optionalText.pipe(z.url().optional()),
  NOTIFY_THRESHOLD: optionalText.pipe(count(1).optional()),
  S3_ENDPOINT: optionalText.pipe(z.url().optional()),
  S3_FORCE_PATH_STYLE: optionalText.pipe(boolText.optional()),
  AWS_REGION: optionalText,
  PAGE_SIZE: optionalText.pipe(count(1).optional()),
  READ_CONCURRENCY: optionalText.pipe(count(1).optional()),
});

const eventDuration = z.string().pipe(duration);
const appEntry = z.union([name, z.object({ appId: name, namespace: name.optional() }).strict()]);

/** The schedule's input: per-schedule overrides of the environment. */
export const stuckReportEventSchema = z
  .object({
    apps: z.array(appEntry).min(1).optional(),
    namespace: name.optional(),
    olderThan: eventDuration.optional(),
    thresholds: z.partialRecord(z.enum(WATCHED_STATUSES), eventDuration).optional(),
    eventWaitThreshold: eventDuration.optional(),
    timerOverdue: eventDuration.optional(),
    reminderGrace: eventDuration.optional(),
    retention: z
      .partialRecord(z.enum(TERMINAL_STATUS_LIST as [RuntimeStatus, ...RuntimeStatus[]]), eventDuration)
      .optional(),
    retentionAgeFrom: z.enum(["completed", "created"]).optional(),
    keyPrefix: z.string().optional(),
    formats: z.array(z.enum(REPORT_FORMATS)).min(1).optional(),
    notifyThreshold: z.number().int().min(1).optional(),
  })
  .strict();

export interface StuckReportSettings extends StuckReportPortSettings {
  apps: AppRef[];
  job: PublishOptions;
}

/** Environment + event → validated settings; HousekeeperError("bad-input") naming every problem. */
export function stuckReportSettings(env: NodeJS.ProcessEnv, event: unknown): StuckReportSettings {
  const e = parseOrThrow(stuckReportEnvSchema, env, "environment");
  const input = parseOrThrow(stuckReportEventSchema, scheduledEventInput(event), "event");
  const namespace = input.namespace ?? e.DAPR_NAMESPACE ?? "default";
  const apps: AppRef[] = input.apps
    ? input.apps.map((a) =>
        typeof a === "string" ? { appId: a, namespace } : { appId: a.appId, namespace: a.namespace ?? namespace },
      )
    : (e.APP_IDS ?? []).map((appId) => ({ appId, namespace }));
  if (apps.length === 0) {
    throw new HousekeeperError("bad-input", "no app to report on: set APP_IDS or give `apps` in the event");
  }

  const thresholds: Partial<Record<WatchedStatus, number>> = {};
  const envThresholds: Record<WatchedStatus, number | undefined> = {
    RUNNING: e.THRESHOLD_RUNNING,
    PENDING: e.THRESHOLD_PENDING,
    SUSPENDED: e.THRESHOLD_SUSPENDED,
    STALLED: e.THRESHOLD_STALLED,
  };
  for (const status of WATCHED_STATUSES) {
    const value = input.thresholds?.[status] ?? envThresholds[status];
    if (value !== undefined) thresholds[status] = value;
  }
  const olderThanMs = input.olderThan ?? e.OLDER_THAN;
  const eventWait = input.eventWaitThreshold ?? e.EVENT_WAIT_THRESHOLD;
  const timerOverdue = input.timerOverdue ?? e.TIMER_OVERDUE;
  const reminderGrace = input.reminderGrace ?? e.REMINDER_GRACE;
  const retentionMs = input.retention ?? e.RETENTION;
  const ageFrom = input.retentionAgeFrom ?? e.RETENTION_AGE_FROM;
  const keyPrefix = input.keyPrefix ?? e.REPORT_PREFIX;
  const reportFormats: ReportFormat[] | undefined = input.formats ?? e.REPORT_FORMATS;
  const notifyThreshold = input.notifyThreshold ?? e.NOTIFY_THRESHOLD;

  const job: PublishOptions = {
    ...(olderThanMs !== undefined ? { olderThanMs } : {}),
    ...(Object.keys(thresholds).length > 0 ? { thresholds } : {}),
    ...(eventWait !== undefined ? { eventWaitThresholdMs: eventWait } : {}),
    ...(timerOverdue !== undefined ? { timerOverdueMs: timerOverdue } : {}),
    ...(reminderGrace !== undefined ? { reminderGraceMs: reminderGrace } : {}),
    ...(retentionMs && Object.keys(retentionMs).length > 0 ? { retention: retentionMs } : {}),
    ...(ageFrom ? { retentionAgeFrom: ageFrom } : {}),
    ...(keyPrefix !== undefined ? { keyPrefix } : {}),
    ...(reportFormats ? { formats: reportFormats } : {}),
    ...(e.HTML_ROW_LIMIT !== undefined ? { htmlRowLimit: e.HTML_ROW_LIMIT } : {}),
    ...(notifyThreshold !== undefined ? { notifyThreshold } : {}),
    ...(e.PAGE_SIZE !== undefined ? { pageSize: e.PAGE_SIZE } : {}),
    ...(e.READ_CONCURRENCY !== undefined ? { readConcurrency: e.READ_CONCURRENCY } : {}),
  };

  const objectStore = objectStoreFromEnv(e.REPORT_BUCKET, e, e.REPORT_DIR ?? DEFAULT_REPORT_DIR);

  const settings: StuckReportSettings = {
    connection: {
      connectionString: e.STATE_STORE_CONNECTION_STRING,
      ...(e.STATE_STORE_TABLE ? { tableName: e.STATE_STORE_TABLE } : {}),
    },
    apps,
    objectStore,
    job,
  };
  if (e.ETCD_ENDPOINTS) {
    settings.etcd = etcdSettingsFromEnv({ ...e, ETCD_ENDPOINTS: e.ETCD_ENDPOINTS });
  }
  if (e.SNS_TOPIC_ARN) {
    settings.sns = {
      topicArn: e.SNS_TOPIC_ARN,
      ...(e.SNS_ENDPOINT ? { endpoint: e.SNS_ENDPOINT } : {}),
      ...(e.AWS_REGION ? { region: e.AWS_REGION } : {}),
    };
  }
  return settings;
}
