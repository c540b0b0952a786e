/**
 * The `dapr scheduler export` file format: Go `encoding/gob` of the Dapr CLI's
 *
 *   type ExportFile struct {            // dapr/cli pkg/scheduler/exportimport.go
 *     Jobs     map[string][]byte        // etcd key -> stored job protobuf
 *     Counters map[string][]byte        // etcd key -> stored counter protobuf
 *   }
 *
 * written with `gob.NewEncoder(f).Encode(&out)`. No npm package implements gob, so this is our own encoder and
 * decoder for exactly this shape (written from Go's encoding/gob documentation and cross-checked against Go itself in
 * test/scheduler/gob-crosscheck.test.ts).
 *
 * The stream a fresh Go process writes for it (what the Dapr CLI writes, and what we write):
 *   message 1: type definition of id 65: struct "ExportFile" { Jobs: 66, Counters: 66 }
 *   message 2: type definition of id 66: map "map[string][]uint8" { Key: 6 (string), Elem: 5 ([]byte) }
 *   message 3: the value: type id 65; field 0 (Jobs): count, count × (key, value); field 1 (Counters): same; 0.
 * Every message is preceded by its byte length. gob integers: an unsigned value < 128 is one byte; otherwise a byte
 * holding the negated byte count, then the value big-endian in that many bytes. A signed value is zig-zagged into an
 * unsigned one (bit 0 = sign, complemented when negative). Struct fields are sent as (field-number delta, value) and
 * end with a 0 delta; zero-valued fields (nil maps) are omitted, empty non-nil maps are sent with count 0 (as Dapr's
 * `make(map…)` maps are). Strings and byte slices are a length and the bytes.
 *
 * encoding/gob writes a map by ranging over it (encoding/gob encode.go, encodeMap), and Go ranges over maps in random
 * order: a file `dapr scheduler export` writes lists each map in no particular order, different run to run — never
 * in key order. Ours are deterministic: entries are written in the order given, which for our exports is etcd key
 * order (UTF-8 byte order, like Go's sort.Strings). Readers must not assume either (see shared/scheduler/export-sort.ts
 * for how an unordered file is checked and paired in bounded memory).
 *
 * The whole value is ONE gob message whose length comes first, and each map's entry count precedes its entries: an
 * encoder must know the counts and sizes before it writes the first byte. `exportPrelude` / `ExportFileEncoder` take
 * those up front (see shared/scheduler/export.ts for the two ways our exports learn them).
 *
 * The decoder is a push parser (feed chunks, pull entries), so a file can be checked or applied without holding it
 * whole; it validates every length against the message and the stream, rejects anything that is not this shape,
 * and reports the byte offset of what is wrong.
 */
import { HousekeeperError } from "../errors.ts";
import { compareUtf8 } from "./keys.ts";

export type Section = "jobs" | "counters";

export interface ExportEntry {
  section: Section;
  key: string;
  value: Uint8Array;
  /** Byte offset of the value in the file (to read it again later without holding it). */
  valueOffset: number;
}

export interface ExportFileContents {
  jobs: Map<string, Uint8Array>;
  counters: Map<string, Uint8Array>;
}

/** Entry count and total encoded entry bytes (see `entrySize`) of one map. */
export interface SectionSize {
  count: number;
  bytes: number;
}

/** The Go type and field names gob sends in the type definition; Dapr's decoder matches fields by name. */
export const GO_STRUCT_NAME = "ExportFile";
export const GO_MAP_NAME = "map[string][]uint8";
const FIELD_NAMES: Record<Section, string> = { jobs: "Jobs", counters: "Counters" };

// gob's predefined type ids (encoding/gob type.go).
const T_BYTES = 5;
const T_STRING = 6;
/** Ids a fresh Go process gives the first two user types (firstUserId is 64; ids start after it). */
const STRUCT_ID = 65;
const MAP_ID = 66;
const FIRST_USER_ID = 64;

/** Go's decoder refuses messages of 8 GiB or more (tooBig on 64-bit); ours stays within Number's exact range too. */
const MAX_MESSAGE = 2 ** 33;
const MAX_TYPE_MESSAGE = 1 << 20;
/** etcd keys and values are below 2 GiB (Dapr's scheduler sets --max-request-bytes to MaxInt32). */
const MAX_ITEM = 2 ** 31 - 1;

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

