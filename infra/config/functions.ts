/**
 * The deployment configuration's per-function sections (infra/config.ts puts them together): each function's
 * schedule, tuning and settings. Every key is documented next to its schema and shown in infra/config.example.json.
 */
import { z } from "zod";
import { stuckReportEnvSchema } from "../../functions/stuck-report/settings.ts";
import { MAX_SHARDS } from "../../shared/workflow/shard.ts";
import { daprName, keepWithinText, scheduleSchema, secretArn, tuning } from "./common.ts";

type StuckReportEnvName = keyof typeof stuckReportEnvSchema.shape;

export const purgeSectionSchema = z
  .object({
    enabled: z.boolean().default(true),
    /**
     * The retention policy, exactly as `housekeeper retention run --policy` takes it. Secrets in it
     * (connectionString, apiToken) must be complete Secrets Manager ARNs: the stack grants the purge function
     * read access to exactly those.
     */
    policy: z.record(z.string(), z.unknown()),
    schedule: scheduleSchema,
    /**
     * `state-machine`: the schedule starts a Step Functions execution whose Distributed Map runs every (target,
     * shard) in parallel, each invoking the function again with its continuation token until complete, then
     * merges the shards' reports (infra/constructs/purge-state-machine.ts).
     * `function`: the schedule invokes the function once per run; a run cut short continues at the next one.
     */
    invoke: z.enum(["state-machine", "function"]).default("state-machine"),
    ...tuning,
    memoryMb: tuning.memoryMb.default(1024),
    timeoutSeconds: tuning.timeoutSeconds.default(900),
    /** Stop purging this long before the invocation's time runs out (SAFETY_MARGIN_MS). */
    safetyMarginSeconds: z.number().int().min(0).max(600).default(60),
    stateMachine: z
      .object({
        /**
         * Child executions (target shards) running at the same time, over all targets: the Distributed Map's
         * MaxConcurrency. Each runs one purge function at a time, so this also bounds the function's concurrency.
         */
        maxConcurrency: z.number().int().min(1).max(1000).default(4),
        /**
         * Shards per target: one number for every target, or per target keyed by `appId` or `namespace/appId`
         * (others get 1). Each shard is one child execution of the Distributed Map; 1 = the whole target.
         */
        shards: z
          .union([
            z.number().int().min(1).max(MAX_SHARDS),
            z.record(z.string().min(1), z.number().int().min(1).max(MAX_SHARDS)),
          ])
          .default(1),
        /**
         * Child executions that may fail outright (time out, abort, fail without a summary) before the map
         * stops starting the rest: the Distributed Map's ToleratedFailurePercentage. A shard whose purge fails
         * still returns its summary, is named at the end and fails the execution, without stopping the others.
         */
        toleratedFailurePercentage: z.number().min(0).max(100).default(100),
        /** Invocations per target before the execution fails (a runaway guard, not a budget). */
        maxInvocationsPerTarget: z.number().int().min(1).max(3000).default(200),
        timeoutHours: z
          .number()
          .min(1)
          .max(24 * 365)
          .default(24),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export const stuckReportSectionSchema = z
  .object({
    enabled: z.boolean().default(true),
    schedule: scheduleSchema,
    /** The actor state store's connection string, stored in Secrets Manager (STATE_STORE_CONNECTION_STRING). */
    connectionStringSecretArn: secretArn,
    stateStoreTable: z.string().min(1).optional(),
    /** The apps reported on (APP_IDS); one StuckInstances alarm each. */
    appIds: z.array(daprName).min(1),
    daprNamespace: daprName.default("default"),
    /** Check reminders in the Scheduler's etcd (`scheduler.etcd`) to flag instances with none. */
    checkReminders: z.boolean().default(true),
    /** Publish to the notifications topic when this many instances are stuck (NOTIFY_THRESHOLD); 0: never. */
    notifyThreshold: z.number().int().min(0).default(1),
    /** Extra environment (OLDER_THAN, THRESHOLD_*, RETENTION, REPORT_FORMATS, ...; see functions/stuck-report/settings.ts). */
    environment: z
      .partialRecord(z.enum(Object.keys(stuckReportEnvSchema.shape) as [StuckReportEnvName]), z.string())
      .default({}),
    /** The schedule's input: per-run overrides, checked against the function's event schema. */
    input: z.record(z.string(), z.unknown()).default({}),
    ...tuning,
    memoryMb: tuning.memoryMb.default(1024),
    timeoutSeconds: tuning.timeoutSeconds.default(900),
  })
  .strict();

export const reminderBackupSectionSchema = z
  .object({
    enabled: z.boolean().default(true),
    schedule: scheduleSchema,
    /** RETENTION_KEEP_LAST */
    keepLast: z.number().int().min(0).optional(),
    /** RETENTION_KEEP_WITHIN: Go duration (`720h`) or days (`30d`). */
    keepWithin: keepWithinText.optional(),
    /** Back up only jobs under this display-name prefix (REMINDER_PREFIX), e.g. `workflow/my-app`. */
    reminderPrefix: z.string().optional(),
    daprNamespace: daprName.optional(),
    input: z.record(z.string(), z.unknown()).default({}),
    ...tuning,
    memoryMb: tuning.memoryMb.default(512),
    timeoutSeconds: tuning.timeoutSeconds.default(300),
  })
  .strict();

export const reminderRestoreSectionSchema = z
  .object({
    enabled: z.boolean().default(true),
    daprNamespace: daprName.optional(),
    ...tuning,
    memoryMb: tuning.memoryMb.default(1024),
    timeoutSeconds: tuning.timeoutSeconds.default(900),
    /** /tmp in MB: the restore spools the backup there while it verifies and writes it; must hold the file. */
    ephemeralStorageMb: z.number().int().min(512).max(10240).default(2048),
  })
  .strict();

export const webhookSectionSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** `http-api`: API Gateway HTTP API (throttling, access logs). `function-url`: a Lambda Function URL. */
    exposure: z.enum(["http-api", "function-url"]).default("http-api"),
    /**
     * The routes file's content (WEBHOOK_ROUTES): `{ maxBodyBytes, idempotency, routes: [...] }`, checked with the
     * function's own schema (shared/webhook/routes.ts). Signing secrets in it must be complete Secrets Manager
     * ARNs: the stack grants the function read access to exactly those.
     */
    routes: z.record(z.string(), z.unknown()),
    /** The Dapr sidecar's HTTP API the webhook talks to (DAPR_HTTP_ENDPOINT). */
    sidecarUrl: z.url(),
    /** The app hosting the workflows, if not the sidecar's own (DAPR_APP_ID). */
    appId: daprName.optional(),
    /** The Dapr API token in Secrets Manager (DAPR_API_TOKEN holds this ARN). */
    daprApiTokenSecretArn: secretArn.optional(),
    /**
     * A secret holding the redis:// URL of a Redis to keep delivery IDs in (IDEMPOTENCY_REDIS_URL holds this
     * ARN). Omitted (the default): the stack creates a DynamoDB table for them (IDEMPOTENCY_TABLE), shared by
     * every execution environment.
     */
    idempotencyRedisUrlSecretArn: secretArn.optional(),
    /** How long a fetched secret is cached (WEBHOOK_SECRET_MAX_AGE_SECONDS). */
    secretMaxAgeSeconds: z.number().int().min(0).optional(),
    /** Secrets granted besides those found in the routes. */
    extraSecretArns: z.array(secretArn).default([]),
    throttle: z
      .object({
        rateLimit: z.number().min(1).default(50),
        burstLimit: z.number().int().min(1).default(100),
      })
      .strict()
      .prefault({}),
    ...tuning,
    memoryMb: tuning.memoryMb.default(512),
    timeoutSeconds: tuning.timeoutSeconds.default(29),
  })
  .strict();
