/**
 * The encoder of the `dapr scheduler export` file (format and sources: gob-wire.ts).
 *
 * The whole value is ONE gob message whose length comes first, and each map's entry count precedes its entries: an
 * encoder must know the counts and sizes before it writes the first byte. `exportPrelude` / `ExportFileEncoder` take
 * those up front (see shared/scheduler/export.ts for the two ways our exports learn them).
 */
import { HousekeeperError } from "../errors.ts";
import { compareUtf8 } from "../util/compare-utf8.ts";
import {
  FIELD_NAMES,
  GO_MAP_NAME,
  GO_STRUCT_NAME,
  MAP_ID,
  MAX_MESSAGE,
  type Section,
  type SectionSize,
  STRUCT_ID,
  T_BYTES,
  T_STRING,
} from "./gob-wire.ts";

const utf8 = new TextEncoder();

/** Bytes of gob's unsigned encoding of x. */
export function uintSize(x: number): number {
  if (x < 0x80) return 1;
  let n = 0;
  for (let v = x; v > 0; v = Math.floor(v / 256)) n++;
  return 1 + n;
}

function putUint(out: Uint8Array, at: number, x: number): number {
  if (!Number.isSafeInteger(x) || x < 0) throw new RangeError(`gob: cannot encode ${x} as an unsigned integer`);
  if (x < 0x80) {
    out[at] = x;
    return at + 1;
  }
  const n = uintSize(x) - 1;
  out[at] = 256 - n;
  let v = x;
  for (let i = n; i >= 1; i--) {
    out[at + i] = v % 256;
    v = Math.floor(v / 256);
  }
  return at + 1 + n;
}

function zigzag(i: number): number {
  return i < 0 ? -i * 2 - 1 : i * 2;
}

class ByteBuilder {
  private parts: Uint8Array[] = [];
  length = 0;

  bytes(b: Uint8Array): this {
    this.parts.push(b);
    this.length += b.length;
    return this;
  }

  uint(x: number): this {
    const b = new Uint8Array(uintSize(x));
    putUint(b, 0, x);
    return this.bytes(b);
  }

  int(i: number): this {
    return this.uint(zigzag(i));
  }

  string(s: string): this {
    const b = utf8.encode(s);
    return this.uint(b.length).bytes(b);
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  /** This builder's bytes as one gob message: length, then the bytes. */
  message(): Uint8Array {
    return new ByteBuilder().uint(this.length).bytes(this.finish()).finish();
  }
}

/** CommonType{Name, Id}: fields 0 and 1, each present (non-zero). */
function commonType(b: ByteBuilder, name: string, id: number): void {
  b.uint(1).uint(1).string(name).uint(1).int(id).uint(0);
}

function structTypeDefinition(id: number, name: string, fields: Array<[string, number]>): Uint8Array {
  const b = new ByteBuilder().int(-id);
  b.uint(3); // wireType.StructT (field 2)
  commonType(b, name, id);
  b.uint(1).uint(fields.length); // structType.Field (field 1): slice of *fieldType
  for (const [fieldName, fieldId] of fields) b.uint(1).string(fieldName).uint(1).int(fieldId).uint(0);
  b.uint(0); // end structType
  b.uint(0); // end wireType
  return b.message();
}

function mapTypeDefinition(id: number, name: string, key: number, elem: number): Uint8Array {
  const b = new ByteBuilder().int(-id);
  b.uint(4); // wireType.MapT (field 3)
  commonType(b, name, id);
  b.uint(1).int(key).uint(1).int(elem).uint(0); // Key, Elem, end mapType
  b.uint(0); // end wireType
  return b.message();
}

const TYPE_DEFINITIONS = new ByteBuilder()
  .bytes(
    structTypeDefinition(STRUCT_ID, GO_STRUCT_NAME, [
      [FIELD_NAMES.jobs, MAP_ID],
      [FIELD_NAMES.counters, MAP_ID],
    ]),
  )
  .bytes(mapTypeDefinition(MAP_ID, GO_MAP_NAME, T_STRING, T_BYTES))
  .finish();

/** Encoded size of one map entry whose key has `keyBytes` UTF-8 bytes and whose value has `valueBytes`. */
export function entrySize(keyBytes: number, valueBytes: number): number {
  return uintSize(keyBytes) + keyBytes + uintSize(valueBytes) + valueBytes;
}

/** One map entry: key (string) then value ([]byte). */
export function encodeEntry(key: string | Uint8Array, value: Uint8Array): Uint8Array {
  const k = typeof key === "string" ? utf8.encode(key) : key;
  const out = new Uint8Array(entrySize(k.length, value.length));
  encodeEntryInto(out, 0, k, value);
  return out;
}

/** Writes one map entry (UTF-8 key bytes, value) into `out` at `at`; returns the offset after it. */
export function encodeEntryInto(out: Uint8Array, at: number, key: Uint8Array, value: Uint8Array): number {
  let pos = putUint(out, at, key.length);
  out.set(key, pos);
  pos = putUint(out, pos + key.length, value.length);
  out.set(value, pos);
  return pos + value.length;
}

function valueMessageLength(jobs: SectionSize, counters: SectionSize): number {
  const length =
    uintSize(zigzag(STRUCT_ID)) +
    (1 + uintSize(jobs.count) + jobs.bytes) +
    (1 + uintSize(counters.count) + counters.bytes) +
    1;
  if (length >= MAX_MESSAGE) {
    throw new HousekeeperError(
      "bad-input",
      `export too large for one gob message (${length} bytes; Go's limit is 8 GiB)`,
    );
  }
  return length;
}

/** Total file size for these two maps. */
export function exportFileSize(jobs: SectionSize, counters: SectionSize): number {
  const length = valueMessageLength(jobs, counters);
  return TYPE_DEFINITIONS.length + uintSize(length) + length;
}

/** Everything before the first Jobs entry: type definitions, the value message's length, type id, Jobs header. */
export function exportPrelude(jobs: SectionSize, counters: SectionSize): Uint8Array {
  const b = new ByteBuilder().bytes(TYPE_DEFINITIONS).uint(valueMessageLength(jobs, counters));
  b.int(STRUCT_ID).uint(1).uint(jobs.count); // field 0 (delta 1): Jobs, its count
  return b.finish();
}

/** Between the last Jobs entry and the first Counters entry: field 1 (delta 1) and its count. */
export function countersHeader(counters: SectionSize): Uint8Array {
  return new ByteBuilder().uint(1).uint(counters.count).finish();
}

/** After the last Counters entry: end of struct. */
export const EXPORT_TRAILER = Uint8Array.of(0);

/**
 * Streams one export file given its sizes up front: `prelude()`, then `entry()` for every job and then every counter
 * (each returns the bytes to write), then `finish()`. Throws if the entries do not add up to the promised sizes or
 * come out of section order — the bytes written so far are then not a valid file and must be discarded.
 */
export class ExportFileEncoder {
  private section: Section = "jobs";
  private readonly seen: Record<Section, SectionSize> = {
    jobs: { count: 0, bytes: 0 },
    counters: { count: 0, bytes: 0 },
  };
  private started = false;