// ---------------------------------------------------------------------------------------------------------------
// Encoding

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

// ---------------------------------------------------------------------------------------------------------------
// Decoding

/** What a decoded file held, beyond its entries. */
export interface ExportFileSummary {
  jobs: number;
  counters: number;
  /** Total bytes of the file. */
  bytes: number;
  /** The Go struct name in the file's type definition (`ExportFile` for the Dapr CLI). */
  structName: string;
  /** Both maps came in strictly increasing key order (see ExportFileDecoder's duplicateCheck). */
  sorted: boolean;
}

function corrupt(offset: number, what: string): HousekeeperError {
  return new HousekeeperError("corrupt-data", `corrupt export file at byte ${offset}: ${what}`);
}

/** Parsed wireType (encoding/gob type.go), reduced to what matters here. */
type WireType =
  | { kind: "struct"; name: string; fields: Array<{ name: string; id: number }> }
  | { kind: "map"; name: string; key: number; elem: number }
  | { kind: "other"; name: string; what: string };

/** Reads gob primitives from a complete message held in memory (type definitions). */
class MessageReader {
  constructor(
    private readonly buf: Uint8Array,
    public pos: number,
    private readonly end: number,
    private readonly base: number,
  ) {}

  get offset(): number {
    return this.base + this.pos;
  }

  uint(what: string): number {
    const start = this.pos;
    if (start >= this.end) throw corrupt(this.base + start, `${what} runs past the end of its message`);
    const b = this.buf[start]!;
    if (b < 0x80) {
      this.pos = start + 1;
      return b;
    }
    const n = 256 - b;
    if (n > 8)
      throw corrupt(this.base + start, `invalid unsigned integer (length byte 0x${b.toString(16)}) in ${what}`);
    if (start + 1 + n > this.end) throw corrupt(this.base + start, `${what} runs past the end of its message`);
    let x = 0;
    for (let i = 1; i <= n; i++) x = x * 256 + this.buf[start + i]!;
    if (!Number.isSafeInteger(x)) throw corrupt(this.base + start, `${what} is too large (${x})`);
    this.pos = start + 1 + n;
    return x;
  }

  int(what: string): number {
    const u = this.uint(what);
    return u % 2 === 1 ? -(u - 1) / 2 - 1 : u / 2;
  }

  string(what: string): string {
    const at = this.offset;
    const length = this.uint(`length of ${what}`);
    if (this.pos + length > this.end) throw corrupt(at, `${what} (${length} bytes) runs past the end of its message`);
    const bytes = this.buf.subarray(this.pos, this.pos + length);
    this.pos += length;
    try {
      return strictUtf8.decode(bytes);
    } catch {
      throw corrupt(at, `${what} is not valid UTF-8`);
    }
  }

  /** A struct: calls `field(index)` for each present field until the 0 delta; field must consume its value. */
  struct(what: string, fieldCount: number, field: (index: number) => void): void {
    let index = -1;
    for (;;) {
      const at = this.offset;
      const delta = this.uint(`field delta in ${what}`);
      if (delta === 0) return;
      index += delta;
      if (index >= fieldCount) throw corrupt(at, `field number ${index} out of range in ${what}`);
      field(index);
    }
  }
}

function parseCommonType(r: MessageReader, out: { name: string; id: number }): void {
  r.struct("CommonType", 2, (i) => {
    if (i === 0) out.name = r.string("type name");
    else out.id = r.int("type id");
  });
}

