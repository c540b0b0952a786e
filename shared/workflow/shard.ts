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
