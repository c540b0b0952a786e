/**
 * SQLite adapter for Dapr's `state.sqlite` component (components-contrib state/sqlite). Its table, as the component's
 * migration creates it (state/sqlite/sqlite_migrations.go):
 *   key TEXT PRIMARY KEY, value TEXT, is_binary BOOLEAN, etag TEXT, expiration_time TIMESTAMP, update_time TIMESTAMP
 * A byte value (all workflow state) is standard base64 text with is_binary = 1; anything else is its JSON text
 * (sqlite_dbaccess.go, doSet/readRow). A row whose expiration_time is not after CURRENT_TIMESTAMP is absent to Dapr,
 * which compares the two as text ('YYYY-MM-DD HH:MM:SS', UTC); so do we.
 *
 * The driver is SQLite compiled to WebAssembly (node-sqlite3-wasm): nothing to build or download, any Node. Its file
 * locks are `<file>.lock` directories, which a native SQLite (Dapr's) does not see, and it has no shared memory for
 * WAL; so the database is opened with locking_mode=EXCLUSIVE (WAL then works without shared memory, and a second
 * housekeeper is kept out), and a file that another SQLite process has open (its `-wal`/`-shm` files exist) is
 * refused rather than risk both writing it.
 */
import { randomUUID } from "node:crypto";
import { closeSync, existsSync, openSync, readSync, statSync } from "node:fs";
import type { BindValues } from "node-sqlite3-wasm";
import sqlite from "node-sqlite3-wasm";
import { errorMessage, HousekeeperError } from "../errors.ts";
import type {
  EntryPage,
  GuardedDeletion,
  GuardedGroup,
  KeyPage,
  ScanEntriesRequest,
  ScanKeysRequest,
  StateBackend,
} from "./backend.ts";
import { guardKeys, isStandardBase64, planGuardedDeletion, prefixUpperBound } from "./backend.ts";

type Database = InstanceType<typeof sqlite.Database>;
type Row = Record<string, unknown>;

export interface SqliteBackendOptions {
  /** The database file (absolute or relative to the working directory). */
  path: string;
  /** Dapr's `tableName` (default `state`). */
  tableName?: string | undefined;
  readOnly?: boolean | undefined;
  /** Replaces the default description (the embedded store names itself). */
  location?: string | undefined;
  /**
   * A file being built that is thrown away unless complete (the embedded store's seeding): no journal, no fsync.
   * Never for a real store.
   */
  scratch?: boolean | undefined;
}

/** Dapr's condition for a live row, verbatim (sqlite_dbaccess.go). */
const NOT_EXPIRED = "(expiration_time IS NULL OR expiration_time > CURRENT_TIMESTAMP)";
const SQLITE_HEADER = "SQLite format 3\0";

export async function openSqliteBackend(options: SqliteBackendOptions): Promise<SqliteStateBackend> {
  const tableName = options.tableName ?? "state";
  if (!/^[A-Za-z0-9_]+$/.test(tableName)) {
    throw new HousekeeperError("bad-input", `invalid table name "${tableName}": use letters, digits and _ only`);
  }
  const { path } = options;
  checkFile(path);
  let db: Database;
  try {
    db = new sqlite.Database(path, { fileMustExist: true, readOnly: options.readOnly ?? false });
  } catch (error) {
    throw new HousekeeperError("store-error", `cannot open the SQLite database ${path}: ${errorMessage(error)}`, {
      cause: error,
    });
  }
  try {
    db.exec("PRAGMA locking_mode = EXCLUSIVE");
    if (options.scratch) db.exec("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF");
    // The first read takes the lock (held until close): a busy database fails here, not halfway through a command.
    const table = run(path, () => db.get("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", tableName));
    if (!table) {
      throw new HousekeeperError(
        "not-found",
        `${path} has no table "${tableName}": not a Dapr SQLite state store (or pass --table-name with the component's tableName)`,
      );
    }
    const columns = new Set(
      run(path, () => db.all(`PRAGMA table_info(${tableName})`)).map((c) => String((c as Row).name)),
    );
    const missing = ["key", "value", "is_binary", "etag", "expiration_time"].filter((c) => !columns.has(c));
    if (missing.length > 0) {
      throw new HousekeeperError(
        "bad-input",
        `table "${tableName}" in ${path} is not a Dapr SQLite state table (no column ${missing.join(", ")})`,
      );
    }
    const location = options.location ?? `sqlite ${path} table ${tableName}${options.readOnly ? " (read-only)" : ""}`;
    return new SqliteStateBackend(db, tableName, location);
  } catch (error) {
    db.close();
    throw error;
  }
}

