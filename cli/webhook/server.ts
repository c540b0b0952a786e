/**
 * The webhook job on Node's HTTP server (`housekeeper webhook serve`, and the tests and benchmark in-process): each
 * request becomes the same API Gateway v2 event the Lambda receives — body base64-encoded, so the signed bytes arrive
 * untouched — and the job's answer is written back. A body is read only up to the configured limit (beyond it, the
 * rest is discarded unread and the answer is 413; a body far beyond it has its connection cut).
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { Logger } from "@aws-lambda-powertools/logger";
import type { RetryPolicy } from "../../shared/sidecar/retry.ts";
import { createSecretResolver, type SecretResolver } from "../../shared/util/secrets.ts";
import type { WebhookHttpResult } from "../../shared/webhook/http-event.ts";
import { type IdempotencyStore, MemoryIdempotencyStore } from "../../shared/webhook/idempotency.ts";
import { createWebhookJob, type WebhookJob, type WebhookLogger } from "../../shared/webhook/job.ts";
import type { WebhookConfig } from "../../shared/webhook/routes.ts";
import { webhookSidecarSource } from "../../shared/webhook/sidecar.ts";
import { DEFAULT_RECEIVE_TIMEOUT_MS } from "./defaults.ts";

export interface WebhookServerOptions {
  config: WebhookConfig;
  /** The sidecar's HTTP API. */
  sidecarUrl: string;
  /** The Dapr API token, or a secret reference to it. */
  apiToken?: string | undefined;
  /** The app hosting the workflows, if not the sidecar's own. */
  appId?: string | undefined;
  /** Default: in memory (this process only). The server closes it on close(). */
  idempotency?: IdempotencyStore | undefined;
  secrets?: SecretResolver | undefined;
  /** Default: a Powertools Logger (JSON lines on stdout), service "webhook". */
  logger?: WebhookLogger | undefined;
  /** Default 8080; 0 = any free port. */
  port?: number | undefined;
  /** Default 127.0.0.1. */
  host?: string | undefined;
  sidecarRetry?: Partial<RetryPolicy> | false | undefined;
  now?: (() => Date) | undefined;
  /** How long requests in progress may take to finish on close() before their connections are cut (default 10 s). */
  shutdownGraceMs?: number | undefined;
  /**
   * How long a client has to send its whole request, headers and body (default 10 s); then it gets 408. A body
   * shorter than its Content-Length would otherwise hold the connection open.
   */
  receiveTimeoutMs?: number | undefined;
}

export { DEFAULT_RECEIVE_TIMEOUT_MS } from "./defaults.ts";

/** Request headers larger than this get 431 (Node's default). */
const MAX_HEADER_BYTES = 16 * 1024;

export interface WebhookServer {
  /** http://host:port */
  url: string;
  port: number;
  host: string;
  job: WebhookJob;
  /** Stops accepting, lets requests in progress finish (within the grace time), then closes the clients. */
  close(): Promise<void>;
}

export async function startWebhookServer(options: WebhookServerOptions): Promise<WebhookServer> {
  const secrets = options.secrets ?? createSecretResolver();
  const idempotency = options.idempotency ?? new MemoryIdempotencyStore();
  const sidecar = webhookSidecarSource({
    url: options.sidecarUrl,
    apiToken: options.apiToken,
    appId: options.appId,
    secrets,
    retry: options.sidecarRetry,
  });
  const job = createWebhookJob({
    config: options.config,
    sidecar,
    secrets,
    idempotency,
    logger: options.logger ?? new Logger({ serviceName: "webhook" }),
    now: options.now,
  });
  const state = { closing: false };
  const receiveTimeoutMs = options.receiveTimeoutMs ?? DEFAULT_RECEIVE_TIMEOUT_MS;
  const server = createServer(
    {
      requestTimeout: receiveTimeoutMs,
      headersTimeout: receiveTimeoutMs,
      maxHeaderSize: MAX_HEADER_BYTES,
      // Node checks the timeouts only this often (default 30 s), so check often enough for the timeout to hold.
      connectionsCheckingInterval: Math.min(1_000, receiveTimeoutMs),
    },
    (req, res) => {
      void serveRequest(job, req, res, state).catch(() => {
        if (!res.headersSent) write(res, { statusCode: 500, headers: {}, body: '{"error":"internal error"}' }, true);
        else res.destroy();
      });
    },
  );
  server.on("clientError", answerClientError);
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 8080, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  let closed: Promise<void> | undefined;
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    port,
    host,
    job,
    close() {
      closed ??= (async () => {
        state.closing = true;
        await closeServer(server, options.shutdownGraceMs ?? 10_000);
        await Promise.allSettled([sidecar.close(), idempotency.close()]);
      })();
      return closed;
    },
  };
}

