// Proves the servers started by global-setup.ts really work through the official drivers, and that the per-file
// database helpers hand out isolated databases.

import { Etcd3 } from "etcd3";
import { Redis } from "ioredis";
import mysql from "mysql2/promise";
import pg from "pg";
import { describe, expect, inject, it } from "vitest";
import { createMysqlDatabase, createPostgresDatabase, MissingBinaryError, uniqueDatabaseName } from "./servers.ts";

async function pgQuery<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

async function mysqlQuery<T>(info: { url: string }, sql: string, params: unknown[] = []): Promise<T[]> {
  const conn = await mysql.createConnection(info.url);
  try {
    const [rows] = await conn.query(sql, params);
    return rows as T[];
  } finally {
    await conn.end();
  }
}

describe("test servers", () => {
  it("PostgreSQL answers through pg", async () => {
    const [row] = await pgQuery<{ version: string }>(inject("postgresUrl"), "SELECT version()");
    expect(row?.version).toMatch(/^PostgreSQL \d+/);
    if (!process.env.HOUSEKEEPER_TEST_POSTGRES_URL) expect(row?.version).toMatch(/^PostgreSQL 15\./);
  });

  it("MariaDB answers through mysql2 over TCP with a password", async () => {
    const info = inject("mysql");
    expect(info.dsn).toBe(`${info.user}:${info.password}@tcp(${info.host}:${info.port})/`);
    const [row] = await mysqlQuery<{ v: string }>(info, "SELECT VERSION() AS v");
    if (!process.env.HOUSEKEEPER_TEST_MYSQL_URL) expect(row?.v).toContain("MariaDB");
    expect(row?.v).toBeTruthy();
  });

  it("Redis answers SET/GET through ioredis", async () => {
    const redis = new Redis(inject("redisUrl"));
    try {
      const key = uniqueDatabaseName("servers_test");
      await redis.set(key, "hello", "EX", 60);
      expect(await redis.get(key)).toBe("hello");
    } finally {
      redis.disconnect();
    }
  });

  it("etcd answers put/get through etcd3", async () => {
    const endpoint = inject("etcdEndpoint");
    expect(endpoint).toMatch(/^[^/]+:\d+$/);
    const etcd = new Etcd3({ hosts: `http://${endpoint}` });
    try {
      const key = `servers-test/${uniqueDatabaseName("k")}`;
      await etcd.put(key).value("world");
      expect(await etcd.get(key).string()).toBe("world");
      await etcd.delete().key(key);
    } finally {
      etcd.close();
    }
  });
});

describe("per-file database helpers", () => {
  it("createPostgresDatabase gives isolated, recreatable databases", async () => {
    const serverUrl = inject("postgresUrl");
    const [a, b] = [uniqueDatabaseName("servers_test_a"), uniqueDatabaseName("servers_test_b")];
    const urlA = await createPostgresDatabase(serverUrl, a);
    const urlB = await createPostgresDatabase(serverUrl, b);
    expect(new URL(urlA).pathname).toBe(`/${a}`);

    await pgQuery(urlA, "CREATE TABLE state (key text PRIMARY KEY, value text)");
    await pgQuery(urlA, "INSERT INTO state VALUES ($1, $2)", ["k", "in-a"]);
    const [current] = await pgQuery<{ db: string }>(urlB, "SELECT current_database() AS db");
    expect(current?.db).toBe(b);
    const [exists] = await pgQuery<{ t: string | null }>(urlB, "SELECT to_regclass('public.state')::text AS t");
    expect(exists?.t).toBeNull();

    // Creating again starts from scratch.
    const again = await createPostgresDatabase(serverUrl, a);
    const [after] = await pgQuery<{ t: string | null }>(again, "SELECT to_regclass('public.state')::text AS t");
    expect(after?.t).toBeNull();
  });

  it("createMysqlDatabase gives isolated databases with dsn and url", async () => {
    const server = inject("mysql");
    const [a, b] = [uniqueDatabaseName("servers_test_a"), uniqueDatabaseName("servers_test_b")];
    const dbA = await createMysqlDatabase(server, a);
    const dbB = await createMysqlDatabase(server, b);
    expect(dbA.database).toBe(a);
    expect(dbA.dsn).toBe(`${server.user}:${server.password}@tcp(${server.host}:${server.port})/${a}`);
    expect(dbA.url.endsWith(`/${a}`)).toBe(true);

    await mysqlQuery(dbA, "CREATE TABLE state (id VARCHAR(255) PRIMARY KEY, value TEXT)");
    await mysqlQuery(dbA, "INSERT INTO state VALUES (?, ?)", ["k", "in-a"]);
    const [current] = await mysqlQuery<{ db: string }>(dbB, "SELECT DATABASE() AS db");
    expect(current?.db).toBe(b);
    const tables = await mysqlQuery(dbB, "SHOW TABLES");
    expect(tables).toEqual([]);
  });

  it("rejects database names that are not plain identifiers", async () => {
    await expect(createPostgresDatabase(inject("postgresUrl"), 'x"; DROP DATABASE postgres; --')).rejects.toThrow(
      /invalid database name/,
    );
    await expect(createMysqlDatabase(inject("mysql"), "a-b")).rejects.toThrow(/invalid database name/);
  });

  it("missing binaries are reported as one line naming the Debian package", () => {
    const message = new MissingBinaryError("etcd", "etcd-server").message;
    expect(message).toBe("etcd not found: install the Debian package etcd-server (apt-get install etcd-server)");
    expect(message).not.toContain("\n");
  });
});
