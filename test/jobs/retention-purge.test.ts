/**
 * The retention purge in direct mode against every real store: thousands of instances of every status and age, and
 * a byte-for-byte check that exactly the due terminal instances are gone and every other key is untouched.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RetentionOptions } from "../../shared/jobs/retention-purge.ts";
import { runRetentionPurge } from "../../shared/jobs/retention-purge.ts";
import type { BuiltInstance, InstanceSpec } from "../../shared/sample-data/instance-builder.ts";
import { EXPECTED_STATUS, SCENARIOS } from "../../shared/sample-data/instance-builder.ts";
import { writeInstances } from "../../shared/sample-data/writer.ts";
import type { StateBackend } from "../../shared/state-store/backend.ts";
import type { AppRef } from "../../shared/state-store/keys.ts";
import { instanceKeyPrefix } from "../../shared/state-store/keys.ts";
import { WorkflowStateStore } from "../../shared/state-store/workflow-store.ts";
import { dumpStore, storeFactories } from "../support/stores.ts";

const APP: AppRef = { appId: "shop", namespace: "default" };
const NEIGHBOURS: AppRef[] = [
  { appId: "shop", namespace: "prod" },
  { appId: "shop2", namespace: "default" },
];
const NOW = new Date("2026-11-01T00:00:00Z");
const DAY = 86_400_000;
const RETENTION: RetentionOptions["retention"] = { COMPLETED: 30 * DAY, FAILED: 90 * DAY, TERMINATED: 30 * DAY };

/** `count` instances cycling through every scenario, ages 0–199 days, some that ran for 100 days. */
function specs(count: number, prefix = "wf"): InstanceSpec[] {
  return Array.from({ length: count }, (_, i) => {
    const scenario = SCENARIOS[i % SCENARIOS.length]!;
    const ageDays = (i * 7) % 200;
    const longRunning = i % 5 === 0;
    const durationMs = longRunning ? 100 * DAY : 60_000;
    return {
      instanceId: `${prefix}-${i}`,
      scenario,
      createdAt: new Date(NOW.getTime() - ageDays * DAY - durationMs),
      durationMs,
    };
  });
}

/** What the runtime would say about the instance on NOW: due for purge under RETENTION, measured from `ageFrom`. */
function isDue(spec: InstanceSpec, ageFrom: "completed" | "created"): boolean {
  const status = EXPECTED_STATUS[spec.scenario];
  const keep = RETENTION[status as keyof typeof RETENTION];
  if (keep === undefined) return false;
  const since = ageFrom === "created" ? spec.createdAt.getTime() : spec.createdAt.getTime() + (spec.durationMs ?? 0);
  return NOW.getTime() - since >= keep;
}

