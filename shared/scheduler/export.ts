/**
 * `dapr scheduler export` / `import`, file-compatible with the Dapr CLI (format: shared/scheduler/gob-wire.ts), over a
 * SchedulerStore, in bounded memory.
 *
 * Export reads every job and counter under a key selection at ONE etcd revision (a consistent snapshot) in pages. The
 * gob value is one length-prefixed message with each map's count before its entries, so sizes must be known before
 * the first byte is written. Two ways to learn them:
 *  - spooling (`exportToFile`, and `exportToSink` with `spoolDir`): one pass writing the encoded entries to a spool
 *    file, then the file is assembled as prelude + spooled jobs + counters header + spooled counters + trailer. etcd
 *    is read once; the disk holds about twice the export meanwhile.
 *  - `exportToSink` without `spoolDir` (any byte sink, e.g. an S3 multipart upload): two passes over the snapshot —
 *    the first only sums key and value sizes, the second writes. Nothing touches the disk; etcd is read twice, which
 *    costs more than twice the time on large stores (etcd's limited Range requests are not cheap).
 * Both hash what they write (sha256) and report the revision and counts.
 *
 * Import decodes and validates the whole file (gob structure, key roots, every value decodes as its protobuf type, no
 * key twice) before it writes anything, then puts the entries in file order — as `dapr scheduler import` does (dapr/cli
 * pkg/scheduler/exportimport.go `Import`: every job, then every counter, no pairing) — in transactions of at most 128
 * operations. Files from `dapr scheduler export` list their keys in Go's random map order; that costs a duplicate
 * check by external sort (shared/scheduler/export-sort.ts), never the whole file in memory.
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, constants as fsConstants } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { mkdtemp, open, rm, unlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { HousekeeperError } from "../errors.ts";
import { AtomicFile, refuseExisting } from "../util/atomic-file.ts";
import { removeOnExit } from "../util/remove-on-exit.ts";
import type { ExportSortOptions } from "./export-sort.ts";
import { checkNoDuplicateKeys } from "./export-sort.ts";
import { readExportEntries } from "./gob-decode.ts";
import {
  countersHeader,
  EXPORT_TRAILER,
  encodeEntry,
  encodeEntryInto,
  entrySize,
  exportPrelude,
} from "./gob-encode.ts";
import type { ExportEntry, ExportFileSummary, Section, SectionSize } from "./gob-wire.ts";
import type { KeySelection } from "./keys.ts";
import { ALL_KEYS, COUNTERS_PREFIX, JOBS_PREFIX, normalizePrefixes } from "./keys.ts";
import { decodeStoredCounter, decodeStoredJob } from "./schema.ts";
import type { SchedulerSnapshot, SchedulerStore, StoredEntry } from "./store.ts";
import { DEFAULT_MAX_TXN_BYTES, MAX_TXN_OPS, writeBatches } from "./store.ts";

export interface ExportOptions {
  /** Which keys (default: everything under `dapr/jobs/` and `dapr/counters/`, as the Dapr CLI exports). */
  selection?: KeySelection;
  /** Read at this snapshot (default: a new one). */
  snapshot?: SchedulerSnapshot;
  pageSize?: number;
  /** Sees every exported entry once, in file order (e.g. to count by kind and app for a manifest). */
  onEntry?: (section: Section, key: string, value: Uint8Array) => void;
  /**
   * exportToSink only: read etcd once, spooling the encoded entries to a temp file in this directory (removed
   * afterwards; needs about the export's size), instead of reading the snapshot twice. Faster for large exports.
   */
  spoolDir?: string;
}

export interface ExportSummary {
  /** The etcd revision the export was read at. */
  revision: string;
  jobs: number;
  counters: number;
  /** File size in bytes. */
  bytes: number;
  /** Hex sha256 of the file. */
  sha256: string;
}

const utf8 = new TextEncoder();
const FLUSH_BYTES = 1 << 20;

/** Entries of one section at the snapshot, page by page. */
async function* sectionPages(
  snapshot: SchedulerSnapshot,
  prefixes: readonly string[],
  pageSize: number | undefined,
): AsyncGenerator<StoredEntry[]> {
  for (const prefix of normalizePrefixes(prefixes)) {
    yield* snapshot.scan(prefix, pageSize === undefined ? {} : { pageSize });
  }
}

