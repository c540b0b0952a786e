/**
 * Instance filters as `dapr workflow list` applies them (cli:pkg/workflow/list.go, cmd/workflow/workflow.go;
 * docs/dapr-state-store.md §3.2): exact, case-sensitive name; exact runtime status; max age = keep instances created
 * at or after `now - d` (or after a timestamp). Also the Go duration parser other jobs reuse (purge, stuck report).
 *
 * Where we differ from the Dapr CLI, on purpose:
 *  - `--filter-status` accepts STALLED (Dapr lists STALLED instances but its flag check rejects the value) and is
 *    case-insensitive;
 *  - the age accepts only a Go duration or an RFC 3339 timestamp. Dapr falls back to dapr/kit ParseTime, which reads
 *    an ISO-8601 duration such as `P30D` as a time in the *future* (so the filter drops everything); we reject it
 *    with a hint instead of silently returning nothing.
 */
import { HousekeeperError } from "../errors.ts";
import type { RuntimeStatus } from "./status-names.ts";
import { RUNTIME_STATUSES } from "./status-names.ts";

const NS_PER_MS = 1e6;
/** Nanoseconds per Go duration unit (time.unitMap). */
const UNIT_NS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  "\u00b5s": 1e3, // U+00B5 micro sign
  "\u03bcs": 1e3, // U+03BC Greek mu
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};
const MAX_DURATION_NS = 2 ** 63 - 1;

export const DURATION_EXAMPLES = "45s, 90m, 1h30m, 24h, 720h";
export const TIMESTAMP_EXAMPLE = "2024-01-02T15:04:05Z";

/**
 * Parses a Go `time.ParseDuration` string (`[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+`, units ns us µs ms s m h; a bare `0`
 * is allowed) and returns milliseconds (fractional for sub-millisecond parts). Throws HousekeeperError("bad-input").
 */
export function parseGoDuration(text: string): number {
  const fail = (why: string): never => {
    throw new HousekeeperError("bad-input", `invalid duration "${text}": ${why} (examples: ${DURATION_EXAMPLES})`);
  };
  let s = text;
  let negative = false;
  if (s.startsWith("-") || s.startsWith("+")) {
    negative = s[0] === "-";
    s = s.slice(1);
  }
  if (s === "0") return 0;
  if (s === "") fail("empty duration");
  let totalNs = 0;
  while (s !== "") {
    const match = /^([0-9]*)(?:\.([0-9]*))?/.exec(s)!;
    const intPart = match[1] ?? "";
    const fracPart = match[2];
    if (intPart === "" && (fracPart === undefined || fracPart === "")) fail("expected a number");
    s = s.slice(match[0].length);
    const unitMatch = /^[^0-9.]+/.exec(s);
    if (!unitMatch) fail("missing unit (use ns, us, ms, s, m or h)");
    const unit = unitMatch![0];
    const unitNs = UNIT_NS[unit];
    if (unitNs === undefined) fail(`unknown unit "${unit}" (use ns, us, ms, s, m or h)`);
    s = s.slice(unit.length);
    const value = Number(intPart || "0") + (fracPart ? Number(`0.${fracPart}`) : 0);
    totalNs += value * unitNs!;
    if (totalNs > MAX_DURATION_NS) fail("out of range");
  }
  const ms = totalNs / NS_PER_MS;
  return negative ? -ms : ms;
}

const WHOLE_DAYS = /^(\d+)d$/;

/**
 * A duration as this tool's flags and policies take it: a Go duration, or a whole number of days (`30d` = 720h), which
 * Go's syntax lacks and operators reach for first. The one duration parser of the CLI and the policy files.
 */
export function parseDuration(text: string): number {
  const days = WHOLE_DAYS.exec(text);
  return days ? Number(days[1]) * 86_400_000 : parseGoDuration(text);
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** Parses an RFC 3339 timestamp with a zone (Go's time.RFC3339 layout, fractional seconds allowed); else undefined. */
export function parseRfc3339(text: string): Date | undefined {
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59) {
    return undefined;
  }
  const zone = m[8]!;
  let offsetMinutes = 0;
  if (zone !== "Z" && zone !== "z") {
    const sign = zone.startsWith("-") ? -1 : 1;
    const oh = Number(zone.slice(1, 3));
    const om = Number(zone.slice(4, 6));
    if (oh > 23 || om > 59) return undefined;
    offsetMinutes = sign * (oh * 60 + om);
  }
  const fraction = m[7] ? Number(`0${m[7]}`) : 0;
  const utc = new Date(0);
  utc.setUTCFullYear(year, month - 1, day); // setUTCFullYear keeps years 0-99 as given (Date.UTC would map to 19xx)
  utc.setUTCHours(hour, minute, second, Math.floor(fraction * 1000));
  return new Date(utc.getTime() - offsetMinutes * 60_000);
}

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
    ms = parseDuration(value);
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
