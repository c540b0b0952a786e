/**
 * Instance filters as `dapr workflow list` applies them (cli:pkg/workflow/list.go, cmd/workflow/workflow.go;
 * docs/dapr-state-store.md §3.2): exact, case-sensitive name; exact runtime status; max age = keep instances created
 * at or after `now - d` (or after a timestamp).
 *
 * Where we differ from the Dapr CLI, on purpose:
 *  - `--filter-status` accepts STALLED (Dapr lists STALLED instances but its flag check rejects the value) and is
 *    case-insensitive;
 *  - the age accepts only a Go duration or an RFC 3339 timestamp. Dapr falls back to dapr/kit ParseTime, which reads
 *    an ISO-8601 duration such as `P30D` as a time in the *future* (so the filter drops everything); we reject it
 *    with a hint instead of silently returning nothing.
 */
import { HousekeeperError } from "../errors.ts";
import { DURATION_DOORS, DURATION_EXAMPLES, parseDuration, parseRfc3339, TIMESTAMP_EXAMPLE } from "../util/duration.ts";
import type { RuntimeStatus } from "./status-names.ts";
import { RUNTIME_STATUSES } from "./status-names.ts";

export interface ParseAgeOptions {
  /** Reference time for durations (default: now). */
  now?: Date;
  /** The flag being parsed, for the error message (e.g. `--filter-max-age`). */
  flag?: string;
}

/**
 * Reads a max-age / older-than value as Dapr's parseWorkflowDurationTimestamp does: a Go duration `d` means the time
 * `now - d`; otherwise an RFC 3339 timestamp is taken as is. Whole days (`30d`) are accepted too (parseDuration), a
 * superset of the Dapr CLI's syntax. Anything else is a clear bad-input error.
 */
export function parseAgeThreshold(text: string, options: ParseAgeOptions = {}): Date {
  const now = options.now ?? new Date();
  const value = text.trim();
  let durationError: unknown;
  let ms: number | undefined;
  try {
    ms = parseDuration(value, DURATION_DOORS.signed);
  } catch (error) {
    durationError = error;
  }
  if (ms !== undefined) {
    // "older than -1h" would mean "older than an hour from now": every instance. Say so instead of doing it.
    if (ms < 0) {
      const flag = options.flag ? ` for ${options.flag}` : "";
      throw new HousekeeperError("bad-input", `invalid value "${text}"${flag}: an age must not be negative`);
    }
    return new Date(now.getTime() - ms);
  }
  const timestamp = parseRfc3339(value);
  if (timestamp) return timestamp;
  const where = options.flag
    ? `invalid value "${text}" for ${options.flag}`
    : `invalid duration or timestamp "${text}"`;
  let hint = "";
  if (/^[+-]?P/i.test(value)) hint = "; ISO-8601 durations are not accepted: write P30D as 720h";
  else if (/^\d{4}-\d{2}-\d{2}$/.test(value)) hint = `; add a time and zone: ${value}T00:00:00Z`;
  else if (/^\d+(\.\d+)?d$/i.test(value)) hint = `; days must be whole (7d), or write hours (36h)`;
  throw new HousekeeperError(
    "bad-input",
    `${where}: expected a Go duration (e.g. ${DURATION_EXAMPLES}), whole days (30d) or an RFC 3339 timestamp (e.g. ${TIMESTAMP_EXAMPLE})${hint}`,
    { cause: durationError },
  );
}

/** A runtime status from user input, case-insensitive (`-` accepted for `_`); all nine statuses, STALLED included. */
export function parseRuntimeStatus(text: string, flag = "--filter-status"): RuntimeStatus {
  const normalized = text.trim().toUpperCase().replaceAll("-", "_");
  const found = RUNTIME_STATUSES.find((s) => s === normalized);
  if (!found) {
    throw new HousekeeperError(
      "bad-input",
      `invalid value "${text}" for ${flag}: expected one of ${RUNTIME_STATUSES.join(", ")}`,
    );
  }
  return found;
}

/** The instance fields the filters look at (InstanceSummary has them). */
export interface FilterableInstance {
  name: string;
  runtimeStatus: RuntimeStatus;
  createdAt: Date | undefined;
}

export interface InstanceFilterFlags {
  /** Exact, case-sensitive workflow name. */
  name?: string | undefined;
  /** A status name, case-insensitive. */
  status?: string | undefined;
  /** Go duration or RFC 3339 timestamp. */
  maxAge?: string | undefined;
}

export interface InstanceFilter {
  name: string | undefined;
  status: RuntimeStatus | undefined;
  /** Keep instances created at or after this time; instances with no created time (PENDING) are dropped. */
  createdSince: Date | undefined;
  /** True when no criterion is set. */
  readonly isEmpty: boolean;
  matches(instance: FilterableInstance): boolean;
}

/** Parses the three list flags into a filter (errors name the flag). `now` anchors durations. */
export function buildInstanceFilter(flags: InstanceFilterFlags, now: Date = new Date()): InstanceFilter {
  const name = flags.name;
  const status = flags.status === undefined ? undefined : parseRuntimeStatus(flags.status);
  const createdSince =
    flags.maxAge === undefined ? undefined : parseAgeThreshold(flags.maxAge, { now, flag: "--filter-max-age" });
  return instanceFilter({ name, status, createdSince });
}

/** A filter from already-parsed criteria. */
export function instanceFilter(criteria: {
  name?: string | undefined;
  status?: RuntimeStatus | undefined;
  createdSince?: Date | undefined;
}): InstanceFilter {
  const { name, status, createdSince } = criteria;
  const since = createdSince?.getTime();
  return {
    name,
    status,
    createdSince,
    isEmpty: name === undefined && status === undefined && since === undefined,
    matches(instance: FilterableInstance): boolean {
      if (name !== undefined && instance.name !== name) return false;
      if (status !== undefined && instance.runtimeStatus !== status) return false;
      if (since !== undefined) {
        // Dapr compares CreatedAt.Before(threshold); a PENDING instance has the zero time, so it is always dropped.
        if (instance.createdAt === undefined || instance.createdAt.getTime() < since) return false;
      }
      return true;
    },
  };
}
