/**
 * N shards purging one store at the same time delete exactly what one unsharded purge deletes, state and Scheduler
 * reminders alike, and none of them reports a failure: a child purged with its parent by another shard is "already
 * gone". Two copies of the same app in one store ("solo", purged unsharded; "many", purged by 3 concurrent shards),
 * compared key by key afterwards; direct mode with the real etcd, and sidecar mode through the stand-in.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { RetentionResult } from "../../shared/jobs/retention-purge.ts";
import { runRetentionPurge } from "../../shared/jobs/retention-purge.ts";
import type { InstanceSpec } from "../../shared/sample-data/instance-builder.ts";
import { SCENARIOS } from "../../shared/sample-data/instance-builder.ts";
import { buildSeeds, type SeedJob } from "../../shared/sample-data/scheduler-jobs.ts";
import { writeInstances } from "../../shared/sample-data/writer.ts";
import { openEtcdSchedulerStore } from "../../shared/scheduler/etcd-store.ts";
import type { SchedulerStore, StoredEntry } from "../../shared/scheduler/store.ts";
import { HttpSidecarClient } from "../../shared/sidecar/http-client.ts";
import type { StateBackend } from "../../shared/state-store/backend.ts";
import type { AppRef } from "../../shared/state-store/keys.ts";
import { openRedisBackend } from "../../shared/state-store/redis.ts";
import { WorkflowStateStore } from "../../shared/state-store/workflow-store.ts";
import { schedulerReminderCleaner, sidecarPurger } from "../../shared/wiring/target-ports.ts";
import { shardOf } from "../../shared/workflow/shard.ts";
import { startSidecarStandin } from "../support/sidecar-standin.ts";
import { dumpStore, type StoreFactory, storeFactories } from "../support/stores.ts";

const NOW = new Date("2026-11-01T00:00:00Z");
const DAY = 86_400_000;
const SHARDS = 3;
const RETENTION = { COMPLETED: 30 * DAY, FAILED: 30 * DAY, TERMINATED: 30 * DAY, CANCELED: 30 * DAY };

/** Every Redis DB index is some test file's to flush: this one shares DB 0 (never flushed) under its own app IDs. */
const redisDb0: StoreFactory = {
  name: "Redis",
  open: () => openRedisBackend({ url: `${inject("redisUrl")}/0` }),
};
const factories = [
  ...storeFactories(0).filter((f) => f.name === "PostgreSQL (v2 table)" || f.name === "MariaDB" || f.name === "SQLite"),
  redisDb0,
];

/** Parents with children (which hash into other shards than their parents), due and not, terminal and not. */
function specs(): InstanceSpec[] {
  return Array.from({ length: 150 }, (_, i) => ({
    instanceId: `wf-${i}`,
    scenario: i % 3 === 0 ? "completed-with-children" : SCENARIOS[i % SCENARIOS.length]!,
    createdAt: new Date(NOW.getTime() - ((i * 7) % 80) * DAY),
  }));
}

function reminderSeeds(appId: string): SeedJob[] {
  return Array.from({ length: 150 }, (_, i) => [
    { target: { workflow: { appId, instanceId: `wf-${i}` } }, name: "timer-0", counter: { count: 1 } },
    { target: { workflow: { appId, instanceId: `wf-${i}:0000` } }, name: "new-event-0" },
    { target: { activity: { appId, activityId: `wf-${i}::0::1` } } },
  ]).flat();
}

/** Keys of an app with the app ID replaced, so two apps' stores compare key by key. */
function normalized(keys: Iterable<string>, appId: string): string[] {
  return [...keys].map((k) => k.replaceAll(appId, "APP")).sort();
}

async function reminderKeys(scheduler: SchedulerStore): Promise<string[]> {
  const snapshot = await scheduler.snapshot();
  const out: string[] = [];
  for await (const page of snapshot.scan("dapr/")) for (const e of page as StoredEntry[]) out.push(e.key);
  return out;
}

function expectNoFailures(results: RetentionResult[]): void {
  for (const r of results) {
    expect(r.failed).toEqual([]);
    expect(r.unreadable).toEqual([]);
    expect(r.isComplete).toBe(true);
  }
}

