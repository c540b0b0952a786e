/**
 * Scheduler export throughput: seeds N jobs (+ counters for about half) in Dapr's layout into a throwaway etcd, then
 * times in the same run
 *   - the raw limit: `etcdctl get --prefix dapr/` of the same keys (output to /dev/null; etcd-client package), or,
 *     when etcdctl is not installed, a raw etcd3 `getAll().prefix("dapr/")` (said so in the output);
 *   - our export to a file (exportToFile: one paged pass at one revision + spool), in a child process whose peak RSS
 *     is reported;
 *   - our streaming export (exportToSink) into a null sink, two-pass and with a spool directory, for reference.
 * Each timing is the best of --runs (default 3).
 *
 *   node --import tsx bench/scheduler-export.ts [--count 100000] [--runs 3] [--etcd-endpoint host:port]
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Etcd3 } from "etcd3";
import { buildSeed, variedSeedJob } from "../shared/sample-data/scheduler-jobs.ts";
import { EtcdSchedulerStore } from "../shared/scheduler/etcd-store.ts";
import { exportToFile, exportToSink } from "../shared/scheduler/export.ts";
import type { StoredEntry } from "../shared/scheduler/store.ts";
import { writeBatches } from "../shared/scheduler/store.ts";

const { values: args } = parseArgs({
  options: {
    count: { type: "string", default: "100000" },
    runs: { type: "string", default: "3" },
    "etcd-endpoint": { type: "string" },
    // internal: the child process that runs one export and reports its time and peak RSS
    child: { type: "string" },
    out: { type: "string" },
  },
});

if (args.child === "export") {
  const store = new EtcdSchedulerStore({ endpoints: [args["etcd-endpoint"]!] });
  const t0 = performance.now();
  const summary = await exportToFile(store, args.out!);
  const seconds = (performance.now() - t0) / 1000;
  await store.close();
  process.stdout.write(`${JSON.stringify({ seconds, maxRssKb: process.resourceUsage().maxRSS, summary })}\n`);
  process.exit(0);
}

const COUNT = Number(args.count);
const RUNS = Math.max(1, Number(args.runs));

async function best<T>(runs: number, fn: () => Promise<T>): Promise<{ seconds: number; result: T }> {
  let out: { seconds: number; result: T } | undefined;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    const result = await fn();
    const seconds = (performance.now() - t0) / 1000;
    if (!out || seconds < out.seconds) out = { seconds, result };
  }
  return out!;
}

function findEtcdctl(): string | undefined {
  try {
    return execFileSync("sh", ["-c", "command -v etcdctl"], { encoding: "utf8" }).trim() || undefined;
  } catch {
    return undefined;
  }
}

const { startEtcd } = await import("../test/support/servers.ts");
const server = args["etcd-endpoint"] ? undefined : await startEtcd();
const endpoint = args["etcd-endpoint"] ?? server!.endpoint;
const dir = await mkdtemp(join(tmpdir(), "housekeeper-bench-sched-"));
const store = new EtcdSchedulerStore({ endpoints: [endpoint] });

try {
  // Seed under Dapr's real root, 8 transactions of 128 puts in flight.
  const t0 = performance.now();
  let entries: StoredEntry[] = [];
  let keys = 0;
  const inFlight = new Set<Promise<unknown>>();
  const flush = async (all: boolean) => {
    for (const batch of writeBatches(entries)) {
      const p = store.put(batch).finally(() => inFlight.delete(p));
      inFlight.add(p);
      if (inFlight.size >= 8) await Promise.race(inFlight);
    }
    entries = [];
    if (all) await Promise.all(inFlight);
  };
  for (let i = 0; i < COUNT; i++) {
    const built = buildSeed(variedSeedJob(i));
    entries.push(built.job);
    if (built.counter) entries.push(built.counter);
    if (entries.length >= 12_800) await flush(false);
  }
  await flush(true);
  const snapshotCount = await (async () => {
    const client = new Etcd3({ hosts: endpoint });
    try {
      return await client.getAll().prefix("dapr/").count();
    } finally {
      client.close();
    }
  })();
  keys = snapshotCount;
  console.log(`seeded ${COUNT} jobs (${keys} keys with counters) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  // Raw limit.
  const etcdctl = findEtcdctl();
  let raw: { seconds: number; label: string };
  if (etcdctl) {
    const r = await best(RUNS, async () => {
      const res = spawnSync(
        etcdctl,
        [`--endpoints=${endpoint}`, "--command-timeout=600s", "get", "--prefix", "dapr/"],
        {
          env: { ...process.env, ETCDCTL_API: "3" },
          stdio: ["ignore", "ignore", "pipe"],
          maxBuffer: 1 << 30,
        },
      );
      if (res.status !== 0) throw new Error(`etcdctl failed: ${res.stderr?.toString()}`);
      return 0;
    });
    raw = { seconds: r.seconds, label: "etcdctl get --prefix dapr/ (> /dev/null)" };
  } else {
    const client = new Etcd3({ hosts: endpoint, grpcOptions: { "grpc.max_receive_message_length": -1 } });
    const r = await best(RUNS, async () => Object.keys(await client.getAll().prefix("dapr/").buffers()).length);
    client.close();
    raw = { seconds: r.seconds, label: "etcd3 getAll().prefix(dapr/) (etcdctl not installed)" };
  }

  // Our file export, in a child process (its own peak RSS).
  let child:
    | { seconds: number; maxRssKb: number; summary: { bytes: number; jobs: number; counters: number } }
    | undefined;
  for (let r = 0; r < RUNS; r++) {
    const out = join(dir, `export-${r}.bin`);
    const res = spawnSync(
      process.execPath,
      [
        "--import",
        "tsx",
        new URL(import.meta.url).pathname,
        "--child",
        "export",
        "--etcd-endpoint",
        endpoint,
        "--out",
        out,
      ],
      { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 20 },
    );
    if (res.status !== 0) throw new Error(`export child failed (${res.status})`);
    const result = JSON.parse(res.stdout.trim().split("\n").at(-1)!);
    if (!child || result.seconds < child.seconds) child = result;
    await rm(out);
  }

  // The streaming exports into a null sink: two passes (no disk), and spooled (one pass).
  const streamed = await best(RUNS, () => exportToSink(store, () => undefined));
  const spooled = await best(RUNS, () => exportToSink(store, () => undefined, { spoolDir: dir }));
  const fileSize = child!.summary.bytes;

  console.log(`raw: ${raw.label.padEnd(52)} ${raw.seconds.toFixed(2)} s`);
  console.log(
    `ours: exportToFile (1 pass + spool, child process)${" ".repeat(6)} ${child!.seconds.toFixed(2)} s  ` +
      `(${child!.summary.jobs} jobs, ${child!.summary.counters} counters, ${(fileSize / 1e6).toFixed(1)} MB)`,
  );
  console.log(`ours: exportToSink (2 passes, no disk)${" ".repeat(17)} ${streamed.seconds.toFixed(2)} s`);
  console.log(`ours: exportToSink (spoolDir: 1 pass + spool)${" ".repeat(10)} ${spooled.seconds.toFixed(2)} s`);
  console.log(`ratio exportToFile / raw: ${(child!.seconds / raw.seconds).toFixed(2)}x`);
  console.log(`ratio exportToSink (2 passes) / raw: ${(streamed.seconds / raw.seconds).toFixed(2)}x`);
  console.log(`ratio exportToSink (spoolDir) / raw: ${(spooled.seconds / raw.seconds).toFixed(2)}x`);
  console.log(`peak RSS of the export child: ${(child!.maxRssKb / 1024).toFixed(0)} MiB`);
  await stat(dir);
} finally {
  await store.close();
  await rm(dir, { recursive: true, force: true });
  await server?.stop();
}
