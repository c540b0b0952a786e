/**
 * Orphan reminders against a real PostgreSQL state store and a real etcd: reminders of instances with no state, and
 * of finished instances, are found and, with --delete, deleted; reminders of running instances, reminders due in the
 * last few minutes, activity reminders, Dapr's retention reminders (their own actor type), other apps' and other
 * namespaces' reminders, app jobs and the reminders of an instance whose state does not decode are left
 * byte-for-byte as they were. Deleting re-checks each instance and each reminder's value.
 */
import { Writable } from "node:stream";
import { Command } from "commander";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from "vitest";
import { schedulerCommand } from "../../cli/scheduler/index.ts";
import { deleteOrphanReminders, type OrphanReminder, scanOrphanReminders } from "../../shared/jobs/orphan-reminders.ts";
import type { SeedJob } from "../../shared/sample-data/scheduler-jobs.ts";
import { buildSeeds } from "../../shared/sample-data/scheduler-jobs.ts";
import { writeInstances } from "../../shared/sample-data/writer.ts";
import type { EtcdSchedulerStore } from "../../shared/scheduler/etcd-store.ts";
import type { StateBackend } from "../../shared/state-store/backend.ts";
import { instanceKeyPrefix } from "../../shared/state-store/keys.ts";
import { openPostgresBackend } from "../../shared/state-store/postgresql.ts";
import { WorkflowStateStore } from "../../shared/state-store/workflow-store.ts";
import { createPostgresStateDatabase } from "../support/stores.ts";
import { dumpStore, TestStores } from "./support.ts";

const APP = { appId: "orders", namespace: "default" };
const HOUR_AGO = new Date(Date.now() - 3_600_000);
const wf = (instanceId: string, name: string, extra: Partial<SeedJob> = {}): SeedJob => ({
  target: { workflow: { appId: APP.appId, instanceId } },
  name,
  ...extra,
});

const retention = (instanceId: string, extra: Partial<SeedJob> = {}): SeedJob => ({
  target: { actor: { type: "dapr.internal.default.orders.retentioner", id: instanceId } },
  name: "retention",
  ...extra,
});

/**
 * Orphans: no state (gone-1, every reminder, its retention reminder too, even though not due for a month: when it
 * fires it would purge a new run under that ID), finished (done-1 and failed-1, all but `retention`).
 */
const ORPHANS: SeedJob[] = [
  wf("gone-1", "new-event-a1", { counter: { count: 41 } }),
  wf("gone-1", "timer-1"),
  wf("done-1", "timer-3"),
  wf("failed-1", "new-event-b2", { counter: { count: 2 } }),
  retention("gone-1", { begin: new Date(Date.now() + 30 * 86_400_000) }),
];
const KEPT: SeedJob[] = [
  wf("run-1", "timer-0"), // running: its timer is what wakes it
  wf("gone-2", "start-es-1", { begin: new Date(Date.now() - 60_000) }), // due a minute ago: its state may be coming
  // Dapr's stateRetentionPolicy reminder of a finished instance: what it is for.
  retention("done-1"),
  wf("bad-1", "timer-0"), // its state does not decode: left alone
  wf("can-1", "timer-0"), // continued as new: the new generation may own it
  { target: { activity: { appId: APP.appId, activityId: "gone-1::0::1" } } }, // activities may be another app's
  { target: { workflow: { appId: "orders2", instanceId: "gone-1" } }, name: "timer-0" }, // prefix-alike app
  { target: { workflow: { appId: APP.appId, instanceId: "gone-1" } }, name: "timer-0", namespace: "prod" },
  { target: { app: APP.appId }, name: "nightly" },
];

let url: string;
let backend: StateBackend;
let store: WorkflowStateStore;
const stores = new TestStores(inject("etcdEndpoint"));
let scheduler: EtcdSchedulerStore;

beforeAll(async () => {
  url = await createPostgresStateDatabase("orphans");
  backend = await openPostgresBackend({ connectionString: url, tableName: "state" });
  store = new WorkflowStateStore(backend, APP);
  await writeInstances(backend, APP, [
    { instanceId: "done-1", scenario: "completed", createdAt: HOUR_AGO },
    { instanceId: "failed-1", scenario: "failed", createdAt: HOUR_AGO },
    { instanceId: "run-1", scenario: "running-timer", createdAt: HOUR_AGO },
    { instanceId: "can-1", scenario: "continued-as-new", createdAt: HOUR_AGO },
    { instanceId: "bad-1", scenario: "completed", createdAt: HOUR_AGO },
  ]);
  await backend.setMany([[`${instanceKeyPrefix(APP, "bad-1")}metadata`, Buffer.from("not protobuf \xff\xff")]]);
});

