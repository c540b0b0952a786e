/**
 * A direct purge whose delete fails as a whole (the store stopped answering, a connection died) stops there: the
 * batches already running report their instances failed, the rest is left for the next run instead of each batch
 * waiting out the same timeout, and the run ends with the store's error (a re-run converges). Real PostgreSQL; the
 * failure is injected at the backend port (its delete transaction throws, as a driver does on a lost connection).
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runRetentionPurge } from "../../shared/jobs/retention-purge.ts";
import { writeInstances } from "../../shared/sample-data/writer.ts";
import type { StateBackend } from "../../shared/state-store/backend.ts";
import { workflowKeyPrefix } from "../../shared/state-store/keys.ts";
import { WorkflowStateStore } from "../../shared/state-store/workflow-store.ts";
import { dumpStore, storeFactories } from "../support/stores.ts";

const DAY = 86_400_000;
const COUNT = 1000;
const postgres = storeFactories(0).find((f) => f.name === "PostgreSQL (v2 table)")!;

describe("a direct purge whose store fails mid-run", () => {
  let backend: StateBackend;
  const app = { appId: `store-error-${randomUUID().slice(0, 6)}`, namespace: "default" };

  beforeAll(async () => {
    backend = await postgres.open();
    const old = new Date(Date.now() - 60 * DAY);
    await writeInstances(
      backend,
      app,
      Array.from({ length: COUNT }, (_, i) => ({
        instanceId: `wf-${i}`,
        scenario: "completed" as const,
        createdAt: old,
      })),
    );
  });
  afterAll(async () => {
    await backend?.close();
  });

  it("stops at the first failed delete, leaves the rest for the next run, and the next run converges", async () => {
    let deletes = 0;
    let tried = 0; // instances in the deletes tried (the last batch of a page is smaller, and may go first)
    const failing = new Proxy(backend, {
      get(target, property, receiver) {
        if (property === "deleteIfUnchanged") {
          return async (groups: readonly unknown[]) => {
            deletes++;
            tried += groups.length;
            throw new Error("Connection terminated unexpectedly");
          };
        }
        const value = Reflect.get(target, property, receiver);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const before = await dumpStore(backend, workflowKeyPrefix(app));
    const retention = { COMPLETED: 30 * DAY };

    const failed: string[] = [];
    await expect(
      runRetentionPurge(
        { store: new WorkflowStateStore(failing, app) },
        {
          retention,
          mode: "direct",
          pageSize: COUNT,
          onDecision: (d) => {
            if (d.action === "fail") failed.push(d.reason);
          },
        },
      ),
    ).rejects.toThrow(
      /^postgresql .* table state .*: Connection terminated unexpectedly \(the purge stopped there: 0 purged in this run, \d+ not purged, the rest left for the next run\)$/,
    );
    // Only the batches already running when the first one failed (at most 4 side by side) were tried, each reported.
    expect(deletes).toBeGreaterThanOrEqual(1);
    expect(deletes).toBeLessThanOrEqual(4);
    expect(failed).toHaveLength(tried);
    expect(await dumpStore(backend, workflowKeyPrefix(app))).toEqual(before);

    const again = await runRetentionPurge(
      { store: new WorkflowStateStore(backend, app) },
      { retention, mode: "direct", pageSize: COUNT },
    );
    expect(again.failed).toEqual([]);
    expect(again.purged).toBe(COUNT);
    expect(again.isComplete).toBe(true);
    expect((await dumpStore(backend, workflowKeyPrefix(app))).size).toBe(0);
  });
});
