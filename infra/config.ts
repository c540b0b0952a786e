/**
 * The deployment's configuration: one JSON document validated with zod. Where it comes from, first match wins:
 *
 *   1. `HOUSEKEEPER_CONFIG=path/to/config.json` in the environment;
 *   2. the `housekeeper:config` context value, an inline object (`cdk.json` or `-c`);
 *   3. the `housekeeper:configFile` context value, a path relative to the project root (cdk.json points it at
 *      `infra/config.example.json`; `npx cdk synth -c housekeeper:configFile=deploy/prod.json` picks another).
 *
 * Every key is documented next to its schema below and shown in `infra/config.example.json`. The policies and
 * schedule inputs are checked with the very schemas the functions use (shared/config), so a bad policy fails
 * `cdk synth`, not the first scheduled run.
 */
import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { reminderBackupEventSchema } from "../functions/reminder-backup/settings.ts";
import { stuckReportEnvSchema, stuckReportEventSchema } from "../functions/stuck-report/settings.ts";
import { retentionPolicySchema } from "../shared/config/retention-policy.ts";
import type { Target } from "../shared/config/target.ts";
import { parseTimeout } from "../shared/config/timeouts.ts";
import type { ShardItem } from "../shared/jobs/purge-shards.ts";
import { webhookConfigSchema } from "../shared/webhook/routes.ts";
import { MAX_SHARDS } from "../shared/workflow/shard.ts";

export const PROJECT_ROOT = fileURLToPath(new URL("..", import.meta.url));
export const CONFIG_ENV_VAR = "HOUSEKEEPER_CONFIG";
export const CONFIG_CONTEXT_KEY = "housekeeper:config";
export const CONFIG_FILE_CONTEXT_KEY = "housekeeper:configFile";

/** A complete Secrets Manager ARN: it ends in the 6-character suffix Secrets Manager appends to the name. */
export const SECRET_ARN_PATTERN =
  /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$/;

const secretArn = z
  .string()
  .regex(
    SECRET_ARN_PATTERN,
    "a complete Secrets Manager ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6 chars>)",
  );

const timeoutText = z.string().superRefine((text, ctx) => {
  try {
    parseTimeout(text, "timeout");
  } catch (error) {
    ctx.addIssue({ code: "custom", message: (error as Error).message });
  }
});

const kmsKeyArn = z.string().regex(/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/, "a KMS key ARN");

/** Retention values CloudWatch Logs accepts. */
const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

const logRetentionDays = z
  .number()
  .int()
  .refine((d) => (LOG_RETENTION_DAYS as readonly number[]).includes(d), {
    message: `one of ${LOG_RETENTION_DAYS.join(", ")}`,
  });

/** An S3 key prefix without leading or trailing slash. */
const keyPrefix = z
  .string()
  .regex(/^[A-Za-z0-9!_.*'()-]+(\/[A-Za-z0-9!_.*'()-]+)*$/, "a key prefix like `reminders` or `reports/purge`");

const scheduleSchema = z
  .object({
    /** `cron(0 3 * * ? *)` or `rate(6 hours)` (EventBridge Scheduler syntax). */
    expression: z.string().regex(/^(cron|rate)\(.+\)$/, "cron(...) or rate(...)"),
    /** IANA time zone the cron expression is in. */
    timezone: z.string().min(1).default("UTC"),
    /** Flexible time window: the run starts at a random time within this many minutes (0 = exactly on time). */
    flexibleWindowMinutes: z.number().int().min(0).max(1440).default(15),
    enabled: z.boolean().default(true),
    /** Retries of a delivery the target refused (throttling, missing permission) before the dead-letter queue. */
    retryAttempts: z.number().int().min(0).max(185).default(3),
    /** Give up (dead-letter queue) on a delivery older than this. */
    maxEventAgeMinutes: z.number().int().min(1).max(1440).default(60),
  })
  .strict();

