/**
 * Direct-mode purge with the Scheduler: a purged instance's workflow and activity reminders (jobs and counters) go
 * with it, in the real etcd; every other reminder — of kept instances, of look-alike instance IDs, of other apps —
 * stays byte-for-byte.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { runRetentionPurge } from "../../shared/jobs/retention-purge.ts";
import { buildSeeds, type SeedJob } from "../../shared/sample-data/scheduler-jobs.ts";
import { writeInstances } from "../../shared/sample-data/writer.ts";
import { openEtcdSchedulerStore } from "../../shared/scheduler/etcd-store.ts";
import type { SchedulerStore, StoredEntry } from "../../shared/scheduler/store.ts";
import type { StateBackend } from "../../shared/state-store/backend.ts";
import type { AppRef } from "../../shared/state-store/keys.ts";
import { WorkflowStateStore } from "../../shared/state-store/workflow-store.ts";
import { schedulerReminderCleaner } from "../../shared/wiring/target-ports.ts";
import { storeFactories } from "../support/stores.ts";

const APP: AppRef = { appId: "orders", namespace: "default" };
const NOW = new Date("2026-11-01T00:00:00Z");
const DAY = 86_400_000;

async function allEntries(scheduler: SchedulerStore): Promise<Map<string, string>> {
  const snapshot = await scheduler.snapshot();
  const out = new Map<string, string>();
  for await (const page of snapshot.scan("dapr/")) {
    for (const e of page as StoredEntry[]) out.set(e.key, Buffer.from(e.value).toString("hex"));
  }
  return out;
}

describe("direct-mode purge removes the purged instances' Scheduler reminders and nothing else", () => {
  let backend: StateBackend;
  let scheduler: SchedulerStore;

  beforeAll(async () => {
    backend = await storeFactories(10)[0]!.open();
    scheduler = openEtcdSchedulerStore({ endpoints: [inject("etcdEndpoint")], root: `t-${randomUUID()}/dapr/` });
    const old = new Date(NOW.getTime() - 90 * DAY);
    const recent = new Date(NOW.getTime() - DAY);
    await writeInstances(backend, APP, [
      { instanceId: "order-1", scenario: "completed", createdAt: old }, // due
      { instanceId: "order-10", scenario: "completed", createdAt: recent }, // kept; its ID extends order-1's
      { instanceId: "order-2", scenario: "running-timer", createdAt: old }, // running: never touched
    ]);
    await writeInstances(backend, { appId: "orders2", namespace: "default" }, [
      { instanceId: "order-1", scenario: "completed", createdAt: old }, // another app, same ID
    ]);
    const seeds = buildSeeds([
      // Leftovers of the finished instance (Dapr deletes most at completion; a crash can leave them).
      { target: { workflow: { appId: "orders", instanceId: "order-1" } }, name: "timer-0", counter: { count: 1 } },
      { target: { activity: { appId: "orders", activityId: "order-1::0::1" } }, counter: { count: 2 } },
      { target: { workflow: { appId: "orders", instanceId: "order-10" } }, name: "new-event-1" },
      { target: { activity: { appId: "orders", activityId: "order-10::3::1" } } },
      { target: { workflow: { appId: "orders", instanceId: "order-2" } }, name: "timer-4", counter: { count: 0 } },
      { target: { workflow: { appId: "orders2", instanceId: "order-1" } }, name: "timer-0" },
      { target: { app: "orders" }, name: "nightly" },
    ]);
    await scheduler.put(seeds);
  });
  afterAll(async () => {
    await scheduler?.deletePrefixes(["dapr/"]);
    await scheduler?.close();
    await backend?.close();
  });

  it("deletes order-1's workflow and activity reminders with its state, and keeps every other key", async () => {
    const before = await allEntries(scheduler);
    const store = new WorkflowStateStore(backend, APP);

    const result = await runRetentionPurge(
      { store, reminders: schedulerReminderCleaner(scheduler) },
      { retention: { COMPLETED: 30 * DAY }, mode: "direct", now: NOW },
    );

    expect(result.failed).toEqual([]);
    expect(result.purged).toBe(1);
    expect(result.remindersDeleted).toBe(2);
    expect(await store.readInstance("order-1")).toBeUndefined();
    expect(await store.readInstance("order-10")).toBeDefined();
    expect((await store.readInstance("order-2"))?.runtimeStatus).toBe("RUNNING");
    const after = await allEntries(scheduler);
    const gone = [...before.keys()].filter((k) => !after.has(k));
    expect(gone.sort()).toEqual(
      [...before.keys()]
        .filter(
          (k) =>
            k.includes("||dapr.internal.default.orders.workflow||order-1||") ||
            k.includes("||dapr.internal.default.orders.activity||order-1::"),
        )
        .sort(),
    );
    expect(gone).toHaveLength(4); // two jobs and their two counters
    for (const [k, v] of after) expect(before.get(k)).toBe(v);
  });
});

describe("reminder lookup: ranges for neighbours, prefixes when others' reminders crowd the range", () => {
  // Instances a-… and z-… are due; m-running, between them in key order, holds more reminders than a range read of
  // two instances may carry, so that chunk is read prefix by prefix. Both ways must find exactly the due reminders.
  const app: AppRef = { appId: "crowded", namespace: "default" };
  let backend: StateBackend;
  let scheduler: SchedulerStore;

  beforeAll(async () => {
    backend = await storeFactories(10)[0]!.open();
    scheduler = openEtcdSchedulerStore({ endpoints: [inject("etcdEndpoint")], root: `t-${randomUUID()}/dapr/` });
  });
  afterAll(async () => {
    await scheduler?.deletePrefixes(["dapr/"]);
    await scheduler?.close();
    await backend?.close();
  });

  it.each([
    ["few reminders between them (one range read)", 3],
    ["hundreds of reminders between them (prefix reads)", 300],
  ])("deletes the due instances' reminders and keeps the running one's: %s", async (_, between) => {
    await scheduler.deletePrefixes(["dapr/"]);
    const old = new Date(NOW.getTime() - 90 * DAY);
    await writeInstances(backend, app, [
      { instanceId: `a-${between}`, scenario: "completed", createdAt: old },
      { instanceId: `m-${between}`, scenario: "running-timer", createdAt: old },
      { instanceId: `z-${between}`, scenario: "failed", createdAt: old },
    ]);
    const workflow = (instanceId: string, name: string) => ({
      target: { workflow: { appId: app.appId, instanceId } },
      name,
      counter: { count: 1 },
    });
    const seeds: SeedJob[] = [workflow(`a-${between}`, "timer-0"), workflow(`z-${between}`, "timer-0")];
    seeds.push({ target: { activity: { appId: app.appId, activityId: `z-${between}::1::1` } }, counter: { count: 1 } });
    for (let i = 0; i < between; i++) seeds.push(workflow(`m-${between}`, `timer-${i}`));
    const entries = buildSeeds(seeds);
    for (let i = 0; i < entries.length; i += 100) await scheduler.put(entries.slice(i, i + 100));
    const before = await allEntries(scheduler);

    const result = await runRetentionPurge(
      { store: new WorkflowStateStore(backend, app), reminders: schedulerReminderCleaner(scheduler) },
      { retention: { COMPLETED: 30 * DAY, FAILED: 30 * DAY }, mode: "direct", now: NOW },
    );

    expect(result.failed).toEqual([]);
    expect(result.purged).toBe(2);
    expect(result.remindersDeleted).toBe(3);
    const after = await allEntries(scheduler);
    const gone = [...before.keys()].filter((k) => !after.has(k));
    expect(gone).toHaveLength(6); // three jobs, three counters
    expect(gone.every((k) => k.includes(`a-${between}`) || k.includes(`z-${between}`))).toBe(true);
    expect(after.size).toBe(before.size - 6);
  });
});
