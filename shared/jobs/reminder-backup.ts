/**
 * Reminder backup: exports the Dapr Scheduler's jobs and counters (all of them, or those under a display-name prefix
 * such as `workflow/my-app`) to the object store in the `dapr scheduler export` file format, writes a manifest beside
 * it, and applies retention to older backups.
 *
 * Streaming and memory: the gob value is one length-prefixed message whose maps are count-prefixed, so sizes must be
 * known before the first byte. We use the scheduler module's two-pass export (`exportToSink`): both passes read the
 * same etcd revision page by page, the first only sums sizes, the second streams entries into the upload. Nothing
 * touches the disk (Lambda's /tmp stays free) and memory is bounded by an etcd page, a small hand-over buffer and the
 * uploader's parts (S3: queueSize × partSize); etcd is read twice. The sha256 and the byte count come from the bytes
 * as they are streamed, and the object store's own count is checked against them.
 *
 * Order of writes: the .bin (a failed or partial upload leaves no object), then its manifest (if that fails, the .bin
 * is removed again), then retention. Retention only ever considers objects named like backups in this namespace's
 * folder and never deletes the backup just written.
 */
import { errorMessage, HousekeeperError } from "../errors.ts";
import type { ObjectStore } from "../object-store/object-store.ts";
import { exportToSink } from "../scheduler/export.ts";
import { decodeJobEntry } from "../scheduler/jobs.ts";
import { ALL_KEYS, deleteAllSelection, jobKind, type KeySelection, parseJobKey } from "../scheduler/keys.ts";
import type { SchedulerStore } from "../scheduler/store.ts";
import { ByteChannel } from "../util/byte-channel.ts";
import {
  BACKUP_CONTENT_TYPE,
  type BackupJobKind,
  backupFolder,
  backupKeyFor,
  JOB_KINDS,
  listBackups,
  MANIFEST_CONTENT_TYPE,
  MANIFEST_FORMAT,
  manifestKeyOf,
  normalizeKeyPrefix,
  type ReminderBackupManifest,
  TOOL_NAME,
  toolVersion,
} from "./reminder-backup-layout.ts";

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

export interface ReminderBackupPorts {
  scheduler: SchedulerStore;
  objectStore: ObjectStore;
  clock?: Clock;
}

export interface BackupRetention {
  /** Keep the newest N complete backups (data + manifest). */
  keepLast?: number;
  /** Keep every backup younger than this many milliseconds. */
  keepWithinMs?: number;
}

export interface ReminderBackupConfig {
  /** Key prefix in the object store (default `reminders`; "" for none). */
  keyPrefix?: string;
  /** The Scheduler's (Kubernetes) namespace, the folder below the prefix (default `dapr-system`). */
  schedulerNamespace?: string;
  /** Only jobs under this display-name prefix (`workflow/my-app`, `app`, `actor/type`…; delete-all's rules). */
  prefix?: string;
  /** Dapr namespace the prefix is resolved in (default `default`). */
  daprNamespace?: string;
  /** Delete older backups beyond this (a backup is kept if EITHER rule keeps it). Undefined: delete nothing. */
  retention?: BackupRetention;
  /** etcd keys per page (default: the scheduler module's, 1000). */
  pageSize?: number;
  /** Recorded in the manifest (default: package.json's version). */
  toolVersion?: string;
}

export interface ReminderBackupResult {
  /** Object key of the export file. */
  key: string;
  manifestKey: string;
  /** etcd revision the snapshot was read at. */
  revision: string;
  createdAt: string;
  prefix: string | null;
  jobs: number;
  counters: number;
  byKind: Record<BackupJobKind, number>;
  byApp: Record<string, number>;
  bytes: number;
  sha256: string;
  /** Keys of the backups (.bin) retention deleted, each together with its manifest. */
  deletedBackups: string[];
  /** Backups retention kept (including the new one). */
  keptBackups: number;
  durationMs: number;
}

export const DEFAULT_KEY_PREFIX = "reminders";
export const DEFAULT_SCHEDULER_NAMESPACE = "dapr-system";
export const DEFAULT_DAPR_NAMESPACE = "default";
/** Bytes the export may run ahead of the upload. */
const HANDOVER_BYTES = 4 * 1024 * 1024;

/** The job's kind and app ID, from its metadata (as `dapr scheduler list` sees it), else from its key. */
function classify(key: string, value: Uint8Array): { kind: BackupJobKind; app: string } {
  try {
    const { metadata } = decodeJobEntry(key, value);
    const kind = jobKind(metadata);
    let app = metadata.appId;
    if (app === "" && (kind === "workflow" || kind === "activity")) app = appOfKey(key);
    return { kind, app };
  } catch {
    return { kind: "unknown", app: appOfKey(key) };
  }
}

function appOfKey(key: string): string {
  const parsed = parseJobKey(key);
  if (parsed === undefined) return "";
  if (parsed.type === "app") return parsed.appId;
  const type = parsed.actorType;
  return type.startsWith("dapr.internal.") ? (type.split(".")[3] ?? "") : "";
}

export function selectionForPrefix(prefix: string | undefined, daprNamespace: string): KeySelection {
  if (prefix === undefined || prefix === "") return ALL_KEYS;
  return deleteAllSelection(prefix, daprNamespace);
}

