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
 *
 * Here: the request, the backup's key and the write loop; reminder-restore-verify.ts reads and checks the file,
 * reminder-restore-plan.ts turns the spool into batches of units and decides each key's outcome.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ErrorCode } from "../errors.ts";
import { errorMessage, HousekeeperError } from "../errors.ts";
import type { ObjectStore } from "../object-store/object-store.ts";
import type { KeySelection } from "../scheduler/keys.ts";
import type { SchedulerStore } from "../scheduler/store.ts";
import { DEFAULT_MAX_TXN_BYTES, MAX_TXN_OPS } from "../scheduler/store.ts";
import { removeOnExit } from "../util/remove-on-exit.ts";
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
} from "./reminder-backup-layout.ts";
import type { ConflictPolicy, Outcome } from "./reminder-restore-plan.ts";
import { decide, indexedUnits, mergedUnits, unitBatches } from "./reminder-restore-plan.ts";
import { readManifest, spoolAndVerify } from "./reminder-restore-verify.ts";

export type { ConflictPolicy } from "./reminder-restore-plan.ts";
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
