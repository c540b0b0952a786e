/** The stuck-workflow report: its function, its SNS permissions and its schedule. */
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import { stuckReportEnvSchema } from "../../functions/stuck-report/settings.ts";
import { functionEnvironment } from "../../functions/support/env.ts";
import { ScheduledJob } from "../constructs/scheduled-job.ts";
import type { StackContext } from "./context.ts";

export function addStuckReport(ctx: StackContext): void {
  const { stack, config, key, notifications, deadLetterQueue: dlq } = ctx;
  const stuck = config.stuckReport;
  if (!stuck?.enabled) return;
  const prefixes = config.storage.prefixes;
  const notify = stuck.notifyThreshold > 0;
  const fn = ctx.addFunction("StuckReport", stuck, {
    name: "stuck-report",
    description: "dapr-housekeeper: report of stuck workflow instances",
    environment: functionEnvironment(stuckReportEnvSchema, {
      ...stuck.environment,
      STATE_STORE_CONNECTION_STRING: stuck.connectionStringSecretArn,
      STATE_STORE_TABLE: stuck.stateStoreTable,
      APP_IDS: stuck.appIds.join(","),
      DAPR_NAMESPACE: stuck.daprNamespace,
      ...(stuck.checkReminders ? ctx.etcdEnv : {}),
      REPORT_BUCKET: ctx.bucketName,
      REPORT_PREFIX: prefixes.stuckReports,
      ...(notify ? { SNS_TOPIC_ARN: notifications.topic.topicArn, NOTIFY_THRESHOLD: stuck.notifyThreshold } : {}),
    }),
    onAsyncFailure: { queue: dlq!, retryAttempts: 1 },
  });
  ctx.storage.grantPrefix(fn.role, prefixes.stuckReports, { write: true });
  ctx.secrets.grantRead(fn.role, [
    stuck.connectionStringSecretArn,
    ...(stuck.checkReminders ? ctx.etcdSecretArns : []),
  ]);
  if (notify) {
    fn.allow(new PolicyStatement({ actions: ["sns:Publish"], resources: [notifications.topic.topicArn] }));
    if (key && !config.notifications.topicArn) {
      fn.allow(
        new PolicyStatement({
          actions: ["kms:Decrypt", "kms:GenerateDataKey"],
          resources: [key.keyArn],
          conditions: { StringEquals: { "kms:ViaService": `sns.${stack.region}.amazonaws.com` } },
        }),
      );
    }
  }
  new ScheduledJob(stack, "StuckReportSchedule", {
    description: "dapr-housekeeper stuck-workflow report",
    settings: stuck.schedule,
    target: { function: fn.fn },
    input: stuck.input,
    deadLetterQueue: dlq!,
    group: ctx.scheduleGroup!,
  });
}