function checkSelection(selection: KeySelection): void {
  for (const p of selection.jobs) {
    if (!p.startsWith(JOBS_PREFIX))
      throw new HousekeeperError("bad-input", `job prefix "${p}" is not under ${JOBS_PREFIX}`);
  }
  for (const p of selection.counters) {
    if (!p.startsWith(COUNTERS_PREFIX)) {
      throw new HousekeeperError("bad-input", `counter prefix "${p}" is not under ${COUNTERS_PREFIX}`);
    }
  }
}

/** Encodes into ~1 MiB chunks handed to `flushTo` (each chunk a fresh buffer, so the sink may keep it). */
class ChunkWriter {
  private buf = Buffer.allocUnsafe(FLUSH_BYTES);
  private len = 0;

  constructor(private readonly flushTo: (chunk: Uint8Array) => Promise<void>) {}

  async write(bytes: Uint8Array): Promise<void> {
    if (this.len + bytes.length > this.buf.length) await this.flush();
    if (bytes.length >= this.buf.length) return this.flushTo(bytes);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
  }

  /** Encodes one map entry; returns its encoded size. */
  async entry(key: Uint8Array, value: Uint8Array): Promise<number> {
    const size = entrySize(key.length, value.length);
    if (this.len + size > this.buf.length) await this.flush();
    if (size >= this.buf.length) await this.flushTo(encodeEntry(key, value));
    else this.len = encodeEntryInto(this.buf, this.len, key, value);
    return size;
  }

  async flush(): Promise<void> {
    if (this.len === 0) return;
    const chunk = this.buf.subarray(0, this.len);
    this.buf = Buffer.allocUnsafe(FLUSH_BYTES);
    this.len = 0;
    await this.flushTo(chunk);
  }
}

const keyBytesOf = (entry: StoredEntry): Uint8Array => entry.keyBytes ?? utf8.encode(entry.key);

/**
 * Streams an export file into `sink` (awaited per ~1 MiB chunk, so back-pressure holds), reading the snapshot twice:
 * sizes first, then entries. If the two passes disagree (impossible at one revision unless the store misbehaves) it
 * throws after part of the file was written; callers must then discard what they received.
 */
export async function exportToSink(
  store: SchedulerStore,
  sink: (chunk: Uint8Array) => Promise<void> | void,
  options: ExportOptions = {},
): Promise<ExportSummary> {
  const selection = options.selection ?? ALL_KEYS;
  checkSelection(selection);
  if (options.spoolDir !== undefined) {
    const spoolPath = join(
      options.spoolDir,
      `.housekeeper-export-${process.pid}-${randomBytes(6).toString("hex")}.spool`,
    );
    return withSpool(store, spoolPath, options, (spooled) => assemble(spooled, sink));
  }
  const snapshot = options.snapshot ?? (await store.snapshot());
  const sizes: Record<Section, SectionSize> = { jobs: { count: 0, bytes: 0 }, counters: { count: 0, bytes: 0 } };
  for (const section of ["jobs", "counters"] as const) {
    for await (const page of sectionPages(snapshot, selection[section], options.pageSize)) {
      for (const entry of page) {
        sizes[section].count++;
        sizes[section].bytes += entrySize(entry.keyBytes?.length ?? Buffer.byteLength(entry.key), entry.value.length);
      }
    }
  }
  const hash = createHash("sha256");
  let bytes = 0;
  const out = new ChunkWriter(async (chunk) => {
    hash.update(chunk);
    bytes += chunk.length;
    await sink(chunk);
  });
  await out.write(exportPrelude(sizes.jobs, sizes.counters));
  for (const section of ["jobs", "counters"] as const) {
    if (section === "counters") await out.write(countersHeader(sizes.counters));
    const seen: SectionSize = { count: 0, bytes: 0 };
    for await (const page of sectionPages(snapshot, selection[section], options.pageSize)) {
      for (const entry of page) {
        seen.count++;
        seen.bytes += await out.entry(keyBytesOf(entry), entry.value);
        options.onEntry?.(section, entry.key, entry.value);
      }
    }
    if (seen.count !== sizes[section].count || seen.bytes !== sizes[section].bytes) {
      throw new HousekeeperError(
        "store-error",
        `the ${section} under the snapshot at revision ${snapshot.revision} changed between the two export passes`,
      );
    }
  }
  await out.write(EXPORT_TRAILER);
  await out.flush();
  return {
    revision: snapshot.revision,
    jobs: sizes.jobs.count,
    counters: sizes.counters.count,
    bytes,
    sha256: hash.digest("hex"),
  };
}

