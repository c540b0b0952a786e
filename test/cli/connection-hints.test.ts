/**
 * #13 item 9: a connection failure is one line naming the host and what to check, from the real drivers against the
 * real servers (a wrong password, a missing database) and against a closed loopback port and an unresolvable name.
 */
import { randomUUID } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { Redis } from "ioredis";
import pg from "pg";
import { describe, expect, inject, it } from "vitest";
import { runHousekeeper } from "../support/cli.ts";

/** A loopback port nothing listens on (bound by us, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function listWith(connection: string) {
  const run = await runHousekeeper(["workflow", "list", "-a", "orders", "-c", connection, "--connect-timeout", "5s"]);
  expect(run.code).not.toBe(0);
  const lines = run.stderr.trim().split("\n");
  expect(lines, run.stderr).toHaveLength(1);
  return lines[0]!;
}

describe("what a failed connection says to check", () => {
  it("a closed port: the host and port, and that the store is running", async () => {
    const port = await closedPort();
    expect(await listWith(`postgres://u:p@127.0.0.1:${port}/db`)).toMatch(
      new RegExp(
        `^Error: cannot connect to PostgreSQL at 127\\.0\\.0\\.1:${port}/db: .*ECONNREFUSED.*; check the host and port, and that PostgreSQL is running and listening there$`,
      ),
    );
    expect(await listWith(`u:p@tcp(127.0.0.1:${port})/db`)).toMatch(
      /; check the host and port, and that MySQL is running/,
    );
    expect(await listWith(`redis://127.0.0.1:${port}/0`)).toMatch(
      /; check the host and port, and that Redis is running/,
    );
  });

  it("a name that does not resolve: the host name", async () => {
    expect(await listWith("postgres://u:p@no-such-host.invalid:5432/db")).toMatch(
      /no-such-host\.invalid.*; check the host name \(it does not resolve from here\)$/,
    );
  });

  it("a missing database on the real PostgreSQL and MariaDB, a wrong password on MariaDB", async () => {
    const missing = new URL(inject("postgresUrl"));
    missing.pathname = "/no_such_database";
    expect(await listWith(missing.toString())).toMatch(/; check the database name$/);

    const my = inject("mysql");
    expect(await listWith(`${my.user}:wrong-password@tcp(${my.host}:${my.port})/mysql`)).toMatch(
      /; check the user and password$/,
    );
    // (A missing MySQL database is reported as its table not existing there, which names it already.)
  });
});

describe("a wrong password on the real PostgreSQL and Redis", () => {
  it("PostgreSQL with scram-sha-256: check the user and password (and the right one connects)", async () => {
    // The harness's PostgreSQL trusts loopback. One role of our own gets a password rule put first in pg_hba.conf
    // (first match wins, so no other role's connections change), and the file is put back afterwards.
    const role = `hk_pw_${randomUUID().slice(0, 8)}`;
    const admin = new pg.Client({ connectionString: inject("postgresUrl") });
    await admin.connect();
    const hbaFile = (await admin.query<{ hba_file: string }>("SHOW hba_file")).rows[0]!.hba_file;
    const original = await readFile(hbaFile, "utf8");
    try {
      await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD 'right-password'`);
      const rules = ["127.0.0.1/32", "::1/128"].map((net) => `host all ${role} ${net} scram-sha-256`);
      await writeFile(hbaFile, `${rules.join("\n")}\n${original}`);
      await admin.query("SELECT pg_reload_conf()");
      const url = (password: string) => {
        const u = new URL(inject("postgresUrl"));
        u.username = role;
        u.password = password;
        return u.toString();
      };
      expect(await listWith(url("wrong-password"))).toMatch(
        /^Error: cannot connect to PostgreSQL at .*password authentication failed.*; check the user and password$/,
      );
      const right = await runHousekeeper(["workflow", "list", "-a", "orders", "-c", url("right-password")]);
      expect(right.stderr).not.toMatch(/password authentication failed/);
    } finally {
      await writeFile(hbaFile, original);
      await admin.query("SELECT pg_reload_conf()");
      await admin.query(`DROP ROLE IF EXISTS ${role}`);
      await admin.end();
    }
  });

  it("Redis with an ACL user: check the user and password", async () => {
    const user = `hk_pw_${randomUUID().slice(0, 8)}`;
    const redisUrl = new URL(inject("redisUrl"));
    const admin = new Redis(inject("redisUrl"));
    try {
      await admin.call("ACL", "SETUSER", user, "on", ">right-password", "~*", "+@all");
      const wrong = new URL(redisUrl);
      wrong.username = user;
      wrong.password = "wrong-password";
      wrong.pathname = "/0";
      expect(await listWith(wrong.toString())).toMatch(/; check the user and password$/);
    } finally {
      await admin.call("ACL", "DELUSER", user);
      admin.disconnect();
    }
  });
});
