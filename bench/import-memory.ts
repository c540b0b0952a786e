/**
 * Import and restore of a `dapr scheduler export` file as Go writes it (entries in Go's random map order): peak RSS
 * and time, against the raw limit measured in the same run.
 *
 *   1. builds scripts/unordered-export (Go standard library only, offline) in a temp dir and has it write an export of
 *      --jobs jobs (default 300,000) and a counter for every other one (realistic Dapr keys and stored-job values);
 *   2. raw: the same keys put into an empty root with plain etcd transactions (128 puts, 8 in flight), from the file
 *      decoded in memory beforehand: no validation, no duplicate check;
 *   3. ours, each in its own process under /usr/bin/time (peak RSS = its maximum resident set size):
 *      - `housekeeper scheduler import -f <file>` (the real CLI) into another empty root;
 *      - runReminderRestore of the same file (as a backup without manifest in a filesystem object store) into a third.
 * Each of ours is checked to have written every key. Needs Go (Debian golang-go), /usr/bin/time (Debian time) and
 * etcd (Debian etcd-server; a throwaway one is started on a free port and stopped by PID unless --etcd-endpoint).
 *
 *   node --import tsx bench/import-memory.ts [--jobs 300000] [--etcd-endpoint host:port] [--run-size N]
 */
import { execFile, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rename, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs, promisify } from "node:util";
import { runReminderRestore } from "../shared/jobs/reminder-restore.ts";
import { FilesystemObjectStore } from "../shared/object-store/filesystem.ts";
import { EtcdSchedulerStore } from "../shared/scheduler/etcd-store.ts";
import { decodeExportFile } from "../shared/scheduler/gob-decode.ts";
import type { StoredEntry } from "../shared/scheduler/store.ts";
import { writeBatches } from "../shared/scheduler/store.ts";
import { offlineGoEnv } from "../test/support/go.ts";

const { values: args } = parseArgs({
  options: {
    jobs: { type: "string", default: "300000" },
    "etcd-endpoint": { type: "string" },
    "run-size": { type: "string" },
    // internal: the child process that runs one restore
    child: { type: "string" },
    backups: { type: "string" },
    key: { type: "string" },
    root: { type: "string" },
  },
});
const ROOT = new URL("../", import.meta.url).pathname;
const randomRoot = () => `bench-${randomBytes(4).toString("hex")}/dapr/`;

if (args.child === "restore") {
  const scheduler = new EtcdSchedulerStore({ endpoints: [args["etcd-endpoint"]!], root: args.root! });
  const objectStore = new FilesystemObjectStore({ root: args.backups! });
  const result = await runReminderRestore(
    { scheduler, objectStore },
    { backupKey: args.key!, allowMissingManifest: true, reportLimit: 0 },
  );
  await scheduler.close();
  process.stdout.write(`${JSON.stringify({ counts: result.counts, isComplete: result.isComplete })}\n`);
  process.exit(result.isComplete ? 0 : 1);
}

