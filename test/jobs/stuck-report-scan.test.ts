/**
 * The stuck report classifies from the rows its scan already read (analysis decoding, ListOptions.withEvents) where
 * the store range-scans: cross-checked against the whole-record path (every candidate read again and decoded in full)
 * on the same store, for a varied corpus — the stuck fixture's situations, every builder scenario at several ages
 * (timers pending and fired, activities done and pending, external events, inbox, child workflows, suspended,
 * stalled, finished), and corrupt rows that must be reported unreadable by both.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { analyzeInstance } from "../../shared/jobs/stuck-report/analyze.ts";
import { readInstances } from "../../shared/jobs/stuck-report/read.ts";
import { SchedulerReminderIndex } from "../../shared/jobs/stuck-report/reminders.ts";
import type { StuckReportPorts } from "../../shared/jobs/stuck-report/scan.ts";
import { runStuckReport } from "../../shared/jobs/stuck-report/scan.ts";
import type { BuiltInstance } from "../../shared/sample-data/instance-builder.ts";
import { buildInstance, instanceEntries, SCENARIOS } from "../../shared/sample-data/instance-builder.ts";
import { buildSeeds } from "../../shared/sample-data/scheduler-jobs.ts";
import { EtcdSchedulerStore } from "../../shared/scheduler/etcd-store.ts";
import { writeBatches } from "../../shared/scheduler/store.ts";
import type { StateBackend } from "../../shared/state-store/backend.ts";
import type { AppRef } from "../../shared/state-store/keys.ts";
import { instanceKeyPrefix, multiEntryKey } from "../../shared/state-store/keys.ts";
import type { InstanceRecord } from "../../shared/state-store/workflow-store.ts";
import { WorkflowStateStore } from "../../shared/state-store/workflow-store.ts";
import { DAY, HOUR, RETENTION, stuckFixture, writeFixture } from "../report/stuck-fixtures.ts";
import { storeFactories } from "../support/stores.ts";

const APP: AppRef = { appId: "scanshop", namespace: "default" };
const NEIGHBOUR: AppRef = { appId: "scanshop2", namespace: "default" };
const NOW = new Date("2026-06-15T12:00:00Z");
const fixture = stuckFixture(NOW, APP);

/** Every scenario at ages from minutes to weeks, timers due in the past and the future. */
function corpus(): BuiltInstance[] {
  const out: BuiltInstance[] = [];
  const ages = [20 * 60_000, 3 * HOUR, 2 * DAY, 9 * DAY];
  for (const [s, scenario] of SCENARIOS.entries()) {
    for (const [a, age] of ages.entries()) {
      const createdAt = new Date(NOW.getTime() - age);
      const built = buildInstance({
        instanceId: `c-${scenario}-${a}`,
        scenario,
        createdAt,
        durationMs: 60_000,
        activities: (s + a) % 4,
        input: { order: s, blob: "x".repeat(500) },
        timerFireAt: new Date(createdAt.getTime() + (a % 2 === 0 ? 30 * 60_000 : 20 * DAY)),
        eventName: a % 2 === 0 ? "PaymentReceived" : "ManagerApproval",
      });
      out.push(built);
      for (const child of built.children) out.push(buildInstance(child));
    }
  }
  return out;
}

/** Corrupt instances both paths must report unreadable, never classify. */
const CORRUPT = {
  truncated: "x-truncated-history", // a history row cut short: not a protobuf HistoryEvent
  missing: "x-missing-history", // metadata counts a history row that is not there
  empty: "x-empty-inbox", // an empty inbox row
};

async function writeCorrupt(backend: StateBackend): Promise<void> {
  const running = (instanceId: string) =>
    buildInstance({ instanceId, scenario: "running-activity", createdAt: new Date(NOW.getTime() - 3 * DAY) });
  for (const id of Object.values(CORRUPT)) {
    const built = running(id);
    if (id === CORRUPT.empty) built.inbox.push({ eventId: -1, timestamp: { seconds: 1 }, eventRaised: { name: "e" } });
    await backend.setMany(instanceEntries(APP, built));
  }
  const prefix = (id: string) => instanceKeyPrefix(APP, id);
  await backend.setMany([
    [prefix(CORRUPT.truncated) + multiEntryKey("history", 1), Uint8Array.from([0x0a, 0x7f, 0x01])],
    [prefix(CORRUPT.empty) + multiEntryKey("inbox", 0), new Uint8Array(0)],
  ]);
  await backend.deleteMany([prefix(CORRUPT.missing) + multiEntryKey("history", 2)]);
}

let scheduler: EtcdSchedulerStore;

beforeAll(async () => {
  scheduler = new EtcdSchedulerStore({
    endpoints: [inject("etcdEndpoint")],
    root: `t-stuckscan-${randomBytes(5).toString("hex")}/dapr/`,
  });
  for (const batch of writeBatches(buildSeeds(fixture.reminders))) await scheduler.put(batch);
});

