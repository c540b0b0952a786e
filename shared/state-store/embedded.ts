/**
 * The embedded default store: a SQLite database in Dapr's own `state.sqlite` layout, kept in
 * `./.housekeeper/sample.db` and seeded with a sample app, so a newcomer can try every command without a Dapr setup.
 * It is read through the ordinary SQLite adapter (sqlite.ts) — exactly the code a user's Dapr SQLite store runs.
 *
 * A new store is built in a temporary file and renamed into place once seeded, so an interrupted first run never
 * leaves a half-seeded store behind. A PID lock file (`sample.db.owner`) keeps a second housekeeper out and, unlike
 * the driver's own lock directory, can tell a live holder from one that was killed.
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import { errorMessage, HousekeeperError } from "../errors.ts";
import { SAMPLE_APP, sampleInstanceSpecs } from "../sample-data/orderprocessing.ts";
import { writeInstances } from "../sample-data/writer.ts";
import type { StateBackend } from "./backend.ts";
import { createSqliteDaprDatabase, openSqliteBackend } from "./sqlite.ts";

export const DEFAULT_EMBEDDED_FILE = ".housekeeper/sample.db";
/** Dapr's state.sqlite default table name. */
export const EMBEDDED_TABLE = "state";

export interface EmbeddedBackendOptions {
  /** The database file (default `./.housekeeper/sample.db`, relative to the working directory). */
  path?: string;
  /** Seed the sample app when the store is created (default true). */
  seed?: boolean;
  /** Called once before a new store is created, so a CLI can say why the first command takes longer. */
  onCreate?: (message: string) => void;
}

export async function openEmbeddedBackend(options: EmbeddedBackendOptions = {}): Promise<StateBackend> {
  const path = resolve(options.path ?? DEFAULT_EMBEDDED_FILE);
  mkdirSync(dirname(path), { recursive: true });
  if (options.path === undefined) ignoreInGit(dirname(path));
  const lock = acquireLock(path);
  try {
    // We hold the owner lock, so a driver lock directory left next to the file is from a killed process.
    rmSync(`${path}.lock`, { recursive: true, force: true });
    if (!existsSync(path)) {
      options.onCreate?.(`creating the embedded sample store in ${path} (first use)`);
      await createStore(path, options.seed ?? true);
    }
    const backend = await openSqliteBackend({
      path,
      tableName: EMBEDDED_TABLE,
      location: `embedded sample store (SQLite) in ${path}, table ${EMBEDDED_TABLE}`,
    });
    const close = backend.close.bind(backend);
    backend.close = async () => {
      try {
        await close();
      } finally {
        lock.release();
      }
    };
    return backend;
  } catch (error) {
    lock.release();
    if (error instanceof HousekeeperError) throw error;
    throw new HousekeeperError("store-error", `cannot open the embedded store in ${path}: ${errorMessage(error)}`, {
      cause: error,
    });
  }
}

/** Builds the store in a temporary file and renames it into place when complete. */
async function createStore(path: string, seed: boolean): Promise<void> {
  const building = `${path}.new-${process.pid}`;
  const remove = () => {
    for (const leftover of [building, `${building}-journal`, `${building}.lock`]) {
      rmSync(leftover, { recursive: true, force: true });
    }
  };
  remove();
  try {
    createSqliteDaprDatabase(building, EMBEDDED_TABLE);
    if (seed) {
      const backend = await openSqliteBackend({ path: building, tableName: EMBEDDED_TABLE, scratch: true });
      try {
        await writeInstances(backend, SAMPLE_APP, sampleInstanceSpecs(new Date()), { batchSize: 10_000 });
      } finally {
        await backend.close();
      }
    }
    // Built without fsyncs: one now, so the file renamed into place is complete on disk.
    const fd = openSync(building, "r+");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(building, path);
  } finally {
    remove();
  }
}

/** Keeps the default `.housekeeper/` out of the user's git repository. */
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
 * Takes `<file>.owner` by exclusive create, holding this process's PID. A lock whose process is gone is stale and
 * taken over; a live one is refused with the PID, so the user knows what to stop.
 */
function acquireLock(file: string): Lock {
  const path = `${file}.owner`;
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
          `the embedded store in ${file} is in use by process ${holder} ` +
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
  throw new HousekeeperError("unavailable", `the embedded store in ${file} is in use (cannot take ${path})`);
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