for (const factory of storeFactories(3)) {
  describe(`retention purge, direct mode, on ${factory.name}`, () => {
    let backend: StateBackend;
    let store: WorkflowStateStore;
    let written: BuiltInstance[];
    const seeded = specs(1500);

    beforeAll(async () => {
      backend = await factory.open();
      written = await writeInstances(backend, APP, seeded, { batchSize: 300 });
      for (const neighbour of NEIGHBOURS) await writeInstances(backend, neighbour, specs(60));
      // An unrelated key that merely looks similar.
      await backend.setMany([[`${instanceKeyPrefix(APP, "wf-1")}metadata-copy`, Buffer.from("x")]]);
      store = new WorkflowStateStore(backend, APP);
    });
    afterAll(async () => {
      await backend?.close();
    });

    it("dry run lists exactly the due instances, with the rule, and touches nothing", async () => {
      const before = await dumpStore(backend);
      const result = await runRetentionPurge(
        { store },
        { retention: RETENTION, mode: "direct", dryRun: true, now: NOW, reportLimit: 10_000 },
      );
      const due = seeded.filter((s) => isDue(s, "completed")).map((s) => s.instanceId);
      expect(result.wouldPurge.map((d) => d.instanceID).sort()).toEqual(due.sort());
      expect(result.wouldPurge[0]!.reason).toMatch(
        /^(COMPLETED|FAILED|TERMINATED) finished \d+d(\d+h)? ago, retention \d+d$/,
      );
      expect(result.purged).toBe(0);
      expect(result.isComplete).toBe(true);
      expect(await dumpStore(backend)).toEqual(before);
    });

    it("purges exactly the due terminal instances (and their children) and leaves every other key byte-for-byte", async () => {
      const before = await dumpStore(backend);
      const due = new Set(seeded.filter((s) => isDue(s, "completed")).map((s) => s.instanceId));
      // Children of a due parent go with it.
      for (const w of written) {
        const parent = w.instanceId.includes(":") ? w.instanceId.split(":")[0]! : undefined;
        if (parent && due.has(parent)) due.add(w.instanceId);
      }

      const result = await runRetentionPurge(
        { store },
        { retention: RETENTION, mode: "direct", now: NOW, concurrency: 8, pageSize: 97 },
      );

      expect(result.failed).toEqual([]);
      expect(result.isComplete).toBe(true);
      const dueParents = [...due].filter((id) => !id.includes(":"));
      expect(result.purged).toBe(dueParents.length);
      const after = await dumpStore(backend);
      const expected = new Map(
        [...before].filter(
          ([key]) =>
            ![...due].some((id) => key.startsWith(instanceKeyPrefix(APP, id)) && !key.endsWith("metadata-copy")),
        ),
      );
      expect(after.size).toBe(expected.size);
      expect(after).toEqual(expected);
      // Nothing non-terminal was touched: every RUNNING/PENDING/SUSPENDED/STALLED instance still reads the same.
      for (const s of seeded.filter(
        (x) =>
          !["COMPLETED", "FAILED", "TERMINATED", "CANCELED", "CONTINUED_AS_NEW"].includes(EXPECTED_STATUS[x.scenario]),
      )) {
        expect((await store.readInstance(s.instanceId))?.runtimeStatus).toBe(EXPECTED_STATUS[s.scenario]);
      }
    });

    it("measures age from completion by default: a long workflow that finished recently is kept", async () => {
      const recentLong = seeded.find(
        (s) => EXPECTED_STATUS[s.scenario] === "COMPLETED" && (s.durationMs ?? 0) > 50 * DAY && !isDue(s, "completed"),
      )!;
      expect(isDue(recentLong, "created")).toBe(true);
      expect(await store.readInstance(recentLong.instanceId)).toBeDefined();
    });

    it("with ageFrom created (the Dapr CLI's rule) also takes the long ones, and a second run finds nothing left", async () => {
      const result = await runRetentionPurge(
        { store },
        { retention: RETENTION, mode: "direct", ageFrom: "created", now: NOW },
      );
      expect(result.failed).toEqual([]);
      const dueByCreated = seeded.filter(
        (s) => isDue(s, "created") && !isDue(s, "completed") && !s.instanceId.includes(":"),
      );
      expect(result.purged).toBe(dueByCreated.length);
      const again = await runRetentionPurge(
        { store },
        { retention: RETENTION, mode: "direct", ageFrom: "created", now: NOW },
      );
      expect(again.purged).toBe(0);
      expect(again.matched).toBe(0);
    });
  });
}