function parseWireType(r: MessageReader): WireType {
  let result: WireType | undefined;
  const at = r.offset;
  const other = (what: string, fields: number) => {
    const common = { name: "", id: 0 };
    r.struct(what, fields, (i) => {
      if (i === 0) parseCommonType(r, common);
      else r.uint(`${what} field ${i}`); // Elem / Len: plain integers
    });
    return { kind: "other" as const, name: common.name, what };
  };
  r.struct("wireType", 7, (i) => {
    if (result !== undefined) throw corrupt(r.offset, "type definition describes more than one type");
    switch (i) {
      case 0:
        result = other("arrayType", 3);
        break;
      case 1:
        result = other("sliceType", 2);
        break;
      case 2: {
        const common = { name: "", id: 0 };
        const fields: Array<{ name: string; id: number }> = [];
        r.struct("structType", 2, (j) => {
          if (j === 0) parseCommonType(r, common);
          else {
            const count = r.uint("struct field count");
            if (count > 1024) throw corrupt(r.offset, `implausible struct field count ${count}`);
            for (let k = 0; k < count; k++) {
              const f = { name: "", id: 0 };
              r.struct("fieldType", 2, (m) => {
                if (m === 0) f.name = r.string("field name");
                else f.id = r.int("field type id");
              });
              fields.push(f);
            }
          }
        });
        result = { kind: "struct", name: common.name, fields };
        break;
      }
      case 3: {
        const common = { name: "", id: 0 };
        const map = { key: 0, elem: 0 };
        r.struct("mapType", 3, (j) => {
          if (j === 0) parseCommonType(r, common);
          else if (j === 1) map.key = r.int("map key type id");
          else map.elem = r.int("map element type id");
        });
        result = { kind: "map", name: common.name, ...map };
        break;
      }
      default:
        result = other(["GobEncoder", "BinaryMarshaler", "TextMarshaler"][i - 4]!, 1);
    }
  });
  if (result === undefined) throw corrupt(at, "empty type definition");
  return result;
}

type DecodeState = "message" | "fields" | "entries" | "after";

/** One step of the decoder: an entry, a request for more input, or the end with a summary. */
export type DecodeStep =
  | { kind: "entry"; entry: ExportEntry }
  | { kind: "need-input" }
  | { kind: "done"; summary: ExportFileSummary };

const SHORT = Symbol("short");

export interface ExportFileDecoderOptions {
  /** How duplicate keys are found (see ExportFileDecoder); default "all-keys". */
  duplicateCheck?: "all-keys" | "while-sorted";
}

/**
 * Push parser for export files: `push()` chunks (and `end()` at EOF), call `next()` until it returns "done"; on
 * "need-input" push more. Throws HousekeeperError("corrupt-data") naming the problem and its byte offset. Entry
 * values are views into the pushed chunks (not copied). Duplicate keys within a map are refused (Go would keep the
 * last one silently). By default that check holds every key of the file in a Set; with `duplicateCheck:
 * "while-sorted"` it holds only the previous key of each map, which proves there are no duplicates as long as the keys
 * come in strictly increasing order (as our exports do; `dapr scheduler export` writes Go maps, so its files come in
 * Go's random map order) — `sorted` then says whether they did, and a caller that finds `sorted` false must check the
 * file again: with the default (every key in memory), or in bounded memory by sorting (checkNoDuplicateKeys in
 * shared/scheduler/export-sort.ts).
 */
export class ExportFileDecoder {
  private buf: Uint8Array = new Uint8Array(0);
  private pos = 0;
  /** Absolute file offset of buf[0]. */
  private base = 0;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private ended = false;

  private state: DecodeState = "message";
  private readonly types = new Map<number, WireType>();
  private messageEnd = 0;
  private struct: { name: string; fields: Array<{ name: string; section: Section }> } | undefined;
  private fieldIndex = -1;
  private section: Section = "jobs";
  private remaining = 0;
  private entryIndex = 0;
  private readonly counts: Record<Section, number> = { jobs: 0, counters: 0 };
  private readonly keys: Record<Section, Set<string>> = { jobs: new Set(), counters: new Set() };
  private readonly lastKey: Record<Section, string | undefined> = { jobs: undefined, counters: undefined };
  private inOrder = true;
  private readonly checkAllKeys: boolean;

  constructor(options: ExportFileDecoderOptions = {}) {
    this.checkAllKeys = (options.duplicateCheck ?? "all-keys") === "all-keys";
  }

  /** True while the keys of each map have come in strictly increasing order (JavaScript string order). */
  get sorted(): boolean {
    return this.inOrder;
  }
  private describe = "the first message";
  private describeAt = 0;
  /** Absolute offset the last SHORT step needs buffered before it can go on. */
  private want = 0;

  push(chunk: Uint8Array): void {
    if (this.ended) throw new Error("ExportFileDecoder: push after end");
    if (chunk.length === 0) return;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
  }

  end(): void {
    this.ended = true;
  }

  private get offset(): number {
    return this.base + this.pos;
  }

