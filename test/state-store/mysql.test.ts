import mysql from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { HousekeeperError } from "../../shared/errors.ts";
import type { MysqlBackendOptions } from "../../shared/state-store/mysql.ts";
import { openMysqlBackend } from "../../shared/state-store/mysql.ts";
import type { CreateMysqlDaprTableOptions } from "../../shared/state-store/mysql-table.ts";
import { createMysqlDaprTable, quoteMysqlIdentifier } from "../../shared/state-store/mysql-table.ts";
import { describeStateBackendConformance } from "../support/backend-conformance.ts";
import type { MysqlConnectionInfo } from "../support/servers.ts";
import { parseMysqlUrl, uniqueDatabaseName } from "../support/servers.ts";

// The harness provides the server; HOUSEKEEPER_TEST_MYSQL_URL is a fallback when running without it.
function serverInfo(): MysqlConnectionInfo {
  const provided = inject("mysql") as MysqlConnectionInfo | undefined;
  if (provided) return provided;
  const url = process.env.HOUSEKEEPER_TEST_MYSQL_URL;
  if (!url) throw new Error("no MySQL server: run through vitest's globalSetup or set HOUSEKEEPER_TEST_MYSQL_URL");
  return parseMysqlUrl(url);
}

let info: MysqlConnectionInfo;
let connection: MysqlBackendOptions;
let admin: mysql.Pool;
const database = uniqueDatabaseName("mysql_adapter");
let tableCounter = 0;

beforeAll(async () => {
  info = serverInfo();
  connection = { host: info.host, port: info.port, user: info.user, password: info.password };
  admin = mysql.createPool({ ...connection, connectionLimit: 2 });
});
afterAll(async () => {
  await admin.query(`DROP DATABASE IF EXISTS ${quoteMysqlIdentifier(database)}`).catch(() => {});
  await admin.end();
});

async function freshTable(options?: CreateMysqlDaprTableOptions): Promise<string> {
  const tableName = `state_${++tableCounter}`;
  await createMysqlDaprTable(admin, database, tableName, options);
  return tableName;
}

async function freshBackend(options?: CreateMysqlDaprTableOptions) {
  const tableName = await freshTable(options);
  const backend = await openMysqlBackend({ ...connection, database, tableName });
  return { backend, table: `\`${database}\`.\`${tableName}\`` };
}

describeStateBackendConformance("MySQL (MariaDB)", async () => (await freshBackend()).backend);
describeStateBackendConformance(
  "MySQL, table from Dapr < 1.11 (no expiredate, no row_id)",
  async () => (await freshBackend({ expireDate: false, rowId: false })).backend,
);