describe("retention purge budgets and continuation", () => {
  const factory = storeFactories(4)[0]!; // PostgreSQL v1
  let backend: StateBackend;
  let store: WorkflowStateStore;
  const seeded = specs(600, "budget");

  beforeAll(async () => {
    backend = await factory.open();
    await writeInstances(backend, APP, seeded);
    store = new WorkflowStateStore(backend, APP);
  });
  afterAll(async () => {
    await backend?.close();
  });

  it("a dry run stops at the time budget too, page by page; its runs together list every due instance once", async () => {
    const due = seeded.filter((s) => isDue(s, "completed")).map((s) => s.instanceId);
    const listed: string[] = [];
    let token: string | undefined;
    let runs = 0;
    do {
      let checks = 0;
      const result = await runRetentionPurge(
        { store },
        {
          retention: RETENTION,
          mode: "direct",
          dryRun: true,
          now: NOW,
          pageSize: 50,
          continuationToken: token,
          // Time runs out at the third check: three pages per run (the first page is never refused).
          timeLeftMs: () => (++checks > 2 ? 0 : 60_000),
          safetyMarginMs: 1000,
          onDecision: (d) => {
            if (d.action === "would-purge") listed.push(d.instanceID);
          },
        },
      );
      if (!result.isComplete) expect(result.stoppedBecause).toBe("time-budget");
      token = result.isComplete ? undefined : result.continuationToken;
      runs++;
    } while (token && runs < 100);
    expect(runs).toBeGreaterThan(2);
    expect(listed.length).toBe(new Set(listed).size);
    expect(listed.sort()).toEqual(due.sort());
  });

  it("pages with nothing due stop at the time budget as well", async () => {
    const result = await runRetentionPurge(
      { store },
      { retention: {}, mode: "direct", now: NOW, pageSize: 50, timeLeftMs: () => 0, safetyMarginMs: 1000 },
    );
    expect(result).toMatchObject({ isComplete: false, stoppedBecause: "time-budget", matched: 0, purged: 0 });
    expect(result.scanned).toBeGreaterThan(0);
    expect(result.scanned).toBeLessThanOrEqual(50 + 50); // the first page (children may ride along), no more
    expect(result.continuationToken).toBeTruthy();
  });

  it("counts skipped and failed exactly, beyond the lists' reportLimit", async () => {
    const notDue = seeded.filter((s) => !isDue(s, "completed")).slice(0, 5);
    const result = await runRetentionPurge(
      { store },
      {
        retention: RETENTION,
        mode: "direct",
        now: NOW,
        reportLimit: 2,
        instanceIds: [...notDue.map((s) => s.instanceId), "missing-1", "missing-2", "missing-3"],
      },
    );
    expect(result.skippedCount).toBe(5);
    expect(result.skipped).toHaveLength(2);
    expect(result.failedCount).toBe(3);
    expect(result.failed).toHaveLength(2);
    expect(result.purged).toBe(0);
  });

  it("stops at maxInstances with a token, and successive runs finish with nothing missed or purged twice", async () => {
    const due = seeded.filter((s) => isDue(s, "completed")).length;
    const purgedIds: string[] = [];
    let token: string | undefined;
    let runs = 0;
    do {
      const result = await runRetentionPurge(
        { store },
        {
          retention: RETENTION,
          mode: "direct",
          now: NOW,
          maxInstances: 40,
          pageSize: 50,
          continuationToken: token,
          onDecision: (d) => {
            if (d.action === "purge") purgedIds.push(d.instanceID);
          },
        },
      );
      expect(result.failed).toEqual([]);
      token = result.isComplete ? undefined : result.continuationToken;
      if (!result.isComplete) {
        expect(result.stoppedBecause).toBe("max-instances");
        // Due instances seen and left for the next run are counted (the backlog metric's lower bound).
        expect(result.deferred).toBeGreaterThan(0);
      }
      runs++;
    } while (token && runs < 100);
    expect(runs).toBeGreaterThan(2);
    expect(new Set(purgedIds).size).toBe(purgedIds.length);
    expect(purgedIds.length).toBe(due);
  });

  it("stops cleanly when the time budget runs out", async () => {
    let calls = 0;
    const result = await runRetentionPurge(
      { store },
      {
        retention: { COMPLETED: 0, FAILED: 0, TERMINATED: 0 },
        mode: "direct",
        dryRun: false,
        now: NOW,
        timeLeftMs: () => (++calls > 3 ? 0 : 60_000),
        safetyMarginMs: 1000,
      },
    );
    expect(result.isComplete).toBe(false);
    expect(result.stoppedBecause).toBe("time-budget");
    expect(result.continuationToken).toBeTruthy();
  });

  it("refuses a continuation token from another app", async () => {
    const other = new WorkflowStateStore(backend, { appId: "other", namespace: "default" });
    const first = await runRetentionPurge(
      { store: other },
      { retention: { COMPLETED: 0 }, mode: "direct", now: NOW, maxInstances: 0 },
    );
    expect(first.isComplete).toBe(true);
    const token = Buffer.from(JSON.stringify({ v: 1, app: "other", ns: "default", cursor: "x" })).toString("base64url");
    await expect(
      runRetentionPurge({ store }, { retention: {}, mode: "direct", continuationToken: token }),
    ).rejects.toThrow(/belongs to app "other"/);
    await expect(
      runRetentionPurge({ store }, { retention: {}, mode: "direct", continuationToken: "garbage" }),
    ).rejects.toThrow(/not one this tool issued/);
  });
});
