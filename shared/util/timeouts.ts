/**
 * The timeouts of every outgoing network call (state stores, the Scheduler's etcd, S3), in one place, so that a peer
 * that accepts TCP and never answers ends the command or the invocation with a named failure instead of a hang.
 *
 *   connect  establishing a connection (TCP, TLS, the driver's handshake): default 10 s
 *   request  one statement, command or call once connected: default 60 s
 *
 * Both are Go durations (`5s`, `2m`) in HOUSEKEEPER_CONNECT_TIMEOUT / HOUSEKEEPER_REQUEST_TIMEOUT (the Lambda
 * functions' settings, and the CLI's `--connect-timeout` / `--request-timeout`, which set them). A timeout given in a
 * connection string itself (`connect_timeout=`, `connectTimeoutMS=`, `Connection Timeout=`) wins for that store.
 * Here, below shared/config, because every adapter reads them (adapters may not import config).
 */
import { DURATION_DOORS, parseDuration } from "./duration.ts";

export interface NetworkTimeouts {
  connectMs: number;
  requestMs: number;
}

export const DEFAULT_TIMEOUTS: Readonly<NetworkTimeouts> = { connectMs: 10_000, requestMs: 60_000 };

export const CONNECT_TIMEOUT_ENV = "HOUSEKEEPER_CONNECT_TIMEOUT";
export const REQUEST_TIMEOUT_ENV = "HOUSEKEEPER_REQUEST_TIMEOUT";

/** A positive Go duration in milliseconds (at least 1 ms; no days); `what` names the flag or variable in the error. */
export function parseTimeout(text: string, what: string): number {
  return Math.round(parseDuration(text, { ...DURATION_DOORS.timeout, what }));
}

/** Only the timeouts set in the environment (for clients with defaults of their own, such as the sidecar's). */
export function configuredTimeouts(env: NodeJS.ProcessEnv = process.env): Partial<NetworkTimeouts> {
  const out: Partial<NetworkTimeouts> = {};
  const connect = env[CONNECT_TIMEOUT_ENV]?.trim();
  const request = env[REQUEST_TIMEOUT_ENV]?.trim();
  if (connect) out.connectMs = parseTimeout(connect, CONNECT_TIMEOUT_ENV);
  if (request) out.requestMs = parseTimeout(request, REQUEST_TIMEOUT_ENV);
  return out;
}

/** The timeouts to use: the environment's, else the defaults. */
export function networkTimeouts(env: NodeJS.ProcessEnv = process.env): NetworkTimeouts {
  return { ...DEFAULT_TIMEOUTS, ...configuredTimeouts(env) };
}

/**
 * The sidecar clients' options for the timeouts set in the environment. The clients (a public API) keep their own
 * defaults otherwise: HTTP connect 2 s and 15 s for an answer, gRPC 30 s per call.
 */
export function sidecarTimeoutOptions(env: NodeJS.ProcessEnv = process.env): {
  http: { connectTimeoutMs?: number; requestTimeoutMs?: number };
  grpc: { deadlineMs?: number };
} {
  const { connectMs, requestMs } = configuredTimeouts(env);
  return {
    http: {
      ...(connectMs !== undefined ? { connectTimeoutMs: connectMs } : {}),
      ...(requestMs !== undefined ? { requestTimeoutMs: requestMs } : {}),
    },
    grpc: requestMs !== undefined ? { deadlineMs: requestMs } : {},
  };
}

/** AWS SDK client `requestHandler` options for these timeouts (the SDK's defaults wait for ever). */
export function awsRequestHandler(timeouts: NetworkTimeouts = networkTimeouts()): {
  connectionTimeout: number;
  requestTimeout: number;
  throwOnRequestTimeout: true;
  socketTimeout: number;
} {
  return {
    connectionTimeout: timeouts.connectMs,
    requestTimeout: timeouts.requestMs,
    throwOnRequestTimeout: true,
    socketTimeout: timeouts.requestMs,
  };
}
