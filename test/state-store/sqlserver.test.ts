/**
 * SQL Server adapter tests. No SQL Server can run on this machine, so the SQL text, LIKE escaping, DDL, layout
 * detection and value encoding are tested as pure functions; with SQLSERVER_URL set (any form parseConnectionString
 * accepts, e.g. sqlserver://sa:pass@localhost:1433?database=master), the shared conformance suite and the v1 checks
 * run against the real server.
 */
import { randomUUID } from "node:crypto";
import sql from "mssql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HousekeeperError } from "../../shared/errors.ts";
import { parseConnectionString, type SqlServerTarget } from "../../shared/state-store/connection-string.ts";
import {
  buildDeleteQuery,
  buildGetQuery,
  buildMergeQuery,
  buildScanQuery,
  createSqlServerDaprTable,
  decodeSqlServerRow,
  detectSqlServerLayout,
  encodeV1Data,
  escapeSqlServerLike,
  isValidSqlServerName,
  openSqlServerBackend,
  qualifiedTable,
  quoteSqlServerIdentifier,
  sqlServerDaprTableDdl,
  sqlServerLikePattern,
} from "../../shared/state-store/sqlserver.ts";
import { describeStateBackendConformance } from "../support/backend-conformance.ts";

const REF = { schema: "dbo", table: "state" };
/** Protobuf HistoryEvent-like bytes that are not valid UTF-8. */
const PROTOBUF = Uint8Array.of(0x08, 0x01, 0x12, 0x0c, 0x08, 0x96, 0xa1, 0xe4, 0xc0, 0x06, 0x10, 0xff, 0xfe, 0x01);

function thrown(work: () => unknown): HousekeeperError {
  try {
    work();
  } catch (error) {
    expect(error).toBeInstanceOf(HousekeeperError);
    return error as HousekeeperError;
  }
  throw new Error("expected an error");
}

/** T-SQL LIKE semantics (%, _, [class], ESCAPE), to check what our patterns match. Case-sensitive here. */
function tsqlLike(value: string, pattern: string, esc = "\\"): boolean {
  const re = (c: string) => c.replace(/[\\^$.|?*+()[\]{}]/g, (m) => `\\${m}`);
  let source = "^";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === esc) source += re(pattern[++i] ?? "");
    else if (c === "%") source += "[\\s\\S]*";
    else if (c === "_") source += "[\\s\\S]";
    else if (c === "[") {
      const end = pattern.indexOf("]", i + 1);
      if (end < 0) return false;
      const body = pattern.slice(i + 1, end);
      source += body.startsWith("^") ? `[^${re(body.slice(1))}]` : `[${re(body)}]`;
      i = end;
    } else source += re(c);
  }
  return new RegExp(`${source}$`).test(value);
}

describe("SQL Server LIKE escaping", () => {
  it("escapes %, _, [ and the escape character itself", () => {
    expect(escapeSqlServerLike("a%b_c[d]e\\f")).toBe("a\\%b\\_c\\[d]e\\\\f");
    expect(sqlServerLikePattern("app||", "||metadata")).toBe("app||%||metadata");
  });

  it("matches prefix…suffix literally under T-SQL LIKE rules", () => {
    const prefix = "my_app%.*?[x]\\||";
    const pattern = sqlServerLikePattern(prefix, "||metadata");
    expect(tsqlLike(`${prefix}i1||metadata`, pattern)).toBe(true);
    expect(tsqlLike(`${prefix}||metadata`, pattern)).toBe(true);
    for (const decoy of [
      "myXapp%.*?[x]\\||i1||metadata",
      "my_appX.*?[x]\\||i1||metadata",
      "my_app%.*?x\\||i1||metadata",
    ]) {
      expect(tsqlLike(decoy, pattern), decoy).toBe(false);
    }
    // Unescaped, `[x]` is a character class matching "x", and `_` any character:
    expect(tsqlLike("myXappx", "my_app[x]")).toBe(true);
    expect(tsqlLike("myXappx", sqlServerLikePattern("my_app[x]", ""))).toBe(false);
    expect(tsqlLike("my_app[x]", sqlServerLikePattern("my_app[x]", ""))).toBe(true);
  });
});

