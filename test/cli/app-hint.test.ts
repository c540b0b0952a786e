/**
 * Goal 9 of #13: a wrong app ID (or namespace) gets a one-line hint naming the apps the store holds (keys only,
 * bounded), after the Dapr CLI's own "No workflow found" line and with the same exit status; a MongoDB that cannot be
 * reached fails within the 10 s connect timeout with one line naming the host and what to check (the real `mongodb`
 * driver against a closed loopback port: no MongoDB server can run here).
 */
import { createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appHintLine, knownApps, workflowAppOf } from "../../cli/output/app-hint.ts";
import { writeInstances } from "../../shared/sample-data/writer.ts";
import type { StateBackend } from "../../shared/state-store/backend.ts";
import { openPostgresBackend } from "../../shared/state-store/postgresql.ts";
import { openSqliteBackend } from "../../shared/state-store/sqlite.ts";
import { runHousekeeper } from "../support/cli.ts";
import { createPostgresStateDatabase, createSqliteStateFile } from "../support/stores.ts";

const DAY = 86_400_000;

async function seed(backend: StateBackend): Promise<void> {
  const old = new Date(Date.now() - 40 * DAY);
  await writeInstances(backend, { appId: "orders", namespace: "default" }, [
    { instanceId: "o-1", scenario: "completed", createdAt: old },
    { instanceId: "o-2", scenario: "completed", createdAt: old },
  ]);
  await writeInstances(backend, { appId: "billing", namespace: "prod" }, [
    { instanceId: "b-1", scenario: "completed", createdAt: old },
  ]);
  // Not a workflow instance: an ordinary actor's state, which must not be taken for an app.
  await backend.setMany([["orders||Cart||c-1||metadata", new Uint8Array([1])]]);
}

describe("workflowAppOf", () => {
  it("reads the app of a workflow metadata key and nothing else", () => {
    expect(workflowAppOf("orders||dapr.internal.default.orders.workflow||o-1||metadata")).toEqual({
      appId: "orders",
      namespace: "default",
    });
    expect(workflowAppOf("a.b||dapr.internal.my-ns.a.b.workflow||i||metadata")).toEqual({
      appId: "a.b",
      namespace: "my-ns",
    });
    expect(workflowAppOf("orders||dapr.internal.default.orders.activity||o-1||metadata")).toBeUndefined();
    expect(workflowAppOf("orders||dapr.internal.default.other.workflow||o-1||metadata")).toBeUndefined();
    expect(workflowAppOf("orders||Cart||c-1||metadata")).toBeUndefined();
    expect(workflowAppOf("orders||dapr.internal.default.orders.workflow||o-1||history-000000")).toBeUndefined();
  });

  it("says when the bound stopped the listing, and names at most ten apps", () => {
    const apps = Array.from({ length: 12 }, (_, i) => ({ appId: `app-${i}`, namespace: "default", instances: 1 }));
    const line = appHintLine({ appId: "x", namespace: "default" }, { apps, complete: false, keysRead: 5000 });
    expect(line).toBe(
      `hint: app ID "x" in namespace "default" has no workflow instances here; this store holds ${apps
        .slice(0, 10)
        .map((a) => `${a.appId} (namespace default)`)
        .join(", ")} and 2 more (from the first 5,000 instances; there may be others); pass one with -a (and -n)\n`,
    );
    expect(appHintLine({ appId: "x", namespace: "default" }, { apps: [], complete: true, keysRead: 0 })).toBe(
      "hint: this store holds no workflow instances of another app; check --connection-string and --table-name\n",
    );
  });
});

describe("knownApps on real stores", () => {
  it("PostgreSQL and SQLite: every app and namespace, with its count, actors left out", async () => {
    const backends = [
      await openPostgresBackend({ connectionString: await createPostgresStateDatabase("apphint"), tableName: "state" }),
      await openSqliteBackend({ path: createSqliteStateFile() }),
    ];
    for (const backend of backends) {
      try {
        await seed(backend);
        const known = await knownApps(backend);
        expect(known.complete).toBe(true);
        expect(known.apps.sort((a, b) => a.appId.localeCompare(b.appId))).toEqual([
          { appId: "billing", namespace: "prod", instances: 1 },
          { appId: "orders", namespace: "default", instances: 2 },
        ]);
      } finally {
        await backend.close();
      }
    }
  });
});

describe("the CLI with a wrong app ID", () => {
  let url: string;
  beforeAll(async () => {
    url = await createPostgresStateDatabase("apphintcli");
    const backend = await openPostgresBackend({ connectionString: url, tableName: "state" });
    try {
      await seed(backend);
    } finally {
      await backend.close();
    }
  });

  const hint =
    'hint: app ID "order" in namespace "default" has no workflow instances here; this store holds ' +
    "billing (namespace prod, 1 instance), orders (namespace default, 2 instances); pass one with -a (and -n)\n";

  it("workflow list (table and -o ids): the Dapr line, then the hint; exit status as before", async () => {
    for (const output of ["short", "ids"]) {
      const run = await runHousekeeper(["workflow", "list", "-a", "order", "-c", url, "-o", output]);
      expect(run.code).toBe(0);
      expect(run.stdout).toBe("");
      expect(run.stderr).toBe(`❌  No workflow found in namespace "default" for app ID "order"\n${hint}`);
    }
  });

  it("a filter that matches nothing of an existing app gives no hint", async () => {
    const run = await runHousekeeper(["workflow", "list", "-a", "orders", "-c", url, "-s", "FAILED"]);
    expect(run.stderr).toBe('❌  No workflow found in namespace "default" for app ID "orders"\n');
  });

  it("the right app in the wrong namespace is named with its namespace", async () => {
    const run = await runHousekeeper(["workflow", "list", "-a", "billing", "-c", url]);
    expect(run.stderr).toContain("this store holds billing (namespace prod, 1 instance), orders (namespace default");
  });

  it("workflow purge --dry-run and report stuck say it too", async () => {
    const purge = await runHousekeeper(["workflow", "purge", "-a", "order", "-c", url, "--all", "--dry-run"]);
    expect(purge.code).toBe(0);
    expect(purge.stderr).toBe(hint);
    const stuck = await runHousekeeper(["report", "stuck", "-a", "order", "-c", url]);
    expect(stuck.code).toBe(0);
    expect(stuck.stderr.endsWith(hint)).toBe(true);
  });
});

describe("MongoDB that cannot be reached", () => {
  let port: number;
  beforeAll(async () => {
    // A loopback port that was just free and is closed again: connections are refused at once.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as { port: number }).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  afterAll(() => undefined);

  it("gives up after the 10 s default with one line naming the host and what to check", async () => {
    const started = Date.now();
    const run = await runHousekeeper(["workflow", "list", "-a", "app", "-c", `mongodb://127.0.0.1:${port}/db`]);
    const ms = Date.now() - started;
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      `Error: cannot connect to mongodb 127.0.0.1:${port}/daprStore collection daprCollection: connect ECONNREFUSED ` +
        `127.0.0.1:${port}; check the host and port, and that MongoDB is running and reachable there\n`,
    );
    // Server selection's own 10 s, plus start-up on a loaded machine (it was 34 s with the driver's default).
    expect(ms).toBeGreaterThanOrEqual(9_000);
    expect(ms).toBeLessThan(25_000);
  }, 60_000);
});
