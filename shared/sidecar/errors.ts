/**
 * Typed sidecar errors. Dapr answers workflow calls with `{errorCode, message}` and an HTTP status (dapr:
 * pkg/messages/predefined.go, pkg/api/http/responses.go `respondWithError`), or with a gRPC status on the durabletask
 * `TaskHubSidecarService`. Callers act on `kind`; `errorCode`, `status` and `grpcCode` keep Dapr's own words.
 *
 * Where the kind comes from (dapr master, pkg/api/universal/workflow.go + durabletask-go backend):
 *  - 404 ERR_INSTANCE_ID_NOT_FOUND (GET, terminate, purge of a missing instance)                    → not-found
 *  - 500 ERR_RAISE_EVENT_WORKFLOW / ERR_PAUSE_WORKFLOW / ERR_RESUME_WORKFLOW "…no such instance exists" → not-found
 *  - 500 ERR_START_WORKFLOW "…an active workflow with ID '…' already exists"                          → already-exists
 *  - 500 ERR_PURGE_WORKFLOW "…orchestration has not yet completed"                                    → not-terminal
 *  - purge answered "…workflow is stalled" (HTTP 500 ERR_PURGE_WORKFLOW, gRPC UNKNOWN)                  → not-terminal
 *  - 400 (ERR_INSTANCE_ID_INVALID, ERR_INSTANCE_ID_TOO_LONG, ERR_WORKFLOW_NAME_MISSING, …)              → bad-request
 *  - 401 `invalid api token` (plain text, no JSON: pkg/api/http/middlewares.go), 403                   → unauthorized
 *  - 503, 429, 502, 504, connection refused/reset, timeouts                                            → unavailable
 *  - any other 5xx                                                                                     → internal
 */
import type { ErrorCode } from "../errors.ts";
import { HousekeeperError } from "../errors.ts";

export type SidecarErrorKind =
  | "not-found"
  | "already-exists"
  | "not-terminal"
  | "bad-request"
  | "unauthorized"
  | "unavailable"
  | "internal";

export type SidecarOperation =
  | "start"
  | "get"
  | "raise-event"
  | "terminate"
  | "suspend"
  | "resume"
  | "purge"
  | "rerun"
  | "list-instance-ids"
  | "get-history";

export interface SidecarErrorDetails {
  operation: SidecarOperation;
  /** Dapr's `errorCode` (e.g. ERR_INSTANCE_ID_NOT_FOUND), the gRPC status name (e.g. NOT_FOUND), or our own code. */
  errorCode?: string | undefined;
  /** HTTP status of the sidecar's answer; undefined when there was no HTTP answer. */
  status?: number | undefined;
  /** gRPC status code of the sidecar's answer; undefined for HTTP. */
  grpcCode?: number | undefined;
  /** The server asked to wait this long before trying again (Retry-After), in milliseconds. */
  retryAfterMs?: number | undefined;
  cause?: unknown;
}

/** HousekeeperError codes the doors understand. `internal` has no own code: a failing sidecar is a store problem. */
const CODE_BY_KIND: Record<SidecarErrorKind, ErrorCode> = {
  "not-found": "not-found",
  "already-exists": "already-exists",
  "not-terminal": "not-terminal",
  "bad-request": "bad-input",
  unauthorized: "unauthorized",
  unavailable: "unavailable",
  internal: "store-error",
};

