/**
 * Reminder restore, step 1 (reminder-restore.ts has the whole story): reads the backup's manifest, streams the file
 * once into a spool file while hashing, decoding and validating every entry, and checks it against the manifest; a
 * file whose keys are out of order gets its unit index (shared/scheduler/export-sort.ts). Nothing here writes etcd.
 */
import { createHash } from "node:crypto";
import { open } from "node:fs/promises";
import { dirname, join } from "node:path";
import { errorMessage, HousekeeperError } from "../errors.ts";
import { type ObjectStore, readAll } from "../object-store/object-store.ts";
import { validateExportEntry } from "../scheduler/export.ts";
import { keyOf, writeUnitIndex } from "../scheduler/export-sort.ts";
import { ExportFileDecoder } from "../scheduler/gob-decode.ts";
import type { ExportEntry, ExportFileSummary } from "../scheduler/gob-wire.ts";
import type { KeySelection } from "../scheduler/keys.ts";
import { formatIssues } from "../util/zod-issues.ts";
import { type ReminderBackupManifest, reminderBackupManifestSchema } from "./reminder-backup-layout.ts";

export function underAny(key: string, prefixes: readonly string[]): boolean {
  return prefixes.some((p) => key.startsWith(p));
}

export function selects(selection: KeySelection | undefined, entry: ExportEntry): boolean {
  if (selection === undefined) return true;
  return underAny(entry.key, entry.section === "jobs" ? selection.jobs : selection.counters);
}

export async function readManifest(
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

export interface VerifiedBackup {
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
export async function spoolAndVerify(
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
