/**
 * The dapr-housekeeper stack: the five functions, their schedules (EventBridge Scheduler) and the purge state
 * machine, the webhook endpoint, the bucket for backups and reports, secrets by reference, VPC placement, alarms and
 * a dashboard — all from one validated configuration (infra/config.ts).
 *
 * Environment each function gets (besides NODE_OPTIONS, POWERTOOLS_METRICS_NAMESPACE, POWERTOOLS_LOG_LEVEL):
 *   purge             REPORT_BUCKET, REPORT_PREFIX, SAFETY_MARGIN_MS, HOUSEKEEPER_VERSION
 *   stuck-report      STATE_STORE_CONNECTION_STRING (a secret ARN), STATE_STORE_TABLE, APP_IDS, DAPR_NAMESPACE,
 *                     ETCD_ENDPOINTS, ETCD_KEY_ROOT, REPORT_BUCKET, REPORT_PREFIX, SNS_TOPIC_ARN, NOTIFY_THRESHOLD,
 *                     HOUSEKEEPER_VERSION, + stuckReport.environment
 *   reminder-backup   ETCD_ENDPOINTS, ETCD_KEY_ROOT, BACKUP_BUCKET, BACKUP_PREFIX, SCHEDULER_NAMESPACE, DAPR_NAMESPACE,
 *                     REMINDER_PREFIX, RETENTION_KEEP_LAST, RETENTION_KEEP_WITHIN, HOUSEKEEPER_VERSION
 *   reminder-restore  ETCD_ENDPOINTS, ETCD_KEY_ROOT, BACKUP_BUCKET, BACKUP_PREFIX, SCHEDULER_NAMESPACE, DAPR_NAMESPACE,
 *                     HOUSEKEEPER_VERSION
 *   webhook           WEBHOOK_ROUTES (JSON), DAPR_HTTP_ENDPOINT, DAPR_APP_ID, DAPR_API_TOKEN (a secret ARN),
 *                     IDEMPOTENCY_TABLE (the stack's table) or IDEMPOTENCY_REDIS_URL (a secret ARN),
 *                     WEBHOOK_SECRET_MAX_AGE_SECONDS, HOUSEKEEPER_VERSION
 * and each of them HOUSEKEEPER_CONNECT_TIMEOUT / HOUSEKEEPER_REQUEST_TIMEOUT when `timeouts` sets them.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Tags } from "aws-cdk-lib";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import { Key } from "aws-cdk-lib/aws-kms";
import type { RetentionDays } from "aws-cdk-lib/aws-logs";
import { ScheduleGroup } from "aws-cdk-lib/aws-scheduler";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";
import { purgeEnvSchema } from "../functions/purge/settings.ts";
import { reminderBackupEnvSchema, reminderStorageEnvSchema } from "../functions/reminder-backup/settings.ts";
import { reminderRestoreEnvSchema } from "../functions/reminder-restore/settings.ts";
import { stuckReportEnvSchema } from "../functions/stuck-report/settings.ts";
import { type FunctionEnv, functionEnvironment } from "../functions/support/env.ts";
import { webhookEnvSchema } from "../functions/webhook/settings.ts";
import { parseRetentionPolicy } from "../shared/config/retention-policy.ts";
import { CONNECT_TIMEOUT_ENV, REQUEST_TIMEOUT_ENV } from "../shared/config/timeouts.ts";
import { type HousekeeperConfig, purgeShardItems } from "./config.ts";
import { HousekeeperFunction, type HousekeeperFunctionProps, PROJECT_ROOT } from "./constructs/housekeeper-function.ts";
import { Monitoring, Notifications } from "./constructs/monitoring.ts";
import { acknowledge } from "./constructs/nag.ts";
import { Network } from "./constructs/network.ts";
import { PurgeStateMachine } from "./constructs/purge-state-machine.ts";
import { ScheduledJob } from "./constructs/scheduled-job.ts";
import { SecretReferences, secretArnsIn } from "./constructs/secrets.ts";
import { Storage } from "./constructs/storage.ts";
import { WebhookEndpoint } from "./constructs/webhook-endpoint.ts";
import { WebhookIdempotencyTable } from "./constructs/webhook-idempotency-table.ts";

export interface HousekeeperStackProps extends StackProps {
  config: HousekeeperConfig;
}

const VERSION = (JSON.parse(readFileSync(join(PROJECT_ROOT, "package.json"), "utf8")) as { version: string }).version;

/** Drops undefined values: Lambda environment values are strings. */
function env(values: Record<string, string | number | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) if (v !== undefined && v !== "") out[k] = String(v);
  return out;
}

