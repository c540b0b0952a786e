/**
 * Reminder restore: puts the jobs and counters of a backup (a `dapr scheduler export` file in the object store) back
 * into the Scheduler's etcd.
 *
 * Nothing is written until the whole file has been read and checked:
 *   1. the manifest is read (a missing one refuses the restore unless `allowMissingManifest`);
 *   2. the file is streamed once from the object store into a spool file on local disk (os.tmpdir(): Lambda's /tmp):
 *      every byte goes into a sha256, every chunk into the gob decoder, and every entry is checked to decode as its
 *      protobuf type (stored job / counter) under the right root;
 *   3. size and sha256 must match the manifest (a flipped byte is a checksum mismatch, whatever the decoder thought of
 *      it), then the decoder must have reached a clean end, and the counts must match the manifest.
 * Any failure is HousekeeperError("corrupt-data") (or "not-found") and etcd is untouched.
 *
 * The writes then read the verified spool file, never the object again, and hold nothing but the batch at hand. Our
 * exports list each map in key order (etcd's), so the jobs and the counters are paired by a merge of two decoders
 * over the spool file (one reading the jobs, one the counters). A file whose keys are not in order — every file
 * `dapr scheduler export` writes: it gob-encodes two Go maps, which encoding/gob writes in Go's random map order
 * (dapr/cli pkg/scheduler/exportimport.go) — gets, before any write, an external sort of one small reference per
 * entry (name, map, value offset) that checks the whole file for duplicate keys and writes the units, a job with its
 * counter, to an index file beside the spool (shared/scheduler/export-sort.ts); the writes read that index and fetch
 * each value from the spool by offset. Either way memory stays flat whatever the backup's size.
 *
 * Then, unit by unit (a job together with its counter, so both land in the same transaction), in transactions of at
 * most 128 operations: the current values are read and compared byte for byte, and each key is created, overwritten,
 * left unchanged (already identical) or skipped (exists with other bytes and the policy is skip-existing). Under
 * skip-existing the counter of a skipped job is skipped too (it would not belong to the job that is there), and every
 * write transaction is conditioned on all its keys still being absent (etcd compare create_revision = 0), so a key
 * created concurrently is never overwritten: the batch is re-read and re-planned instead. A failed transaction stops
 * the restore; the result says exactly which keys were written, and running the same restore again finishes the job
 * (what was written is now identical, so it is left unchanged).
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { ErrorCode } from "../errors.ts";
import { errorMessage, HousekeeperError } from "../errors.ts";
import { type ObjectStore, readAll } from "../object-store/object-store.ts";
import { validateExportEntry } from "../scheduler/export.ts";
import { keyOf, readEntry, readUnitIndex, type UnitRef, writeUnitIndex } from "../scheduler/export-sort.ts";
import { ExportFileDecoder, readExportEntries } from "../scheduler/gob-decode.ts";
import type { ExportEntry, ExportFileSummary } from "../scheduler/gob-wire.ts";
import { COUNTERS_PREFIX, JOBS_PREFIX, type KeySelection } from "../scheduler/keys.ts";
import type { SchedulerStore, StoredEntry } from "../scheduler/store.ts";
import { DEFAULT_MAX_TXN_BYTES, MAX_TXN_OPS } from "../scheduler/store.ts";
import { removeOnExit } from "../util/remove-on-exit.ts";
import { formatIssues } from "../util/zod-issues.ts";
import {
  DEFAULT_DAPR_NAMESPACE,
  DEFAULT_KEY_PREFIX,
  DEFAULT_SCHEDULER_NAMESPACE,
  selectionForPrefix,
} from "./reminder-backup.ts";
import {
  BACKUP_SUFFIX,
  backupFolder,
  listBackups,
  manifestKeyOf,
  type ReminderBackupManifest,
  reminderBackupManifestSchema,
} from "./reminder-backup-layout.ts";

export type ConflictPolicy = "skip-existing" | "overwrite";
export const LATEST = "latest";

export interface ReminderRestorePorts {
  scheduler: SchedulerStore;
  objectStore: ObjectStore;
  /**
   * Where the backup is spooled while it is verified and written (default os.tmpdir(): Lambda's /tmp). Needs room for
   * the file, plus, when its keys are out of order, about twice 100 bytes and a key per entry (sort runs and index).
   */
  spoolDir?: string;
  /** Entries per run of the out-of-order file's external sort (default 20,000; tests force small runs). */
  sortRunSize?: number;
}

