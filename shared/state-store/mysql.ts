/**
 * MySQL / MariaDB adapter for Dapr's `state.mysql` component (components-contrib state/mysql/mysql.go).
 *
 * Dapr's layout: database `dapr_state_store` (metadata `schemaName`), table `state` (`tableName`):
 *   id VARCHAR(255) PK, value JSON, isbinary BOOLEAN, insertDate, updateDate, eTag VARCHAR(36) (a UUID),
 *   expiredate TIMESTAMP NULL (since 1.11), row_id BIGINT UNSIGNED AUTO_INCREMENT UNIQUE (since 1.17).
 * A binary value (all workflow state since 1.15) is stored as a JSON string holding standard base64, isbinary = 1.
 * Any other value is stored as its JSON encoding with isbinary = 0 (e.g. Dapr ≤ 1.14 workflow metadata); Dapr returns
 * that JSON text as the value's bytes, and so do we.
 *
 * Key comparison: Dapr's table uses the server's default collation, usually case- and accent-insensitive
 * (utf8mb4_0900_ai_ci, utf8mb4_unicode_ci). SQL does the coarse filtering (so indexes are used) and every key this
 * adapter returns is re-checked in JS, so scanKeys and getMany match keys byte-for-byte, as the port requires.
 * deleteMany leaves equality to the database, i.e. it removes the row Dapr itself would address by that key.
 */
import { randomUUID } from "node:crypto";
import type { Socket } from "node:net";
import mysql from "mysql2/promise";
import { errorMessage, HousekeeperError } from "../errors.ts";
import { networkTimeouts } from "../util/timeouts.ts";
import type {
  EntryPage,
  GuardedDeletion,
  GuardedGroup,
  KeyPage,
  ReadResult,
  ScanEntriesRequest,
  ScanKeysRequest,
  StateBackend,
} from "./backend.ts";
import { escapeLike, guardKeys, isStandardBase64, planGuardedDeletion, retryDeadlocks } from "./backend.ts";
import { whatToCheck } from "./connect-hint.ts";
import { KEY_SEPARATOR, METADATA_KEY, splitInstanceKey } from "./keys.ts";
import {
  DAPR_MYSQL_DEFAULT_DATABASE,
  DAPR_MYSQL_DEFAULT_TABLE,
  inspectTable,
  qualifiedTableName,
  type TableLayout,
} from "./mysql-table.ts";

export interface MysqlBackendOptions extends Omit<mysql.PoolOptions, "database"> {
  /** Dapr's `schemaName` (default `dapr_state_store`). */
  database?: string;
  /** Dapr's `tableName` (default `state`). */
  tableName?: string;
  /** Pool size (default 4); bounded so one run never floods the server. */
  connectionLimit?: number;
}

/** Keys per `IN (…)` list. */
const GET_CHUNK = 500;
/** IN-list lengths are padded up to one of these, so only a handful of prepared statements ever exist. */
const IN_LIST_SIZES = [1, 2, 4, 8, 16, 32, 64, 128, 256, GET_CHUNK] as const;
/** Rows per INSERT statement: at most this many, rounded down to a power of two (again to bound statement shapes). */
const WRITE_ROWS = 64;
/** Approximate encoded bytes per INSERT statement, well below the default max_allowed_packet (MariaDB 16 MiB). */
const WRITE_BYTES = 4 * 1024 * 1024;
const DEFAULT_CONNECTIONS = 4;
const MAX_CONNECTIONS = 32;

