/**
 * The embedded sample store (SQLite): wall time and peak RSS of its first use (create + seed) and of later uses,
 * for the store alone (open + list every instance through WorkflowStateStore + close, under tsx) and for the CLI's
 * `workflow list` end to end, against the raw limits measured in the same run: `node -e 0` and a plain script that
 * reads every row of the same file with the SQLite driver. Each figure twice, each in a fresh directory.
 *
 *   node --import tsx bench/embedded-store.ts [--rounds 2]
 * Needs GNU time at /usr/bin/time (Debian package `time`).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const { values: args } = parseArgs({ options: { rounds: { type: "string", default: "2" } } });
const ROOT = resolve(import.meta.dirname, "..");
const TSX = import.meta.resolve("tsx");
const url = (path: string) => JSON.stringify(`file://${join(ROOT, path)}`);

const STORE_SCRIPT = `
  const { openEmbeddedBackend } = await import(${url("shared/state-store/embedded.ts")});
  const { WorkflowStateStore } = await import(${url("shared/state-store/workflow-store.ts")});
  const backend = await openEmbeddedBackend();
  let n = 0;
  for await (const page of new WorkflowStateStore(backend, { appId: "orderprocessing", namespace: "default" })
    .listInstances({ pageSize: 500 })) n += page.instances.length;
  await backend.close();
  if (n < 60) throw new Error("only " + n + " instances");`;

const RAW_SQLITE_SCRIPT = `
  const sqlite = require(${JSON.stringify(join(ROOT, "node_modules/node-sqlite3-wasm"))});
  const db = new sqlite.Database(".housekeeper/sample.db", { fileMustExist: true });
  const rows = db.all("SELECT key, value FROM state ORDER BY key");
  db.close();
  if (rows.length < 1000) throw new Error("only " + rows.length + " rows");`;

interface Figure {
  seconds: number;
  cpu: number;
  peakMiB: number;
}

function measure(argv: string[], cwd: string): Figure {
  const run = spawnSync("/usr/bin/time", ["-f", "%e %U %S %M", process.execPath, ...argv], {
    cwd,
    encoding: "utf8",
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, HOUSEKEEPER_CONNECTION_STRING: "" },
  });
  const last = run.stderr.trim().split("\n").at(-1) ?? "";
  if (run.status !== 0) throw new Error(`${argv.join(" ")} failed: ${run.stderr.trim()}`);
  const [elapsed, user, sys, kb] = last.split(" ").map(Number);
  return { seconds: elapsed!, cpu: user! + sys!, peakMiB: Math.round(kb! / 1024) };
}

const show = (f: Figure, raw?: Figure) =>
  `${f.seconds.toFixed(2)} s (cpu ${f.cpu.toFixed(2)} s), peak RSS ${f.peakMiB} MiB` +
  (raw ? `  = ${(f.seconds / raw.seconds).toFixed(1)}x the time of the raw limit` : "");

console.log(
  `load average at start: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")} (2-core machine: ${ROOT})`,
);
for (let round = 1; round <= Number(args.rounds); round++) {
  const storeDir = mkdtempSync(join(tmpdir(), "hk-bench-store-"));
  const cliDir = mkdtempSync(join(tmpdir(), "hk-bench-cli-"));
  try {
    const nodeOnly = measure(["-e", "0"], storeDir);
    const storeFirst = measure(["--import", TSX, "--input-type=module", "-e", STORE_SCRIPT], storeDir);
    const storeLater = measure(["--import", TSX, "--input-type=module", "-e", STORE_SCRIPT], storeDir);
    const rawSqlite = measure(["-e", RAW_SQLITE_SCRIPT], storeDir);
    const list = [join(ROOT, "bin/housekeeper.mjs"), "workflow", "list", "-a", "orderprocessing"];
    const cliFirst = measure(list, cliDir);
    const cliLater = measure(list, cliDir);
    const version = measure([join(ROOT, "bin/housekeeper.mjs"), "--version"], cliDir);
    console.log(`round ${round} (load ${loadavg()[0]!.toFixed(2)})`);
    console.log(`  raw: node -e 0                        ${show(nodeOnly)}`);
    console.log(`  raw: read every row (plain driver)    ${show(rawSqlite)}`);
    console.log(`  store alone, first (create + seed)    ${show(storeFirst, nodeOnly)}`);
    console.log(`  store alone, later (open, list all)   ${show(storeLater, nodeOnly)}`);
    console.log(`  CLI housekeeper --version             ${show(version, nodeOnly)}`);
    console.log(`  CLI workflow list, first run          ${show(cliFirst, nodeOnly)}`);
    console.log(`  CLI workflow list, later run          ${show(cliLater, nodeOnly)}`);
  } finally {
    rmSync(storeDir, { recursive: true, force: true });
    rmSync(cliDir, { recursive: true, force: true });
  }
}
