/**
 * SQL Server adapter for Dapr's `state.sqlserver` component (components-contrib state/sqlserver, state/sqlserver/v2),
 * table `[dbo].[state]` in database `dapr` by default:
 *   v2 (contrib ≥ 1.17): [Key] NVARCHAR(200) PK, [Data] NVARCHAR(MAX) NULL, [BinaryData] VARBINARY(MAX) NULL,
 *       [isBinary] BIT NOT NULL DEFAULT(0), [InsertDate], [UpdateDate], [ExpireDate] DateTime2, [RowVersion] ROWVERSION.
 *       Binary values (all workflow state) are in [BinaryData] with [isBinary] = 1; other values are JSON in [Data].
 *   v1: the same without [BinaryData]/[isBinary]; [Data] NVARCHAR(MAX) NOT NULL holds Go's `string(bytes)` sent as
 *       UTF-16, so every byte sequence that is not valid UTF-8 became U+FFFD. Workflow protobuf is therefore corrupted
 *       on v1 (components-contrib#3796, dapr/dapr#9174): we refuse to return such values, and only return (or write)
 *       values that survive the round trip, i.e. valid UTF-8.
 * The layout is detected from the table's columns at open.
 */
import sql from "mssql";
import { errorMessage, HousekeeperError } from "../errors.ts";
import { networkTimeouts } from "../util/timeouts.ts";
import type { GuardedDeletion, GuardedGroup, KeyPage, ScanKeysRequest, StateBackend } from "./backend.ts";
import { guardKeys, planGuardedDeletion } from "./backend.ts";
import { whatToCheck } from "./connect-hint.ts";

export type SqlServerLayout = "v1" | "v2";

export interface SqlServerTableRef {
  schema: string;
  table: string;
}

/** Dapr's Reset()/newMetadata() defaults. */
export const SQLSERVER_DEFAULTS = {
  database: "dapr",
  schema: "dbo",
  table: "state",
  metadataTable: "dapr_metadata",
  keyLength: 200,
} as const;

/** SQL Server allows 2100 parameters per statement; Dapr's BulkGet uses 1000-key chunks. */
const KEY_CHUNK = 1000;
/** Two parameters per MERGE row. */
const WRITE_CHUNK = 1000;

const V1_CORRUPTION =
  "Dapr's state.sqlserver v1 stores binary values as NVARCHAR text and replaces every byte sequence that is not " +
  "valid UTF-8 with U+FFFD, which corrupts workflow (protobuf) state for good (dapr/components-contrib#3796); " +
  "use state.sqlserver v2 (components-contrib 1.17 or later) for workflows";

// ---------------------------------------------------------------------------------------------------------------
// SQL text (pure, unit-tested)

/** Dapr's IsValidSQLName: letters, digits and `_` only. */
export function isValidSqlServerName(name: string): boolean {
  return /^[\p{L}\p{N}_]+$/u.test(name);
}

export function quoteSqlServerIdentifier(name: string): string {
  return `[${name.replaceAll("]", "]]")}]`;
}

export function qualifiedTable({ schema, table }: SqlServerTableRef): string {
  return `${quoteSqlServerIdentifier(schema)}.${quoteSqlServerIdentifier(table)}`;
}