export interface ReminderRestoreRequest {
  /** Object key of the .bin, or "latest" (the newest complete backup in `<keyPrefix>/<schedulerNamespace>/`). */
  backupKey: string;
  /** For "latest": where the backups are (defaults as for the backup). */
  keyPrefix?: string;
  schedulerNamespace?: string;
  /** Read, verify and compare, but write nothing. */
  dryRun?: boolean;
  /** Default skip-existing. */
  conflictPolicy?: ConflictPolicy;
  /** Only jobs (and their counters) under this display-name prefix (`workflow/my-app`, `workflow/my-app/instance1`). */
  prefix?: string;
  /** Dapr namespace the prefix is resolved in (default `default`). */
  daprNamespace?: string;
  /** Restore a backup that has no manifest (no checksum to verify; the file is still fully decoded first). */
  allowMissingManifest?: boolean;
  /** Operations per etcd transaction (default and maximum 128). */
  maxTxnOps?: number;
  /** How many keys each list of the result keeps (default: all); counts are always exact. */
  reportLimit?: number;
}

export interface RestoreCounts {
  created: number;
  overwritten: number;
  /** Already identical in etcd. */
  unchanged: number;
  /** Exists in etcd with other bytes; kept because the policy is skip-existing. */
  skipped: number;
}

export interface ReminderRestoreResult {
  backupKey: string;
  manifestKey: string;
  dryRun: boolean;
  conflictPolicy: ConflictPolicy;
  prefix: string | null;
  /** True when size and sha256 were checked against the manifest. */
  verified: boolean;
  /** From the manifest: when the backup was taken and at which etcd revision. */
  backupCreatedAt: string | null;
  backupRevision: string | null;
  bytes: number;
  sha256: string;
  inBackup: { jobs: number; counters: number };
  selected: { jobs: number; counters: number };
  /** Exact counts (in a dry run: what would happen). */
  counts: RestoreCounts;
  /** Keys (canonical `dapr/…`) per outcome, in write order; cut at reportLimit (see `truncated`). */
  created: string[];
  overwritten: string[];
  unchanged: string[];
  skipped: string[];
  truncated: boolean;
  /** Write transactions committed. */
  transactions: number;
  /** False when a read or write failed midway: everything in `created`/`overwritten` was committed, nothing else. */
  isComplete: boolean;
  failure?: { code: ErrorCode; message: string };
  durationMs: number;
}

/** One job with its counter (either may be absent from the backup). */
interface Unit {
  job?: StoredEntry;
  counter?: StoredEntry;
}

type State = "absent" | "same" | "different";
type Outcome = "create" | "overwrite" | "unchanged" | "skip";

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

function underAny(key: string, prefixes: readonly string[]): boolean {
  return prefixes.some((p) => key.startsWith(p));
}

function selects(selection: KeySelection | undefined, entry: ExportEntry): boolean {
  if (selection === undefined) return true;
  return underAny(entry.key, entry.section === "jobs" ? selection.jobs : selection.counters);
}

async function resolveBackupKey(
  store: ObjectStore,
  request: ReminderRestoreRequest,
): Promise<{ key: string; manifestKey: string }> {
  if (request.backupKey !== LATEST) {
    const key = request.backupKey.replace(/^\/+/, "");
    return { key, manifestKey: manifestKeyOf(key) };
  }
  const folder = backupFolder(
    request.keyPrefix ?? DEFAULT_KEY_PREFIX,
    request.schedulerNamespace ?? DEFAULT_SCHEDULER_NAMESPACE,
  );
  const backups = await listBackups(store, folder);
  const latest = backups.find((b) => b.hasData && (b.hasManifest || request.allowMissingManifest));
  if (latest === undefined) {
    throw new HousekeeperError("not-found", `no complete backup under ${store.location}/${folder}`);
  }
  return { key: latest.key, manifestKey: latest.manifestKey };
}

