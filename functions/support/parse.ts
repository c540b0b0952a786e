/** Shared pieces of turning a Lambda's environment and event into validated settings. */
import type { z } from "zod";
import { HousekeeperError } from "../../shared/errors.ts";
import { formatIssues } from "../../shared/util/zod-issues.ts";

/** zod issues as one line an operator can act on: `<where> <path>: <message>; …`. */
export function describeIssues(error: z.ZodError, where: string): string {
  return formatIssues(error, { root: where, pathPrefix: `${where} ` });
}

/** Parses with a schema, or throws HousekeeperError("bad-input") naming every problem. */
export function parseOrThrow<T extends z.ZodType>(schema: T, input: unknown, where: string): z.output<T> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw new HousekeeperError("bad-input", describeIssues(parsed.error, where));
  return parsed.data;
}

/** The scheduled event, unwrapped: EventBridge Scheduler sends the input itself; a legacy rule wraps it in `detail`. */
export function scheduledEventInput(event: unknown): unknown {
  if (event === undefined || event === null || event === "") return {};
  if (typeof event === "object" && (event as Record<string, unknown>)["detail-type"] === "Scheduled Event") {
    return (event as { detail?: unknown }).detail ?? {};
  }
  return event;
}
