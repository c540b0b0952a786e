/**
 * The retention purge in sidecar mode: every purge goes through Dapr's purge API (the stand-in, acting on the real
 * store), and the store afterwards holds exactly what it should; transient sidecar errors are retried, and the
 * policy runner with its Lambda-shaped settings drives the same job.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseRetentionPolicy } from "../../shared/config/retention-policy.ts";
import type { Target } from "../../shared/config/target.ts";
import { runRetentionPurge } from "../../shared/jobs/retention-purge.ts";
import type { TargetPorts } from "../../shared/jobs/retention-run.ts";
import { runRetentionPolicy } from "../../shared/jobs/retention-run.ts";
import type { InstanceSpec } from "../../shared/sample-data/instance-builder.ts";
import { EXPECTED_STATUS, SCENARIOS } from "../../shared/sample-data/instance-builder.ts";
import { writeInstances } from "../../shared/sample-data/writer.ts";
import { HttpSidecarClient } from "../../shared/sidecar/http-client.ts";
import type { StateBackend } from "../../shared/state-store/backend.ts";
import type { AppRef } from "../../shared/state-store/keys.ts";
import { instanceKeyPrefix, KEY_SEPARATOR } from "../../shared/state-store/keys.ts";
import { WorkflowStateStore } from "../../shared/state-store/workflow-store.ts";
import { sidecarPurger } from "../../shared/wiring/target-ports.ts";
import { type SidecarStandin, startSidecarStandin } from "../support/sidecar-standin.ts";
import { dumpStore, storeFactories } from "../support/stores.ts";

const APP: AppRef = { appId: "billing", namespace: "default" };
const NOW = new Date("2026-11-01T00:00:00Z");
const DAY = 86_400_000;

function specs(count: number): InstanceSpec[] {
  return Array.from({ length: count }, (_, i) => ({
    instanceId: `bill-${i}`,
    scenario: SCENARIOS[i % SCENARIOS.length]!,
    createdAt: new Date(NOW.getTime() - ((i * 11) % 120) * DAY),
    durationMs: 30_000,
  }));
}

describe("retention purge through the sidecar", () => {
  let backend: StateBackend;
  let standin: SidecarStandin;
  let sidecar: HttpSidecarClient;
  let store: WorkflowStateStore;
  const seeded = specs(1500);

  beforeAll(async () => {
    backend = await storeFactories(9)[0]!.open();
    await writeInstances(backend, APP, seeded);
    await writeInstances(backend, { appId: "billing", namespace: "other" }, specs(30));
    standin = await startSidecarStandin({ backend, appId: APP.appId, namespace: APP.namespace, grpc: false });
    sidecar = new HttpSidecarClient({ url: standin.url });
    store = new WorkflowStateStore(backend, APP);
  });
  afterAll(async () => {
    await sidecar?.close();
    await standin?.close();
    await backend?.close();
  });

  it("purges exactly the due terminal instances, through Dapr's purge API, retrying transient errors", async () => {
    const before = await dumpStore(backend);
    const retention = { COMPLETED: 30 * DAY, FAILED: 60 * DAY, TERMINATED: 30 * DAY };
    const due = seeded.filter((s) => {
      const keep = retention[EXPECTED_STATUS[s.scenario] as keyof typeof retention];
      return keep !== undefined && NOW.getTime() - (s.createdAt.getTime() + 30_000) >= keep;
    });
    // The sidecar stumbles now and then: 503 with Retry-After, then a 429.
    standin.failNext({ kind: "status", status: 503, retryAfter: "0" }, 3);
    standin.failNext({ kind: "status", status: 429, retryAfter: "0" }, 2);

    const result = await runRetentionPurge(
      { store, purger: sidecarPurger(sidecar) },
      { retention, mode: "sidecar", now: NOW, concurrency: 8 },
    );

    expect(result.failed).toEqual([]);
    // Children go with their parents (Dapr's purge is recursive); the stand-in deletes them itself.
    expect(result.purged).toBe(due.length);
    const purgeCalls = standin.requests.filter((r) => r.method === "POST" && r.path.endsWith("/purge"));
    expect(purgeCalls.length).toBeGreaterThanOrEqual(due.length);
    const after = await dumpStore(backend);
    // A due instance's keys, and those of its children (`<parent>:0001`…), which Dapr's recursive purge takes along.
    const dueFamily = (key: string) =>
      due.some(
        (s) =>
          key.startsWith(instanceKeyPrefix(APP, s.instanceId)) ||
          key.startsWith(instanceKeyPrefix(APP, `${s.instanceId}:`).slice(0, -KEY_SEPARATOR.length)),
      );
    expect([...after.keys()].filter(dueFamily)).toEqual([]);
    // Every other key, of this app and the other one, is byte-for-byte what it was.
    expect(after).toEqual(new Map([...before].filter(([k]) => !dueFamily(k))));
  });

  it("runs a policy the way the Lambda does, resuming from its continuation token until complete", async () => {
    const policy = parseRetentionPolicy({
      retention: { CANCELED: "1d", CONTINUED_AS_NEW: "1d" },
      mode: "sidecar",
      maxInstancesPerRun: 5,
      targets: [{ appId: APP.appId, stateStore: { connectionString: "unused" }, sidecar: { url: standin.url } }],
    });
    const openTarget = async (_target: Target): Promise<TargetPorts> => ({
      store,
      purger: sidecarPurger(sidecar),
      close: async () => {},
    });
    let token: string | undefined;
    let purged = 0;
    let runs = 0;
    do {
      const report = await runRetentionPolicy(policy, { openTarget, continuationToken: token, now: NOW });
      expect(report.failed).toEqual([]);
      purged += report.purged;
      token = report.isComplete ? undefined : report.continuationToken;
      runs++;
    } while (token && runs < 50);
    const expected = seeded.filter(
      (s) =>
        ["CANCELED", "CONTINUED_AS_NEW"].includes(EXPECTED_STATUS[s.scenario]) &&
        NOW.getTime() - (s.createdAt.getTime() + 30_000) >= DAY,
    ).length;
    // What is left of those statuses finished less than a day ago.
    for await (const page of store.listInstances()) {
      for (const i of page.instances) {
        if (["CANCELED", "CONTINUED_AS_NEW"].includes(i.runtimeStatus)) {
          expect(NOW.getTime() - i.completedAt!.getTime()).toBeLessThan(DAY);
        }
      }
    }
    expect(purged).toBe(expected);
    expect(runs).toBeGreaterThan(1);
  });

  it("refuses a policy with no sidecar for sidecar mode, naming the target", () => {
    expect(() =>
      parseRetentionPolicy({
        retention: { COMPLETED: "30d" },
        targets: [{ appId: "a", stateStore: { connectionString: "x" } }],
      }),
    ).toThrow(/targets\.0\.sidecar: sidecar mode needs the target's sidecar/);
    expect(() => parseRetentionPolicy({ retention: {}, mode: "direct", targets: [] })).toThrow(
      /at least one status.*at least one target|at least one target/,
    );
    expect(() =>
      parseRetentionPolicy({
        retention: { COMPLETED: "3 weeks" },
        mode: "direct",
        targets: [{ appId: "a", stateStore: { connectionString: "x" } }],
      }),
    ).toThrow(/invalid duration "3 weeks"/);
  });
});
