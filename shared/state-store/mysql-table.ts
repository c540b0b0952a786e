/**
 * Dapr's MySQL / MariaDB state table itself (components-contrib state/mysql/mysql.go): its names (Dapr's defaults,
 * identifier validation), what an existing table looks like (columns, and the collation probe that the adapter's
 * range-scan bounds rest on) and the DDL Dapr runs at Init (for the test-data writer and tests). The adapter that
 * reads and writes rows is mysql.ts.
 */
import mysql from "mysql2/promise";
import { errorMessage, HousekeeperError } from "../errors.ts";
import { whatToCheck } from "./connect-hint.ts";

/** Dapr's `schemaName` default. */
export const DAPR_MYSQL_DEFAULT_DATABASE = "dapr_state_store";
/** Dapr's `tableName` default. */
export const DAPR_MYSQL_DEFAULT_TABLE = "state";
/** Dapr's `metadataTableName` default (holds the TTL garbage collector's `last-cleanup` row). */
export const DAPR_MYSQL_DEFAULT_METADATA_TABLE = "dapr_metadata";

export interface TableLayout {
  /** The table has Dapr's `expiredate` column (added in Dapr 1.11). */
  hasExpiry: boolean;
  /** Declared length of `id` in characters (255 in Dapr's DDL). */
  idMaxLength: number;
  /**
   * A character that sorts after `|` in the id column's collation (and `|` after a space), so that every key
   * `<p>||…` lies in [`<p>`, `<p><char>`); undefined when none was found (listing then keeps to key pages).
   */
  aboveSeparator: string | undefined;
}

const IDENTIFIER = /^[A-Za-z0-9_$]{1,64}$/;

/**
 * Validates a database or table name and returns it quoted with backticks. Dapr itself accepts only ASCII letters,
 * digits and `_` (mysql.go validIdentifier) and splices the name unquoted; `$` is accepted here too. Anything else,
 * including `schema.table`, is rejected.
 */
export function quoteMysqlIdentifier(name: string, what = "identifier"): string {
  if (!IDENTIFIER.test(name)) {
    throw new HousekeeperError(
      "bad-input",
      `invalid MySQL ${what} ${JSON.stringify(name)}: use 1–64 ASCII letters, digits, _ or $ (no dots; give the database separately)`,
    );
  }
  return `\`${name}\``;
}

export function qualifiedTableName(database: string, tableName: string): string {
  return `${quoteMysqlIdentifier(database, "database name")}.${quoteMysqlIdentifier(tableName, "table name")}`;
}

export async function inspectTable(
  pool: mysql.Pool,
  database: string,
  tableName: string,
  where: string,
): Promise<TableLayout> {
  let columns: Map<string, { type: string; length: number | null; charset: string | null; collation: string | null }>;
  try {
    const [rows] = await pool.execute<mysql.RowDataPacket[]>(
      `SELECT COLUMN_NAME AS name, DATA_TYPE AS type, CHARACTER_MAXIMUM_LENGTH AS length,
              CHARACTER_SET_NAME AS charset, COLLATION_NAME AS collation
         FROM information_schema.columns WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?`,
      [database, tableName],
    );
    columns = new Map(
      rows.map((r) => [
        String(r.name).toLowerCase(),
        {
          type: String(r.type).toLowerCase(),
          length: r.length === null ? null : Number(r.length),
          charset: r.charset === null ? null : String(r.charset),
          collation: r.collation === null ? null : String(r.collation),
        },
      ]),
    );
  } catch (error) {
    throw new HousekeeperError(
      "store-error",
      `cannot connect to MySQL at ${where}: ${errorMessage(error)}${whatToCheck(error, "MySQL")}`,
      {
        cause: error,
      },
    );
  }
  if (columns.size === 0) {
    throw new HousekeeperError(
      "not-found",
      `table ${database}.${tableName} does not exist on MySQL at ${where} (or is not visible to this user); pass the component's schemaName and tableName`,
    );
  }
  const id = columns.get("id");
  if (!id || !columns.has("value") || !columns.has("isbinary")) {
    throw new HousekeeperError(
      "bad-input",
      `table ${database}.${tableName} is not a Dapr MySQL state table (expected columns id, value, isbinary)`,
    );
  }
  return {
    hasExpiry: columns.has("expiredate"),
    idMaxLength: id.length ?? 255,
    aboveSeparator: await charAboveSeparator(pool, id.charset, id.collation),
  };
}

/** Candidates for TableLayout.aboveSeparator, tightest first ('}' in binary order; UCA sorts punctuation first). */
const ABOVE_SEPARATOR = ["}", "~", "0", "a"] as const;