async function readManifest(
  store: ObjectStore,
  manifestKey: string,
  backupKey: string,
  allowMissing: boolean,
): Promise<ReminderBackupManifest | undefined> {
  let text: string;
  try {
    const { body } = await store.get(manifestKey);
    text = (await readAll(body)).toString("utf8");
  } catch (error) {
    if (error instanceof HousekeeperError && error.code === "not-found") {
      if (allowMissing) return undefined;
      throw new HousekeeperError(
        "not-found",
        `backup ${backupKey} has no manifest (${manifestKey}), so its checksum cannot be verified; ` +
          "restore it anyway with allowMissingManifest",
      );
    }
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new HousekeeperError("corrupt-data", `manifest ${manifestKey} is not JSON: ${errorMessage(error)}`);
  }
  const parsed = reminderBackupManifestSchema.safeParse(json);
  if (!parsed.success) {
    throw new HousekeeperError(
      "corrupt-data",
      `manifest ${manifestKey} is not a reminder backup manifest: ${formatIssues(parsed.error, { root: "(root)", firstOnly: true })}`,
    );
  }
  return parsed.data;
}

interface VerifiedBackup {
  bytes: number;
  sha256: string;
  summary: ExportFileSummary;
  selected: { jobs: number; counters: number };
  /** Both maps in strictly increasing key order: the units can be merged from the spool file. */
  sorted: boolean;
  /** Out of order: the units, sorted by name, in this index file beside the spool (see writeUnitIndex). */
  indexPath?: string;
}

/**
 * Streams the object once into `spoolPath`: hashes all of it, decodes and validates every entry, counts the selected
 * ones. Keeps nothing in memory but the decoder's window.
 */
async function spoolAndVerify(
  store: ObjectStore,
  key: string,
  manifest: ReminderBackupManifest | undefined,
  selection: KeySelection | undefined,
  spoolPath: string,
  sortRunSize: number | undefined,
): Promise<VerifiedBackup> {
  const { body } = await store.get(key);
  const hash = createHash("sha256");
  const decoder = new ExportFileDecoder({ duplicateCheck: "while-sorted" });
  const selected = { jobs: 0, counters: 0 };
  let bytes = 0;
  let summary: ExportFileSummary | undefined;
  let decodeError: unknown;
  const drain = () => {
    for (;;) {
      const step = decoder.next();
      if (step.kind === "need-input") return;
      if (step.kind === "done") {
        summary = step.summary;
        return;
      }
      validateExportEntry(step.entry);
      if (selects(selection, step.entry)) selected[step.entry.section]++;
    }
  };
  const spool = await open(spoolPath, "w");
  try {
    try {
      for await (const raw of body) {
        const chunk = typeof raw === "string" ? Buffer.from(raw) : (raw as Uint8Array);
        hash.update(chunk);
        bytes += chunk.length;
        await spool.write(chunk);
        if (decodeError !== undefined || summary !== undefined) continue;
        try {
          decoder.push(chunk);
          drain();
        } catch (error) {
          decodeError = error;
        }
      }
    } catch (error) {
      if (error instanceof HousekeeperError) throw error;
      const code = (error as { code?: unknown }).code;
      if (code === "ENOSPC" || code === "EDQUOT") {
        throw new HousekeeperError(
          "unavailable",
          `no room in ${dirname(spoolPath)} to spool backup ${key} (${bytes} bytes so far); ` +
            "give the function more ephemeral storage",
          { cause: error },
        );
      }
      throw new HousekeeperError("unavailable", `reading ${key} from ${store.location}: ${errorMessage(error)}`, {
        cause: error,
      });
    }
  } finally {
    await spool.close();
  }
  if (decodeError === undefined && summary === undefined) {
    try {
      decoder.end();
      drain();
    } catch (error) {
      decodeError = error;
    }
  }
  const sha256 = hash.digest("hex");
  if (manifest) {
    if (bytes !== manifest.bytes || sha256 !== manifest.sha256) {
      throw new HousekeeperError(
        "corrupt-data",
        `backup ${key} does not match its manifest: ${bytes} bytes with sha256 ${sha256}, ` +
          `the manifest says ${manifest.bytes} bytes with sha256 ${manifest.sha256}; nothing was restored`,
      );
    }
  }
  if (decodeError !== undefined || summary === undefined) {
    const reason = decodeError === undefined ? "the file has data after its end" : errorMessage(decodeError);
    throw new HousekeeperError("corrupt-data", `backup ${key} cannot be restored: ${reason}; nothing was restored`, {
      cause: decodeError,
    });
  }
  if (summary.bytes !== bytes) {
    throw new HousekeeperError(
      "corrupt-data",
      `backup ${key} has ${bytes - summary.bytes} bytes after the end of its export data; nothing was restored`,
    );
  }
  if (manifest && (summary.jobs !== manifest.counts.jobs || summary.counters !== manifest.counts.counters)) {
    throw new HousekeeperError(
      "corrupt-data",
      `backup ${key} holds ${summary.jobs} jobs and ${summary.counters} counters, its manifest says ` +
        `${manifest.counts.jobs} and ${manifest.counts.counters}; nothing was restored`,
    );
  }
  const sorted = decoder.sorted;
  if (sorted) return { bytes, sha256, summary, selected, sorted };
  // Out of order, the first pass could not rule out duplicate keys, nor pair jobs with counters by merging: sort.
  const indexPath = join(dirname(spoolPath), "units.jsonl");
  try {
    await writeUnitIndex(
      spoolPath,
      indexPath,
      (ref) => selection === undefined || underAny(keyOf(ref), selection[ref.section]),
      { tempDir: dirname(spoolPath), ...(sortRunSize === undefined ? {} : { runSize: sortRunSize }) },
    );
  } catch (error) {
    if (error instanceof HousekeeperError && error.code === "corrupt-data") {
      throw new HousekeeperError(
        "corrupt-data",
        `backup ${key} cannot be restored: ${errorMessage(error)}; nothing was restored`,
        { cause: error },
      );
    }
    throw new HousekeeperError(
      "unavailable",
      `cannot sort backup ${key} in ${dirname(spoolPath)} (${errorMessage(error)}); nothing was restored`,
      { cause: error },
    );
  }
  return { bytes, sha256, summary, selected, sorted, indexPath };
}

