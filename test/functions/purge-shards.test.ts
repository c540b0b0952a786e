/**
 * The purge state machine's logic run locally: the real purge handler invoked per (target, shard) item concurrently,
 * each looping on its continuation token as a Distributed Map child execution does, then the merge step. Against
 * real PostgreSQL and etcd, it must purge exactly what one unsharded run purges from an identical store, and the
 * merged report's counts must equal the unsharded run's. The events' bad inputs get one-line errors.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";

vi.hoisted(() => {
  process.env.POWERTOOLS_LOG_LEVEL = "SILENT";
  process.env.POWERTOOLS_METRICS_DISABLED = "true";
});

import { handler, type MergeResponse, type PurgeResponse, ports } from "../../functions/purge/handler.ts";
import { purgeFunctionSettings } from "../../functions/purge/settings.ts";
import { purgeShardItems } from "../../infra/config.ts";
import { parseRetentionPolicy } from "../../shared/config/retention-policy.ts";
import type { ShardItem, ShardSummary } from "../../shared/jobs/purge-shards.ts";
import { mergeShardResults } from "../../shared/jobs/purge-shards.ts";
import { writeInstances } from "../../shared/sample-data/writer.ts";
import { createPostgresDaprTable, openPostgresBackend } from "../../shared/state-store/postgresql.ts";
import { WorkflowStateStore } from "../../shared/state-store/workflow-store.ts";
import { lambdaContext } from "../support/lambda.ts";
import { createPostgresDatabase, uniqueDatabaseName } from "../support/servers.ts";

const DAY = 86_400_000;
const APPS = [
  { appId: "orders", namespace: "default" },
  { appId: "billing", namespace: "default" },
];

async function seed(url: string): Promise<void> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await createPostgresDaprTable(admin, "state", "v1");
  await admin.end();
  const backend = await openPostgresBackend({ connectionString: url, tableName: "state" });
  const old = new Date(Date.now() - 40 * DAY);
  const recent = new Date(Date.now() - DAY);
  for (const app of APPS) {
    const n = app.appId === "orders" ? 160 : 40;
    await writeInstances(backend, app, [
      ...Array.from({ length: n }, (_, i) => ({
        instanceId: `c-${i}`,
        scenario: "completed" as const,
        createdAt: old,
      })),
      ...Array.from({ length: 10 }, (_, i) => ({ instanceId: `f-${i}`, scenario: "failed" as const, createdAt: old })),
      ...Array.from({ length: 8 }, (_, i) => ({
        instanceId: `r-${i}`,
        scenario: "completed" as const,
        createdAt: recent,
      })),
      { instanceId: "running", scenario: "running-activity" as const, createdAt: old },
    ]);
  }
  await backend.close();
}

async function remaining(url: string): Promise<Record<string, string[]>> {
  const backend = await openPostgresBackend({ connectionString: url, tableName: "state" });
  const out: Record<string, string[]> = {};
  for (const app of APPS) {
    const ids: string[] = [];
    for await (const page of new WorkflowStateStore(backend, app).listInstances()) {
      for (const i of page.instances) ids.push(i.instanceId);
    }
    out[app.appId] = ids.sort();
  }
  await backend.close();
  return out;
}

function policyFor(env: string) {
  return {
    retention: { COMPLETED: "30d", FAILED: "30d" },
    mode: "direct",
    // A small budget per invocation: every shard needs several invocations, carried by its continuation token.
    maxInstancesPerRun: 15,
    targets: APPS.map((app) => ({
      ...app,
      stateStore: { connectionString: `env:${env}` },
      scheduler: { etcdEndpoints: [inject("etcdEndpoint")] },
    })),
  };
}

/** One Distributed Map child execution: PurgeBatch until isComplete, summed as the state machine's Assign does. */
async function childExecution(policy: unknown, item: ShardItem): Promise<ShardSummary> {
  const summary: ShardSummary = {
    target: item.target,
    shard: item.shard ?? null,
    ok: true,
    invocations: 0,
    purged: 0,
    wouldPurge: 0,
    skipped: 0,
    failed: 0,
  };
  let token: string | undefined;
  try {
    for (;;) {
      const event = { policy, ...item, ...(token ? { continuationToken: token } : {}) };
      const r = (await handler(
        event,
        lambdaContext("purge", () => 600_000),
      )) as PurgeResponse;
      summary.invocations++;
      summary.purged += r.purged;
      summary.wouldPurge += r.wouldPurge;
      summary.skipped += r.skipped;
      summary.failed += r.failedCount;
      if (r.isComplete) {
        if (r.targetErrors.length > 0) Object.assign(summary, { ok: false, error: JSON.stringify(r.targetErrors) });
        return summary;
      }
      if (summary.invocations > 100) throw new Error("runaway loop");
      token = r.continuationToken;
    }
  } catch (error) {
    return { ...summary, ok: false, error: String(error) };
  }
}

