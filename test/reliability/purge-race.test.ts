/**
 * A direct purge decides from its scan and deletes later; whatever happens in between must never make it delete an
 * instance that is no longer what it decided on. Against every real store (and a real etcd for the reminders):
 *   - instances that gain an event or are started again under the same ID after the scan, before the deleting
 *     transaction, are skipped whole, with their reminders, and everything else due is purged;
 *   - the same with restarts racing a running purge (no hook; the checker reads the store afterwards);
 *   - two purges of one store at once count each instance once, and neither fails on the other's deletions.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { RetentionOptions } from "../../shared/jobs/retention-purge.ts";
import { runRetentionPurge } from "../../shared/jobs/retention-purge.ts";
import { buildSeeds, type SeedJob } from "../../shared/sample-data/scheduler-jobs.ts";
import { writeInstances } from "../../shared/sample-data/writer.ts";
import { openEtcdSchedulerStore } from "../../shared/scheduler/etcd-store.ts";
import type { SchedulerStore } from "../../shared/scheduler/store.ts";
import type { StateBackend } from "../../shared/state-store/backend.ts";
import type { AppRef } from "../../shared/state-store/keys.ts";
import { instanceKeyPrefix, multiEntryKey } from "../../shared/state-store/keys.ts";
import { WorkflowStateStore } from "../../shared/state-store/workflow-store.ts";
import { schedulerReminderCleaner } from "../../shared/wiring/target-ports.ts";
import { decodeMetadata, encodeMetadata } from "../../shared/workflow/history-event.ts";
import { dumpStore, storeFactories } from "../support/stores.ts";

const NOW = new Date();
const DAY = 86_400_000;
const RETENTION: RetentionOptions["retention"] = { COMPLETED: 30 * DAY };
const old = new Date(NOW.getTime() - 60 * DAY);

function completed(count: number, prefix = "done") {
  return Array.from({ length: count }, (_, i) => ({
    instanceId: `${prefix}-${i}`,
    scenario: "completed" as const,
    createdAt: old,
  }));
}

/** The backend, with `beforeDelete` run once before the first guarded deletion is let through. */
function withHookBeforeDelete(backend: StateBackend, beforeDelete: () => Promise<void>): StateBackend {
  let hook: Promise<void> | undefined;
  return {
    kind: backend.kind,
    location: backend.location,
    scanKeys: (request) => backend.scanKeys(request),
    getMany: (keys) => backend.getMany(keys),
    setMany: (entries) => backend.setMany(entries),
    deleteMany: (keys) => backend.deleteMany(keys),
    async deleteIfUnchanged(groups) {
      hook ??= beforeDelete();
      await hook;
      return backend.deleteIfUnchanged(groups);
    },
    close: () => backend.close(),
  };
}

/** Appends one more history event (a copy of the first) the way Dapr does: new key, metadata count bumped. */
async function appendEvent(backend: StateBackend, app: AppRef, instanceId: string): Promise<void> {
  const prefix = instanceKeyPrefix(app, instanceId);
  const values = await backend.getMany([`${prefix}metadata`, prefix + multiEntryKey("history", 0)]);
  const metadata = decodeMetadata(values.get(`${prefix}metadata`)!);
  await backend.setMany([
    [prefix + multiEntryKey("history", metadata.historyLength), values.get(prefix + multiEntryKey("history", 0))!],
    [`${prefix}metadata`, encodeMetadata({ ...metadata, historyLength: metadata.historyLength + 1 })],
  ]);
}

/**
 * Writes a new RUNNING run under the ID in one transaction. The database may pick this writer as a deadlock victim
 * against the purge's locks; Dapr's actor retries its save then, and so does this.
 */
async function restart(backend: StateBackend, app: AppRef, instanceId: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await writeInstances(backend, app, [{ instanceId, scenario: "running-timer", createdAt: NOW }]);
      return;
    } catch (error) {
      if (attempt >= 5 || !/deadlock/i.test(String(error))) throw error;
    }
  }
}

async function keysOf(backend: StateBackend, app: AppRef, instanceId: string): Promise<Map<string, string>> {
  return dumpStore(backend, instanceKeyPrefix(app, instanceId));
}

async function reminderKeys(scheduler: SchedulerStore): Promise<string[]> {
  const keys: string[] = [];
  for await (const page of (await scheduler.snapshot()).scan("dapr/")) for (const e of page) keys.push(e.key);
  return keys.sort();
}

