/** Durations in policy files: Go durations (`720h`, `90m`) as the Dapr CLI takes them, plus whole days (`30d`). */
import { z } from "zod";
import { HousekeeperError } from "../errors.ts";
import { parseDuration } from "../workflow/instance-filter.ts";

export function parsePolicyDuration(text: string): number {
  try {
    return parseDuration(text.trim());
  } catch {
    throw new HousekeeperError("bad-input", `invalid duration "${text}": use days like 30d or a Go duration like 720h`);
  }
}

/** A zod type for such durations, giving milliseconds; the error names the value. */
export const policyDuration = z.string().transform((text, ctx) => {
  try {
    const ms = parsePolicyDuration(text);
    if (ms < 0) throw new HousekeeperError("bad-input", `duration "${text}" is negative`);
    return ms;
  } catch (error) {
    ctx.addIssue({ code: "custom", message: error instanceof Error ? error.message : String(error) });
    return z.NEVER;
  }
});