/**
 * Asks the server, in the id column's own collation, which candidate sorts above `|` (and above `||` followed by
 * more text) while `|` sorts above a space (the padding of PAD SPACE collations). Collations are opaque tables
 * (case folding, accents, UCA weights, PAD SPACE), so the database answers rather than a table of ours.
 */
async function charAboveSeparator(
  pool: mysql.Pool,
  charset: string | null,
  collation: string | null,
): Promise<string | undefined> {
  if (!charset || !collation || !/^[a-z0-9_]+$/i.test(charset) || !/^[a-z0-9_]+$/i.test(collation)) return undefined;
  const text = `CONVERT(? USING ${charset}) COLLATE ${collation}`;
  const checks = [`${text} > ${text} AS pad`];
  const params: string[] = ["|", " "];
  ABOVE_SEPARATOR.forEach((c, i) => {
    checks.push(`(${text} < ${text} AND ${text} < ${text}) AS c${i}`);
    params.push("|", c, "||zz", c);
  });
  const [rows] = await pool.query<mysql.RowDataPacket[]>(`SELECT ${checks.join(", ")}`, params);
  const row = rows[0];
  if (!row || Number(row.pad) !== 1) return undefined;
  return ABOVE_SEPARATOR.find((_, i) => Number(row[`c${i}`]) === 1);
}

// ---------------------------------------------------------------------------------------------------------------
// Creating Dapr's table (test-data writer and tests only; reads never create anything)

export interface CreateMysqlDaprTableOptions {
  /** Add Dapr ≥ 1.11's `expiredate` column and index (default true). */
  expireDate?: boolean;
  /** Add Dapr ≥ 1.17's `row_id` column (default true). */
  rowId?: boolean;
  /** Also create Dapr's metadata table (default `dapr_metadata`); false to skip. */
  metadataTable?: string | false;
}

/**
 * Creates the database and the state table the way Dapr's component does at Init (ensureStateSchema,
 * ensureStateTable, ensureMetadataTable). Idempotent. `target` is a pool/connection, or options to open one.
 */
export async function createMysqlDaprTable(
  target: mysql.Pool | mysql.Connection | mysql.ConnectionOptions,
  database: string = DAPR_MYSQL_DEFAULT_DATABASE,
  tableName: string = DAPR_MYSQL_DEFAULT_TABLE,
  options: CreateMysqlDaprTableOptions = {},
): Promise<void> {
  const db = quoteMysqlIdentifier(database, "database name");
  const table = qualifiedTableName(database, tableName);
  const metadataTable = options.metadataTable ?? DAPR_MYSQL_DEFAULT_METADATA_TABLE;
  const meta = metadataTable === false ? undefined : qualifiedTableName(database, metadataTable);
  const owned = isQueryable(target) ? undefined : await mysql.createConnection({ ...target, database: undefined });
  const conn: mysql.Pool | mysql.Connection = owned ?? (target as mysql.Pool | mysql.Connection);
  try {
    await conn.query(`CREATE DATABASE IF NOT EXISTS ${db}`);
    // Dapr's DDL verbatim (mysql.go ensureStateTable), plus its later ALTERs.
    await conn.query(`CREATE TABLE IF NOT EXISTS ${table} (
      id VARCHAR(255) NOT NULL PRIMARY KEY,
      value JSON NOT NULL,
      isbinary BOOLEAN NOT NULL,
      insertDate TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
      updateDate TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
      eTag VARCHAR(36) NOT NULL${
        options.expireDate === false
          ? ""
          : `,
      expiredate TIMESTAMP NULL,
      INDEX expiredate_idx(expiredate)`
      }
      )`);
    if (options.rowId !== false && !(await columnExists(conn, database, tableName, "row_id"))) {
      await conn.query(`ALTER TABLE ${table}
        ADD COLUMN row_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
        ADD UNIQUE KEY row_id_uidx (row_id)`);
    }
    if (meta) {
      await conn.query(
        `CREATE TABLE IF NOT EXISTS ${meta} (id VARCHAR(255) NOT NULL PRIMARY KEY, value TEXT NOT NULL)`,
      );
    }
  } catch (error) {
    throw new HousekeeperError("store-error", `cannot create ${database}.${tableName}: ${errorMessage(error)}`, {
      cause: error,
    });
  } finally {
    await owned?.end().catch(() => {});
  }
}

function isQueryable(target: unknown): target is mysql.Pool | mysql.Connection {
  return typeof (target as { query?: unknown }).query === "function";
}

async function columnExists(
  conn: mysql.Pool | mysql.Connection,
  database: string,
  tableName: string,
  column: string,
): Promise<boolean> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    "SELECT COUNT(*) AS n FROM information_schema.columns WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLUMN_NAME = ?",
    [database, tableName, column],
  );
  return Number(rows[0]?.n ?? 0) > 0;
}