describe("purge state machine logic: sharded purge = unsharded purge", () => {
  let unshardedUrl: string;
  let shardedUrl: string;

  beforeAll(async () => {
    unshardedUrl = await createPostgresDatabase(inject("postgresUrl"), uniqueDatabaseName("fn_shards_whole"));
    shardedUrl = await createPostgresDatabase(inject("postgresUrl"), uniqueDatabaseName("fn_shards_split"));
    await seed(unshardedUrl);
    await seed(shardedUrl);
    vi.stubEnv("TEST_SHARDS_WHOLE", unshardedUrl);
    vi.stubEnv("TEST_SHARDS_SPLIT", shardedUrl);
    vi.stubEnv("REPORT_BUCKET", "");
    vi.stubEnv("SAFETY_MARGIN_MS", "1000");
  }, 120_000);
  afterAll(async () => {
    vi.unstubAllEnvs();
    await ports.close();
  });

  it("4 + 2 shards run concurrently, then merged: the same instances purged, the same counts", async () => {
    // Unsharded, as the state machine does for shards: 1 (one item per target, no shard).
    const whole = policyFor("TEST_SHARDS_WHOLE");
    const wholeItems = purgeShardItems(parseRetentionPolicy(whole).targets, 1);
    const wholeResults = await Promise.all(wholeItems.map((item) => childExecution(whole, item)));
    const wholeMerge = (await handler(
      { policy: whole, merge: { items: wholeItems, results: wholeResults } },
      lambdaContext("purge"),
    )) as MergeResponse;

    const split = policyFor("TEST_SHARDS_SPLIT");
    const items = purgeShardItems(parseRetentionPolicy(split).targets, { orders: 4, "default/billing": 2 });
    expect(items).toHaveLength(6);
    const results = await Promise.all(items.map((item) => childExecution(split, item)));
    const merged = (await handler(
      { policy: split, merge: { items, results } },
      lambdaContext("purge"),
    )) as MergeResponse;

    expect(wholeMerge).toMatchObject({ ok: true, shards: 2, purged: 170 + 50, failedCount: 0, failedShards: [] });
    expect(merged).toMatchObject({ ok: true, shards: 6, failedShards: [] });
    expect({ ...merged, shards: 0 }).toEqual({ ...wholeMerge, shards: 0 });
    // Every shard did part of the work, over several invocations.
    for (const r of results) expect(r.purged).toBeGreaterThan(0);
    expect(results.reduce((n, r) => n + r.invocations, 0)).toBeGreaterThan(items.length);

    const left = await remaining(shardedUrl);
    expect(left).toEqual(await remaining(unshardedUrl));
    const kept = ["r-0", "r-1", "r-2", "r-3", "r-4", "r-5", "r-6", "r-7", "running"].sort();
    expect(left).toEqual({ orders: kept, billing: kept });
  }, 300_000);
});

describe("purge events and the merge step", () => {
  const policy = {
    retention: { COMPLETED: "30d" },
    mode: "direct",
    targets: [
      { appId: "a", stateStore: { connectionString: "postgres://x" }, scheduler: { etcdEndpoints: ["e:2379"] } },
      {
        appId: "b",
        namespace: "prod",
        stateStore: { connectionString: "postgres://x" },
        scheduler: { etcdEndpoints: ["e:2379"] },
      },
    ],
  };

  it("narrows the policy to the event's target and shard", () => {
    const s = purgeFunctionSettings({}, { policy, target: 1, shard: { index: 2, count: 3 } });
    expect(s.policy.targets).toEqual([
      {
        appId: "b",
        namespace: "prod",
        stateStore: { connectionString: "postgres://x" },
        scheduler: { etcdEndpoints: ["e:2379"] },
        shard: { index: 2, count: 3 },
      },
    ]);
    expect(s.item).toEqual({ target: 1, shard: { index: 2, count: 3 } });
    expect(purgeFunctionSettings({}, { policy }).policy.targets).toHaveLength(2);
  });

  it.each([
    [{ target: 2 }, /^purge event: target 2 does not exist \(the policy has 2; target is 0-based\)$/],
    [{ target: -1 }, /^purge event target: target is a 0-based index/],
    [{ shard: { index: 1, count: 2 } }, /^purge event: shard without target, but the policy has 2 targets/],
    [{ target: 0, shard: { index: 3, count: 2 } }, /^purge event shard: shard index must be at most the shard count$/],
    [{ merge: { items: [], results: [] }, target: 0 }, /^purge event merge: a merge takes no target/],
  ])("refuses %j with one line", (extra, message) => {
    let error: unknown;
    try {
      purgeFunctionSettings({}, { policy, ...extra });
    } catch (e) {
      error = e;
    }
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain("\n");
    expect((error as { code?: string }).code).toBe("bad-input");
  });

  it("refuses to shard a target the policy already shards", () => {
    const sharded = structuredClone(policy) as Record<string, unknown> & { targets: Array<Record<string, unknown>> };
    sharded.targets[0]!.shard = { index: 1, count: 2 };
    expect(() => purgeFunctionSettings({}, { policy: sharded, target: 0, shard: { index: 1, count: 4 } })).toThrow(
      /^purge event: target 0 \(default\/a\) already has shard 1\/2 in the policy$/,
    );
  });

  it("sums the summaries, names failed shards and shards with no result", () => {
    const parsed = parseRetentionPolicy(policy);
    const items = purgeShardItems(parsed.targets, { a: 3 });
    const results: unknown[] = [
      {
        target: 0,
        shard: { index: 1, count: 3 },
        ok: true,
        invocations: 2,
        purged: 10,
        wouldPurge: 0,
        skipped: 1,
        failed: 0,
        error: "",
      },
      {
        target: 0,
        shard: { index: 2, count: 3 },
        ok: false,
        invocations: 1,
        purged: 3,
        wouldPurge: 0,
        skipped: 0,
        failed: 2,
        error: "States.TaskFailed: store down",
      },
      { target: 1, shard: null, ok: true, invocations: 1, purged: 5, wouldPurge: 0, skipped: 0, failed: 0 },
      { Error: "States.Timeout" },
    ];
    const report = mergeShardResults(parsed, { items, results }, new Date(0));
    expect(report).toMatchObject({
      shards: 4,
      shardsReported: 3,
      invocations: 4,
      purged: 18,
      skipped: 1,
      failedCount: 2,
      purgedByApp: { "default/a": 13, "prod/b": 5 },
      failedShards: [
        { name: "default/a shard 2/3", error: "States.TaskFailed: store down" },
        { name: "default/a shard 3/3", error: "no result: its child execution failed, timed out or was aborted" },
      ],
    });
  });
});
