/**
 * PostgreSQL adapter for both table layouts Dapr's `state.postgresql` component has used
 * (components-contrib state/postgresql/v1 and v2):
 *   v1: key text PK, value jsonb, isbinary boolean, insertdate, updatedate, expiredate — binary values are a JSON
 *       string of standard base64 with isbinary = true;
 *   v2: key text PK, value bytea, etag uuid, created_at, updated_at, expires_at — raw bytes.
 * The layout is detected from the table's columns, so one connection string works for either.
 */
import pg from "pg";
import { errorMessage, HousekeeperError } from "../errors.ts";
import { networkTimeouts } from "../util/timeouts.ts";
import type {
  EntryPage,
  GuardedDeletion,
  GuardedGroup,
  GuardedOutcome,
  KeyPage,
  ScanEntriesRequest,
  ScanKeysRequest,
  StateBackend,
} from "./backend.ts";
import { escapeLike, isStandardBase64, prefixUpperBound, retryDeadlocks } from "./backend.ts";
import { whatToCheck } from "./connect-hint.ts";

export { prefixUpperBound } from "./backend.ts";

export type PostgresLayout = "v1" | "v2";

export interface PostgresBackendOptions extends pg.PoolConfig {
  /** Dapr's `tableName` (v1, default `state`) or `{tablePrefix}state` (v2); may be `schema.table`. */
  tableName: string;
  /** Pool size; bounded so one run never floods the database. */
  maxConnections?: number;
}

const GET_CHUNK = 1000;
const WRITE_CHUNK = 1000;

export async function openPostgresBackend(options: PostgresBackendOptions): Promise<PostgresStateBackend> {
  const { tableName, maxConnections, ...poolConfig } = options;
  const table = quoteTableName(tableName);
  const timeouts = networkTimeouts();
  const pool = new pg.Pool({
    connectionTimeoutMillis: timeouts.connectMs,
    // Server side (a slow statement is cancelled) and client side (a server that stopped answering).
    statement_timeout: timeouts.requestMs,
    query_timeout: timeouts.requestMs,
    keepAlive: true,
    ...poolConfig,
    max: maxConnections ?? 4,
  });
  pool.on("error", () => {
    // An idle client dropped by the server: the pool replaces it; queries in flight report their own error.
  });
  pool.on("connect", (client) => {
    // A checked-out client has no pool listener: without this, a server dying between two statements of a
    // transaction would crash the process with an unhandled 'error' event. The statement in progress fails instead.
    client.on("error", () => {});
  });
  try {
    const layout = await detectLayout(pool, tableName, describe(poolConfig));
    const keyOrder = await detectKeyOrder(pool, table);
    const backend = new PostgresStateBackend(
      pool,
      table,
      tableName,
      layout.layout,
      layout.hasExpiry,
      describe(poolConfig),
    );
    backend.useKeyOrder(keyOrder);
    return backend;
  } catch (error) {
    await pool.end().catch(() => {});
    throw error;
  }
}

/**
 * How the `key` column orders: `bytes` (C/POSIX collation: the primary key serves byte-ordered range scans), `index`
 * (a linguistic collation, with an index on `key COLLATE "C"` that serves them) or `linguistic` (neither).
 */
export type KeyOrder = "bytes" | "index" | "linguistic";