  next(): DecodeStep {
    for (;;) {
      this.want = this.base + this.buf.length + 1;
      const step = this.step();
      if (step !== SHORT) return step;
      // Merge only once enough has arrived: re-parsing after every small chunk would copy a large value many times.
      const have = this.base + this.buf.length + this.pendingBytes;
      if (this.pendingBytes > 0 && (have >= this.want || this.ended)) {
        this.merge();
        continue;
      }
      if (!this.ended) return { kind: "need-input" };
      const fileEnd = this.base + this.buf.length;
      if (this.state === "message" && this.describe === "the first message" && fileEnd === 0) {
        throw corrupt(0, "the file is empty");
      }
      throw corrupt(fileEnd, `the file ends inside ${this.describe} that starts at byte ${this.describeAt}`);
    }
  }

  /** Moves every pending chunk behind the unread bytes of buf. */
  private merge(): void {
    const rest = this.buf.subarray(this.pos);
    const parts = rest.length > 0 ? [rest, ...this.pending] : this.pending;
    this.base += this.pos;
    this.buf = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    this.pos = 0;
    this.pending = [];
    this.pendingBytes = 0;
  }

  /** Reads an unsigned gob integer at buf[at]; SHORT if the buffer ends first. */
  private uintAt(at: number, limit: number, what: string): [number, number] | typeof SHORT {
    if (at >= limit) {
      if (limit < this.messageEndLocal()) return SHORT;
      throw corrupt(this.base + at, `${what} runs past the end of the message that ends at byte ${this.messageEnd}`);
    }
    if (at >= this.buf.length) return SHORT;
    const b = this.buf[at]!;
    if (b < 0x80) return [b, at + 1];
    const n = 256 - b;
    if (n > 8) throw corrupt(this.base + at, `invalid unsigned integer (length byte 0x${b.toString(16)}) in ${what}`);
    if (at + 1 + n > limit) {
      if (limit < this.messageEndLocal()) return this.short(at + 1 + n);
      throw corrupt(this.base + at, `${what} runs past the end of the message that ends at byte ${this.messageEnd}`);
    }
    if (at + 1 + n > this.buf.length) return this.short(at + 1 + n);
    let x = 0;
    for (let i = 1; i <= n; i++) x = x * 256 + this.buf[at + i]!;
    if (!Number.isSafeInteger(x)) throw corrupt(this.base + at, `${what} is too large`);
    return [x, at + 1 + n];
  }

  /** SHORT, noting that buf must reach `localEnd` before the step can succeed. */
  private short(localEnd: number): typeof SHORT {
    this.want = this.base + localEnd;
    return SHORT;
  }

  /** The current message's end relative to buf (bounded by what is buffered). */
  private messageEndLocal(): number {
    return this.messageEnd - this.base;
  }

  /** Limit for reads inside the current message: its end, or the buffer's end if that comes first. */
  private limit(): number {
    return Math.min(this.messageEndLocal(), this.buf.length);
  }

  private step(): DecodeStep | typeof SHORT {
    switch (this.state) {
      case "message":
        return this.readMessageHeader();
      case "fields":
        return this.readField();
      case "entries":
        return this.readEntry();
      case "after":
        if (this.pos < this.buf.length || this.pendingBytes > 0) {
          if (this.pos >= this.buf.length) this.merge();
          throw corrupt(this.offset, "unexpected data after the export value (a gob file holds one value)");
        }
        if (!this.ended) return SHORT;
        return {
          kind: "done",
          summary: {
            jobs: this.counts.jobs,
            counters: this.counts.counters,
            bytes: this.base + this.buf.length,
            structName: this.struct?.name ?? "",
            sorted: this.inOrder,
          },
        };
    }
  }