describe("SQL Server statements", () => {
  it("quotes identifiers", () => {
    expect(quoteSqlServerIdentifier("a]b")).toBe("[a]]b]");
    expect(qualifiedTable(REF)).toBe("[dbo].[state]");
    expect(isValidSqlServerName("state_2")).toBe(true);
    expect(isValidSqlServerName("state;drop")).toBe(false);
  });

  it("pages keys with LIKE … ESCAPE, keyset cursor, TOP (@n) and ORDER BY [Key]", () => {
    expect(buildScanQuery(REF, false)).toBe(
      "SELECT TOP (@n) [Key] FROM [dbo].[state] WHERE [Key] LIKE @pattern ESCAPE '\\' " +
        "AND ([ExpireDate] IS NULL OR [ExpireDate] > GETDATE()) ORDER BY [Key]",
    );
    expect(buildScanQuery(REF, true)).toBe(
      "SELECT TOP (@n) [Key] FROM [dbo].[state] WHERE [Key] LIKE @pattern ESCAPE '\\' AND [Key] > @cursor " +
        "AND ([ExpireDate] IS NULL OR [ExpireDate] > GETDATE()) ORDER BY [Key]",
    );
    expect(buildScanQuery(REF, false, false)).not.toContain("ExpireDate");
  });

  it("reads the v2 and v1 value columns by key list", () => {
    expect(buildGetQuery(REF, "v2", 2)).toBe(
      "SELECT [Key], [Data], [BinaryData], [isBinary] FROM [dbo].[state] WHERE [Key] IN (@k0, @k1) " +
        "AND ([ExpireDate] IS NULL OR [ExpireDate] > GETDATE())",
    );
    expect(buildGetQuery(REF, "v1", 1)).toBe(
      "SELECT [Key], [Data] FROM [dbo].[state] WHERE [Key] IN (@k0) AND ([ExpireDate] IS NULL OR [ExpireDate] > GETDATE())",
    );
    expect(buildDeleteQuery(REF, 3)).toBe("DELETE FROM [dbo].[state] WHERE [Key] IN (@k0, @k1, @k2)");
  });

  it("locks the rows a guarded deletion compares until its transaction ends", () => {
    expect(buildGetQuery(REF, "v2", 1, false, true)).toBe(
      "SELECT [Key], [Data], [BinaryData], [isBinary] FROM [dbo].[state] WITH (UPDLOCK, HOLDLOCK, ROWLOCK) WHERE [Key] IN (@k0)",
    );
  });

  it("upserts with MERGE into [BinaryData]/[isBinary] = 1 (v2) or [Data] (v1), clearing TTLs", () => {
    const v2 = buildMergeQuery(REF, "v2", 2);
    expect(v2).toContain(
      "MERGE [dbo].[state] WITH (HOLDLOCK) AS target USING (VALUES (@k0, @v0), (@k1, @v1)) AS source",
    );
    expect(v2).toContain(
      "WHEN MATCHED THEN UPDATE SET [Data] = NULL, [BinaryData] = source.[BinaryData], [isBinary] = 1, [UpdateDate] = GETDATE(), [ExpireDate] = NULL",
    );
    expect(v2).toContain(
      "WHEN NOT MATCHED THEN INSERT ([Key], [Data], [BinaryData], [isBinary], [ExpireDate]) VALUES (source.[Key], NULL, source.[BinaryData], 1, NULL);",
    );
    const v1 = buildMergeQuery(REF, "v1", 1);
    expect(v1).toContain("([Key], [Data]) ON target.[Key] = source.[Key]");
    expect(v1).not.toContain("BinaryData");
  });
});