/** The entries of the (already verified) spool file, in file order. */
function spooledEntries(spoolPath: string): AsyncGenerator<ExportEntry, ExportFileSummary, undefined> {
  return readExportEntries(createReadStream(spoolPath, { highWaterMark: 256 * 1024 }), {
    duplicateCheck: "while-sorted",
  });
}

/** The selected entries of one map of the spool file, in file (= key) order. */
async function* selectedEntries(
  spoolPath: string,
  section: ExportEntry["section"],
  selection: KeySelection | undefined,
): AsyncGenerator<StoredEntry> {
  for await (const entry of spooledEntries(spoolPath)) {
    if (entry.section !== section) {
      if (section === "jobs") return; // the counters come after the jobs: nothing more to read
      continue;
    }
    if (selects(selection, entry)) yield { key: entry.key, value: entry.value };
  }
}

/**
 * Jobs paired with their counters (same name under the other root), from two decoders over a spool file whose maps
 * are both in key order: a merge join, so only the current job and counter are held.
 */
async function* mergedUnits(spoolPath: string, selection: KeySelection | undefined): AsyncGenerator<Unit> {
  const jobs = selectedEntries(spoolPath, "jobs", selection);
  const counters = selectedEntries(spoolPath, "counters", selection);
  try {
    let job = await jobs.next();
    let counter = await counters.next();
    while (!job.done || !counter.done) {
      const jobName = job.done ? undefined : job.value.key.slice(JOBS_PREFIX.length);
      const counterName = counter.done ? undefined : counter.value.key.slice(COUNTERS_PREFIX.length);
      if (counterName === undefined || (jobName !== undefined && jobName < counterName)) {
        yield { job: job.value as StoredEntry };
        job = await jobs.next();
      } else if (jobName === undefined || counterName < jobName) {
        yield { counter: counter.value as StoredEntry };
        counter = await counters.next();
      } else {
        yield { job: job.value as StoredEntry, counter: counter.value as StoredEntry };
        job = await jobs.next();
        counter = await counters.next();
      }
    }
  } finally {
    await Promise.allSettled([jobs.return(undefined), counters.return(undefined)]);
  }
}

