/**
 * A continuation token is bound to its shard: a sharded run resumes only under the same shard and count, and a token
 * from another shard, another count or an unsharded run is refused with one line. A policy target's `shard` is
 * honoured by runRetentionPolicy (the contract with the Step Functions map), and its token is bound the same way.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseRetentionPolicy } from "../../shared/config/retention-policy.ts";
import { runRetentionPurge } from "../../shared/jobs/retention-purge.ts";
import type { TargetPorts } from "../../shared/jobs/retention-run.ts";
import { runRetentionPolicy } from "../../shared/jobs/retention-run.ts";
import { writeInstances } from "../../shared/sample-data/writer.ts";
import type { StateBackend } from "../../shared/state-store/backend.ts";
import type { AppRef } from "../../shared/state-store/keys.ts";
import { WorkflowStateStore } from "../../shared/state-store/workflow-store.ts";
import type { Shard } from "../../shared/workflow/shard.ts";
import { shardOf } from "../../shared/workflow/shard.ts";
import { storeFactories } from "../support/stores.ts";

const APP: AppRef = { appId: "tokens", namespace: "default" };
const NOW = new Date("2026-11-01T00:00:00Z");
const DAY = 86_400_000;
const OLD = new Date(NOW.getTime() - 90 * DAY);

describe("continuation tokens of sharded runs", () => {
  let backend: StateBackend;
  let store: WorkflowStateStore;

  beforeAll(async () => {
    backend = await storeFactories(0)
      .find((f) => f.name === "SQLite")!
      .open();
    await writeInstances(
      backend,
      APP,
      Array.from({ length: 60 }, (_, i) => ({ instanceId: `t-${i}`, scenario: "completed" as const, createdAt: OLD })),
    );
    store = new WorkflowStateStore(backend, APP);
  });
  afterAll(async () => backend?.close());

  const dryRun = (shard: Shard | undefined, continuationToken?: string) =>
    runRetentionPurge(
      { store },
      {
        retention: { COMPLETED: DAY },
        dryRun: true,
        now: NOW,
        pageSize: 5,
        shard,
        continuationToken,
        timeLeftMs: () => 0,
      },
    );

  it("resumes under the same shard and refuses any other, in one line", async () => {
    const first = await dryRun({ index: 1, count: 3 });
    expect(first.stoppedBecause).toBe("time-budget");
    const token = first.continuationToken!;
    expect((await dryRun({ index: 1, count: 3 }, token)).scanned).toBeGreaterThan(0);
    for (const [other, named] of [
      [{ index: 2, count: 3 }, "shard 2/3"],
      [{ index: 1, count: 4 }, "shard 1/4"],
      [undefined, "an unsharded run"],
    ] as const) {
      await expect(dryRun(other, token)).rejects.toThrow(
        new RegExp(`^continuation token belongs to shard 1/3, not ${named}$`),
      );
    }
    const unsharded = (await dryRun(undefined)).continuationToken!;
    await expect(dryRun({ index: 1, count: 2 }, unsharded)).rejects.toThrow(
      /^continuation token belongs to an unsharded run, not shard 1\/2$/,
    );
    // 1/1 is the whole app: an unsharded token fits it.
    expect((await dryRun({ index: 1, count: 1 }, unsharded)).scanned).toBeGreaterThan(0);
  });

  it("a sharded run's pages, resumed token by token, are exactly the shard", async () => {
    const shard = { index: 2, count: 3 };
    const seen: string[] = [];
    let token: string | undefined;
    let runs = 0;
    do {
      const result = await runRetentionPurge(
        { store },
        {
          retention: { COMPLETED: DAY },
          dryRun: true,
          now: NOW,
          pageSize: 3,
          shard,
          continuationToken: token,
          timeLeftMs: () => 0,
          onDecision: (d) => seen.push(d.instanceID),
        },
      );
      token = result.isComplete ? undefined : result.continuationToken;
    } while (token && ++runs < 100);
    const expected = Array.from({ length: 60 }, (_, i) => `t-${i}`).filter((id) => shardOf(id, 3) === 2);
    expect([...new Set(seen)].sort()).toEqual(expected.sort());
  });

  it("runRetentionPolicy honours a target's shard and binds its token to it", async () => {
    const policyFor = (shard: Shard, dryRun = true) =>
      parseRetentionPolicy({
        retention: { COMPLETED: "1d" },
        mode: "direct",
        dryRun,
        maxInstancesPerRun: 2,
        targets: [
          {
            appId: APP.appId,
            stateStore: { connectionString: "unused" },
            scheduler: { etcdEndpoints: ["127.0.0.1:1"] },
            shard,
          },
        ],
      });
    const openTarget = async (): Promise<TargetPorts> => ({ store, close: async () => {} });
    const decided: string[] = [];
    const report = await runRetentionPolicy(policyFor({ index: 3, count: 4 }), {
      openTarget,
      now: NOW,
      onDecision: (d) => decided.push(d.instanceID),
    });
    expect(report.isComplete).toBe(true);
    expect(report.targets.map((t) => t.shard)).toEqual(["3/4"]);
    expect(decided.length).toBeGreaterThan(0);
    expect(decided.every((id) => shardOf(id, 4) === 3)).toBe(true);
    expect(decided.length).toBe(
      Array.from({ length: 60 }, (_, i) => `t-${i}`).filter((id) => shardOf(id, 4) === 3).length,
    );

    // Not a dry run: it stops after maxInstancesPerRun purges, with a token.
    const cut = await runRetentionPolicy(policyFor({ index: 1, count: 2 }, false), { openTarget, now: NOW });
    expect(cut.isComplete).toBe(false);
    await expect(
      runRetentionPolicy(policyFor({ index: 2, count: 2 }, false), {
        openTarget,
        now: NOW,
        continuationToken: cut.continuationToken,
      }),
    ).rejects.toThrow(/^continuation token was issued for a policy with other targets \(or other shards of them\)$/);
  });
});
