/**
 * The webhook job: one HTTP request in (an API Gateway HTTP API v2 / Function URL event), one answer out, through
 *
 *   body size (413, before anything is parsed) → route (404, 405) → signature over the raw bytes (401) → JSON (400)
 *   → payload shape (400) → instance ID from its template, Dapr's rule (400) → delivery ID (400)
 *   → idempotency claim (done: 202 again; in flight: 409) → sidecar start / raise event → record → 202 {instanceID}
 *
 * Idempotency:
 *  - a start is keyed by its instance ID (so two deliveries, or two event types, that map to the same instance start
 *    it once). If the store has no record (expired, or lost), the sidecar's "already exists" answer for the same ID
 *    counts as success too; past the record's TTL a *finished* instance would be started again, as Dapr allows;
 *  - an event is keyed by its route and delivery ID, and raised once within the record's TTL;
 *  - the record is written only after the sidecar accepted; a failure releases the claim so the sender's retry acts.
 *
 * Answers never carry secrets, signatures or the reason an authentication failed (all 401s are the same); logs carry
 * the route, instance ID, delivery ID, outcome, status and duration — never the body, a header value or a secret.
 */
import { createHash } from "node:crypto";
import { performance } from "node:perf_hooks";
import type { z } from "zod";
import { errorMessage, HousekeeperError } from "../errors.ts";
import { isSidecarError, type SidecarError } from "../sidecar/errors.ts";
import { instanceIdProblem } from "../sidecar/validation.ts";
import type { SecretResolver } from "../util/secrets.ts";
import {
  decodedBodyLength,
  lowerCaseHeaders,
  rawBody,
  type WebhookHttpEvent,
  type WebhookHttpResult,
} from "./http-event.ts";
import type { ClaimResult, IdempotencyStore } from "./idempotency.ts";
import { RouteTable, type WebhookConfig, type WebhookRoute } from "./routes.ts";
import type { WebhookSidecar, WebhookSidecarSource } from "./sidecar.ts";
import { verifyRequest } from "./signatures.ts";
import { renderTemplate, type TemplateInput } from "./template.ts";

/** What the job logs through (Powertools Logger fits). */
export interface WebhookLogger {
  info(message: string, attributes: Record<string, unknown>): void;
  warn(message: string, attributes: Record<string, unknown>): void;
  error(message: string, attributes: Record<string, unknown>): void;
}

export type WebhookOutcome =
  | "started"
  | "already-started"
  | "raised"
  | "started-and-raised"
  | "duplicate"
  | "in-flight"
  | "too-large"
  | "not-found"
  | "method-not-allowed"
  | "unauthorized"
  | "bad-request"
  | "instance-not-found"
  | "unavailable"
  | "sidecar-error"
  | "internal-error";

export interface ValidationIssue {
  /** Where: `body`, `body.items.0.sku`, `instanceID`, `deliveryID`. */
  path: string;
  message: string;
}

export interface WebhookJobOptions {
  config: WebhookConfig;
  sidecar: WebhookSidecar | WebhookSidecarSource;
  secrets: SecretResolver;
  idempotency: IdempotencyStore;
  logger?: WebhookLogger | undefined;
  now?: () => Date;
}

export interface WebhookJob {
  readonly config: WebhookConfig;
  handle(event: WebhookHttpEvent): Promise<WebhookHttpResult>;
  /** The 413 answer (logged), for a door that stops reading a body once it is too large. */
  tooLarge(method: string, path: string, durationMs?: number): WebhookHttpResult;
}

const MAX_ISSUES = 20;
const IN_FLIGHT_RETRY_AFTER_SECONDS = 1;
const UTF8 = new TextDecoder("utf-8", { fatal: true });

interface LogContext {
  route?: string;
  method: string;
  path: string;
  requestId?: string | undefined;
  instanceID?: string;
  deliveryID?: string;
  [key: string]: unknown;
}

