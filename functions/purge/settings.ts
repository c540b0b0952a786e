/**
 * The purge function's event and environment. The schedule's input carries the policy (or the function has a default
 * policy in `RETENTION_POLICY`), and a Step Functions loop passes back the `continuationToken` of the previous run.
 *
 * The purge state machine's Distributed Map (infra/constructs/purge-state-machine.ts) adds two shapes:
 * - a shard: `{policy, target: <0-based index>, shard?: {index, count}, continuationToken?}` narrows the policy to
 *   that one target with that shard (the token is then the narrowed policy's, bound to the shard);
 * - the merge step: `{policy, merge: {items, results}}` sums the shards' summaries into one run report.
 */
import { z } from "zod";
import type { RetentionPolicy } from "../../shared/config/retention-policy.ts";
import { parseRetentionPolicy } from "../../shared/config/retention-policy.ts";
import { HousekeeperError } from "../../shared/errors.ts";
import {
  type MergeRequest,
  mergeRequestSchema,
  type ShardItem,
  shardItemSchema,
} from "../../shared/jobs/purge-shards.ts";
import type { ObjectStoreConfig } from "../../shared/object-store/open.ts";
import { formatShard, shardSchema } from "../../shared/workflow/shard.ts";
import { parseOrThrow, scheduledEventInput } from "../support/parse.ts";

/**
 * Environment (all optional):
 *   RETENTION_POLICY   the default policy as JSON, when the event carries none
 *   REPORT_BUCKET      S3 bucket for the run reports (none: logged only), under REPORT_PREFIX (`reports/purge`)
 *   S3_ENDPOINT        custom endpoint of an S3-compatible store (path-style addressing is then used)
 *   SAFETY_MARGIN_MS   stop this long before the invocation's time runs out (default 60000; a bad value: the default)
 */
export const purgeEnvSchema = z.object({
  RETENTION_POLICY: z.string().optional(),
  REPORT_BUCKET: z.string().optional(),
  REPORT_PREFIX: z.string().optional(),
  S3_ENDPOINT: z.string().optional(),
  SAFETY_MARGIN_MS: z.string().optional(),
});

export const purgeEventSchema = z
  .object({
    policy: z.unknown().optional(),
    continuationToken: z.string().min(1).optional(),
    target: shardItemSchema.shape.target.optional(),
    shard: shardSchema.optional(),
    merge: mergeRequestSchema.optional(),
  })
  .loose()
  .superRefine((event, ctx) => {
    if (event.merge && (event.target !== undefined || event.shard || event.continuationToken)) {
      ctx.addIssue({ code: "custom", path: ["merge"], message: "a merge takes no target, shard or continuationToken" });
    }
  });

export interface PurgeFunctionSettings {
  /** Narrowed to `target` (with its shard) when the event names one. */
  policy: RetentionPolicy;
  /** The event's target and shard, as given (reports name them). */
  item: ShardItem | undefined;
  merge: MergeRequest | undefined;
  continuationToken: string | undefined;
  /** Where run reports go; undefined: not stored (logged only). */
  reports: { store: ObjectStoreConfig; prefix: string } | undefined;
  safetyMarginMs: number;
}

export function purgeFunctionSettings(processEnv: NodeJS.ProcessEnv, event: unknown): PurgeFunctionSettings {
  const env = parseOrThrow(purgeEnvSchema, processEnv, "environment");
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
  const policy = parseRetentionPolicy(policyInput);
  let item: ShardItem | undefined;
  if (input.target !== undefined) {
    item = { target: input.target, ...(input.shard ? { shard: input.shard } : {}) };
  } else if (input.shard) {
    // A shard alone is unambiguous only for a one-target policy.
    if (policy.targets.length !== 1) {
      throw new HousekeeperError(
        "bad-input",
        `purge event: shard without target, but the policy has ${policy.targets.length} targets (give target: <0-based index>)`,
      );
    }
    item = { target: 0, shard: input.shard };
  }
  return {
    policy: item ? narrowPolicy(policy, item) : policy,
    item,
    merge: input.merge,
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

/** The policy with only `item.target`, with `item.shard` (a target the policy already shards cannot be sharded again). */
export function narrowPolicy(policy: RetentionPolicy, item: ShardItem): RetentionPolicy {
  const target = policy.targets[item.target];
  if (!target) {
    throw new HousekeeperError(
      "bad-input",
      `purge event: target ${item.target} does not exist (the policy has ${policy.targets.length}; target is 0-based)`,
    );
  }
  if (item.shard && target.shard) {
    throw new HousekeeperError(
      "bad-input",
      `purge event: target ${item.target} (${target.namespace}/${target.appId}) already has shard ${formatShard(target.shard)} in the policy`,
    );
  }
  return { ...policy, targets: [{ ...target, ...(item.shard ? { shard: item.shard } : {}) }] };
}
