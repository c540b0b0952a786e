/**
 * The deployment's configuration: one JSON document validated with zod. Where it comes from, first match wins:
 *
 *   1. `HOUSEKEEPER_CONFIG=path/to/config.json` in the environment;
 *   2. the `housekeeper:config` context value, an inline object (`cdk.json` or `-c`);
 *   3. the `housekeeper:configFile` context value, a path relative to the project root (cdk.json points it at
 *      `infra/config.example.json`; `npx cdk synth -c housekeeper:configFile=deploy/prod.json` picks another).
 *
 * Every key is documented next to its schema (below; each function's section in infra/config/functions.ts) and shown
 * in `infra/config.example.json`. The policies and schedule inputs are checked with the very schemas the functions
 * use (functions/<name>/settings.ts, shared/config), so a bad policy fails `cdk synth`, not the first scheduled run.
 */
import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { reminderBackupEventSchema } from "../functions/reminder-backup/settings.ts";
import { stuckReportEventSchema } from "../functions/stuck-report/settings.ts";
import { retentionPolicySchema } from "../shared/config/retention-policy.ts";
import type { Target } from "../shared/config/target.ts";
import type { ShardItem } from "../shared/jobs/purge-shards.ts";
import { DURATION_DOORS, parseDuration } from "../shared/util/duration.ts";
import { webhookConfigSchema } from "../shared/webhook/routes.ts";
import {
  daprName,
  etcdSchema,
  keyPrefix,
  kmsKeyArn,
  logRetentionDays,
  SECRET_ARN_PATTERN,
  timeoutText,
} from "./config/common.ts";
import {
  purgeSectionSchema,
  reminderBackupSectionSchema,
  reminderRestoreSectionSchema,
  stuckReportSectionSchema,
  webhookSectionSchema,
} from "./config/functions.ts";

export { SECRET_ARN_PATTERN };

export const PROJECT_ROOT = fileURLToPath(new URL("..", import.meta.url));
export const CONFIG_ENV_VAR = "HOUSEKEEPER_CONFIG";
export const CONFIG_CONTEXT_KEY = "housekeeper:config";
export const CONFIG_FILE_CONTEXT_KEY = "housekeeper:configFile";

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
    purge: purgeSectionSchema.optional(),
    stuckReport: stuckReportSectionSchema.optional(),
    reminderBackup: reminderBackupSectionSchema.optional(),
    reminderRestore: reminderRestoreSectionSchema.optional(),
    webhook: webhookSectionSchema.optional(),
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
  return parseDuration(text, DURATION_DOORS.age) / 86_400_000;
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
