/**
 * Our gob encoder/decoder for the export file on its own (Go cross-check: gob-crosscheck.test.ts): layout, streaming
 * in arbitrary chunks, and refusal of every truncation and of corrupted or foreign shapes with the byte offset.
 */
import { describe, expect, it } from "vitest";
import { HousekeeperError } from "../../shared/errors.ts";
import { decodeExportFile, readExportEntries } from "../../shared/scheduler/gob-decode.ts";
import {
  ExportFileEncoder,
  encodeEntry,
  encodeExportFile,
  entrySize,
  exportFileSize,
} from "../../shared/scheduler/gob-encode.ts";
import type { ExportEntry } from "../../shared/scheduler/gob-wire.ts";

/** What a fresh Go process writes for ExportFile{Jobs: {a: 01 02, b: ""}, Counters: {c: 01 02 03}} in sorted order. */
const GO_SMALL_HEX =
  "30ff810301010a4578706f727446696c6501ff8200010201044a6f627301ff84000108436f756e7465727301ff8400000022ff8304" +
  "0101126d61705b737472696e675d5b5d75696e743801ff8400010c010a000015ff8201020161020102016200010101630301020300";
/** Go's bytes for ExportFile{} (both maps nil: the fields are omitted). */
const GO_NIL_MAPS_TAIL = "03ff8200";

const small = () =>
  encodeExportFile({
    jobs: [
      ["b", new Uint8Array(0)],
      ["a", Uint8Array.of(1, 2)],
    ],
    counters: [["c", Uint8Array.of(1, 2, 3)]],
  });

function expectCorrupt(fn: () => unknown, pattern?: RegExp): HousekeeperError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(HousekeeperError);
    expect((error as HousekeeperError).code).toBe("corrupt-data");
    expect((error as Error).message).toMatch(/^corrupt export file at byte \d+: /);
    if (pattern) expect((error as Error).message).toMatch(pattern);
    return error as HousekeeperError;
  }
  throw new Error("expected a corrupt-data error");
}

describe("encoding", () => {
  it("writes Go's bytes, keys sorted by UTF-8", () => {
    expect(Buffer.from(small()).toString("hex")).toBe(GO_SMALL_HEX);
  });

  it("keeps the given order when asked", () => {
    const bytes = encodeExportFile(
      {
        jobs: [
          ["b", new Uint8Array(0)],
          ["a", Uint8Array.of(1, 2)],
        ],
        counters: [],
      },
      { sortKeys: false },
    );
    expect([...decodeExportFile(bytes).jobs.keys()]).toEqual(["b", "a"]);
  });

  it("sizes add up", () => {
    const value = new Uint8Array(300);
    expect(encodeEntry("k€y", value).length).toBe(entrySize(Buffer.byteLength("k€y"), 300));
    const file = encodeExportFile({ jobs: [["k€y", value]], counters: [["c", value]] });
    expect(file.length).toBe(
      exportFileSize({ count: 1, bytes: entrySize(5, 300) }, { count: 1, bytes: entrySize(1, 300) }),
    );
  });

  it("refuses duplicate keys and plans that do not match the entries", () => {
    expect(() =>
      encodeExportFile({
        jobs: [
          ["a", new Uint8Array(0)],
          ["a", new Uint8Array(0)],
        ],
        counters: [],
      }),
    ).toThrow(/duplicate key/);
    const encoder = new ExportFileEncoder({ jobs: { count: 1, bytes: 3 }, counters: { count: 0, bytes: 0 } });
    encoder.prelude();
    expect(() => encoder.entry("jobs", "a", Uint8Array.of(1, 2))).toThrow(/changed while writing/);
  });
});