async function writeAll(handle: FileHandle, chunk: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < chunk.length) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset);
    offset += bytesWritten;
  }
}

async function removeQuietly(path: string): Promise<void> {
  await unlink(path).catch(() => {
    // already gone, or never created
  });
}

interface Spooled {
  revision: string;
  sizes: Record<Section, SectionSize>;
  spool: FileHandle;
}

/**
 * One pass over the snapshot, writing the encoded entries (jobs, then counters) to a spool file; then `use` assembles
 * the export from it. The spool file is removed whatever happens.
 */
async function withSpool<T>(
  store: SchedulerStore,
  spoolPath: string,
  options: ExportOptions,
  use: (spooled: Spooled) => Promise<T>,
): Promise<T> {
  const selection = options.selection ?? ALL_KEYS;
  const forgetSpool = removeOnExit(spoolPath);
  let spool: FileHandle | undefined;
  try {
    spool = await open(spoolPath, EXCLUSIVE | fsConstants.O_RDWR, 0o600).catch((error: NodeJS.ErrnoException) => {
      throw new HousekeeperError("bad-input", `cannot write in ${dirname(spoolPath)}: ${error.code ?? error.message}`, {
        cause: error,
      });
    });
    const snapshot = options.snapshot ?? (await store.snapshot());
    const sizes: Record<Section, SectionSize> = { jobs: { count: 0, bytes: 0 }, counters: { count: 0, bytes: 0 } };
    const handle = spool;
    const out = new ChunkWriter((chunk) => writeAll(handle, chunk));
    for (const section of ["jobs", "counters"] as const) {
      for await (const page of sectionPages(snapshot, selection[section], options.pageSize)) {
        for (const entry of page) {
          sizes[section].count++;
          sizes[section].bytes += await out.entry(keyBytesOf(entry), entry.value);
          options.onEntry?.(section, entry.key, entry.value);
        }
      }
    }
    await out.flush();
    return await use({ revision: snapshot.revision, sizes, spool });
  } finally {
    await spool?.close().catch(() => undefined);
    await removeQuietly(spoolPath);
    forgetSpool();
  }
}

/** Streams the export file assembled from a spool into `sink`: prelude, jobs, counters header, counters, trailer. */
async function assemble(
  { revision, sizes, spool }: Spooled,
  sink: (chunk: Uint8Array) => Promise<void> | void,
): Promise<ExportSummary> {
  const hash = createHash("sha256");
  let bytes = 0;
  const out = new ChunkWriter(async (chunk) => {
    hash.update(chunk);
    bytes += chunk.length;
    await sink(chunk);
  });
  await out.write(exportPrelude(sizes.jobs, sizes.counters));
  await copyRange(spool, 0, sizes.jobs.bytes, out);
  await out.write(countersHeader(sizes.counters));
  await copyRange(spool, sizes.jobs.bytes, sizes.counters.bytes, out);
  await out.write(EXPORT_TRAILER);
  await out.flush();
  return { revision, jobs: sizes.jobs.count, counters: sizes.counters.count, bytes, sha256: hash.digest("hex") };
}

const EXCLUSIVE = fsConstants.O_CREAT | fsConstants.O_EXCL;

/**
 * Writes an export file like `dapr scheduler export -o <path>`: refuses an existing path, writes mode 0600, and only
 * a complete file ever appears at `path` (temp file + fsync + no-clobber link/rename). One pass over etcd; the entries
 * are spooled to a temp file beside the target (about the size of the export) and copied into place.
 */
