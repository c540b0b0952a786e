/**
 * Sidecar-mode purges slide across pages: a slow purge holds up only itself, not the page it came from. Five slow
 * instances (one per page) each take a second; the rest are instant. Waiting page by page, each page's slow one would
 * finish before the next page started; sliding, all five finish after every instant one.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { InstancePurger } from "../../shared/jobs/retention-purge.ts";
import { runRetentionPurge } from "../../shared/jobs/retention-purge.ts";
import { writeInstances } from "../../shared/sample-data/writer.ts";
import type { StateBackend } from "../../shared/state-store/backend.ts";
import { WorkflowStateStore } from "../../shared/state-store/workflow-store.ts";
import { storeFactories } from "../support/stores.ts";

const APP = { appId: "window", namespace: "default" };
const DAY = 86_400_000;

let backend: StateBackend;

beforeAll(async () => {
  backend = await storeFactories(15)[1]!.open(); // PostgreSQL (v2 table)
  await writeInstances(
    backend,
    APP,
    Array.from({ length: 500 }, (_, i) => ({
      instanceId: `wf-${String(i).padStart(4, "0")}`,
      scenario: "completed" as const,
      createdAt: new Date(Date.now() - 60 * DAY),
    })),
  );
});
afterAll(async () => {
  await backend?.close();
});

describe("sidecar purge window", () => {
  it("keeps purging while slow requests of earlier pages are still in flight", async () => {
    const slow = new Set(["wf-0000", "wf-0100", "wf-0200", "wf-0300", "wf-0400"]);
    const purged: string[] = [];
    const purger: InstancePurger = {
      async purge(id) {
        await new Promise((resolve) => setTimeout(resolve, slow.has(id) ? 1000 : 1));
        purged.push(id);
        return "purged";
      },
    };
    const result = await runRetentionPurge(
      { store: new WorkflowStateStore(backend, APP), purger },
      { retention: { COMPLETED: 30 * DAY }, pageSize: 100, concurrency: 10 },
    );

    expect(result.purged).toBe(500);
    expect(result.isComplete).toBe(true);
    expect(new Set(purged).size).toBe(500);
    // The slow ones finished last, after every instant one: nothing waited for them.
    expect(purged.slice(-5).sort()).toEqual([...slow].sort());
  });
});
