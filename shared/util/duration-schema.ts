/**
 * The duration parser as a zod schema, for settings files and policies. Apart from duration.ts so that the CLI's start
 * path (flags that parse timeouts) does not load zod.
 */
import { z } from "zod";
import { type DurationRules, parseDuration } from "./duration.ts";

/** A zod string giving the milliseconds of parseDuration; its error is parseDuration's line. */
export function durationSchema(rules: DurationRules) {
  return z.string().transform((text, ctx) => {
    try {
      return parseDuration(text, rules);
    } catch (error) {
      ctx.addIssue({ code: "custom", message: error instanceof Error ? error.message : String(error) });
      return z.NEVER;
    }
  });
}
