/**
 * The Dapr sidecar's workflow HTTP API (dapr master pkg/api/http/workflow.go), over one keep-alive undici Pool.
 *
 *   POST /{ver}/workflows/{component}/{name}/start[?instanceID=][&appID=]   body = input, as is   → 202 {"instanceID"}
 *   GET  /{ver}/workflows/{component}/{id}                                                        → 200 metadata
 *   POST /{ver}/workflows/{component}/{id}/raiseEvent/{event}               body = payload, as is → 202 {}
 *   POST /{ver}/workflows/{component}/{id}/terminate | pause | resume | purge                      → 202 {}
 *
 * The start and raiseEvent bodies are read raw (`io.ReadAll`, no JSON parsing) and stored as the StringValue input
 * of the event, so the client sends JSON text and the workflow receives exactly that text. Terminate and purge are
 * recursive over HTTP; pause/resume carry no reason.
 *
 * Retries (never of anything that may have taken effect):
 *  - errors while connecting (refused, connect timeout, DNS): the request never left, so every operation is retried;
 *  - 503 and 429 answers (waiting at least Retry-After): retried, except that a start is retried only after a GET
 *    shows its instance does not exist (the client picks the instance ID when the caller gives none, so this check
 *    always works). If the instance exists, the start is not repeated and the original error is thrown;
 *  - resets and timeouts after the request was sent: retried for GET only.
 */
import { randomUUID } from "node:crypto";
import type { Dispatcher } from "undici";
import { Pool } from "undici";
import { metadataFromHttpBody, payloadText } from "./codec.ts";
import { DEFAULT_SIDECAR_URL } from "./defaults.ts";
import { httpErrorKind, SidecarError, type SidecarOperation } from "./errors.ts";
import type { RetryPolicy, Sleep } from "./retry.ts";
import { parseRetryAfter, retryPolicy, withRetries } from "./retry.ts";
import type {
  CallOptions,
  PayloadOptions,
  PurgeOptions,
  ReasonOptions,
  StartOptions,
  TerminateOptions,
  WorkflowInstanceMetadata,
  WorkflowSidecar,
} from "./types.ts";
import { defaultUserAgent } from "./user-agent.ts";
import { validateAppId, validateEventName, validateInstanceId, validateWorkflowName } from "./validation.ts";

export { DEFAULT_SIDECAR_URL } from "./defaults.ts";
export const API_TOKEN_HEADER = "dapr-api-token";

/** `v1.0` since Dapr 1.15; `v1.0-beta1` from 1.12; `v1.0-alpha1` from 1.10. Master serves all three. */
export type HttpApiVersion = "v1.0" | "v1.0-beta1" | "v1.0-alpha1";

export interface HttpSidecarClientOptions {
  /** Base URL of the sidecar's HTTP API (default http://127.0.0.1:3500); a path prefix is kept. */
  url?: string | undefined;
  /** Sent as `dapr-api-token` when set (Dapr's DAPR_API_TOKEN). */
  apiToken?: string | undefined;
  /** Target app for every call (`appID` query parameter, Dapr ≥1.18 cross-app); default: the sidecar's own app. */
  appId?: string | undefined;
  apiVersion?: HttpApiVersion | undefined;
  /** The workflow component; Dapr's built-in engine is `dapr`. */
  component?: string | undefined;
  /** TCP connect timeout (default 2 s). */
  connectTimeoutMs?: number | undefined;
  /** Time to wait for the response headers, and between body chunks (default 15 s). */
  requestTimeoutMs?: number | undefined;
  /** Pool size (default 64: at least the concurrency of a purge, so no request waits for a socket). */
  connections?: number | undefined;
  /** Idle keep-alive before a pooled socket is closed (default 10 s; the server's own hint may shorten it). */
  keepAliveTimeoutMs?: number | undefined;
  /** Retry policy, or false for none. */
  retry?: Partial<RetryPolicy> | false | undefined;
  userAgent?: string | undefined;
  /** For tests: the jitter source and the wait. */
  random?: (() => number) | undefined;
  sleep?: Sleep | undefined;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** Errors raised before a connection was established: the request was never sent. */
const CONNECT_PHASE_CODES = new Set([
  "ECONNREFUSED",
  "UND_ERR_CONNECT_TIMEOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EADDRNOTAVAIL",
]);

const HTTP_ONLY_NOTE = "the Dapr HTTP API cannot carry it; use the gRPC client";

export class HttpSidecarClient implements WorkflowSidecar {
  readonly url: string;
  private readonly pool: Pool;
  private readonly basePath: string;
  private readonly apiVersion: HttpApiVersion;
  private readonly component: string;
  private readonly apiToken: string | undefined;
  private readonly appId: string | undefined;
  private readonly policy: RetryPolicy;
  private readonly userAgent: string;
  private readonly random: (() => number) | undefined;
  private readonly sleep: Sleep | undefined;

