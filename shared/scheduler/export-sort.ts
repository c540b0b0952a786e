/**
 * Export files whose keys are not in order, in bounded memory. Every file `dapr scheduler export` writes is one: the
 * Dapr CLI fills two Go maps and gob-encodes them (dapr/cli pkg/scheduler/exportimport.go `Export`), and
 * encoding/gob writes a map by ranging over it (encoding/gob encode.go `encodeMap`), in Go's random map order. So a
 * duplicate key cannot be ruled out by comparing each key with the previous one, and a job's counter can be anywhere
 * in the Counters map.
 *
 * Instead of holding every key (or entry) in memory, the file is read once more and one small reference per entry —
 * its name (the key below `dapr/jobs/` or `dapr/counters/`), its map, and where its value lies in the file — goes
 * through an external merge sort (shared/util/external-sort.ts) by name. In that order a duplicate is two neighbours,
 * and a job and its counter are neighbours too. Memory: one sort run of references, not the file; disk: the sort's
 * runs (about 100 bytes per entry plus the key) and, for pairing, an index file of the same size. Values are read
 * back from the file by offset when they are written.
 *
 * The file must have been decoded and validated first (every key under its map's root): see validateExportFileAt and
 * the restore's first pass.
 */
import { createReadStream } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { open } from "node:fs/promises";
import { createInterface } from "node:readline";
import { HousekeeperError } from "../errors.ts";
import { externalSort } from "../util/external-sort.ts";
import { readExportEntries } from "./gob-decode.ts";
import type { Section } from "./gob-wire.ts";
import { COUNTERS_PREFIX, JOBS_PREFIX } from "./keys.ts";
import type { StoredEntry } from "./store.ts";

export interface ExportSortOptions {
  /** References held in memory per sort run (default: the external sort's, 20,000). */
  runSize?: number;
  /** Where the sort's run files go (default os.tmpdir()). */
  tempDir?: string;
  /** Called as each sort run is spilled to disk (tests: proves several runs were merged). */
  onSpill?: (directory: string, runCount: number) => void;
  /** Called with how many entries the duplicate check has passed so far (the CLI's status line). */
  onChecked?: (checked: number) => void;
}

/** Where one entry of an export file lies: its map, its name (key below the map's root), its value's bytes. */
export interface EntryRef {
  section: Section;
  name: string;
  offset: number;
  length: number;
}

/** A job and its counter (same name under the other root), either possibly absent. */
export interface UnitRef {
  name: string;
  job?: EntryRef;
  counter?: EntryRef;
}

/** A sort record: [name, 0 = jobs | 1 = counters, value offset, value length]. */
type SortRecord = [string, 0 | 1, number, number];

const ROOTS: { [S in Section]: string } = { jobs: JOBS_PREFIX, counters: COUNTERS_PREFIX };
const FIELD: { [S in Section]: string } = { jobs: "Jobs", counters: "Counters" };

export function keyOf(ref: Pick<EntryRef, "section" | "name">): string {
  return ROOTS[ref.section] + ref.name;
}

function compareRecords(a: SortRecord, b: SortRecord): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  return a[1] - b[1];
}

async function* records(path: string): AsyncGenerator<SortRecord> {
  const entries = readExportEntries(createReadStream(path, { highWaterMark: 256 * 1024 }), {
    duplicateCheck: "while-sorted",
  });
  for await (const entry of entries) {
    const root = ROOTS[entry.section];
    if (!entry.key.startsWith(root)) {
      // validated files never get here; refuse rather than pair a key under the wrong name
      throw new HousekeeperError("corrupt-data", `export file: key "${entry.key}" is not under ${root}`);
    }
    yield [entry.key.slice(root.length), entry.section === "jobs" ? 0 : 1, entry.valueOffset, entry.value.byteLength];
  }
}

/**
 * Every entry of an export file on disk, as a reference, sorted by name with a job before its counter. Throws
 * HousekeeperError("corrupt-data") at the first key found twice in one map (Go's decoder would keep the last one
 * silently); references before it may already have been yielded, so check the whole file before acting on them.
 */