afterAll(async () => {
  await scheduler?.deletePrefixes(["dapr/"]).catch(() => undefined);
  await scheduler?.close();
});

/** The backend with its reads counted (getMany and getManyReporting: the second read the scan path avoids). */
function counting(backend: StateBackend): { backend: StateBackend; reads: () => number } {
  let reads = 0;
  const wrapped = new Proxy(backend, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if ((property === "getMany" || property === "getManyReporting") && typeof value === "function") {
        return (...args: unknown[]) => {
          reads++;
          return value.apply(target, args);
        };
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { backend: wrapped, reads: () => reads };
}

for (const factory of storeFactories(5)) {
  describe(`stuck report from the scanned rows on ${factory.name}`, () => {
    let backend: StateBackend;
    let store: WorkflowStateStore;
    let rangeScans: boolean;
    let ports: StuckReportPorts;

    beforeAll(async () => {
      backend = await factory.open();
      await writeFixture(backend, fixture);
      await writeFixture(backend, stuckFixture(NOW, NEIGHBOUR));
      await backend.setMany(corpus().flatMap((built) => instanceEntries(APP, built)));
      await writeCorrupt(backend);
      store = new WorkflowStateStore(backend, APP);
      rangeScans = backend.scanEntries !== undefined;
      ports = { store, reminders: new SchedulerReminderIndex(scheduler, APP, { concurrency: 3 }) };
    });
    afterAll(async () => {
      await backend?.close();
    });

    it("finds exactly what reading every candidate whole finds", async () => {
      const whole = { ...ports, reader: { readMany: (ids: readonly string[]) => readInstances(store, ids) } };
      for (const options of [{ pageSize: 7 }, { pageSize: 200, retention: RETENTION }]) {
        const expected = await runStuckReport(whole, { now: NOW, ...options, recordLimit: 10_000 });
        const got = await runStuckReport(ports, { now: NOW, ...options, recordLimit: 10_000 });
        expect(got.records).toEqual(expected.records);
        // The scan decodes inboxes itself, so it counts the instance with an empty inbox row as unreadable without
        // listing it; the whole path lists it, then finds it unreadable when it reads the candidate.
        const listedThenUnreadable = rangeScans ? 1 : 0;
        expect(got.summary).toEqual({ ...expected.summary, scanned: expected.summary.scanned - listedThenUnreadable });
        const byId = (a: { instanceID: string }, b: { instanceID: string }) => a.instanceID.localeCompare(b.instanceID);
        expect(got.unreadable.sort(byId)).toEqual(expected.unreadable.sort(byId));
        expect(got.summary.stuck).toBeGreaterThan(20);
        expect(got.summary.byReason["no-reminder"]).toBeGreaterThan(0);
        expect(got.unreadable.map((u) => u.instanceID).sort()).toEqual(Object.values(CORRUPT).sort());
      }
    });

    it("reads no candidate a second time where the store range-scans; elsewhere reads them whole", async () => {
      const { backend: counted, reads } = counting(backend);
      const result = await runStuckReport({ store: new WorkflowStateStore(counted, APP) }, { now: NOW });
      expect(result.summary.read).toBeGreaterThan(20);
      if (rangeScans) expect(reads()).toBe(0);
      else expect(reads()).toBeGreaterThan(0);
    });

    it("analyses each instance's scanned events exactly as its whole record", async () => {
      let compared = 0;
      for await (const page of store.listInstances({ pageSize: 9, withEvents: () => true })) {
        if (!rangeScans) {
          expect(page.events).toBeUndefined(); // key pages: the caller reads what it needs
          continue;
        }
        for (const summary of page.instances) {
          const events = page.events!.get(summary.instanceId)!;
          const whole = (await store.readInstance(summary.instanceId)) as InstanceRecord;
          const { input: _i, output: _o, failureDetails: _f, history: _h, inbox: _b, ...wholeSummary } = whole;
          expect(summary).toEqual(wholeSummary);
          expect(events.inbox.length).toBe(whole.inbox.length);
          expect(analyzeInstance({ ...summary, ...events }, APP)).toEqual(analyzeInstance(whole, APP));
          compared++;
        }
      }
      if (rangeScans) expect(compared).toBeGreaterThan(80);
    });

    it("hands out events only for the instances asked for", async () => {
      for await (const page of store.listInstances({ withEvents: (s) => s.runtimeStatus === "SUSPENDED" })) {
        if (!rangeScans) continue;
        const suspended = page.instances.filter((s) => s.runtimeStatus === "SUSPENDED").map((s) => s.instanceId);
        expect([...page.events!.keys()].sort()).toEqual(suspended.sort());
      }
    });
  });
}
