import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { SeedJob } from "../../shared/sample-data/scheduler-jobs.ts";
import { buildSeeds } from "../../shared/sample-data/scheduler-jobs.ts";
import { writeInstances } from "../../shared/sample-data/writer.ts";
import { openEtcdSchedulerStore } from "../../shared/scheduler/etcd-store.ts";
import type { SchedulerStore } from "../../shared/scheduler/store.ts";
import type { StateBackend } from "../../shared/state-store/backend.ts";
import type { AppRef } from "../../shared/state-store/keys.ts";
import { createPostgresDaprTable, openPostgresBackend } from "../../shared/state-store/postgresql.ts";
import { WorkflowStateStore } from "../../shared/state-store/workflow-store.ts";
import { runHousekeeper } from "../support/cli.ts";
import { createPostgresDatabase, uniqueDatabaseName } from "../support/servers.ts";

const DAY = 86_400_000;
const UNREACHABLE = "postgres://postgres@127.0.0.1:1/none?connect_timeout=5";

const housekeeper = runHousekeeper;

async function keysUnder(scheduler: SchedulerStore): Promise<string[]> {
  const keys: string[] = [];
  for await (const page of (await scheduler.snapshot()).scan("dapr/")) for (const e of page) keys.push(e.key);
  return keys.sort();
}

describe("workflow purge --mode direct needs the Scheduler", () => {
  const refusal =
    "Error: --mode direct needs --etcd-endpoints (or HOUSEKEEPER_ETCD_ENDPOINTS): it deletes the instances' Scheduler reminders with their state\n";

  it.each([
    ["a bulk purge", ["--all-older-than", "720h"], {}],
    ["a dry run", ["--all-older-than", "720h", "--dry-run"], {}],
    ["a purge by ID", ["some-id"], {}],
    ["an empty HOUSEKEEPER_ETCD_ENDPOINTS", ["--all"], { HOUSEKEEPER_ETCD_ENDPOINTS: "" }],
  ])("without --etcd-endpoints, %s is one line of bad input before any store is opened", async (_what, args, env) => {
    const run = await housekeeper(
      ["workflow", "purge", ...args, "-a", "app", "-c", UNREACHABLE, "--mode", "direct"],
      env,
    );
    expect(run).toEqual({ code: 2, stdout: "", stderr: refusal }); // refused input (cli/exit-codes.ts)
  });

  it("takes the scheduler commands' TLS flags, checked the same way", async () => {
    const run = await housekeeper([
      "workflow",
      "purge",
      "--all",
      "-a",
      "app",
      "-c",
      UNREACHABLE,
      "--mode",
      "direct",
      "--etcd-endpoints",
      "127.0.0.1:2379",
      "--etcd-cert",
      "/nonexistent/client.pem",
    ]);
    expect(run).toEqual({ code: 2, stdout: "", stderr: "Error: --etcd-cert and --etcd-key must be given together\n" });

    const help = await housekeeper(["workflow", "purge", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--etcd-endpoints <endpoints>[\s\S]*?\(env:\s+HOUSEKEEPER_ETCD_ENDPOINTS\)/);
    expect(help.stdout).not.toContain("127.0.0.1:2379"); // no default to fall back on
    for (const flag of ["--etcd-cacert <file>", "--etcd-cert <file>", "--etcd-key <file>"]) {
      expect(help.stdout).toContain(flag);
    }
  });

  it("sidecar mode needs no etcd", async () => {
    const run = await housekeeper(["workflow", "purge", "--all", "--dry-run", "-a", "app", "-c", UNREACHABLE]);
    expect(run.code).toBe(1);
    expect(run.stderr).not.toContain("etcd");
    expect(run.stderr).toMatch(/^Error: .*(ECONNREFUSED|connect)/);
  });
});

describe("workflow purge --mode direct with HOUSEKEEPER_ETCD_ENDPOINTS", () => {
  const app: AppRef = { appId: `purge-etcd-${randomUUID().slice(0, 8)}`, namespace: "default" };
  const root = `t-${randomUUID()}/dapr/`;
  let url: string;
  let backend: StateBackend;
  let scheduler: SchedulerStore;
  const kept: SeedJob[] = [
    { target: { workflow: { appId: app.appId, instanceId: "recent-1" } }, name: "new-event-1" },
    { target: { app: app.appId }, name: "nightly" },
  ];

  beforeAll(async () => {
    url = await createPostgresDatabase(inject("postgresUrl"), uniqueDatabaseName("purge_etcd"));
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await createPostgresDaprTable(admin, "state", "v1");
    await admin.end();
    backend = await openPostgresBackend({ connectionString: url, tableName: "state" });
    const now = Date.now();
    await writeInstances(backend, app, [
      { instanceId: "done-1", scenario: "completed", createdAt: new Date(now - 60 * DAY) },
      { instanceId: "recent-1", scenario: "completed", createdAt: new Date(now - DAY) },
      { instanceId: "family-1", scenario: "completed-with-children", createdAt: new Date(now - 60 * DAY) },
    ]);
    scheduler = openEtcdSchedulerStore({ endpoints: [inject("etcdEndpoint")], root });
    await scheduler.put(
      buildSeeds([
        { target: { workflow: { appId: app.appId, instanceId: "done-1" } }, name: "timer-0", counter: { count: 1 } },
        { target: { activity: { appId: app.appId, activityId: "done-1::0::1" } } },
        ...kept,
      ]),
    );
  });
  afterAll(async () => {
    await scheduler?.deletePrefixes(["dapr/"]);
    await scheduler?.close();
    await backend?.close();
  });

  it("reads the endpoints from the environment and deletes exactly the purged instance's reminders", async () => {
    expect(await keysUnder(scheduler)).toHaveLength(buildSeeds(kept).length + 3); // done-1: job + counter, activity
    const run = await housekeeper(
      ["workflow", "purge", "-a", app.appId, "-c", url, "--all-older-than", "720h", "--mode", "direct"].concat(
        "--etcd-root",
        root,
      ),
      { HOUSEKEEPER_ETCD_ENDPOINTS: inject("etcdEndpoint") },
    );
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Purged workflow instance "done-1"');
    // Children go with their parent, named on its line and counted in the summary.
    expect(run.stdout).toMatch(
      /Purged workflow instance "family-1" \(COMPLETED finished \S+ ago, retention 30d\), with child workflow\(s\) "family-1:0000", "family-1:0001"\n/,
    );
    expect(run.stdout).toContain("Purged 2 workflow instance(s) and 2 child workflow(s) with them (scanned 5)");

    const store = new WorkflowStateStore(backend, app);
    expect(await store.readInstance("done-1")).toBeUndefined();
    expect(await store.readInstance("recent-1")).toBeDefined();
    expect(await keysUnder(scheduler)).toEqual(
      buildSeeds(kept)
        .map((e) => e.key)
        .sort(),
    );
  });
});