  constructor(options: HttpSidecarClientOptions = {}) {
    const url = new URL(options.url ?? DEFAULT_SIDECAR_URL);
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new SidecarError("bad-request", `the sidecar URL must be http:// or https://, got "${url.href}"`, {
        operation: "get",
        errorCode: "BAD_SIDECAR_URL",
      });
    }
    this.url = url.origin + url.pathname.replace(/\/+$/, "");
    this.basePath = url.pathname.replace(/\/+$/, "");
    this.apiVersion = options.apiVersion ?? "v1.0";
    this.component = options.component ?? "dapr";
    this.apiToken = options.apiToken === "" ? undefined : options.apiToken;
    this.appId = options.appId === "" ? undefined : options.appId;
    this.policy = retryPolicy(options.retry);
    this.userAgent = options.userAgent ?? defaultUserAgent();
    this.random = options.random;
    this.sleep = options.sleep;
    const requestTimeout = options.requestTimeoutMs ?? 15_000;
    this.pool = new Pool(url.origin, {
      connections: options.connections ?? 64,
      pipelining: 1,
      connect: { timeout: options.connectTimeoutMs ?? 2_000 },
      headersTimeout: requestTimeout,
      bodyTimeout: requestTimeout,
      keepAliveTimeout: options.keepAliveTimeoutMs ?? 10_000,
      keepAliveMaxTimeout: Math.max(options.keepAliveTimeoutMs ?? 10_000, 10_000),
    });
  }

  async start(workflowName: string, options: StartOptions = {}): Promise<string> {
    const op: SidecarOperation = "start";
    if (options.startTime !== undefined) throw unsupported(op, "a scheduled start time");
    validateWorkflowName(workflowName, op);
    const instanceId = options.instanceId ?? randomUUID();
    validateInstanceId(instanceId, true, op);
    const body = payloadText(options, op);
    const path = this.path(op, [workflowName, "start"], options, { instanceID: instanceId });

    const answer = await withRetries(
      {
        ...this.retryRun(op, options.signal),
        // A start that reached the server is repeated only if the instance provably does not exist.
        beforeRetry: async (error) => {
          if (!(error instanceof SidecarError) || error.status === undefined) return;
          let existing: WorkflowInstanceMetadata | undefined;
          try {
            existing = await this.getOnce(instanceId, options);
          } catch {
            throw error;
          }
          if (existing) {
            throw new SidecarError(
              error.kind,
              `${error.message} (not retried: instance "${instanceId}" exists now, status ${existing.runtimeStatus}; ` +
                "it may have been created by this request)",
              {
                operation: op,
                errorCode: error.errorCode,
                status: error.status,
                retryAfterMs: error.retryAfterMs,
                cause: error,
              },
            );
          }
        },
      },
      () => this.expect(op, "POST", path, body, options.signal, [202, 200]),
    );
    const parsed = parseJson(answer.text) as { instanceID?: unknown } | undefined;
    return typeof parsed?.instanceID === "string" && parsed.instanceID !== "" ? parsed.instanceID : instanceId;
  }

