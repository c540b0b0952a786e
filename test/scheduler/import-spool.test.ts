/**
 * `scheduler import` writes exactly the bytes it validated (#12 item 6), through the real CLI. The input is a named
 * pipe that serves a valid export to whoever opens it first and a different file, one that fails validation, to
 * whoever opens it next: a tool that validates by path and then opens the file again to write would write the second
 * one (as happened when a file was replaced between the passes). The file must be read once, and only its valid
 * content reach etcd.
 */
import { execFileSync } from "node:child_process";
import { constants } from "node:fs";
import { mkdtemp, open, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { EtcdSchedulerStore } from "../../shared/scheduler/etcd-store.ts";
import { encodeExportFile } from "../../shared/scheduler/gob-encode.ts";
import type { StoredEntry } from "../../shared/scheduler/store.ts";
import { runHousekeeper } from "../support/cli.ts";
import { dumpStore, SEED_ENTRIES, TestStores } from "./support.ts";

let stores: TestStores;
let dir: string;

beforeAll(async () => {
  stores = new TestStores(inject("etcdEndpoint"));
  dir = await mkdtemp(join(tmpdir(), "housekeeper-import-spool-"));
});
afterAll(async () => {
  await stores?.cleanUp();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function exportOf(entries: readonly StoredEntry[]): Uint8Array {
  const pairs = (prefix: string) =>
    entries.filter((e) => e.key.startsWith(prefix)).map((e) => [e.key, e.value] as [string, Uint8Array]);
  return encodeExportFile({ jobs: pairs("dapr/jobs/"), counters: pairs("dapr/counters/") });
}

const housekeeper = runHousekeeper;

describe("scheduler import", () => {
  it("writes the content it validated, even when the file changes after it was read", async () => {
    const valid = exportOf(SEED_ENTRIES);
    const bogus = exportOf([
      ...SEED_ENTRIES,
      { key: "dapr/jobs/app||default||my-app||planted", value: Buffer.from("not a job") },
    ]);
    expect(valid.length + bogus.length).toBeLessThan(60_000); // each fits in a pipe's buffer (see below)
    const fifo = join(dir, "import.bin");
    execFileSync("mkfifo", [fifo]);

    // Each writeFile waits for a reader to open the pipe: the first reader gets `valid`, the next one `bogus`. The
    // pause lets the first reader see the end of its file and close before the pipe is opened for writing again.
    const served: string[] = [];
    const serving = (async () => {
      for (const [name, content] of [
        ["valid", valid],
        ["bogus", bogus],
      ] as const) {
        await writeFile(fifo, content);
        served.push(name);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    })().catch(() => undefined);

    const target: EtcdSchedulerStore = await stores.create();
    const run = await housekeeper([
      "scheduler",
      "import",
      "-f",
      fifo,
      "--etcd-endpoints",
      inject("etcdEndpoint"),
      "--etcd-root",
      target.root,
    ]);
    // A writer still to come for a second reader finds this one (a non-blocking open for reading returns at once);
    // what it writes fits in the pipe's buffer.
    const unblock = await open(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    await serving;
    await unblock.close();

    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`Imported ${SEED_ENTRIES.length} items.\nImport from '${fifo}' complete.\n`);
    const written = await dumpStore(target);
    expect([...written.keys()].sort()).toEqual(SEED_ENTRIES.map((e) => e.key).sort());
    expect(served[0]).toBe("valid");
  });

  it("names the user's file (not the private copy) when the content is refused", async () => {
    const file = join(dir, "bad.bin");
    await writeFile(file, exportOf([{ key: "dapr/jobs/app||default||my-app||bad", value: Buffer.from("nope") }]));
    const target = await stores.create();
    const run = await housekeeper([
      "scheduler",
      "import",
      "-f",
      file,
      "--etcd-endpoints",
      inject("etcdEndpoint"),
      "--etcd-root",
      target.root,
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^Error: export file: job dapr\/jobs\/app\|\|default\|\|my-app\|\|bad: /);
    expect(run.stderr).not.toContain("housekeeper-import-");
    expect((await dumpStore(target)).size).toBe(0);
  });
});