  private readMessageHeader(): DecodeStep | typeof SHORT {
    const start = this.pos;
    this.describeAt = this.offset;
    this.describe = this.types.size === 0 ? "the first message" : "a message header";
    if (start >= this.buf.length) {
      if (this.ended && this.pendingBytes === 0 && this.base + this.buf.length > 0) {
        throw corrupt(this.offset, "the file ends after the type definitions, before the export value");
      }
      return SHORT;
    }
    // Message length: read against the buffer only (no message bounds yet).
    this.messageEnd = Number.MAX_SAFE_INTEGER;
    const length = this.uintAt(start, this.buf.length, "message length");
    if (length === SHORT) return SHORT;
    const [messageLength, afterLength] = length;
    if (messageLength === 0) throw corrupt(this.base + start, "zero-length message");
    if (messageLength >= MAX_MESSAGE) throw corrupt(this.base + start, `message length ${messageLength} is too large`);
    this.messageEnd = this.base + afterLength + messageLength;
    this.describe = `the message of ${messageLength} bytes`;
    const id = this.uintAt(afterLength, this.limit(), "type id");
    if (id === SHORT) return SHORT;
    const [rawId, afterId] = id;
    const typeId = rawId % 2 === 1 ? -(rawId - 1) / 2 - 1 : rawId / 2;
    if (typeId < 0) {
      if (messageLength > MAX_TYPE_MESSAGE) {
        throw corrupt(this.base + start, `type definition message of ${messageLength} bytes is implausibly large`);
      }
      if (this.messageEndLocal() > this.buf.length) return this.short(this.messageEndLocal());
      this.readTypeDefinition(-typeId, afterId);
      return this.step();
    }
    // The value message.
    this.bindStruct(typeId, this.base + afterLength);
    this.pos = afterId;
    this.state = "fields";
    this.fieldIndex = -1;
    return this.step();
  }

  private readTypeDefinition(id: number, at: number): void {
    const idOffset = this.describeAt;
    if (id < FIRST_USER_ID || this.types.has(id)) {
      throw corrupt(idOffset, `duplicate or reserved type id ${id} in a type definition`);
    }
    const reader = new MessageReader(this.buf, at, this.messageEndLocal(), this.base);
    const wire = parseWireType(reader);
    if (reader.pos !== this.messageEndLocal()) {
      throw corrupt(reader.offset, `${this.messageEndLocal() - reader.pos} extra bytes after a type definition`);
    }
    this.types.set(id, wire);
    this.pos = reader.pos;
  }

  private bindStruct(typeId: number, at: number): void {
    const wire = this.types.get(typeId);
    if (wire === undefined) throw corrupt(at, `value of type id ${typeId}, which no type definition declared`);
    if (wire.kind !== "struct") {
      throw corrupt(at, `the value is a ${wire.kind === "map" ? "map" : wire.what} ("${wire.name}"), not a struct`);
    }
    const fields = wire.fields.map((f) => {
      const section = f.name === FIELD_NAMES.jobs ? "jobs" : f.name === FIELD_NAMES.counters ? "counters" : undefined;
      if (section === undefined) {
        throw corrupt(at, `struct "${wire.name}" has field "${f.name}"; an export file has only Jobs and Counters`);
      }
      const map = this.types.get(f.id);
      if (map?.kind !== "map" || map.key !== T_STRING || map.elem !== T_BYTES) {
        throw corrupt(at, `field "${f.name}" of struct "${wire.name}" is not a map[string][]byte`);
      }
      return { name: f.name, section: section as Section };
    });
    if (new Set(fields.map((f) => f.section)).size !== fields.length) {
      throw corrupt(at, `struct "${wire.name}" declares a field twice`);
    }
    this.struct = { name: wire.name, fields };
  }

  private readField(): DecodeStep | typeof SHORT {
    this.describeAt = this.offset;
    this.describe = "a struct field header";
    const delta = this.uintAt(this.pos, this.limit(), "field delta");
    if (delta === SHORT) return SHORT;
    const [d, afterDelta] = delta;
    if (d === 0) {
      const trailing = this.messageEnd - (this.base + afterDelta);
      if (trailing !== 0) {
        throw corrupt(this.base + afterDelta, `${trailing} extra bytes after the end of the value inside its message`);
      }
      this.pos = afterDelta;
      this.state = "after";
      return this.step();
    }
    const fieldIndex = this.fieldIndex + d;
    const field = this.struct!.fields[fieldIndex];
    if (field === undefined) throw corrupt(this.describeAt, `field number ${fieldIndex} is out of range`);
    const count = this.uintAt(afterDelta, this.limit(), `${field.name} entry count`);
    if (count === SHORT) return SHORT;
    const [n, afterCount] = count;
    const room = this.messageEnd - (this.base + afterCount);
    if (n * 2 > room) {
      throw corrupt(this.base + afterDelta, `${field.name} claims ${n} entries but only ${room} bytes remain`);
    }
    this.fieldIndex = fieldIndex;
    this.section = field.section;
    this.remaining = n;
    this.entryIndex = 0;
    this.pos = afterCount;
    this.state = "entries";
    return this.step();
  }

