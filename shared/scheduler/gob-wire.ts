/**
 * The `dapr scheduler export` file format: Go `encoding/gob` of the Dapr CLI's
 *
 *   type ExportFile struct {            // dapr/cli pkg/scheduler/exportimport.go
 *     Jobs     map[string][]byte        // etcd key -> stored job protobuf
 *     Counters map[string][]byte        // etcd key -> stored counter protobuf
 *   }
 *
 * written with `gob.NewEncoder(f).Encode(&out)`. No npm package implements gob, so this is our own encoder
 * (gob-encode.ts) and decoder (gob-decode.ts, gob-type-definition.ts) for exactly this shape (written from Go's
 * encoding/gob documentation and cross-checked against Go itself in test/scheduler/gob-crosscheck.test.ts). This
 * module holds what both sides share: the file's types, gob's type ids for it, and the size limits.
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
 */

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

/** The Go type and field names gob sends in the type definition; Dapr's decoder matches fields by name. */
export const GO_STRUCT_NAME = "ExportFile";
export const GO_MAP_NAME = "map[string][]uint8";
export const FIELD_NAMES: Record<Section, string> = { jobs: "Jobs", counters: "Counters" };

// gob's predefined type ids (encoding/gob type.go).
export const T_BYTES = 5;
export const T_STRING = 6;
/** Ids a fresh Go process gives the first two user types (firstUserId is 64; ids start after it). */
export const STRUCT_ID = 65;
export const MAP_ID = 66;
export const FIRST_USER_ID = 64;

/** Go's decoder refuses messages of 8 GiB or more (tooBig on 64-bit); ours stays within Number's exact range too. */
export const MAX_MESSAGE = 2 ** 33;
export const MAX_TYPE_MESSAGE = 1 << 20;
/** etcd keys and values are below 2 GiB (Dapr's scheduler sets --max-request-bytes to MaxInt32). */
export const MAX_ITEM = 2 ** 31 - 1;
