/**
 * The BSON side of Dapr's `state.mongodb` layout (components-contrib state/mongodb/mongodb.go): reading a raw document
 * of Dapr's collection into the value bytes Dapr would return, and writing the exact document Dapr's setInternal
 * leaves behind. Why raw bytes rather than the driver's documents: see the adapter, mongodb.ts.
 */
import { randomUUID } from "node:crypto";
import { deserialize } from "bson";
import type { Document } from "mongodb";
import { errorMessage, HousekeeperError } from "../errors.ts";

/** The field names of Dapr's documents (the layout in mongodb.ts's opening comment). */
export const MONGO_FIELDS = { id: "_id", value: "value", etag: "_etag", ttl: "_ttl" } as const;

// ---------------------------------------------------------------------------------------------------------------
// Raw BSON reading. Hand-written on purpose: no BSON library returns a string element's bytes losslessly (js-bson
// decodes to a JS string, validating or replacing invalid UTF-8), and we only need to walk top-level elements.

/** Where one element's value lies inside a BSON document. */
export interface BsonElement {
  type: number;
  name: string;
  /** Offset of the element's type byte. */
  elementStart: number;
  /** Offset of the value (after the name's NUL). */
  valueStart: number;
  /** Offset just past the value. */
  valueEnd: number;
}

function corrupt(message: string): never {
  throw new HousekeeperError("corrupt-data", `malformed BSON document: ${message}`);
}

function int32At(bytes: Uint8Array, offset: number): number {
  if (offset + 4 > bytes.length) corrupt(`int32 at ${offset} runs past the end`);
  return (bytes[offset]! | (bytes[offset + 1]! << 8) | (bytes[offset + 2]! << 16) | (bytes[offset + 3]! << 24)) >>> 0;
}

function cstringEnd(bytes: Uint8Array, offset: number, limit: number): number {
  const end = bytes.indexOf(0, offset);
  if (end < 0 || end >= limit) corrupt(`unterminated cstring at ${offset}`);
  return end;
}

/** Size in bytes of a value of `type` starting at `offset` (BSON spec 1.1). */
function valueSize(bytes: Uint8Array, type: number, offset: number, limit: number): number {
  switch (type) {
    case 0x01: // double
    case 0x09: // UTC datetime
    case 0x11: // timestamp
    case 0x12: // int64
      return 8;
    case 0x13: // decimal128
      return 16;
    case 0x07: // ObjectId
      return 12;
    case 0x08: // boolean
      return 1;
    case 0x10: // int32
      return 4;
    case 0x06: // undefined
    case 0x0a: // null
    case 0x7f: // max key
    case 0xff: // min key
      return 0;
    case 0x02: // string
    case 0x0d: // JavaScript code
    case 0x0e: // symbol
      return 4 + int32At(bytes, offset);
    case 0x03: // embedded document
    case 0x04: // array
    case 0x0f: // code with scope
      return int32At(bytes, offset);
    case 0x05: // binary: int32 length, subtype byte, bytes
      return 4 + 1 + int32At(bytes, offset);
    case 0x0b: {
      // regex: two cstrings
      const first = cstringEnd(bytes, offset, limit);
      return cstringEnd(bytes, first + 1, limit) + 1 - offset;
    }
    case 0x0c: // DBPointer: string + 12-byte ObjectId
      return 4 + int32At(bytes, offset) + 12;
    default:
      return corrupt(`unknown element type 0x${type.toString(16)} at ${offset}`);
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: false });

/** Walks the top-level elements of one BSON document. */
export function* bsonElements(bson: Uint8Array): Generator<BsonElement> {
  if (bson.length < 5) corrupt("shorter than 5 bytes");
  const size = int32At(bson, 0);
  if (size < 5 || size > bson.length) corrupt(`declared size ${size} does not fit ${bson.length} bytes`);
  if (bson[size - 1] !== 0) corrupt("missing terminating NUL");
  let offset = 4;
  while (offset < size - 1) {
    const elementStart = offset;
    const type = bson[offset]!;
    const nameEnd = cstringEnd(bson, offset + 1, size - 1);
    const name = utf8.decode(bson.subarray(offset + 1, nameEnd));
    const valueStart = nameEnd + 1;
    const valueEnd = valueStart + valueSize(bson, type, valueStart, size - 1);
    if (valueEnd > size - 1) corrupt(`element "${name}" runs past the end of the document`);
    yield { type, name, elementStart, valueStart, valueEnd };
    offset = valueEnd;
  }
}

export function findBsonElement(bson: Uint8Array, name: string): BsonElement | undefined {
  for (const element of bsonElements(bson)) {
    if (element.name === name) return element;
  }
  return undefined;
}

/** The bytes of a BSON string element (without its length and trailing NUL). */
function stringBytes(bson: Uint8Array, element: BsonElement): Uint8Array {
  const length = int32At(bson, element.valueStart);
  if (length < 1 || element.valueStart + 4 + length !== element.valueEnd || bson[element.valueEnd - 1] !== 0) {
    corrupt(`string "${element.name}" has a bad length or no trailing NUL`);
  }
  return bson.subarray(element.valueStart + 4, element.valueEnd - 1);
}

/** Reads a top-level string field as text (for `_id`, which Dapr always writes as a valid UTF-8 string). */
export function readStringField(bson: Uint8Array, name: string): string | undefined {
  const element = findBsonElement(bson, name);
  if (element === undefined || element.type !== 0x02) return undefined;
  return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(stringBytes(bson, element));
}

