/**
 * The purge function's event and environment. The schedule's input carries the policy (or the function has a default
 * policy in `RETENTION_POLICY`), and a Step Functions loop passes back the `continuationToken` of the previous run.
 */
import { z } from "zod";
import { HousekeeperError } from "../errors.ts";
import type { ObjectStoreConfig } from "../object-store/open.ts";
import { parseOrThrow, scheduledEventInput } from "./parse.ts";
import type { RetentionPolicy } from "./retention-policy.ts";
import { parseRetentionPolicy } from "./retention-policy.ts";

export const purgeEventSchema = z
  .object({
    policy: z.unknown().optional(),
    continuationToken: z.string().min(1).optional(),
  })
  .loose();

export interface PurgeFunctionSettings {
  policy: RetentionPolicy;
  continuationToken: string | undefined;
  /** Where run reports go; undefined: not stored (logged only). */
  reports: { store: ObjectStoreConfig; prefix: string } | undefined;
  safetyMarginMs: number;
}

export function purgeFunctionSettings(env: NodeJS.ProcessEnv, event: unknown): PurgeFunctionSettings {
  const input = parseOrThrow(purgeEventSchema, scheduledEventInput(event), "purge event");
  let policyInput = input.policy;
  if (policyInput === undefined) {
    if (!env.RETENTION_POLICY) {
      throw new HousekeeperError(
        "bad-input",
        "no retention policy: pass `policy` in the event or set RETENTION_POLICY",
      );
    }
    try {
      policyInput = JSON.parse(env.RETENTION_POLICY);
    } catch {
      throw new HousekeeperError("bad-input", "RETENTION_POLICY is not valid JSON");
    }
  }
  const bucket = env.REPORT_BUCKET;
  const margin = Number(env.SAFETY_MARGIN_MS ?? "60000");
  return {
    policy: parseRetentionPolicy(policyInput),
    continuationToken: input.continuationToken,
    reports: bucket
      ? {
          store: {
            kind: "s3",
            bucket,
            ...(env.S3_ENDPOINT ? { endpoint: env.S3_ENDPOINT, forcePathStyle: true } : {}),
          },
          prefix: env.REPORT_PREFIX ?? "reports/purge",
        }
      : undefined,
    safetyMarginMs: Number.isFinite(margin) && margin >= 0 ? margin : 60_000,
  };
}
