/**
 * Reminder restore: speed against the raw limit, and memory as the backup grows. For each size N (--counts, default
 * 20000,100000), in a throwaway etcd:
 *   - seeds N jobs (+ counters for about half) in Dapr's layout, and backs them up (runReminderBackup) to a
 *     filesystem object store;
 *   - the raw limit: the same keys put into an empty root with plain etcd transactions (128 puts, 8 in flight), read
 *     from the export file held in memory — no verification, no comparison with what is there, no pairing;
 *   - ours: runReminderRestore of that backup into another empty root, in a child process whose peak RSS is reported
 *     (it spools the file, verifies it whole, then writes by a merge of two decoders over the spool).
 * Prints the time of each, their ratio, and the restore's peak RSS per size: it must stay flat as the backup grows.
 *
 *   node --import tsx bench/reminder-restore.ts [--counts 20000,100000] [--etcd-endpoint host:port]
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { runReminderBackup } from "../shared/jobs/reminder-backup.ts";
import { runReminderRestore } from "../shared/jobs/reminder-restore.ts";
import { FilesystemObjectStore } from "../shared/object-store/filesystem.ts";
import { buildSeed, variedSeedJob } from "../shared/sample-data/scheduler-jobs.ts";
import { EtcdSchedulerStore } from "../shared/scheduler/etcd-store.ts";
import { decodeExportFile } from "../shared/scheduler/gob-decode.ts";
import type { StoredEntry } from "../shared/scheduler/store.ts";
import { writeBatches } from "../shared/scheduler/store.ts";

const { values: args } = parseArgs({
  options: {
    counts: { type: "string", default: "20000,100000" },
    "etcd-endpoint": { type: "string" },
    // internal: the child process that runs one restore and reports its time and peak RSS
    child: { type: "string" },
    backups: { type: "string" },
    key: { type: "string" },
    root: { type: "string" },
  },
});

const randomRoot = () => `bench-${randomBytes(4).toString("hex")}/dapr/`;

if (args.child === "restore") {
  const scheduler = new EtcdSchedulerStore({ endpoints: [args["etcd-endpoint"]!], root: args.root! });
  const objectStore = new FilesystemObjectStore({ root: args.backups! });
  const t0 = performance.now();
  const result = await runReminderRestore({ scheduler, objectStore }, { backupKey: args.key!, reportLimit: 0 });
  const seconds = (performance.now() - t0) / 1000;
  await scheduler.close();
  const { counts, bytes, isComplete, transactions } = result;
  process.stdout.write(
    `${JSON.stringify({ seconds, maxRssKb: process.resourceUsage().maxRSS, counts, bytes, isComplete, transactions })}\n`,
  );
  process.exit(0);
}

/** Puts entries with 8 transactions of at most 128 puts in flight. */
async function putAll(store: EtcdSchedulerStore, entries: Iterable<StoredEntry>): Promise<void> {
  const inFlight = new Set<Promise<unknown>>();
  let pending: StoredEntry[] = [];
  const flush = async () => {
    for (const batch of writeBatches(pending)) {
      const p = store.put(batch).finally(() => inFlight.delete(p));
      inFlight.add(p);
      if (inFlight.size >= 8) await Promise.race(inFlight);
    }
    pending = [];
  };
  for (const entry of entries) {
    pending.push(entry);
    if (pending.length >= 12_800) await flush();
  }
  await flush();
  await Promise.all(inFlight);
}

const counts = args.counts.split(",").map(Number);
const { startEtcd } = await import("../test/support/servers.ts");
const server = args["etcd-endpoint"] ? undefined : await startEtcd();
const endpoint = args["etcd-endpoint"] ?? server!.endpoint;
const dir = await mkdtemp(join(tmpdir(), "housekeeper-bench-restore-"));
const rows: string[] = [];

try {
  for (const count of counts) {
    const source = new EtcdSchedulerStore({ endpoints: [endpoint], root: randomRoot() });
    const seeds = function* () {
      for (let i = 0; i < count; i++) {
        const built = buildSeed(variedSeedJob(i));
        yield built.job;
        if (built.counter) yield built.counter;
      }
    };
    await putAll(source, seeds());
    const backups = join(dir, `backups-${count}`);
    const objectStore = new FilesystemObjectStore({ root: backups });
    const backup = await runReminderBackup({ scheduler: source, objectStore }, {});
    await source.close();

    // Raw: the same keys, straight from the file in memory into an empty root.
    const file = decodeExportFile(await readFile(join(backups, backup.key)));
    const raw = new EtcdSchedulerStore({ endpoints: [endpoint], root: randomRoot() });
    const t0 = performance.now();
    await putAll(raw, [
      ...[...file.jobs].map(([key, value]) => ({ key, value })),
      ...[...file.counters].map(([key, value]) => ({ key, value })),
    ]);
    const rawSeconds = (performance.now() - t0) / 1000;
    await raw.close();

    // Ours, in a child process.
    const res = spawnSync(
      process.execPath,
      [
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
        backup.key,
        "--root",
        randomRoot(),
      ],
      { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 20 },
    );
    if (res.status !== 0) throw new Error(`restore child failed (${res.status})`);
    const ours = JSON.parse(res.stdout.trim().split("\n").at(-1)!);
    if (!ours.isComplete || ours.counts.created !== file.jobs.size + file.counters.size) {
      throw new Error(`the restore did not create every key: ${JSON.stringify(ours)}`);
    }
    rows.push(
      `${String(count).padStart(8)} jobs  ${(ours.bytes / 1e6).toFixed(1).padStart(6)} MB  ` +
        `${String(ours.counts.created).padStart(8)} keys   raw ${rawSeconds.toFixed(2).padStart(6)} s   ` +
        `ours ${ours.seconds.toFixed(2).padStart(6)} s   ratio ${(ours.seconds / rawSeconds).toFixed(2)}x   ` +
        `restore peak RSS ${(ours.maxRssKb / 1024).toFixed(0)} MiB`,
    );
    console.log(rows.at(-1));
  }
  console.log(
    "\nraw: plain etcd puts of the file's keys (8 txns of 128 in flight), file decoded in memory beforehand;\n" +
      "ours: runReminderRestore (spool + sha256 + full decode/validation, then merged writes compared with etcd).",
  );
} finally {
  await rm(dir, { recursive: true, force: true });
  await server?.stop();
}
