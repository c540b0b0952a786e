/**
 * What `dapr scheduler list|get|delete|delete-all` do, over a SchedulerStore: jobs with their counters, decoded, named
 * and filtered like the Dapr CLI (dapr/cli pkg/scheduler), but streamed in pages at one revision instead of read in
 * one response, and tolerant of values that do not decode (reported per key; the CLI aborts the whole listing).
 */
import { HousekeeperError } from "../errors.ts";
import { compareUtf8 } from "../util/compare-utf8.ts";
import type { FilterKind, JobKind, KeySelection } from "./keys.ts";
import {
  ALL_KEYS,
  COUNTERS_PREFIX,
  deleteAllSelection,
  displayName,
  JOBS_PREFIX,
  jobKind,
  keysForDisplayName,
  matchesFilter,
  normalizePrefixes,
} from "./keys.ts";
import type { JobMetadata, StoredCounter, StoredJob } from "./schema.ts";
import { decodeJobMetadata, decodeStoredCounter, decodeStoredJob } from "./schema.ts";
import type { SchedulerSnapshot, SchedulerStore, StoredEntry } from "./store.ts";

export interface JobRecord {
  /** Canonical job key (`dapr/jobs/…`). */
  key: string;
  /** The Dapr CLI's display name (`workflow/<app>/<instance>/<reminder>`, …). */
  name: string;
  kind: JobKind;
  /** From the job's metadata. */
  namespace: string;
  metadata: JobMetadata;
  job: StoredJob;
  /** The job's counter, if it has one (a job that never fired has none). */
  counter?: StoredCounter;
  /** The stored job value as read, byte for byte (a delete can then insist it is unchanged). */
  value: Uint8Array;
}

/** A key whose value does not decode; `reason` says what is wrong. */
export interface UnreadableKey {
  key: string;
  reason: string;
}

export interface JobPage {
  jobs: JobRecord[];
  unreadable: UnreadableKey[];
}

export interface ListJobsOptions {
  filter?: FilterKind;
  /** Jobs of this namespace only (the CLI's `-n`); undefined lists every namespace. */
  namespace?: string | undefined;
  pageSize?: number;
  /** Read at this snapshot (default: a new one). */
  snapshot?: SchedulerSnapshot;
}

/** Decodes one job value, naming the key when it fails. */
export function decodeJobEntry(key: string, value: Uint8Array): { job: StoredJob; metadata: JobMetadata } {
  try {
    const job = decodeStoredJob(value);
    return { job, metadata: decodeJobMetadata(job.job?.metadata) };
  } catch (error) {
    throw new HousekeeperError("corrupt-data", `job ${key}: ${(error as Error).message}`, { cause: error });
  }
}

function toRecord(
  key: string,
  value: Uint8Array,
  job: StoredJob,
  metadata: JobMetadata,
  counter: StoredCounter | undefined,
): JobRecord {
  const record: JobRecord = {
    key,
    value,
    name: displayName(key, metadata),
    kind: jobKind(metadata),
    namespace: metadata.namespace,
    metadata,
    job,
  };
  if (counter) record.counter = counter;
  return record;
}

/** Concatenated scans of prefixes (normalized, so in key order), flattened to entries. */
async function* scanAll(
  snapshot: SchedulerSnapshot,
  prefixes: readonly string[],
  pageSize: number | undefined,
): AsyncGenerator<StoredEntry[]> {
  for (const prefix of normalizePrefixes(prefixes)) {
    yield* snapshot.scan(prefix, pageSize === undefined ? {} : { pageSize });
  }
}

/** Pulls entries one by one from a paged scan. */
class EntryCursor {
  private page: StoredEntry[] = [];
  private index = 0;
  private done = false;

  constructor(private readonly pages: AsyncIterator<StoredEntry[]>) {}

  /** The next entry whose name (key after its root) is >= `name`, skipping smaller ones; undefined at the end. */
  async seek(name: string, root: string): Promise<StoredEntry | undefined> {
    for (;;) {
      while (this.index < this.page.length) {
        const entry = this.page[this.index]!;
        if (compareUtf8(entry.key.slice(root.length), name) >= 0) return entry;
        this.index++;
      }
      if (this.done) return undefined;
      const next = await this.pages.next();
      if (next.done) {
        this.done = true;
        return undefined;
      }
      this.page = next.value;
      this.index = 0;
    }
  }
}

/**
 * Jobs with their counters under a key selection, in key order, in pages: a merge join of the job scan and the
 * counter scan (both sorted by name), so memory stays at about two pages whatever the size.
 */