export class SidecarError extends HousekeeperError {
  readonly kind: SidecarErrorKind;
  readonly operation: SidecarOperation;
  readonly errorCode: string | undefined;
  readonly status: number | undefined;
  readonly grpcCode: number | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(kind: SidecarErrorKind, message: string, details: SidecarErrorDetails) {
    super(CODE_BY_KIND[kind], message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = "SidecarError";
    this.kind = kind;
    this.operation = details.operation;
    this.errorCode = details.errorCode;
    this.status = details.status;
    this.grpcCode = details.grpcCode;
    this.retryAfterMs = details.retryAfterMs;
  }
}

export function isSidecarError(error: unknown, kind?: SidecarErrorKind): error is SidecarError {
  return error instanceof SidecarError && (kind === undefined || error.kind === kind);
}

/** Dapr's messages that reveal the kind behind a generic ERR_*_WORKFLOW 500 (durabletask-go api/errors.go et al.). */
const NOT_FOUND_TEXT = /no such instance exists|workflow instance does not exist|not found/i;
const ALREADY_EXISTS_TEXT = /already exists|has already been created/i;
const NOT_TERMINAL_TEXT = /has not yet completed|is not in a terminal state/i;
/**
 * durabletask-go api/errors.go `ErrStalled`: Dapr refuses to purge a stalled workflow (dapr
 * pkg/actors/targets/workflow/orchestrator/state.go purgeWorkflowState, recursivepurge.go). For a purge that is the
 * same answer as "not completed": the instance is not finished, so it is skipped, not failed.
 */
const STALLED_TEXT = /workflow is stalled/i;

/** Classifies an HTTP answer of the sidecar (status + parsed `{errorCode, message}` body, if any). */
export function httpErrorKind(status: number, errorCode: string | undefined, message: string): SidecarErrorKind {
  if (status === 404 || errorCode === "ERR_INSTANCE_ID_NOT_FOUND") return "not-found";
  if (status === 401 || status === 403) return "unauthorized";
  if (status === 503 || status === 429 || status === 502 || status === 504) return "unavailable";
  if (status >= 400 && status < 500) return "bad-request";
  switch (errorCode) {
    case "ERR_START_WORKFLOW":
      if (ALREADY_EXISTS_TEXT.test(message)) return "already-exists";
      break;
    case "ERR_PURGE_WORKFLOW":
      if (NOT_TERMINAL_TEXT.test(message) || STALLED_TEXT.test(message)) return "not-terminal";
      if (NOT_FOUND_TEXT.test(message)) return "not-found";
      break;
    case "ERR_RAISE_EVENT_WORKFLOW":
    case "ERR_PAUSE_WORKFLOW":
    case "ERR_RESUME_WORKFLOW":
    case "ERR_TERMINATE_WORKFLOW":
      if (/no such instance exists/i.test(message)) return "not-found";
      break;
    default:
      break;
  }
  return "internal";
}

/** gRPC status codes (grpc/codes), by number. */
export const GRPC_CODE_NAMES: Record<number, string> = {
  0: "OK",
  1: "CANCELLED",
  2: "UNKNOWN",
  3: "INVALID_ARGUMENT",
  4: "DEADLINE_EXCEEDED",
  5: "NOT_FOUND",
  6: "ALREADY_EXISTS",
  7: "PERMISSION_DENIED",
  8: "RESOURCE_EXHAUSTED",
  9: "FAILED_PRECONDITION",
  10: "ABORTED",
  11: "OUT_OF_RANGE",
  12: "UNIMPLEMENTED",
  13: "INTERNAL",
  14: "UNAVAILABLE",
  15: "DATA_LOSS",
  16: "UNAUTHENTICATED",
};

/**
 * Classifies a gRPC status of the durabletask service. Dapr returns plain Go errors for many failures, which gRPC
 * turns into UNKNOWN with the error text, so the text decides for UNKNOWN/INVALID_ARGUMENT
 * (e.g. rerun's `'<id>' is not in a terminal state` is INVALID_ARGUMENT).
 */
export function grpcErrorKind(code: number, message: string, operation?: SidecarOperation): SidecarErrorKind {
  if (operation === "purge" && (code === 2 || code === 13) && STALLED_TEXT.test(message)) return "not-terminal";
  switch (code) {
    case 5:
      return "not-found";
    case 6:
      return "already-exists";
    case 7:
    case 16:
      return "unauthorized";
    case 1:
    case 4:
    case 8:
    case 14:
      return "unavailable";
    case 9:
      return "not-terminal";
    case 3:
    case 11:
    case 12:
      return NOT_TERMINAL_TEXT.test(message) ? "not-terminal" : "bad-request";
    default:
      if (NOT_TERMINAL_TEXT.test(message)) return "not-terminal";
      if (/no such instance exists|workflow instance does not exist/i.test(message)) return "not-found";
      if (ALREADY_EXISTS_TEXT.test(message)) return "already-exists";
      return "internal";
  }
}