afterAll(async () => {
  await stores.cleanUp();
  await backend?.close();
});

beforeEach(async () => {
  scheduler = await stores.create(buildSeeds([...ORPHANS, ...KEPT]));
});

afterEach(async () => {
  await scheduler.deletePrefixes(["dapr/"]);
});

async function scanAll(): Promise<{ orphans: OrphanReminder[]; scanned: number; unreadable: string[] }> {
  const out = { orphans: [] as OrphanReminder[], scanned: 0, unreadable: [] as string[] };
  for await (const page of scanOrphanReminders({ scheduler, store }, { pageSize: 2 })) {
    out.orphans.push(...page.orphans);
    out.scanned += page.scanned;
    out.unreadable.push(...page.unreadable.map((u) => u.key));
  }
  return out;
}

function cli(args: string[], connection: string[] = ["-c", url]): Promise<{ stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const sink = (append: (s: string) => void) =>
    new Writable({
      write(chunk, _enc, done) {
        append(chunk.toString());
        done();
      },
    });
  const program = new Command("housekeeper").exitOverride();
  program.addCommand(
    schedulerCommand({
      stdout: sink((s) => (stdout += s)),
      stderr: sink((s) => (stderr += s)),
      // The command closes what it opens: hand it a view of the test's store whose close does nothing.
      openStore: async () => Object.create(scheduler, { close: { value: async () => {} } }),
    }),
  );
  return program
    .parseAsync(["node", "housekeeper", "scheduler", "orphans", "-a", APP.appId, ...connection, ...args])
    .then(() => ({ stdout, stderr }));
}

