/**
 * Reminder restore, step 2 (reminder-restore.ts has the whole story): the write plan over the verified spool file.
 * The units (a job with its counter) come from a merge of the two key-ordered maps, or from the unit index of an
 * out-of-order file; they are cut into transaction-sized batches, and each key's outcome is decided from what etcd
 * holds now and the conflict policy.
 */
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { readEntry, readUnitIndex, type UnitRef } from "../scheduler/export-sort.ts";
import { readExportEntries } from "../scheduler/gob-decode.ts";
import type { ExportEntry, ExportFileSummary } from "../scheduler/gob-wire.ts";
import { COUNTERS_PREFIX, JOBS_PREFIX, type KeySelection } from "../scheduler/keys.ts";
import type { StoredEntry } from "../scheduler/store.ts";
import { selects } from "./reminder-restore-verify.ts";

export type ConflictPolicy = "skip-existing" | "overwrite";

/** One job with its counter (either may be absent from the backup). */
export interface Unit {
  job?: StoredEntry;
  counter?: StoredEntry;
}

type State = "absent" | "same" | "different";
export type Outcome = "create" | "overwrite" | "unchanged" | "skip";

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
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
export async function* mergedUnits(spoolPath: string, selection: KeySelection | undefined): AsyncGenerator<Unit> {
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
export async function* indexedUnits(spoolPath: string, indexPath: string): AsyncGenerator<Unit> {
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

export async function* unitBatches(
  units: AsyncIterable<Unit>,
  maxOps: number,
  maxBytes: number,
): AsyncGenerator<Unit[]> {
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
export function decide(
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
