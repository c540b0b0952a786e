/**
 * PostgreSQL adapter for both table layouts Dapr's `state.postgresql` component has used
 * (components-contrib state/postgresql/v1 and v2):
 *   v1: key text PK, value jsonb, isbinary boolean, insertdate, updatedate, expiredate — binary values are a JSON
 *       string of standard base64 with isbinary = true;
 *   v2: key text PK, value bytea, etag uuid, created_at, updated_at, expires_at — raw bytes.
 * The layout is detected from the table's columns, so one connection string works for either.
 */
import pg from "pg";
import { networkTimeouts } from "../config/timeouts.ts";
import { errorMessage, HousekeeperError } from "../errors.ts";
import type { KeyPage, ScanKeysRequest, StateBackend } from "./backend.ts";
import { escapeLike } from "./backend.ts";

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
    return new PostgresStateBackend(pool, table, tableName, layout.layout, layout.hasExpiry, describe(poolConfig));
  } catch (error) {
    await pool.end().catch(() => {});
    throw error;
  }
}

export class PostgresStateBackend implements StateBackend {
  readonly kind = "postgresql" as const;
  readonly location: string;
  private readonly notExpired: string;

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

  async getMany(keys: readonly string[]): Promise<Map<string, Uint8Array>> {
    const values = new Map<string, Uint8Array>();
    const chunks: string[][] = [];
    for (let i = 0; i < keys.length; i += GET_CHUNK) chunks.push(keys.slice(i, i + GET_CHUNK));
    // Chunks run side by side on the pool (bounded by its size), so a large read is not one long serial chain.
    await Promise.all(chunks.map((chunk) => this.readChunk(chunk, values)));
    return values;
  }

  private async readChunk(chunk: string[], into: Map<string, Uint8Array>): Promise<void> {
    if (this.layout === "v2") {
      const result = await this.query<{ key: string; value: Buffer }>(
        `SELECT key, value FROM ${this.table} WHERE key = ANY($1::text[]) ${this.notExpired}`,
        [chunk],
      );
      for (const row of result.rows) into.set(row.key, row.value);
      return;
    }
    // Binary rows hold a JSON string of base64; other rows hold JSON whose text is the value (legacy state).
    const result = await this.query<{ key: string; isbinary: boolean; text: string }>(
      `SELECT key, isbinary, CASE WHEN isbinary THEN value #>> '{}' ELSE value::text END AS text
         FROM ${this.table} WHERE key = ANY($1::text[]) ${this.notExpired}`,
      [chunk],
    );
    for (const row of result.rows) {
      into.set(row.key, row.isbinary ? Buffer.from(row.text, "base64") : Buffer.from(row.text, "utf8"));
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

  private async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
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
    throw new HousekeeperError("unavailable", `cannot connect to PostgreSQL at ${where}: ${errorMessage(error)}`, {
      cause: error,
    });
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
