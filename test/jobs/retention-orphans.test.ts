/**
 * A retention policy with `orphanReminders: "delete"`, on Redis and a real etcd: after the target's purge, the
 * reminders of instances with no state and of finished instances go (a dry run only counts them); Dapr's retention
 * reminder (its own actor type), a running instance's timer, activity reminders and app jobs stay byte-for-byte. The
 * default keeps them; a store with no instance of the app, or one where most reminders have none, is never acted on.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from "vitest";
import { parseRetentionPolicy } from "../../shared/config/retention-policy.ts";
import { type OpenTargetPorts, runRetentionPolicy } from "../../shared/jobs/retention-run.ts";
import type { SeedJob } from "../../shared/sample-data/scheduler-jobs.ts";
import { buildSeeds } from "../../shared/sample-data/scheduler-jobs.ts";
import { writeInstances } from "../../shared/sample-data/writer.ts";
import { openEtcdSchedulerStore } from "../../shared/scheduler/etcd-store.ts";
import type { SchedulerStore } from "../../shared/scheduler/store.ts";
import type { StateBackend } from "../../shared/state-store/backend.ts";
import type { AppRef } from "../../shared/state-store/keys.ts";
import { WorkflowStateStore } from "../../shared/state-store/workflow-store.ts";
import { schedulerReminderCleaner } from "../../shared/wiring/target-ports.ts";
import { storeFactories } from "../support/stores.ts";

const APP: AppRef = { appId: "shop", namespace: "default" };
const NOW = new Date("2026-11-01T00:00:00Z");
const DAY = 86_400_000;
const wf = (instanceId: string, name: string): SeedJob => ({
  target: { workflow: { appId: APP.appId, instanceId } },
  name,
  counter: { count: 1 },
});
const ORPHANS = [wf("ghost-1", "new-event-a"), wf("recent-1", "timer-7")];
const PURGED_WITH_INSTANCE = [wf("old-1", "timer-0")];
const KEPT: SeedJob[] = [
  { target: { actor: { type: "dapr.internal.default.shop.retentioner", id: "recent-1" } }, name: "retention" },
  wf("run-1", "timer-2"),
  { target: { activity: { appId: APP.appId, activityId: "ghost-1::0::1" } } },
  { target: { app: APP.appId }, name: "nightly" },
];

const policy = (extra: Record<string, unknown>) =>
  parseRetentionPolicy({
    retention: { COMPLETED: "30d" },
    mode: "direct",
    targets: [{ appId: APP.appId, stateStore: { connectionString: "unused" }, scheduler: { etcdEndpoints: ["x:1"] } }],
    ...extra,
  });

let backend: StateBackend;
let scheduler: SchedulerStore;
const openTarget: OpenTargetPorts = async () => ({
  store: new WorkflowStateStore(backend, APP),
  reminders: schedulerReminderCleaner(scheduler),
  scheduler,
  close: async () => {},
});

async function keys(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const page of (await scheduler.snapshot()).scan("dapr/")) {
    for (const e of page) out.set(e.key, Buffer.from(e.value).toString("hex"));
  }
  return out;
}

beforeAll(async () => {
  backend = await storeFactories(12)[3]!.open(); // Redis
  scheduler = openEtcdSchedulerStore({ endpoints: [inject("etcdEndpoint")], root: `t-${randomUUID()}/dapr/` });
});
afterAll(async () => {
  await scheduler?.deletePrefixes(["dapr/"]);
  await scheduler?.close();
  await backend?.close();
});
beforeEach(async () => {
  await scheduler.deletePrefixes(["dapr/"]);
  await writeInstances(backend, APP, [
    { instanceId: "old-1", scenario: "completed", createdAt: new Date(NOW.getTime() - 90 * DAY) },
    { instanceId: "recent-1", scenario: "completed", createdAt: new Date(NOW.getTime() - DAY) },
    { instanceId: "run-1", scenario: "running-timer", createdAt: new Date(NOW.getTime() - DAY) },
  ]);
  await scheduler.put(buildSeeds([...ORPHANS, ...PURGED_WITH_INSTANCE, ...KEPT]));
});

describe('retention policy orphanReminders: "delete"', () => {
  it("a dry run counts the orphans and changes nothing; the real run deletes exactly them", async () => {
    const before = await keys();
    const dry = await runRetentionPolicy(policy({ orphanReminders: "delete", dryRun: true }), {
      openTarget,
      now: NOW,
    });
    expect(dry.targets[0]?.error).toBeUndefined();
    expect(dry.targets[0]?.orphanReminders).toEqual({ found: 3, deleted: 0, kept: 0, isComplete: true });
    expect(dry.orphanReminders).toBe(3); // old-1's timer too: in a dry run its instance is still there, finished
    expect(await keys()).toEqual(before);

    const run = await runRetentionPolicy(policy({ orphanReminders: "delete" }), { openTarget, now: NOW });
    expect(run.purged).toBe(1);
    expect(run.targets[0]?.orphanReminders).toEqual({ found: 2, deleted: 2, kept: 0, isComplete: true });
    expect(run.orphanReminders).toBe(2);
    const expected = new Map(before);
    for (const entry of buildSeeds([...ORPHANS, ...PURGED_WITH_INSTANCE])) expected.delete(entry.key);
    expect(await keys()).toEqual(expected);
  });

  it("the default keeps them; a policy asking for it without a Scheduler is refused", async () => {
    const run = await runRetentionPolicy(policy({}), { openTarget, now: NOW });
    expect(run.targets[0]?.orphanReminders).toBeUndefined();
    const left = await keys();
    for (const entry of buildSeeds(ORPHANS)) expect(left.has(entry.key)).toBe(true);

    expect(() =>
      parseRetentionPolicy({
        retention: { COMPLETED: "30d" },
        orphanReminders: "delete",
        targets: [{ appId: "a", stateStore: { connectionString: "x" }, sidecar: {} }],
      }),
    ).toThrow(/targets\.0\.scheduler: orphanReminders "delete" needs the Scheduler of target default\/a/);
  });

  it("never deletes against a store that holds no instance of the app", async () => {
    const empty = await storeFactories(12)[1]!.open(); // a fresh PostgreSQL database: the wrong store
    try {
      const before = await keys();
      const run = await runRetentionPolicy(policy({ orphanReminders: "delete" }), {
        openTarget: async () => ({
          store: new WorkflowStateStore(empty, APP),
          reminders: schedulerReminderCleaner(scheduler),
          scheduler,
          close: async () => {},
        }),
        now: NOW,
      });
      // Against the wrong store every reminder looks orphaned, recent-1's retention reminder too: counted, not deleted.
      expect(run.targets[0]?.orphanReminders).toEqual({
        found: 5,
        deleted: 0,
        kept: 0,
        isComplete: true,
        skipped: "the state store holds no instance of the app",
      });
      expect(await keys()).toEqual(before);
    } finally {
      await empty.close();
    }
  });
});
