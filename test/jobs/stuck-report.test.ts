/**
 * The stuck-workflow report against every real store and the real etcd: instances in each stuck situation with
 * healthy twins beside them (test/report/stuck-fixtures.ts), and the Scheduler holding the reminders a live Dapr
 * would. Each instance must get exactly its reasons; no healthy instance may be reported.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { EtcdReminders } from "../../shared/jobs/stuck-report/etcd-reminders.ts";
import type { StuckRecord } from "../../shared/jobs/stuck-report/model.ts";
import { readInstances } from "../../shared/jobs/stuck-report/read.ts";
import type { ReminderIndex } from "../../shared/jobs/stuck-report/reminders.ts";
import { SchedulerReminderIndex, toReminder } from "../../shared/jobs/stuck-report/reminders.ts";
import type { InstanceReader } from "../../shared/jobs/stuck-report/scan.ts";
import { runStuckReport } from "../../shared/jobs/stuck-report/scan.ts";
import { instanceEntries } from "../../shared/sample-data/instance-builder.ts";
import { buildSeeds } from "../../shared/sample-data/scheduler-jobs.ts";
import { EtcdSchedulerStore } from "../../shared/scheduler/etcd-store.ts";
import { writeBatches } from "../../shared/scheduler/store.ts";
import type { StateBackend } from "../../shared/state-store/backend.ts";
import type { AppRef } from "../../shared/state-store/keys.ts";
import { instanceKeyPrefix, multiEntryKey } from "../../shared/state-store/keys.ts";
import { WorkflowStateStore } from "../../shared/state-store/workflow-store.ts";
import { dateToTimestamp } from "../../shared/workflow/history-event.ts";
import {
  DAY,
  EXPECTED,
  expectedTimes,
  expectedWithoutScheduler,
  HEALTHY,
  HOUR,
  MINUTE,
  RETENTION,
  stuckFixture,
  writeFixture,
} from "../report/stuck-fixtures.ts";
import { storeFactories } from "../support/stores.ts";

const APP: AppRef = { appId: "stuckshop", namespace: "default" };
/** Same instance IDs, all of them stuck-looking: nothing of theirs may show up in APP's report. */
const NEIGHBOURS: AppRef[] = [
  { appId: "stuckshop2", namespace: "default" },
  { appId: "stuckshop", namespace: "prod" },
];
const NOW = new Date("2026-06-15T12:00:00Z");
const fixture = stuckFixture(NOW, APP);

let scheduler: EtcdSchedulerStore;

beforeAll(async () => {
  // A private root standing for Dapr's `dapr/`: other test files share this etcd.
  scheduler = new EtcdSchedulerStore({
    endpoints: [inject("etcdEndpoint")],
    root: `t-stuckjob-${randomBytes(5).toString("hex")}/dapr/`,
  });
  for (const batch of writeBatches(buildSeeds(fixture.reminders))) await scheduler.put(batch);
});

afterAll(async () => {
  await scheduler?.deletePrefixes(["dapr/"]).catch(() => undefined);
  await scheduler?.close();
});

function reasonsById(records: readonly StuckRecord[]): Record<string, string[]> {
  return Object.fromEntries(records.map((r) => [r.instanceID, r.reasons]));
}

