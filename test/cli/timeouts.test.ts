import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { openEtcdSchedulerStore } from "../../shared/scheduler/etcd-store.ts";
import { openMysqlBackend } from "../../shared/state-store/mysql.ts";
import { createMysqlDaprTable } from "../../shared/state-store/mysql-table.ts";
import { createPostgresDaprTable, openPostgresBackend } from "../../shared/state-store/postgresql.ts";
import { runHousekeeper } from "../support/cli.ts";
import { type FaultyPeer, startFreezingProxy, startSilentServer } from "../support/faulty-peer.ts";
import { createPostgresDatabase, uniqueDatabaseName } from "../support/servers.ts";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** The real CLI, timed from start to exit (start-up included). */
async function housekeeper(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const started = Date.now();
  const run = await runHousekeeper(args, env);
  return { ...run, ms: Date.now() - started };
}

let silent: FaultyPeer;
beforeAll(async () => {
  silent = await startSilentServer();
});
afterAll(async () => {
  await silent?.stop();
});

// A bound on a whole CLI run, start-up included (2 s on an idle machine, several times that on a loaded one): far
// below what each client waited before (PostgreSQL for ever, Redis 60 s per try, MongoDB 30 s, etcd 3 x 60 s, the
// sidecar 3 x 15 s). MySQL and SQL Server had their own 10 s / 15 s: their messages show the configured timeout.
const BOUND_MS = 25_000;