  async get(instanceId: string, options: CallOptions = {}): Promise<WorkflowInstanceMetadata | undefined> {
    validateInstanceId(instanceId, false, "get");
    return withRetries(this.retryRun("get", options.signal), () => this.getOnce(instanceId, options));
  }

  async raiseEvent(instanceId: string, eventName: string, options: CallOptions & PayloadOptions = {}): Promise<void> {
    const op: SidecarOperation = "raise-event";
    validateInstanceId(instanceId, false, op);
    validateEventName(eventName, op);
    const body = payloadText(options, op);
    await this.post(op, [instanceId, "raiseEvent", eventName], options, body);
  }

  async terminate(instanceId: string, options: TerminateOptions = {}): Promise<void> {
    const op: SidecarOperation = "terminate";
    if (options.output !== undefined || options.rawOutput !== undefined) throw unsupported(op, "a termination output");
    if (options.recursive === false) throw unsupported(op, "a non-recursive terminate");
    validateInstanceId(instanceId, false, op);
    await this.post(op, [instanceId, "terminate"], options);
  }

  async suspend(instanceId: string, options: ReasonOptions = {}): Promise<void> {
    const op: SidecarOperation = "suspend";
    if (options.reason !== undefined && options.reason !== "") throw unsupported(op, "a reason");
    validateInstanceId(instanceId, false, op);
    await this.post(op, [instanceId, "pause"], options);
  }

  /** The HTTP route's own name for suspend. */
  pause(instanceId: string, options: ReasonOptions = {}): Promise<void> {
    return this.suspend(instanceId, options);
  }

  async resume(instanceId: string, options: ReasonOptions = {}): Promise<void> {
    const op: SidecarOperation = "resume";
    if (options.reason !== undefined && options.reason !== "") throw unsupported(op, "a reason");
    validateInstanceId(instanceId, false, op);
    await this.post(op, [instanceId, "resume"], options);
  }