/** Refuses, with a line saying what to do, a file that is missing, not SQLite, or open in another SQLite process. */
function checkFile(path: string): void {
  if (!existsSync(path)) {
    throw new HousekeeperError(
      "not-found",
      `SQLite database ${path} does not exist (check the path; it is never created)`,
    );
  }
  if (!statSync(path).isFile()) throw new HousekeeperError("bad-input", `${path} is not a file`);
  const header = Buffer.alloc(16);
  const fd = openSync(path, "r");
  try {
    readSync(fd, header, 0, 16, 0);
  } finally {
    closeSync(fd);
  }
  if (header.toString("latin1") !== SQLITE_HEADER) {
    throw new HousekeeperError("bad-input", `${path} is not an SQLite database`);
  }
  for (const suffix of ["-wal", "-shm"]) {
    if (existsSync(path + suffix)) {
      throw new HousekeeperError(
        "unavailable",
        `${path} is open in another process (${path}${suffix} exists): stop the Dapr sidecars using it first; ` +
          "if none runs, it was not closed cleanly: open it once with sqlite3 (e.g. sqlite3 FILE 'PRAGMA wal_checkpoint(TRUNCATE)')",
      );
    }
  }
  if (existsSync(`${path}.lock`)) {
    throw new HousekeeperError(
      "unavailable",
      `${path} is in use by another housekeeper (${path}.lock exists); if none runs, one was killed: remove that directory`,
    );
  }
}

/** Runs a statement, turning driver errors into one line that names the database. */
function run<T>(location: string, work: () => T): T {
  try {
    return work();
  } catch (error) {
    if (error instanceof HousekeeperError) throw error;
    const message = errorMessage(error);
    const busy = /locked|busy/i.test(message);
    throw new HousekeeperError(
      busy ? "unavailable" : "store-error",
      `SQLite on ${location} failed: ${message}${busy ? " (another process holds the database)" : ""}`,
      { cause: error },
    );
  }
}

export class SqliteStateBackend implements StateBackend {
  readonly kind = "sqlite" as const;
  private closed = false;

  constructor(
    private readonly db: Database,
    private readonly table: string,
    readonly location: string,
  ) {}

  async scanKeys({ prefix, suffix, pageSize, cursor }: ScanKeysRequest): Promise<KeyPage> {
    await turn();
    // A key range, not LIKE: SQLite's LIKE folds ASCII case, and the BINARY-collated primary key orders by bytes.
    const where: string[] = [NOT_EXPIRED];
    const params: unknown[] = [];
    if (prefix !== "") {
      where.push("key >= ? AND key < ?");
      params.push(prefix, prefixUpperBound(prefix));
    }
    if (suffix !== "") {
      // Long enough to hold both, so prefix and suffix never share characters (as LIKE 'p%s').
      where.push("length(key) >= ? AND substr(key, -?) = ?");
      params.push([...prefix].length + [...suffix].length, [...suffix].length, suffix);
    }
    if (cursor !== undefined) {
      where.push("key > ?");
      params.push(cursor);
    }
    params.push(pageSize);
    const rows = this.all(`SELECT key FROM ${this.table} WHERE ${where.join(" AND ")} ORDER BY key LIMIT ?`, params);
    const keys = rows.map((r) => String(r.key));
    return { keys, cursor: keys.length < pageSize ? undefined : keys.at(-1) };
  }

  async scanEntries({ prefix, pageSize, after }: ScanEntriesRequest): Promise<EntryPage> {
    await turn();
    const start = after === undefined ? ">=" : ">";
    const rows = this.all(
      `SELECT key, value, is_binary FROM ${this.table}
        WHERE key ${start} ? AND key < ? AND ${NOT_EXPIRED} ORDER BY key LIMIT ?`,
      [after ?? prefix, prefixUpperBound(prefix), pageSize],
    );
    const entries: Array<readonly [string, Uint8Array]> = [];
    const unreadable: Array<{ key: string; reason: string }> = [];
    for (const row of rows) {
      const value = decodeRow(row);
      if (value) entries.push([String(row.key), value]);
      else unreadable.push({ key: String(row.key), reason: "its is_binary value is not standard base64" });
    }
    const page: EntryPage = { entries, done: rows.length < pageSize, lastKey: rows.at(-1)?.key as string | undefined };
    if (unreadable.length > 0) page.unreadable = unreadable;
    return page;
  }

  async getMany(keys: readonly string[]): Promise<Map<string, Uint8Array>> {
    await turn();
    return this.read(keys);
  }