const factories = storeFactories(7);
for (const [index, factory] of factories.entries()) {
  describe(`stuck report on ${factory.name}`, () => {
    let backend: StateBackend;
    let store: WorkflowStateStore;
    let reminders: ReminderIndex;

    beforeAll(async () => {
      backend = await factory.open();
      await writeFixture(backend, fixture);
      for (const neighbour of NEIGHBOURS) await writeFixture(backend, stuckFixture(NOW, neighbour));
      store = new WorkflowStateStore(backend, APP);
      reminders = new SchedulerReminderIndex(scheduler, APP, { concurrency: 3 });
    });
    afterAll(async () => {
      await backend?.close();
    });

    it("reports each stuck instance with exactly its reasons and no healthy one (with the Scheduler)", async () => {
      const result = await runStuckReport(
        { store, reminders },
        { now: NOW, retention: RETENTION, pageSize: 4, readConcurrency: 3 },
      );
      expect(reasonsById(result.records)).toEqual(EXPECTED);
      for (const id of HEALTHY) expect(result.records.map((r) => r.instanceID)).not.toContain(id);
      expect(result.records.every((r) => r.appID === APP.appId && r.namespace === APP.namespace)).toBe(true);
      expect(result.summary).toMatchObject({
        scanned: fixture.instances.length,
        stuck: Object.keys(EXPECTED).length,
        reminderChecks: true,
        isComplete: true,
        unreadable: 0,
        byReason: {
          "idle-too-long": 4,
          "no-reminder": 6,
          "timer-overdue": 2,
          "waiting-for-event": 3,
          "past-retention": 1,
        },
      });
      // Oldest first: by age (time since the last update), then by ID.
      const ages = result.records.map((r) => r.ageMs);
      expect(ages).toEqual([...ages].sort((a, b) => b - a));
      expect(result.records[0]!.instanceID).toBe("s-past-retention");
    });

    it("without a Scheduler there is no no-reminder, and everything else is unchanged", async () => {
      const result = await runStuckReport({ store }, { now: NOW, retention: RETENTION, pageSize: 5 });
      expect(reasonsById(result.records)).toEqual(expectedWithoutScheduler());
      expect(result.summary.reminderChecks).toBe(false);
    });

    it("without a retention policy nothing is past-retention", async () => {
      const result = await runStuckReport({ store, reminders }, { now: NOW });
      const expected = { ...EXPECTED };
      delete expected["s-past-retention"];
      expect(reasonsById(result.records)).toEqual(expected);
    });

    if (index > 0) return; // The rest is about the job, not the store: once is enough.

    it("says why, in each reason's details", async () => {
      const { records } = await runStuckReport({ store, reminders }, { now: NOW, retention: RETENTION });
      const byId = new Map(records.map((r) => [r.instanceID, r]));
      const rfc = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, "Z");

      for (const record of records) {
        expect({ created: record.created, lastUpdate: record.lastUpdate }).toEqual(
          expectedTimes(fixture, record.instanceID),
        );
      }

      const overdue = byId.get("s-overdue-no-reminder")!;
      expect(overdue.details["timer-overdue"]).toEqual({
        timers: [
          {
            timerId: 2,
            name: "retry-delay",
            origin: "createTimer",
            fireAt: rfc(new Date(NOW.getTime() - 3 * HOUR)),
            overdueMs: 3 * HOUR,
          },
        ],
        graceMs: HOUR,
      });
      expect(overdue.details["no-reminder"]).toEqual({
        missing: [`timer-2 (timer 2 "retry-delay" due ${rfc(new Date(NOW.getTime() - 3 * HOUR))})`],
        found: [],
      });

      const activity = byId.get("s-no-reminder-activity")!;
      expect(activity.details["no-reminder"]).toEqual({
        missing: ["run-activity of activity actor s-no-reminder-activity::1 (ReserveInventory, task 1)"],
        found: [], // the decoys (another app, look-alike actor IDs) are not this instance's
      });
      expect(activity.waitingFor).toEqual(["activity ReserveInventory (task 1)"]);

      const inbox = byId.get("s-no-reminder-inbox")!.details["no-reminder"]!;
      expect(inbox.missing).toEqual([
        "a workflow reminder (new-event-…/start-…) to run 1 inbox event (executionTerminated)",
      ]);

      expect(byId.get("s-activity-result-other")!.details["no-reminder"]).toEqual({
        missing: ["run-activity of activity actor s-activity-result-other::1 (ChargePayment, task 1)"],
        found: ["workflow/stuckshop/s-activity-result-other/activity-result-r0Xy"],
      });

      const timeout = byId.get("s-event-timeout")!.details["waiting-for-event"]!;
      expect(timeout).toMatchObject({
        eventName: "ManagerApproval",
        eventNames: ["ManagerApproval"],
        thresholdMs: DAY,
        timeoutAt: rfc(new Date(NOW.getTime() + 4 * DAY)),
      });
      expect(Math.abs(timeout.waitingMs - (3 * DAY - MINUTE))).toBeLessThan(1000);
      expect(byId.get("s-event-forever-sentinel")!.details["waiting-for-event"]).toMatchObject({
        eventName: "PaymentReceived",
        timeoutAt: null,
      });
      expect(byId.get("s-event-forever-old-sdk")!.details["waiting-for-event"]).toMatchObject({
        eventName: null,
        eventNames: [],
        timeoutAt: null,
        waitingMs: 3 * DAY - 2, // since the last history event (turn events are a millisecond apart)
      });

      const pending = byId.get("s-idle-pending")!;
      expect(pending).toMatchObject({ created: null, lastUpdate: null, ageMs: 3 * DAY, ageFromCreationMs: 3 * DAY });
      expect(pending.details["idle-too-long"]).toEqual({
        since: rfc(new Date(NOW.getTime() - 3 * DAY)),
        idleMs: 3 * DAY,
        thresholdMs: DAY,
      });

      const stalled = byId.get("s-idle-stalled")!;
      expect(stalled.waitingFor).toEqual(["a fix for the stall: patch mismatch: v2 not registered"]);
      expect(stalled.ageFromCreationMs).toBe(3 * DAY);

      const retention = byId.get("s-past-retention")!.details["past-retention"]!;
      // Completed a minute after it started (the ExecutionCompleted is a millisecond before the turn's end).
      const completed = new Date(NOW.getTime() - 40 * DAY + MINUTE - 1);
      expect(retention).toEqual({
        since: rfc(completed),
        ageMs: NOW.getTime() - completed.getTime(),
        retentionMs: 30 * DAY,
        ageFrom: "completed",
      });
    });

    it("reads reminders the same through batched etcd transactions (EtcdReminders) as through the port", async () => {
      const leftovers = buildSeeds(
        [
          ["h-completed", "timer-9"],
          ["ghost-1", "new-event-x"],
        ].map(([instanceId, name]) => ({ target: { workflow: { appId: APP.appId, instanceId: instanceId! } }, name })),
      );
      const source = new EtcdReminders({ endpoints: [inject("etcdEndpoint")], root: scheduler.root });
      try {
        const batched = source.forApp(APP);
        const queries = [
          ...fixture.instances.map((b) => ({ instanceId: b.instanceId })),
          // A cross-app activity: its run-activity reminder lives under the other app's activity actor type.
          { instanceId: "s-no-reminder-activity", activityApps: [{ appId: "stuckshop2", namespace: "default" }] },
        ];
        const viaPort = await reminders.remindersOf(queries);
        const viaTxn = await batched.remindersOf(queries);
        const sorted = (m: Map<string, { displayName: string }[]>) =>
          Object.fromEntries([...m].map(([id, rs]) => [id, rs.map((r) => r.displayName).sort()]));
        expect(sorted(viaTxn)).toEqual(sorted(viaPort));
        expect(sorted(viaTxn)["s-no-reminder-activity"]).toEqual(["activity/stuckshop2/s-no-reminder-activity::1::1"]);
        // A finished instance's leftover timer and a reminder of an instance with no state are orphans; the fixture's
        // reminders are all due "now" (within the grace), so none of them counts.
        await scheduler.put(leftovers);
        const result = await runStuckReport(
          { store, reminders: batched },
          { now: NOW, retention: RETENTION, pageSize: 4 },
        );
        expect(reasonsById(result.records)).toEqual(EXPECTED);
        expect(result.summary.orphanReminders).toEqual({
          scanned: 13,
          total: 2,
          byReason: { "no-instance": 1, "instance-finished": 1 },
          isComplete: true,
        });
      } finally {
        await scheduler.deleteKeys(leftovers.map((e) => e.key));
        await source.close();
      }
    });

    it("honours per-status thresholds and the event-wait threshold", async () => {
      const { records } = await runStuckReport(
        { store, reminders },
        {
          now: NOW,
          thresholds: { SUSPENDED: HOUR, RUNNING: 4 * DAY },
          eventWaitThresholdMs: 5 * DAY,
          timerOverdueMs: 4 * HOUR,
        },
      );
      const got = reasonsById(records);
      expect(got["h-suspended"]).toEqual(["idle-too-long"]); // SUSPENDED 2h > 1h
      expect(got["s-idle-activity"]).toBeUndefined(); // RUNNING 3d < 4d
      expect(got["s-event-timeout"]).toBeUndefined(); // waiting 3d < 5d
      expect(got["s-overdue-with-reminder"]).toBeUndefined(); // 3h past due < 4h
      expect(got["s-overdue-no-reminder"]).toEqual(["no-reminder"]);
      expect(got["s-idle-pending"]).toEqual(["idle-too-long"]); // PENDING keeps 24h
    });

    it("reads whole histories only of candidates, never of finished or recently updated instances", async () => {
      const read: string[] = [];
      const batches: number[] = [];
      const reader: InstanceReader = {
        readMany: (ids) => {
          read.push(...ids);
          batches.push(ids.length);
          return readInstances(store, ids);
        },
      };
      await runStuckReport({ store, reader }, { now: NOW, retention: RETENTION, pageSize: 12, readBatchSize: 3 });
      for (const id of ["h-completed", "h-failed", "s-past-retention", "h-suspended", "h-running-new"]) {
        expect(read, id).not.toContain(id);
      }
      for (const id of ["s-idle-activity", "s-idle-suspended", "h-pending", "s-event-forever-old-sdk"]) {
        expect(read, id).toContain(id);
      }
      expect(Math.max(...batches)).toBeLessThanOrEqual(3);
      expect(new Set(read).size).toBe(read.length);
      read.length = 0;
      // With reminder checks, anything quiet for the grace period is read (h-running-new: 20m > 5m).
      await runStuckReport({ store, reminders, reader }, { now: NOW });
      expect(read).toContain("h-running-new");
      expect(read).not.toContain("h-completed");
    });

    it("reads a batch exactly as readInstance reads each instance (custom status aside)", async () => {
      const ids = fixture.instances.map((b) => b.instanceId);
      const outcomes = await readInstances(store, [...ids, "no-such-instance"]);
      expect(outcomes.at(-1)).toEqual({ instanceId: "no-such-instance", missing: true });
      for (const outcome of outcomes.slice(0, -1)) {
        expect("record" in outcome).toBe(true);
        if (!("record" in outcome)) continue;
        const single = await store.readInstance(outcome.instanceId);
        expect(outcome.record).toEqual({ ...single, customStatus: undefined });
      }
    });

    it("asks the Scheduler only about candidates that could lack a reminder, a page at a time", async () => {
      const batches: string[][] = [];
      const counting: ReminderIndex = {
        remindersOf: (queries) => {
          batches.push(queries.map((q) => q.instanceId));
          return reminders.remindersOf(queries);
        },
      };
      await runStuckReport({ store, reminders: counting }, { now: NOW, pageSize: 5 });
      const asked = batches.flat();
      expect(batches.every((b) => b.length <= 5)).toBe(true);
      // Waiting for a child, or for an event only (no timer to fire, empty inbox): nothing to ask.
      for (const id of ["h-child", "h-indefinite-recent", "s-event-forever-old-sdk", "h-completed", "h-suspended"]) {
        expect(asked).not.toContain(id);
      }
      expect(asked).toContain("s-no-reminder-timer");
      expect(new Set(asked).size).toBe(asked.length);
    });

    it("drops a no-reminder finding when the instance moved while its reminders were read", async () => {
      const id = "s-no-reminder-timer";
      const original = fixture.instances.find((b) => b.instanceId === id)!;
      const moved = structuredClone(original);
      moved.history.push({ eventId: -1, timestamp: dateToTimestamp(NOW), workflowStarted: {} });
      const racing: ReminderIndex = {
        async remindersOf(queries) {
          const found = await reminders.remindersOf(queries);
          // Meanwhile Dapr fires the timer: the instance's state changes after its reminders were read.
          if (queries.some((q) => q.instanceId === id)) await backend.setMany(instanceEntries(APP, moved));
          return found;
        },
      };
      try {
        const { records } = await runStuckReport({ store, reminders: racing }, { now: NOW, pageSize: 50 });
        const got = reasonsById(records);
        expect(got[id]).toBeUndefined();
        expect(got["s-no-reminder-activity"]).toEqual(["no-reminder"]);
      } finally {
        await backend.setMany(instanceEntries(APP, original));
        await backend.deleteMany([instanceKeyPrefix(APP, id) + multiEntryKey("history", original.history.length)]);
      }
    });

    it("stops at the time budget and says the report is partial", async () => {
      const result = await runStuckReport({ store }, { now: NOW, pageSize: 4, timeLeftMs: () => 1000 });
      expect(result.summary.isComplete).toBe(false);
      expect(result.summary.stoppedBecause).toBe("time-budget");
      expect(result.summary.scanned).toBeLessThanOrEqual(4);
    });

    it("keeps the oldest records up to the limit; counts stay exact", async () => {
      const all = await runStuckReport({ store, reminders }, { now: NOW, retention: RETENTION });
      const some = await runStuckReport({ store, reminders }, { now: NOW, retention: RETENTION, recordLimit: 3 });
      expect(some.records).toEqual(all.records.slice(0, 3));
      expect(some.truncated).toBe(true);
      expect(some.summary.stuck).toBe(all.summary.stuck);
    });
  });
}

describe("activity actor IDs in both of Dapr's forms", () => {
  // Dapr master: `<instance>::<task>` (pkg/actors/targets/workflow/common/common.go ActivityActorID); before it,
  // `<instance>::<task>::<generation>`. Keys written out by hand in the Scheduler's layout.
  const key = (actorId: string) =>
    `dapr/jobs/actorreminder||default||dapr.internal.default.stuckshop.activity||${actorId}||run-activity`;
  const WF = "dapr.internal.default.stuckshop.workflow";
  const task = (actorId: string, instanceId: string) =>
    toReminder(key(actorId), new Uint8Array(), instanceId, WF)?.taskId;

  it("reads the task of `<instance>::<task>` and of `<instance>::<task>::<generation>`", () => {
    expect(task("order-1::3", "order-1")).toBe(3);
    expect(task("order-1::3::2", "order-1")).toBe(3);
    // An instance ID that itself ends in `::<digits>` keeps its own activities apart from its neighbour's.
    expect(task("order-1::3::2", "order-1::3")).toBe(2);
    expect(task("order-1::x", "order-1")).toBeUndefined();
    expect(task("order-10::3", "order-1")).toBeUndefined();
  });
});
