/**
 * Go's time syntax in one place: durations as Go's time.ParseDuration reads them (go/src/time/format.go), the whole
 * days (`30d`) operators reach for first, and RFC 3339 timestamps (time.RFC3339). Every flag, setting and policy value
 * that is a duration goes through parseDuration, each door stating what it takes:
 *
 *   DURATION_DOORS  days  smallest   taken by
 *   age             yes   0          ages, thresholds, retentions, policy values ("older than -1h" would select all)
 *   signed          yes   any sign   --start-time (an offset from now); --all-older-than / --filter-max-age, whose
 *                                    parseAgeThreshold refuses a negative age in its own words
 *   timeout         yes   1ms        network timeouts, at most 2^31-1 ms (596h31m23s): Node's longest timer
 */
import { HousekeeperError } from "../errors.ts";

const NS_PER_MS = 1e6;
const MS_PER_DAY = 86_400_000;
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
const WHOLE_DAYS = /^(\d+)d$/;

export const DURATION_EXAMPLES = "45s, 90m, 1h30m, 24h, 720h";
export const TIMESTAMP_EXAMPLE = "2024-01-02T15:04:05Z";

/** Milliseconds of a Go duration, or why the text is not one. */
function goDuration(text: string): number | { why: string } {
  let s = text;
  let negative = false;
  if (s.startsWith("-") || s.startsWith("+")) {
    negative = s[0] === "-";
    s = s.slice(1);
  }
  if (s === "0") return 0;
  if (s === "") return { why: "empty duration" };
  let totalNs = 0;
  while (s !== "") {
    const match = /^([0-9]*)(?:\.([0-9]*))?/.exec(s)!;
    const intPart = match[1] ?? "";
    const fracPart = match[2];
    if (intPart === "" && (fracPart === undefined || fracPart === "")) return { why: "expected a number" };
    s = s.slice(match[0].length);
    const unit = /^[^0-9.]+/.exec(s)?.[0];
    if (unit === undefined) return { why: "missing unit (use ns, us, ms, s, m or h)" };
    const unitNs = UNIT_NS[unit];
    if (unitNs === undefined) return { why: `unknown unit "${unit}" (use ns, us, ms, s, m or h)` };
    s = s.slice(unit.length);
    const value = Number(intPart || "0") + (fracPart ? Number(`0.${fracPart}`) : 0);
    totalNs += value * unitNs;
    if (totalNs > MAX_DURATION_NS) return { why: "out of range" };
  }
  const ms = totalNs / NS_PER_MS;
  return negative ? -ms : ms;
}

/**
 * Parses a Go `time.ParseDuration` string (`[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+`, units ns us µs ms s m h; a bare `0`
 * is allowed) exactly, and returns milliseconds (fractional for sub-millisecond parts). Throws HousekeeperError.
 */
export function parseGoDuration(text: string): number {
  const ms = goDuration(text);
  if (typeof ms === "number") return ms;
  throw new HousekeeperError("bad-input", `invalid duration "${text}": ${ms.why} (examples: ${DURATION_EXAMPLES})`);
}

/** What one door takes (see the table at the top). */
export interface DurationRules {
  /** Whole days (`30d` = 720h) besides Go's units. */
  days: boolean;
  /** The smallest value accepted, in milliseconds; without it any sign is taken. */
  min?: number;
  /** The largest value accepted, in milliseconds, with how to say it in the error. */
  max?: { ms: number; why: string };
  /** Names the value in the error: a flag, an environment variable, a field (default `duration`). */
  what?: string;
}

/** The rules of the doors (see the table at the top), named so that each door says which it takes. */
export const DURATION_DOORS = {
  age: { days: true, min: 0 },
  signed: { days: true },
  // Node's timers (and PostgreSQL's statement_timeout) hold at most 2^31-1 ms; a longer one fires at once.
  timeout: { days: true, min: 1, max: { ms: 2_147_483_647, why: "596h31m23s, the longest timer Node.js can set" } },
} as const satisfies Record<string, DurationRules>;

/**
 * A duration as one door takes it, in milliseconds: surrounding blanks ignored, then a Go duration or (when the door
 * takes them) whole days. The error is one line: `invalid <what> "<text>": <why>`, with the forms the door takes.
 */
export function parseDuration(text: string, rules: DurationRules): number {
  const value = text.trim();
  const days = rules.days ? WHOLE_DAYS.exec(value) : null;
  const ms = days ? Number(days[1]) * MS_PER_DAY : goDuration(value);
  const fail = (why: string): never => {
    throw new HousekeeperError("bad-input", `invalid ${rules.what ?? "duration"} "${text}": ${why}`);
  };
  if (typeof ms !== "number") {
    const forms =
      rules.max !== undefined
        ? "a Go duration like 10s, 1m30s or 500ms, or whole days like 1d"
        : rules.days
          ? "a Go duration like 90m, 1h30m or 720h, or whole days like 30d"
          : "a Go duration like 10s, 1m30s or 500ms";
    return fail(`${ms.why}; use ${forms}`);
  }
  if (rules.min !== undefined && ms < rules.min) {
    return fail(rules.min === 0 ? "must not be negative" : `must be at least ${rules.min}ms`);
  }
  if (rules.max !== undefined && ms > rules.max.ms) return fail(`must be at most ${rules.max.why}`);
  return ms;
}

/**
 * `KEY=duration,…` (keys case-insensitive, `-` read as `_`; `ANY` stands for every allowed key not named) → ms per key,
 * each duration a never-negative one with whole days (`--threshold RUNNING=24h,ANY=7d`, the stuck report's lists).
 */
export function parseStatusDurations<S extends string>(
  text: string,
  allowed: readonly S[],
  what: string,
): Partial<Record<S, number>> {
  const out: Partial<Record<S, number>> = {};
  let any: number | undefined;
  for (const part of text.split(",")) {
    if (part.trim() === "") continue;
    const eq = part.indexOf("=");
    if (eq < 0) throw new HousekeeperError("bad-input", `invalid ${what} "${part.trim()}": expected STATUS=duration`);
    const status = part.slice(0, eq).trim().toUpperCase().replaceAll("-", "_");
    const ms = parseDuration(part.slice(eq + 1), { ...DURATION_DOORS.age, what: `${what} for ${status}` });
    if (status === "ANY") {
      any = ms;
      continue;
    }
    if (!(allowed as readonly string[]).includes(status)) {
      throw new HousekeeperError(
        "bad-input",
        `invalid ${what}: "${status}" is not one of ${allowed.join(", ")} (or ANY)`,
      );
    }
    out[status as S] = ms;
  }
  if (any !== undefined) for (const s of allowed) out[s] ??= any;
  return out;
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