describe("createSqlServerDaprTable DDL", () => {
  it("mirrors Dapr's v2 migration (schema, state table, metadata table)", () => {
    const [schema, table, metadata] = sqlServerDaprTableDdl();
    expect(schema).toContain("IF NOT EXISTS (SELECT * FROM sys.schemas WHERE name = N'dbo')");
    expect(schema).toContain("EXEC('CREATE SCHEMA [dbo]')");
    const lines = table!.split("\n").map((l) => l.trim());
    expect(lines).toEqual([
      "IF NOT EXISTS (SELECT * FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = 'dbo' AND TABLE_NAME = 'state')",
      "CREATE TABLE [dbo].[state] (",
      "[Key] NVARCHAR(200) CONSTRAINT PK_state PRIMARY KEY,",
      "[Data] NVARCHAR(MAX) NULL,",
      "[BinaryData] VARBINARY(MAX) NULL,",
      "[isBinary] BIT NOT NULL DEFAULT(0),",
      "[InsertDate] DateTime2 NOT NULL DEFAULT(GETDATE()),",
      "[UpdateDate] DateTime2 NULL,",
      "[ExpireDate] DateTime2 NULL,",
      "[RowVersion] ROWVERSION NOT NULL)",
    ]);
    expect(metadata).toContain("CREATE TABLE [dbo].[dapr_metadata] (");
    expect(metadata).toContain("[Value] NVARCHAR(MAX) NOT NULL)");
  });

  it("builds the v1 layout and custom names/key length", () => {
    const [, table] = sqlServerDaprTableDdl({ layout: "v1", schema: "wf", table: "actors", keyLength: 450 });
    expect(table).toContain("CREATE TABLE [wf].[actors]");
    expect(table).toContain("[Key] NVARCHAR(450) CONSTRAINT PK_actors PRIMARY KEY");
    expect(table).toContain("[Data] NVARCHAR(MAX) NOT NULL,");
    expect(table).not.toContain("BinaryData");
  });

  it("rejects names Dapr would reject", () => {
    expect(thrown(() => sqlServerDaprTableDdl({ table: "x]; DROP TABLE y; --" })).code).toBe("bad-input");
    expect(thrown(() => sqlServerDaprTableDdl({ keyLength: 0 })).code).toBe("bad-input");
  });
});

describe("SQL Server layout detection", () => {
  const column = (name: string, type: string, length: number | null = null) => ({
    COLUMN_NAME: name,
    DATA_TYPE: type,
    CHARACTER_MAXIMUM_LENGTH: length,
  });
  const common = [column("Key", "nvarchar", 200), column("Data", "nvarchar", -1), column("ExpireDate", "datetime2")];

  it("tells v2 (BinaryData + isBinary) from v1", () => {
    expect(
      detectSqlServerLayout([...common, column("BinaryData", "varbinary", -1), column("isBinary", "bit")], REF, "dapr"),
    ).toEqual({ layout: "v2", keyLength: 200, hasExpiry: true });
    expect(detectSqlServerLayout(common, REF, "dapr")).toEqual({ layout: "v1", keyLength: 200, hasExpiry: true });
  });

  it("explains a missing table and a table that is not Dapr's", () => {
    const missing = thrown(() => detectSqlServerLayout([], REF, "dapr"));
    expect(missing.code).toBe("not-found");
    expect(missing.message).toContain('[dbo].[state] does not exist in SQL Server database "dapr"');
    expect(thrown(() => detectSqlServerLayout([column("Key", "int")], REF, "dapr")).code).toBe("bad-input");
  });
});

