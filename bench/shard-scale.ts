import { parseArgs } from "node:util";
import pLimit from "p-limit";
import pg from "pg";
import { runRetentionPurge } from "../shared/jobs/retention-purge.ts";
import type { InstanceSpec } from "../shared/sample-data/instance-builder.ts";
import { buildSeeds, type SeedJob } from "../shared/sample-data/scheduler-jobs.ts";
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
    "sidecar-count": { type: "string", default: "4000" },
    "latency-ms": { type: "string", default: "20" },
    shards: { type: "string", default: "1,2,4" },
  },
});
const APP: AppRef = { appId: "benchapp", namespace: "default" };
const NOW = Date.now();
const DAY = 86_400_000;
const RETENTION = { COMPLETED: 30 * DAY };
const REMINDER_EVERY = 10;
const SIDECAR_CONCURRENCY = 20;
const shardCounts = args.shards.split(",").map(Number);

const idOf = (i: number) => `order-${i.toString().padStart(8, "0")}`;
const rate = (n: number, s: number) => Math.round(n / s);

const server = await startPostgres();
const admin = new pg.Client({ connectionString: server.url });
await admin.connect();

async function seed(table: string, count: number): Promise<void> {
  await admin.query(`DROP TABLE IF EXISTS ${table}`);
  await createPostgresDaprTable(admin, table, "v1");
  const backend = await openPostgresBackend({ connectionString: server.url, tableName: table });
  for (let start = 0; start < count; start += 5000) {
    const specs: InstanceSpec[] = [];
    for (let i = start; i < Math.min(count, start + 5000); i++) {
      specs.push({ instanceId: idOf(i), scenario: "completed", createdAt: new Date(NOW - 40 * DAY) });
    }
    await writeInstances(backend, APP, specs, { batchSize: 1000 });
  }
  await backend.close();
  await admin.query(`VACUUM ANALYZE ${table}`);
}

/** A fresh copy of the seeded table (same rows, same primary key), so every run purges the same store. */
async function copyOf(template: string, table: string): Promise<void> {
  await admin.query(`DROP TABLE IF EXISTS ${table}`);
  await admin.query(`CREATE TABLE ${table} (LIKE ${template} INCLUDING ALL)`);
  await admin.query(`INSERT INTO ${table} SELECT * FROM ${template}`);
  await admin.query(`VACUUM ANALYZE ${table}`);
}

async function seedReminders(scheduler: SchedulerStore, count: number): Promise<number> {
  const seeds: SeedJob[] = [];
  for (let i = 0; i < count; i += REMINDER_EVERY) {
    seeds.push({
      target: { workflow: { appId: APP.appId, instanceId: idOf(i) } },
      name: "timer-0",
      counter: { count: 1 },
    });
  }
  const entries = buildSeeds(seeds);
  for (let i = 0; i < entries.length; i += 100) await scheduler.put(entries.slice(i, i + 100));
  return seeds.length;
}

