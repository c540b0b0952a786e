/**
 * A shard of an app's instances: shard `index` of `count` (1-based, as Playwright's `--shard=2/4`). The N shards of
 * one app are disjoint and together are exactly the unsharded set; which instance falls in which shard is decided by
 * the listing (see docs/scale.md). One schema for `--shard K/N`, a policy target's `shard` and the purge event.
 */
import { z } from "zod";
import { HousekeeperError } from "../errors.ts";

/** More shards than this buys nothing on one store and makes a typo (`--shard 1/1000000`) expensive. */
export const MAX_SHARDS = 1024;

export const shardSchema = z
  .object({
    index: z.number().int().min(1, "shard index starts at 1"),
    count: z.number().int().min(1).max(MAX_SHARDS),
  })
  .strict()
  .refine((shard) => shard.index <= shard.count, "shard index must be at most the shard count");

export type Shard = z.infer<typeof shardSchema>;

/** Parses `K/N` (e.g. `2/4`); throws a one-line bad-input error naming the flag's value. */
export function parseShardFlag(text: string): Shard {
  const match = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  const parsed = match ? shardSchema.safeParse({ index: Number(match[1]), count: Number(match[2]) }) : undefined;
  if (!parsed?.success) {
    const why = parsed ? `: ${parsed.error.issues[0]?.message}` : "";
    throw new HousekeeperError(
      "bad-input",
      `invalid shard "${text}"${why} (expected K/N with 1 <= K <= N <= ${MAX_SHARDS}, e.g. 2/4)`,
    );
  }
  return parsed.data;
}

/** `2/4`, as in flags and reports. */
export function formatShard(shard: Shard): string {
  return `${shard.index}/${shard.count}`;
}

/**
 * Which shard (1-based) of `count` an instance belongs to: FNV-1a (32-bit) of its ID's UTF-8 bytes, mod `count`.
 * Computed by us, not by any store, so every store (and the Scheduler's reminders) splits an app the same way, and it
 * never changes between runs: an instance stays in its shard for as long as it lives.
 */
export function shardOf(instanceId: string, count: number): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(instanceId, "utf8")) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return (hash % count) + 1;
}

/** Whether an instance is in this shard; every instance is in "no shard" (undefined). */
export function inShard(instanceId: string, shard: Shard | undefined): boolean {
  return shard === undefined || shard.count === 1 || shardOf(instanceId, shard.count) === shard.index;
}

/** `1/1` is the whole app: the same as no shard, so its tokens and listings are the unsharded ones. */
export function effectiveShard(shard: Shard | undefined): Shard | undefined {
  return shard && shard.count > 1 ? shard : undefined;
}