export class PostgresStateBackend implements StateBackend {
  readonly kind = "postgresql" as const;
  readonly location: string;
  private readonly notExpired: string;
  /** Set when the table can serve ordered range scans (see useKeyOrder). */
  scanEntries?: (request: ScanEntriesRequest) => Promise<EntryPage>;
  /** What would make this table faster to list, said once by the doors; undefined when nothing would. */
  advice: string | undefined;
  private keyExpr = "key";
  private guardedDelete: string | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly table: string,
    tableName: string,
    readonly layout: PostgresLayout,
    hasExpiry: boolean,
    where: string,
  ) {
    this.location = `postgresql ${where} table ${tableName} (layout ${layout})`;
    const expiry = layout === "v1" ? "expiredate" : "expires_at";
    this.notExpired = hasExpiry ? `AND (${expiry} IS NULL OR ${expiry} >= now())` : "";
  }

  async scanKeys({ prefix, suffix, pageSize, cursor }: ScanKeysRequest): Promise<KeyPage> {
    // Keyset paging on the primary key: each page continues the index scan where the last one stopped, so a full
    // listing reads the index once, whatever the table's collation.
    const pattern = `${escapeLike(prefix)}%${escapeLike(suffix)}`;
    const params: unknown[] = [pattern, pageSize];
    let after = "";
    if (cursor !== undefined) {
      params.push(cursor);
      after = "AND key > $3";
    }
    const result = await this.query<{ key: string }>(
      `SELECT key FROM ${this.table} WHERE key LIKE $1 ESCAPE '\\' ${after} ${this.notExpired} ORDER BY key LIMIT $2`,
      params,
    );
    const keys = result.rows.map((r) => r.key);
    return { keys, cursor: keys.length < pageSize ? undefined : keys.at(-1) };
  }

  /**
   * Range scans need byte order: in a linguistic collation (en_US.UTF-8, the default of Amazon RDS and the official
   * image) a key range is not a prefix range and an instance's rows scatter. A C-collated key column is scanned
   * through its primary key; a linguistic one through an index on `key COLLATE "C"` when there is one; without it
   * every page would be a sequential scan and a sort of the table, so listing keeps to key pages then, and `advice`
   * names the index.
   */
  useKeyOrder(order: KeyOrder): void {
    if (order === "linguistic") {
      this.scanEntries = undefined;
      this.advice =
        `the key column of ${this.location} uses a linguistic collation, so listing cannot use its primary key; ` +
        `an index makes it one range scan: CREATE INDEX CONCURRENTLY ${indexName(this.table)} ON ${this.table} (key COLLATE "C");`;
      return;
    }
    this.keyExpr = order === "bytes" ? "key" : `key COLLATE "C"`;
    this.scanEntries = (request) => this.rangeScan(request);
    this.advice = undefined;
  }

  /** One ordered range scan a page (keyset paging on the byte-ordered key). */
  private async rangeScan({ prefix, pageSize, after }: ScanEntriesRequest): Promise<EntryPage> {
    const params: unknown[] = [after ?? prefix, prefixUpperBound(prefix), pageSize];
    const start = after === undefined ? ">=" : ">";
    const key = this.keyExpr;
    const where = `${key} ${start} $1 AND ${key} < $2 ${this.notExpired}`;
    const order = `ORDER BY ${key} LIMIT $3`;
    const entries: Array<readonly [string, Uint8Array]> = [];
    const unreadable: Array<{ key: string; reason: string }> = [];
    let rows: Array<{ key: string }>;
    if (this.layout === "v2") {
      const result = await this.query<{ key: string; value: Buffer }>(
        `SELECT key, value FROM ${this.table} WHERE ${where} ${order}`,
        params,
      );
      rows = result.rows;
      for (const row of result.rows) entries.push([row.key, row.value]);
    } else {
      const result = await this.query<{ key: string; isbinary: boolean; text: string | null }>(
        `SELECT key, isbinary, CASE WHEN isbinary THEN value #>> '{}' ELSE value::text END AS text
           FROM ${this.table} WHERE ${where} ${order}`,
        params,
      );
      rows = result.rows;
      for (const row of result.rows) {
        if (row.text === null || (row.isbinary && !isStandardBase64(row.text))) {
          unreadable.push({ key: row.key, reason: "its jsonb value is not a string of base64" });
        } else entries.push([row.key, decodeV1({ isbinary: row.isbinary, text: row.text })]);
      }
    }
    const page: EntryPage = { entries, done: rows.length < pageSize, lastKey: rows.at(-1)?.key };
    if (unreadable.length > 0) page.unreadable = unreadable;
    return page;
  }

  async getMany(keys: readonly string[]): Promise<Map<string, Uint8Array>> {
    const values = new Map<string, Uint8Array>();
    const chunks: string[][] = [];
    for (let i = 0; i < keys.length; i += GET_CHUNK) chunks.push(keys.slice(i, i + GET_CHUNK));
    // Chunks run side by side on the pool (bounded by its size), so a large read is not one long serial chain.
    await Promise.all(chunks.map((chunk) => this.readChunk(chunk, values)));
    return values;
  }

  private async readChunk(chunk: string[], into: Map<string, Uint8Array>): Promise<void> {
    const query = <R extends pg.QueryResultRow>(text: string) => this.query<R>(text, [chunk]);
    if (this.layout === "v2") {
      const result = await query<{ key: string; value: Buffer }>(
        `SELECT key, value FROM ${this.table} WHERE key = ANY($1::text[]) ${this.notExpired}`,
      );
      for (const row of result.rows) into.set(row.key, row.value);
      return;
    }
    // Binary rows hold a JSON string of base64; other rows hold JSON whose text is the value (legacy state).
    const result = await query<{ key: string; isbinary: boolean; text: string | null }>(
      `SELECT key, isbinary, CASE WHEN isbinary THEN value #>> '{}' ELSE value::text END AS text
         FROM ${this.table} WHERE key = ANY($1::text[]) ${this.notExpired}`,
    );
    for (const row of result.rows) {
      // A binary row whose jsonb is not a string (e.g. null) holds no bytes: read as absent, so the instance it
      // belongs to is reported as missing that key instead of failing the whole read.
      if (row.text !== null && (!row.isbinary || isStandardBase64(row.text))) {
        into.set(row.key, decodeV1({ isbinary: row.isbinary, text: row.text }));
      }
    }
  }

  async setMany(entries: ReadonlyArray<readonly [string, Uint8Array]>): Promise<void> {
    await this.transaction(async (client) => {
      for (let i = 0; i < entries.length; i += WRITE_CHUNK) {
        const chunk = entries.slice(i, i + WRITE_CHUNK);
        const keys = chunk.map(([k]) => k);
        if (this.layout === "v2") {
          await client.query(
            `INSERT INTO ${this.table} (key, value, etag)
               SELECT k, v, gen_random_uuid() FROM unnest($1::text[], $2::bytea[]) AS u(k, v)
             ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, etag = EXCLUDED.etag, updated_at = now()`,
            [keys, chunk.map(([, v]) => Buffer.from(v))],
          );
        } else {
          await client.query(
            `INSERT INTO ${this.table} (key, value, isbinary)
               SELECT k, to_jsonb(v), true FROM unnest($1::text[], $2::text[]) AS u(k, v)
             ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, isbinary = true, updatedate = now()`,
            [keys, chunk.map(([, v]) => Buffer.from(v).toString("base64"))],
          );
        }
      }
    });
  }

  async deleteMany(keys: readonly string[]): Promise<number> {
    return this.transaction(async (client) => {
      let deleted = 0;
      for (let i = 0; i < keys.length; i += WRITE_CHUNK) {
        const result = await client.query(`DELETE FROM ${this.table} WHERE key = ANY($1::text[])`, [
          keys.slice(i, i + WRITE_CHUNK),
        ]);
        deleted += result.rowCount ?? 0;
      }
      return deleted;
    });
  }

  async deleteIfUnchanged(groups: readonly GuardedGroup[]): Promise<GuardedDeletion> {
    if (groups.length === 0) return { outcomes: [], keysDeleted: 0 };
    // A writer that touched the same rows in another order (Dapr saving a new run) can deadlock with us; PostgreSQL
    // aborts one side, and ours is simply tried again.
    return retryDeadlocks(() => this.deleteIfUnchangedOnce(groups), isDeadlock);
  }

  /**
   * One statement, so one round trip and its own transaction: it locks the guard rows in key order (FOR UPDATE; in
   * READ COMMITTED a row a concurrent transaction changed is waited for and compared in its committed version),
   * decides each group in SQL exactly as planGuardedDeletion does, and deletes the keys of the groups still unchanged.
   * The CTEs that decide read every locked row before the DELETE runs (it depends on their aggregates).
   */
  private async deleteIfUnchangedOnce(groups: readonly GuardedGroup[]): Promise<GuardedDeletion> {
    const guardMember: number[] = [];
    const guardKey: string[] = [];
    const guardValue: Buffer[] = [];
    const memberGroup: number[] = [];
    const memberRoot: boolean[] = [];
    const deleteMember: number[] = [];
    const deleteKey: string[] = [];
    groups.forEach((group, g) => {
      group.forEach((member, i) => {
        memberGroup.push(g);
        memberRoot.push(i === 0);
        const m = memberGroup.length; // 1-based, as WITH ORDINALITY counts
        for (const [key, bytes] of member.expect) {
          guardMember.push(m);
          guardKey.push(key);
          guardValue.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
        }
        for (const key of member.keys) {
          deleteMember.push(m);
          deleteKey.push(key);
        }
      });
    });
    const params = [guardMember, guardKey, guardValue, memberGroup, memberRoot, deleteMember, deleteKey];
    this.guardedDelete ??= this.guardedDeleteStatement();
    const { rows } = await this.write<{ g: number; outcome: GuardedOutcome; deleted: number }>(
      this.guardedDelete,
      params,
    );
    const outcomes: GuardedOutcome[] = groups.map(() => "gone");
    for (const row of rows) outcomes[row.g] = row.outcome;
    return { outcomes, keysDeleted: rows[0]?.deleted ?? 0 };
  }

  /**
   * The guarded deletion's statement, unnamed (a named prepared statement breaks behind PgBouncer's transaction
   * pooling), built once per backend. Every step is a hash join or
   * an `= ANY(array)`, never a nested loop over a CTE whose row count the planner cannot know.
   */
  private guardedDeleteStatement(): string {
    // The bytes a read returns (readChunk): v1 binary rows decode their base64 (absent unless standard base64).
    const bytes =
      this.layout === "v2"
        ? "value"
        : `CASE WHEN isbinary THEN CASE WHEN (value #>> '{}') ~ '^[A-Za-z0-9+/]*={0,2}$' AND length(value #>> '{}') % 4 = 0
             THEN decode(value #>> '{}', 'base64') END ELSE convert_to(value::text, 'UTF8') END`;
    const text = `WITH cur AS (
         SELECT key, ${bytes} AS v FROM ${this.table} WHERE key = ANY($2::text[]) ${this.notExpired} ORDER BY key FOR UPDATE
       ), member AS (
         SELECT m.i, m.g, m.root,
                CASE WHEN bool_and(cur.v IS NULL) THEN 'gone'
                     WHEN bool_and(cur.v IS NOT NULL AND cur.v = e.v) THEN 'same'
                     ELSE 'changed' END AS state
           FROM unnest($4::int[], $5::bool[]) WITH ORDINALITY AS m(g, root, i)
           JOIN unnest($1::int[], $2::text[], $3::bytea[]) AS e(m, k, v) ON e.m = m.i
           LEFT JOIN cur ON cur.key = e.k
          GROUP BY m.i, m.g, m.root
       ), decided AS (
         SELECT i, g, state,
                CASE WHEN bool_or(root AND state = 'gone') OVER family THEN 'gone'
                     WHEN bool_or(state = 'changed') OVER family THEN 'changed'
                     ELSE 'deleted' END AS outcome
           FROM member WINDOW family AS (PARTITION BY g)
       ), deleted AS (
         DELETE FROM ${this.table} WHERE key = ANY(ARRAY(
           SELECT d.k FROM unnest($6::int[], $7::text[]) AS d(m, k)
            WHERE d.m = ANY(ARRAY(SELECT i FROM decided WHERE state = 'same' AND outcome = 'deleted'))
         )) RETURNING 1
       )
       SELECT DISTINCT g, outcome, (SELECT count(*) FROM deleted)::int AS deleted FROM decided`;
    return text;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private async query<R extends pg.QueryResultRow>(text: string, params: unknown[]): Promise<pg.QueryResult<R>> {
    try {
      return await this.pool.query<R>(text, params);
    } catch (error) {
      throw new HousekeeperError("store-error", `PostgreSQL query on ${this.location} failed: ${errorMessage(error)}`, {
        cause: error,
      });
    }
  }

  /** One statement that writes (its own transaction); errors read as a failed write, as a transaction's do. */
  private async write<R extends pg.QueryResultRow>(text: string, values: unknown[]): Promise<pg.QueryResult<R>> {
    try {
      return await this.pool.query<R>(text, values);
    } catch (error) {
      throw new HousekeeperError("store-error", `PostgreSQL write on ${this.location} failed: ${errorMessage(error)}`, {
        cause: error,
      });
    }
  }

  private async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect().catch((error: unknown) => {
      throw new HousekeeperError("store-error", `PostgreSQL write on ${this.location} failed: ${errorMessage(error)}`, {
        cause: error,
      });
    });
    try {
      await client.query("BEGIN");
      const result = await work(client);
      await client.query("COMMIT");
      return result;
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {});
      if (error instanceof HousekeeperError) throw error;
      throw new HousekeeperError("store-error", `PostgreSQL write on ${this.location} failed: ${errorMessage(error)}`, {
        cause: error,
      });
    } finally {
      client.release();
    }
  }
}