export async function openMysqlBackend(options: MysqlBackendOptions): Promise<MysqlStateBackend> {
  const { database = DAPR_MYSQL_DEFAULT_DATABASE, tableName = DAPR_MYSQL_DEFAULT_TABLE, ...connection } = options;
  const table = qualifiedTableName(database, tableName);
  const limit = Math.min(Math.max(1, Math.floor(connection.connectionLimit ?? DEFAULT_CONNECTIONS)), MAX_CONNECTIONS);
  const timeouts = networkTimeouts();
  const pool = mysql.createPool({
    connectTimeout: timeouts.connectMs,
    ...connection,
    connectionLimit: limit,
    maxIdle: limit,
    // JSON columns as their text (MySQL) — MariaDB's JSON is LONGTEXT anyway — so the bytes are never re-encoded.
    jsonStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
    maxPreparedStatements: 64,
  });
  pool.on("connection", (pooled) => {
    // mysql2 hands over its callback-API connection here.
    const core = pooled as unknown as { on(event: "error", fn: () => void): void; stream?: Socket };
    // The pool listens for a connection's first error only; a later one (a write after the server went away) would
    // crash the process. The statement in progress reports its own error.
    core.on("error", () => {});
    // mysql2 has no statement timeout of its own: a server that stops answering mid-statement is cut after this
    // long without a byte (an idle pooled connection too; the pool then opens a new one).
    const stream = core.stream;
    stream?.setTimeout(timeouts.requestMs, () => {
      stream.destroy(
        Object.assign(new Error(`no answer from MySQL for ${timeouts.requestMs} ms`), { code: "ETIMEDOUT" }),
      );
    });
  });
  const where = connection.socketPath ?? `${connection.host ?? "localhost"}:${connection.port ?? 3306}`;
  try {
    const layout = await inspectTable(pool, database, tableName, where);
    return new MysqlStateBackend(pool, table, layout, `mysql ${where} database ${database} table ${tableName}`);
  } catch (error) {
    await pool.end().catch(() => {});
    const cause = (error as { cause?: { code?: unknown; syscall?: unknown } }).cause;
    if (error instanceof HousekeeperError && cause?.code === "ETIMEDOUT" && cause.syscall === "connect") {
      // mysql2 says only "connect ETIMEDOUT": name the timeout that ran out.
      const ms = connection.connectTimeout ?? timeouts.connectMs;
      const check = whatToCheck(cause, "MySQL");
      const message = `${error.message.slice(0, error.message.length - check.length)} (after ${ms} ms)${check}`;
      throw new HousekeeperError("unavailable", message, { cause });
    }
    throw error;
  }
}

export class MysqlStateBackend implements StateBackend {
  readonly kind = "mysql" as const;
  private readonly notExpired: string;

  /** Prefer openMysqlBackend(), which checks the table and builds `table` from validated identifiers. */
  constructor(
    private readonly pool: mysql.Pool,
    /** Already quoted `db`.`table`. */
    private readonly table: string,
    readonly layout: TableLayout,
    readonly location: string,
  ) {
    // Same predicate as Dapr's Get/BulkGet/KeysLike: a row whose expiredate has passed is absent.
    this.notExpired = layout.hasExpiry ? "AND (expiredate IS NULL OR expiredate > CURRENT_TIMESTAMP)" : "";
    const above = layout.aboveSeparator;
    if (above !== undefined) this.scanEntries = (request) => this.rangeScan(request, above);
  }

  /** Set when the id column's collation allows one ordered range scan for listing (see rangeScan). */
  scanEntries?: (request: ScanEntriesRequest) => Promise<EntryPage>;

  async scanKeys({ prefix, suffix, pageSize, cursor }: ScanKeysRequest): Promise<KeyPage> {
    if (!Number.isSafeInteger(pageSize) || pageSize < 1) {
      throw new HousekeeperError("bad-input", `page size must be a positive integer, got ${pageSize}`);
    }
    // Keyset paging on the primary key (ORDER BY id, id > cursor): each page continues the index range scan where the
    // last one stopped. Ordering and `>` both use the column's collation, under which ids are unique (it is the PK),
    // so pages never overlap and never skip a row. Parameters are bound, so no string-literal escaping is involved;
    // the LIKE escape character is bound too, which keeps it `\` whatever NO_BACKSLASH_ESCAPES says.
    let range = "id LIKE ? ESCAPE ?";
    const params: string[] = [`${escapeLike(prefix)}%${escapeLike(suffix)}`, "\\"];
    const above = this.layout.aboveSeparator;
    if (above !== undefined && prefix.endsWith(KEY_SEPARATOR)) {
      // An app's keys: the same bounds as rangeScan (MariaDB's index range for `LIKE 'prefix%'` misses keys, see
      // there); the LIKE keeps only the suffix and, starting with `%`, gives the optimizer no range of its own.
      const stem = prefix.slice(0, -KEY_SEPARATOR.length);
      range = "id >= ? AND id < ? AND id LIKE ? ESCAPE ?";
      params.splice(0, params.length, stem, `${stem}${above}`, `%${escapeLike(suffix)}`, "\\");
    }
    let after = "";
    if (cursor !== undefined) {
      params.push(cursor);
      after = "AND id > ?";
    }
    const rows = await this.run<{ id: string }>(
      `SELECT id FROM ${this.table} WHERE ${range} ${after} ${this.notExpired} ORDER BY id LIMIT ${pageSize}`,
      params,
    );
    const minLength = prefix.length + suffix.length;
    // The collation may be case/accent-insensitive: keep only literal matches (the cursor still advances past all).
    const keys = rows
      .map((r) => r.id)
      .filter((id) => id.length >= minLength && id.startsWith(prefix) && id.endsWith(suffix));
    return { keys, cursor: rows.length < pageSize ? undefined : rows.at(-1)?.id };
  }

