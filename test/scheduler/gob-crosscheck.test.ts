/**
 * Cross-checks our gob export format against Go's own encoding/gob: builds scripts/gob-reference (standard library
 * only, GO111MODULE=off, private GOCACHE/GOPATH, offline) and compares both directions, byte for byte and value for
 * value. Needs Go (Debian golang-go, installed by .ci/run); without it the test fails, unless HOUSEKEEPER_SKIP_GO=1.
 *
 * Byte equality despite Go's random map order: (1) Go's real `Encode` output, decoded by us in file order and
 * re-encoded by us in that order, must give Go's bytes exactly; (2) the reference program's `encode-sorted` (the
 * real encoder's pieces spliced in sorted key order) must equal our default, sorted encoding; (3) with at most one
 * entry per map Go's output is deterministic and must equal ours directly.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildSeeds } from "../../shared/sample-data/scheduler-jobs.ts";
import { decodeExportFile } from "../../shared/scheduler/gob-decode.ts";
import { encodeExportFile } from "../../shared/scheduler/gob-encode.ts";
import { offlineGoEnv } from "../support/go.ts";

const run = promisify(execFile);
const SKIP = process.env.HOUSEKEEPER_SKIP_GO === "1";
const SOURCE = new URL("../../scripts/gob-reference/main.go", import.meta.url).pathname;

type Entries = Array<[string, Uint8Array]>;
interface Description {
  jobs: Entries;
  counters: Entries;
  nil?: Array<"jobs" | "counters">;
}

let dir = "";
let binary = "";
let env: NodeJS.ProcessEnv = {};
let counter = 0;

async function findGo(): Promise<string> {
  try {
    const { stdout } = await run("go", ["version"], { env: { ...process.env, GOTOOLCHAIN: "local" } });
    return stdout.trim();
  } catch {
    throw new Error(
      "Go is not installed (needed to build scripts/gob-reference for the gob cross-check): " +
        "apt-get install golang-go, or set HOUSEKEEPER_SKIP_GO=1 to skip this test",
    );
  }
}

beforeAll(async () => {
  if (SKIP) return;
  await findGo();
  dir = await mkdtemp(join(tmpdir(), "housekeeper-gob-"));
  env = offlineGoEnv(dir);
  binary = join(dir, "gob-reference");
  await run("go", ["build", "-o", binary, SOURCE], { env, cwd: dir, timeout: 180_000 });
}, 200_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

function toJson(d: Description): string {
  const pairs = (entries: Entries) => entries.map(([k, v]) => [k, Buffer.from(v).toString("base64")]);
  return JSON.stringify({ jobs: pairs(d.jobs), counters: pairs(d.counters), nil: d.nil ?? [] });
}

async function goEncode(d: Description, mode: "encode" | "encode-sorted"): Promise<Buffer> {
  const n = counter++;
  const input = join(dir, `in-${n}.json`);
  const output = join(dir, `out-${n}.bin`);
  await writeFile(input, toJson(d));
  await run(binary, [mode, input, output], { env, maxBuffer: 1 << 26 });
  return readFile(output);
}

async function goDecode(bytes: Uint8Array): Promise<{ jobs: Map<string, string>; counters: Map<string, string> }> {
  const n = counter++;
  const input = join(dir, `in-${n}.bin`);
  const output = join(dir, `out-${n}.json`);
  await writeFile(input, bytes);
  await run(binary, ["decode", input, output], { env, maxBuffer: 1 << 26 });
  const parsed = JSON.parse(await readFile(output, "utf8")) as { jobs: string[][]; counters: string[][] };
  const asMap = (list: string[][]) => new Map(list.map(([k, v]) => [k!, v!]));
  return { jobs: asMap(parsed.jobs), counters: asMap(parsed.counters) };
}

const b64 = (m: Map<string, Uint8Array>) => new Map([...m].map(([k, v]) => [k, Buffer.from(v).toString("base64")]));
const asB64Map = (entries: Entries) => new Map(entries.map(([k, v]) => [k, Buffer.from(v).toString("base64")]));

function bytes(n: number, seed: number): Uint8Array {
  const out = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
    out[i] = x & 0xff;
  }
  return out;
}

const NON_ASCII_KEYS = [
  "dapr/jobs/app||default||приложение||задача",
  "dapr/jobs/app||default||アプリ||ジョブ🙂",
  "dapr/jobs/actorreminder||default||Käse||ü̈||e\u0301",
  "dapr/jobs/app||default||\uFF21||\u{1F600}", // fullwidth vs astral: UTF-16 and UTF-8 orders differ
  "dapr/jobs/app||default||\u{10FFFF}||x",
];

const CASES: Array<[string, () => Description]> = [
  ["empty maps", () => ({ jobs: [], counters: [] })],
  [
    "one entry each, empty value",
    () => ({ jobs: [["dapr/jobs/a", new Uint8Array(0)]], counters: [["dapr/counters/a", bytes(3, 1)]] }),
  ],
  [
    "values of every byte and every uint width",
    () => ({
      jobs: [0, 1, 127, 128, 255, 256, 65_535, 65_536].map(
        (n, i) => [`dapr/jobs/k${i}`, bytes(n, i)] as [string, Uint8Array],
      ),
      counters: [],
    }),
  ],
  [
    "large values (1 MB)",
    () => ({
      jobs: [
        ["dapr/jobs/big", bytes(1_000_000, 7)],
        ["dapr/jobs/big2", bytes(1 << 20, 8)],
      ],
      counters: [["dapr/counters/big", bytes(1_000_000, 9)]],
    }),
  ],
  [
    "many entries (10,000)",
    () => {
      const jobs: Entries = [];
      const counters: Entries = [];
      for (let i = 0; i < 10_000; i++) {
        jobs.push([
          `dapr/jobs/actorreminder||default||dapr.internal.default.app.workflow||inst-${i}||new-event-${i}`,
          bytes(i % 300, i),
        ]);
        if (i % 2 === 0) counters.push([`dapr/counters/app||default||app||job-${i}`, bytes(12, i)]);
      }
      return { jobs, counters };
    },
  ],
  [
    "non-ASCII keys",
    () => ({
      jobs: NON_ASCII_KEYS.map((k, i) => [k, bytes(10 + i, i)] as [string, Uint8Array]),
      counters: NON_ASCII_KEYS.map(
        (k, i) => [k.replace("dapr/jobs/", "dapr/counters/"), bytes(4, i)] as [string, Uint8Array],
      ),
    }),
  ],
  [
    "realistic Dapr values",
    () => {
      const entries = buildSeeds([
        {
          target: { workflow: { appId: "shop", instanceId: "order-1" } },
          name: "new-event-1",
          counter: { count: 1, lastTrigger: new Date() },
        },
        { target: { activity: { appId: "shop", activityId: "order-1::0::1" } } },
        { target: { actor: { type: "Cart", id: "c1" } }, name: "flush", schedule: "@every 1m", ttl: "1h", repeats: 10 },
        { target: { app: "shop" }, name: "nightly", schedule: "0 0 3 * * *" },
      ]);
      return {
        jobs: entries
          .filter((e) => e.key.startsWith("dapr/jobs/"))
          .map((e) => [e.key, e.value] as [string, Uint8Array]),
        counters: entries
          .filter((e) => e.key.startsWith("dapr/counters/"))
          .map((e) => [e.key, e.value] as [string, Uint8Array]),
      };
    },
  ],
];

describe.skipIf(SKIP)("gob export file: ours vs Go's encoding/gob", () => {
  describe.each(CASES)("%s", (_name, make) => {
    const d = make();

    it("Go → ours: we decode Go's real Encode output to the same maps, and re-encode its exact bytes", async () => {
      const go = await goEncode(d, "encode");
      const decoded = decodeExportFile(go);
      expect(b64(decoded.jobs)).toEqual(asB64Map(d.jobs));
      expect(b64(decoded.counters)).toEqual(asB64Map(d.counters));
      const again = encodeExportFile(decoded, { sortKeys: false });
      expect(Buffer.compare(Buffer.from(again), go)).toBe(0);
    });

    it("ours = Go's encoder in sorted key order, byte for byte", async () => {
      const go = await goEncode(d, "encode-sorted");
      const ours = encodeExportFile(d);
      expect(ours.length).toBe(go.length);
      expect(Buffer.compare(Buffer.from(ours), go)).toBe(0);
    });

    it("ours → Go: Go's decoder reads our file to the same maps", async () => {
      const fromGo = await goDecode(encodeExportFile(d));
      expect(fromGo.jobs).toEqual(asB64Map(d.jobs));
      expect(fromGo.counters).toEqual(asB64Map(d.counters));
    });
  });

  it("with at most one entry per map Go's plain Encode is deterministic and equals ours", async () => {
    const d: Description = { jobs: [["dapr/jobs/é", bytes(200, 3)]], counters: [] };
    expect(Buffer.compare(Buffer.from(encodeExportFile(d)), await goEncode(d, "encode"))).toBe(0);
  });

  it("nil maps (fields omitted by Go) read as empty", async () => {
    const go = await goEncode({ jobs: [], counters: [], nil: ["jobs", "counters"] }, "encode");
    const decoded = decodeExportFile(go);
    expect(decoded.jobs.size + decoded.counters.size).toBe(0);
    const onlyCounters = await goEncode(
      { jobs: [], counters: [["dapr/counters/x", bytes(5, 1)]], nil: ["jobs"] },
      "encode",
    );
    expect([...decodeExportFile(onlyCounters).counters.keys()]).toEqual(["dapr/counters/x"]);
  });

  it("Go refuses what we refuse: a truncated file", async () => {
    const file = encodeExportFile({ jobs: [["dapr/jobs/a", bytes(50, 1)]], counters: [] });
    const truncated = file.subarray(0, file.length - 10);
    expect(() => decodeExportFile(truncated)).toThrow(/corrupt export file at byte \d+: the file ends inside/);
    await expect(goDecode(truncated)).rejects.toThrow(/unexpected EOF/);
  });
});