/** The key column's ordering (see KeyOrder): its collation, or the database's when it has the default one. */
async function detectKeyOrder(pool: pg.Pool, table: string): Promise<KeyOrder> {
  // to_jsonb(d) reads datlocprovider where it exists (PostgreSQL 15+: an ICU database may say datcollate = C).
  const { rows } = await pool.query<{ collname: string | null; datcollate: string; provider: string | null }>(
    `SELECT co.collname, d.datcollate, to_jsonb(d) ->> 'datlocprovider' AS provider
       FROM pg_attribute a
       LEFT JOIN pg_collation co ON co.oid = a.attcollation
       JOIN pg_database d ON d.datname = current_database()
      WHERE a.attrelid = to_regclass($1) AND a.attname = 'key'`,
    [table],
  );
  const row = rows[0];
  if (!row) return "linguistic";
  const bytewise = (name: string | null) => name === "C" || name === "POSIX" || name === "ucs_basic";
  if (bytewise(row.collname)) return "bytes";
  if (row.collname === "default" && (row.provider ?? "c") === "c" && bytewise(row.datcollate)) return "bytes";
  const index = await pool.query(
    `SELECT 1 FROM pg_index i
      WHERE i.indrelid = to_regclass($1) AND pg_get_indexdef(i.indexrelid) LIKE '%(key COLLATE "C")%' LIMIT 1`,
    [table],
  );
  return index.rowCount ? "index" : "linguistic";
}

