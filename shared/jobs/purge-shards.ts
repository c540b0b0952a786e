/**
 * The purge state machine's last step: the Distributed Map's per-shard summaries summed into one run report. Every
 * item the map was given is accounted for: a shard whose summary says it failed, or that returned no summary at all
 * (its child execution failed, timed out or was aborted), is named in `failedShards`.
 */
import { z } from "zod";
import type { RetentionPolicy } from "../config/retention-policy.ts";
import { formatShard, shardSchema } from "../workflow/shard.ts";

/** One (target, shard) item of the Distributed Map; no shard: the whole target. */
export const shardItemSchema = z
  .object({
    target: z.number().int().min(0, "target is a 0-based index into policy.targets"),
    shard: shardSchema.optional(),
  })
  .strict();
export type ShardItem = z.infer<typeof shardItemSchema>;

/** What one child execution returns (the map collects these; kept small: a Map's output is capped at 256 KB). */
export const shardSummarySchema = z
  .object({
    target: z.number().int().min(0),
    /** null: the whole target (the state machine carries "no shard" as null). */
    shard: shardSchema.nullish(),
    ok: z.boolean(),
    invocations: z.number().int().min(0),
    purged: z.number().int().min(0),
    wouldPurge: z.number().int().min(0),
    skipped: z.number().int().min(0),
    failed: z.number().int().min(0),
    error: z.string().optional(),
  })
  .strip();
export type ShardSummary = z.infer<typeof shardSummarySchema>;

export const mergeRequestSchema = z
  .object({
    /** Every item the map was given: a shard with no result (its child execution failed or timed out) is named. */
    items: z.array(shardItemSchema),
    /** The child executions' outputs; one that is not a summary counts as no result. */
    results: z.array(z.unknown()),
  })
  .strict();
export type MergeRequest = z.infer<typeof mergeRequestSchema>;

export interface ShardedRunReport {
  kind: "sharded-run";
  finishedAt: string;
  mode: RetentionPolicy["mode"];
  dryRun: boolean;
  /** Items the map was given, and how many returned a summary. */
  shards: number;
  shardsReported: number;
  invocations: number;
  purged: number;
  wouldPurge: number;
  skipped: number;
  failedCount: number;
  purgedByApp: Record<string, number>;
  /** `namespace/appId` or `namespace/appId shard K/N`, with why. */
  failedShards: Array<{ name: string; error: string }>;
}

export function shardName(policy: RetentionPolicy, item: ShardItem): string {
  const target = policy.targets[item.target];
  const app = target ? `${target.namespace}/${target.appId}` : `target ${item.target}`;
  return item.shard ? `${app} shard ${formatShard(item.shard)}` : app;
}

function itemKey(item: { target: number; shard?: ShardItem["shard"] | null }): string {
  return item.shard ? `${item.target}:${formatShard(item.shard)}` : `${item.target}`;
}

export function mergeShardResults(policy: RetentionPolicy, request: MergeRequest, now = new Date()): ShardedRunReport {
  const byItem = new Map<string, ShardSummary>();
  for (const result of request.results) {
    const parsed = shardSummarySchema.safeParse(result);
    if (parsed.success) byItem.set(itemKey(parsed.data), parsed.data);
  }
  const report: ShardedRunReport = {
    kind: "sharded-run",
    finishedAt: now.toISOString(),
    mode: policy.mode,
    dryRun: policy.dryRun,
    shards: request.items.length,
    shardsReported: 0,
    invocations: 0,
    purged: 0,
    wouldPurge: 0,
    skipped: 0,
    failedCount: 0,
    purgedByApp: {},
    failedShards: [],
  };
  for (const item of request.items) {
    const summary = byItem.get(itemKey(item));
    const name = shardName(policy, item);
    if (!summary) {
      report.failedShards.push({ name, error: "no result: its child execution failed, timed out or was aborted" });
      continue;
    }
    report.shardsReported++;
    report.invocations += summary.invocations;
    report.purged += summary.purged;
    report.wouldPurge += summary.wouldPurge;
    report.skipped += summary.skipped;
    report.failedCount += summary.failed;
    const target = policy.targets[item.target];
    if (target) {
      const app = `${target.namespace}/${target.appId}`;
      report.purgedByApp[app] = (report.purgedByApp[app] ?? 0) + summary.purged;
    }
    if (!summary.ok) report.failedShards.push({ name, error: summary.error || "failed" });
  }
  return report;
}
