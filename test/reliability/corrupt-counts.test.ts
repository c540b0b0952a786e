/**
 * A metadata row that claims an absurd number of entries (2,147,483,647 history events once ran listing out of
 * memory; 1,000,000 overflowed the stack) is reported as unreadable, by key, on every store, and the rest of the app
 * is listed and purged as usual.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runRetentionPurge } from "../../shared/jobs/retention-purge.ts";
import type { StateBackend } from "../../shared/state-store/backend.ts";
import { instanceKeyPrefix } from "../../shared/state-store/keys.ts";
import { WorkflowStateStore } from "../../shared/state-store/workflow-store.ts";
import { writeInstances } from "../../shared/testdata/writer.ts";
import { encodeMetadata } from "../../shared/workflow/history-event.ts";
import { storeFactories } from "../support/stores.ts";

const DAY = 86_400_000;

for (const factory of storeFactories(1)) {
  describe(`absurd metadata counts on ${factory.name}`, () => {
    let backend: StateBackend;
    const app = { appId: `counts-${randomUUID().slice(0, 6)}`, namespace: "default" };

    beforeAll(async () => {
      backend = await factory.open();
      const old = new Date(Date.now() - 60 * DAY);
      await writeInstances(
        backend,
        app,
        ["ok-1", "huge-1", "huge-2", "ok-2"].map((instanceId) => ({
          instanceId,
          scenario: "completed" as const,
          createdAt: old,
        })),
      );
      await backend.setMany([
        [
          `${instanceKeyPrefix(app, "huge-1")}metadata`,
          encodeMetadata({ historyLength: 2_147_483_647, generation: 1 }),
        ],
        [`${instanceKeyPrefix(app, "huge-2")}metadata`, encodeMetadata({ historyLength: 1_000_000, generation: 1 })],
      ]);
    });
    afterAll(async () => {
      await backend?.close();
    });

    it("lists the others and names the unreadable ones", async () => {
      const store = new WorkflowStateStore(backend, app);
      const listed: string[] = [];
      const unreadable: string[] = [];
      for await (const page of store.listInstances({ pageSize: 2 })) {
        listed.push(...page.instances.map((i) => i.instanceId));
        unreadable.push(...page.unreadable.map((u) => `${u.instanceId}: ${u.reason}`));
      }
      expect(listed.sort()).toEqual(["ok-1", "ok-2"]);
      expect(unreadable.sort()).toEqual([
        "huge-1: metadata counts 2147483647 history entries, more than the 50000 one instance may have: left unread",
        "huge-2: metadata counts 1000000 history entries, more than the 50000 one instance may have: left unread",
      ]);
      await expect(store.readInstance("huge-1")).rejects.toThrow(/metadata counts 2147483647 history entries/);
    });

    it("purges the others directly and leaves the unreadable ones", async () => {
      const store = new WorkflowStateStore(backend, app);
      const result = await runRetentionPurge({ store }, { retention: { COMPLETED: 30 * DAY }, mode: "direct" });
      expect(result.purged).toBe(2);
      expect(result.unreadable.map((u) => u.instanceID).sort()).toEqual(["huge-1", "huge-2"]);
      expect(await backend.getMany([`${instanceKeyPrefix(app, "huge-1")}metadata`])).toHaveProperty("size", 1);
    });
  });
}
