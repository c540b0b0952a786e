/**
 * The storage port every state-store adapter implements. It speaks raw key/value bytes: each adapter undoes its own
 * physical encoding (base64 in jsonb, bytea, Redis hash field `data`, BSON string, VARBINARY) so that everything
 * above it sees the exact bytes Dapr marshalled.
 */
export interface KeyPage {
  keys: string[];
  /** Opaque position after this page; undefined when the scan is finished. */
  cursor: string | undefined;
}

export interface ScanKeysRequest {
  /** Keys must start with this (matched literally, never as a pattern). */
  prefix: string;
  /** Keys must end with this (matched literally). */
  suffix: string;
  pageSize: number;
  /** A cursor returned by an earlier page of the same scan, to continue after it. */
  cursor?: string | undefined;
}

export interface ScanEntriesRequest {
  /** Keys must start with this (matched literally). */
  prefix: string;
  /** Rows per page. */
  pageSize: number;
  /** Continue after this key (a key returned earlier by the same scan). */
  after?: string | undefined;
}

export interface EntryPage {
  /** Rows in the byte order of their keys (UTF-8, as C collation orders them). */
  entries: Array<readonly [string, Uint8Array]>;
  /** True when no row follows this page. */
  done: boolean;
  /** The last row's key (unreadable rows included): where the next page starts after. */
  lastKey: string | undefined;
  /**
   * Rows in this page whose value cannot be read at all (e.g. a JSON null where bytes belong), left out of entries.
   * `index` (how many entries precede the row) places it for a store whose scan order is not byte order (MySQL's
   * collations); without it the row goes back in byte order.
   */
  unreadable?: Array<{ key: string; reason: string; index?: number }>;
}

export interface ReadResult {
  values: Map<string, Uint8Array>;
  /** Keys present in the store whose value cannot be read, with the reason. */
  unreadable: Map<string, string>;
}

export type StoreKind = "postgresql" | "mysql" | "redis" | "mongodb" | "sqlserver" | "sqlite";

export interface StateBackend {
  readonly kind: StoreKind;
  /** A human description of where the data lives (host/db/table), without secrets. */
  readonly location: string;
  /** What would make this store faster to scan (e.g. an index to create), for the doors to say once. */
  readonly advice?: string | undefined;
  /** One page of keys matching prefix…suffix. Pages never overlap; together they cover every matching key. */
  scanKeys(request: ScanKeysRequest): Promise<KeyPage>;
  /**
   * Optional: every row (key and value) under a prefix in key byte order, one ordered range scan a page. Stores that
   * can serve it from an index implement it, and listing then costs one round trip a page instead of three.
   */
  scanEntries?(request: ScanEntriesRequest): Promise<EntryPage>;
  /** Reads many keys in one round trip where the store allows; missing keys are absent from the map. */
  getMany(keys: readonly string[]): Promise<Map<string, Uint8Array>>;
  /**
   * Optional: getMany that also names the keys that exist but cannot be read as Dapr state (a Redis key that is not
   * a hash), with the reason; getMany leaves them out as if absent. Stores where that cannot happen omit it.
   */
  getManyReporting?(keys: readonly string[]): Promise<ReadResult>;
  /** Upserts all entries in one transaction, in Dapr's physical encoding for this store. */
  setMany(entries: ReadonlyArray<readonly [string, Uint8Array]>): Promise<void>;
  /** Deletes the keys in one transaction; returns how many existed. */
  deleteMany(keys: readonly string[]): Promise<number>;
  /**
   * Compare-and-delete: in one transaction that first locks every guard key (so a concurrent writer either committed
   * before, and is seen, or waits until after), deletes each group's keys only where its guards still hold exactly
   * the expected bytes. See planGuardedDeletion for what each outcome means.
   */
  deleteIfUnchanged(groups: readonly GuardedGroup[]): Promise<GuardedDeletion>;
  close(): Promise<void>;
}

/** Dapr writes binary values as standard, padded base64 (Go's base64.StdEncoding); anything else is not its value. */
export function isStandardBase64(text: string): boolean {
  return text.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(text);
}

/** The smallest string above every string that starts with `prefix`, in byte order (prefixes end in ASCII here). */
export function prefixUpperBound(prefix: string): string {
  const last = prefix.charCodeAt(prefix.length - 1);
  if (!(last >= 0x20 && last < 0x7f)) throw new Error(`prefix must end in printable ASCII: ${JSON.stringify(prefix)}`);
  return prefix.slice(0, -1) + String.fromCharCode(last + 1);
}

/** Escapes `%`, `_` and `\` so a literal string can be used in `LIKE … ESCAPE '\'`. */
export function escapeLike(literal: string): string {
  return literal.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** One instance's part of a guarded deletion: the values it was decided on, and the keys it owns. */
export interface GuardedMember {
  /** Keys and the exact bytes they held when the decision was made; the first is the instance's metadata. */
  expect: ReadonlyArray<readonly [string, Uint8Array]>;
  keys: readonly string[];
}

/** Members deleted together or not at all (a workflow and the children purged with it); the first is the root. */
export type GuardedGroup = readonly GuardedMember[];

/**
 * deleted: every member unchanged (members already gone as a whole are fine), their keys deleted;
 * changed: some member differs from what was decided (a new event, a new run under the same ID): nothing deleted;
 * gone: the root no longer exists (deleted by someone else): nothing deleted.
 */
export type GuardedOutcome = "deleted" | "changed" | "gone";

export interface GuardedDeletion {
  outcomes: GuardedOutcome[];
  /** Keys this transaction deleted (not keys someone else deleted first). */
  keysDeleted: number;
}

/** Every guard key of the groups, for the adapter to lock and read. */
export function guardKeys(groups: readonly GuardedGroup[]): string[] {
  return [...new Set(groups.flatMap((group) => group.flatMap((member) => member.expect.map(([key]) => key))))];
}

/** Decides each group from the guard keys' current values (read under lock); returns the keys to delete. */
export function planGuardedDeletion(
  groups: readonly GuardedGroup[],
  current: ReadonlyMap<string, Uint8Array>,
): { outcomes: GuardedOutcome[]; keys: string[] } {
  const keys: string[] = [];
  const outcomes = groups.map((group): GuardedOutcome => {
    const memberStates = group.map((member) => {
      const present = member.expect.filter(([key]) => current.has(key));
      if (present.length === 0) return "gone";
      if (present.length < member.expect.length) return "changed";
      return member.expect.every(([key, bytes]) => Buffer.compare(current.get(key)!, bytes) === 0) ? "same" : "changed";
    });
    if (memberStates[0] === "gone") return "gone";
    if (memberStates.includes("changed")) return "changed";
    group.forEach((member, i) => {
      if (memberStates[i] === "same") keys.push(...member.keys);
    });
    return "deleted";
  });
  return { outcomes, keys: [...new Set(keys)] };
}

/** Runs a transaction again (up to 5 times, with a short random pause) when the database chose it as deadlock victim. */
export async function retryDeadlocks<T>(
  transaction: () => Promise<T>,
  isDeadlock: (error: unknown) => boolean,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await transaction();
    } catch (error) {
      if (attempt >= 5 || !isDeadlock(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, attempt * 20 * Math.random()));
    }
  }
}
