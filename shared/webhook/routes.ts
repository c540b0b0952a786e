/**
 * The webhook routes file (JSON; see examples/webhook-routes.json), validated with zod once at start-up and compiled:
 * templates parsed, payload shapes turned into zod schemas, secrets kept as references (resolved per request through
 * the cached secret resolver, so rotation is picked up). A bad file is one `bad-input` error listing every issue.
 *
 *   {
 *     "maxBodyBytes": 262144,                       // 413 above this (decoded size)
 *     "basePath": "/prod",                          // optional prefix stripped from the request path
 *     "retryAfterSeconds": 5,                       // Retry-After of a 503 when the sidecar gives none
 *     "idempotency": { "ttlSeconds": 604800, "inFlightSeconds": 60, "keyPrefix": "housekeeper:webhook:" },
 *     "routes": [{
 *       "name": "payments",                         // for logs (default "POST /hooks/payments")
 *       "method": "POST", "path": "/hooks/payments",
 *       "action": { "type": "start", "workflow": "PaymentWorkflow" }   // or { "type": "raise-event", "event": "X" }
 *                                                 // or { "type": "raise-or-start", "event": "X", "workflow": "W" }
 *       "instanceId": "order-{body.data.object.metadata.orderId}",
 *       "deliveryId": "{headers.x-request-id}",     // default per scheme (below); required for bearer event routes
 *       "input": "body.data.object",                // what the workflow/event receives (default: the body, verbatim)
 *       "payload": { "type": "object", "required": ["id"] },           // payload-schema.ts
 *       "auth": { "scheme": "stripe", "secrets": ["env:STRIPE_WHSEC", "secretsmanager:stripe-old"],
 *                 "toleranceSeconds": 300 },
 *       "appId": "orders"                           // optional: the app hosting the workflow (Dapr ≥1.18)
 *     }]
 *   }
 *
 * `raise-or-start` raises the event on the instance, starting workflow W under that ID first (with no input) when
 * there is no instance of that ID at all: the app owns the ID, and the workflow begins with its first event
 * (dapr/dapr#7846). Dapr keeps an event raised before the workflow waits for it. A finished instance is never
 * started again (Dapr's start would reset it): the event is raised on it as is.
 *
 * Delivery IDs by scheme: github `{headers.x-github-delivery}`, stripe `{body.id}` (the event ID), standard-webhooks
 * `{headers.webhook-id}`; bearer has none unless configured.
 */
import { z } from "zod";
import { HousekeeperError } from "../errors.ts";
import { formatIssues } from "../util/zod-issues.ts";
import { type PayloadSchema, payloadSchemaSchema, payloadValidator } from "./payload-schema.ts";
import { type AuthScheme, DEFAULT_TOLERANCE_SECONDS } from "./signatures.ts";
import { parseTemplate, type Template } from "./template.ts";

export const DEFAULT_MAX_BODY_BYTES = 256 * 1024;
export const DEFAULT_IDEMPOTENCY_TTL_SECONDS = 7 * 24 * 3600;
export const DEFAULT_IN_FLIGHT_SECONDS = 60;
export const DEFAULT_KEY_PREFIX = "housekeeper:webhook:";

const DEFAULT_DELIVERY_ID: Record<AuthScheme, string | undefined> = {
  github: "{headers.x-github-delivery}",
  stripe: "{body.id}",
  "standard-webhooks": "{headers.webhook-id}",
  bearer: undefined,
};

const secrets = z
  .array(z.string().min(1, "a secret reference must not be empty"))
  .min(1, "give at least one secret (several while rotating)");
const tolerance = z.number().int().positive().default(DEFAULT_TOLERANCE_SECONDS);

const authSchema = z.discriminatedUnion("scheme", [
  z.strictObject({ scheme: z.literal("github"), secrets }),
  z.strictObject({ scheme: z.literal("stripe"), secrets, toleranceSeconds: tolerance }),
  z.strictObject({ scheme: z.literal("standard-webhooks"), secrets, toleranceSeconds: tolerance }),
  z.strictObject({ scheme: z.literal("bearer"), secrets }),
]);

const actionSchema = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("start"), workflow: z.string().min(1) }),
  z.strictObject({ type: z.literal("raise-event"), event: z.string().min(1) }),
  z.strictObject({ type: z.literal("raise-or-start"), event: z.string().min(1), workflow: z.string().min(1) }),
]);

const templateText = z.string().superRefine((text, ctx) => {
  try {
    parseTemplate(text);
  } catch (error) {
    ctx.addIssue({ code: "custom", message: error instanceof Error ? error.message : String(error) });
  }
});