  private readEntry(): DecodeStep | typeof SHORT {
    if (this.remaining === 0) {
      this.state = "fields";
      return this.step();
    }
    const name = FIELD_NAMES[this.section];
    this.describeAt = this.offset;
    this.describe = `${name} entry ${this.entryIndex + 1}`;
    const limit = this.limit();
    const keyLength = this.uintAt(this.pos, limit, `key length of ${this.describe}`);
    if (keyLength === SHORT) return SHORT;
    const [kl, keyStart] = keyLength;
    this.checkItem(kl, keyStart, "key");
    if (keyStart + kl > this.buf.length) return this.short(keyStart + kl);
    const valueLength = this.uintAt(keyStart + kl, limit, `value length of ${this.describe}`);
    if (valueLength === SHORT) return SHORT;
    const [vl, valueStart] = valueLength;
    this.checkItem(vl, valueStart, "value");
    if (valueStart + vl > this.buf.length) return this.short(valueStart + vl);

    let key: string;
    try {
      key = strictUtf8.decode(this.buf.subarray(keyStart, keyStart + kl));
    } catch {
      throw corrupt(this.base + keyStart, `the key of ${this.describe} is not valid UTF-8`);
    }
    const previous = this.lastKey[this.section];
    if (this.inOrder && previous !== undefined && key <= previous) {
      if (key === previous) throw corrupt(this.describeAt, `duplicate ${name} key "${key}"`);
      this.inOrder = false;
    }
    this.lastKey[this.section] = key;
    if (this.checkAllKeys) {
      const keys = this.keys[this.section];
      if (keys.has(key)) throw corrupt(this.describeAt, `duplicate ${name} key "${key}"`);
      keys.add(key);
    }
    const value = this.buf.subarray(valueStart, valueStart + vl);
    this.pos = valueStart + vl;
    this.remaining--;
    this.entryIndex++;
    this.counts[this.section]++;
    return { kind: "entry", entry: { section: this.section, key, value, valueOffset: this.base + valueStart } };
  }

  private checkItem(length: number, start: number, what: "key" | "value"): void {
    if (length > MAX_ITEM)
      throw corrupt(this.base + start, `${what} of ${this.describe} is implausibly large (${length})`);
    if (this.base + start + length > this.messageEnd) {
      throw corrupt(
        this.base + start,
        `the ${what} of ${this.describe} (${length} bytes) runs past the end of the message at byte ${this.messageEnd}`,
      );
    }
  }
}

/** Decodes a whole export file held in memory (entries in file order). */
export function decodeExportFile(bytes: Uint8Array): ExportFileContents & { summary: ExportFileSummary } {
  const decoder = new ExportFileDecoder();
  decoder.push(bytes);
  decoder.end();
  const out: ExportFileContents = { jobs: new Map(), counters: new Map() };
  for (;;) {
    const step = decoder.next();
    if (step.kind === "entry") out[step.entry.section].set(step.entry.key, step.entry.value);
    else if (step.kind === "done") return { ...out, summary: step.summary };
    else throw new Error("unreachable: decoder wants input after end()");
  }
}

/**
 * Streams the entries of an export file from chunks (a file read stream, an S3 body…). The generator's return value
 * is the summary; a corrupt or truncated file throws — possibly after some entries were yielded, so a consumer that
 * must not half-apply anything reads the whole stream first (or validates in a first pass).
 */
export async function* readExportEntries(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: ExportFileDecoderOptions = {},
): AsyncGenerator<ExportEntry, ExportFileSummary, undefined> {
  const decoder = new ExportFileDecoder(options);
  const iterator =
    Symbol.asyncIterator in source
      ? (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]()
      : (source as Iterable<Uint8Array>)[Symbol.iterator]();
  for (;;) {
    const step = decoder.next();
    if (step.kind === "entry") yield step.entry;
    else if (step.kind === "done") return step.summary;
    else {
      const chunk = await iterator.next();
      if (chunk.done) decoder.end();
      else decoder.push(chunk.value);
    }
  }
}
