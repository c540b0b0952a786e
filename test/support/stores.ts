/**
 * One factory per real state store the harness runs, each giving a fresh, isolated backend in Dapr's layout.
 * Tests that must hold for every store loop over storeFactories().
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import pg from "pg";
import { inject } from "vitest";
import type { StateBackend } from "../../shared/state-store/backend.ts";
import { openMysqlBackend } from "../../shared/state-store/mysql.ts";
import { createMysqlDaprTable } from "../../shared/state-store/mysql-table.ts";
import type { PostgresLayout } from "../../shared/state-store/postgresql.ts";
import { createPostgresDaprTable, openPostgresBackend } from "../../shared/state-store/postgresql.ts";
import { openRedisBackend } from "../../shared/state-store/redis.ts";
import { createSqliteDaprDatabase, openSqliteBackend } from "../../shared/state-store/sqlite.ts";
import { createMysqlDatabase, createPostgresDatabase, uniqueDatabaseName } from "./servers.ts";

export interface StoreFactory {
  name: string;
  open(): Promise<StateBackend>;
}

/** A fresh PostgreSQL database holding an empty Dapr state table `state`; returns its URL. */
export async function createPostgresStateDatabase(name: string, layout: PostgresLayout = "v2"): Promise<string> {
  const url = await createPostgresDatabase(inject("postgresUrl"), uniqueDatabaseName(name));
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await createPostgresDaprTable(admin, "state", layout);
  await admin.end();
  return url;
}

function postgres(layout: PostgresLayout): StoreFactory {
  return {
    name: `PostgreSQL (${layout} table)`,
    async open() {
      const url = await createPostgresStateDatabase(`wf_${layout}`, layout);
      return openPostgresBackend({ connectionString: url, tableName: "state" });
    },
  };
}

const mysqlFactory: StoreFactory = {
  name: "MariaDB",
  async open() {
    const info = await createMysqlDatabase(inject("mysql"), uniqueDatabaseName("wf_mysql"));
    const connection = { host: info.host, port: info.port, user: info.user, password: info.password };
    await createMysqlDaprTable(connection, info.database, "state");
    return openMysqlBackend({ ...connection, database: info.database, tableName: "state" });
  },
};

/**
 * Redis has no databases to create: each test file passes its own logical DB index (1–15), which is flushed first.
 * Keep the indexes distinct across test files.
 */
function redis(db: number): StoreFactory {
  return {
    name: "Redis",
    async open() {
      const url = `${inject("redisUrl")}/${db}`;
      const admin = new Redis(url);
      await admin.flushdb();
      admin.disconnect();
      return openRedisBackend({ url });
    },
  };
}

/** A fresh Dapr SQLite state store file in a temp directory (removed when the test process exits). */
export function createSqliteStateFile(): string {
  sqliteRoot ??= mkdtempSync(join(tmpdir(), "housekeeper-sqlite-"));
  const path = join(sqliteRoot, `state-${++sqliteCount}.db`);
  createSqliteDaprDatabase(path);
  return path;
}

let sqliteRoot: string | undefined;
let sqliteCount = 0;
process.on("exit", () => {
  if (sqliteRoot) rmSync(sqliteRoot, { recursive: true, force: true });
});

const sqliteFactory: StoreFactory = {
  name: "SQLite",
  async open() {
    return openSqliteBackend({ path: createSqliteStateFile() });
  },
};

/** Every store; new ones go at the end (tests pick some by index). */
export function storeFactories(redisDb: number): StoreFactory[] {
  return [postgres("v1"), postgres("v2"), mysqlFactory, redis(redisDb), sqliteFactory];
}

/** Every key under `prefix` with its value as hex: a byte-for-byte snapshot to compare before and after. */
export async function dumpStore(backend: StateBackend, prefix = ""): Promise<Map<string, string>> {
  const all = new Map<string, string>();
  let cursor: string | undefined;
  do {
    const page = await backend.scanKeys({ prefix, suffix: "", pageSize: 5000, cursor });
    cursor = page.cursor;
    for (const [k, v] of await backend.getMany(page.keys)) all.set(k, Buffer.from(v).toString("hex"));
  } while (cursor);
  return all;
}
