/**
 * The stuck report's duration settings, shared by the stuck-report function (functions/stuck-report/settings.ts) and
 * `housekeeper report stuck`: thresholds (Go durations or days) and `STATUS=duration,…` lists.
 */
import { HousekeeperError } from "../errors.ts";
import { parseDuration } from "../workflow/instance-filter.ts";
import type { RuntimeStatus } from "../workflow/runtime-status.ts";
import { TERMINAL_STATUSES } from "../workflow/runtime-status.ts";

/** Milliseconds of a Go duration (`720h`, `90m`) or a whole number of days (`30d`); never negative. */
export function parseThreshold(text: string, what = "duration"): number {
  let ms: number;
  try {
    ms = parseDuration(text.trim());
  } catch (error) {
    throw new HousekeeperError("bad-input", `invalid ${what} "${text}": use a Go duration (24h, 90m) or days (7d)`, {
      cause: error,
    });
  }
  if (ms < 0) throw new HousekeeperError("bad-input", `invalid ${what} "${text}": must not be negative`);
  return ms;
}

/**
 * `STATUS=duration,…` (case-insensitive statuses; `ANY` stands for every allowed status not named) → ms per status.
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
    const ms = parseThreshold(part.slice(eq + 1), `${what} for ${status}`);
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

export const TERMINAL_STATUS_LIST = [...TERMINAL_STATUSES] as RuntimeStatus[];
