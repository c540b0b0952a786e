/**
 * The port the scheduler features use to reach the Dapr Scheduler's key-value store (its embedded etcd). Keys are
 * canonical (`dapr/jobs/…`, `dapr/counters/…`); an adapter maps them onto its own root, so tests can work under a
 * private prefix while everything above it speaks Dapr's layout. Values are the stored protobuf bytes, untouched.
 *
 * Consistency: every read of a `SchedulerSnapshot` is served at the snapshot's revision, so paging through 100,000
 * keys (and reading counters after jobs) sees one point in time. Writes are transactions of at most
 * MAX_TXN_OPS operations (etcd's default `--max-txn-ops`, and the batch `dapr scheduler import` uses).
 */

export const MAX_TXN_OPS = 128;
/** Default request budget of one write transaction (etcd's default `--max-request-bytes` is 1.5 MiB). */
export const DEFAULT_MAX_TXN_BYTES = 1024 * 1024;
/** First page of an adaptive scan; later pages aim at DEFAULT_PAGE_BYTES from the sizes seen so far. */
export const DEFAULT_PAGE_SIZE = 1000;
export const DEFAULT_PAGE_BYTES = 4 * 1024 * 1024;
export const MAX_PAGE_SIZE = 50_000;

export interface StoredEntry {
  /** Canonical key (`dapr/jobs/…`). */
  key: string;
  value: Uint8Array;
  /** The canonical key as UTF-8 bytes, when a scan has them at hand (saves re-encoding `key`). */
  keyBytes?: Uint8Array;
}

export interface ScanOptions {
  /**
   * Keys per page. Default: adaptive — 1000 first, then as many as fit in about 4 MiB (at most 50,000). Large pages
   * matter: etcd (3.4–3.6) walks its index over the whole rest of the range on every limited Range request, so
   * paging costs grow with (keys / page size) × keys.
   */
  pageSize?: number;
  /** Resume strictly after this canonical key. */
  after?: string;
}

export interface SchedulerSnapshot {
  /** The store revision every read of this snapshot is served at (etcd revision, decimal). */
  readonly revision: string;
  /** Every key under the canonical prefix, in key (byte) order, in pages. */
  scan(prefix: string, options?: ScanOptions): AsyncGenerator<StoredEntry[], void, undefined>;
  /** The values of these keys (absent keys are missing from the map). */
  get(keys: readonly string[]): Promise<Map<string, Uint8Array>>;
}

export interface PutOptions {
  /** Write only if none of the keys exists; otherwise write nothing and return false (one atomic check). */
  ifAbsent?: boolean;
}

export interface PrefixRead {
  revision: string;
  /** Entries per prefix, in the order of the prefixes asked for. */
  entries: StoredEntry[][];
}

/** Keys from `from` (inclusive) through every key that starts with `through`, in key (byte) order. */
export interface KeyRange {
  from: string;
  through: string;
}

export interface RangeRead {
  revision: string;
  /** Entries per range, in the order of the ranges asked for. */
  entries: StoredEntry[][];
  /** Per range: true when it holds more than `limit` keys (its entries are then the first `limit`). */
  truncated: boolean[];
}

export interface SchedulerStore {
  /** Where the canonical `dapr/` root lives in this store (e.g. `dapr/`, or `t-1234/dapr/` in tests). */
  readonly root: string;
  /** Pins the current revision. */
  snapshot(): Promise<SchedulerSnapshot>;
  /** Current values of these keys, read at one revision. */
  get(keys: readonly string[]): Promise<Map<string, Uint8Array>>;
  /**
   * Every entry under each prefix, in one transaction (≤ MAX_TXN_OPS ranges), at `revision` when given (else the
   * current one, returned so further reads can use it). For many small prefixes, one round trip instead of many.
   */
  readPrefixes(prefixes: readonly string[], options?: { revision?: string }): Promise<PrefixRead>;
  /**
   * The first `limit` entries of each range, in one transaction (≤ MAX_TXN_OPS ranges), at `revision` when given:
   * a batch of neighbouring prefixes read in one range instead of one prefix each.
   */
  readRanges(ranges: readonly KeyRange[], options: { revision?: string; limit: number }): Promise<RangeRead>;
  /** Deletes these keys in one transaction (≤ MAX_TXN_OPS); returns which of them existed. */
  deleteKeys(keys: readonly string[]): Promise<string[]>;
  /**
   * Deletes `expected` and `alsoDelete` in one transaction, only if every expected key still holds exactly its
   * value (≤ MAX_TXN_OPS keys in all); false, deleting nothing, when one changed or is gone.
   */
  deleteIfUnchanged(expected: readonly StoredEntry[], alsoDelete?: readonly string[]): Promise<boolean>;
  /** Deletes every key under each prefix in one transaction (≤ MAX_TXN_OPS); returns the deleted keys per prefix. */
  deletePrefixes(prefixes: readonly string[]): Promise<string[][]>;
  /** Puts these entries in one transaction (≤ MAX_TXN_OPS); false only when `ifAbsent` found a key. */
  put(entries: readonly StoredEntry[], options?: PutOptions): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * Splits entries into write batches of at most `maxOps` operations and about `maxBytes` of keys and values (an entry
 * bigger than `maxBytes` goes alone).
 */
export function* writeBatches(
  entries: Iterable<StoredEntry>,
  maxOps = MAX_TXN_OPS,
  maxBytes = DEFAULT_MAX_TXN_BYTES,
): Generator<StoredEntry[]> {
  let batch: StoredEntry[] = [];
  let bytes = 0;
  for (const entry of entries) {
    const size = Buffer.byteLength(entry.key) + entry.value.byteLength + 16;
    if (batch.length > 0 && (batch.length >= maxOps || bytes + size > maxBytes)) {
      yield batch;
      batch = [];
      bytes = 0;
    }
    batch.push(entry);
    bytes += size;
  }
  if (batch.length > 0) yield batch;
}