function indexName(table: string): string {
  return `${table.replace(/^.*\./, "")}_key_bytes`;
}

/** The v1 value's bytes: base64 inside a JSON string when isbinary, else the JSON text (legacy state). */
function decodeV1(row: { isbinary: boolean; text: string }): Uint8Array {
  return row.isbinary ? Buffer.from(row.text, "base64") : Buffer.from(row.text, "utf8");
}

function isDeadlock(error: unknown): boolean {
  const cause = error instanceof HousekeeperError ? error.cause : error;
  return (cause as { code?: unknown } | undefined)?.code === "40P01";
}

/** Creates the table exactly as Dapr's component migrations do (used by the test-data writer and the embedded store). */
export async function createPostgresDaprTable(
  client: pg.Pool | pg.Client,
  tableName: string,
  layout: PostgresLayout,
): Promise<void> {
  const table = quoteTableName(tableName);
  if (layout === "v1") {
    await client.query(`CREATE TABLE IF NOT EXISTS ${table} (
      key text NOT NULL PRIMARY KEY,
      value jsonb NOT NULL,
      isbinary boolean NOT NULL,
      insertdate TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
      updatedate TIMESTAMP WITH TIME ZONE NULL,
      expiredate TIMESTAMP WITH TIME ZONE NULL)`);
  } else {
    await client.query(`CREATE TABLE IF NOT EXISTS ${table} (
      key text NOT NULL PRIMARY KEY,
      value bytea NOT NULL,
      etag uuid NOT NULL DEFAULT gen_random_uuid(),
      created_at timestamp with time zone NOT NULL DEFAULT now(),
      updated_at timestamp with time zone,
      expires_at timestamp with time zone)`);
  }
}

