/**
 * #13 item 9: a connection failure is one line naming the host and what to check, from the real drivers against the
 * real servers (a wrong password, a missing database) and against a closed loopback port and an unresolvable name.
 */
import { createServer } from "node:net";
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
    // (The test PostgreSQL trusts loopback connections, so a wrong password cannot fail there.)
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
