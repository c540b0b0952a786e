/**
 * The dapr-housekeeper stack: the five functions, their schedules (EventBridge Scheduler) and the purge state
 * machine, the webhook endpoint, the bucket for backups and reports, secrets by reference, VPC placement, alarms and
 * a dashboard — all from one validated configuration (infra/config.ts).
 *
 * Each function's part (its function, schedule, permissions) is in infra/stack/<function>.ts; each builds the
 * function's environment with functionEnvironment() against the function's own env schema (functions/<name>/
 * settings.ts), so a variable the function does not read fails `tsc` (test/infra/env-contract.test.ts checks the rest).
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
import { Key } from "aws-cdk-lib/aws-kms";
import type { RetentionDays } from "aws-cdk-lib/aws-logs";
import { ScheduleGroup } from "aws-cdk-lib/aws-scheduler";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";
import { CONNECT_TIMEOUT_ENV, REQUEST_TIMEOUT_ENV } from "../shared/util/timeouts.ts";
import type { HousekeeperConfig } from "./config.ts";
import { HousekeeperFunction, PROJECT_ROOT } from "./constructs/housekeeper-function.ts";
import { Monitoring, Notifications } from "./constructs/monitoring.ts";
import { acknowledge } from "./constructs/nag.ts";
import { Network } from "./constructs/network.ts";
import type { PurgeStateMachine } from "./constructs/purge-state-machine.ts";
import { SecretReferences } from "./constructs/secrets.ts";
import { Storage } from "./constructs/storage.ts";
import type { WebhookEndpoint } from "./constructs/webhook-endpoint.ts";
import type { WebhookIdempotencyTable } from "./constructs/webhook-idempotency-table.ts";
import type { StackContext } from "./stack/context.ts";
import { addPurge } from "./stack/purge.ts";
import { addReminderFunctions } from "./stack/reminders.ts";
import { addStuckReport } from "./stack/stuck-report.ts";
import { addWebhook } from "./stack/webhook.ts";

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

/** The configured network timeouts, in the variables every function reads them from (shared/util/timeouts.ts). */
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
    const ctx: StackContext = {
      stack: this,
      config,
      key,
      removalPolicy,
      logRetention,
      storage: this.storage,
      bucketName,
      secrets,
      notifications,
      deadLetterQueue: dlq,
      scheduleGroup: group,
      etcdEnv: scheduler
        ? {
            ETCD_ENDPOINTS: scheduler.etcd.endpoints.join(","),
            ETCD_KEY_ROOT: scheduler.etcd.keyRoot,
            ETCD_TLS_SECRET: scheduler.etcd.tlsSecretArn,
          }
        : {},
      etcdSecretArns: scheduler?.etcd.tlsSecretArn ? [scheduler.etcd.tlsSecretArn] : [],
      addFunction: (id, tuning, rest) => {
        const f = new HousekeeperFunction(this, id, {
          ...rest,
          memoryMb: tuning.memoryMb,
          timeoutSeconds: tuning.timeoutSeconds,
          reservedConcurrency: tuning.reservedConcurrency,
          ephemeralStorageMb: tuning.ephemeralStorageMb,
          environment: { HOUSEKEEPER_VERSION: VERSION, ...timeoutEnvironment(config), ...rest.environment },
          logRetention,
          logLevel: config.logLevel,
          metricsNamespace: config.metricsNamespace,
          removalPolicy,
          network: tuning.inVpc ? network?.placement : undefined,
        });
        this.functions[rest.name] = f;
        return f;
      },
    };

    // One part per function (infra/stack/), in the stack's own scope.
    this.purgeStateMachine = addPurge(ctx);
    addStuckReport(ctx);
    addReminderFunctions(ctx);
    const webhook = addWebhook(ctx);
    this.webhook = webhook?.endpoint;
    this.webhookIdempotencyTable = webhook?.idempotencyTable;

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
      stuckApps: config.stuckReport?.enabled
        ? config.stuckReport.appIds.map((app) => `${config.stuckReport?.daprNamespace}/${app}`)
        : [],
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
