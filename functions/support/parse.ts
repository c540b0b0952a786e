/** Shared pieces of turning a Lambda's environment and event into validated settings. */
import type { z } from "zod";
import { HousekeeperError } from "../../shared/errors.ts";
import type { ObjectStoreConfig } from "../../shared/object-store/open.ts";
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

/** The S3 settings every function with a bucket reads (AWS_REGION, S3_ENDPOINT, S3_FORCE_PATH_STYLE). */
export interface S3Env {
  AWS_REGION?: string | undefined;
  S3_ENDPOINT?: string | undefined;
  S3_FORCE_PATH_STYLE?: boolean | undefined;
}

/** S3 when a bucket is named, else the filesystem at `root` (the object store's own default when undefined). */
export function objectStoreFromEnv(
  bucket: string | undefined,
  env: S3Env,
  root: string | undefined,
): ObjectStoreConfig {
  if (!bucket) return { kind: "filesystem", ...(root ? { root } : {}) };
  return {
    kind: "s3",
    bucket,
    ...(env.AWS_REGION ? { region: env.AWS_REGION } : {}),
    ...(env.S3_ENDPOINT ? { endpoint: env.S3_ENDPOINT } : {}),
    ...(env.S3_FORCE_PATH_STYLE !== undefined ? { forcePathStyle: env.S3_FORCE_PATH_STYLE } : {}),
  };
}