  /**
   * Every row of an app in one ordered range scan a page: keyset paging on the primary key (`ORDER BY id`, `id > ?`),
   * so each page continues the index range where the last stopped, whatever the column's collation. No index on a
   * binary copy of the key is needed (MariaDB has no functional indexes; Dapr's table has none): the rows come in the
   * column's own order, which the listing can use because
   * - ids are unique in that collation (it is the PK), so pages never overlap and never skip a row;
   * - the range holds every key that starts with the prefix literally (see the bounds below); rows that are in it
   *   only case/accent-insensitively (another app `Shop` beside `shop`) are dropped here;
   * - in every collation an instance's customStatus, history-* and inbox-* keys sort before its metadata key (c, h, i
   *   before m), which is what the listing needs to decide an instance when its metadata arrives. Rows of IDs that
   *   differ only by case or accents (only one of which can own a metadata row) may interleave; the listing groups
   *   rows by their literal ID, so they are never mixed up.
   * A row whose value is not Dapr's encoding (a JSON null, bad base64) is returned in `unreadable` with its place in
   * this scan's order (`index`), since the scan's order is the collation's, not the byte order the listing would
   * otherwise merge it back in; the listing names its instance unreadable.
   */
  private async rangeScan({ prefix, pageSize, after }: ScanEntriesRequest, above: string): Promise<EntryPage> {
    if (!Number.isSafeInteger(pageSize) || pageSize < 1) {
      throw new HousekeeperError("bad-input", `page size must be a positive integer, got ${pageSize}`);
    }
    if (!prefix.endsWith(KEY_SEPARATOR)) throw new Error(`scan prefix must end with "${KEY_SEPARATOR}"`);
    // Bounds, not `LIKE 'prefix%'`: MariaDB 10.11's range for LIKE on the index leaves out keys with characters
    // beyond U+FFFF (utf8mb4_bin, utf8mb4_unicode_ci) and, in PAD SPACE _bin collations, keys whose next character
    // sorts below a space, although the LIKE itself matches them. Every `<p>||…` is ≥ `<p>` (`|` sorts above the
    // padding space) and < `<p><above>`, in the column's own collation.
    const stem = prefix.slice(0, -KEY_SEPARATOR.length);
    let cursor = after;
    for (;;) {
      const params = [stem, `${stem}${above}`, ...(cursor === undefined ? [] : [cursor])];
      const rows = await this.run<{ id: string; isbinary: number | string; value: string }>(
        `SELECT id, isbinary, value FROM ${this.table}
          WHERE id >= ? AND id < ? ${cursor === undefined ? "" : "AND id > ?"} ${this.notExpired}
          ORDER BY id LIMIT ${pageSize}`,
        params,
      );
      let scanned: ScannedRow[] = [];
      for (const row of rows) {
        if (!row.id.startsWith(prefix)) continue;
        const value = fastDecode(row) ?? decodeOrReason(row, this.location);
        scanned.push(typeof value === "string" ? { key: row.id, bad: value } : { key: row.id, value });
      }
      const done = rows.length < pageSize;
      const lastKey = rows.at(-1)?.id;
      if (!done) scanned = await this.withoutOrphans(scanned, prefix.length);
      // A full page of other apps' rows (which the listing cannot step over: it continues after its last own row)
      // is stepped over here.
      if (scanned.length > 0 || done) return { ...inScanOrder(scanned), done, lastKey };
      cursor = lastKey;
    }
  }