/**
 * The value bytes Dapr would return for one raw document of its collection, or undefined when there is no `value`:
 *   string → its exact bytes (raw protobuf, possibly invalid UTF-8);
 *   binary → its payload;
 *   document, array or scalar → JSON text as Dapr's decodeData renders it (legacy JSON state).
 */
export function readRawValueField(bson: Uint8Array): Uint8Array | undefined {
  const element = findBsonElement(bson, MONGO_FIELDS.value);
  if (element === undefined) return undefined;
  switch (element.type) {
    case 0x02:
      return stringBytes(bson, element);
    case 0x05: {
      const length = int32At(bson, element.valueStart);
      const subtype = bson[element.valueStart + 4];
      const payload = bson.subarray(element.valueStart + 5, element.valueStart + 5 + length);
      // Subtype 2 (old binary) wraps the payload in its own int32 length.
      if (subtype === 0x02 && payload.length >= 4) return payload.subarray(4, 4 + int32At(payload, 0));
      return payload;
    }
    default:
      return new TextEncoder().encode(elementAsJson(bson, element));
  }
}

/** Re-wraps one element as `{value: …}`, decodes it with js-bson and renders it like Go's json.Marshal. */
function elementAsJson(bson: Uint8Array, element: BsonElement): string {
  const body = bson.subarray(element.elementStart, element.valueEnd);
  const doc = new Uint8Array(4 + body.length + 1);
  new DataView(doc.buffer).setInt32(0, doc.length, true);
  doc.set(body, 4);
  let decoded: Document;
  try {
    decoded = deserialize(doc, { useBigInt64: true, promoteBuffers: false });
  } catch (error) {
    corrupt(`value "${element.name}" cannot be decoded: ${errorMessage(error)}`);
  }
  return goJson(decoded[element.name]);
}

/** JSON text as Go's encoding/json renders the values the Go driver decodes to (maps sorted by key). */
function goJson(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "number") return Number.isFinite(value) ? JSON.stringify(value) : "null";
  if (typeof value === "string" || typeof value === "boolean") return JSON.stringify(value);
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map((v) => goJson(v)).join(",")}]`;
  if (typeof value === "object") {
    const bsontype = (value as { _bsontype?: string })._bsontype;
    if (bsontype === "ObjectId" || bsontype === "Decimal128") return JSON.stringify(String(value));
    if (bsontype === "Binary") {
      const b = value as { sub_type: number; buffer: Uint8Array };
      return `{"Subtype":${b.sub_type},"Data":${JSON.stringify(Buffer.from(b.buffer).toString("base64"))}}`;
    }
    if (bsontype !== undefined) return JSON.stringify(String(value));
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${goJson(record[k])}`).join(",")}}`;
  }
  return JSON.stringify(String(value));
}

// ---------------------------------------------------------------------------------------------------------------
// Raw BSON writing

class BsonWriter {
  private chunks: Uint8Array[] = [];
  private length = 0;

  private push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.length += bytes.length;
  }

  private header(type: number, name: string): void {
    this.push(Uint8Array.of(type));
    this.push(new TextEncoder().encode(name));
    this.push(Uint8Array.of(0));
  }

  private int32(n: number): Uint8Array {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setInt32(0, n, true);
    return b;
  }

  /** A BSON string element whose bytes are taken as given (no UTF-8 encoding or validation). */
  stringBytes(name: string, bytes: Uint8Array): this {
    this.header(0x02, name);
    this.push(this.int32(bytes.length + 1));
    this.push(bytes);
    this.push(Uint8Array.of(0));
    return this;
  }

  string(name: string, text: string): this {
    return this.stringBytes(name, new TextEncoder().encode(text));
  }

  document(name: string, doc: Uint8Array): this {
    this.header(0x03, name);
    this.push(doc);
    return this;
  }

  boolean(name: string, value: boolean): this {
    this.header(0x08, name);
    this.push(Uint8Array.of(value ? 1 : 0));
    return this;
  }

  null(name: string): this {
    this.header(0x0a, name);
    return this;
  }

  finish(): Uint8Array {
    const out = new Uint8Array(4 + this.length + 1);
    new DataView(out.buffer).setInt32(0, out.length, true);
    let offset = 4;
    for (const c of this.chunks) {
      out.set(c, offset);
      offset += c.length;
    }
    return out;
  }
}

/** The document Dapr's setInternal leaves behind: `{_id, value: <string of raw bytes>, _etag, _ttl: null}`. */
export function encodeDaprDocument(key: string, value: Uint8Array, etag: string): Uint8Array {
  return new BsonWriter()
    .string(MONGO_FIELDS.id, key)
    .stringBytes(MONGO_FIELDS.value, value)
    .string(MONGO_FIELDS.etag, etag)
    .null(MONGO_FIELDS.ttl)
    .finish();
}

/** One statement of an `update` command: replace-or-insert the document with `_id = key`. */
export function encodeUpsertStatement(key: string, value: Uint8Array, etag: string = randomUUID()): Uint8Array {
  return new BsonWriter()
    .document("q", new BsonWriter().string(MONGO_FIELDS.id, key).finish())
    .document("u", encodeDaprDocument(key, value, etag))
    .boolean("upsert", true)
    .boolean("multi", false)
    .finish();
}