describe.each(factories)("concurrent sharded purges on $name", (factory) => {
  let backend: StateBackend;
  let scheduler: SchedulerStore;
  const tag = randomUUID().slice(0, 6);

  beforeAll(async () => {
    backend = await factory.open();
    scheduler = openEtcdSchedulerStore({ endpoints: [inject("etcdEndpoint")], root: `t-${randomUUID()}/dapr/` });
  });
  afterAll(async () => {
    if (factory === redisDb0) {
      for (const prefix of [`solo${tag}`, `many${tag}`, `sids${tag}`, `sidm${tag}`]) {
        await backend.deleteMany([...(await dumpStore(backend, `${prefix}||`)).keys()]);
      }
    }
    await scheduler?.deletePrefixes(["dapr/"]);
    await scheduler?.close();
    await backend?.close();
  });

  it(`direct mode, with the Scheduler: ${SHARDS} shards at once delete exactly what one purge deletes`, async () => {
    const solo: AppRef = { appId: `solo${tag}`, namespace: "default" };
    const many: AppRef = { appId: `many${tag}`, namespace: "default" };
    for (const app of [solo, many]) await writeInstances(backend, app, specs());
    const seeds = buildSeeds([...reminderSeeds(solo.appId), ...reminderSeeds(many.appId)]);
    for (let i = 0; i < seeds.length; i += 100) await scheduler.put(seeds.slice(i, i + 100));
    const remindersBefore = await reminderKeys(scheduler);
    const reminders = schedulerReminderCleaner(scheduler);
    const options = { retention: RETENTION, mode: "direct" as const, now: NOW, pageSize: 20 };

    const one = await runRetentionPurge({ store: new WorkflowStateStore(backend, solo), reminders }, options);
    const shards = await Promise.all(
      Array.from({ length: SHARDS }, (_, k) =>
        runRetentionPurge(
          { store: new WorkflowStateStore(backend, many), reminders },
          { ...options, shard: { index: k + 1, count: SHARDS } },
        ),
      ),
    );

    expectNoFailures([one, ...shards]);
    expect(one.purged).toBeGreaterThan(20);
    expect(one.childrenPurged).toBeGreaterThan(10);
    const sum = (pick: (r: RetentionResult) => number) => shards.reduce((n, r) => n + pick(r), 0);
    expect(sum((r) => r.purged)).toBe(one.purged);
    expect(sum((r) => r.childrenPurged)).toBe(one.childrenPurged);
    expect(sum((r) => r.remindersDeleted)).toBe(one.remindersDeleted);
    // Each shard purged only its own instances (children go with their parents, whatever their shard).
    shards.forEach((r, k) => {
      for (const decision of r.skipped) expect(shardOf(decision.instanceID, SHARDS)).toBe(k + 1);
    });
    const soloKeys = normalized((await dumpStore(backend, `${solo.appId}||`)).keys(), solo.appId);
    const manyKeys = normalized((await dumpStore(backend, `${many.appId}||`)).keys(), many.appId);
    expect(manyKeys).toEqual(soloKeys);
    const after = await reminderKeys(scheduler);
    expect(after.length).toBeLessThan(remindersBefore.length);
    const left = (appId: string) =>
      normalized(
        after.filter((k) => k.includes(`.${appId}.`)),
        appId,
      );
    expect(left(many.appId)).toEqual(left(solo.appId));
  });

  it(`sidecar mode: ${SHARDS} shards at once through one sidecar purge exactly what one purge does`, async () => {
    const solo: AppRef = { appId: `sids${tag}`, namespace: "default" };
    const many: AppRef = { appId: `sidm${tag}`, namespace: "default" };
    for (const app of [solo, many]) await writeInstances(backend, app, specs());
    const standins = await Promise.all(
      [solo, many].map((app) =>
        startSidecarStandin({ backend, appId: app.appId, namespace: app.namespace, grpc: false }),
      ),
    );
    const [soloClient, manyClient] = standins.map((s) => new HttpSidecarClient({ url: s.url }));
    try {
      const options = { retention: RETENTION, mode: "sidecar" as const, now: NOW, pageSize: 20, concurrency: 8 };
      const one = await runRetentionPurge(
        { store: new WorkflowStateStore(backend, solo), purger: sidecarPurger(soloClient!) },
        options,
      );
      const shards = await Promise.all(
        Array.from({ length: SHARDS }, (_, k) =>
          runRetentionPurge(
            { store: new WorkflowStateStore(backend, many), purger: sidecarPurger(manyClient!) },
            { ...options, shard: { index: k + 1, count: SHARDS } },
          ),
        ),
      );
      expectNoFailures([one, ...shards]);
      expect(one.purged).toBeGreaterThan(20);
      expect(shards.reduce((n, r) => n + r.purged, 0)).toBe(one.purged);
      const soloKeys = normalized((await dumpStore(backend, `${solo.appId}||`)).keys(), solo.appId);
      const manyKeys = normalized((await dumpStore(backend, `${many.appId}||`)).keys(), many.appId);
      expect(manyKeys).toEqual(soloKeys);
    } finally {
      await soloClient?.close();
      await manyClient?.close();
      for (const s of standins) await s.close();
    }
  });
});
