/** The webhook: routes config, signature verifiers, templates, idempotency stores and the request-handling job. */
export {
  decodedBodyLength,
  lowerCaseHeaders,
  rawBody,
  type WebhookHttpEvent,
  type WebhookHttpResult,
} from "./http-event.ts";
export {
  type ClaimResult,
  type IdempotencyStore,
  lazyIdempotencyStore,
  MemoryIdempotencyStore,
  type MemoryIdempotencyStoreOptions,
} from "./idempotency.ts";
export {
  createWebhookJob,
  expandSecret,
  idempotencyKey,
  type ValidationIssue,
  type WebhookJob,
  type WebhookJobOptions,
  type WebhookLogger,
  type WebhookOutcome,
} from "./job.ts";
export { type PayloadSchema, payloadSchemaSchema, payloadValidator } from "./payload-schema.ts";
export { RedisIdempotencyStore, type RedisIdempotencyStoreOptions } from "./redis-idempotency.ts";
export {
  compileWebhookConfig,
  DEFAULT_MAX_BODY_BYTES,
  parseWebhookConfig,
  type RouteMatch,
  RouteTable,
  type WebhookAction,
  type WebhookAuth,
  type WebhookConfig,
  type WebhookConfigInput,
  type WebhookRoute,
  webhookConfigSchema,
} from "./routes.ts";
export {
  WEBHOOK_RETRY_POLICY,
  type WebhookSidecar,
  type WebhookSidecarOptions,
  type WebhookSidecarSource,
  webhookSidecarSource,
} from "./sidecar.ts";
export {
  type AuthFailure,
  type AuthScheme,
  DEFAULT_TOLERANCE_SECONDS,
  SIGNATURE_HEADERS,
  signGithub,
  signStandardWebhooks,
  signStripe,
  standardWebhooksKey,
  type VerifyInput,
  type VerifyResult,
  verifyBearer,
  verifyGithub,
  verifyRequest,
  verifyStandardWebhooks,
  verifyStripe,
} from "./signatures.ts";
export { parseTemplate, renderTemplate, type Template, type TemplateInput } from "./template.ts";
