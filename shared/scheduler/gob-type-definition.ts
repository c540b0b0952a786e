/**
 * Reading the type definitions at the head of a `dapr scheduler export` file (format: gob-wire.ts): gob's wireType
 * (encoding/gob type.go) parsed from one complete message held in memory, reduced to what ExportFileDecoder
 * (gob-decode.ts) checks the value against.
 */
import { HousekeeperError } from "../errors.ts";

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** What every decoding problem becomes: corrupt-data naming the byte offset (shared with gob-decode.ts). */
export function corrupt(offset: number, what: string): HousekeeperError {
  return new HousekeeperError("corrupt-data", `corrupt export file at byte ${offset}: ${what}`);
}

/** Parsed wireType (encoding/gob type.go), reduced to what matters here. */
export type WireType =
  | { kind: "struct"; name: string; fields: Array<{ name: string; id: number }> }
  | { kind: "map"; name: string; key: number; elem: number }
  | { kind: "other"; name: string; what: string };

/** Reads gob primitives from a complete message held in memory (type definitions). */
export class MessageReader {
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

export function parseWireType(r: MessageReader): WireType {
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