export function createWebhookJob(options: WebhookJobOptions): WebhookJob {
  const { config, secrets, idempotency } = options;
  const logger = options.logger;
  const now = options.now ?? (() => new Date());
  const table = new RouteTable(config.routes, config.basePath);
  // A sidecar client (it has start) is used as is; anything else is a source of clients (token rotation).
  const given = options.sidecar;
  const sidecarSource: WebhookSidecarSource =
    "start" in given ? { get: async () => given, close: async () => {} } : given;

  function finish(
    context: LogContext,
    started: number,
    outcome: WebhookOutcome,
    result: WebhookHttpResult,
  ): WebhookHttpResult {
    const attributes = { ...context, outcome, status: result.statusCode, durationMs: elapsed(started) };
    if (!logger) return result;
    if (result.statusCode >= 500) logger.error("webhook request", attributes);
    else if (result.statusCode >= 400) logger.warn("webhook request", attributes);
    else logger.info("webhook request", attributes);
    return result;
  }

  async function handle(event: WebhookHttpEvent): Promise<WebhookHttpResult> {
    const started = performance.now();
    const method = event.requestContext.http.method.toUpperCase();
    const context: LogContext = { method, path: event.rawPath, requestId: event.requestContext.requestId };
    try {
      return await run(event, method, context, started);
    } catch (error) {
      context.reason = errorMessage(error);
      return finish(context, started, "internal-error", answer(500, { error: "internal error" }));
    }
  }

  async function run(
    event: WebhookHttpEvent,
    method: string,
    context: LogContext,
    started: number,
  ): Promise<WebhookHttpResult> {
    if (decodedBodyLength(event) > config.maxBodyBytes) {
      return finish(context, started, "too-large", payloadTooLarge());
    }
    const match = table.match(method, event.rawPath);
    if (match.kind === "not-found") return finish(context, started, "not-found", answer(404, { error: "not found" }));
    if (match.kind === "method-not-allowed") {
      return finish(
        context,
        started,
        "method-not-allowed",
        answer(405, { error: "method not allowed" }, { allow: match.allow.join(", ") }),
      );
    }
    const route = match.route;
    context.route = route.name;
    const body = rawBody(event);
    const headers = lowerCaseHeaders(event.headers);

    // ---- authentication (over the raw bytes) ----
    let accepted: string[];
    try {
      accepted = await routeSecrets(route);
    } catch (error) {
      context.reason = `cannot read the route's secrets: ${errorMessage(error)}`;
      // Secrets Manager out of reach: retry later. A reference that cannot work (unset variable): our fault, 500.
      if (error instanceof HousekeeperError && error.code === "unavailable") {
        return finish(context, started, "unavailable", unavailable(config.retryAfterSeconds));
      }
      return finish(context, started, "internal-error", answer(500, { error: "internal error" }));
    }
    const verdict = verifyRequest(route.auth.scheme, {
      body,
      headers,
      secrets: accepted,
      now: now(),
      toleranceSeconds: "toleranceSeconds" in route.auth ? route.auth.toleranceSeconds : 0,
    });
    if (!verdict.ok) {
      context.authFailure = verdict.reason;
      return finish(context, started, "unauthorized", answer(401, { error: "unauthorized" }));
    }

    // ---- the payload ----
    let text: string;
    let parsed: unknown;
    try {
      text = UTF8.decode(body);
      parsed = JSON.parse(text);
    } catch {
      return finish(
        context,
        started,
        "bad-request",
        badRequest([{ path: "body", message: "the body is not valid UTF-8 JSON" }]),
      );
    }
    if (route.validator) {
      const checked = (route.validator as z.ZodType).safeParse(parsed);
      if (!checked.success) {
        const issues = checked.error.issues.map((i) => ({
          path: ["body", ...i.path.map(String)].join("."),
          message: i.message,
        }));
        return finish(context, started, "bad-request", badRequest(issues));
      }
    }
    const input: TemplateInput = { body: parsed, headers, query: new URLSearchParams(event.rawQueryString ?? "") };
    const id = renderTemplate(route.instanceId, input);
    if (!id.ok) {
      return finish(
        context,
        started,
        "bad-request",
        badRequest([{ path: "instanceID", message: `instance ID template: ${id.message}` }]),
      );
    }
    // Dapr's start rule for every action: the ID comes from the request, so only IDs Dapr would create get through.
    const problem = instanceIdProblem(id.value, true);
    if (problem) {
      return finish(context, started, "bad-request", badRequest([{ path: "instanceID", message: problem.message }]));
    }
    const instanceId = id.value;
    context.instanceID = instanceId;
    let deliveryId: string | undefined;
    if (route.deliveryId) {
      const rendered = renderTemplate(route.deliveryId, input);
      if (rendered.ok) deliveryId = rendered.value;
      else if (route.action.type !== "start") {
        return finish(
          context,
          started,
          "bad-request",
          badRequest([{ path: "deliveryID", message: `delivery ID template: ${rendered.message}` }]),
        );
      }
    }
    if (deliveryId !== undefined) context.deliveryID = deliveryId.slice(0, 200);
    let payload: string = text;
    if (route.inputPath) {
      const selected = select(parsed, route.inputPath);
      if (selected === undefined) {
        const path = ["body", ...route.inputPath].join(".");
        return finish(context, started, "bad-request", badRequest([{ path, message: "the input field is missing" }]));
      }
      payload = JSON.stringify(selected);
    }

    // ---- idempotency ----
    const key = idempotencyKey(config.idempotency.keyPrefix, route, instanceId, deliveryId);
    let claim: ClaimResult;
    try {
      claim = await idempotency.claim(key, config.idempotency.inFlightSeconds * 1000);
    } catch (error) {
      context.reason = errorMessage(error);
      return finish(context, started, "unavailable", unavailable(config.retryAfterSeconds));
    }
    if (claim.status === "done") {
      return finish(context, started, "duplicate", answer(202, { instanceID: claim.instanceId }));
    }
    if (claim.status === "in-flight") {
      return finish(
        context,
        started,
        "in-flight",
        answer(
          409,
          { error: "this delivery is being processed; retry later" },
          { "retry-after": String(IN_FLIGHT_RETRY_AFTER_SECONDS) },
        ),
      );
    }

    // ---- the sidecar ----
    let outcome: WebhookOutcome;
    let resultId = instanceId;
    try {
      const sidecar = await sidecarSource.get();
      if (route.action.type === "start") {
        try {
          resultId = await sidecar.start(route.action.workflow, {
            instanceId,
            rawInput: payload,
            appId: route.appId,
          });
          outcome = "started";
        } catch (error) {
          if (!isSidecarError(error, "already-exists")) throw error;
          outcome = "already-started";
        }
      } else {
        let startedNow = false;
        // Start only an instance that does not exist at all: Dapr's start resets and reruns a finished instance of
        // the same ID, which must never happen to a workflow that is done. (No input: the event carries the
        // payload.) Two first deliveries at once: the second start meets "already exists" and just raises.
        if (route.action.type === "raise-or-start" && !(await sidecar.get(instanceId, { appId: route.appId }))) {
          try {
            await sidecar.start(route.action.workflow, { instanceId, appId: route.appId });
            startedNow = true;
          } catch (error) {
            if (!isSidecarError(error, "already-exists")) throw error;
          }
        }
        await sidecar.raiseEvent(instanceId, route.action.event, { rawInput: payload, appId: route.appId });
        outcome = startedNow ? "started-and-raised" : "raised";
      }
    } catch (error) {
      await idempotency.release(key, claim.token).catch((releaseError: unknown) => {
        context.releaseError = errorMessage(releaseError);
      });
      return failure(context, started, error);
    }
    try {
      await idempotency.complete(key, claim.token, resultId, config.idempotency.ttlSeconds * 1000);
    } catch (error) {
      // The sidecar accepted: say so. A redelivery may act again (a start then meets "already exists").
      context.recordError = errorMessage(error);
    }
    context.instanceID = resultId;
    return finish(context, started, outcome, answer(202, { instanceID: resultId }));
  }

  function failure(context: LogContext, started: number, error: unknown): WebhookHttpResult {
    context.reason = errorMessage(error);
    if (!isSidecarError(error)) {
      if (error instanceof HousekeeperError && error.code === "unavailable") {
        return finish(context, started, "unavailable", unavailable(config.retryAfterSeconds));
      }
      return finish(context, started, "internal-error", answer(500, { error: "internal error" }));
    }
    context.sidecarError = { kind: error.kind, errorCode: error.errorCode, status: error.status };
    switch (error.kind) {
      case "unavailable":
        return finish(context, started, "unavailable", unavailable(retryAfterSeconds(error, config.retryAfterSeconds)));
      case "not-found":
        return finish(
          context,
          started,
          "instance-not-found",
          answer(404, { error: "workflow instance not found", instanceID: context.instanceID }),
        );
      case "bad-request":
        return finish(context, started, "bad-request", badRequest([{ path: "sidecar", message: error.message }]));
      default:
        return finish(
          context,
          started,
          "sidecar-error",
          answer(502, { error: "the Dapr sidecar refused the request" }),
        );
    }
  }

  async function routeSecrets(route: WebhookRoute): Promise<string[]> {
    const values = await Promise.all(route.auth.secrets.map((ref) => secrets.resolve(ref)));
    return values.flatMap(expandSecret);
  }

  return {
    config,
    handle,
    tooLarge(method, path, durationMs = 0) {
      const context: LogContext = { method: method.toUpperCase(), path };
      return finish(context, performance.now() - durationMs, "too-large", payloadTooLarge());
    },
  };
}

