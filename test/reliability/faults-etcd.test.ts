/**
 * The fault-injection suite against the Scheduler's etcd (an etcd server of its own, killed by PID, or frozen behind
 * the proxy), through the real CLI:
 *   - mid `scheduler list`: a one-line failure naming etcd within the timeouts, then a re-run lists every job;
 *   - mid direct purge (state in the shared PostgreSQL): every instance whole or gone, nothing not due touched, the
 *     kept instances' reminders all there, the failures named; then the re-run and `scheduler orphans --delete`
 *     (for reminders whose state went just before etcd stopped) converge: every due instance and reminder gone.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildSeeds } from "../../shared/sample-data/scheduler-jobs.ts";
import { openEtcdSchedulerStore } from "../../shared/scheduler/etcd-store.ts";
import type { StateBackend } from "../../shared/state-store/backend.ts";
import { openPostgresBackend } from "../../shared/state-store/postgresql.ts";
import { runHousekeeper } from "../support/cli.ts";
import {
  checkConverged,
  checkWholeOrGone,
  countInstances,
  expectNamedFailure,
  expectSuccess,
  runWithFault,
  seedApp,
  waitFor,
} from "../support/fault-suite.ts";
import { type FreezingProxy, startFreezingProxy } from "../support/faulty-peer.ts";
import { type EtcdServer, startEtcd } from "../support/servers.ts";
import { createPostgresStateDatabase } from "../support/stores.ts";

const TIMEOUT_FLAGS = ["--connect-timeout", "2s", "--request-timeout", "3s"];
const BOUND_MS = 30_000;
const JOBS = 4000;

let etcd: EtcdServer;
let proxy: FreezingProxy | undefined;
let stateUrl: string;
let backend: StateBackend;

beforeAll(async () => {
  etcd = await startEtcd();
  stateUrl = await createPostgresStateDatabase("etcd_faults");
  backend = await openPostgresBackend({ connectionString: stateUrl, tableName: "state" });
}, 120_000);
afterAll(async () => {
  await proxy?.stop();
  await backend?.close();
  await etcd?.stop();
});

const scheduler = () => openEtcdSchedulerStore({ endpoints: [etcd.endpoint] });
const viaProxy = async (latencyMs: number) => {
  await proxy?.stop();
  proxy = await startFreezingProxy({ host: etcd.host, port: etcd.port });
  proxy.setLatency(latencyMs);
  return proxy;
};
/** etcd back (after a kill) and the proxy gone. */
const recover = async () => {
  await proxy?.stop();
  proxy = undefined;
  const probe = scheduler();
  try {
    await probe.snapshot();
  } catch {
    await etcd.control.restart();
  } finally {
    await probe.close();
  }
};

describe("etcd mid scheduler list", () => {
  const appId = `etcd-list-${randomUUID().slice(0, 6)}`;
  beforeAll(async () => {
    const store = scheduler();
    const seeds = buildSeeds(
      Array.from({ length: JOBS }, (_, i) => ({ target: { workflow: { appId, instanceId: `wf-${i}` } }, name: "t" })),
    );
    for (let i = 0; i < seeds.length; i += 120) await store.put(seeds.slice(i, i + 120));
    await store.close();
  }, 120_000);

  for (const fault of ["freeze", "kill -9"] as const) {
    it(`${fault}: a one-line failure naming etcd within the timeouts, then a re-run lists every job`, async () => {
      const p = await viaProxy(20);
      const run = await runWithFault(
        ["scheduler", "list", "--etcd-endpoints", p.address, "-o", "json", ...TIMEOUT_FLAGS],
        async () => {
          await p.afterBytesFromServer(100_000); // the first page is in, the rest is not
          if (fault === "freeze") p.freeze();
          else await etcd.control.kill("SIGKILL");
        },
      );
      expectNamedFailure(run, /etcd/);
      expect(run.ms).toBeLessThan(BOUND_MS);
      await recover();
      const again = await runHousekeeper(["scheduler", "list", "--etcd-endpoints", etcd.endpoint, "-o", "json"]);
      expectSuccess(again);
      expect((JSON.parse(again.stdout) as unknown[]).length).toBe(JOBS);
    }, 120_000);
  }
});

describe("etcd mid direct purge", () => {
  for (const fault of ["freeze", "kill -9"] as const) {
    it(`${fault}: state whole or gone, kept reminders untouched, failures named; re-run and orphans converge`, async () => {
      const app = { appId: `etcd-purge-${randomUUID().slice(0, 6)}`, namespace: "default" };
      const store = scheduler();
      try {
        // More due batches than the direct purge keeps in flight (8 of 100), so the fault stops it with instances left
        // whatever the timing: a batch reads its reminders through etcd before it deletes anything.
        const seeded = await seedApp(backend, app, { due: 1500, kept: 100 }, store);
        const total = 1600;
        const p = await viaProxy(5);
        const purge = (endpoint: string) => [
          "workflow",
          "purge",
          "-a",
          app.appId,
          "-c",
          stateUrl,
          "--all-older-than",
          "720h",
          "--mode",
          "direct",
          "--etcd-endpoints",
          endpoint,
          ...TIMEOUT_FLAGS,
        ];
        const run = await runWithFault(purge(p.address), async () => {
          await waitFor("the purge to be under way", async () => (await countInstances(backend, app)) < total - 30);
          if (fault === "freeze") p.freeze();
          else await etcd.control.kill("SIGKILL");
        });
        // Each instance the Scheduler's failure stopped is named on its own line, with etcd's; the last line is etcd's
        // failure, where the purge stopped.
        expectNamedFailure(run, /cannot reach etcd at .*\(the purge stopped there: /);
        expect(run.stderr).toMatch(/^failed to purge "due-\d+": .*etcd/m);
        expect(run.ms).toBeLessThan(BOUND_MS);
        await recover();
        const { gone, left } = await checkWholeOrGone(backend, seeded, store);
        expect(gone).toBeGreaterThan(0);
        expect(left).toBeGreaterThan(0);

        const again = await runHousekeeper(purge(etcd.endpoint));
        expectSuccess(again);
        const orphans = await runHousekeeper([
          "scheduler",
          "orphans",
          "-a",
          app.appId,
          "-c",
          stateUrl,
          "--delete",
          "--force",
          "--etcd-endpoints",
          etcd.endpoint,
        ]);
        expectSuccess(orphans);
        await checkConverged(backend, seeded, store);
      } finally {
        await store.close();
      }
    }, 180_000);
  }
});