  /**
   * Leaves out the rows of instance IDs that have no metadata row at all (leftovers, e.g. `ABC||history-000040` in a
   * case-insensitive table beside instance `abc`). In byte order an ID's rows are contiguous; in a case/accent-
   * insensitive order they may interleave with the rows of an ID equal to it, and a listing that waits for such a
   * leftover's metadata would cut its pages in the middle of the real instance. An ID that is not the page's last
   * and has no metadata row in the page is looked up (one query, usually none): its metadata can only be missing or
   * still to come (the scan is ordered, so one that sorts before the page's end would be in the page).
   */
  private async withoutOrphans(scanned: ScannedRow[], prefixLength: number): Promise<ScannedRow[]> {
    const withMetadata = new Set<string>();
    const ids: Array<string | undefined> = scanned.map(({ key }) => {
      const parsed = splitInstanceKey(key, prefixLength);
      if (parsed?.stateKey === METADATA_KEY) withMetadata.add(parsed.instanceId);
      return parsed?.instanceId;
    });
    const last = ids.at(-1);
    const open = new Set(ids.filter((id): id is string => id !== undefined && id !== last && !withMetadata.has(id)));
    if (open.size === 0) return scanned;
    const prefix = scanned[0]!.key.slice(0, prefixLength);
    const metaKeys = [...open].map((id) => `${prefix}${id}${KEY_SEPARATOR}${METADATA_KEY}`);
    // A metadata row that exists but cannot be decoded still makes its ID an instance (reported unreadable).
    const existing = await this.getManyReporting(metaKeys);
    const exists = (key: string) => existing.values.has(key) || existing.unreadable.has(key);
    const orphans = new Set([...open].filter((_, i) => !exists(metaKeys[i]!)));
    return orphans.size === 0 ? scanned : scanned.filter((_, i) => !orphans.has(ids[i]!));
  }

  async getMany(keys: readonly string[]): Promise<Map<string, Uint8Array>> {
    return (await this.getManyReporting(keys)).values;
  }

  /** getMany that also names the rows that are not Dapr's encoding (JSON null, bad base64), instead of hiding them. */
  async getManyReporting(keys: readonly string[]): Promise<ReadResult> {
    const wanted = [...new Set(keys)];
    const values = new Map<string, Uint8Array>();
    const unreadable = new Map<string, string>();
    for (let i = 0; i < wanted.length; i += GET_CHUNK) {
      const chunk = padInList(wanted.slice(i, i + GET_CHUNK));
      const rows = await this.run<{ id: string; isbinary: number | string; value: string }>(
        `SELECT id, isbinary, value FROM ${this.table}
          WHERE id IN (${placeholders(chunk.length)}) ${this.notExpired}`,
        chunk,
      );
      const inChunk = new Set(chunk);
      for (const row of rows) {
        if (!inChunk.has(row.id)) continue;
        // A row that is not Dapr's encoding (JSON null, bad base64) is named with the reason, so the instance it
        // belongs to is reported unreadable by that key, instead of failing the whole read.
        const value = decodeOrReason(row, this.location);
        if (typeof value === "string") unreadable.set(row.id, value);
        else values.set(row.id, value);
      }
    }
    return { values, unreadable };
  }

  async setMany(entries: ReadonlyArray<readonly [string, Uint8Array]>): Promise<void> {
    if (entries.length === 0) return;
    for (const [key] of entries) this.checkKey(key);
    const rows = entries.map(([key, value]) => [key, JSON.stringify(Buffer.from(value).toString("base64"))] as const);
    const expiry = this.layout.hasExpiry;
    await this.transaction(async (conn) => {
      for (let i = 0; i < rows.length; ) {
        const count = writeBatchSize(rows, i);
        const batch = rows.slice(i, i + count);
        i += count;
        const params: string[] = [];
        for (const [key, json] of batch) params.push(key, json, randomUUID());
        // Dapr writes with REPLACE INTO; an upsert stores the same columns (value, isbinary, fresh eTag, no expiry).
        const tuple = expiry ? "(?, ?, ?, 1, NULL)" : "(?, ?, ?, 1)";
        await conn.execute(
          `INSERT INTO ${this.table} (id, value, eTag, isbinary${expiry ? ", expiredate" : ""})
           VALUES ${Array(batch.length).fill(tuple).join(", ")}
           ON DUPLICATE KEY UPDATE value = VALUES(value), eTag = VALUES(eTag), isbinary = 1${expiry ? ", expiredate = NULL" : ""}`,
          params,
        );
      }
    });
  }

