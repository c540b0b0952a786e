/**
 * Purge benchmarks, each against its raw limit in the same run:
 *   direct   — our direct-mode purge of N due instances on PostgreSQL with the Scheduler's etcd (reminders looked up
 *              for every instance, deleted where left over) vs a raw batched SQL DELETE of the same rows plus a raw
 *              etcd delete of the same reminder keys;
 *   sidecar  — our sidecar-mode purge (default concurrency) vs the Dapr CLI's algorithm (one at a time, in order)
 *              through the same sidecar, a separate process that only waits a fixed latency;
 *   memory   — peak RSS of a dry run over N instances, for two sizes, to show it stays flat as the store grows.
 *
 *   node --import tsx bench/purge.ts [--count 100000] [--sidecar-count 2000] [--latency-ms 20]
 *                                    [--memory-counts 100000,1000000]   (each size runs in a fresh process)
 */
import { spawnSync } from "node:child_process";
import { parseArgs } from "node:util";
import pg from "pg";
import { runRetentionPurge } from "../shared/jobs/retention-purge.ts";
import type { InstanceSpec } from "../shared/sample-data/instance-builder.ts";
import type { SeedJob } from "../shared/sample-data/scheduler-jobs.ts";
import { buildSeeds } from "../shared/sample-data/scheduler-jobs.ts";
import { writeInstances } from "../shared/sample-data/writer.ts";
import { openEtcdSchedulerStore } from "../shared/scheduler/etcd-store.ts";
import type { SchedulerStore } from "../shared/scheduler/store.ts";
import { HttpSidecarClient } from "../shared/sidecar/http-client.ts";
import type { AppRef } from "../shared/state-store/keys.ts";
import { createPostgresDaprTable, openPostgresBackend } from "../shared/state-store/postgresql.ts";
import { WorkflowStateStore } from "../shared/state-store/workflow-store.ts";
import { schedulerReminderCleaner, sidecarPurger } from "../shared/wiring/target-ports.ts";
import { startEtcd, startPostgres } from "../test/support/servers.ts";
import { startLatencySidecar, time } from "./support/run.ts";

const { values: args } = parseArgs({
  options: {
    count: { type: "string", default: "100000" },
    "sidecar-count": { type: "string", default: "2000" },
    "latency-ms": { type: "string", default: "20" },
    "memory-counts": { type: "string", default: "100000,1000000" },
    "memory-child": { type: "string" },
    "postgres-url": { type: "string" },
  },
});
const APP: AppRef = { appId: "benchapp", namespace: "default" };
const NOW = Date.now();
const DAY = 86_400_000;

const server = args["postgres-url"] ? undefined : await startPostgres();
const url = args["postgres-url"] ?? server!.url;
const admin = new pg.Client({ connectionString: url });
await admin.connect();

/** Seeds `count` COMPLETED instances 40 days old (all due under a 30-day rule) into a fresh table. */
async function seed(table: string, count: number): Promise<void> {
  await admin.query(`DROP TABLE IF EXISTS ${table}`);
  await createPostgresDaprTable(admin, table, "v1");
  const backend = await openPostgresBackend({ connectionString: url, tableName: table });
  for (let start = 0; start < count; start += 5000) {
    const specs: InstanceSpec[] = [];
    for (let i = start; i < Math.min(count, start + 5000); i++) {
      specs.push({
        instanceId: `order-${i.toString().padStart(8, "0")}`,
        scenario: "completed",
        createdAt: new Date(NOW - 40 * DAY),
      });
    }
    await writeInstances(backend, APP, specs, { batchSize: 1000 });
  }
  await backend.close();
  await admin.query(`VACUUM ANALYZE ${table}`);
}

const REMINDER_EVERY = 10;

/** A leftover timer reminder (job + counter) for one instance in REMINDER_EVERY; returns how many jobs. */
async function seedReminders(scheduler: SchedulerStore, count: number): Promise<number> {
  let jobs = 0;
  for (let start = 0; start < count; start += 5000) {
    const seeds: SeedJob[] = [];
    for (let i = start; i < Math.min(count, start + 5000); i += REMINDER_EVERY) {
      const instanceId = `order-${i.toString().padStart(8, "0")}`;
      seeds.push({ target: { workflow: { appId: APP.appId, instanceId } }, name: "timer-0", counter: { count: 1 } });
    }
    const entries = buildSeeds(seeds);
    for (let i = 0; i < entries.length; i += 100) await scheduler.put(entries.slice(i, i + 100));
    jobs += seeds.length;
  }
  return jobs;
}