const tuning = {
  memoryMb: z.number().int().min(128).max(10240),
  timeoutSeconds: z.number().int().min(1).max(900),
  /** Reserved concurrency; omit for none. Also the throttle of a Function URL. */
  reservedConcurrency: z.number().int().min(1).optional(),
  /** Place the function in the VPC of `network` (needed to reach the state store, the sidecar, etcd). */
  inVpc: z.boolean().default(true),
};

const etcdSchema = z
  .object({
    /** host:port (or http(s)://host:port) of the Dapr Scheduler's etcd. */
    endpoints: z.array(z.string().min(1)).min(1),
    /** Where Dapr's `dapr/` keys live in that etcd (default `dapr/`). */
    keyRoot: z.string().endsWith("/").optional(),
    /**
     * Secret holding JSON {"ca": PEM, "cert": PEM, "key": PEM} (each optional, cert and key together): a private CA
     * and/or a client certificate for etcd's TLS. An https:// endpoint alone uses the public root CAs.
     */
    tlsSecretArn: secretArn.optional(),
  })
  .strict();

type StuckReportEnvName = keyof typeof stuckReportEnvSchema.shape;

const daprName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "letters, digits, '.', '_' and '-' only");

export const housekeeperConfigSchema = z
  .object({
    stackName: z
      .string()
      .regex(/^[A-Za-z][A-Za-z0-9-]*$/)
      .default("DaprHousekeeper"),
    description: z.string().optional(),
    /** Account/region to deploy to; omitted: the CLI's current credentials and region decide. */
    env: z
      .object({
        account: z
          .string()
          .regex(/^\d{12}$/)
          .optional(),
        region: z.string().min(1).optional(),
      })
      .strict()
      .prefault({}),
    tags: z.record(z.string(), z.string()).default({}),
    logLevel: z.enum(["DEBUG", "INFO", "WARN", "ERROR"]).default("INFO"),
    /**
     * Timeouts of every function's network calls (state stores, etcd, S3), as Go durations: `connect` (default 10s)
     * and `request` (default 60s). Set as HOUSEKEEPER_CONNECT_TIMEOUT / HOUSEKEEPER_REQUEST_TIMEOUT.
     */
    timeouts: z.object({ connect: timeoutText.optional(), request: timeoutText.optional() }).strict().prefault({}),
    logRetentionDays: logRetentionDays.default(30),
    /** CloudWatch namespace of the functions' metrics (POWERTOOLS_METRICS_NAMESPACE). */
    metricsNamespace: z.string().min(1).default("DaprHousekeeper"),
    /** What `cdk destroy` does to the bucket, the log groups and the key. */
    removalPolicy: z.enum(["retain", "destroy"]).default("retain"),
    /**
     * `kms`: one customer-managed key (rotated yearly) encrypts the bucket, the dead-letter queue and the topic.
     * `aws-managed`: S3-managed, SQS-managed and AWS-owned keys; the topic stays unencrypted.
     */
    encryption: z.enum(["kms", "aws-managed"]).default("kms"),
    storage: z
      .object({
        /** A fixed bucket name; omitted: CloudFormation generates one. */
        bucketName: z.string().optional(),
        prefixes: z
          .object({
            backups: keyPrefix.default("reminders"),
            purgeReports: keyPrefix.default("reports/purge"),
            stuckReports: keyPrefix.default("reports/stuck"),
          })
          .strict()
          .prefault({}),
        /**
         * Backstop expiry of backups by age (days). The backup function's own retention (keepLast/keepWithin) is
         * what deletes them, and what it deletes expires as a noncurrent version after noncurrentVersionExpirationDays.
         * Only for a retention by age alone: it must be longer than keepWithin, and cannot go with keepLast (once
         * backups stop, it would delete the newest ones keepLast promises to keep). Omitted (the default): no expiry
         * by age.
         */
        backupExpirationDays: z.number().int().min(1).optional(),
        /** Days reports are kept. */
        reportExpirationDays: z.number().int().min(1).default(90),
        /** Days a deleted or overwritten object stays recoverable as a noncurrent version. */
        noncurrentVersionExpirationDays: z.number().int().min(1).default(30),
        /** A bucket that receives S3 server access logs; omitted: none (CloudTrail data events can audit instead). */
        accessLogsBucketName: z.string().optional(),
      })
      .strict()
      .prefault({}),
    /**
     * The VPC the functions run in (all three of vpcId, availabilityZones and subnetIds are given, nothing is
     * looked up). Subnets are private subnets with a route to the AWS APIs (NAT or VPC endpoints); subnet i is in
     * availabilityZones[i % availabilityZones.length], so subnetIds.length is a multiple of availabilityZones.length.
     */
    network: z
      .object({
        vpcId: z.string().regex(/^vpc-[0-9a-f]+$/),
        availabilityZones: z.array(z.string().min(1)).min(1),
        subnetIds: z.array(z.string().regex(/^subnet-[0-9a-f]+$/)).min(1),
        /** Existing security groups to use instead of the one the stack creates. */
        securityGroupIds: z.array(z.string().regex(/^sg-[0-9a-f]+$/)).default([]),
        /** Egress of the created security group (HTTPS to `awsApiCidr` is always added for the AWS APIs). */
        egress: z
          .array(
            z
              .object({
                cidr: z.string().regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/),
                port: z.number().int().min(1).max(65535),
                description: z.string().min(1),
              })
              .strict(),
          )
          .default([]),
        /** Where the AWS API endpoints are: 0.0.0.0/0 through a NAT, or the VPC's CIDR with interface endpoints. */
        awsApiCidr: z.string().default("0.0.0.0/0"),
      })
      .strict()
      .superRefine((n, ctx) => {
        if (n.subnetIds.length % n.availabilityZones.length !== 0) {
          ctx.addIssue({
            code: "custom",
            path: ["subnetIds"],
            message: "subnetIds.length must be a multiple of availabilityZones.length (subnet i is in AZ i % count)",
          });
        }
      })
      .optional(),
    /** Customer-managed KMS keys the referenced secrets are encrypted with (kms:Decrypt via Secrets Manager only). */
    secretsKmsKeyArns: z.array(kmsKeyArn).default([]),
    notifications: z
      .object({
        /** An existing SNS topic for alarms and stuck notifications; omitted: the stack creates one. */
        topicArn: z
          .string()
          .regex(/^arn:aws[a-z-]*:sns:/)
          .optional(),
        /** Email addresses subscribed to the created topic (each confirms by mail). */
        emails: z.array(z.email()).default([]),
      })
      .strict()
      .prefault({}),
    alarms: z
      .object({
        enabled: z.boolean().default(true),
        /** Evaluation period of every alarm. */
        periodMinutes: z.number().int().min(1).max(1440).default(5),
        errorThreshold: z.number().min(1).default(1),
        throttleThreshold: z.number().min(1).default(1),
        dlqDepthThreshold: z.number().min(1).default(1),
        /** Alarm when a watched app has at least this many stuck instances (the StuckInstances metric). */
        stuckThreshold: z.number().min(1).default(1),
      })
      .strict()
      .prefault({}),
    /** Dapr's Scheduler etcd, shared by reminder backup, restore and (for its no-reminder check) the stuck report. */
    scheduler: z
      .object({
        etcd: etcdSchema,
        /** The Scheduler's Kubernetes namespace, the folder below the backup prefix (default `dapr-system`). */
        namespace: daprName.optional(),
      })
      .strict()
      .optional(),
    purge: z
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
      .strict()
      .optional(),
    stuckReport: z
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
      .strict()
      .optional(),
    reminderBackup: z
      .object({
        enabled: z.boolean().default(true),
        schedule: scheduleSchema,
        /** RETENTION_KEEP_LAST */
        keepLast: z.number().int().min(0).optional(),
        /** RETENTION_KEEP_WITHIN: Go duration (`720h`) or days (`30d`). */
        keepWithin: z
          .string()
          .regex(/^\d+d$|^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/)
          .optional(),
        /** Back up only jobs under this display-name prefix (REMINDER_PREFIX), e.g. `workflow/my-app`. */
        reminderPrefix: z.string().optional(),
        daprNamespace: daprName.optional(),
        input: z.record(z.string(), z.unknown()).default({}),
        ...tuning,
        memoryMb: tuning.memoryMb.default(512),
        timeoutSeconds: tuning.timeoutSeconds.default(300),
      })
      .strict()
      .optional(),
    reminderRestore: z
      .object({
        enabled: z.boolean().default(true),
        daprNamespace: daprName.optional(),
        ...tuning,
        memoryMb: tuning.memoryMb.default(1024),
        timeoutSeconds: tuning.timeoutSeconds.default(900),
        /** /tmp in MB: the restore spools the backup there while it verifies and writes it; must hold the file. */
        ephemeralStorageMb: z.number().int().min(512).max(10240).default(2048),
      })
      .strict()
      .optional(),
    webhook: z
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
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((config, ctx) => {
    const policy = config.purge?.policy;
    if (policy) {
      const parsed = retentionPolicySchema.safeParse(policy);
      if (!parsed.success) {
        for (const issue of parsed.error.issues) {
          ctx.addIssue({
            code: "custom",
            path: ["purge", "policy", ...issue.path.map(String)],
            message: issue.message,
          });
        }
      } else {
        parsed.data.targets.forEach((target, i) => {
          const refs: Array<[string, string | undefined]> = [
            ["stateStore.connectionString", target.stateStore.connectionString],
            ["sidecar.apiToken", target.sidecar?.apiToken],
          ];
          for (const [where, value] of refs) {
            if (value !== undefined && !SECRET_ARN_PATTERN.test(value)) {
              ctx.addIssue({
                code: "custom",
                path: ["purge", "policy", "targets", i, ...where.split(".")],
                message:
                  "must be a complete Secrets Manager ARN: the policy is the schedule's input, visible to anyone who can read the schedule",
              });
            }
          }
        });
      }
    }
    if (config.purge?.invoke === "function" && config.purge.stateMachine.shards !== 1) {
      ctx.addIssue({
        code: "custom",
        path: ["purge", "stateMachine", "shards"],
        message:
          'shards are run by the state machine: set purge.invoke to "state-machine" (or give a target its own shard)',
      });
    }
    if (config.purge?.invoke === "state-machine" && Array.isArray(policy?.targets)) {
      // Each invocation adds about 7 events to its child execution's history, which Step Functions caps at 25,000.
      const events = 7 * config.purge.stateMachine.maxInvocationsPerTarget;
      if (events > 24_000) {
        ctx.addIssue({
          code: "custom",
          path: ["purge", "stateMachine", "maxInvocationsPerTarget"],
          message: `${config.purge.stateMachine.maxInvocationsPerTarget} invocations could exceed a child execution's 25,000 history events: lower it or raise maxInstancesPerRun`,
        });
      }
      const parsed = retentionPolicySchema.safeParse(policy);
      if (parsed.success) {
        const shards = config.purge.stateMachine.shards;
        if (typeof shards === "object") {
          const names = new Set(parsed.data.targets.flatMap((t) => [t.appId, `${t.namespace}/${t.appId}`]));
          for (const key of Object.keys(shards)) {
            if (!names.has(key)) {
              ctx.addIssue({
                code: "custom",
                path: ["purge", "stateMachine", "shards", key],
                message: "names no target of purge.policy (use its appId or namespace/appId)",
              });
            }
          }
        }
        const items = purgeShardItems(parsed.data.targets, shards);
        parsed.data.targets.forEach((target, i) => {
          if (target.shard && shardCountOf(target, shards) > 1) {
            ctx.addIssue({
              code: "custom",
              path: ["purge", "stateMachine", "shards"],
              message: `target ${i} (${target.namespace}/${target.appId}) already has a shard in the policy: it cannot be split again`,
            });
          }
        });
        if (items.length > MAX_MAP_ITEMS) {
          ctx.addIssue({
            code: "custom",
            path: ["purge", "stateMachine", "shards"],
            message: `${items.length} shards in all: at most ${MAX_MAP_ITEMS} (the map's collected summaries must stay under Step Functions' 256 KB state limit)`,
          });
        }
      }
    }
    const checkInput = (where: string, schema: z.ZodType, input: Record<string, unknown> | undefined) => {
      if (!input) return;
      const parsed = schema.safeParse(input);
      if (!parsed.success) {
        for (const issue of parsed.error.issues) {
          ctx.addIssue({ code: "custom", path: [where, "input", ...issue.path.map(String)], message: issue.message });
        }
      }
    };
    checkInput("stuckReport", stuckReportEventSchema, config.stuckReport?.input);
    const routes = config.webhook?.routes;
    if (routes) {
      const parsed = webhookConfigSchema.safeParse(routes);
      if (!parsed.success) {
        for (const issue of parsed.error.issues) {
          ctx.addIssue({
            code: "custom",
            path: ["webhook", "routes", ...issue.path.map(String)],
            message: issue.message,
          });
        }
      } else {
        parsed.data.routes.forEach((route, i) => {
          route.auth.secrets.forEach((secret, j) => {
            if (!SECRET_ARN_PATTERN.test(secret)) {
              ctx.addIssue({
                code: "custom",
                path: ["webhook", "routes", "routes", i, "auth", "secrets", j],
                message: "must be a complete Secrets Manager ARN (the routes are the function's environment)",
              });
            }
          });
        });
      }
    }
    checkInput("reminderBackup", reminderBackupEventSchema, config.reminderBackup?.input);

    // (A direct-mode purge takes each target's etcd from the policy itself.)
    const needsEtcd = config.reminderBackup?.enabled || config.reminderRestore?.enabled;
    if (needsEtcd && !config.scheduler) {
      ctx.addIssue({
        code: "custom",
        path: ["scheduler"],
        message: "reminder backup/restore need the Scheduler's etcd: set scheduler.etcd.endpoints",
      });
    }
    const prefixes = Object.entries(config.storage.prefixes);
    for (const [a, pa] of prefixes) {
      for (const [b, pb] of prefixes) {
        if (a < b && (pa === pb || pa.startsWith(`${pb}/`) || pb.startsWith(`${pa}/`))) {
          ctx.addIssue({
            code: "custom",
            path: ["storage", "prefixes", b],
            message: `overlaps storage.prefixes.${a}: each function's access is limited to its own prefix`,
          });
        }
      }
    }
    const keepWithinDays = config.reminderBackup?.keepWithin
      ? Math.ceil(durationDays(config.reminderBackup.keepWithin))
      : undefined;
    const expiry = config.storage.backupExpirationDays;
    const keepLast = config.reminderBackup?.enabled ? config.reminderBackup.keepLast : undefined;
    if (expiry !== undefined && keepLast !== undefined && keepLast > 0) {
      ctx.addIssue({
        code: "custom",
        path: ["storage", "backupExpirationDays"],
        message:
          `cannot go with reminderBackup.keepLast (${keepLast}): once backups stop, it would delete the newest ` +
          "backups keepLast keeps; omit it (the backup function prunes; what it deletes expires as a noncurrent version)",
      });
    }
    if (expiry !== undefined && keepWithinDays !== undefined && expiry <= keepWithinDays) {
      ctx.addIssue({
        code: "custom",
        path: ["storage", "backupExpirationDays"],
        message: `must be longer than reminderBackup.keepWithin (${keepWithinDays}d), or the lifecycle rule deletes backups the function keeps`,
      });
    }
    const vpcUsers = [config.purge, config.stuckReport, config.reminderBackup, config.reminderRestore, config.webhook];
    if (!config.network && vpcUsers.some((f) => f?.enabled && f.inVpc)) {
      ctx.addIssue({
        code: "custom",
        path: ["network"],
        message: "a function has inVpc: true (the default) but no network is configured",
      });
    }
    if (config.notifications.topicArn && config.notifications.emails.length > 0) {
      ctx.addIssue({
        code: "custom",
        path: ["notifications", "emails"],
        message: "emails subscribe to the topic the stack creates; subscribe them to your own topic instead",
      });
    }
  });

export type HousekeeperConfig = z.output<typeof housekeeperConfigSchema>;

/** A shard summary is at most about 350 bytes (its error cut to 200): 500 stay under the 256 KB a state may hold. */
export const MAX_MAP_ITEMS = 500;

type ShardCounts = number | Record<string, number>;

function shardCountOf(target: Pick<Target, "appId" | "namespace">, shards: ShardCounts): number {
  if (typeof shards === "number") return shards;
  return shards[`${target.namespace}/${target.appId}`] ?? shards[target.appId] ?? 1;
}

/** The Distributed Map's items: one per (target, shard); a target of one shard is one item without `shard`. */
export function purgeShardItems(
  targets: ReadonlyArray<Pick<Target, "appId" | "namespace" | "shard">>,
  shards: ShardCounts,
): ShardItem[] {
  return targets.flatMap((target, i) => {
    const count = target.shard ? 1 : shardCountOf(target, shards);
    if (count === 1) return [{ target: i }];
    return Array.from({ length: count }, (_, k) => ({ target: i, shard: { index: k + 1, count } }));
  });
}
export type HousekeeperConfigInput = z.input<typeof housekeeperConfigSchema>;

/** Days in `30d` or a Go duration (`720h`, `1h30m`). */
export function durationDays(text: string): number {
  const days = /^(\d+)d$/.exec(text);
  if (days) return Number(days[1]);
  let ms = 0;
  const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1e3, m: 6e4, h: 36e5 };
  for (const [, n, u] of text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) ms += Number(n) * unit[u!]!;
  return ms / 86_400_000;
}