describe("MySQL physical layout", () => {
  it("creates Dapr's table: same columns, types, keys and defaults; idempotently", async () => {
    const tableName = await freshTable();
    await createMysqlDaprTable(admin, database, tableName);
    const [columns] = await admin.query<mysql.RowDataPacket[]>(
      `SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type, IS_NULLABLE AS nullable, COLUMN_KEY AS k, EXTRA AS extra
         FROM information_schema.columns WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
      [database, tableName],
    );
    const summary = columns.map((c) => `${c.name} ${c.type} ${c.nullable} ${c.k} ${String(c.extra).toLowerCase()}`);
    expect(summary).toEqual([
      "id varchar(255) NO PRI ",
      // MariaDB's JSON is an alias of LONGTEXT with a json_valid() check; MySQL reports `json`.
      expect.stringMatching(/^value (json|longtext) NO {2}$/),
      "isbinary tinyint(1) NO  ",
      "insertDate timestamp NO  ",
      expect.stringMatching(/^updateDate timestamp NO {2}on update current_timestamp(\(\))?$/),
      "eTag varchar(36) NO  ",
      "expiredate timestamp YES MUL ",
      "row_id bigint(20) unsigned NO UNI auto_increment",
    ]);
    const [meta] = await admin.query<mysql.RowDataPacket[]>(
      "SELECT COUNT(*) AS n FROM information_schema.tables WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'dapr_metadata'",
      [database],
    );
    expect(Number(meta[0]?.n)).toBe(1);
  });

  it("stores binary values as a JSON string of base64 with isbinary = 1 and a fresh UUID eTag per write", async () => {
    const { backend, table } = await freshBackend();
    try {
      const key = "app||dapr.internal.default.app.workflow||i||metadata";
      await backend.setMany([[key, Buffer.from([0x10, 0x0c, 0x18, 0x01])]]);
      const read = async () => {
        const [rows] = await admin.query<mysql.RowDataPacket[]>(
          `SELECT CAST(value AS CHAR) AS value, JSON_TYPE(value) AS type, JSON_UNQUOTE(value) AS text, isbinary,
                  eTag, expiredate FROM ${table} WHERE id = ?`,
          [key],
        );
        return rows[0];
      };
      const first = await read();
      expect(first).toMatchObject({ value: '"EAwYAQ=="', type: "STRING", text: "EAwYAQ==", isbinary: 1 });
      expect(first?.eTag).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(first?.expiredate).toBeNull();
      await backend.setMany([[key, new Uint8Array(0)]]);
      const second = await read();
      expect(second).toMatchObject({ value: '""', isbinary: 1 });
      expect(second?.eTag).not.toBe(first?.eTag);
    } finally {
      await backend.close();
    }
  });

  it("returns the JSON text of an isbinary = 0 row (Dapr ≤ 1.14 metadata) as UTF-8 bytes", async () => {
    const { backend, table } = await freshBackend();
    try {
      await admin.execute(
        `INSERT INTO ${table} (id, value, isbinary, eTag) VALUES (?, ?, 0, UUID()), (?, ?, 0, UUID())`,
        [
          "legacy||metadata",
          '{"InboxLength":0,"HistoryLength":3,"Generation":1}',
          "legacy||customStatus",
          '"caf\u00e9 \\"ok\\""',
        ],
      );
      const values = await backend.getMany(["legacy||metadata", "legacy||customStatus"]);
      expect(JSON.parse(Buffer.from(values.get("legacy||metadata")!).toString("utf8"))).toEqual({
        InboxLength: 0,
        HistoryLength: 3,
        Generation: 1,
      });
      expect(Buffer.from(values.get("legacy||customStatus")!).toString("utf8")).toBe('"caf\u00e9 \\"ok\\""');
    } finally {
      await backend.close();
    }
  });

  it("reads rows written the way Dapr writes them (REPLACE INTO, JSON-quoted base64)", async () => {
    const { backend, table } = await freshBackend();
    try {
      const bytes = Buffer.from([0xff, 0x00, 0x80, 0x7f]);
      await admin.execute(
        `REPLACE INTO ${table} (id, value, eTag, isbinary, expiredate) VALUES (?, ?, UUID(), 1, NULL)`,
        ["dapr||written", JSON.stringify(bytes.toString("base64"))],
      );
      expect(Buffer.from((await backend.getMany(["dapr||written"])).get("dapr||written")!)).toEqual(bytes);
    } finally {
      await backend.close();
    }
  });

  it("treats rows past their expiredate as absent, as Dapr does", async () => {
    const { backend, table } = await freshBackend();
    try {
      await backend.setMany([
        ["a||x||metadata", Buffer.from("1")],
        ["a||y||metadata", Buffer.from("2")],
      ]);
      await admin.execute(`UPDATE ${table} SET expiredate = CURRENT_TIMESTAMP - INTERVAL 1 MINUTE WHERE id = ?`, [
        "a||x||metadata",
      ]);
      await admin.execute(`UPDATE ${table} SET expiredate = CURRENT_TIMESTAMP + INTERVAL 1 HOUR WHERE id = ?`, [
        "a||y||metadata",
      ]);
      expect([...(await backend.getMany(["a||x||metadata", "a||y||metadata"])).keys()]).toEqual(["a||y||metadata"]);
      expect((await backend.scanKeys({ prefix: "a||", suffix: "||metadata", pageSize: 10 })).keys).toEqual([
        "a||y||metadata",
      ]);
      // Writing the key again clears the expiry, as Dapr's REPLACE INTO does.
      await backend.setMany([["a||x||metadata", Buffer.from("3")]]);
      expect((await backend.getMany(["a||x||metadata"])).size).toBe(1);
    } finally {
      await backend.close();
    }
  });

  it("reads a binary row whose value is not a JSON string of base64 as absent, without failing the other keys", async () => {
    const { backend, table } = await freshBackend();
    try {
      await admin.execute(`INSERT INTO ${table} (id, value, isbinary, eTag) VALUES ('bad', '{"a":1}', 1, UUID())`);
      await backend.setMany([["good", Buffer.from("x")]]);
      // The workflow layer then names the instance as unreadable at that key (test/reliability/corrupt-counts.test.ts).
      expect([...(await backend.getMany(["bad", "good"])).keys()]).toEqual(["good"]);
    } finally {
      await backend.close();
    }
  });

  it("refuses keys longer than the id column instead of letting MySQL truncate them", async () => {
    const { backend } = await freshBackend();
    try {
      await expect(backend.setMany([["k".repeat(256), Buffer.from("x")]])).rejects.toMatchObject({ code: "bad-input" });
      await backend.setMany([["\u00e9".repeat(255), Buffer.from("x")]]);
      expect((await backend.getMany(["\u00e9".repeat(255)])).size).toBe(1);
    } finally {
      await backend.close();
    }
  });

  it("refuses a table that does not exist with a message naming it", async () => {
    await expect(openMysqlBackend({ ...connection, database, tableName: "nope" })).rejects.toMatchObject({
      code: "not-found",
      message: expect.stringContaining(`${database}.nope`),
    });
  });

  it("refuses database and table names that are not plain identifiers", async () => {
    for (const [db, table] of [
      [database, "state; drop table x"],
      [database, "schema.table"],
      ["db`name", "state"],
      [database, ""],
    ] as const) {
      const attempt = openMysqlBackend({ ...connection, database: db, tableName: table });
      await expect(attempt).rejects.toBeInstanceOf(HousekeeperError);
      await expect(attempt).rejects.toMatchObject({ code: "bad-input" });
    }
    expect(quoteMysqlIdentifier("dapr_state$1")).toBe("`dapr_state$1`");
  });

  it("uses Dapr's defaults (database dapr_state_store, table state) and describes the location without secrets", async () => {
    await createMysqlDaprTable({ ...connection });
    const backend = await openMysqlBackend({ ...connection });
    try {
      expect(backend.location).toBe(`mysql ${info.host}:${info.port} database dapr_state_store table state`);
      expect(backend.location).not.toContain(info.password);
    } finally {
      await backend.close();
    }
  });
});