describe("SQL Server value encoding", () => {
  it("returns v2 binary rows raw and JSON rows as their text", () => {
    expect([
      ...decodeSqlServerRow("v2", { Key: "k", Data: null, BinaryData: Buffer.from(PROTOBUF), isBinary: true }),
    ]).toEqual([...PROTOBUF]);
    expect(
      Buffer.from(
        decodeSqlServerRow("v2", { Key: "k", Data: '{"InboxLength":1}', BinaryData: null, isBinary: false }),
      ).toString(),
    ).toBe('{"InboxLength":1}');
  });

  it("refuses v1 values that Dapr's v1 store corrupted, citing components-contrib#3796", () => {
    // What Dapr v1 stored: Go string(bytes) sent as UTF-16, invalid UTF-8 replaced by U+FFFD.
    const stored = new TextDecoder().decode(PROTOBUF);
    expect(stored).toContain("\uFFFD");
    const error = thrown(() => decodeSqlServerRow("v1", { Key: "app||wf||i1||history-000000", Data: stored }));
    expect(error.code).toBe("corrupt-data");
    expect(error.message).toContain("components-contrib#3796");
    expect(error.message).toContain("app||wf||i1||history-000000");
    expect(error.message).toMatch(/state\.sqlserver v2/);
  });

  it("returns v1 values that survived (valid UTF-8, e.g. small metadata protobuf or legacy JSON)", () => {
    const metadata = Uint8Array.of(0x08, 0x00, 0x10, 0x05, 0x18, 0x01);
    const stored = new TextDecoder().decode(metadata);
    expect([...decodeSqlServerRow("v1", { Key: "k", Data: stored })]).toEqual([...metadata]);
    expect(encodeV1Data("k", metadata)).toBe(stored);
  });

  it("refuses to write bytes a v1 table would corrupt", () => {
    const error = thrown(() => encodeV1Data("k", PROTOBUF));
    expect(error.code).toBe("corrupt-data");
    expect(error.message).toContain("not valid UTF-8");
  });
});

// ---------------------------------------------------------------------------------------------------------------

const SQLSERVER_URL = process.env.SQLSERVER_URL;

describe.skipIf(!SQLSERVER_URL)("SqlServerStateBackend against a real SQL Server (set SQLSERVER_URL to run)", () => {
  let target: SqlServerTarget;
  let admin: sql.ConnectionPool;
  const tables: string[] = [];

  beforeAll(async () => {
    target = parseConnectionString(SQLSERVER_URL!) as SqlServerTarget;
    admin = new sql.ConnectionPool(target.config);
    await admin.connect();
  });
  afterAll(async () => {
    for (const table of tables) {
      await admin.request().batch(`DROP TABLE IF EXISTS [dbo].[${table}]; DROP TABLE IF EXISTS [dbo].[${table}_meta]`);
    }
    await admin.close();
  });

  async function freshTable(layout: "v1" | "v2"): Promise<string> {
    const table = `hk_${layout}_${randomUUID().replaceAll("-", "").slice(0, 12)}`;
    tables.push(table);
    await createSqlServerDaprTable(admin, { table, metadataTable: `${table}_meta`, layout });
    return table;
  }

  describeStateBackendConformance("SQL Server v2", async () => {
    const table = await freshTable("v2");
    return openSqlServerBackend({ config: target.config, schema: "dbo", tableName: table });
  });

  it("detects a v1 table and refuses to read values Dapr's v1 store corrupted", async () => {
    const table = await freshTable("v1");
    const stored = new TextDecoder().decode(PROTOBUF);
    await admin
      .request()
      .input("data", sql.NVarChar(sql.MAX), stored)
      .query(`INSERT INTO [dbo].[${table}] ([Key], [Data]) VALUES (N'app||wf||i1||history-000000', @data)`);
    const backend = await openSqlServerBackend({ config: target.config, schema: "dbo", tableName: table });
    try {
      expect(backend.layout).toBe("v1");
      expect((await backend.scanKeys({ prefix: "app||", suffix: "", pageSize: 10 })).keys).toEqual([
        "app||wf||i1||history-000000",
      ]);
      await expect(backend.getMany(["app||wf||i1||history-000000"])).rejects.toMatchObject({ code: "corrupt-data" });
      await expect(backend.setMany([["app||wf||i2||history-000000", PROTOBUF]])).rejects.toMatchObject({
        code: "corrupt-data",
      });
      expect(await backend.deleteMany(["app||wf||i1||history-000000"])).toBe(1);
    } finally {
      await backend.close();
    }
  });
});

if (!SQLSERVER_URL) {
  describe("SqlServerStateBackend against a real SQL Server", () => {
    it.skip("skipped: SQLSERVER_URL is not set (no SQL Server on this machine)", () => {});
  });
}
