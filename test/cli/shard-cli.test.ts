/**
 * `--shard K/N` through the real CLI on the four commands that scan an app: `workflow list`, `report stuck`,
 * `scheduler orphans` (their N shards are disjoint and together are the unsharded output) and `workflow purge` (three
 * shards run at once purge what one purge would); a bad value or a shard with instance IDs exits 2 with one line.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { SCENARIOS } from "../../shared/sample-data/instance-builder.ts";
import { buildSeeds } from "../../shared/sample-data/scheduler-jobs.ts";
import { writeInstances } from "../../shared/sample-data/writer.ts";
import { openEtcdSchedulerStore } from "../../shared/scheduler/etcd-store.ts";
import type { SchedulerStore } from "../../shared/scheduler/store.ts";
import type { StateBackend } from "../../shared/state-store/backend.ts";
import type { AppRef } from "../../shared/state-store/keys.ts";
import { openPostgresBackend } from "../../shared/state-store/postgresql.ts";
import { WorkflowStateStore } from "../../shared/state-store/workflow-store.ts";
import { shardOf } from "../../shared/workflow/shard.ts";
import { runHousekeeper } from "../support/cli.ts";
import { createPostgresStateDatabase } from "../support/stores.ts";

const APP: AppRef = { appId: "sharded", namespace: "default" };
const DAY = 86_400_000;
const N = 3;
const shards = Array.from({ length: N }, (_, k) => `${k + 1}/${N}`);

const sortStrings = (list: string[]) => [...list].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
const idsIn = (json: string) => [...json.matchAll(/"instanceID":\s*"([^"]+)"/g)].map((m) => m[1]!);

describe("--shard through the CLI", () => {
  let path: string;
  let backend: StateBackend;
  let scheduler: SchedulerStore;
  const root = `t-${randomUUID()}/dapr/`;
  let etcd: string[];

  beforeAll(async () => {
    // PostgreSQL, not SQLite: one SQLite file admits one housekeeper at a time, and the shards here run at once.
    path = await createPostgresStateDatabase("shard_cli");
    backend = await openPostgresBackend({ connectionString: path, tableName: "state" });
    const now = Date.now();
    await writeInstances(
      backend,
      APP,
      Array.from({ length: 45 }, (_, i) => ({
        instanceId: `inst-${i}`,
        scenario: SCENARIOS[i % SCENARIOS.length]!,
        createdAt: new Date(now - (i % 2 === 0 ? 60 : 2) * DAY),
      })),
    );
    scheduler = openEtcdSchedulerStore({ endpoints: [inject("etcdEndpoint")], root });
    const begin = new Date(now - DAY);
    // Reminders of finished instances and of instances that no longer exist: orphans, each in its instance's shard.
    const seeds = Array.from({ length: 30 }, (_, i) => ({
      target: { workflow: { appId: APP.appId, instanceId: i < 15 ? `inst-${i}` : `gone-${i}` } },
      name: "timer-0",
      begin,
    }));
    await scheduler.put(buildSeeds(seeds));
    etcd = ["--etcd-endpoints", inject("etcdEndpoint"), "--etcd-root", root];
  });
  afterAll(async () => {
    await scheduler?.deletePrefixes(["dapr/"]);
    await scheduler?.close();
    await backend?.close();
  });

  const ok = async (args: string[]) => {
    const run = await runHousekeeper(args);
    expect(run.stderr, args.join(" ")).not.toMatch(/Error/);
    expect(run.code, `${args.join(" ")}: ${run.stderr}`).toBe(0);
    return run.stdout;
  };

  it("workflow list: disjoint shards whose union is the unsharded list (-o ids and -o json)", async () => {
    const base = ["workflow", "list", "-a", APP.appId, "-c", path, "-t", "state"];
    const whole = (await ok([...base, "-o", "ids"])).split("\n").filter(Boolean);
    expect(whole.length).toBeGreaterThan(45);
    const parts = await Promise.all(shards.map((s) => ok([...base, "-o", "ids", "--shard", s])));
    const ids = parts.map((p) => p.split("\n").filter(Boolean));
    ids.forEach((part, k) => {
      for (const id of part) expect(shardOf(id, N)).toBe(k + 1);
    });
    expect(sortStrings(ids.flat())).toEqual(sortStrings(whole));
    const json = idsIn(await ok([...base, "-o", "json", "--shard", "2/3"]));
    expect(sortStrings(json)).toEqual(sortStrings(ids[1]!));
  });

  it("report stuck: the shards' reports together are the unsharded report", async () => {
    const base = ["report", "stuck", "-a", APP.appId, "-c", path, "-t", "state", "--older-than", "1h", "-o", "json"];
    const whole = idsIn(await ok(base));
    expect(whole.length).toBeGreaterThan(0);
    const parts = (await Promise.all(shards.map((s) => ok([...base, "--shard", s])))).map(idsIn);
    parts.forEach((part, k) => {
      for (const id of part) expect(shardOf(id, N)).toBe(k + 1);
    });
    expect(sortStrings(parts.flat())).toEqual(sortStrings(whole));
  });

  it("scheduler orphans: a reminder is in its instance's shard", async () => {
    const base = ["scheduler", "orphans", "-a", APP.appId, "-c", path, "-t", "state", ...etcd, "-o", "json"];
    const whole = idsIn(await ok(base));
    expect(whole.length).toBeGreaterThan(10);
    const parts = (await Promise.all(shards.map((s) => ok([...base, "--shard", s])))).map(idsIn);
    parts.forEach((part, k) => {
      for (const id of part) expect(shardOf(id, N)).toBe(k + 1);
    });
    expect(sortStrings(parts.flat())).toEqual(sortStrings(whole));
  });

  it("workflow purge: three shards at once purge what the unsharded dry run lists", async () => {
    const base = ["workflow", "purge", "-a", APP.appId, "-c", path, "-t", "state", "--all-older-than", "720h"];
    const wouldPurge = [...(await ok([...base, "--dry-run"])).matchAll(/Would purge workflow instance "([^"]+)"/g)];
    expect(wouldPurge.length).toBeGreaterThan(5);
    const outputs = await Promise.all(shards.map((s) => ok([...base, "--mode", "direct", ...etcd, "--shard", s])));
    const purged = outputs.flatMap((o) => [...o.matchAll(/Purged workflow instance "([^"]+)"/g)].map((m) => m[1]!));
    expect(sortStrings(purged)).toEqual(sortStrings(wouldPurge.map((m) => m[1]!)));
    const store = new WorkflowStateStore(backend, APP);
    for (const id of purged) expect(await store.readInstance(id)).toBeUndefined();
    expect(await ok([...base, "--dry-run"])).toContain("0 workflow instance(s) would be purged");
  });

  it.each([
    ["workflow", "list", "-a", "x", "--shard", "4/3"],
    ["workflow", "purge", "-a", "x", "--all", "--dry-run", "--shard", "0/2"],
    ["report", "stuck", "-a", "x", "--shard", "two"],
    ["scheduler", "orphans", "-a", "x", "-c", "postgres://u:p@127.0.0.1:1/db", "--shard", "1/0"],
    ["workflow", "purge", "-a", "x", "order-1", "--mode", "direct", "--shard", "1/2"],
  ])("refuses %s %s … in one line, exit 2", async (...args) => {
    const run = await runHousekeeper(args);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).toMatch(/^Error: (invalid shard "[^"]*"|--shard goes with --all)/);
  });
});