describe("a peer that accepts TCP and never answers", () => {
  const stores: Array<[string, () => string, RegExp]> = [
    ["PostgreSQL", () => `postgres://u@${silent.address}/db`, /PostgreSQL at 127\.0\.0\.1:\d+\/db: .*timeout/i],
    ["MySQL", () => `mysql://u:p@${silent.address}/db`, /MySQL at 127\.0\.0\.1:\d+: .*ETIMEDOUT \(after 1000 ms\)/],
    ["Redis", () => `redis://${silent.address}/0`, /Redis .*127\.0\.0\.1:\d+.*timed out/i],
    [
      "MongoDB",
      () => `mongodb://${silent.address}/db`,
      /mongodb 127\.0\.0\.1:\d+\/daprStore .*timed out after 1000 ms/,
    ],
    [
      "SQL Server",
      () => `Server=127.0.0.1,${silent.port};Database=x;User Id=sa;Password=secret`,
      /sqlserver .*127\.0\.0\.1:\d+.* in 1000ms/,
    ],
  ];
  for (const [name, connection, message] of stores) {
    it(`${name}: fails within the connect timeout, with one line`, async () => {
      const run = await housekeeper(["workflow", "list", "-a", "app", "-c", connection(), "--connect-timeout", "1s"]);
      expect(run.code).toBe(1);
      expect(run.stderr.trimEnd().split("\n")).toHaveLength(1);
      expect(run.stderr).toMatch(/^Error: /);
      expect(run.stderr).toMatch(message);
      expect(run.ms).toBeLessThan(BOUND_MS);
    });
  }

  it("etcd: fails within the connect timeout set by HOUSEKEEPER_CONNECT_TIMEOUT, no dangling fragment", async () => {
    const run = await housekeeper(["scheduler", "list", "--etcd-endpoints", silent.address], {
      HOUSEKEEPER_CONNECT_TIMEOUT: "1s",
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      `Error: cannot reach etcd at ${silent.address} while reading the current revision: no answer in time; ` +
        "check the endpoint and that etcd is running there\n",
    );
    expect(run.ms).toBeLessThan(BOUND_MS);
  });

  it("etcd refusing connections: one line, without grpc-js's empty 'Resolution note:'", async () => {
    const run = await housekeeper(["scheduler", "list", "--etcd-endpoints", "127.0.0.1:1"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^Error: cannot reach etcd at 127\.0\.0\.1:1 .*ECONNREFUSED/);
    expect(run.stderr).not.toMatch(/Resolution note/);
  });
});

describe("the sidecar client", () => {
  it("takes --request-timeout (its own default is 15 s per attempt)", async () => {
    const run = await housekeeper([
      "workflow",
      "suspend",
      "inst-1",
      "-a",
      "app",
      "--sidecar-url",
      `http://${silent.address}`,
      "--request-timeout",
      "1s",
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      `Error: cannot reach the Dapr sidecar at http://${silent.address}: Headers Timeout Error (UND_ERR_HEADERS_TIMEOUT)\n`,
    );
    expect(run.ms).toBeLessThan(BOUND_MS);
  });
});

describe("gRPC errors", () => {
  it("the sidecar's gRPC API refusing connections: one line, without the empty 'Resolution note:'", async () => {
    const run = await housekeeper([
      "workflow",
      "rerun",
      "inst-1",
      "-a",
      "app",
      "--sidecar-grpc-address",
      "127.0.0.1:1",
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^Error: cannot reach the Dapr sidecar's gRPC API at 127\.0\.0\.1:1: .*ECONNREFUSED/);
    expect(run.stderr).not.toMatch(/Resolution note/);
  });
});

describe("MySQL that stops answering mid-run", () => {
  const saved = process.env.HOUSEKEEPER_REQUEST_TIMEOUT;
  afterAll(() => {
    if (saved === undefined) delete process.env.HOUSEKEEPER_REQUEST_TIMEOUT;
    else process.env.HOUSEKEEPER_REQUEST_TIMEOUT = saved;
  });

  it("fails the statement within the request timeout (mysql2 has no statement timeout of its own)", async () => {
    const server = inject("mysql");
    const database = uniqueDatabaseName("timeouts");
    const connection = { host: server.host, port: server.port, user: server.user, password: server.password };
    await createMysqlDaprTable(connection, database, "state");
    process.env.HOUSEKEEPER_REQUEST_TIMEOUT = "1500ms";
    const proxy = await startFreezingProxy({ host: server.host, port: server.port });
    const backend = await openMysqlBackend({ ...connection, host: proxy.host, port: proxy.port, database });
    try {
      await backend.scanKeys({ prefix: "a", suffix: "", pageSize: 10 });
      proxy.freeze();
      const started = Date.now();
      await expect(backend.scanKeys({ prefix: "a", suffix: "", pageSize: 10 })).rejects.toThrow(
        /MySQL query on .* failed: no answer from MySQL for 1500 ms/,
      );
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await proxy.stop();
      await backend.close().catch(() => {});
    }
  });
});

describe("etcd that stops answering mid-run", () => {
  it("fails the call within one request timeout (etcd3 retried it three times)", async () => {
    const [host, port] = inject("etcdEndpoint").split(":") as [string, string];
    const proxy = await startFreezingProxy({ host, port: Number(port) });
    const store = openEtcdSchedulerStore({ endpoints: [proxy.address], timeoutMs: 2_000, connectTimeoutMs: 2_000 });
    try {
      await store.snapshot();
      proxy.freeze();
      const started = Date.now();
      await expect(store.snapshot()).rejects.toThrow(/cannot reach etcd at 127\.0\.0\.1:\d+ .*: no answer in time/);
      expect(Date.now() - started).toBeLessThan(5_000); // 3 tries took 6 s
    } finally {
      await store.close();
      await proxy.stop();
    }
  });
});

describe("timeout settings", () => {
  it("refuses a bad --connect-timeout and a bad HOUSEKEEPER_REQUEST_TIMEOUT before connecting", async () => {
    const flag = await housekeeper(["--connect-timeout", "-1s", "workflow", "list", "-a", "app", "-c", "redis://x"]);
    expect(flag.code).toBe(2); // refused input (cli/exit-codes.ts)
    expect(flag.stderr).toBe('Error: invalid --connect-timeout "-1s": must be at least 1ms\n');
    const env = await housekeeper(["workflow", "list", "-a", "app", "-c", `redis://${silent.address}`], {
      HOUSEKEEPER_REQUEST_TIMEOUT: "soon",
    });
    expect(env.code).toBe(2);
    expect(env.stderr).toBe(
      'Error: invalid HOUSEKEEPER_REQUEST_TIMEOUT "soon": expected a number; use a Go duration like 10s, 1m30s or 500ms, or whole days like 1d\n',
    );
  });
});

describe("PostgreSQL that stops answering mid-run", () => {
  let url: string;
  const saved = process.env.HOUSEKEEPER_REQUEST_TIMEOUT;

  beforeAll(async () => {
    url = await createPostgresDatabase(inject("postgresUrl"), uniqueDatabaseName("timeouts"));
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await createPostgresDaprTable(admin, "state", "v2");
    await admin.end();
    process.env.HOUSEKEEPER_REQUEST_TIMEOUT = "1500ms";
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.HOUSEKEEPER_REQUEST_TIMEOUT;
    else process.env.HOUSEKEEPER_REQUEST_TIMEOUT = saved;
  });

  it("fails the statement within the request timeout", async () => {
    const real = new URL(url);
    const proxy = await startFreezingProxy({ host: real.hostname, port: Number(real.port) });
    real.host = proxy.address;
    const backend = await openPostgresBackend({ connectionString: real.toString(), tableName: "state" });
    try {
      await backend.scanKeys({ prefix: "a", suffix: "", pageSize: 10 });
      proxy.freeze();
      const started = Date.now();
      await expect(backend.scanKeys({ prefix: "a", suffix: "", pageSize: 10 })).rejects.toThrow(
        /PostgreSQL query on .* failed: Query read timeout/,
      );
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await proxy.stop();
      await backend.close().catch(() => {});
    }
  });

  it("survives the connection of a checked-out client dying between statements (no unhandled 'error')", async () => {
    const real = new URL(url);
    const proxy = await startFreezingProxy({ host: real.hostname, port: Number(real.port) });
    real.host = proxy.address;
    const backend = await openPostgresBackend({ connectionString: real.toString(), tableName: "state" });
    const unhandled: unknown[] = [];
    const onUncaught = (error: unknown) => unhandled.push(error);
    process.on("uncaughtException", onUncaught);
    try {
      // A transaction holds a pool client between its statements; the server's side of the connection dies then.
      const pool = (backend as unknown as { pool: pg.Pool }).pool;
      const client = await pool.connect();
      await proxy.stop();
      await new Promise((resolve) => setTimeout(resolve, 300));
      client.release(true);
      expect(unhandled).toEqual([]);
      await expect(backend.scanKeys({ prefix: "a", suffix: "", pageSize: 10 })).rejects.toThrow(/PostgreSQL/);
    } finally {
      process.off("uncaughtException", onUncaught);
      await backend.close().catch(() => {});
    }
  });
});