/** Units read back from the index written for an out-of-order file, their values fetched from the spool by offset. */
async function* indexedUnits(spoolPath: string, indexPath: string): AsyncGenerator<Unit> {
  const spool = await open(spoolPath, "r");
  try {
    let pending: UnitRef[] = [];
    // A few hundred reads at a time, in parallel: one by one, the reads would cost more than the etcd round trips.
    const resolve = async function* (): AsyncGenerator<Unit> {
      const units = await Promise.all(
        pending.map(async (ref): Promise<Unit> => {
          const unit: Unit = {};
          if (ref.job) unit.job = await readEntry(spool, ref.job);
          if (ref.counter) unit.counter = await readEntry(spool, ref.counter);
          return unit;
        }),
      );
      pending = [];
      yield* units;
    };
    for await (const ref of readUnitIndex(indexPath)) {
      pending.push(ref);
      if (pending.length >= 256) yield* resolve();
    }
    yield* resolve();
  } finally {
    await spool.close();
  }
}

async function* unitBatches(units: AsyncIterable<Unit>, maxOps: number, maxBytes: number): AsyncGenerator<Unit[]> {
  let batch: Unit[] = [];
  let ops = 0;
  let bytes = 0;
  for await (const unit of units) {
    const parts = [unit.job, unit.counter].filter((e): e is StoredEntry => e !== undefined);
    const size = parts.reduce((n, e) => n + Buffer.byteLength(e.key) + e.value.byteLength + 16, 0);
    if (batch.length > 0 && (ops + parts.length > maxOps || bytes + size > maxBytes)) {
      yield batch;
      batch = [];
      ops = 0;
      bytes = 0;
    }
    batch.push(unit);
    ops += parts.length;
    bytes += size;
  }
  if (batch.length > 0) yield batch;
}

function stateOf(entry: StoredEntry, current: Map<string, Uint8Array>): State {
  const existing = current.get(entry.key);
  if (existing === undefined) return "absent";
  return sameBytes(existing, entry.value) ? "same" : "different";
}

/** What to do with each key of a unit, given what etcd holds now. */
function decide(
  unit: Unit,
  current: Map<string, Uint8Array>,
  policy: ConflictPolicy,
): Array<{ entry: StoredEntry; outcome: Outcome }> {
  const out: Array<{ entry: StoredEntry; outcome: Outcome }> = [];
  const outcomeOf = (state: State): Outcome => {
    if (state === "absent") return "create";
    if (state === "same") return "unchanged";
    return policy === "overwrite" ? "overwrite" : "skip";
  };
  const jobOutcome = unit.job ? outcomeOf(stateOf(unit.job, current)) : undefined;
  if (unit.job) out.push({ entry: unit.job, outcome: jobOutcome! });
  if (unit.counter) {
    let outcome = outcomeOf(stateOf(unit.counter, current));
    // A job kept as it is in etcd keeps its own counter: the backup's would describe another job's firings.
    if (jobOutcome === "skip" && outcome !== "unchanged") outcome = "skip";
    out.push({ entry: unit.counter, outcome });
  }
  return out;
}

const MAX_CONFLICT_RETRIES = 5;

export async function runReminderRestore(
  ports: ReminderRestorePorts,
  request: ReminderRestoreRequest,
): Promise<ReminderRestoreResult> {
  const startedAt = performance.now();
  const { objectStore } = ports;
  const policy = request.conflictPolicy ?? "skip-existing";
  if (policy !== "skip-existing" && policy !== "overwrite") {
    throw new HousekeeperError("bad-input", `conflict policy must be skip-existing or overwrite, got "${policy}"`);
  }
  const prefix = request.prefix === undefined || request.prefix === "" ? null : request.prefix;
  const selection =
    prefix === null ? undefined : selectionForPrefix(prefix, request.daprNamespace ?? DEFAULT_DAPR_NAMESPACE);

  const { key, manifestKey } = await resolveBackupKey(objectStore, request);
  if (!key.endsWith(BACKUP_SUFFIX)) {
    throw new HousekeeperError("bad-input", `backup key "${key}" does not end in ${BACKUP_SUFFIX}`);
  }
  if ((await objectStore.head(key)) === undefined) {
    throw new HousekeeperError("not-found", `no backup ${key} in ${objectStore.location}`);
  }
  const manifest = await readManifest(objectStore, manifestKey, key, request.allowMissingManifest ?? false);
  const spoolDir = await mkdtemp(join(ports.spoolDir ?? tmpdir(), "housekeeper-restore-"));
  const forget = removeOnExit(spoolDir);
  try {
    return await restoreFromSpool(ports, request, {
      key,
      manifestKey,
      manifest,
      selection,
      spoolPath: join(spoolDir, "backup.bin"),
      startedAt,
    });
  } finally {
    await rm(spoolDir, { recursive: true, force: true });
    forget();
  }
}