for (const factory of storeFactories(13)) {
  describe(`direct purge against changes after its scan, on ${factory.name}`, () => {
    let backend: StateBackend;
    let scheduler: SchedulerStore;

    beforeAll(async () => {
      backend = await factory.open();
      scheduler = openEtcdSchedulerStore({ endpoints: [inject("etcdEndpoint")], root: `t-${randomUUID()}/dapr/` });
    });
    afterAll(async () => {
      await scheduler?.deletePrefixes(["dapr/"]);
      await scheduler?.close();
      await backend?.close();
    });

    it("skips instances that gained an event or restarted between scan and delete, and keeps their reminders", async () => {
      const app: AppRef = { appId: `race-${randomUUID().slice(0, 6)}`, namespace: "default" };
      await writeInstances(backend, app, completed(300), { batchSize: 150 });
      const reminder = (instanceId: string, name: string): SeedJob => ({
        target: { workflow: { appId: app.appId, instanceId } },
        name,
      });
      const retention: SeedJob = {
        target: { actor: { type: `dapr.internal.default.${app.appId}.retentioner`, id: "done-250" } },
        name: "retention",
      };
      // Reminders of a purged instance (its workflow timer and Dapr's retention reminder) go with it.
      await scheduler.put(buildSeeds([reminder("done-200", "timer-0"), retention, reminder("done-15", "timer-0")]));

      const appended = Array.from({ length: 10 }, (_, i) => `done-${i}`);
      const restarted = Array.from({ length: 10 }, (_, i) => `done-${10 + i}`);
      const changed = new Map<string, Map<string, string>>();
      const racing = withHookBeforeDelete(backend, async () => {
        for (const id of appended) await appendEvent(backend, app, id);
        await writeInstances(
          backend,
          app,
          restarted.map((instanceId) => ({ instanceId, scenario: "running-timer" as const, createdAt: NOW })),
        );
        // The new run of done-15 schedules a reminder of its own.
        await scheduler.put(buildSeeds([reminder("done-15", "new-run-timer")]));
        for (const id of [...appended, ...restarted]) changed.set(id, await keysOf(backend, app, id));
      });

      const result = await runRetentionPurge(
        { store: new WorkflowStateStore(racing, app), reminders: schedulerReminderCleaner(scheduler) },
        // One page: the whole scan is done before the hook changes anything.
        { retention: RETENTION, mode: "direct", now: NOW, reportLimit: 1000, pageSize: 1000 },
      );

      expect(result.failed.slice(0, 1)).toEqual([]);
      expect(result.purged).toBe(280);
      expect(result.skippedCount).toBe(20);
      expect(result.skipped.map((s) => s.instanceID).sort()).toEqual([...appended, ...restarted].sort());
      expect(result.skipped[0]!.reason).toBe("changed since it was selected (a new event or a new run)");
      for (const [id, keys] of changed) expect(await keysOf(backend, app, id)).toEqual(keys);
      for (const { instanceId } of completed(300).slice(20))
        expect((await keysOf(backend, app, instanceId)).size).toBe(0);
      expect(result.remindersDeleted).toBe(2);
      expect(await reminderKeys(scheduler)).toEqual(
        buildSeeds([reminder("done-15", "timer-0"), reminder("done-15", "new-run-timer")])
          .map((e) => e.key)
          .sort(),
      );
      await scheduler.deletePrefixes(["dapr/"]);
    });

    it("never deletes an instance restarted while the purge runs", async () => {
      const app: AppRef = { appId: `restart-${randomUUID().slice(0, 6)}`, namespace: "default" };
      const count = 1000;
      await writeInstances(backend, app, completed(count), { batchSize: 250 });
      const store = new WorkflowStateStore(backend, app);
      const restarted = Array.from({ length: 150 }, (_, i) => `done-${(i * 7) % count}`);
      let stop = false;
      const written: string[] = [];
      const restarting = (async () => {
        for (const instanceId of restarted) {
          if (stop) break;
          await restart(backend, app, instanceId);
          written.push(instanceId);
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
      })();

      // Each guarded deletion waits for one more restart to be written, so the restarts keep racing the purge however
      // fast it runs.
      let seen = 0;
      const racing = new Proxy(backend, {
        get(target, property, receiver) {
          if (property === "deleteIfUnchanged") {
            return async (groups: Parameters<StateBackend["deleteIfUnchanged"]>[0]) => {
              while (!stop && written.length <= seen && written.length < restarted.length) {
                await new Promise((resolve) => setTimeout(resolve, 1));
              }
              seen = written.length;
              return target.deleteIfUnchanged(groups);
            };
          }
          const value = Reflect.get(target, property, receiver);
          return typeof value === "function" ? value.bind(target) : value;
        },
      });
      const result = await runRetentionPurge(
        { store: new WorkflowStateStore(racing, app) },
        { retention: RETENTION, mode: "direct", now: NOW, reportLimit: 2000, pageSize: 50 },
      );
      stop = true;
      await restarting;

      expect(result.failed).toEqual([]);
      expect(written.length).toBeGreaterThan(10);
      // Every restart that was written is intact and RUNNING, whether it came before, during or after its decision.
      for (const instanceId of written) expect((await store.readInstance(instanceId))?.runtimeStatus).toBe("RUNNING");
      // Nothing else is left, and the counts add up.
      const kept = new Set(written);
      for (const { instanceId } of completed(count)) {
        if (!kept.has(instanceId)) expect(await store.readInstance(instanceId)).toBeUndefined();
      }
      expect(result.purged + result.skippedCount + result.alreadyGone).toBe(result.matched);
    });

    it("two purges at once count each instance once and neither fails", async () => {
      const app: AppRef = { appId: `twice-${randomUUID().slice(0, 6)}`, namespace: "default" };
      await writeInstances(backend, app, completed(1200), { batchSize: 300 });
      const purge = () =>
        runRetentionPurge(
          { store: new WorkflowStateStore(backend, app) },
          { retention: RETENTION, mode: "direct", now: NOW, pageSize: 100 },
        );

      const [a, b] = await Promise.all([purge(), purge()]);

      expect([a.failed, b.failed]).toEqual([[], []]);
      expect(a.purged + b.purged).toBe(1200);
      expect(a.purged + a.alreadyGone + a.skippedCount).toBe(a.matched);
      expect(b.purged + b.alreadyGone + b.skippedCount).toBe(b.matched);
      expect((await dumpStore(backend, `${app.appId}||`)).size).toBe(0);
    });
  });
}
