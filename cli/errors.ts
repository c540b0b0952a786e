/**
 * How the CLI ends: the one-line `Error: …` message; the exit codes are decided in cli/exit-codes.ts (re-exported
 * here for the entry point).
 */
import { CommanderError } from "commander";
import { HousekeeperError } from "../shared/errors.ts";

export { EXIT_CODES, EXIT_FAILURE, EXIT_OK, EXIT_STUCK_FOUND, EXIT_USAGE, exitCodeFor } from "./exit-codes.ts";

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