const routeSchema = z.strictObject({
  name: z.string().min(1).optional(),
  description: z.string().optional(),
  method: z
    .string()
    .transform((m) => m.toUpperCase())
    .pipe(z.enum(["POST", "PUT", "PATCH"]))
    .default("POST"),
  path: z.string().regex(/^\/[^\s?#]*$/, "a path starts with / and has no query or fragment"),
  action: actionSchema,
  instanceId: templateText,
  deliveryId: templateText.optional(),
  input: z
    .string()
    .regex(/^body(\.[^.\s]+)*$/, 'a path into the body, e.g. "body" or "body.data.object"')
    .optional(),
  payload: payloadSchemaSchema.optional(),
  auth: authSchema,
  appId: z.string().min(1).optional(),
});

export const webhookConfigSchema = z
  .strictObject({
    $schema: z.string().optional(),
    description: z.string().optional(),
    basePath: z
      .string()
      .regex(/^\/[^\s?#]*[^/\s?#]$/, 'a prefix such as "/prod" (no trailing slash)')
      .optional(),
    maxBodyBytes: z
      .number()
      .int()
      .positive()
      .max(10 * 1024 * 1024)
      .default(DEFAULT_MAX_BODY_BYTES),
    retryAfterSeconds: z.number().int().positive().max(3600).default(5),
    idempotency: z
      .strictObject({
        ttlSeconds: z.number().int().positive().default(DEFAULT_IDEMPOTENCY_TTL_SECONDS),
        inFlightSeconds: z.number().int().positive().default(DEFAULT_IN_FLIGHT_SECONDS),
        keyPrefix: z.string().default(DEFAULT_KEY_PREFIX),
      })
      .default({
        ttlSeconds: DEFAULT_IDEMPOTENCY_TTL_SECONDS,
        inFlightSeconds: DEFAULT_IN_FLIGHT_SECONDS,
        keyPrefix: DEFAULT_KEY_PREFIX,
      }),
    routes: z.array(routeSchema).min(1, "configure at least one route"),
  })
  .superRefine((config, ctx) => {
    const seen = new Set<string>();
    config.routes.forEach((route, index) => {
      const key = `${route.method} ${route.path}`;
      if (seen.has(key)) ctx.addIssue({ code: "custom", path: ["routes", index], message: `${key} is defined twice` });
      seen.add(key);
      if (route.action.type !== "start" && !route.deliveryId && !DEFAULT_DELIVERY_ID[route.auth.scheme]) {
        ctx.addIssue({
          code: "custom",
          path: ["routes", index, "deliveryId"],
          message: `an event route with ${route.auth.scheme} auth needs a deliveryId template, so a redelivery is raised once`,
        });
      }
    });
  });

export type WebhookConfigInput = z.input<typeof webhookConfigSchema>;
type ParsedConfig = z.output<typeof webhookConfigSchema>;
type ParsedRoute = ParsedConfig["routes"][number];

export type WebhookAction = ParsedRoute["action"];
export type WebhookAuth = ParsedRoute["auth"];

export interface WebhookRoute {
  /** For logs: the configured name, else `METHOD /path`. */
  name: string;
  method: string;
  path: string;
  action: WebhookAction;
  instanceId: Template;
  /** Where the delivery ID comes from; undefined only for start routes without one. */
  deliveryId: Template | undefined;
  /** Path into the body of what is forwarded; undefined = the raw body, byte for byte. */
  inputPath: string[] | undefined;
  payload: PayloadSchema | undefined;
  validator: z.ZodType | undefined;
  auth: WebhookAuth;
  appId: string | undefined;
}

export interface WebhookConfig {
  basePath: string | undefined;
  maxBodyBytes: number;
  retryAfterSeconds: number;
  idempotency: { ttlSeconds: number; inFlightSeconds: number; keyPrefix: string };
  routes: WebhookRoute[];
}

/** Validates and compiles a routes file's parsed JSON; throws HousekeeperError("bad-input") listing every issue. */
export function compileWebhookConfig(raw: unknown, source = "webhook routes"): WebhookConfig {
  const parsed = webhookConfigSchema.safeParse(raw);
  if (!parsed.success) {
    throw new HousekeeperError(
      "bad-input",
      `${source} are not valid: ${formatIssues(parsed.error, { root: "(root)" })}`,
    );
  }
  const config = parsed.data;
  return {
    basePath: config.basePath,
    maxBodyBytes: config.maxBodyBytes,
    retryAfterSeconds: config.retryAfterSeconds,
    idempotency: config.idempotency,
    routes: config.routes.map((route) => {
      const delivery = route.deliveryId ?? DEFAULT_DELIVERY_ID[route.auth.scheme];
      return {
        name: route.name ?? `${route.method} ${route.path}`,
        method: route.method,
        path: route.path,
        action: route.action,
        instanceId: parseTemplate(route.instanceId),
        deliveryId: delivery === undefined ? undefined : parseTemplate(delivery),
        inputPath: route.input === undefined || route.input === "body" ? undefined : route.input.split(".").slice(1),
        payload: route.payload,
        validator: route.payload ? payloadValidator(route.payload) : undefined,
        auth: route.auth,
        appId: route.appId,
      };
    }),
  };
}

/** Parses a routes file's text (JSON) and compiles it. */
export function parseWebhookConfig(text: string, source = "webhook routes"): WebhookConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new HousekeeperError(
      "bad-input",
      `${source} are not valid JSON: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  return compileWebhookConfig(raw, source);
}

export type RouteMatch =
  | { kind: "route"; route: WebhookRoute }
  | { kind: "not-found" }
  | { kind: "method-not-allowed"; allow: string[] };

/** Exact path match (after the base path is stripped), then the method. */
export class RouteTable {
  private readonly byPath = new Map<string, Map<string, WebhookRoute>>();

  constructor(
    routes: readonly WebhookRoute[],
    private readonly basePath: string | undefined,
  ) {
    for (const route of routes) {
      const methods = this.byPath.get(route.path) ?? new Map<string, WebhookRoute>();
      methods.set(route.method, route);
      this.byPath.set(route.path, methods);
    }
  }

  match(method: string, rawPath: string): RouteMatch {
    let path = rawPath;
    if (this.basePath !== undefined) {
      if (path !== this.basePath && !path.startsWith(`${this.basePath}/`)) return { kind: "not-found" };
      path = path.slice(this.basePath.length) || "/";
    }
    const methods = this.byPath.get(path);
    if (!methods) return { kind: "not-found" };
    const route = methods.get(method.toUpperCase());
    if (!route) return { kind: "method-not-allowed", allow: [...methods.keys()].sort() };
    return { kind: "route", route };
  }
}
