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

export type StoreKind = "postgresql" | "mysql" | "redis" | "mongodb" | "sqlserver";

export interface StateBackend {
  readonly kind: StoreKind;
  /** A human description of where the data lives (host/db/table), without secrets. */
  readonly location: string;
  /** One page of keys matching prefix…suffix. Pages never overlap; together they cover every matching key. */
  scanKeys(request: ScanKeysRequest): Promise<KeyPage>;
  /** Reads many keys in one round trip where the store allows; missing keys are absent from the map. */
  getMany(keys: readonly string[]): Promise<Map<string, Uint8Array>>;
  /** Upserts all entries in one transaction, in Dapr's physical encoding for this store. */
  setMany(entries: ReadonlyArray<readonly [string, Uint8Array]>): Promise<void>;
  /** Deletes the keys in one transaction; returns how many existed. */
  deleteMany(keys: readonly string[]): Promise<number>;
  close(): Promise<void>;
}

/** Escapes `%`, `_` and `\` so a literal string can be used in `LIKE … ESCAPE '\'`. */
export function escapeLike(literal: string): string {
  return literal.replace(/[\\%_]/g, (c) => `\\${c}`);
}
