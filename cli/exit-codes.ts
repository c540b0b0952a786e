/**
 * The CLI's exit codes, decided here and nowhere else:
 *
 *   0  ok
 *   1  failure: the store, the Scheduler or the sidecar failed or refused an operation, data was corrupt, an
 *      instance was not found or not terminal
 *   2  usage error or refused input: an unknown command or flag, a missing or invalid argument (commander), a flag
 *      value or file refused by validation (HousekeeperError "bad-input" / "bad-connection-string": zod schemas,
 *      durations, connection strings), a destructive command refused on the sample store
 *   3  the command worked and found what it was asked to fail on: stuck instances with `report stuck --fail-on-stuck`
 *
 * The Dapr CLI (cobra) exits 1 for every failure; 2 and 3 follow the usual Unix split (grep, diff, curl) so a script
 * can tell "you called me wrong" and "I found something" from "something broke".
 */
import { CommanderError } from "commander";
import type { ErrorCode } from "../shared/errors.ts";
import { HousekeeperError } from "../shared/errors.ts";

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export const EXIT_STUCK_FOUND = 3;

export const EXIT_CODES: Record<ErrorCode, number> = {
  "bad-input": EXIT_USAGE,
  "bad-connection-string": EXIT_USAGE,
  "missing-dependency": EXIT_FAILURE,
  "not-found": EXIT_FAILURE,
  "already-exists": EXIT_FAILURE,
  "not-terminal": EXIT_FAILURE,
  unauthorized: EXIT_FAILURE,
  unavailable: EXIT_FAILURE,
  "corrupt-data": EXIT_FAILURE,
  "store-error": EXIT_FAILURE,
};

const OWN_STATUS_PREFIX = "housekeeper.";

/**
 * Ends a command that has already said everything (on stdout/stderr) with a given exit status and no `Error:` line.
 * A CommanderError, because that is what the entry point treats as "already reported" (cli/main.ts).
 */
export class ExitStatus extends CommanderError {
  constructor(exitCode: number, reason: string) {
    super(exitCode, `${OWN_STATUS_PREFIX}${reason}`, "");
    this.name = "ExitStatus";
  }
}

/** `report stuck --fail-on-stuck` found stuck instances. */
export function stuckFound(): ExitStatus {
  return new ExitStatus(EXIT_STUCK_FOUND, "stuckFound");
}

export function exitCodeFor(error: unknown): number {
  if (error instanceof CommanderError) {
    if (error.code.startsWith(OWN_STATUS_PREFIX)) return error.exitCode;
    // exitCode 0: --help or --version was shown. Anything else commander raises is a usage error (unknown command
    // or option, missing or invalid argument, a command group called without its subcommand).
    return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
  }
  if (error instanceof HousekeeperError) return EXIT_CODES[error.code] ?? EXIT_FAILURE;
  return EXIT_FAILURE;
}