/** Puts entries with 8 transactions of at most 128 puts in flight. */
async function putAll(store: EtcdSchedulerStore, entries: readonly StoredEntry[]): Promise<void> {
  const inFlight = new Set<Promise<unknown>>();
  for (const batch of writeBatches(entries)) {
    const p = store.put(batch).finally(() => inFlight.delete(p));
    inFlight.add(p);
    if (inFlight.size >= 8) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
}

async function countKeys(endpoint: string, root: string): Promise<number> {
  const store = new EtcdSchedulerStore({ endpoints: [endpoint], root });
  let n = 0;
  const snapshot = await store.snapshot();
  for await (const page of snapshot.scan("dapr/")) n += page.length;
  await store.close();
  return n;
}

/** Runs a command under /usr/bin/time; returns its wall time and peak RSS. */
function timed(command: string[], env: NodeJS.ProcessEnv = process.env): { seconds: number; maxRssKb: number } {
  const res = spawnSync("/usr/bin/time", ["-f", "TIME %e %M", ...command], {
    cwd: ROOT,
    encoding: "utf8",
    env,
    maxBuffer: 1 << 24,
  });
  const line = res.stderr.split("\n").find((l) => l.startsWith("TIME "));
  if (res.status !== 0 || line === undefined) {
    throw new Error(`${command.join(" ")} failed (${res.status}): ${res.stderr.slice(-2000)}`);
  }
  const [, seconds, rss] = line.split(" ");
  return { seconds: Number(seconds), maxRssKb: Number(rss) };
}

const run = promisify(execFile);
const jobs = Number(args.jobs);
const dir = await mkdtemp(join(tmpdir(), "housekeeper-bench-import-"));
const { startEtcd } = await import("../test/support/servers.ts");
const server = args["etcd-endpoint"] ? undefined : await startEtcd();
const endpoint = args["etcd-endpoint"] ?? server!.endpoint;
try {
  const goEnv = offlineGoEnv(dir);
  const binary = join(dir, "unordered-export");
  await run("go", ["build", "-o", binary, join(ROOT, "scripts/unordered-export/main.go")], { env: goEnv });
  const backups = join(dir, "backups");
  const key = "bench/default/unordered.bin";
  await mkdir(join(backups, "bench/default"), { recursive: true });
  const file = join(dir, "export.bin");
  await run(binary, [file, String(jobs)], { env: goEnv });
  const bytes = (await stat(file)).size;

  // Raw: decoded beforehand, in this process.
  const decoded = decodeExportFile(await readFile(file));
  const entries: StoredEntry[] = [
    ...[...decoded.jobs].map(([k, value]) => ({ key: k, value })),
    ...[...decoded.counters].map(([k, value]) => ({ key: k, value })),
  ];
  const total = entries.length;
  const rawRoot = randomRoot();
  const raw = new EtcdSchedulerStore({ endpoints: [endpoint], root: rawRoot });
  const t0 = performance.now();
  await putAll(raw, entries);
  const rawSeconds = (performance.now() - t0) / 1000;
  await raw.close();
  entries.length = 0;

  const env = { ...process.env, ...(args["run-size"] ? { HOUSEKEEPER_IMPORT_SORT_RUN_SIZE: args["run-size"] } : {}) };
  const importRoot = randomRoot();
  const imported = timed(
    [
      process.execPath,
      "bin/housekeeper.mjs",
      "scheduler",
      "import",
      "-f",
      file,
      "--etcd-endpoints",
      endpoint,
      "--etcd-root",
      importRoot,
    ],
    env,
  );
  const restoreRoot = randomRoot();
  await rename(file, join(backups, key));
  const restored = timed(
    [
      process.execPath,
      "--import",
      "tsx",
      new URL(import.meta.url).pathname,
      "--child",
      "restore",
      "--etcd-endpoint",
      endpoint,
      "--backups",
      backups,
      "--key",
      key,
      "--root",
      restoreRoot,
    ],
    env,
  );
  for (const [what, root] of [
    ["raw", rawRoot],
    ["import", importRoot],
    ["restore", restoreRoot],
  ] as const) {
    const n = await countKeys(endpoint, root);
    if (n !== total) throw new Error(`${what} left ${n} keys in etcd, expected ${total}`);
  }
  const row = (what: string, r: { seconds: number; maxRssKb: number }) =>
    `${what.padEnd(8)} ${r.seconds.toFixed(2).padStart(7)} s   ratio ${(r.seconds / rawSeconds).toFixed(2)}x   ` +
    `peak RSS ${(r.maxRssKb / 1024).toFixed(0)} MiB`;
  console.log(
    `${decoded.jobs.size} jobs + ${decoded.counters.size} counters, ${(bytes / 1e6).toFixed(1)} MB, Go map order`,
  );
  console.log(`raw      ${rawSeconds.toFixed(2).padStart(7)} s`);
  console.log(row("import", imported));
  console.log(row("restore", restored));
  console.log(
    "\nraw: plain etcd puts (8 txns of 128 in flight) of the file decoded in memory beforehand (no checks);\n" +
      "import: `housekeeper scheduler import` (spool, validate, duplicate check, puts in file order);\n" +
      "restore: runReminderRestore (spool + sha256, validate, pair jobs with counters, compare with etcd, write).\n" +
      "Times are wall-clock of whole processes (Node start-up included); peak RSS from /usr/bin/time.",
  );
} finally {
  await rm(dir, { recursive: true, force: true });
  await server?.stop();
}
