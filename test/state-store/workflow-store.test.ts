/**
 * Lists and reads instances written in Dapr's exact layout by the test-data writer, on every real store the harness
 * runs, and checks the derived fields against what the Dapr runtime derives.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BuiltInstance, InstanceSpec } from "../../shared/sample-data/instance-builder.ts";
import { EXPECTED_STATUS, SCENARIOS } from "../../shared/sample-data/instance-builder.ts";
import { writeInstances } from "../../shared/sample-data/writer.ts";
import type { StateBackend } from "../../shared/state-store/backend.ts";
import type { AppRef } from "../../shared/state-store/keys.ts";
import { instanceKeyPrefix, METADATA_KEY, multiEntryKey } from "../../shared/state-store/keys.ts";
import type { InstanceSummary, UnreadableInstance } from "../../shared/state-store/workflow-store.ts";
import { WorkflowStateStore } from "../../shared/state-store/workflow-store.ts";
import { deriveState } from "../../shared/workflow/runtime-status.ts";
import { storeFactories } from "../support/stores.ts";

const APP: AppRef = { appId: "my_app", namespace: "default" };
const NEIGHBOURS: AppRef[] = [
  { appId: "myXapp", namespace: "default" }, // `_` must not act as a LIKE wildcard
  { appId: "my_app", namespace: "staging" },
  { appId: "other", namespace: "default" },
];

function specs(): InstanceSpec[] {
  const base = Date.parse("2026-06-01T12:00:00Z");
  return SCENARIOS.map((scenario, i) => ({
    instanceId: `wf-${i}-${scenario}`,
    scenario,
    createdAt: new Date(base - i * 3_600_000),
    durationMs: 90_000 + i * 1000,
    customStatus: i % 3 === 0 ? JSON.stringify({ step: i }) : undefined,
    legacyJson: scenario === "canceled",
  }));
}

// Redis logical DB 2 belongs to this file.
for (const factory of storeFactories(2)) {
  describe(`WorkflowStateStore on ${factory.name}`, () => {
    let backend: StateBackend;
    let written: BuiltInstance[];
    let store: WorkflowStateStore;

    beforeAll(async () => {
      backend = await factory.open();
      written = await writeInstances(backend, APP, specs());
      for (const neighbour of NEIGHBOURS) await writeInstances(backend, neighbour, specs().slice(0, 3));
      store = new WorkflowStateStore(backend, APP);
    });
    afterAll(async () => {
      await backend?.close();
    });

    async function listAll(pageSize: number) {
      const instances: InstanceSummary[] = [];
      const unreadable: UnreadableInstance[] = [];
      let pages = 0;
      for await (const page of store.listInstances({ pageSize })) {
        pages++;
        instances.push(...page.instances);
        unreadable.push(...page.unreadable);
      }
      return { instances, unreadable, pages };
    }

    it("lists exactly this app's instances, children included, across many small pages", async () => {
      const { instances, unreadable, pages } = await listAll(3);
      expect(unreadable).toEqual([]);
      expect(pages).toBeGreaterThan(3);
      const ids = instances.map((i) => i.instanceId).sort();
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids).toEqual(written.map((w) => w.instanceId).sort());
    });

    it("derives name, status, times, custom status and failure message as the Dapr runtime does", async () => {
      const { instances } = await listAll(100);
      const byId = new Map(instances.map((i) => [i.instanceId, i]));
      for (const spec of specs()) {
        const got = byId.get(spec.instanceId)!;
        const built = written.find((w) => w.instanceId === spec.instanceId)!;
        const expected = deriveState(built.history, built.inbox);
        expect(got.runtimeStatus, spec.scenario).toBe(EXPECTED_STATUS[spec.scenario]);
        expect(got.name).toBe(expected.name);
        expect(got.createdAt?.toISOString()).toBe(
          spec.scenario === "pending" ? undefined : spec.createdAt.toISOString(),
        );
        expect(got.lastUpdatedAt?.getTime()).toBe(
          spec.scenario === "pending" ? undefined : spec.createdAt.getTime() + (spec.durationMs ?? 0),
        );
        expect(got.customStatus).toBe(spec.customStatus);
        expect(got.failureMessage).toBe(expected.failureDetails?.errorMessage);
        expect(got.isTerminal).toBe(
          ["COMPLETED", "FAILED", "TERMINATED", "CANCELED", "CONTINUED_AS_NEW"].includes(got.runtimeStatus),
        );
        expect(got.namespace).toBe("default");
        expect(got.appId).toBe("my_app");
      }
      const child = instances.find((i) => i.parentInstanceId);
      expect(child?.instanceId).toMatch(/^wf-\d+-completed-with-children:000[01]$/);
    });

    it("reads one instance whole: every history and inbox event, custom status and metadata", async () => {
      for (const built of written) {
        const record = await store.readInstance(built.instanceId);
        expect(record).toBeDefined();
        expect(record!.history.map((e) => e.eventType)).toEqual(
          built.history.map((e) => Object.keys(e).find((k) => k !== "eventId" && k !== "timestamp")),
        );
        expect(record!.inbox).toHaveLength(built.inbox.length);
        expect(record!.metadata).toMatchObject({
          historyLength: built.history.length,
          inboxLength: built.inbox.length,
        });
        expect(record!.customStatus).toBe(built.customStatus);
      }
    });

    it("returns undefined for an instance that does not exist", async () => {
      expect(await store.readInstance("no-such-instance")).toBeUndefined();
    });

    it("reports an undecodable row by key and reason and goes on with the rest", async () => {
      const victim = written.find((w) => w.history.length > 3)!;
      const badKey = instanceKeyPrefix(APP, victim.instanceId) + multiEntryKey("history", 2);
      const original = (await backend.getMany([badKey])).get(badKey)!;
      await backend.setMany([[badKey, Buffer.from([0x0a, 0xff, 0xff, 0xff])]]);
      try {
        const { instances, unreadable } = await listAll(5);
        expect(unreadable).toEqual([
          { instanceId: victim.instanceId, key: badKey, reason: expect.stringMatching(/not a protobuf HistoryEvent/) },
        ]);
        expect(instances).toHaveLength(written.length - 1);
      } finally {
        await backend.setMany([[badKey, original]]);
      }
    });

    it("reports garbage metadata by its key", async () => {
      const victim = written[0]!;
      const key = instanceKeyPrefix(APP, victim.instanceId) + METADATA_KEY;
      const original = (await backend.getMany([key])).get(key)!;
      await backend.setMany([[key, Buffer.from([0x0a, 0xff])]]);
      try {
        const { unreadable } = await listAll(50);
        expect(unreadable.map((u) => u.key)).toEqual([key]);
      } finally {
        await backend.setMany([[key, original]]);
      }
    });
  });
}
