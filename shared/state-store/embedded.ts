/**
 * The embedded default store: a PGlite (WASM PostgreSQL) database persisted under `./.housekeeper/pgdata`, holding
 * Dapr's v1 `state` table seeded with a sample app, so a newcomer can try every command without a Dapr setup.
 *
 * PGlite is served over the PostgreSQL wire protocol on 127.0.0.1 (pglite-socket) and read through the ordinary
 * `pg`-based PostgreSQL adapter — the embedded store runs exactly the code a real store does, no second code path.
 * PGlite is single-process, so a lock file next to the data directory keeps a second housekeeper out.
 */
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import pg from "pg";
import { errorMessage, HousekeeperError } from "../errors.ts";
import { SAMPLE_APP, sampleInstanceSpecs } from "../testdata/sample-data.ts";
import { writeInstances } from "../testdata/writer.ts";
import type {
  EntryPage,
  GuardedDeletion,
  GuardedGroup,
  KeyPage,
  ScanEntriesRequest,
  ScanKeysRequest,
  StateBackend,
} from "./backend.ts";
import { createPostgresDaprTable, openPostgresBackend } from "./postgresql.ts";

export const DEFAULT_EMBEDDED_DIR = ".housekeeper/pgdata";
/** Dapr's state.postgresql v1 default table name. */
export const EMBEDDED_TABLE = "state";

export interface EmbeddedBackendOptions {
  /** The PGlite data directory (default `./.housekeeper/pgdata`, relative to the working directory). */
  dir?: string;
  /** Seed the sample app when the table is first created (default true). */
  seed?: boolean;
  /**
   * Called once before a new store is created (PGlite's initdb takes a few seconds), so a CLI can tell the user why
   * the first command pauses.
   */
  onCreate?: (message: string) => void;
}

export async function openEmbeddedBackend(options: EmbeddedBackendOptions = {}): Promise<StateBackend> {
  const dir = resolve(options.dir ?? DEFAULT_EMBEDDED_DIR);
  mkdirSync(dirname(dir), { recursive: true });
  if (options.dir === undefined) ignoreInGit(dirname(dir));
  const lock = acquireLock(dir);
  const cleanup: Array<() => Promise<void>> = [async () => lock.release()];
  const closeAll = async () => {
    for (const step of cleanup.splice(0).reverse()) await step().catch(() => {});
  };
  try {
    if (!existsSync(join(dir, "PG_VERSION"))) {
      options.onCreate?.(`creating the embedded sample store in ${dir} (first use; this takes a few seconds)`);
    }
    const db = await openPglite(dir);
    cleanup.push(() => db.close());
    // The server accepts 2 connections although the pool uses 1: the setup client's socket may still be closing on
    // the server side when the pool connects (pglite-socket answers a surplus connection with plain text, which `pg`
    // cannot parse). Queries from all connections are serialised onto PGlite by the server's queue anyway.
    const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0, maxConnections: 2 });
    await server.start();
    cleanup.push(() => server.stop());
    const port = Number(server.getServerConn().split(":").at(-1));
    const connection: pg.ClientConfig = { host: "127.0.0.1", port, user: "postgres", database: "postgres" };

    const created = await ensureTable(connection);
    const inner = await openPostgresBackend({ ...connection, tableName: EMBEDDED_TABLE, maxConnections: 1 });
    cleanup.push(() => inner.close());
    if (created && (options.seed ?? true)) {
      await writeInstances(inner, SAMPLE_APP, sampleInstanceSpecs(new Date()), { batchSize: 10_000 });
    }
    const location = `embedded sample store (PGlite) in ${dir}, table ${EMBEDDED_TABLE} (layout v1)`;
    return new EmbeddedStateBackend(inner, location, closeAll);
  } catch (error) {
    await closeAll();
    if (error instanceof HousekeeperError) throw error;
    throw new HousekeeperError("store-error", `cannot open the embedded store in ${dir}: ${errorMessage(error)}`, {
      cause: error,
    });
  }
}

/** The PostgreSQL adapter with the embedded store's own description and a close() that shuts everything down. */
class EmbeddedStateBackend implements StateBackend {
  readonly kind = "postgresql" as const;
  private closing: Promise<void> | undefined;
  readonly scanEntries?: (request: ScanEntriesRequest) => Promise<EntryPage>;

  constructor(
    private readonly inner: StateBackend,
    readonly location: string,
    private readonly closeAll: () => Promise<void>,
  ) {
    this.scanEntries = inner.scanEntries?.bind(inner);
  }

  scanKeys(request: ScanKeysRequest): Promise<KeyPage> {
    return this.inner.scanKeys(request);
  }