export async function exportToFile(
  store: SchedulerStore,
  path: string,
  options: ExportOptions = {},
): Promise<ExportSummary> {
  checkSelection(options.selection ?? ALL_KEYS);
  await refuseExisting(path);
  const tag = `${process.pid}-${randomBytes(6).toString("hex")}`;
  const spoolPath = join(dirname(path), `.${basename(path)}.${tag}.spool`);
  let temp: AtomicFile | undefined;
  try {
    return await withSpool(store, spoolPath, options, async (spooled) => {
      temp = await AtomicFile.open(path, {
        existing: "refuse",
        mode: 0o600,
        tempName: `.${basename(path)}.${tag}.tmp`,
      });
      await temp.handle.chmod(0o600);
      const file = temp;
      const summary = await assemble(spooled, (chunk) => file.write(chunk));
      await file.commit();
      return summary;
    });
  } finally {
    await temp?.discard();
  }
}

async function copyRange(from: FileHandle, start: number, length: number, out: ChunkWriter): Promise<void> {
  let offset = start;
  const end = start + length;
  while (offset < end) {
    const size = Math.min(FLUSH_BYTES, end - offset);
    const chunk = Buffer.allocUnsafe(size);
    const { bytesRead } = await from.read(chunk, 0, size, offset);
    if (bytesRead === 0) throw new HousekeeperError("store-error", "export spool file ended early");
    await out.write(bytesRead === size ? chunk : chunk.subarray(0, bytesRead));
    offset += bytesRead;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Import

/**
 * Checks every entry of a decoded export: job keys under `dapr/jobs/` whose values decode as stored jobs, counter
 * keys under `dapr/counters/` whose values decode as counters. Throws HousekeeperError("corrupt-data") naming the key.
 */
export function validateExportEntry(entry: ExportEntry): void {
  const [root, what] = entry.section === "jobs" ? [JOBS_PREFIX, "job"] : [COUNTERS_PREFIX, "counter"];
  if (!entry.key.startsWith(root)) {
    throw new HousekeeperError("corrupt-data", `export file: ${what} key "${entry.key}" is not under ${root}`);
  }
  try {
    if (entry.section === "jobs") decodeStoredJob(entry.value);
    else decodeStoredCounter(entry.value);
  } catch (error) {
    throw new HousekeeperError("corrupt-data", `export file: ${what} ${entry.key}: ${(error as Error).message}`);
  }
}

/**
 * Decodes and validates an export file on disk without holding it: one streaming pass (which also finds duplicates
 * while the keys come in order, as ours do), and, if the keys are out of order — every file `dapr scheduler export`
 * writes (see shared/scheduler/export-sort.ts) — a duplicate check by external sort, in bounded memory. Nothing is
 * returned unless everything is valid.
 */
export async function validateExportFileAt(
  path: string,
  options: ExportSortOptions & ExportCheckProgress = {},
): Promise<{ jobs: number; counters: number; sorted: boolean }> {
  const wrap = (error: unknown): never => {
    if (error instanceof HousekeeperError) throw error;
    throw new HousekeeperError("bad-input", `cannot read ${path}: ${(error as Error).message}`, { cause: error });
  };
  const entries = readExportEntries(createReadStream(path, { highWaterMark: 256 * 1024 }), {
    duplicateCheck: "while-sorted",
  });
  let summary: ExportFileSummary;
  let decoded = 0;
  try {
    for (;;) {
      const step = await entries.next();
      if (step.done) {
        summary = step.value;
        break;
      }
      validateExportEntry(step.value);
      options.onDecoded?.(++decoded);
    }
    if (!summary.sorted) await checkNoDuplicateKeys(path, options);
  } catch (error) {
    return wrap(error);
  }
  return { jobs: summary.jobs, counters: summary.counters, sorted: summary.sorted };
}

/** What checking an export file reports as it goes (the CLI's status line). */
export interface ExportCheckProgress {
  /** Entries decoded and validated so far, in the first pass. */
  onDecoded?: (decoded: number) => void;
  /** Entries past the duplicate check so far, in the second pass (only files whose keys are out of order). */
  onChecked?: (checked: number) => void;
}

export interface SpooledExportFile {
  /** The private copy: validated, and what is to be written. */
  path: string;
  jobs: number;
  counters: number;
  /** Removes the copy. */
  release(): Promise<void>;
}

/**
 * Copies an export file into a private spool (a fresh 0700 directory under `dir`, default the system temp dir),
 * reading the original exactly once, then validates the copy. Writing from the copy writes exactly the bytes that
 * were validated, whatever happens to the original meanwhile (replaced, appended to, a pipe), as restore does with
 * its spool. Needs free space for one copy of the file, plus, for a file whose keys are out of order, the duplicate
 * check's sort runs (about 100 bytes per entry plus its key; see shared/scheduler/export-sort.ts).
 */
export async function spoolExportFile(
  path: string,
  dir: string = tmpdir(),
  options: Pick<ExportSortOptions, "runSize"> & ExportCheckProgress = {},
): Promise<SpooledExportFile> {
  const spoolDir = await mkdtemp(join(dir, "housekeeper-import-"));
  const forget = removeOnExit(spoolDir);
  const release = async () => {
    await rm(spoolDir, { recursive: true, force: true });
    forget();
  };
  const spoolPath = join(spoolDir, "import.bin");
  try {
    try {
      await pipeline(createReadStream(path), createWriteStream(spoolPath, { flags: "wx", mode: 0o600 }));
    } catch (error) {
      throw new HousekeeperError("bad-input", `cannot read ${path}: ${(error as Error).message}`, { cause: error });
    }
    // The duplicate check's sort runs go beside the spool: one directory to account for and remove.
    const counts = await validateExportFileAt(spoolPath, { ...options, tempDir: spoolDir }).catch((error: unknown) => {
      // Name the user's file, not the spool's.
      if (error instanceof HousekeeperError) {
        throw new HousekeeperError(error.code, error.message.replaceAll(spoolPath, path), { cause: error });
      }
      throw error;
    });
    return { path: spoolPath, jobs: counts.jobs, counters: counts.counters, release };
  } catch (error) {
    await release();
    throw error;
  }
}

/** The entries of an export file on disk, streamed (validate it first: see validateExportFileAt). */
export async function* exportFileEntries(path: string): AsyncGenerator<StoredEntry> {
  for await (const entry of readExportEntries(createReadStream(path, { highWaterMark: 256 * 1024 }), {
    duplicateCheck: "while-sorted",
  })) {
    yield { key: entry.key, value: entry.value };
  }
}

export interface ImportOptions {
  maxOps?: number;
  maxBytes?: number;
  /** Called after each committed transaction with the number of entries written so far. */
  onProgress?: (written: number) => void;
}

/**
 * Puts validated entries in transactions of ≤128 operations (and about 1 MiB). Not atomic as a whole — neither is
 * `dapr scheduler import` — but every batch is, and re-running the same import converges (puts are idempotent).
 * On failure the error says how many entries were committed.
 */
export async function importEntries(
  store: SchedulerStore,
  entries: Iterable<StoredEntry> | AsyncIterable<StoredEntry>,
  options: ImportOptions & { total?: number } = {},
): Promise<{ written: number }> {
  const maxOps = options.maxOps ?? MAX_TXN_OPS;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_TXN_BYTES;
  const total = options.total ?? (Array.isArray(entries) ? entries.length : undefined);
  let written = 0;
  let pending: StoredEntry[] = [];
  const flush = async () => {
    for (const batch of writeBatches(pending, maxOps, maxBytes)) {
      try {
        await store.put(batch);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        throw new HousekeeperError(
          error instanceof HousekeeperError ? error.code : "store-error",
          `import incomplete: ${written}${total === undefined ? "" : ` of ${total}`} items written before: ${message}`,
          { cause: error },
        );
      }
      written += batch.length;
      options.onProgress?.(written);
    }
    pending = [];
  };
  // Whole transactions at a time: a few hundred entries are held, never the file.
  for await (const entry of entries) {
    pending.push(entry);
    if (pending.length >= maxOps * 8) await flush();
  }
  await flush();
  return { written };
}