/** Escapes `\`, `%`, `_` and `[` (a character class in T-SQL LIKE) for `LIKE … ESCAPE '\'`. */
export function escapeSqlServerLike(literal: string): string {
  return literal.replace(/[\\%_[]/g, (c) => `\\${c}`);
}

export function sqlServerLikePattern(prefix: string, suffix: string): string {
  return `${escapeSqlServerLike(prefix)}%${escapeSqlServerLike(suffix)}`;
}

/** The condition Dapr's get and GC use: rows with a past [ExpireDate] are gone. */
export const NOT_EXPIRED = "([ExpireDate] IS NULL OR [ExpireDate] > GETDATE())";

function expiry(hasExpiry: boolean): string {
  return hasExpiry ? ` AND ${NOT_EXPIRED}` : "";
}

/** Keyset page: `@pattern`, `@n`, and `@cursor` when continuing. */
export function buildScanQuery(ref: SqlServerTableRef, hasCursor: boolean, hasExpiry = true): string {
  const after = hasCursor ? " AND [Key] > @cursor" : "";
  return (
    `SELECT TOP (@n) [Key] FROM ${qualifiedTable(ref)} ` +
    `WHERE [Key] LIKE @pattern ESCAPE '\\'${after}${expiry(hasExpiry)} ORDER BY [Key]`
  );
}

function keyParams(count: number): string {
  return Array.from({ length: count }, (_, i) => `@k${i}`).join(", ");
}

/** `@k0…@k{count-1}`. */
export function buildGetQuery(
  ref: SqlServerTableRef,
  layout: SqlServerLayout,
  count: number,
  hasExpiry = true,
  lockForUpdate = false,
): string {
  const columns = layout === "v2" ? "[Key], [Data], [BinaryData], [isBinary]" : "[Key], [Data]";
  // UPDLOCK + HOLDLOCK: the rows read (and the key range, for absent keys) stay locked until the transaction ends.
  const hint = lockForUpdate ? " WITH (UPDLOCK, HOLDLOCK, ROWLOCK)" : "";
  return `SELECT ${columns} FROM ${qualifiedTable(ref)}${hint} WHERE [Key] IN (${keyParams(count)})${expiry(hasExpiry)}`;
}

/** `@k0…`, `@v0…`: upserts rows the way Dapr's upsert procedure leaves them (no TTL, fresh UpdateDate). */
export function buildMergeQuery(ref: SqlServerTableRef, layout: SqlServerLayout, count: number): string {
  const rows = Array.from({ length: count }, (_, i) => `(@k${i}, @v${i})`).join(", ");
  const head = `MERGE ${qualifiedTable(ref)} WITH (HOLDLOCK) AS target USING (VALUES ${rows}) AS source`;
  if (layout === "v2") {
    return (
      `${head} ([Key], [BinaryData]) ON target.[Key] = source.[Key] ` +
      "WHEN MATCHED THEN UPDATE SET [Data] = NULL, [BinaryData] = source.[BinaryData], [isBinary] = 1, " +
      "[UpdateDate] = GETDATE(), [ExpireDate] = NULL " +
      "WHEN NOT MATCHED THEN INSERT ([Key], [Data], [BinaryData], [isBinary], [ExpireDate]) " +
      "VALUES (source.[Key], NULL, source.[BinaryData], 1, NULL);"
    );
  }
  return (
    `${head} ([Key], [Data]) ON target.[Key] = source.[Key] ` +
    "WHEN MATCHED THEN UPDATE SET [Data] = source.[Data], [UpdateDate] = GETDATE(), [ExpireDate] = NULL " +
    "WHEN NOT MATCHED THEN INSERT ([Key], [Data], [ExpireDate]) VALUES (source.[Key], source.[Data], NULL);"
  );
}

export function buildDeleteQuery(ref: SqlServerTableRef, count: number): string {
  return `DELETE FROM ${qualifiedTable(ref)} WHERE [Key] IN (${keyParams(count)})`;
}

export interface SqlServerDaprTableOptions {
  schema?: string;
  table?: string;
  metadataTable?: string;
  /** Dapr `keyLength` (string keys), default 200. */
  keyLength?: number;
  layout?: SqlServerLayout;
}

/**
 * The statements Dapr's migration runs for a string-keyed table (state/sqlserver{,/v2}/migration.go:
 * ensureSchemaExists, ensureTableExists incl. the metadata table), each idempotent. The user-defined table type and
 * upsert procedure Dapr also creates are left to Dapr itself: this tool never calls them.
 */
export function sqlServerDaprTableDdl(options: SqlServerDaprTableOptions = {}): string[] {
  const schema = options.schema ?? SQLSERVER_DEFAULTS.schema;
  const table = options.table ?? SQLSERVER_DEFAULTS.table;
  const metadataTable = options.metadataTable ?? SQLSERVER_DEFAULTS.metadataTable;
  const keyLength = options.keyLength ?? SQLSERVER_DEFAULTS.keyLength;
  const layout = options.layout ?? "v2";
  for (const name of [schema, table, metadataTable]) {
    if (!isValidSqlServerName(name)) {
      throw new HousekeeperError("bad-input", `invalid SQL Server name "${name}": use letters, digits and _`);
    }
  }
  if (!Number.isInteger(keyLength) || keyLength <= 0 || keyLength > 4000) {
    throw new HousekeeperError("bad-input", `invalid key length ${keyLength}: use 1-4000`);
  }
  const pk = `NVARCHAR(${keyLength})`;
  const dataColumns =
    layout === "v2"
      ? `[Data] NVARCHAR(MAX) NULL,
    [BinaryData] VARBINARY(MAX) NULL,
    [isBinary] BIT NOT NULL DEFAULT(0),`
      : "[Data] NVARCHAR(MAX) NOT NULL,";
  return [
    `IF NOT EXISTS (SELECT * FROM sys.schemas WHERE name = N'${schema}')
  EXEC('CREATE SCHEMA [${schema}]')`,
    `IF NOT EXISTS (SELECT * FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = '${schema}' AND TABLE_NAME = '${table}')
  CREATE TABLE [${schema}].[${table}] (
    [Key] ${pk} CONSTRAINT PK_${table} PRIMARY KEY,
    ${dataColumns}
    [InsertDate] DateTime2 NOT NULL DEFAULT(GETDATE()),
    [UpdateDate] DateTime2 NULL,
    [ExpireDate] DateTime2 NULL,
    [RowVersion] ROWVERSION NOT NULL)`,
    `IF NOT EXISTS (SELECT * FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = '${schema}' AND TABLE_NAME = '${metadataTable}')
  CREATE TABLE [${schema}].[${metadataTable}] (
    [Key] ${pk} CONSTRAINT PK_${metadataTable} PRIMARY KEY,
    [Value] NVARCHAR(MAX) NOT NULL)`,
  ];
}

/** Creates the schema and tables as Dapr's migration does (for tests and seeding). */
export async function createSqlServerDaprTable(
  pool: sql.ConnectionPool,
  options: SqlServerDaprTableOptions = {},
): Promise<void> {
  for (const statement of sqlServerDaprTableDdl(options)) {
    await pool.request().batch(statement);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Value encoding (pure, unit-tested)

export interface SqlServerRow {
  Key: string;
  Data: string | null;
  BinaryData?: Buffer | null;
  isBinary?: boolean | null;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The bytes Dapr's Get returns for a row; throws for v1 values that Dapr's v1 store already corrupted. */
export function decodeSqlServerRow(layout: SqlServerLayout, row: SqlServerRow): Uint8Array {
  if (layout === "v2" && row.isBinary) return Uint8Array.from(row.BinaryData ?? []);
  if (row.Data === null) {
    throw new HousekeeperError("corrupt-data", `row "${row.Key}" has [isBinary] = 0 and no [Data]`);
  }
  if (layout === "v1" && row.Data.includes("\uFFFD")) {
    throw new HousekeeperError(
      "corrupt-data",
      `the value of "${row.Key}" in a v1 SQL Server table contains U+FFFD replacement characters: ${V1_CORRUPTION}`,
    );
  }
  return new TextEncoder().encode(row.Data);
}

/** The [Data] text Dapr's v1 store would write for these bytes, when it can do so without loss. */
export function encodeV1Data(key: string, value: Uint8Array): string {
  try {
    return strictUtf8.decode(value);
  } catch {
    throw new HousekeeperError(
      "corrupt-data",
      `refusing to write "${key}" to a v1 SQL Server table: the value is not valid UTF-8 and would be corrupted. ${V1_CORRUPTION}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Backend

export interface SqlServerBackendOptions {
  /** mssql configuration (see parseConnectionString). */
  config: sql.config;
  schema?: string | undefined;
  tableName?: string | undefined;
  /** Defaults to server/database/table. */
  location?: string | undefined;
}

interface ColumnInfo {
  COLUMN_NAME: string;
  DATA_TYPE: string;
  CHARACTER_MAXIMUM_LENGTH: number | null;
}

export async function openSqlServerBackend(options: SqlServerBackendOptions): Promise<SqlServerStateBackend> {
  const ref: SqlServerTableRef = {
    schema: options.schema ?? SQLSERVER_DEFAULTS.schema,
    table: options.tableName ?? SQLSERVER_DEFAULTS.table,
  };
  for (const name of [ref.schema, ref.table]) {
    if (!isValidSqlServerName(name)) {
      throw new HousekeeperError("bad-input", `invalid SQL Server name "${name}": Dapr allows letters, digits and _`);
    }
  }
  const config = options.config;
  const database = config.database ?? SQLSERVER_DEFAULTS.database;
  const location =
    options.location ??
    `sqlserver ${config.server}${config.port ? `:${config.port}` : ""}/${database} table ${qualifiedTable(ref)}`;
  const timeouts = networkTimeouts();
  const pool = new sql.ConnectionPool({
    connectionTimeout: timeouts.connectMs,
    requestTimeout: timeouts.requestMs,
    ...config,
    pool: { max: 4, ...config.pool },
  });
  pool.on("error", () => {
    // A dropped idle connection: the pool replaces it; requests in flight report their own error.
  });
  try {
    await pool.connect();
  } catch (error) {
    throw new HousekeeperError(
      "unavailable",
      `cannot connect to ${location}: ${errorMessage(error)}${whatToCheck(error, "SQL Server")}`,
      {
        cause: error,
      },
    );
  }
  try {
    const result = await pool
      .request()
      .input("schema", sql.NVarChar(128), ref.schema)
      .input("table", sql.NVarChar(128), ref.table)
      .query<ColumnInfo>(
        "SELECT COLUMN_NAME, DATA_TYPE, CHARACTER_MAXIMUM_LENGTH FROM INFORMATION_SCHEMA.COLUMNS " +
          "WHERE TABLE_SCHEMA = @schema AND TABLE_NAME = @table",
      );
    const layout = detectSqlServerLayout(result.recordset, ref, database);
    return new SqlServerStateBackend(pool, ref, layout.layout, layout.keyLength, layout.hasExpiry, location);
  } catch (error) {
    await pool.close().catch(() => {});
    if (error instanceof HousekeeperError) throw error;
    throw new HousekeeperError("store-error", `cannot inspect ${location}: ${errorMessage(error)}`, { cause: error });
  }
}

/** Decides the layout from INFORMATION_SCHEMA.COLUMNS rows (column names compared case-insensitively). */
export function detectSqlServerLayout(
  columns: ReadonlyArray<ColumnInfo>,
  ref: SqlServerTableRef,
  database: string,
): { layout: SqlServerLayout; keyLength: number; hasExpiry: boolean } {
  const byName = new Map(columns.map((c) => [c.COLUMN_NAME.toLowerCase(), c]));
  if (byName.size === 0) {
    throw new HousekeeperError(
      "not-found",
      `table ${qualifiedTable(ref)} does not exist in SQL Server database "${database}"; ` +
        "pass --table-name with the component's schema.tableName (defaults dbo.state, database dapr)",
    );
  }
  const key = byName.get("key");
  const data = byName.get("data");
  if (!key || !data || !/char/i.test(key.DATA_TYPE)) {
    throw new HousekeeperError(
      "bad-input",
      `table ${qualifiedTable(ref)} is not a string-keyed Dapr state table (expected [Key] NVARCHAR and [Data] columns)`,
    );
  }
  const keyLength = key.CHARACTER_MAXIMUM_LENGTH === -1 ? 4000 : (key.CHARACTER_MAXIMUM_LENGTH ?? 4000);
  const layout: SqlServerLayout = byName.has("binarydata") && byName.has("isbinary") ? "v2" : "v1";
  return { layout, keyLength, hasExpiry: byName.has("expiredate") };
}

export class SqlServerStateBackend implements StateBackend {
  readonly kind = "sqlserver" as const;
  readonly location: string;

  constructor(
    private readonly pool: sql.ConnectionPool,
    private readonly ref: SqlServerTableRef,
    readonly layout: SqlServerLayout,
    /** [Key] column length: Dapr's keyLength, 200 by default. */
    readonly keyLength: number,
    private readonly hasExpiry: boolean,
    where: string,
  ) {
    this.location = `${where} (layout ${layout})`;
  }

  async scanKeys(request: ScanKeysRequest): Promise<KeyPage> {
    const { prefix, suffix, pageSize, cursor } = request;
    const rows = await this.run("list keys", async () => {
      const req = this.pool
        .request()
        .input("n", sql.Int, pageSize + 1)
        .input("pattern", sql.NVarChar(4000), sqlServerLikePattern(prefix, suffix));
      if (cursor !== undefined) req.input("cursor", sql.NVarChar(4000), cursor);
      const result = await req.query<{ Key: string }>(buildScanQuery(this.ref, cursor !== undefined, this.hasExpiry));
      return result.recordset.map((r) => r.Key);
    });
    const more = rows.length > pageSize;
    const page = more ? rows.slice(0, pageSize) : rows;
    // The default collation compares case-insensitively; keep exact matches only (paging still follows the index).
    const keys = page.filter(
      (k) => k.length >= prefix.length + suffix.length && k.startsWith(prefix) && k.endsWith(suffix),
    );
    return { keys, cursor: more ? page.at(-1) : undefined };
  }

  async getMany(keys: readonly string[]): Promise<Map<string, Uint8Array>> {
    const requested = new Set(keys);
    const unique = [...requested];
    const values = new Map<string, Uint8Array>();
    if (unique.length === 0) return values;
    const readChunk = async (request: () => sql.Request, chunk: string[]) => {
      const req = request();
      bindKeys(req, chunk);
      const result = await req.query<SqlServerRow>(buildGetQuery(this.ref, this.layout, chunk.length, this.hasExpiry));
      // Equality follows the column's collation (case-insensitive by default, trailing spaces ignored): keep exact
      // matches only, as the port requires.
      for (const row of result.recordset) {
        if (requested.has(row.Key)) values.set(row.Key, decodeSqlServerRow(this.layout, row));
      }
    };
    const chunks = chunked(unique, KEY_CHUNK);
    if (chunks.length === 1) {
      await this.run("read values", () => readChunk(() => this.pool.request(), chunks[0]!));
    } else {
      // Several round trips: one transaction, so the reads see one consistent state as far as locking allows.
      await this.transaction("read values", async (tx) => {
        for (const chunk of chunks) await readChunk(() => tx.request(), chunk);
      });
    }
    return values;
  }

  async setMany(entries: ReadonlyArray<readonly [string, Uint8Array]>): Promise<void> {
    const latest = new Map<string, Uint8Array>();
    for (const [key, value] of entries) {
      if (key.length > this.keyLength) {
        throw new HousekeeperError(
          "bad-input",
          `key "${key}" is ${key.length} characters, longer than the table's [Key] column (${this.keyLength}); ` +
            "raise the component's keyLength",
        );
      }
      latest.set(key, value);
    }
    if (latest.size === 0) return;
    const rows = [...latest];
    const v1Data = this.layout === "v1" ? rows.map(([k, v]) => encodeV1Data(k, v)) : undefined;
    await this.transaction("write values", async (tx) => {
      for (let start = 0; start < rows.length; start += WRITE_CHUNK) {
        const chunk = rows.slice(start, start + WRITE_CHUNK);
        const req = tx.request();
        chunk.forEach(([key, value], i) => {
          req.input(`k${i}`, sql.NVarChar(this.keyLength), key);
          if (v1Data) req.input(`v${i}`, sql.NVarChar(sql.MAX), v1Data[start + i]!);
          else req.input(`v${i}`, sql.VarBinary(sql.MAX), Buffer.from(value.buffer, value.byteOffset, value.length));
        });
        await req.query(buildMergeQuery(this.ref, this.layout, chunk.length));
      }
    });
  }

  async deleteMany(keys: readonly string[]): Promise<number> {
    const unique = [...new Set(keys)];
    if (unique.length === 0) return 0;
    return this.transaction("delete keys", async (tx) => {
      let deleted = 0;
      for (const chunk of chunked(unique, KEY_CHUNK)) {
        const req = tx.request();
        bindKeys(req, chunk);
        const result = await req.query(buildDeleteQuery(this.ref, chunk.length));
        deleted += result.rowsAffected.reduce((a, b) => a + b, 0);
      }
      return deleted;
    });
  }

  async deleteIfUnchanged(groups: readonly GuardedGroup[]): Promise<GuardedDeletion> {
    if (groups.length === 0) return { outcomes: [], keysDeleted: 0 };
    return this.transaction("delete keys", async (tx) => {
      const guards = guardKeys(groups);
      const requested = new Set(guards);
      const current = new Map<string, Uint8Array>();
      for (const chunk of chunked(guards, KEY_CHUNK)) {
        const req = tx.request();
        bindKeys(req, chunk);
        const result = await req.query<SqlServerRow>(
          buildGetQuery(this.ref, this.layout, chunk.length, this.hasExpiry, true),
        );
        for (const row of result.recordset) {
          if (!requested.has(row.Key)) continue;
          try {
            current.set(row.Key, decodeSqlServerRow(this.layout, row));
          } catch {
            current.set(row.Key, new Uint8Array([0xff, 0xff])); // no longer decodes: it changed
          }
        }
      }
      const plan = planGuardedDeletion(groups, current);
      let keysDeleted = 0;
      for (const chunk of chunked(plan.keys, KEY_CHUNK)) {
        const req = tx.request();
        bindKeys(req, chunk);
        const result = await req.query(buildDeleteQuery(this.ref, chunk.length));
        keysDeleted += result.rowsAffected.reduce((a, b) => a + b, 0);
      }
      return { outcomes: plan.outcomes, keysDeleted };
    });
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  private async run<T>(what: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof HousekeeperError) throw error;
      throw new HousekeeperError(
        "store-error",
        `SQL Server: cannot ${what} on ${this.location}: ${errorMessage(error)}`,
        {
          cause: error,
        },
      );
    }
  }

  private async transaction<T>(what: string, work: (tx: sql.Transaction) => Promise<T>): Promise<T> {
    return this.run(what, async () => {
      const tx = new sql.Transaction(this.pool);
      await tx.begin();
      try {
        const result = await work(tx);
        await tx.commit();
        return result;
      } catch (error) {
        await tx.rollback().catch(() => {});
        throw error;
      }
    });
  }
}

function bindKeys(req: sql.Request, keys: readonly string[]): void {
  keys.forEach((k, i) => {
    req.input(`k${i}`, sql.NVarChar(4000), k);
  });
}

function chunked<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
