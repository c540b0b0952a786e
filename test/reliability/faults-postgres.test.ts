/** The fault-injection suite (store-faults.ts) against a PostgreSQL server of its own. */
import pg from "pg";
import { afterAll, describe } from "vitest";
import { createPostgresDaprTable, openPostgresBackend } from "../../shared/state-store/postgresql.ts";
import { createPostgresDatabase, type PostgresServer, startPostgres, uniqueDatabaseName } from "../support/servers.ts";
import { defineStoreFaults } from "./store-faults.ts";

let server: PostgresServer | undefined;
afterAll(async () => {
  await server?.stop();
});

describe("PostgreSQL faults", () => {
  defineStoreFaults(async () => {
    server = await startPostgres({ durable: true });
    const url = new URL(await createPostgresDatabase(server.url, uniqueDatabaseName("faults")));
    const admin = new pg.Client({ connectionString: url.toString() });
    await admin.connect();
    await createPostgresDaprTable(admin, "state", "v2");
    await admin.end();
    const at = (address: { host: string; port: number }) => {
      const u = new URL(url);
      u.host = `${address.host}:${address.port}`;
      return u.toString();
    };
    const s = server;
    return {
      name: "PostgreSQL",
      server: s,
      connectionString: at,
      openBackend: () => openPostgresBackend({ connectionString: at(s), tableName: "state" }),
    };
  });
});