  /** One statement for any number of keys: the list goes in as a JSON array (no bound-variable limit). */
  private read(keys: readonly string[]): Map<string, Uint8Array> {
    const values = new Map<string, Uint8Array>();
    if (keys.length === 0) return values;
    const rows = this.all(
      `SELECT key, value, is_binary FROM ${this.table}
        WHERE key IN (SELECT value FROM json_each(?)) AND ${NOT_EXPIRED}`,
      [JSON.stringify([...new Set(keys)])],
    );
    for (const row of rows) {
      // A binary row that is not base64 holds no bytes: absent, so only its instance is reported unreadable.
      const value = decodeRow(row);
      if (value) values.set(String(row.key), value);
    }
    return values;
  }

  async setMany(entries: ReadonlyArray<readonly [string, Uint8Array]>): Promise<void> {
    await turn();
    // Dapr's own statement for a write without etag (sqlite_dbaccess.go doSet): a fresh UUID etag, no expiry.
    this.transaction(() => {
      const statement = this.db.prepare(
        `INSERT OR REPLACE INTO ${this.table} (key, value, is_binary, etag, update_time, expiration_time)
         VALUES (?, ?, 1, ?, CURRENT_TIMESTAMP, NULL)`,
      );
      try {
        for (const [key, value] of entries) {
          statement.run([key, Buffer.from(value).toString("base64"), randomUUID()]);
        }
      } finally {
        statement.finalize();
      }
    });
  }

  async deleteMany(keys: readonly string[]): Promise<number> {
    await turn();
    return this.transaction(() => this.deleteKeys(keys));
  }

  async deleteIfUnchanged(groups: readonly GuardedGroup[]): Promise<GuardedDeletion> {
    await turn();
    if (groups.length === 0) return { outcomes: [], keysDeleted: 0 };
    // BEGIN IMMEDIATE takes the write lock before reading, and the calls are synchronous, so nothing (in this
    // process or another) can change a guard between the read and the delete.
    return this.transaction(() => {
      const plan = planGuardedDeletion(groups, this.read(guardKeys(groups)));
      return { outcomes: plan.outcomes, keysDeleted: this.deleteKeys(plan.keys) };
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  private deleteKeys(keys: readonly string[]): number {
    if (keys.length === 0) return 0;
    return run(
      this.location,
      () =>
        this.db.run(`DELETE FROM ${this.table} WHERE key IN (SELECT value FROM json_each(?))`, [
          JSON.stringify([...new Set(keys)]),
        ]).changes,
    );
  }

  private all(sql: string, params: unknown[]): Row[] {
    return run(this.location, () => this.db.all(sql, params as BindValues) as Row[]);
  }

  private transaction<T>(work: () => T): T {
    return run(this.location, () => {
      this.db.exec("BEGIN IMMEDIATE");
      try {
        const result = work();
        this.db.exec("COMMIT");
        return result;
      } catch (error) {
        if (this.db.inTransaction) this.db.exec("ROLLBACK");
        throw error;
      }
    });
  }
}

/**
 * The driver is synchronous: each call first lets the event loop turn, so timers, signals, progress lines and other
 * work in the process run between statements instead of waiting for a whole purge.
 */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The row's bytes as Dapr reads them (readRow): base64 when is_binary, else the stored text itself. */
function decodeRow(row: Row): Uint8Array | undefined {
  const raw = row.value;
  const text = raw instanceof Uint8Array ? Buffer.from(raw).toString("latin1") : raw === null ? undefined : String(raw);
  if (text === undefined) return undefined;
  if (Number(row.is_binary) !== 0) return isStandardBase64(text) ? Buffer.from(text, "base64") : undefined;
  return raw instanceof Uint8Array ? Buffer.from(raw) : Buffer.from(text, "utf8");
}

/** Creates Dapr's two tables exactly as its migration does (state/sqlite/sqlite_migrations.go, migration 1). */
export function createSqliteDaprTables(db: Database, tableName = "state", metadataTableName = "metadata"): void {
  db.exec(`CREATE TABLE IF NOT EXISTS ${metadataTableName} (
      key text NOT NULL PRIMARY KEY,
      value text NOT NULL
    );
    CREATE TABLE IF NOT EXISTS ${tableName} (
      key TEXT NOT NULL PRIMARY KEY,
      value TEXT NOT NULL,
      is_binary BOOLEAN NOT NULL,
      etag TEXT NOT NULL,
      expiration_time TIMESTAMP DEFAULT NULL,
      update_time TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
    );
    REPLACE INTO ${metadataTableName} (key, value) VALUES ('migrations', '1');`);
}

/** Creates a new, empty Dapr SQLite state store file (tests, the embedded store). */
export function createSqliteDaprDatabase(path: string, tableName = "state"): void {
  const db = new sqlite.Database(path);
  try {
    createSqliteDaprTables(db, tableName);
  } finally {
    db.close();
  }
}
