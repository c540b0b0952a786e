/**
 * The purge state machine's last step: the Distributed Map's per-shard summaries summed into one run report. Every
 * item the map was given is accounted for: a shard whose summary says it failed, or that returned no summary at all
 * (its child execution failed, timed out or was aborted), is named in `failedShards`.
 */
import type { MergeRequest, ShardItem, ShardSummary } from "../config/purge-function.ts";
import { shardSummarySchema } from "../config/purge-function.ts";
import type { RetentionPolicy } from "../config/retention-policy.ts";
import { formatShard } from "../workflow/shard.ts";

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
