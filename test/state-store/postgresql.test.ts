import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { PostgresLayout } from "../../shared/state-store/postgresql.ts";
import { createPostgresDaprTable, openPostgresBackend } from "../../shared/state-store/postgresql.ts";
import { describeStateBackendConformance } from "../support/backend-conformance.ts";
import { createPostgresDatabase, uniqueDatabaseName } from "../support/servers.ts";

let databaseUrl: string;
let admin: pg.Pool;
let tableCounter = 0;

beforeAll(async () => {
  databaseUrl = await createPostgresDatabase(inject("postgresUrl"), uniqueDatabaseName("pg_adapter"));
  admin = new pg.Pool({ connectionString: databaseUrl, max: 2 });
});
afterAll(async () => {
  await admin.end();
});

async function freshBackend(layout: PostgresLayout) {
  const tableName = `state_${layout}_${++tableCounter}`;
  await createPostgresDaprTable(admin, tableName, layout);
  return openPostgresBackend({ connectionString: databaseUrl, tableName });
}

for (const layout of ["v1", "v2"] as const) {
  describeStateBackendConformance(`PostgreSQL ${layout}`, () => freshBackend(layout));
}

describe("PostgreSQL physical layout", () => {
  it("stores v1 binary values as a JSON string of base64 with isbinary = true, as Dapr does", async () => {
    const backend = await freshBackend("v1");
    try {
      await backend.setMany([["app||t||id||metadata", Buffer.from([0x10, 0x0c, 0x18, 0x01])]]);
      const row = await admin.query(
        `SELECT value, isbinary, jsonb_typeof(value) AS type FROM state_v1_${tableCounter} WHERE key = 'app||t||id||metadata'`,
      );
      expect(row.rows[0]).toEqual({ value: "EAwYAQ==", isbinary: true, type: "string" });
    } finally {
      await backend.close();
    }
  });

  it("stores v2 values as raw bytea", async () => {
    const backend = await freshBackend("v2");
    try {
      await backend.setMany([["k", Buffer.from([0xff, 0x00, 0x01])]]);
      const row = await admin.query(`SELECT encode(value, 'hex') AS hex FROM state_v2_${tableCounter} WHERE key = 'k'`);
      expect(row.rows[0].hex).toBe("ff0001");
    } finally {
      await backend.close();
    }
  });

  it("returns the JSON text of a non-binary v1 row (legacy Dapr metadata)", async () => {
    const backend = await freshBackend("v1");
    try {
      await admin.query(
        `INSERT INTO state_v1_${tableCounter} (key, value, isbinary) VALUES ('legacy', '{"HistoryLength": 3}', false)`,
      );
      const value = (await backend.getMany(["legacy"])).get("legacy");
      expect(JSON.parse(Buffer.from(value!).toString("utf8"))).toEqual({ HistoryLength: 3 });
    } finally {
      await backend.close();
    }
  });

  it("treats rows past their expiry date as absent, as Dapr does", async () => {
    const backend = await freshBackend("v1");
    try {
      await backend.setMany([["a||x||metadata", Buffer.from("1")]]);
      await admin.query(`UPDATE state_v1_${tableCounter} SET expiredate = now() - interval '1 minute'`);
      expect((await backend.getMany(["a||x||metadata"])).size).toBe(0);
      expect((await backend.scanKeys({ prefix: "a||", suffix: "||metadata", pageSize: 10 })).keys).toEqual([]);
    } finally {
      await backend.close();
    }
  });

  it("refuses a table that does not exist with a message naming it", async () => {
    await expect(openPostgresBackend({ connectionString: databaseUrl, tableName: "nope" })).rejects.toThrow(
      /table "nope" does not exist/,
    );
  });

  it("refuses a table name that is not a plain identifier", async () => {
    await expect(openPostgresBackend({ connectionString: databaseUrl, tableName: "state; drop" })).rejects.toThrow(
      /invalid table name/,
    );
  });
});