async function restoreFromSpool(
  ports: ReminderRestorePorts,
  request: ReminderRestoreRequest,
  context: {
    key: string;
    manifestKey: string;
    manifest: ReminderBackupManifest | undefined;
    selection: KeySelection | undefined;
    spoolPath: string;
    startedAt: number;
  },
): Promise<ReminderRestoreResult> {
  const { key, manifestKey, manifest, selection, spoolPath, startedAt } = context;
  const { scheduler, objectStore } = ports;
  const dryRun = request.dryRun ?? false;
  const policy: ConflictPolicy = request.conflictPolicy ?? "skip-existing";
  const prefix = request.prefix === undefined || request.prefix === "" ? null : request.prefix;
  const maxOps = Math.max(1, Math.min(MAX_TXN_OPS, request.maxTxnOps ?? MAX_TXN_OPS));
  const reportLimit = request.reportLimit ?? Number.POSITIVE_INFINITY;
  const backup = await spoolAndVerify(objectStore, key, manifest, selection, spoolPath, ports.sortRunSize);

  const result: ReminderRestoreResult = {
    backupKey: key,
    manifestKey,
    dryRun,
    conflictPolicy: policy,
    prefix,
    verified: manifest !== undefined,
    backupCreatedAt: manifest?.createdAt ?? null,
    backupRevision: manifest?.revision ?? null,
    bytes: backup.bytes,
    sha256: backup.sha256,
    inBackup: { jobs: backup.summary.jobs, counters: backup.summary.counters },
    selected: backup.selected,
    counts: { created: 0, overwritten: 0, unchanged: 0, skipped: 0 },
    created: [],
    overwritten: [],
    unchanged: [],
    skipped: [],
    truncated: false,
    transactions: 0,
    isComplete: true,
    durationMs: 0,
  };
  const record = (outcome: Outcome, entryKey: string) => {
    const [countKey, list] =
      outcome === "create"
        ? (["created", result.created] as const)
        : outcome === "overwrite"
          ? (["overwritten", result.overwritten] as const)
          : outcome === "unchanged"
            ? (["unchanged", result.unchanged] as const)
            : (["skipped", result.skipped] as const);
    result.counts[countKey]++;
    if (list.length < reportLimit) list.push(entryKey);
    else result.truncated = true;
  };

  try {
    const units =
      backup.indexPath === undefined ? mergedUnits(spoolPath, selection) : indexedUnits(spoolPath, backup.indexPath);
    for await (const batch of unitBatches(units, maxOps, DEFAULT_MAX_TXN_BYTES)) {
      const keys = batch.flatMap((u) => [u.job?.key, u.counter?.key].filter((k): k is string => k !== undefined));
      for (let attempt = 0; ; attempt++) {
        const current = await scheduler.get(keys);
        const decisions = batch.flatMap((unit) => decide(unit, current, policy));
        const writes = decisions.filter((d) => d.outcome === "create" || d.outcome === "overwrite");
        if (dryRun || writes.length === 0) {
          for (const d of decisions) record(d.outcome, d.entry.key);
          break;
        }
        const committed = await scheduler.put(
          writes.map((d) => d.entry),
          policy === "skip-existing" ? { ifAbsent: true } : {},
        );
        if (committed) {
          result.transactions++;
          for (const d of decisions) record(d.outcome, d.entry.key);
          break;
        }
        // Someone created one of these keys since we read them: read again and decide again.
        if (attempt >= MAX_CONFLICT_RETRIES) {
          throw new HousekeeperError(
            "store-error",
            `keys of this batch keep being created concurrently (${MAX_CONFLICT_RETRIES + 1} attempts)`,
          );
        }
      }
    }
  } catch (error) {
    result.isComplete = false;
    const written = result.counts.created + result.counts.overwritten;
    result.failure = {
      code: error instanceof HousekeeperError ? error.code : "store-error",
      message:
        `restore stopped after ${result.transactions} transaction(s) (${written} key(s) written, listed in ` +
        `created/overwritten; running the same restore again completes it): ${errorMessage(error)}`,
    };
  }
  result.durationMs = Math.round(performance.now() - startedAt);
  return result;
}
