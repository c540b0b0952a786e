/**
 * The webhook function (API Gateway HTTP API payload v2, or a Lambda Function URL: the same event shape): verifies the
 * sender's signature over the raw body, then starts a workflow or raises an event through the Dapr sidecar, once per
 * delivery (shared/webhook/job.ts). Settings come from the environment (./settings.ts) and are validated
 * at init; the sidecar client, the idempotency store and the secret cache live at module scope, so warm invocations
 * reuse them (secrets expire from the cache after WEBHOOK_SECRET_MAX_AGE_SECONDS, so rotation is picked up).
 */
import httpErrorHandler from "@middy/http-error-handler";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { traced } from "../../shared/tracing.ts";
import { createSecretResolver } from "../../shared/util/secrets.ts";
import type { IdempotencyStore } from "../../shared/webhook/idempotency.ts";
import { createWebhookJob } from "../../shared/webhook/job.ts";
import { openIdempotencyStore } from "../../shared/webhook/open-idempotency.ts";
import { webhookSidecarSource } from "../../shared/webhook/sidecar.ts";
import { lambdaHandler, lambdaKit, logFailure } from "../support/kit.ts";
import { webhookFunctionSettings } from "./settings.ts";

const kit = lambdaKit("webhook");
export const { logger } = kit;

const settings = webhookFunctionSettings(process.env);
const secrets = createSecretResolver({ maxAgeSeconds: settings.secretMaxAgeSeconds });

function idempotencyStore(): IdempotencyStore {
  const backend = settings.idempotency;
  if (backend.kind === "memory") {
    logger.warn(
      "neither IDEMPOTENCY_TABLE nor IDEMPOTENCY_REDIS_URL is set: delivery IDs are kept in memory, per execution environment only",
    );
  }
  return traced(
    "idempotency",
    openIdempotencyStore(backend, {
      secrets,
      onConnectionError: (reason) => logger.warn("idempotency store connection", { reason }),
    }),
  );
}

const sidecarSource = webhookSidecarSource({
  url: settings.sidecarUrl,
  apiToken: settings.apiToken,
  appId: settings.appId,
  secrets,
});
const sidecar: typeof sidecarSource = {
  get: async () => traced("sidecar", await sidecarSource.get()),
  close: () => sidecarSource.close(),
};
const idempotency = idempotencyStore();
const job = createWebhookJob({ config: settings.config, sidecar, secrets, idempotency, logger });

export function webhook(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> {
  return job.handle(event);
}

/** Closes the module-scope clients (for tests and local runs; Lambda just freezes the environment). */
export async function dispose(): Promise<void> {
  await Promise.allSettled([sidecar.close(), idempotency.close()]);
}

export const handler = lambdaHandler(
  kit,
  webhook,
  httpErrorHandler({
    // The job answers every failure itself; this only guards against a bug, and says nothing more than "500".
    logger: (error: unknown) => logFailure(kit, error, { message: "unhandled webhook failure" }),
    fallbackMessage: JSON.stringify({ error: "internal error" }),
  }),
);
