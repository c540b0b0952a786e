/**
 * Where reminder backups live in the object store and what their manifest says, shared by the backup and the restore.
 *
 *   <keyPrefix>/<scheduler-namespace>/<UTC timestamp>.bin            the `dapr scheduler export` file (Go gob)
 *   <keyPrefix>/<scheduler-namespace>/<UTC timestamp>.manifest.json  counts, sha256, etcd revision, time, tool
 *
 * The timestamp is `YYYYMMDDTHHMMSS.mmmZ` (UTC, fixed width), so key order is time order and the name alone dates a
 * backup: retention and "latest" read it from the key, not from object-store timestamps (which a copy would reset).
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { HousekeeperError } from "../errors.ts";
import { listNewestFirst, type ObjectStore, type ObjectSummary } from "../object-store/object-store.ts";

export const BACKUP_SUFFIX = ".bin";
export const MANIFEST_SUFFIX = ".manifest.json";
export const BACKUP_CONTENT_TYPE = "application/x-gob";
export const MANIFEST_CONTENT_TYPE = "application/json";
export const MANIFEST_FORMAT = "dapr-housekeeper/reminder-backup-manifest@1";

const STAMP = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})\.(\d{3})Z$/;

/** `2026-01-25T09:30:15.123Z` → `20260125T093015.123Z`. */
export function formatBackupStamp(date: Date): string {
  const iso = date.toISOString(); // always UTC, ms precision
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 23)}Z`;
}

/** The inverse of formatBackupStamp; undefined for anything else. */
export function parseBackupStamp(stamp: string): Date | undefined {
  const m = STAMP.exec(stamp);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second, ms] = m.slice(1).map(Number) as number[];
  const date = new Date(Date.UTC(year!, month! - 1, day!, hour!, minute!, second!, ms!));
  return formatBackupStamp(date) === stamp ? date : undefined;
}

/** Strips leading and trailing slashes; "" means "no prefix". */
export function normalizeKeyPrefix(prefix: string | undefined): string {
  return (prefix ?? "").replace(/^\/+|\/+$/g, "");
}

/** The folder holding one scheduler namespace's backups, ending in "/". */
export function backupFolder(keyPrefix: string, schedulerNamespace: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(schedulerNamespace)) {
    throw new HousekeeperError("bad-input", `invalid scheduler namespace ${JSON.stringify(schedulerNamespace)}`);
  }
  const prefix = normalizeKeyPrefix(keyPrefix);
  return `${prefix === "" ? "" : `${prefix}/`}${schedulerNamespace}/`;
}

export function backupKeyFor(keyPrefix: string, schedulerNamespace: string, at: Date): string {
  return `${backupFolder(keyPrefix, schedulerNamespace)}${formatBackupStamp(at)}${BACKUP_SUFFIX}`;
}

/** `x/20260125T093015.123Z.bin` → `x/20260125T093015.123Z.manifest.json`. */
export function manifestKeyOf(backupKey: string): string {
  if (!backupKey.endsWith(BACKUP_SUFFIX)) {
    throw new HousekeeperError("bad-input", `backup key "${backupKey}" does not end in ${BACKUP_SUFFIX}`);
  }
  return backupKey.slice(0, -BACKUP_SUFFIX.length) + MANIFEST_SUFFIX;
}

/** A backup's files as found in a listing: the .bin, its manifest, or both. */
export interface StoredBackup {
  /** The key of the .bin (whether or not it exists). */
  key: string;
  manifestKey: string;
  /** From the key's timestamp. */
  takenAt: Date;
  hasData: boolean;
  hasManifest: boolean;
}

/**
 * The backups directly in `folder` (names `<stamp>.bin` / `<stamp>.manifest.json`), newest first. Objects with any
 * other name are not backups and are never returned (so retention never touches them).
 */
export async function listBackups(store: ObjectStore, folder: string): Promise<StoredBackup[]> {
  const byStamp = new Map<string, StoredBackup>();
  const objects: ObjectSummary[] = await listNewestFirst(store, folder);
  for (const object of objects) {
    const name = object.key.slice(folder.length);
    let stamp: string;
    let kind: "data" | "manifest";
    if (name.endsWith(BACKUP_SUFFIX)) {
      stamp = name.slice(0, -BACKUP_SUFFIX.length);
      kind = "data";
    } else if (name.endsWith(MANIFEST_SUFFIX)) {
      stamp = name.slice(0, -MANIFEST_SUFFIX.length);
      kind = "manifest";
    } else continue;
    const takenAt = parseBackupStamp(stamp);
    if (takenAt === undefined) continue;
    const key = `${folder}${stamp}${BACKUP_SUFFIX}`;
    const entry = byStamp.get(stamp) ?? {
      key,
      manifestKey: `${folder}${stamp}${MANIFEST_SUFFIX}`,
      takenAt,
      hasData: false,
      hasManifest: false,
    };
    if (kind === "data") entry.hasData = true;
    else entry.hasManifest = true;
    byStamp.set(stamp, entry);
  }
  return [...byStamp.values()].sort((a, b) => b.takenAt.getTime() - a.takenAt.getTime());
}

/** Kinds as the Dapr CLI's `--filter` names them; `unknown` for a job whose metadata names no target or is unreadable. */
export const JOB_KINDS = ["workflow", "activity", "actor", "app", "unknown"] as const;
export type BackupJobKind = (typeof JOB_KINDS)[number];

const countRecord = z.record(z.string(), z.number().int().nonnegative());

export const reminderBackupManifestSchema = z.object({
  format: z.literal(MANIFEST_FORMAT),
  /** The .bin this manifest describes. */
  backupKey: z.string(),
  createdAt: z.string(),
  tool: z.object({ name: z.string(), version: z.string() }),
  schedulerNamespace: z.string(),
  /** The Dapr namespace the display-name prefix was resolved in. */
  daprNamespace: z.string(),
  /** Display-name prefix (`workflow/my-app`) the backup was limited to; null for everything. */
  prefix: z.string().nullable(),
  /** etcd revision every key was read at. */
  revision: z.string(),
  /** The .bin's size and sha256 (hex). */
  bytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  counts: z.object({
    jobs: z.number().int().nonnegative(),
    counters: z.number().int().nonnegative(),
    /** Jobs by kind (workflow, activity, actor, app, unknown). */
    byKind: countRecord,
    /** Jobs by app ID ("" for jobs without one). */
    byApp: countRecord,
  }),
});

export type ReminderBackupManifest = z.infer<typeof reminderBackupManifestSchema>;

let cachedVersion: string | undefined;

/** This tool's version, from package.json (or "unknown" when bundled without it). */
export function toolVersion(): string {
  if (cachedVersion === undefined) {
    try {
      const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
        version?: string;
      };
      cachedVersion = pkg.version ?? "unknown";
    } catch {
      cachedVersion = "unknown";
    }
  }
  return cachedVersion;
}

export const TOOL_NAME = "dapr-housekeeper";
