/** The webhook: its function, its delivery-ID table (unless Redis keeps them), its endpoint and outputs. */
import { CfnOutput } from "aws-cdk-lib";
import { functionEnvironment } from "../../functions/support/env.ts";
import { webhookEnvSchema } from "../../functions/webhook/settings.ts";
import { secretArnsIn } from "../constructs/secrets.ts";
import { WebhookEndpoint } from "../constructs/webhook-endpoint.ts";
import { WebhookIdempotencyTable } from "../constructs/webhook-idempotency-table.ts";
import type { StackContext } from "./context.ts";

export function addWebhook(
  ctx: StackContext,
): { endpoint: WebhookEndpoint; idempotencyTable: WebhookIdempotencyTable | undefined } | undefined {
  const { stack, config } = ctx;
  const webhook = config.webhook;
  if (!webhook?.enabled) return undefined;
  const idempotencyTable = webhook.idempotencyRedisUrlSecretArn
    ? undefined
    : new WebhookIdempotencyTable(stack, "WebhookIdempotency", { key: ctx.key, removalPolicy: ctx.removalPolicy });
  const fn = ctx.addFunction("Webhook", webhook, {
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
  ctx.secrets.grantRead(fn.role, [
    ...secretArnsIn(webhook.routes),
    ...(webhook.daprApiTokenSecretArn ? [webhook.daprApiTokenSecretArn] : []),
    ...(webhook.idempotencyRedisUrlSecretArn ? [webhook.idempotencyRedisUrlSecretArn] : []),
    ...webhook.extraSecretArns,
  ]);
  idempotencyTable?.grantUse(fn.role);
  const endpoint = new WebhookEndpoint(stack, "WebhookEndpoint", {
    webhookFunction: fn.fn,
    exposure: webhook.exposure,
    throttle: webhook.throttle,
    logRetention: ctx.logRetention,
    removalPolicy: ctx.removalPolicy,
  });
  new CfnOutput(stack, "WebhookUrl", { value: endpoint.url, description: "Base URL of the webhook routes" });
  if (idempotencyTable) {
    new CfnOutput(stack, "WebhookDeliveriesTable", {
      value: idempotencyTable.table.tableName,
      description: "DynamoDB table of the webhook's delivery IDs",
    });
  }
  return { endpoint, idempotencyTable };
}
