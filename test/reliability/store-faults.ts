/**
 * The state-store half of the fault-injection suite, run against each real store by faults-<store>.test.ts: the real
 * CLI lists and purges (direct mode) an app through a loopback proxy, and mid-run the store stops answering (the
 * proxy freezes: what SIGSTOP looks like from the client) or its server is killed with SIGKILL (a server this file
 * started for the purpose, on its own port and temp dir, by PID). Then:
 *   - the command ends within its timeouts, non-zero, with one `Error:` line naming the store, no stack trace;
 *   - the checker (reading the store and etcd directly) finds every instance whole or gone, nothing not due touched,
 *     the reminders of kept instances all there;
 *   - a re-run converges: it purges what remains and exits 0.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { openEtcdSchedulerStore } from "../../shared/scheduler/etcd-store.ts";
import type { SchedulerStore } from "../../shared/scheduler/store.ts";
import type { StateBackend } from "../../shared/state-store/backend.ts";
import type { AppRef } from "../../shared/state-store/keys.ts";
import { count } from "../../shared/util/count.ts";
import { runHousekeeper } from "../support/cli.ts";
import {
  checkConverged,
  checkWholeOrGone,
  countInstances,
  expectNamedFailure,
  expectSuccess,
  runWithFault,
  type SeededApp,
  type StoreUnderFault,
  seedApp,
  waitFor,
} from "../support/fault-suite.ts";
import { type FreezingProxy, startFreezingProxy } from "../support/faulty-peer.ts";

/** Timeouts the CLI runs with here (its defaults are 10 s / 60 s). */
const TIMEOUT_FLAGS = ["--connect-timeout", "2s", "--request-timeout", "3s"];
/** A whole failed run, start-up included, on a loaded 2-core machine: timeouts plus generous slack. */
const BOUND_MS = 30_000;
// More due batches than a direct purge keeps in flight (8 of 100), so a fault mid-purge always leaves some to do.
const COUNTS = { due: 1500, kept: 100 };

export function defineStoreFaults(open: () => Promise<StoreUnderFault>): void {
  let store: StoreUnderFault;
  let backend: StateBackend;
  let scheduler: SchedulerStore;
  let proxy: FreezingProxy | undefined;
  const etcd = inject("etcdEndpoint");

  beforeAll(async () => {
    store = await open();
    backend = await store.openBackend();
    scheduler = openEtcdSchedulerStore({ endpoints: [etcd] });
  }, 120_000);
  afterAll(async () => {
    await proxy?.stop();
    await backend?.close().catch(() => {});
    await scheduler?.close();
  });

  const newApp = (what: string): AppRef => ({
    appId: `fault-${what}-${randomUUID().slice(0, 6)}`,
    namespace: "default",
  });
  const viaProxy = async (latencyMs: number) => {
    await proxy?.stop();
    proxy = await startFreezingProxy({ host: store.server.host, port: store.server.port });
    proxy.setLatency(latencyMs);
    return proxy;
  };
  const listArgs = (app: AppRef, connection: string) => [
    "workflow",
    "list",
    "-a",
    app.appId,
    "-c",
    connection,
    "-o",
    "json",
    ...TIMEOUT_FLAGS,
  ];
  const purgeArgs = (app: AppRef, connection: string) => [
    "workflow",
    "purge",
    "-a",
    app.appId,
    "-c",
    connection,
    "--all-older-than",
    "720h",
    "--mode",
    "direct",
    "--etcd-endpoints",
    etcd,
    ...TIMEOUT_FLAGS,
  ];
  /** The server back (after a kill), the proxy gone (a frozen one holds its connections' locks), a fresh backend. */
  const recover = async () => {
    await proxy?.stop();
    proxy = undefined;
    if (!(await alive())) {
      await store.server.control.restart();
      await backend.close().catch(() => {});
      backend = await store.openBackend();
    }
  };
  const alive = async () => {
    try {
      await backend.scanKeys({ prefix: "none-", suffix: "", pageSize: 1 });
      return true;
    } catch {
      return false;
    }
  };
  const listedCount = (stdout: string) => (JSON.parse(stdout) as unknown[]).length;

  describe("mid listing", () => {
    let seeded: SeededApp;
    beforeAll(async () => {
      seeded = await seedApp(backend, newApp("list"), COUNTS);
    }, 60_000);

    for (const fault of ["freeze", "kill -9"] as const) {
      it(`${fault}: a one-line failure naming the store within the timeouts, then a re-run lists everything`, async () => {
        const p = await viaProxy(20);
        const run = await runWithFault(listArgs(seeded.app, store.connectionString(p)), async () => {
          // Some pages in: the listing has started and is far from done.
          await p.afterBytesFromServer(50_000);
          if (fault === "freeze") p.freeze();
          else await store.server.control.kill("SIGKILL");
        });
        expectNamedFailure(run, new RegExp(store.name));
        expect(run.ms).toBeLessThan(BOUND_MS);
        await recover();
        await checkWholeOrGone(backend, seeded);
        const again = await runHousekeeper(listArgs(seeded.app, store.connectionString(store.server)));
        expectSuccess(again);
        expect(listedCount(again.stdout)).toBe(COUNTS.due + COUNTS.kept);
      }, 120_000);
    }
  });

  describe("mid direct purge", () => {
    for (const fault of ["freeze", "kill -9"] as const) {
      it(`${fault}: nothing half-deleted, nothing not due deleted, a named failure, and a re-run converges`, async () => {
        const seeded = await seedApp(backend, newApp("purge"), COUNTS, scheduler);
        const total = COUNTS.due + COUNTS.kept;
        const p = await viaProxy(5);
        const run = await runWithFault(purgeArgs(seeded.app, store.connectionString(p)), async () => {
          // Some instances deleted, most not yet.
          await waitFor(
            "the purge to be under way",
            async () => (await countInstances(backend, seeded.app)) < total - 30,
          );
          if (fault === "freeze") p.freeze();
          else await store.server.control.kill("SIGKILL");
        });
        expectNamedFailure(run, new RegExp(store.name));
        expect(run.ms).toBeLessThan(BOUND_MS);
        await recover();
        const { gone, left } = await checkWholeOrGone(backend, seeded, scheduler);
        expect(gone).toBeGreaterThan(0);
        expect(left).toBeGreaterThan(0);

        const again = await runHousekeeper(purgeArgs(seeded.app, store.connectionString(store.server)));
        expectSuccess(again);
        expect(again.stdout).toMatch(new RegExp(`Purged ${count(left)} workflow instance\\(s\\)`));
        // A batch whose delete committed but whose acknowledgement the fault swallowed was reported failed and its
        // reminders kept (the purge cannot tell it from a rolled-back one); the re-run no longer sees those
        // instances, so their reminders are orphans, and `scheduler orphans --delete` is what removes them.
        const orphans = await runHousekeeper([
          "scheduler",
          "orphans",
          "-a",
          seeded.app.appId,
          "-c",
          store.connectionString(store.server),
          "--delete",
          "--force",
          "--etcd-endpoints",
          etcd,
        ]);
        expectSuccess(orphans);
        await checkConverged(backend, seeded, scheduler);
      }, 180_000);
    }
  });
}