async function serveRequest(
  job: WebhookJob,
  req: IncomingMessage,
  res: ServerResponse,
  state: { closing: boolean },
): Promise<void> {
  const started = performance.now();
  const method = req.method ?? "GET";
  const target = req.url ?? "/";
  const query = target.indexOf("?");
  const rawPath = query < 0 ? target : target.slice(0, query);
  const limit = job.config.maxBodyBytes;
  const body = await readBody(req, limit);
  if (body === "too-large" || body === "cut") {
    const socket = req.socket;
    write(res, job.tooLarge(method, rawPath, performance.now() - started), true);
    if (body === "cut") res.once("finish", () => socket.destroy());
    return;
  }
  // The fields of an API Gateway HTTP API v2 event, so the job sees what the Lambda would.
  const requestContext = {
    http: {
      method,
      path: rawPath,
      protocol: `HTTP/${req.httpVersion}`,
      sourceIp: req.socket.remoteAddress ?? "",
      userAgent: req.headers["user-agent"] ?? "",
    },
    requestId: randomUUID(),
    timeEpoch: Date.now(),
  };
  const event = {
    version: "2.0",
    routeKey: "$default",
    rawPath,
    rawQueryString: query < 0 ? "" : target.slice(query + 1),
    headers: nodeHeaders(req),
    requestContext,
    body: body.toString("base64"),
    isBase64Encoded: true,
  };
  write(res, await job.handle(event), state.closing);
}

/**
 * The body, or "too-large" (read to its end and discarded), or "cut" (far too large: reading stops, the connection is
 * closed once the 413 is written). The stream is never destroyed here, so the answer can still be written.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | "too-large" | "cut"> {
  const hardLimit = Math.max(4 * limit, 1024 * 1024);
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > hardLimit) {
    req.pause();
    return Promise.resolve("cut");
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      if (total > hardLimit) {
        req.off("data", onData);
        req.off("end", onEnd);
        req.pause();
        resolve("cut");
      } else if (total <= limit) chunks.push(chunk);
    };
    const onEnd = () => resolve(total > limit ? "too-large" : Buffer.concat(chunks, total));
    req.on("data", onData);
    req.once("end", onEnd);
    req.once("error", reject);
  });
}

/** Node's header map as API Gateway sends headers: lower-case names, repeated values joined with commas. */
function nodeHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, values] of Object.entries(req.headersDistinct)) {
    if (values !== undefined) out[name] = values.join(",");
  }
  return out;
}

function write(res: ServerResponse, result: WebhookHttpResult, close: boolean): void {
  const headers: Record<string, string | number> = { ...result.headers };
  headers["content-length"] = Buffer.byteLength(result.body);
  if (close) headers.connection = "close";
  if (res.socket) answering.add(res.socket);
  res.once("finish", () => {
    if (res.socket) answering.delete(res.socket);
  });
  res.writeHead(result.statusCode, headers);
  res.end(result.body);
}

const clientErrorAnswered = new WeakSet<Duplex>();
/** Sockets whose current request is being answered by write(). */
const answering = new WeakSet<Duplex>();

/**
 * A request Node's parser refused (headers too large, malformed) or one not received in time: answer 431/408/400 and
 * close gracefully. Node's own handling destroys the socket at once, so a client still sending its oversized headers
 * gets a TCP reset instead of the answer; here the rest of what it sends is read and dropped until it closes.
 */
function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  // The parser reports every further chunk as another error: answer once.
  if (clientErrorAnswered.has(socket)) return;
  clientErrorAnswered.add(socket);
  // A client that reset the connection gets nothing; an answer already begun cannot get a second status line.
  if (error.code === "ECONNRESET" || !socket.writable || answering.has(socket)) {
    socket.destroy();
    return;
  }
  const [status, body] =
    error.code === "HPE_HEADER_OVERFLOW"
      ? ["431 Request Header Fields Too Large", '{"error":"request headers too large"}']
      : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? ["408 Request Timeout", '{"error":"request not received in time"}']
        : ["400 Bad Request", '{"error":"malformed request"}'];
  socket.end(
    `HTTP/1.1 ${status}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n` +
      `connection: close\r\n\r\n${body}`,
  );
  socket.on("error", () => {});
  socket.resume();
  setTimeout(() => socket.destroy(), 2_000).unref();
}

function closeServer(server: Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.closeAllConnections(), graceMs);
    timer.unref();
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}