export async function* scanJobs(
  snapshot: SchedulerSnapshot,
  selection: KeySelection,
  options: { pageSize?: number; filter?: FilterKind; namespace?: string | undefined } = {},
): AsyncGenerator<JobPage, void, undefined> {
  const filter = options.filter ?? "all";
  const counters = new EntryCursor(scanAll(snapshot, selection.counters, options.pageSize)[Symbol.asyncIterator]());
  for await (const page of scanAll(snapshot, selection.jobs, options.pageSize)) {
    const out: JobPage = { jobs: [], unreadable: [] };
    for (const entry of page) {
      const name = entry.key.slice(JOBS_PREFIX.length);
      const match = await counters.seek(name, COUNTERS_PREFIX);
      const counterEntry = match && match.key.slice(COUNTERS_PREFIX.length) === name ? match : undefined;
      let decoded: { job: StoredJob; metadata: JobMetadata };
      try {
        decoded = decodeJobEntry(entry.key, entry.value);
      } catch (error) {
        out.unreadable.push({ key: entry.key, reason: (error as Error).message });
        continue;
      }
      if (!matchesFilter(jobKind(decoded.metadata), filter)) continue;
      if (options.namespace !== undefined && decoded.metadata.namespace !== options.namespace) continue;
      let counter: StoredCounter | undefined;
      if (counterEntry) {
        try {
          counter = decodeStoredCounter(counterEntry.value);
        } catch (error) {
          out.unreadable.push({ key: counterEntry.key, reason: (error as Error).message });
          continue;
        }
      }
      out.jobs.push(toRecord(entry.key, entry.value, decoded.job, decoded.metadata, counter));
    }
    if (out.jobs.length > 0 || out.unreadable.length > 0) yield out;
  }
}

/**
 * `dapr scheduler list`: the jobs of a namespace (all namespaces when undefined) passing the filter. Like the Dapr CLI
 * (dapr/cli pkg/scheduler/list.go reads all of `dapr/jobs/`, parseJob in scheduler.go filters), the filter and the
 * namespace look at each job's metadata, never its key: a job without a target passes every filter wherever it is.
 */
export async function* listJobs(store: SchedulerStore, options: ListJobsOptions = {}): AsyncGenerator<JobPage> {
  const filter = options.filter ?? "all";
  const snapshot = options.snapshot ?? (await store.snapshot());
  yield* scanJobs(snapshot, ALL_KEYS, {
    filter,
    namespace: options.namespace,
    ...(options.pageSize !== undefined ? { pageSize: options.pageSize } : {}),
  });
}

/**
 * `dapr scheduler get <name>…`: each display name's job and counter in `namespace`, read at one revision. A name that
 * does not parse → bad-input; a job that does not exist → not-found (`job '<name>' not found`, as the CLI says).
 * Like the CLI, a missing counter reads as an empty one (count 0).
 */
export async function getJobs(
  store: SchedulerStore,
  names: readonly string[],
  namespace: string,
): Promise<JobRecord[]> {
  const keys = names.map((name) => keysForDisplayName(name, namespace));
  const values = await store.get(keys.flatMap((k) => [k.job, k.counter]));
  return names.map((name, i) => {
    const { job: jobKey, counter: counterKey } = keys[i]!;
    const jobValue = values.get(jobKey);
    if (jobValue === undefined) throw new HousekeeperError("not-found", `job '${name}' not found`);
    const decoded = decodeJobEntry(jobKey, jobValue);
    const counterValue = values.get(counterKey);
    let counter: StoredCounter = { jobPartitionId: "0", count: 0, attempts: 0 };
    if (counterValue !== undefined) {
      try {
        counter = decodeStoredCounter(counterValue);
      } catch (error) {
        throw new HousekeeperError("corrupt-data", `counter ${counterKey}: ${(error as Error).message}`);
      }
    }
    return toRecord(jobKey, jobValue, decoded.job, decoded.metadata, counter);
  });
}

/**
 * `dapr scheduler delete <name>…`: deletes each job and its counter (one transaction per name, in order). Stops at the
 * first name that is invalid or has no job (`no job with key '<name>' found in namespace '<ns>'`), like the CLI;
 * `onDeleted` hears about each name deleted before that.
 */
export async function deleteJobs(
  store: SchedulerStore,
  names: readonly string[],
  namespace: string,
  onDeleted?: (name: string) => void | Promise<void>,
): Promise<void> {
  for (const name of names) {
    const { job, counter } = keysForDisplayName(name, namespace);
    const deleted = await store.deleteKeys([job, counter]);
    if (!deleted.includes(job)) {
      throw new HousekeeperError("not-found", `no job with key '${name}' found in namespace '${namespace}'`);
    }
    await onDeleted?.(name);
  }
}

export interface DeletedKeys {
  /** Deleted job keys (canonical), per the selection's job prefixes in order. */
  jobs: string[];
  counters: string[];
}

/** Deletes every job and counter under a selection in one transaction. */
export async function deleteSelection(store: SchedulerStore, selection: KeySelection): Promise<DeletedKeys> {
  const results = await store.deletePrefixes([...selection.jobs, ...selection.counters]);
  return {
    jobs: results.slice(0, selection.jobs.length).flat(),
    counters: results.slice(selection.jobs.length).flat(),
  };
}

/** `dapr scheduler delete-all <prefix>` in `namespace` (prefix rules in keys.ts deleteAllSelection). */
export async function deleteAllJobs(store: SchedulerStore, prefix: string, namespace: string): Promise<DeletedKeys> {
  return deleteSelection(store, deleteAllSelection(prefix, namespace));
}
