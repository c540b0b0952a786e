/**
 * The fault-injection suite (store-faults.ts) against a MariaDB server of its own, durable (each commit flushed) so
 * that what was committed before the kill -9 is still there after it.
 */
import { afterAll, describe } from "vitest";
import { openMysqlBackend } from "../../shared/state-store/mysql.ts";
import { createMysqlDaprTable } from "../../shared/state-store/mysql-table.ts";
import { createMysqlDatabase, type MysqlServer, startMariadb, uniqueDatabaseName } from "../support/servers.ts";
import { defineStoreFaults } from "./store-faults.ts";

let server: MysqlServer | undefined;
afterAll(async () => {
  await server?.stop();
});

describe("MariaDB faults", () => {
  defineStoreFaults(async () => {
    server = await startMariadb({ durable: true });
    const s = server;
    const info = await createMysqlDatabase(s, uniqueDatabaseName("faults"));
    const credentials = { user: info.user, password: info.password };
    await createMysqlDaprTable({ host: s.host, port: s.port, ...credentials }, info.database, "state");
    return {
      name: "MySQL",
      server: s,
      connectionString: ({ host, port }) =>
        `mysql://${encodeURIComponent(info.user)}:${encodeURIComponent(info.password)}@${host}:${port}/${info.database}`,
      openBackend: () =>
        openMysqlBackend({ host: s.host, port: s.port, ...credentials, database: info.database, tableName: "state" }),
    };
  });
});