describe("orphan reminders", () => {
  it("finds the reminders of missing and finished instances, and nothing else", async () => {
    const { orphans, scanned, unreadable } = await scanAll();
    expect(orphans.map((o) => [o.name, o.reason, o.runtimeStatus ?? null, o.count]).sort()).toEqual(
      [
        ["workflow/orders/done-1/timer-3", "instance-finished", "COMPLETED", 0],
        ["workflow/orders/failed-1/new-event-b2", "instance-finished", "FAILED", 2],
        ["workflow/orders/gone-1/new-event-a1", "no-instance", null, 41],
        ["workflow/orders/gone-1/timer-1", "no-instance", null, 0],
        ["actor/dapr.internal.default.orders.retentioner/gone-1/retention", "no-instance", null, 0],
      ].sort(),
    );
    expect(scanned).toBe(10); // the reminders on orders' workflow and retentioner actors in `default`
    expect(unreadable).toEqual([`${instanceKeyPrefix(APP, "bad-1")}metadata`]);
  });

  it("lists them with the CLI, and --delete deletes exactly those keys (job and counter)", async () => {
    const before = await dumpStore(scheduler);
    const listed = await cli(["-o", "json"]);
    expect(JSON.parse(listed.stdout).map((o: { name: string }) => o.name)).toEqual([
      "actor/dapr.internal.default.orders.retentioner/gone-1/retention",
      "workflow/orders/done-1/timer-3",
      "workflow/orders/failed-1/new-event-b2",
      "workflow/orders/gone-1/new-event-a1",
      "workflow/orders/gone-1/timer-1",
    ]);
    expect(listed.stderr).toMatch(/^warning: skipped .*bad-1\|\|metadata: .*left alone/m);
    expect(listed.stderr).toMatch(
      /5 orphan reminder\(s\) in app orders \(namespace default\) \(.*no-instance 3.*\); scanned 10\. --delete deletes them\.\n$/,
    );
    expect(await dumpStore(scheduler)).toEqual(before); // listing changes nothing

    const table = await cli([]);
    expect(table.stdout.split("\n")[0]).toMatch(/^NAME\s+REASON\s+INSTANCE STATUS\s+COUNT$/);
    expect(table.stdout).toMatch(/^workflow\/orders\/gone-1\/new-event-a1\s+no-instance\s+41$/m);

    const deleted = await cli(["--delete"]);
    expect(deleted.stdout.split("\n").filter(Boolean).sort()).toEqual(
      [
        "Deleted workflow/orders/done-1/timer-3 (instance-finished).",
        "Deleted workflow/orders/failed-1/new-event-b2 (instance-finished).",
        "Deleted workflow/orders/gone-1/new-event-a1 (no-instance).",
        "Deleted workflow/orders/gone-1/timer-1 (no-instance).",
        "Deleted actor/dapr.internal.default.orders.retentioner/gone-1/retention (no-instance).",
      ].sort(),
    );
    const after = await dumpStore(scheduler);
    const expected = new Map(before);
    for (const entry of buildSeeds(ORPHANS)) expected.delete(entry.key);
    expect(after).toEqual(expected);
    expect(buildSeeds(ORPHANS).some((e) => e.key.startsWith("dapr/counters/"))).toBe(true);

    expect((await cli([])).stderr).toMatch(/^No orphan reminders in app orders \(namespace default\); scanned 5\.\n$/m);
  });

  it("guards against the wrong store: -c is required, and --delete wants --force when the app has no instance", async () => {
    const before = await dumpStore(scheduler);
    await expect(cli([], [])).rejects.toThrow(/needs the app's state store: give --connection-string/);
    await expect(cli(["--force"])).rejects.toThrow(/--force only goes with --delete/);
    await expect(cli(["--delete", "-o", "json"])).rejects.toThrow(/--output is for the listing/);

    const emptyUrl = await createPostgresStateDatabase("orphans_empty");
    // Against a store without the app, everything due looks orphaned: listed as such, but not deleted without --force.
    const listed = await cli(["-o", "json"], ["-c", emptyUrl]);
    expect(JSON.parse(listed.stdout)).toHaveLength(9);
    await expect(cli(["--delete"], ["-c", emptyUrl])).rejects.toThrow(
      /^the state store holds no instance of the app \(app orders \(namespace default\)\), as when the wrong store is given/,
    );
    expect(await dumpStore(scheduler)).toEqual(before);

    const forced = await cli(["--delete", "--force"], ["-c", emptyUrl]);
    expect(forced.stderr).toMatch(/^Deleted 9 orphan reminder\(s\) of app orders/m);
    const expected = new Map(before);
    for (const entry of buildSeeds([...ORPHANS, KEPT[0]!, KEPT[2]!, KEPT[3]!, KEPT[4]!])) expected.delete(entry.key);
    expect(await dumpStore(scheduler)).toEqual(expected); // the young one, activity, other apps': all still there
  });

  it("refuses --delete (without --force) when most reminders have no instance in the store given", async () => {
    const staleUrl = await createPostgresStateDatabase("orphans_stale");
    const stale = await openPostgresBackend({ connectionString: staleUrl, tableName: "state" });
    try {
      await writeInstances(stale, APP, [{ instanceId: "run-1", scenario: "running-timer", createdAt: HOUR_AGO }]);
    } finally {
      await stale.close();
    }
    await scheduler.put(buildSeeds(Array.from({ length: 6 }, (_, i) => wf(`ghost-${i}`, "timer-0"))));
    const before = await dumpStore(scheduler);
    await expect(cli(["--delete"], ["-c", staleUrl])).rejects.toThrow(
      /^14 of the 16 reminders have no instance in this state store \(app orders \(namespace default\)\)/,
    );
    expect(await dumpStore(scheduler)).toEqual(before);
  });

  it("keeps a reminder whose instance came back, or that was written anew, between the scan and the delete", async () => {
    const { orphans } = await scanAll();
    await writeInstances(backend, APP, [{ instanceId: "gone-1", scenario: "running-timer", createdAt: HOUR_AGO }]);
    // The same reminder name written again (a new value under the old key): not the leftover that was scanned.
    const rewritten = buildSeeds([wf("done-1", "timer-3", { begin: new Date() })])[0]!;
    await scheduler.put([rewritten]);
    try {
      const result = await deleteOrphanReminders({ scheduler, store }, orphans);
      expect(result.kept.map((o) => o.name).sort()).toEqual([
        "actor/dapr.internal.default.orders.retentioner/gone-1/retention",
        "workflow/orders/done-1/timer-3",
        "workflow/orders/gone-1/new-event-a1",
        "workflow/orders/gone-1/timer-1",
      ]);
      expect(result.deleted.map((o) => o.name)).toEqual(["workflow/orders/failed-1/new-event-b2"]);
      const left = await dumpStore(scheduler);
      for (const entry of buildSeeds([ORPHANS[0]!, ORPHANS[1]!])) expect(left.has(entry.key)).toBe(true);
      expect(left.get(rewritten.key)).toBe(Buffer.from(rewritten.value).toString("hex"));
    } finally {
      await backend.deleteMany(store.instanceStateKeys("gone-1", (await store.readInstance("gone-1"))!.metadata));
    }
  });
});