  constructor(private readonly plan: { jobs: SectionSize; counters: SectionSize }) {}

  prelude(): Uint8Array {
    this.started = true;
    return exportPrelude(this.plan.jobs, this.plan.counters);
  }

  entry(section: Section, key: string | Uint8Array, value: Uint8Array): Uint8Array {
    if (!this.started) throw new Error("ExportFileEncoder: prelude() first");
    const encoded = encodeEntry(key, value);
    const parts: Uint8Array[] = [];
    if (section !== this.section) {
      if (section === "jobs") throw new Error("ExportFileEncoder: jobs after counters");
      parts.push(this.switchToCounters());
    }
    const seen = this.seen[section];
    seen.count++;
    seen.bytes += encoded.length;
    const planned = this.plan[section];
    if (seen.count > planned.count || seen.bytes > planned.bytes) throw this.mismatch();
    if (parts.length === 0) return encoded;
    parts.push(encoded);
    return concat(parts);
  }

  finish(): Uint8Array {
    const parts: Uint8Array[] = [];
    if (this.section === "jobs") parts.push(this.switchToCounters());
    const { jobs, counters } = this.seen;
    if (counters.count !== this.plan.counters.count || counters.bytes !== this.plan.counters.bytes) {
      throw this.mismatch();
    }
    if (jobs.count !== this.plan.jobs.count || jobs.bytes !== this.plan.jobs.bytes) throw this.mismatch();
    parts.push(EXPORT_TRAILER);
    return concat(parts);
  }

  private switchToCounters(): Uint8Array {
    const { jobs } = this.seen;
    if (jobs.count !== this.plan.jobs.count || jobs.bytes !== this.plan.jobs.bytes) throw this.mismatch();
    this.section = "counters";
    return countersHeader(this.plan.counters);
  }

  private mismatch(): HousekeeperError {
    const s = (x: SectionSize) => `${x.count} entries/${x.bytes} bytes`;
    return new HousekeeperError(
      "store-error",
      `export entries changed while writing: planned jobs ${s(this.plan.jobs)}, counters ${s(this.plan.counters)}; ` +
        `got jobs ${s(this.seen.jobs)}, counters ${s(this.seen.counters)}`,
    );
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  return Buffer.concat(parts);
}

type EntrySource = Iterable<readonly [string, Uint8Array]>;

/**
 * Encodes a whole export file in memory. Keys are sorted by UTF-8 bytes unless `sortKeys` is false (then the
 * iteration order is kept, e.g. to reproduce a given Go stream byte for byte).
 */
export function encodeExportFile(
  contents: { jobs: EntrySource; counters: EntrySource },
  options: { sortKeys?: boolean } = {},
): Uint8Array {
  const prepare = (source: EntrySource): Array<[Uint8Array, Uint8Array]> => {
    const list = [...source].map(([k, v]) => [k, v] as const);
    if (options.sortKeys ?? true) list.sort((a, b) => compareUtf8(a[0], b[0]));
    const seen = new Set<string>();
    return list.map(([k, v]) => {
      if (seen.has(k)) throw new HousekeeperError("bad-input", `duplicate key in export: "${k}"`);
      seen.add(k);
      return [utf8.encode(k), v];
    });
  };
  const jobs = prepare(contents.jobs);
  const counters = prepare(contents.counters);
  const size = (list: Array<[Uint8Array, Uint8Array]>): SectionSize => ({
    count: list.length,
    bytes: list.reduce((sum, [k, v]) => sum + entrySize(k.length, v.length), 0),
  });
  const encoder = new ExportFileEncoder({ jobs: size(jobs), counters: size(counters) });
  const parts = [encoder.prelude()];
  for (const [k, v] of jobs) parts.push(encoder.entry("jobs", k, v));
  for (const [k, v] of counters) parts.push(encoder.entry("counters", k, v));
  parts.push(encoder.finish());
  return Buffer.concat(parts);
}