/**
 * One secret value may hold several secrets, for rotation inside one Secrets Manager secret: a JSON array of strings
 * (`["whsec_new", "whsec_old"]`). Anything else is one secret.
 */
export function expandSecret(value: string): string[] {
  if (value.startsWith("[")) {
    try {
      const list = JSON.parse(value) as unknown;
      if (Array.isArray(list) && list.every((s) => typeof s === "string" && s !== "")) return list as string[];
    } catch {
      // not JSON: a secret that starts with "["
    }
  }
  return [value];
}

/** `<prefix>start:<instance>` or `<prefix>event:<sha256(route, delivery ID)>` (delivery IDs are sender-chosen text). */
export function idempotencyKey(
  prefix: string,
  route: Pick<WebhookRoute, "method" | "path" | "action" | "appId">,
  instanceId: string,
  deliveryId: string | undefined,
): string {
  if (route.action.type === "start") return `${prefix}start:${route.appId ?? ""}:${instanceId}`;
  const digest = createHash("sha256")
    .update(`${route.method} ${route.path}\n${deliveryId ?? ""}`)
    .digest("hex");
  return `${prefix}event:${digest}`;
}

function select(value: unknown, path: readonly string[]): unknown {
  let current = value;
  for (const key of path) {
    if (Array.isArray(current) && /^\d+$/.test(key)) current = current[Number(key)];
    else if (current !== null && typeof current === "object" && Object.hasOwn(current, key)) {
      current = (current as Record<string, unknown>)[key];
    } else return undefined;
  }
  return current;
}

function retryAfterSeconds(error: SidecarError, fallback: number): number {
  if (error.retryAfterMs === undefined) return fallback;
  return Math.min(3600, Math.max(1, Math.ceil(error.retryAfterMs / 1000)));
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 100) / 100;
}

function answer(statusCode: number, body: unknown, headers: Record<string, string> = {}): WebhookHttpResult {
  return {
    statusCode,
    headers: { "content-type": "application/json", "cache-control": "no-store", ...headers },
    body: JSON.stringify(body),
  };
}

function badRequest(issues: ValidationIssue[]): WebhookHttpResult {
  return answer(400, { error: "bad request", issues: issues.slice(0, MAX_ISSUES) });
}

function unavailable(seconds: number): WebhookHttpResult {
  return answer(503, { error: "service unavailable" }, { "retry-after": String(seconds) });
}

function payloadTooLarge(): WebhookHttpResult {
  return answer(413, { error: "payload too large" });
}