  async purge(instanceId: string, options: PurgeOptions = {}): Promise<void> {
    const op: SidecarOperation = "purge";
    if (options.force) throw unsupported(op, "a forced purge");
    if (options.recursive === false) throw unsupported(op, "a non-recursive purge");
    validateInstanceId(instanceId, false, op);
    await this.post(op, [instanceId, "purge"], options);
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  private async post(
    op: SidecarOperation,
    segments: string[],
    options: CallOptions,
    body?: string | undefined,
  ): Promise<void> {
    const path = this.path(op, segments, options);
    await withRetries(this.retryRun(op, options.signal), () =>
      this.expect(op, "POST", path, body, options.signal, [202, 200, 204]),
    );
  }

  private async getOnce(instanceId: string, options: CallOptions): Promise<WorkflowInstanceMetadata | undefined> {
    const path = this.path("get", [instanceId], options);
    const answer = await this.send("get", "GET", path, undefined, options.signal);
    if (answer.status === 200) return metadataFromHttpBody(parseJson(answer.text), instanceId);
    const error = this.answerError("get", answer);
    if (error.kind === "not-found") return undefined;
    throw error;
  }

  private async expect(
    op: SidecarOperation,
    method: Dispatcher.HttpMethod,
    path: string,
    body: string | undefined,
    signal: AbortSignal | undefined,
    ok: number[],
  ): Promise<Answer> {
    const answer = await this.send(op, method, path, body, signal);
    if (ok.includes(answer.status)) return answer;
    throw this.answerError(op, answer);
  }

  private async send(
    op: SidecarOperation,
    method: Dispatcher.HttpMethod,
    path: string,
    body: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<Answer> {
    const headers: Record<string, string> = { "user-agent": this.userAgent, accept: "application/json" };
    if (this.apiToken !== undefined) headers[API_TOKEN_HEADER] = this.apiToken;
    if (body !== undefined) headers["content-type"] = "application/json";
    try {
      const response = await this.pool.request({ method, path, headers, body: body ?? null, signal: signal ?? null });
      const text = await response.body.text();
      return { status: response.statusCode, headers: response.headers, text };
    } catch (error) {
      if (signal?.aborted) throw error;
      const code = errorCodeOf(error);
      throw new SidecarError(
        "unavailable",
        `cannot reach the Dapr sidecar at ${this.url}: ${describeTransportError(error)}`,
        { operation: op, errorCode: code, cause: error },
      );
    }
  }

  private answerError(op: SidecarOperation, answer: Answer): SidecarError {
    const parsed = parseJson(answer.text) as { errorCode?: unknown; message?: unknown } | undefined;
    const errorCode = typeof parsed?.errorCode === "string" ? parsed.errorCode : undefined;
    const daprMessage =
      typeof parsed?.message === "string" ? parsed.message : answer.text.trim() || `HTTP ${answer.status}`;
    const kind = httpErrorKind(answer.status, errorCode, daprMessage);
    let message = daprMessage;
    if (answer.status === 401) {
      message = `the Dapr sidecar refused the request (HTTP 401: ${daprMessage}); check the API token`;
    } else if (errorCode === undefined) {
      message = `the Dapr sidecar answered HTTP ${answer.status}: ${daprMessage}`;
    }
    return new SidecarError(kind, message, {
      operation: op,
      errorCode,
      status: answer.status,
      retryAfterMs: parseRetryAfter(answer.headers["retry-after"]),
    });
  }

  private retryRun(op: SidecarOperation, signal: AbortSignal | undefined) {
    return {
      policy: this.policy,
      signal,
      random: this.random,
      sleep: this.sleep,
      decide: (error: unknown) => {
        if (!(error instanceof SidecarError)) return { retry: false };
        if (error.status === undefined) {
          const notSent = error.errorCode !== undefined && CONNECT_PHASE_CODES.has(error.errorCode);
          return { retry: notSent || op === "get" };
        }
        if (error.status === 503 || error.status === 429) return { retry: true, retryAfterMs: error.retryAfterMs };
        return { retry: false };
      },
    };
  }

  private path(
    op: SidecarOperation,
    segments: string[],
    options: CallOptions,
    query: Record<string, string> = {},
  ): string {
    const appId = options.appId ?? this.appId;
    validateAppId(appId, op);
    const params = new URLSearchParams(query);
    if (appId) params.set("appID", appId);
    const encoded = [this.apiVersion, "workflows", this.component, ...segments].map(encodeURIComponent).join("/");
    const search = params.toString();
    return `${this.basePath}/${encoded}${search ? `?${search}` : ""}`;
  }
}

function unsupported(operation: SidecarOperation, what: string): SidecarError {
  return new SidecarError("bad-request", `${what} is not supported over HTTP: ${HTTP_ONLY_NOTE}`, {
    operation,
    errorCode: "UNSUPPORTED_OVER_HTTP",
  });
}

function parseJson(text: string): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function errorCodeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string") return code;
  if (error instanceof AggregateError) {
    for (const inner of error.errors) {
      const innerCode = errorCodeOf(inner);
      if (innerCode) return innerCode;
    }
  }
  const cause = (error as { cause?: unknown } | null)?.cause;
  return cause !== undefined && cause !== error ? errorCodeOf(cause) : undefined;
}

function describeTransportError(error: unknown): string {
  const code = errorCodeOf(error);
  let message = error instanceof Error ? error.message : String(error);
  if (message === "" && error instanceof AggregateError) {
    message = error.errors.map((e: unknown) => (e instanceof Error ? e.message : String(e))).join("; ");
  }
  if (code && !message.includes(code)) message = `${message || "error"} (${code})`;
  return message || "unknown transport error";
}
