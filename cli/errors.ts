/**
 * How the CLI ends: the one map from HousekeeperError codes to exit codes, and the one-line `Error: …` message.
 * Like the Dapr CLI (cobra), every failure exits 1 today; scripts test zero/non-zero. Keep the table so a code can
 * get its own exit status later without touching the commands.
 */
import { CommanderError } from "commander";
import type { ErrorCode } from "../shared/errors.ts";
import { HousekeeperError } from "../shared/errors.ts";

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;

export const EXIT_CODES: Record<ErrorCode, number> = {
  "bad-input": EXIT_FAILURE,
  "bad-connection-string": EXIT_FAILURE,
  "missing-dependency": EXIT_FAILURE,
  "not-found": EXIT_FAILURE,
  "already-exists": EXIT_FAILURE,
  "not-terminal": EXIT_FAILURE,
  unauthorized: EXIT_FAILURE,
  unavailable: EXIT_FAILURE,
  "corrupt-data": EXIT_FAILURE,
  "store-error": EXIT_FAILURE,
};

export function exitCodeFor(error: unknown): number {
  if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT_OK : EXIT_FAILURE;
  if (error instanceof HousekeeperError) return EXIT_CODES[error.code] ?? EXIT_FAILURE;
  return EXIT_FAILURE;
}

/** One line: `Error: <message>` with line breaks folded, commander's own `error: ` prefix removed. */
export function errorLine(error: unknown): string {
  let message = error instanceof Error ? error.message : String(error);
  if (error instanceof Error && !(error instanceof HousekeeperError) && !(error instanceof CommanderError)) {
    // Driver errors (ECONNREFUSED, DNS, TLS) carry a terse message; name the code when there is one.
    const code = (error as { code?: unknown }).code;
    if (message === "" && typeof code === "string") message = code;
    if (error instanceof AggregateError && message === "") {
      message = error.errors.map((e: unknown) => (e instanceof Error ? e.message : String(e))).join("; ");
    }
  }
  message = message
    .replace(/^error:\s*/i, "")
    .replace(/\s*\r?\n\s*/g, " ")
    .trim();
  return `Error: ${message || "unknown error"}`;
}

export function debugEnabled(): boolean {
  return process.env.HOUSEKEEPER_DEBUG === "1";
}