/** Validates a config object; the error lists every problem with its path. */
export function parseConfig(input: unknown, source = "config"): HousekeeperConfig {
  const parsed = housekeeperConfigSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `  ${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new Error(`invalid housekeeper configuration (${source}):\n${problems.join("\n")}`);
  }
  return parsed.data;
}

export function readConfigFile(path: string): HousekeeperConfig {
  const full = isAbsolute(path) ? path : resolve(PROJECT_ROOT, path);
  if (!existsSync(full)) throw new Error(`housekeeper configuration file not found: ${full}`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(full, "utf8"));
  } catch (error) {
    throw new Error(`housekeeper configuration file ${full} is not valid JSON: ${(error as Error).message}`);
  }
  // `$comment` keys document the example file; they are not configuration.
  return parseConfig(stripComments(json), full);
}

function stripComments(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripComments);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([k]) => k !== "$comment")
        .map(([k, v]) => [k, stripComments(v)]),
    );
  }
  return value;
}

/** The configuration for an app: environment variable, inline context, or the context's file path. */
export function loadConfig(
  tryGetContext: (key: string) => unknown,
  env: NodeJS.ProcessEnv = process.env,
): HousekeeperConfig {
  const fromEnv = env[CONFIG_ENV_VAR];
  if (fromEnv) return readConfigFile(fromEnv);
  const inline = tryGetContext(CONFIG_CONTEXT_KEY);
  if (inline !== undefined) {
    const value = typeof inline === "string" ? JSON.parse(inline) : inline;
    return parseConfig(stripComments(value), `context ${CONFIG_CONTEXT_KEY}`);
  }
  const file = tryGetContext(CONFIG_FILE_CONTEXT_KEY);
  if (typeof file === "string" && file !== "") return readConfigFile(file);
  throw new Error(
    `no housekeeper configuration: set ${CONFIG_ENV_VAR}=path/to/config.json, or the ${CONFIG_FILE_CONTEXT_KEY} context (cdk.json)`,
  );
}