  getMany(keys: readonly string[]): Promise<Map<string, Uint8Array>> {
    return this.inner.getMany(keys);
  }

  setMany(entries: ReadonlyArray<readonly [string, Uint8Array]>): Promise<void> {
    return this.inner.setMany(entries);
  }

  deleteMany(keys: readonly string[]): Promise<number> {
    return this.inner.deleteMany(keys);
  }

  deleteIfUnchanged(groups: readonly GuardedGroup[]): Promise<GuardedDeletion> {
    return this.inner.deleteIfUnchanged(groups);
  }

  close(): Promise<void> {
    this.closing ??= this.closeAll();
    return this.closing;
  }
}

async function openPglite(dir: string): Promise<PGlite> {
  try {
    return await PGlite.create(dir);
  } catch (error) {
    throw new HousekeeperError(
      "store-error",
      `cannot open the embedded PGlite database in ${dir} (if it holds nothing you need, delete it to start ` +
        `afresh): ${errorMessage(error)}`,
      { cause: error },
    );
  }
}

/** Creates Dapr's v1 table if it is missing; returns whether it did (then the store is new and wants its sample). */
async function ensureTable(connection: pg.ClientConfig): Promise<boolean> {
  const client = new pg.Client(connection);
  // The in-process server going away must fail the statement, not crash the process with an unhandled 'error'.
  client.on("error", () => {});
  await client.connect();
  try {
    const found = await client.query<{ exists: boolean }>("SELECT to_regclass($1) IS NOT NULL AS exists", [
      EMBEDDED_TABLE,
    ]);
    if (found.rows[0]?.exists) return false;
    await createPostgresDaprTable(client, EMBEDDED_TABLE, "v1");
    return true;
  } finally {
    await client.end();
  }
}

/** Keeps the default `.housekeeper/` (tens of MB of database files) out of the user's git repository. */
function ignoreInGit(folder: string): void {
  try {
    writeFileSync(join(folder, ".gitignore"), "# created by dapr-housekeeper: the embedded sample store\n*\n", {
      flag: "wx",
    });
  } catch {
    // Already there (or not writable): nothing to do.
  }
}

interface Lock {
  release(): void;
}

/** Lock files this process holds: a lock naming our own PID that is not in here is a leftover (e.g. PID 1 again). */
const heldLocks = new Set<string>();

/**
 * Takes `<dir>.lock` by exclusive create, holding this process's PID. A lock whose process is gone is stale and
 * taken over; a live one is refused with the PID, so the user knows what to stop.
 */
function acquireLock(dir: string): Lock {
  const path = `${dir}.lock`;
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, "wx");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") {
        throw new HousekeeperError("store-error", `cannot lock the embedded store (${path}): ${errorMessage(error)}`, {
          cause: error,
        });
      }
      const holder = heldLocks.has(path) ? process.pid : readLockHolder(path);
      if (holder !== undefined) {
        throw new HousekeeperError(
          "unavailable",
          `the embedded store in ${dir} is in use by process ${holder} ` +
            `(if that is not a housekeeper, delete ${path} and try again)`,
        );
      }
      try {
        unlinkSync(path); // stale: its process is gone
      } catch {
        // Another process removed it first; try again.
      }
      continue;
    }
    try {
      writeSync(fd, String(process.pid));
    } finally {
      closeSync(fd);
    }
    heldLocks.add(path);
    let released = false;
    return {
      release() {
        if (released) return;
        released = true;
        heldLocks.delete(path);
        try {
          if (readFileSync(path, "utf8").trim() === String(process.pid)) unlinkSync(path);
        } catch {
          // Already gone.
        }
      },
    };
  }
  throw new HousekeeperError("unavailable", `the embedded store in ${dir} is in use (cannot take ${path})`);
}

/** The PID holding the lock if that process is alive; undefined when the lock is stale. */
function readLockHolder(path: string): number | string | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8").trim();
  } catch {
    return undefined; // removed meanwhile
  }
  const pid = Number(text);
  if (!Number.isInteger(pid) || pid <= 0) {
    // Empty or garbled: a process may be between creating and writing it; old ones are leftovers.
    const ageMs = (() => {
      try {
        return Date.now() - statSync(path).mtimeMs;
      } catch {
        return Number.POSITIVE_INFINITY;
      }
    })();
    return ageMs < 10_000 ? "unknown" : undefined;
  }
  if (pid === process.pid) return undefined; // not held by us (see heldLocks): left by an earlier process
  try {
    process.kill(pid, 0);
    return pid;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM" ? pid : undefined;
  }
}