export async function* sortedEntryRefs(path: string, options: ExportSortOptions = {}): AsyncGenerator<EntryRef> {
  let previous: SortRecord | undefined;
  for await (const record of externalSort(records(path), {
    compare: compareRecords,
    serialize: (r) => JSON.stringify(r),
    deserialize: (line) => JSON.parse(line) as SortRecord,
    ...(options.runSize === undefined ? {} : { runSize: options.runSize }),
    ...(options.tempDir === undefined ? {} : { tempDir: options.tempDir }),
    ...(options.onSpill === undefined ? {} : { onSpill: options.onSpill }),
  })) {
    const section: Section = record[1] === 0 ? "jobs" : "counters";
    if (previous !== undefined && compareRecords(previous, record) === 0) {
      throw new HousekeeperError(
        "corrupt-data",
        `corrupt export file: duplicate ${FIELD[section]} key "${ROOTS[section]}${record[0]}" ` +
          `(values at bytes ${Math.min(previous[2], record[2])} and ${Math.max(previous[2], record[2])})`,
      );
    }
    previous = record;
    yield { section, name: record[0], offset: record[2], length: record[3] };
  }
}

/** Refuses an export file on disk that holds a key twice in one map, in bounded memory (see sortedEntryRefs). */
export async function checkNoDuplicateKeys(path: string, options: ExportSortOptions = {}): Promise<void> {
  let checked = 0;
  for await (const _ of sortedEntryRefs(path, options)) {
    // only the duplicate check matters here
    options.onChecked?.(++checked);
  }
}

/**
 * Sorts the export file at `path` by name, checks the WHOLE file for duplicate keys, and writes the units (a job with
 * its counter) whose entries `select` keeps to `indexPath`, one line each, in name order. Nothing is left at
 * `indexPath` worth reading unless this returns; it returns the number of units.
 */
export async function writeUnitIndex(
  path: string,
  indexPath: string,
  select: (ref: EntryRef) => boolean,
  options: ExportSortOptions = {},
): Promise<number> {
  const out = await open(indexPath, "w", 0o600);
  let lines: string[] = [];
  let units = 0;
  const flush = async () => {
    if (lines.length === 0) return;
    await out.write(`${lines.join("\n")}\n`);
    lines = [];
  };
  try {
    let unit: UnitRef | undefined;
    const emit = async () => {
      if (unit === undefined) return;
      const j = unit.job;
      const c = unit.counter;
      lines.push(JSON.stringify([unit.name, j?.offset ?? -1, j?.length ?? -1, c?.offset ?? -1, c?.length ?? -1]));
      units++;
      unit = undefined;
      if (lines.length >= 1000) await flush();
    };
    for await (const ref of sortedEntryRefs(path, options)) {
      if (!select(ref)) continue;
      if (unit !== undefined && unit.name !== ref.name) await emit();
      unit ??= { name: ref.name };
      unit[ref.section === "jobs" ? "job" : "counter"] = ref;
    }
    await emit();
    await flush();
  } finally {
    await out.close();
  }
  return units;
}

/** The units of an index written by writeUnitIndex, in its order. */
export async function* readUnitIndex(indexPath: string): AsyncGenerator<UnitRef> {
  const lines = createInterface({
    input: createReadStream(indexPath, { encoding: "utf8", highWaterMark: 64 * 1024 }),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  try {
    for await (const line of lines) {
      if (line === "") continue;
      const [name, jobOffset, jobLength, counterOffset, counterLength] = JSON.parse(line) as [
        string,
        number,
        number,
        number,
        number,
      ];
      const unit: UnitRef = { name };
      if (jobOffset >= 0) unit.job = { section: "jobs", name, offset: jobOffset, length: jobLength };
      if (counterOffset >= 0)
        unit.counter = { section: "counters", name, offset: counterOffset, length: counterLength };
      yield unit;
    }
  } finally {
    lines.close();
  }
}

/** Reads one entry's value back from the (unchanged) file; a short read means the file changed, which is refused. */
export async function readEntry(file: FileHandle, ref: EntryRef): Promise<StoredEntry> {
  const value = Buffer.allocUnsafe(ref.length);
  let done = 0;
  while (done < ref.length) {
    const { bytesRead } = await file.read(value, done, ref.length - done, ref.offset + done);
    if (bytesRead === 0) {
      throw new HousekeeperError("store-error", `the spooled export file ended before the value of ${keyOf(ref)}`);
    }
    done += bytesRead;
  }
  return { key: keyOf(ref), value };
}