  async deleteMany(keys: readonly string[]): Promise<number> {
    const unique = [...new Set(keys)];
    if (unique.length === 0) return 0;
    return this.transaction(async (conn) => {
      let deleted = 0;
      for (let i = 0; i < unique.length; i += GET_CHUNK) {
        const chunk = padInList(unique.slice(i, i + GET_CHUNK));
        const [result] = await conn.execute<mysql.ResultSetHeader>(
          `DELETE FROM ${this.table} WHERE id IN (${placeholders(chunk.length)})`,
          chunk,
        );
        deleted += result.affectedRows;
      }
      return deleted;
    });
  }

  async deleteIfUnchanged(groups: readonly GuardedGroup[]): Promise<GuardedDeletion> {
    if (groups.length === 0) return { outcomes: [], keysDeleted: 0 };
    // InnoDB resolves a deadlock with a writer that took the same rows in another order by rolling one side back;
    // ours is simply tried again.
    return retryDeadlocks(() => this.deleteIfUnchangedOnce(groups), isDeadlock);
  }

  private deleteIfUnchangedOnce(groups: readonly GuardedGroup[]): Promise<GuardedDeletion> {
    // READ COMMITTED: the locking read takes record locks only, not the gap locks of REPEATABLE READ that make
    // batches of neighbouring keys block (and deadlock) each other.
    return this.transaction(async (conn) => {
      // FOR UPDATE reads the latest committed row and locks it (InnoDB locking read) until this transaction ends.
      const guards = guardKeys(groups);
      const current = new Map<string, Uint8Array>();
      for (let i = 0; i < guards.length; i += GET_CHUNK) {
        const chunk = padInList(guards.slice(i, i + GET_CHUNK));
        const [rows] = await conn.execute<mysql.RowDataPacket[]>(
          `SELECT id, isbinary, value FROM ${this.table}
            WHERE id IN (${placeholders(chunk.length)}) ${this.notExpired} ORDER BY id FOR UPDATE`,
          chunk,
        );
        const wanted = new Set(chunk);
        for (const row of rows as Array<{ id: string; isbinary: number | string; value: string }>) {
          if (wanted.has(row.id)) current.set(row.id, decodeOrRaw(row, this.location));
        }
      }
      const plan = planGuardedDeletion(groups, current);
      let keysDeleted = 0;
      for (let i = 0; i < plan.keys.length; i += GET_CHUNK) {
        const chunk = padInList(plan.keys.slice(i, i + GET_CHUNK));
        const [result] = await conn.execute<mysql.ResultSetHeader>(
          `DELETE FROM ${this.table} WHERE id IN (${placeholders(chunk.length)})`,
          chunk,
        );
        keysDeleted += result.affectedRows;
      }
      return { outcomes: plan.outcomes, keysDeleted };
    }, "READ COMMITTED");
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private checkKey(key: string): void {
    // Outside strict SQL mode MySQL silently truncates an over-long id, which would write to another key.
    if (key === "" || [...key].length > this.layout.idMaxLength) {
      throw new HousekeeperError(
        "bad-input",
        `state key must be 1–${this.layout.idMaxLength} characters for ${this.location}: ${JSON.stringify(key.slice(0, 80))}`,
      );
    }
  }

  private async run<R>(sql: string, params: string[]): Promise<R[]> {
    try {
      const [rows] = await this.pool.execute<mysql.RowDataPacket[]>(sql, params);
      return rows as R[];
    } catch (error) {
      throw new HousekeeperError("store-error", `MySQL query on ${this.location} failed: ${errorMessage(error)}`, {
        cause: error,
      });
    }
  }

  private async transaction<T>(
    work: (conn: mysql.PoolConnection) => Promise<T>,
    isolation?: "READ COMMITTED",
  ): Promise<T> {
    let conn: mysql.PoolConnection | undefined;
    try {
      conn = await this.pool.getConnection();
      // Applies to the next transaction only.
      if (isolation) await conn.query(`SET TRANSACTION ISOLATION LEVEL ${isolation}`);
      await conn.beginTransaction();
      const result = await work(conn);
      await conn.commit();
      return result;
    } catch (error) {
      await conn?.rollback().catch(() => {});
      if (error instanceof HousekeeperError) throw error;
      throw new HousekeeperError("store-error", `MySQL write on ${this.location} failed: ${errorMessage(error)}`, {
        cause: error,
      });
    } finally {
      conn?.release();
    }
  }
}

/** Undoes Dapr's encoding (state/mysql/mysql.go readRow): base64 inside a JSON string when isbinary, else JSON text. */
function decodeValue(row: { id: string; isbinary: number | string; value: string }, location: string): Uint8Array {
  const text = String(row.value);
  if (Number(row.isbinary) === 0) return Buffer.from(text, "utf8");
  let decoded: unknown;
  try {
    decoded = JSON.parse(text);
  } catch {
    decoded = undefined;
  }
  if (typeof decoded !== "string" || !isStandardBase64(decoded)) {
    throw new HousekeeperError(
      "corrupt-data",
      `row ${JSON.stringify(row.id)} in ${location} has isbinary = 1 but its value is not a JSON string of base64`,
    );
  }
  return Buffer.from(decoded, "base64");
}

/**
 * Dapr's usual row: isbinary = 1 and a JSON string of standard base64, which never needs a JSON escape, so the
 * quotes are stripped instead of parsing JSON. Anything else goes the general way (undefined here).
 */
function fastDecode(row: { isbinary: number | string; value: string }): Uint8Array | undefined {
  const text = row.value;
  if (Number(row.isbinary) !== 1 || typeof text !== "string" || text.length < 2) return undefined;
  if (text.charCodeAt(0) !== 0x22 || text.charCodeAt(text.length - 1) !== 0x22) return undefined;
  const inner = text.slice(1, -1);
  return isStandardBase64(inner) ? Buffer.from(inner, "base64") : undefined;
}

/** The row's bytes, or why it is not Dapr's encoding. */
function decodeOrReason(
  row: { id: string; isbinary: number | string; value: string },
  location: string,
): Uint8Array | string {
  try {
    return decodeValue(row, location);
  } catch {
    return "its value is not a JSON string of base64 (isbinary = 1)";
  }
}

interface ScannedRow {
  key: string;
  value?: Uint8Array;
  bad?: string;
}

/** Splits scanned rows into an EntryPage's entries and its unreadable rows, each with its place in the scan order. */
function inScanOrder(scanned: readonly ScannedRow[]): Pick<EntryPage, "entries" | "unreadable"> {
  const entries: Array<readonly [string, Uint8Array]> = [];
  const unreadable: NonNullable<EntryPage["unreadable"]> = [];
  for (const row of scanned) {
    if (row.value) entries.push([row.key, row.value]);
    else unreadable.push({ key: row.key, reason: row.bad ?? "no value", index: entries.length });
  }
  return unreadable.length > 0 ? { entries, unreadable } : { entries };
}

/** A row that no longer decodes has changed since it was read: its raw text never equals the decided bytes. */
function decodeOrRaw(row: { id: string; isbinary: number | string; value: string }, location: string): Uint8Array {
  try {
    return decodeValue(row, location);
  } catch {
    return Buffer.from(`\u0000${String(row.value)}`, "utf8");
  }
}

function isDeadlock(error: unknown): boolean {
  const cause = error instanceof HousekeeperError ? error.cause : error;
  return (cause as { errno?: unknown } | undefined)?.errno === 1213; // ER_LOCK_DEADLOCK
}

function placeholders(n: number): string {
  return Array(n).fill("?").join(", ");
}

/** Repeats the first key so the list length is one of IN_LIST_SIZES (duplicates in IN change nothing). */
function padInList(keys: string[]): string[] {
  const size = IN_LIST_SIZES.find((s) => s >= keys.length) ?? keys.length;
  const first = keys[0];
  if (first === undefined || size === keys.length) return keys;
  return [...keys, ...Array<string>(size - keys.length).fill(first)];
}

/** How many rows from `start` go in the next INSERT: a power of two ≤ WRITE_ROWS within WRITE_BYTES (at least 1). */
function writeBatchSize(rows: ReadonlyArray<readonly [string, string]>, start: number): number {
  let count = 0;
  let bytes = 0;
  while (start + count < rows.length && count < WRITE_ROWS) {
    const row = rows[start + count]!;
    const size = row[0].length * 4 + row[1].length + 64;
    if (count > 0 && bytes + size > WRITE_BYTES) break;
    bytes += size;
    count++;
  }
  return 2 ** Math.floor(Math.log2(count));
}