try {
  const count = Number(args.count);
  const etcd = await startEtcd();
  const scheduler = openEtcdSchedulerStore({ endpoints: [etcd.endpoint], root: "dapr/" });
  try {
    await seed("shard_template", count);
    const rows = Number((await admin.query("SELECT count(*) AS n FROM shard_template")).rows[0].n);

    // The raw limit: the same rows deleted by key in batches of 5000, the same reminder keys in transactions of 100.
    await copyOf("shard_template", "shard_raw");
    await seedReminders(scheduler, count);
    const keys = (await admin.query<{ key: string }>("SELECT key FROM shard_raw ORDER BY key")).rows.map((r) => r.key);
    const reminderKeys: string[] = [];
    for await (const page of (await scheduler.snapshot()).scan("dapr/")) for (const e of page) reminderKeys.push(e.key);
    const [, rawSeconds] = await time(async () => {
      for (let i = 0; i < keys.length; i += 5000) {
        await admin.query("DELETE FROM shard_raw WHERE key = ANY($1::text[])", [keys.slice(i, i + 5000)]);
      }
      for (let i = 0; i < reminderKeys.length; i += 100) await scheduler.deleteKeys(reminderKeys.slice(i, i + 100));
    });
    const rawRate = rate(count, rawSeconds);
    console.log(
      `raw DELETE : ${count} instances (${rows} rows, ${reminderKeys.length} etcd keys) in ${rawSeconds.toFixed(2)} s = ${rawRate} instances/s`,
    );

    for (const n of shardCounts) {
      await copyOf("shard_template", "shard_direct");
      const reminderCount = await seedReminders(scheduler, count);
      const backends = await Promise.all(
        Array.from({ length: n }, () =>
          openPostgresBackend({ connectionString: server.url, tableName: "shard_direct" }),
        ),
      );
      const [results, wall] = await time(() =>
        Promise.all(
          backends.map(async (backend, k) => {
            const [result, seconds] = await time(() =>
              runRetentionPurge(
                { store: new WorkflowStateStore(backend, APP), reminders: schedulerReminderCleaner(scheduler) },
                {
                  retention: RETENTION,
                  mode: "direct",
                  concurrency: 16,
                  pageSize: 500,
                  ...(n > 1 ? { shard: { index: k + 1, count: n } } : {}),
                },
              ),
            );
            return { result, seconds };
          }),
        ),
      );
      await Promise.all(backends.map((b) => b.close()));
      const purged = results.reduce((s, r) => s + r.result.purged, 0);
      const failed = results.reduce((s, r) => s + r.result.failedCount, 0);
      const reminders = results.reduce((s, r) => s + r.result.remindersDeleted, 0);
      if (purged !== count || failed > 0 || reminders !== reminderCount) {
        console.log(`WARNING: purged ${purged}/${count}, failed ${failed}, reminders ${reminders}/${reminderCount}`);
      }
      const perShard = results.map((r) => rate(r.result.purged, r.seconds)).join(", ");
      const total = rate(purged, wall);
      console.log(
        `direct  N=${n}: ${purged} instances in ${wall.toFixed(2)} s = ${total} instances/s total (per shard: ${perShard}); ratio to raw DELETE ${(total / rawRate).toFixed(2)}`,
      );
    }
  } finally {
    await scheduler.close();
    await etcd.stop();
  }

  // Sidecar mode: one sidecar process for every N; it deletes nothing, so one seeded store serves every run.
  const sidecarCount = Number(args["sidecar-count"]);
  const latencyMs = Number(args["latency-ms"]);
  await seed("shard_sidecar", sidecarCount);
  for (const n of shardCounts) {
    const sidecarProcess = await startLatencySidecar(latencyMs);
    try {
      // The raw limit at this concurrency: bare purge calls for every ID, N × 20 at a time, no store reads.
      const raw = new HttpSidecarClient({ url: sidecarProcess.url, connections: n * SIDECAR_CONCURRENCY });
      const limit = pLimit(n * SIDECAR_CONCURRENCY);
      const [, rawSidecarSeconds] = await time(() =>
        Promise.all(Array.from({ length: sidecarCount }, (_, i) => limit(() => raw.purge(idOf(i))))),
      );
      await raw.close();
      const rawSidecarRate = rate(sidecarCount, rawSidecarSeconds);
      const backends = await Promise.all(
        Array.from({ length: n }, () =>
          openPostgresBackend({ connectionString: server.url, tableName: "shard_sidecar" }),
        ),
      );
      const clients = backends.map(
        () => new HttpSidecarClient({ url: sidecarProcess.url, connections: SIDECAR_CONCURRENCY }),
      );
      const [results, wall] = await time(() =>
        Promise.all(
          backends.map(async (backend, k) => {
            const [result, seconds] = await time(() =>
              runRetentionPurge(
                { store: new WorkflowStateStore(backend, APP), purger: sidecarPurger(clients[k]!) },
                { retention: RETENTION, mode: "sidecar", ...(n > 1 ? { shard: { index: k + 1, count: n } } : {}) },
              ),
            );
            return { result, seconds };
          }),
        ),
      );
      await Promise.all([...backends.map((b) => b.close()), ...clients.map((c) => c.close())]);
      const purged = results.reduce((s, r) => s + r.result.purged, 0);
      if (purged !== sidecarCount) console.log(`WARNING: purged ${purged}/${sidecarCount}`);
      const perShard = results.map((r) => rate(r.result.purged, r.seconds)).join(", ");
      const total = rate(purged, wall);
      console.log(
        `sidecar N=${n}: ${purged} instances in ${wall.toFixed(2)} s = ${total} instances/s total (per shard: ${perShard}); raw calls at ${n * SIDECAR_CONCURRENCY} in flight ${rawSidecarRate}/s, ratio ${(total / rawSidecarRate).toFixed(2)}`,
      );
    } finally {
      console.log(`  (sidecar saw: ${await sidecarProcess.stop()})`);
    }
  }
} finally {
  await admin.end();
  await server.stop();
}