describe("decoding", () => {
  it("reads Go's nil maps as empty", () => {
    const typeDefs = Buffer.from(GO_SMALL_HEX, "hex").subarray(0, 0x31 + 0x23);
    const file = Buffer.concat([typeDefs, Buffer.from(GO_NIL_MAPS_TAIL, "hex")]);
    const decoded = decodeExportFile(file);
    expect(decoded.jobs.size + decoded.counters.size).toBe(0);
    expect(decoded.summary.structName).toBe("ExportFile");
  });

  it("streams from chunks of any size with the same result", async () => {
    const entries: Array<[string, Uint8Array]> = [];
    for (let i = 0; i < 200; i++) entries.push([`dapr/jobs/ключ-${i}-🙂`, Buffer.alloc(i * 7, i)]);
    const file = encodeExportFile({ jobs: entries, counters: entries.slice(0, 50) });
    const whole = decodeExportFile(file);
    for (const size of [1, 2, 3, 7, 64, 1000, file.length]) {
      const chunks: Uint8Array[] = [];
      for (let at = 0; at < file.length; at += size) chunks.push(file.subarray(at, at + size));
      const got: ExportEntry[] = [];
      const reader = readExportEntries(
        (async function* () {
          yield* chunks;
        })(),
      );
      let result = await reader.next();
      while (!result.done) {
        got.push(result.value);
        result = await reader.next();
      }
      expect(result.value).toEqual(whole.summary);
      const digest = (list: Array<[string, Uint8Array]>) =>
        list.map(([k, v]) => `${k}=${Buffer.from(v).toString("hex")}`);
      expect(digest(got.filter((e) => e.section === "jobs").map((e) => [e.key, e.value]))).toEqual(
        digest([...whole.jobs]),
      );
      expect(got.filter((e) => e.section === "counters")).toHaveLength(50);
    }
  });

  it("refuses every truncation, naming the offset", () => {
    const file = small();
    for (let cut = 0; cut < file.length; cut++) {
      const error = expectCorrupt(() => decodeExportFile(file.subarray(0, cut)));
      expect(error.message).toMatch(cut === 0 ? /the file is empty/ : /the file ends/);
      expect(error.message).toContain(`at byte ${cut}:`);
    }
  });

  it("refuses trailing data, a second value and bad integers", () => {
    const file = Buffer.from(small());
    expectCorrupt(() => decodeExportFile(Buffer.concat([file, Buffer.from([0])])), /unexpected data after/);
    expectCorrupt(() => decodeExportFile(Buffer.concat([file, file])), /unexpected data after/);
    const bad = Buffer.from(file);
    bad[0] = 0xf0; // a 16-byte unsigned integer does not exist
    expectCorrupt(() => decodeExportFile(bad), /at byte 0: invalid unsigned integer/);
  });

  it("refuses other shapes: renamed field, wrong map type, a non-struct value, duplicate keys", () => {
    const file = Buffer.from(small());
    const renamed = Buffer.from(file.toString("latin1").replace("Jobs", "Jobz"), "latin1");
    expectCorrupt(() => decodeExportFile(renamed), /has field "Jobz"; an export file has only Jobs and Counters/);

    const wrongKey = Buffer.from(file);
    const mapKeyAt = file.indexOf(Buffer.from("010c010a", "hex"), 0x31);
    wrongKey[mapKeyAt + 1] = 0x04; // key type: bool
    expectCorrupt(
      () => decodeExportFile(wrongKey),
      /field "Jobs" of struct "ExportFile" is not a map\[string\]\[\]byte/,
    );

    const valueIsMap = Buffer.from(file);
    valueIsMap[0x31 + 0x23 + 2] = 0x84; // value message type id 66 (the map)
    expectCorrupt(() => decodeExportFile(valueIsMap), /the value is a map/);

    const dup = encodeExportFile(
      {
        jobs: [
          ["x", new Uint8Array(0)],
          ["y", new Uint8Array(0)],
        ],
        counters: [],
      },
      { sortKeys: false },
    );
    const dupBytes = Buffer.from(dup);
    dupBytes[dupBytes.lastIndexOf(Buffer.from("0179", "hex")) + 1] = 0x78; // y -> x
    expectCorrupt(() => decodeExportFile(dupBytes), /duplicate Jobs key "x"/);
  });

  it("refuses lengths that run past the message", () => {
    const file = Buffer.from(small());
    const valueStart = 0x31 + 0x23;
    const grown = Buffer.from(file);
    grown[valueStart + 7] = 0x7f; // value length of the first job: 127 bytes, far past the message
    expectCorrupt(() => decodeExportFile(grown), /runs past the end of the message/);
    const manyEntries = Buffer.from(file);
    manyEntries[valueStart + 4] = 0x7f; // Jobs count 127
    expectCorrupt(() => decodeExportFile(manyEntries), /claims 127 entries/);
  });

  it("never fails with anything but corrupt-data on random damage", () => {
    const file = Buffer.from(
      encodeExportFile({
        jobs: [["dapr/jobs/a", Buffer.alloc(40, 1)]],
        counters: [["dapr/counters/a", Buffer.alloc(9)]],
      }),
    );
    let seed = 42;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    let refused = 0;
    for (let round = 0; round < 2000; round++) {
      const damaged = Buffer.from(file);
      const flips = 1 + Math.floor(random() * 3);
      for (let f = 0; f < flips; f++) damaged[Math.floor(random() * damaged.length)] = Math.floor(random() * 256);
      try {
        decodeExportFile(damaged);
      } catch (error) {
        expect(error).toBeInstanceOf(HousekeeperError);
        expect((error as HousekeeperError).code).toBe("corrupt-data");
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(1000); // damage inside values goes unnoticed here; the import checks the protobuf
  });
});
