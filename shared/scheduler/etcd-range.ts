/**
 * etcd's KV.Range on the wire, for bulk reads (export, scans): the request encoded and the response decoded by hand,
 * keeping only what a scan needs (each KeyValue's key and value, as views into the response, and `more`). The
 * generic client decodes every field of every KeyValue into objects, its four int64s into decimal strings; on a
 * large export that was most of Node's work and garbage.
 *
 * Field numbers from etcd's api/etcdserverpb/rpc.proto (RangeRequest: key 1, range_end 2, limit 3, revision 4;
 * RangeResponse: header 1, kvs 2, more 3, count 4) and api/mvccpb/kv.proto (KeyValue: key 1, create_revision 2,
 * mod_revision 3, version 4, value 5, lease 6).
 */

export interface RangeRequestFields {
  key: Uint8Array;
  rangeEnd: Uint8Array;
  limit: number;
  /** Decimal int64 (etcd revisions), as the store keeps them. */
  revision: string;
}

export interface RawKeyValue {
  key: Buffer;
  value: Buffer;
}

export interface RawRangeResponse {
  kvs: RawKeyValue[];
  more: boolean;
}

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

export function encodeRangeRequest({ key, rangeEnd, limit, revision }: RangeRequestFields): Buffer {
  if (!Number.isSafeInteger(limit) || limit < 0) throw new Error(`bad Range limit ${limit}`);
  const rev = BigInt(revision);
  if (rev < 0n) throw new Error(`bad revision ${revision}`);
  const parts: number[] = [];
  const varint = (value: bigint) => {
    let v = value;
    while (v >= 0x80n) {
      parts.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    parts.push(Number(v));
  };
  const bytes = (field: number, data: Uint8Array) => {
    varint(BigInt((field << 3) | WIRE_LEN));
    varint(BigInt(data.length));
    for (const b of data) parts.push(b);
  };
  bytes(1, key);
  bytes(2, rangeEnd);
  if (limit > 0) {
    varint(BigInt((3 << 3) | WIRE_VARINT));
    varint(BigInt(limit));
  }
  if (rev > 0n) {
    varint(BigInt((4 << 3) | WIRE_VARINT));
    varint(rev);
  }
  return Buffer.from(parts);
}

class Reader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  /** A varint as a number (exact up to 2^53; larger ones are only skipped or compared with zero here). */
  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new Error("etcd Range response: truncated varint");
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 128;
    }
    throw new Error("etcd Range response: varint longer than 10 bytes");
  }

  /** [start, end) of a length-delimited field's payload; moves past it. */
  span(): [number, number] {
    const length = this.varint();
    const start = this.pos;
    const end = start + length;
    if (end > this.end) throw new Error("etcd Range response: field runs past its message");
    this.pos = end;
    return [start, end];
  }

  skip(wire: number): void {
    if (wire === WIRE_VARINT) this.varint();
    else if (wire === WIRE_LEN) this.span();
    else if (wire === WIRE_I64) this.pos += 8;
    else if (wire === WIRE_I32) this.pos += 4;
    else throw new Error(`etcd Range response: unsupported wire type ${wire}`);
    if (this.pos > this.end) throw new Error("etcd Range response: truncated field");
  }
}

const EMPTY: Buffer = Buffer.alloc(0);

export function decodeRangeResponse(buf: Buffer): RawRangeResponse {
  const kvs: RawKeyValue[] = [];
  let more = false;
  const r = new Reader(buf, 0, buf.length);
  while (r.pos < r.end) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 2 && wire === WIRE_LEN) {
      const [start, end] = r.span();
      kvs.push(decodeKeyValue(buf, start, end));
    } else if (field === 3 && wire === WIRE_VARINT) {
      more = r.varint() !== 0;
    } else {
      r.skip(wire);
    }
  }
  return { kvs, more };
}

function decodeKeyValue(buf: Buffer, start: number, end: number): RawKeyValue {
  let key: Buffer = EMPTY;
  let value: Buffer = EMPTY;
  const r = new Reader(buf, start, end);
  while (r.pos < r.end) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if ((field === 1 || field === 5) && wire === WIRE_LEN) {
      const [s, e] = r.span();
      if (field === 1) key = buf.subarray(s, e);
      else value = buf.subarray(s, e);
    } else {
      r.skip(wire);
    }
  }
  return { key, value };
}
