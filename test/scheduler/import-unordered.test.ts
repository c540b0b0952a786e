/**
 * Import and restore of an export file as `dapr scheduler export` writes it: Go's encoding/gob of two Go maps, so the
 * entries come in Go's random map order (dapr/cli pkg/scheduler/exportimport.go; encoding/gob encode.go encodeMap).
 * The file comes from scripts/unordered-export (Go standard library only, values hand-encoded from the upstream
 * .proto field numbers), 5,000 jobs and 2,500 counters. The external sort that checks it for duplicates and pairs
 * jobs with counters runs with small runs here, so many runs are spilled and merged. etcd is read directly to compare.
 * Needs Go (Debian golang-go); without it the test fails, unless HOUSEKEEPER_SKIP_GO=1.
 */
import { execFile, spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { runReminderRestore } from "../../shared/jobs/reminder-restore.ts";
import { FilesystemObjectStore } from "../../shared/object-store/filesystem.ts";
import type { EtcdSchedulerStore } from "../../shared/scheduler/etcd-store.ts";
import { sortedEntryRefs } from "../../shared/scheduler/export-sort.ts";
import { decodeExportFile } from "../../shared/scheduler/gob-decode.ts";
import { COUNTERS_PREFIX, JOBS_PREFIX } from "../../shared/scheduler/keys.ts";
import { runHousekeeper } from "../support/cli.ts";
import { startFreezingProxy } from "../support/faulty-peer.ts";
import { offlineGoEnv } from "../support/go.ts";
import { dumpStore, SEED_ENTRIES, TestStores } from "./support.ts";

const run = promisify(execFile);
const SKIP = process.env.HOUSEKEEPER_SKIP_GO === "1";
const SOURCE = new URL("../../scripts/unordered-export/main.go", import.meta.url).pathname;
const JOBS = 5000;
const RUN_SIZE = 500;

let dir = "";
let file = "";
let bytes: Buffer;
/** What Go wrote, key → hex value (decoded with our gob decoder, which is cross-checked against Go elsewhere). */
let expected: Map<string, string>;
let stores: TestStores;

beforeAll(async () => {
  stores = new TestStores(inject("etcdEndpoint"));
  if (SKIP) return;
  dir = await mkdtemp(join(tmpdir(), "housekeeper-unordered-"));
  const env = offlineGoEnv(dir);
  const binary = join(dir, "unordered-export");
  await run("go", ["build", "-o", binary, SOURCE], { env, cwd: dir, timeout: 180_000 });
  file = join(dir, "export.bin");
  await run(binary, [file, String(JOBS)], { env });
  bytes = await readFile(file);
  const decoded = decodeExportFile(bytes);
  expected = new Map(
    [...decoded.jobs, ...decoded.counters].map(([k, v]) => [k, Buffer.from(v).toString("hex")] as const),
  );
}, 200_000);

afterAll(async () => {
  await stores.cleanUp();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const importInto = (target: EtcdSchedulerStore, path: string) =>
  runHousekeeper(
    ["scheduler", "import", "-f", path, "--etcd-endpoints", inject("etcdEndpoint"), "--etcd-root", target.root],
    { HOUSEKEEPER_IMPORT_SORT_RUN_SIZE: String(RUN_SIZE) },
  );

/** The file with `from` (which must occur once) overwritten by `to` (same length): still a well-formed gob stream. */
function patched(from: string, to: string): Buffer {
  expect(from.length).toBe(to.length);
  const copy = Buffer.from(bytes);
  const at = copy.indexOf(from);
  expect(at).toBeGreaterThan(0);
  expect(copy.indexOf(from, at + 1)).toBe(-1);
  copy.write(to, at);
  return copy;
}

// Two app jobs of app-0 (i = 4960 and i = 4980; no other key starts with theirs), both with counters, keys of the same length.
const JOB_A = "dapr/jobs/app||default||app-0||job-4960";
const JOB_B = "dapr/jobs/app||default||app-0||job-4980";

describe.skipIf(SKIP)("a Go-written export in map order", () => {
  it("is in Go's map order, with every counter's job present", () => {
    const decoded = decodeExportFile(bytes);
    expect(decoded.jobs.size).toBe(JOBS);
    expect(decoded.counters.size).toBe(JOBS / 2);
    expect(decoded.summary.sorted).toBe(false);
    for (const key of decoded.counters.keys()) {
      expect(decoded.jobs.has(JOBS_PREFIX + key.slice(COUNTERS_PREFIX.length))).toBe(true);
    }
  });

  it("sorts into jobs next to their counters, through many spilled runs", async () => {
    let runs = 0;
    let previous = "";
    let pairs = 0;
    let count = 0;
    let last: { name: string; section: string } | undefined;
    for await (const ref of sortedEntryRefs(file, { runSize: RUN_SIZE, onSpill: (_, n) => (runs = n) })) {
      expect(ref.name >= previous).toBe(true);
      if (ref.section === "counters") {
        expect(last).toEqual({ name: ref.name, section: "jobs" }); // its job just before it
        pairs++;
      }
      expect(Buffer.from(bytes.subarray(ref.offset, ref.offset + ref.length)).toString("hex")).toBe(
        expected.get((ref.section === "jobs" ? JOBS_PREFIX : COUNTERS_PREFIX) + ref.name),
      );
      previous = ref.name;
      last = { name: ref.name, section: ref.section };
      count++;
    }
    expect(runs).toBe(Math.ceil((JOBS * 1.5) / RUN_SIZE));
    expect(count).toBe(JOBS * 1.5);
    expect(pairs).toBe(JOBS / 2);
  });

  it("`scheduler import` writes every job and counter exactly", async () => {
    const target = await stores.create();
    const result = await importInto(target, file);
    expect(result.stderr).not.toMatch(/error/i);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`Imported ${JOBS * 1.5} items.\nImport from '${file}' complete.\n`);
    expect(await dumpStore(target)).toEqual(expected);
  });

  it("the restore job writes every job with its counter, and a second run finds them unchanged", async () => {
    const backups = join(dir, "backups");
    const key = "reminders/dapr-system/unordered.bin";
    await mkdir(join(backups, "reminders/dapr-system"), { recursive: true });
    await writeFile(join(backups, key), bytes);
    const objectStore = new FilesystemObjectStore({ root: backups });
    const spoolDir = await mkdtemp(join(dir, "spool-"));
    const target = await stores.create();
    const ports = { scheduler: target, objectStore, spoolDir, sortRunSize: RUN_SIZE };
    const request = { backupKey: key, allowMissingManifest: true };

    const first = await runReminderRestore(ports, request);
    expect(first.isComplete).toBe(true);
    expect(first.counts).toEqual({ created: JOBS * 1.5, overwritten: 0, unchanged: 0, skipped: 0 });
    // Written unit by unit: a counter comes right after its job.
    const at = new Map(first.created.map((k, i) => [k, i]));
    for (const [k, i] of at) {
      if (k.startsWith(COUNTERS_PREFIX)) expect(at.get(JOBS_PREFIX + k.slice(COUNTERS_PREFIX.length))).toBe(i - 1);
    }
    expect(await dumpStore(target)).toEqual(expected);
    expect(await readdir(spoolDir)).toEqual([]);

    const again = await runReminderRestore(ports, request);
    expect(again.counts).toEqual({ created: 0, overwritten: 0, unchanged: JOBS * 1.5, skipped: 0 });

    // One app's workflows only: the selection applies to the sorted units too.
    const partial = await stores.create();
    const some = await runReminderRestore({ ...ports, scheduler: partial }, { ...request, prefix: "workflow/app-3" });
    const wanted = [...expected.keys()].filter((k) => k.includes("||dapr.internal.default.app-3.workflow||"));
    expect(wanted.length).toBeGreaterThan(0);
    expect(some.counts.created).toBe(wanted.length);
    expect([...(await dumpStore(partial)).keys()].sort()).toEqual(wanted.sort());
    await objectStore.close();
  });

  it("a duplicate job key, a duplicate counter key or a key outside its root is refused, etcd unchanged", async () => {
    const cases: Array<[string, Buffer, RegExp]> = [
      ["dup-job.bin", patched(JOB_B, JOB_A), /duplicate Jobs key "dapr\/jobs\/app\|\|default\|\|app-0\|\|job-4960"/],
      [
        "dup-counter.bin",
        patched(COUNTERS_PREFIX + JOB_B.slice(JOBS_PREFIX.length), COUNTERS_PREFIX + JOB_A.slice(JOBS_PREFIX.length)),
        /duplicate Counters key "dapr\/counters\/app\|\|default\|\|app-0\|\|job-4960"/,
      ],
      [
        "bad-root.bin",
        patched(COUNTERS_PREFIX + JOB_B.slice(JOBS_PREFIX.length), `dapr/counterz/${JOB_B.slice(JOBS_PREFIX.length)}`),
        /counter key "dapr\/counterz\/app\|\|default\|\|app-0\|\|job-4980" is not under dapr\/counters\//,
      ],
    ];
    const backups = join(dir, "bad-backups");
    const objectStore = new FilesystemObjectStore({ root: backups });
    for (const [name, content, message] of cases) {
      const path = join(dir, name);
      await writeFile(path, content);
      const target = await stores.create(SEED_ENTRIES);
      const before = await dumpStore(target);

      const result = await importInto(target, path);
      expect(result.code).not.toBe(0);
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
      expect(result.stderr).toMatch(message);
      expect(await dumpStore(target)).toEqual(before);

      const key = `reminders/dapr-system/${name}`;
      await mkdir(join(backups, "reminders/dapr-system"), { recursive: true });
      await writeFile(join(backups, key), content);
      await expect(
        runReminderRestore(
          { scheduler: target, objectStore, sortRunSize: RUN_SIZE },
          { backupKey: key, allowMissingManifest: true, conflictPolicy: "overwrite" },
        ),
      ).rejects.toMatchObject({ code: "corrupt-data", message: expect.stringMatching(message) });
      expect(await dumpStore(target)).toEqual(before);
    }
    await objectStore.close();
  });
});

describe.skipIf(SKIP)("`scheduler import` interrupted", () => {
  /**
   * Starts the real CLI importing the Go-written file through a slow link to etcd, with a temp dir of its own, and
   * sends `signal` once some (not all) entries are in etcd.
   */
  async function interrupted(signal: "SIGINT" | "SIGKILL") {
    const target = await stores.create();
    const [host, port] = inject("etcdEndpoint").split(":");
    const proxy = await startFreezingProxy({ host: host!, port: Number(port) });
    proxy.setLatency(15);
    const temp = await mkdtemp(join(dir, "tmp-"));
    const child = spawn(
      process.execPath,
      [
        "bin/housekeeper.mjs",
        "scheduler",
        "import",
        "-f",
        file,
        "--etcd-endpoints",
        proxy.address,
        "--etcd-root",
        target.root,
      ],
      { cwd: new URL("../../", import.meta.url).pathname, env: { ...process.env, TMPDIR: temp }, stdio: "ignore" },
    );
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      let seen = 0;
      for (let i = 0; i < 600 && seen === 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        seen = (await dumpStore(target)).size;
      }
      expect(seen).toBeGreaterThan(0);
      expect(seen).toBeLessThan(expected.size); // still importing
      child.kill(signal);
      const code = await exited;
      return { target, temp, code, written: await dumpStore(target) };
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await proxy.stop();
    }
  }

  /** What an interrupted import leaves is part of the file, byte for byte: whole transactions, nothing else. */
  function expectPartOfFile(written: Map<string, string>) {
    for (const [key, value] of written) expect(value, key).toBe(expected.get(key));
  }

  it("on Ctrl-C stops with 130, leaves only the file's entries and no temp file", async () => {
    const { target, temp, code, written } = await interrupted("SIGINT");
    expect(code).toBe(130);
    expectPartOfFile(written);
    expect(await readdir(temp)).toEqual([]);
    const again = await importInto(target, file);
    expect(again.code, again.stderr).toBe(0);
    expect(await dumpStore(target)).toEqual(expected);
  }, 60_000);

  it("killed with SIGKILL, leaves only whole transactions of the file's entries; the same import again converges", async () => {
    const { target, written } = await interrupted("SIGKILL");
    expectPartOfFile(written);
    const again = await importInto(target, file);
    expect(again.code, again.stderr).toBe(0);
    expect(await dumpStore(target)).toEqual(expected);
  }, 60_000);
});