export async function runReminderBackup(
  ports: ReminderBackupPorts,
  config: ReminderBackupConfig = {},
): Promise<ReminderBackupResult> {
  const clock = ports.clock ?? systemClock;
  const { scheduler, objectStore } = ports;
  const startedAt = performance.now();
  const now = clock.now();
  const keyPrefix = normalizeKeyPrefix(config.keyPrefix ?? DEFAULT_KEY_PREFIX);
  const schedulerNamespace = config.schedulerNamespace ?? DEFAULT_SCHEDULER_NAMESPACE;
  const daprNamespace = config.daprNamespace ?? DEFAULT_DAPR_NAMESPACE;
  const prefix = config.prefix === undefined || config.prefix === "" ? null : config.prefix;
  const selection = selectionForPrefix(prefix ?? undefined, daprNamespace);
  const folder = backupFolder(keyPrefix, schedulerNamespace);
  const key = backupKeyFor(keyPrefix, schedulerNamespace, now);
  const manifestKey = manifestKeyOf(key);

  if ((await objectStore.head(key)) !== undefined || (await objectStore.head(manifestKey)) !== undefined) {
    throw new HousekeeperError("already-exists", `a backup named ${key} already exists in ${objectStore.location}`);
  }

  const byKind = Object.fromEntries(JOB_KINDS.map((k) => [k, 0])) as Record<BackupJobKind, number>;
  const byApp: Record<string, number> = {};
  const snapshot = await scheduler.snapshot();

  const channel = new ByteChannel(HANDOVER_BYTES, "the export");
  const upload = objectStore.put(key, channel, {
    contentType: BACKUP_CONTENT_TYPE,
    metadata: { "etcd-revision": snapshot.revision },
  });
  // A failed upload must stop the export (which would otherwise wait for it forever).
  upload.catch((error: unknown) => channel.abort(error));

  let summary: Awaited<ReturnType<typeof exportToSink>>;
  try {
    summary = await exportToSink(scheduler, (chunk) => channel.send(chunk), {
      selection,
      snapshot,
      ...(config.pageSize !== undefined ? { pageSize: config.pageSize } : {}),
      onEntry: (section, entryKey, value) => {
        if (section !== "jobs") return;
        const { kind, app } = classify(entryKey, value);
        byKind[kind]++;
        byApp[app] = (byApp[app] ?? 0) + 1;
      },
    });
    channel.end();
  } catch (error) {
    channel.abort(error);
    const uploadError = await upload.then(
      () => undefined,
      (e: unknown) => e,
    );
    // When the upload broke first, its error is the cause; the export only saw the channel close.
    throw uploadError instanceof HousekeeperError && uploadError !== error ? uploadError : error;
  }
  const put = await upload;
  if (put.size !== summary.bytes) {
    await objectStore.deleteMany([key]).catch(() => {});
    throw new HousekeeperError(
      "store-error",
      `${objectStore.location} stored ${put.size} bytes for ${key}, the export produced ${summary.bytes}; backup removed`,
    );
  }

  const manifest: ReminderBackupManifest = {
    format: MANIFEST_FORMAT,
    backupKey: key,
    createdAt: now.toISOString(),
    tool: { name: TOOL_NAME, version: config.toolVersion ?? toolVersion() },
    schedulerNamespace,
    daprNamespace,
    prefix,
    revision: summary.revision,
    bytes: summary.bytes,
    sha256: summary.sha256,
    counts: { jobs: summary.jobs, counters: summary.counters, byKind, byApp },
  };
  try {
    await objectStore.put(manifestKey, `${JSON.stringify(manifest, null, 2)}\n`, {
      contentType: MANIFEST_CONTENT_TYPE,
    });
  } catch (error) {
    await objectStore.deleteMany([key]).catch(() => {});
    throw error instanceof HousekeeperError
      ? error
      : new HousekeeperError("store-error", `writing ${manifestKey}: ${errorMessage(error)}`, { cause: error });
  }

  const retention = await applyRetention(objectStore, folder, key, now, config.retention);

  return {
    key,
    manifestKey,
    revision: summary.revision,
    createdAt: manifest.createdAt,
    prefix,
    jobs: summary.jobs,
    counters: summary.counters,
    byKind,
    byApp,
    bytes: summary.bytes,
    sha256: summary.sha256,
    deletedBackups: retention.deleted,
    keptBackups: retention.kept,
    durationMs: Math.round(performance.now() - startedAt),
  };
}

/**
 * Deletes the backups in `folder` that neither rule keeps: not among the newest `keepLast` complete backups, and not
 * younger than `keepWithinMs`. The backup just written is always kept. A .bin goes together with its manifest; a
 * leftover manifest or .bin of a failed backup counts as a backup that is not complete.
 */
export async function applyRetention(
  store: ObjectStore,
  folder: string,
  justWritten: string,
  now: Date,
  retention: BackupRetention | undefined,
): Promise<{ deleted: string[]; kept: number }> {
  if (retention === undefined || (retention.keepLast === undefined && retention.keepWithinMs === undefined)) {
    return { deleted: [], kept: (await listBackups(store, folder)).length };
  }
  const keepLast = retention.keepLast ?? 0;
  const keepWithinMs = retention.keepWithinMs ?? 0;
  const backups = await listBackups(store, folder);
  const doomed: typeof backups = [];
  let complete = 0;
  for (const backup of backups) {
    const isComplete = backup.hasData && backup.hasManifest;
    const byCount = isComplete && complete < keepLast;
    if (isComplete) complete++;
    const byAge = now.getTime() - backup.takenAt.getTime() < keepWithinMs;
    if (backup.key === justWritten || byCount || byAge) continue;
    doomed.push(backup);
  }
  const keys = doomed.flatMap((b) => [...(b.hasData ? [b.key] : []), ...(b.hasManifest ? [b.manifestKey] : [])]);
  if (keys.length > 0) await store.deleteMany(keys);
  return { deleted: doomed.map((b) => b.key), kept: backups.length - doomed.length };
}
