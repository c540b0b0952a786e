/**
 * Settings of the webhook function, from its environment, validated with zod at start-up (a bad value fails the
 * Lambda's init, not a request):
 *
 *   WEBHOOK_ROUTES            the routes config as JSON text, or
 *   WEBHOOK_ROUTES_FILE       a path to it (relative: to LAMBDA_TASK_ROOT, else the working directory)
 *   DAPR_HTTP_ENDPOINT        the sidecar's HTTP API (default http://127.0.0.1:3500)
 *   DAPR_API_TOKEN            the Dapr API token, or a secret reference (env:, secretsmanager:<name>, ARN)
 *   DAPR_APP_ID               optional: the app hosting the workflows, if not the sidecar's own
 *   IDEMPOTENCY_TABLE         a DynamoDB table for the delivery IDs (what the stack sets by default), or
 *   IDEMPOTENCY_REDIS_URL     redis://… (or a secret reference holding it); neither = in-memory (one execution
 *                             environment only: say so in the logs). See shared/webhook/open-idempotency.ts.
 *   WEBHOOK_SECRET_MAX_AGE_SECONDS  how long a fetched secret is cached (default 300)
 */
import { z } from "zod";
import { HousekeeperError } from "../../shared/errors.ts";
import { formatIssues } from "../../shared/util/zod-issues.ts";
import { type IdempotencyBackend, idempotencyBackend } from "../../shared/webhook/idempotency-backend.ts";
import { parseWebhookConfig, type WebhookConfig } from "../../shared/webhook/routes.ts";
import { loadWebhookConfigFile } from "../../shared/webhook/routes-file.ts";

const optionalText = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? undefined : v.trim()));

export const webhookEnvSchema = z
  .object({
    WEBHOOK_ROUTES: optionalText,
    WEBHOOK_ROUTES_FILE: optionalText,
    DAPR_HTTP_ENDPOINT: optionalText.pipe(z.url().optional()),
    DAPR_API_TOKEN: optionalText,
    DAPR_APP_ID: optionalText,
    IDEMPOTENCY_REDIS_URL: optionalText,
    IDEMPOTENCY_TABLE: optionalText,
    WEBHOOK_SECRET_MAX_AGE_SECONDS: optionalText.pipe(
      z.string().regex(/^\d+$/, "a whole number of seconds").transform(Number).optional(),
    ),
    LAMBDA_TASK_ROOT: optionalText,
  })
  .refine((env) => (env.WEBHOOK_ROUTES === undefined) !== (env.WEBHOOK_ROUTES_FILE === undefined), {
    message: "set exactly one of WEBHOOK_ROUTES (JSON) and WEBHOOK_ROUTES_FILE (a path)",
  });

export interface WebhookFunctionSettings {
  config: WebhookConfig;
  sidecarUrl: string;
  /** The token or a reference to it. */
  apiToken: string | undefined;
  appId: string | undefined;
  /** Where delivery IDs are kept. */
  idempotency: IdempotencyBackend;
  secretMaxAgeSeconds: number;
}

export function webhookFunctionSettings(env: NodeJS.ProcessEnv): WebhookFunctionSettings {
  const parsed = webhookEnvSchema.safeParse(env);
  if (!parsed.success) {
    const issues = formatIssues(parsed.error, { root: "environment" });
    throw new HousekeeperError("bad-input", `webhook function settings are not valid: ${issues}`);
  }
  const e = parsed.data;
  const config =
    e.WEBHOOK_ROUTES !== undefined
      ? parseWebhookConfig(e.WEBHOOK_ROUTES, "WEBHOOK_ROUTES")
      : loadWebhookConfigFile(e.WEBHOOK_ROUTES_FILE!, e.LAMBDA_TASK_ROOT);
  return {
    config,
    sidecarUrl: e.DAPR_HTTP_ENDPOINT ?? "http://127.0.0.1:3500",
    apiToken: e.DAPR_API_TOKEN,
    appId: e.DAPR_APP_ID,
    idempotency: idempotencyBackend({ redisUrl: e.IDEMPOTENCY_REDIS_URL, tableName: e.IDEMPOTENCY_TABLE }),
    secretMaxAgeSeconds: e.WEBHOOK_SECRET_MAX_AGE_SECONDS ?? 300,
  };
}
