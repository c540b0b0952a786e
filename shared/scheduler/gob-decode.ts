/**
 * The decoder of the `dapr scheduler export` file (format and sources: gob-wire.ts).
 *
 * The decoder is a push parser (feed chunks, pull entries), so a file can be checked or applied without holding it
 * whole; it validates every length against the message and the stream, rejects anything that is not this shape,
 * and reports the byte offset of what is wrong.
 */
import { corrupt, MessageReader, parseWireType, type WireType } from "./gob-type-definition.ts";
import {
  type ExportEntry,
  type ExportFileContents,
  type ExportFileSummary,
  FIELD_NAMES,
  FIRST_USER_ID,
  MAX_ITEM,
  MAX_MESSAGE,
  MAX_TYPE_MESSAGE,
  type Section,
  T_BYTES,
  T_STRING,
} from "./gob-wire.ts";

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

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
