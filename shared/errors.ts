/**
 * One error hierarchy for the whole tool. Doors (CLI, Lambda handlers) map `code` to exit codes and HTTP statuses,
 * so the code is stable and the message names the problem in words an operator can act on.
 */
export type ErrorCode =
  | "bad-input"
  | "bad-connection-string"
  | "missing-dependency"
  | "not-found"
  | "already-exists"
  | "not-terminal"
  | "unauthorized"
  | "unavailable"
  | "corrupt-data"
  | "store-error";

export class HousekeeperError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "HousekeeperError";
    this.code = code;
  }
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/** grpc-js ends some messages with "Resolution note: " and nothing after it; drops that fragment. */
export function withoutEmptyGrpcNote(message: string): string {
  return message.replace(/\.?\s*Resolution note:\s*$/, "").trim();
}