async function detectLayout(
  pool: pg.Pool,
  tableName: string,
  where: string,
): Promise<{ layout: PostgresLayout; hasExpiry: boolean }> {
  const [schema, table] = splitTableName(tableName);
  let columns: Map<string, string>;
  try {
    const result = await pool.query<{ column_name: string; data_type: string }>(
      `SELECT column_name, data_type FROM information_schema.columns
        WHERE table_name = $1 AND table_schema = COALESCE($2, current_schema())`,
      [table.toLowerCase(), schema?.toLowerCase() ?? null],
    );
    columns = new Map(result.rows.map((r) => [r.column_name, r.data_type]));
  } catch (error) {
    throw new HousekeeperError(
      "unavailable",
      `cannot connect to PostgreSQL at ${where}: ${errorMessage(error)}${whatToCheck(error, "PostgreSQL")}`,
      {
        cause: error,
      },
    );
  }
  if (columns.size === 0) {
    throw new HousekeeperError(
      "not-found",
      `table "${tableName}" does not exist in this PostgreSQL database; pass --table-name with the component's tableName`,
    );
  }
  if (columns.get("isbinary") && columns.get("value") === "jsonb") {
    return { layout: "v1", hasExpiry: columns.has("expiredate") };
  }
  if (columns.get("value") === "bytea") return { layout: "v2", hasExpiry: columns.has("expires_at") };
  throw new HousekeeperError(
    "bad-input",
    `table "${tableName}" is not a Dapr state table (expected key/value jsonb/isbinary or key/value bytea columns)`,
  );
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]*$/;

function splitTableName(tableName: string): [string | undefined, string] {
  const parts = tableName.split(".");
  if (parts.length > 2 || !parts.every((p) => IDENTIFIER.test(p))) {
    throw new HousekeeperError(
      "bad-input",
      `invalid table name "${tableName}": use letters, digits and _ (schema.table allowed)`,
    );
  }
  return parts.length === 2 ? [parts[0], parts[1]!] : [undefined, parts[0]!];
}

/**
 * Dapr splices tableName into its SQL unquoted, so PostgreSQL folds it to lower case; we do the same (after
 * validating it is a plain identifier) so that `--table-name` names the same table Dapr uses.
 */
export function quoteTableName(tableName: string): string {
  const [schema, table] = splitTableName(tableName);
  return schema ? `${schema}.${table}` : table;
}

function describe(config: pg.PoolConfig): string {
  return `${config.host ?? "localhost"}:${config.port ?? 5432}/${config.database ?? ""}`;
}