/** The configured network timeouts, in the variables every function reads them from (shared/config/timeouts.ts). */
export function timeoutEnvironment(config: Pick<HousekeeperConfig, "timeouts">): Record<string, string> {
  return env({
    [CONNECT_TIMEOUT_ENV]: config.timeouts.connect,
    [REQUEST_TIMEOUT_ENV]: config.timeouts.request,
  });
}

export class HousekeeperStack extends Stack {
  readonly config: HousekeeperConfig;
  readonly functions: Partial<Record<HousekeeperFunction["name"], HousekeeperFunction>> = {};
  readonly storage: Storage;
  readonly deadLetterQueue: Queue | undefined;
  readonly purgeStateMachine: PurgeStateMachine | undefined;
  readonly webhook: WebhookEndpoint | undefined;
  /** Keeps the webhook's delivery IDs, unless the configuration names a Redis for them. */
  readonly webhookIdempotencyTable: WebhookIdempotencyTable | undefined;
  readonly key: Key | undefined;

  constructor(scope: Construct, id: string, props: HousekeeperStackProps) {
    super(scope, id, {
      ...props,
      description: props.description ?? props.config.description ?? "dapr-housekeeper: Dapr Workflow housekeeping",
    });
    const config = props.config;
    this.config = config;
    for (const [k, v] of Object.entries(config.tags)) Tags.of(this).add(k, v);
    const removalPolicy = config.removalPolicy === "destroy" ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
    const logRetention = config.logRetentionDays as RetentionDays;

    if (config.encryption === "kms") {
      this.key = new Key(this, "Key", {
        description: "dapr-housekeeper: backups, reports, dead letters, notifications",
        enableKeyRotation: true,
        removalPolicy,
      });
    }
    const key = this.key;

    this.storage = new Storage(this, "Storage", {
      bucketName: config.storage.bucketName,
      key,
      removalPolicy,
      prefixes: config.storage.prefixes,
      backupExpirationDays: config.storage.backupExpirationDays,
      reportExpirationDays: config.storage.reportExpirationDays,
      noncurrentVersionExpirationDays: config.storage.noncurrentVersionExpirationDays,
      accessLogsBucketName: config.storage.accessLogsBucketName,
    });
    const bucketName = this.storage.bucket.bucketName;
    const prefixes = config.storage.prefixes;

    const network = config.network ? new Network(this, "Network", config.network) : undefined;
    const secrets = new SecretReferences(this, "Secrets", { kmsKeyArns: config.secretsKmsKeyArns });
    const notifications = new Notifications(this, "Notifications", {
      topicArn: config.notifications.topicArn,
      emails: config.notifications.emails,
      key,
    });

    const scheduled = [config.purge, config.stuckReport, config.reminderBackup].some((j) => j?.enabled);
    if (scheduled) {
      this.deadLetterQueue = new Queue(this, "DeadLetterQueue", {
        ...(key
          ? { encryption: QueueEncryption.KMS, encryptionMasterKey: key }
          : { encryption: QueueEncryption.SQS_MANAGED }),
        enforceSSL: true,
        retentionPeriod: Duration.days(14),
      });
      acknowledge(
        this.deadLetterQueue,
        "AwsSolutions-SQS3",
        "This queue is itself the dead-letter queue of the schedules and of the functions' asynchronous invocations; its depth is alarmed.",
      );
    }
    const dlq = this.deadLetterQueue;
    const group = scheduled ? new ScheduleGroup(this, "Schedules", {}) : undefined;

    const scheduler = config.scheduler;
    const etcdEnv: FunctionEnv<typeof reminderStorageEnvSchema> & FunctionEnv<typeof stuckReportEnvSchema> = scheduler
      ? {
          ETCD_ENDPOINTS: scheduler.etcd.endpoints.join(","),
          ETCD_KEY_ROOT: scheduler.etcd.keyRoot,
          ETCD_TLS_SECRET: scheduler.etcd.tlsSecretArn,
        }
      : {};
    const etcdSecretArns = scheduler?.etcd.tlsSecretArn ? [scheduler.etcd.tlsSecretArn] : [];

    const makeFunction = (
      id: string,
      settings: {
        memoryMb: number;
        timeoutSeconds: number;
        reservedConcurrency?: number | undefined;
        ephemeralStorageMb?: number | undefined;
        inVpc: boolean;
      },
      rest: Pick<HousekeeperFunctionProps, "name" | "description" | "environment" | "onAsyncFailure">,
    ) => {
      const f = new HousekeeperFunction(this, id, {
        ...rest,
        memoryMb: settings.memoryMb,
        timeoutSeconds: settings.timeoutSeconds,
        reservedConcurrency: settings.reservedConcurrency,
        ephemeralStorageMb: settings.ephemeralStorageMb,
        environment: { HOUSEKEEPER_VERSION: VERSION, ...timeoutEnvironment(config), ...rest.environment },
        logRetention,
        logLevel: config.logLevel,
        metricsNamespace: config.metricsNamespace,
        removalPolicy,
        network: settings.inVpc ? network?.placement : undefined,
      });
      this.functions[rest.name] = f;
      return f;
    };

    // Retention purge.
    const purge = config.purge;
    if (purge?.enabled) {
      const viaStateMachine = purge.invoke === "state-machine";
      const fn = makeFunction("Purge", purge, {
        name: "purge",
        description: "dapr-housekeeper: retention purge of terminal workflow instances",
        environment: functionEnvironment(purgeEnvSchema, {
          REPORT_BUCKET: bucketName,
          REPORT_PREFIX: prefixes.purgeReports,
          SAFETY_MARGIN_MS: purge.safetyMarginSeconds * 1000,
        }),
        onAsyncFailure: viaStateMachine ? undefined : { queue: dlq!, retryAttempts: 0 },
      });
      this.storage.grantPrefix(fn.role, prefixes.purgeReports, { write: true });
      secrets.grantRead(fn.role, secretArnsIn(purge.policy));
      const input = { policy: purge.policy };
      if (viaStateMachine) {
        this.purgeStateMachine = new PurgeStateMachine(this, "PurgeLoop", {
          purgeFunction: fn.fn,
          functionTimeoutSeconds: purge.timeoutSeconds,
          items: purgeShardItems(parseRetentionPolicy(purge.policy).targets, purge.stateMachine.shards),
          maxConcurrency: purge.stateMachine.maxConcurrency,
          toleratedFailurePercentage: purge.stateMachine.toleratedFailurePercentage,
          maxInvocationsPerTarget: purge.stateMachine.maxInvocationsPerTarget,
          timeoutHours: purge.stateMachine.timeoutHours,
          logRetention,
          removalPolicy,
        });
      }
      new ScheduledJob(this, "PurgeSchedule", {
        description: "dapr-housekeeper retention purge",
        settings: purge.schedule,
        target: this.purgeStateMachine ? { stateMachine: this.purgeStateMachine.stateMachine } : { function: fn.fn },
        input,
        deadLetterQueue: dlq!,
        group: group!,
      });
    }

    // Stuck-workflow report.
    const stuck = config.stuckReport;
    if (stuck?.enabled) {
      const notify = stuck.notifyThreshold > 0;
      const fn = makeFunction("StuckReport", stuck, {
        name: "stuck-report",
        description: "dapr-housekeeper: report of stuck workflow instances",
        environment: functionEnvironment(stuckReportEnvSchema, {
          ...stuck.environment,
          STATE_STORE_CONNECTION_STRING: stuck.connectionStringSecretArn,
          STATE_STORE_TABLE: stuck.stateStoreTable,
          APP_IDS: stuck.appIds.join(","),
          DAPR_NAMESPACE: stuck.daprNamespace,
          ...(stuck.checkReminders ? etcdEnv : {}),
          REPORT_BUCKET: bucketName,
          REPORT_PREFIX: prefixes.stuckReports,
          ...(notify ? { SNS_TOPIC_ARN: notifications.topic.topicArn, NOTIFY_THRESHOLD: stuck.notifyThreshold } : {}),
        }),
        onAsyncFailure: { queue: dlq!, retryAttempts: 1 },
      });
      this.storage.grantPrefix(fn.role, prefixes.stuckReports, { write: true });
      secrets.grantRead(fn.role, [stuck.connectionStringSecretArn, ...(stuck.checkReminders ? etcdSecretArns : [])]);
      if (notify) {
        fn.allow(new PolicyStatement({ actions: ["sns:Publish"], resources: [notifications.topic.topicArn] }));
        if (key && !config.notifications.topicArn) {
          fn.allow(
            new PolicyStatement({
              actions: ["kms:Decrypt", "kms:GenerateDataKey"],
              resources: [key.keyArn],
              conditions: { StringEquals: { "kms:ViaService": `sns.${this.region}.amazonaws.com` } },
            }),
          );
        }
      }
      new ScheduledJob(this, "StuckReportSchedule", {
        description: "dapr-housekeeper stuck-workflow report",
        settings: stuck.schedule,
        target: { function: fn.fn },
        input: stuck.input,
        deadLetterQueue: dlq!,
        group: group!,
      });
    }

    // Reminder backup and restore.
    const storageEnv = functionEnvironment(reminderStorageEnvSchema, {
      ...etcdEnv,
      BACKUP_BUCKET: bucketName,
      BACKUP_PREFIX: prefixes.backups,
      SCHEDULER_NAMESPACE: scheduler?.namespace,
    });
    const backup = config.reminderBackup;
    if (backup?.enabled) {
      const fn = makeFunction("ReminderBackup", backup, {
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
      this.storage.grantPrefix(fn.role, prefixes.backups, { read: true, write: true, delete: true, list: true });
      secrets.grantRead(fn.role, etcdSecretArns);
      new ScheduledJob(this, "ReminderBackupSchedule", {
        description: "dapr-housekeeper reminder backup",
        settings: backup.schedule,
        target: { function: fn.fn },
        input: backup.input,
        deadLetterQueue: dlq!,
        group: group!,
      });
    }
    const restore = config.reminderRestore;
    if (restore?.enabled) {
      const fn = makeFunction("ReminderRestore", restore, {
        name: "reminder-restore",
        description: "dapr-housekeeper: restore of the Dapr Scheduler's jobs and reminders from a backup (on demand)",
        environment: {
          ...storageEnv,
          ...functionEnvironment(reminderRestoreEnvSchema, { DAPR_NAMESPACE: restore.daprNamespace }),
        },
      });
      this.storage.grantPrefix(fn.role, prefixes.backups, { read: true, list: true });
      secrets.grantRead(fn.role, etcdSecretArns);
    }

    // Webhook.
    const webhook = config.webhook;
    if (webhook?.enabled) {
      const idempotencyTable = webhook.idempotencyRedisUrlSecretArn
        ? undefined
        : new WebhookIdempotencyTable(this, "WebhookIdempotency", { key, removalPolicy });
      this.webhookIdempotencyTable = idempotencyTable;
      const fn = makeFunction("Webhook", webhook, {
        name: "webhook",
        description: "dapr-housekeeper: webhooks that start workflows and raise events",
        environment: functionEnvironment(webhookEnvSchema, {
          WEBHOOK_ROUTES: JSON.stringify(webhook.routes),
          DAPR_HTTP_ENDPOINT: webhook.sidecarUrl,
          DAPR_APP_ID: webhook.appId,
          DAPR_API_TOKEN: webhook.daprApiTokenSecretArn,
          IDEMPOTENCY_TABLE: idempotencyTable?.table.tableName,
          IDEMPOTENCY_REDIS_URL: webhook.idempotencyRedisUrlSecretArn,
          WEBHOOK_SECRET_MAX_AGE_SECONDS: webhook.secretMaxAgeSeconds,
        }),
      });
      secrets.grantRead(fn.role, [
        ...secretArnsIn(webhook.routes),
        ...(webhook.daprApiTokenSecretArn ? [webhook.daprApiTokenSecretArn] : []),
        ...(webhook.idempotencyRedisUrlSecretArn ? [webhook.idempotencyRedisUrlSecretArn] : []),
        ...webhook.extraSecretArns,
      ]);
      idempotencyTable?.grantUse(fn.role);
      this.webhook = new WebhookEndpoint(this, "WebhookEndpoint", {
        webhookFunction: fn.fn,
        exposure: webhook.exposure,
        throttle: webhook.throttle,
        logRetention,
        removalPolicy,
      });
      new CfnOutput(this, "WebhookUrl", { value: this.webhook.url, description: "Base URL of the webhook routes" });
      if (idempotencyTable) {
        new CfnOutput(this, "WebhookDeliveriesTable", {
          value: idempotencyTable.table.tableName,
          description: "DynamoDB table of the webhook's delivery IDs",
        });
      }
    }

    new Monitoring(this, "Monitoring", {
      topic: notifications.topic,
      alarmsEnabled: config.alarms.enabled,
      periodMinutes: config.alarms.periodMinutes,
      errorThreshold: config.alarms.errorThreshold,
      throttleThreshold: config.alarms.throttleThreshold,
      dlqDepthThreshold: config.alarms.dlqDepthThreshold,
      stuckThreshold: config.alarms.stuckThreshold,
      metricsNamespace: config.metricsNamespace,
      functions: Object.values(this.functions),
      deadLetterQueue: dlq,
      purgeStateMachine: this.purgeStateMachine?.stateMachine,
      stuckApps: stuck?.enabled ? stuck.appIds.map((app) => `${stuck.daprNamespace}/${app}`) : [],
      webhook: this.webhook,
    });

    new CfnOutput(this, "BucketName", { value: bucketName, description: "Backups and reports" });
    if (network?.securityGroup) {
      new CfnOutput(this, "FunctionsSecurityGroupId", {
        value: network.securityGroup.securityGroupId,
        description: "Allow ingress from this group on the state stores, sidecars, etcd and Redis",
      });
    }
    new CfnOutput(this, "NotificationsTopicArn", { value: notifications.topic.topicArn });
    if (dlq) new CfnOutput(this, "DeadLetterQueueUrl", { value: dlq.queueUrl });
    if (this.purgeStateMachine) {
      new CfnOutput(this, "PurgeStateMachineArn", { value: this.purgeStateMachine.stateMachine.stateMachineArn });
    }
    for (const [name, f] of Object.entries(this.functions)) {
      new CfnOutput(this, `${f.node.id}FunctionName`, {
        value: f.fn.functionName,
        description: `the ${name} function`,
      });
      new CfnOutput(this, `${f.node.id}LogGroup`, { value: f.logGroup.logGroupName, description: `${name} logs` });
    }
  }
}