try {
  if (args["memory-child"]) {
    // One dry run over an already-seeded table; the parent reads our peak RSS.
    const backend = await openPostgresBackend({ connectionString: url, tableName: args["memory-child"] });
    const result = await runRetentionPurge(
      { store: new WorkflowStateStore(backend, APP) },
      { retention: { COMPLETED: 30 * DAY }, mode: "direct", dryRun: true, reportLimit: 100 },
    );
    await backend.close();
    console.log(
      JSON.stringify({ matched: result.matched, maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024) }),
    );
  } else {
    const count = Number(args.count);
    // direct mode (with the Scheduler, as users run it) vs a raw batched DELETE of the same rows plus a raw etcd
    // delete of the same reminder keys. One instance in REMINDER_EVERY keeps a leftover timer reminder and counter
    // (a crash before Dapr's own cleanup); every instance is still looked up in the Scheduler, as a real purge does.
    const etcd = await startEtcd();
    const scheduler = openEtcdSchedulerStore({ endpoints: [etcd.endpoint], root: "dapr/" });
    try {
      await seed("bench_direct", count);
      const reminderCount = await seedReminders(scheduler, count);
      const rows = Number((await admin.query("SELECT count(*) AS n FROM bench_direct")).rows[0].n);
      const backend = await openPostgresBackend({ connectionString: url, tableName: "bench_direct" });
      const [ours, oursSeconds] = await time(() =>
        runRetentionPurge(
          { store: new WorkflowStateStore(backend, APP), reminders: schedulerReminderCleaner(scheduler) },
          { retention: { COMPLETED: 30 * DAY }, mode: "direct", concurrency: 16, pageSize: 500 },
        ),
      );
      await backend.close();
      await seed("bench_raw", count);
      await seedReminders(scheduler, count);
      const keys = (await admin.query<{ key: string }>("SELECT key FROM bench_raw ORDER BY key")).rows.map(
        (r) => r.key,
      );
      const reminderKeys: string[] = [];
      const snapshot = await scheduler.snapshot();
      for await (const page of snapshot.scan("dapr/")) for (const e of page) reminderKeys.push(e.key);
      const [, rawSeconds] = await time(async () => {
        for (let i = 0; i < keys.length; i += 5000) {
          await admin.query("DELETE FROM bench_raw WHERE key = ANY($1::text[])", [keys.slice(i, i + 5000)]);
        }
        for (let i = 0; i < reminderKeys.length; i += 100) await scheduler.deleteKeys(reminderKeys.slice(i, i + 100));
      });
      if (ours.remindersDeleted !== reminderCount) {
        console.log(`WARNING: ${ours.remindersDeleted} of ${reminderCount} reminder jobs deleted`);
      }
      console.log(
        `direct mode : purged ${ours.purged} instances (${rows} rows, ${ours.remindersDeleted} reminder jobs) in ${oursSeconds.toFixed(2)} s = ${Math.round(ours.purged / oursSeconds)} instances/s`,
      );
      console.log(
        `raw DELETE  : ${keys.length} rows in batches of 5000 + ${reminderKeys.length} etcd keys in transactions of 100 in ${rawSeconds.toFixed(2)} s`,
      );
      console.log(`ratio direct / raw DELETE: ${(oursSeconds / rawSeconds).toFixed(2)}x`);
    } finally {
      await scheduler.close();
      await etcd.stop();
    }

    // sidecar mode vs the Dapr CLI's one-at-a-time purge, through the same sidecar: a separate process that only
    // waits a fixed latency (bench/support/latency-sidecar.ts), so the figure measures the client.
    const sidecarCount = Number(args["sidecar-count"]);
    const latencyMs = Number(args["latency-ms"]);
    const rates: Record<string, number> = {};
    await seed("bench_sidecar", sidecarCount);
    const sb = await openPostgresBackend({ connectionString: url, tableName: "bench_sidecar" });
    const store = new WorkflowStateStore(sb, APP);
    for (const mode of ["ours", "dapr-cli"] as const) {
      const sidecarProcess = await startLatencySidecar(latencyMs);
      const sidecar = new HttpSidecarClient({ url: sidecarProcess.url });
      const [purged, seconds] = await time(async () => {
        if (mode === "ours") {
          // The CLI's and the policy's default concurrency (20).
          const r = await runRetentionPurge(
            { store, purger: sidecarPurger(sidecar) },
            { retention: { COMPLETED: 30 * DAY }, mode: "sidecar" },
          );
          return r.purged;
        }
        // dapr/cli pkg/workflow/purge.go: list everything first, then purge one by one, in order.
        const ids: string[] = [];
        for await (const page of store.listInstances())
          for (const i of page.instances) if (i.isTerminal) ids.push(i.instanceId);
        for (const id of ids) await sidecar.purge(id);
        return ids.length;
      });
      await sidecar.close();
      const served = await sidecarProcess.stop();
      rates[mode] = purged / seconds;
      console.log(
        `sidecar ${mode.padEnd(8)}: ${purged} instances in ${seconds.toFixed(2)} s = ${Math.round(purged / seconds)} instances/s (latency ${latencyMs} ms; sidecar saw ${served})`,
      );
    }
    await sb.close();
    console.log(
      `ratio sidecar ours / Dapr CLI algorithm: ${(rates.ours! / rates["dapr-cli"]!).toFixed(1)}x the throughput`,
    );

    // memory: dry runs over growing stores, each in a fresh process
    for (const n of (args["memory-counts"] ?? "").split(",").filter(Boolean).map(Number)) {
      await seed("bench_memory", n);
      const child = spawnSync(
        process.execPath,
        ["--import", "tsx", "bench/purge.ts", "--postgres-url", url, "--memory-child", "bench_memory"],
        {
          encoding: "utf8",
        },
      );
      const line = child.stdout.trim().split("\n").at(-1) ?? "{}";
      const { matched, maxRssMiB } = JSON.parse(line) as { matched: number; maxRssMiB: number };
      console.log(`dry run over ${n} instances: matched ${matched}, peak RSS ${maxRssMiB} MiB`);
    }
  }
} finally {
  await admin.end();
  await server?.stop();
}
