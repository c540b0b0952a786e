/**
 * Text formats the Dapr CLI gets from Go, reproduced so our output reads the same:
 *  - k8s.io/apimachinery/pkg/util/duration HumanDuration (the AGE column of `dapr workflow list`);
 *  - dapr/cli utils.HumanizeDuration (ELAPSED and execDuration of `dapr workflow history`);
 *  - Go `%.Nf` rounding, RFC 3339 time strings, encoding/json string escaping and MarshalIndent layout.
 */

/**
 * k8s HumanDuration: ~2-3 significant figures (`45s`, `3m20s`, `12m`, `3h5m`, `20h`, `2d3h`, `400d`, `2y10d`, `9y`).
 * `ms` is the duration in milliseconds; integer divisions truncate like Go's.
 */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 60 * 2) return `${seconds}s`;
  const minutes = Math.trunc(ms / 60_000);
  if (minutes < 10) {
    const s = Math.trunc(ms / 1000) % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 60 * 3) return `${minutes}m`;
  const hours = Math.trunc(ms / 3_600_000);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.trunc(hours / 24)}d` : `${Math.trunc(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const dy = Math.trunc(hours / 24) % 365;
    const years = Math.trunc(hours / 24 / 365);
    return dy === 0 ? `${years}y` : `${years}y${dy}d`;
  }
  return `${Math.trunc(hours / 24 / 365)}y`;
}

/**
 * dapr/cli utils.HumanizeDuration: "" for zero; otherwise the absolute value as ns, µs/ms (1 decimal), s (2 decimals),
 * m or h (1 decimal). `ns` is the duration in nanoseconds (a bigint keeps durations past ~104 days exact).
 * Seconds/minutes/hours are Go's time.Duration methods: whole units plus the remainder as a fraction, which rounds
 * differently from one division at some ties (Go src/time/time.go `Seconds()`).
 */
export function humanizeDuration(ns: bigint | number): string {
  let d = typeof ns === "bigint" ? ns : BigInt(Math.trunc(ns));
  if (d === 0n) return "";
  if (d < 0n) d = -d;
  if (d < 1_000n) return `${d}ns`;
  if (d < 1_000_000n) return `${goFixed(Number(d) / 1e3, 1)}\u00b5s`;
  if (d < SECOND) return `${goFixed(Number(d) / 1e6, 1)}ms`;
  if (d < 60n * SECOND) return `${goFixed(durationIn(d, SECOND), 2)}s`;
  if (d < 3600n * SECOND) return `${goFixed(durationIn(d, 60n * SECOND), 1)}m`;
  return `${goFixed(durationIn(d, 3600n * SECOND), 1)}h`;
}

const SECOND = 1_000_000_000n;

/** Go's `float64(d / unit) + float64(d % unit) / float64(unit)`. */
function durationIn(d: bigint, unit: bigint): number {
  return Number(d / unit) + Number(d % unit) / Number(unit);
}

/**
 * Go's `fmt.Sprintf("%.Nf", x)`: correctly rounded decimal of the exact binary value, exact ties to even.
 * (JS toFixed rounds exact ties away from zero: 1.125.toFixed(2) is "1.13" where Go prints "1.12".)
 */
export function goFixed(x: number, digits: number): string {
  const fixed = x.toFixed(digits);
  if (!Number.isFinite(x) || Math.abs(x) >= 1e21) return fixed;
  const exact = Math.abs(x).toFixed(100); // the exact binary value, for |x| large enough that 100 digits cover it
  const dot = exact.indexOf(".");
  const rest = exact.slice(dot + 1 + digits);
  if (!/^50*$/.test(rest)) return fixed; // not an exact tie: toFixed is already correctly rounded
  const kept = exact.slice(0, dot + 1 + digits).replace(/\.$/, "");
  const lastDigit = Number(kept.replace(".", "").at(-1));
  if (lastDigit % 2 === 0) return (x < 0 ? "-" : "") + kept; // round down to the even digit
  return fixed; // the larger neighbour is the even one: toFixed already picked it
}

export const GO_ZERO_TIME = "0001-01-01T00:00:00Z";

/** RFC 3339 in UTC truncated to whole seconds (Go `t.Truncate(time.Second)` marshalled); the Go zero time if unknown. */
export function rfc3339Seconds(date: Date | undefined): string {
  if (date === undefined) return GO_ZERO_TIME;
  return rfc3339FromSeconds(Math.floor(date.getTime() / 1000));
}

export function rfc3339FromSeconds(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

const HTML_UNSAFE = /[<>&\u2028\u2029]/;

/** Go encoding/json string: like JSON.stringify plus Go's HTML-safe escapes of <, >, & and U+2028/U+2029. */
export function goJsonString(s: string): string {
  const json = JSON.stringify(s);
  if (!HTML_UNSAFE.test(json)) return json;
  return json.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/**
 * Go json.MarshalIndent(v, "", "  ") for plain data (objects in key order, arrays, strings, finite numbers, booleans,
 * null). `level` indents a value nested that many levels deep (for streaming array elements); undefined keys are
 * skipped (our stand-in for `omitempty`).
 */
export function goJsonIndent(value: unknown, level = 0): string {
  const pad = "  ".repeat(level);
  if (value === null || value === undefined) return "null";
  if (typeof value === "string") return goJsonString(value);
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : "null";
  if (typeof value === "boolean") return value ? "true" : "false";
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    const items = value.map((v) => `${pad}  ${goJsonIndent(v, level + 1)}`);
    return `[\n${items.join(",\n")}\n${pad}]`;
  }
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  if (entries.length === 0) return "{}";
  const fields = entries.map(([k, v]) => `${pad}  ${goJsonString(k)}: ${goJsonIndent(v, level + 1)}`);
  return `{\n${fields.join(",\n")}\n${pad}}`;
}
