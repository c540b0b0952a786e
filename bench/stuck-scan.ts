/**
 * Stuck-report scan on PostgreSQL: the job's streaming scan (summaries of every instance and, in the same pass, the
 * events of the candidates, classified from the rows already scanned) against the raw limit — a plain cursor `SELECT key, value` of the same rows — in the
 * same run; then `report stuck --format json` end to end in a child process (scan + external sort + rendering) with
 * its peak RSS. With --etcd, an etcd is started too and holds the reminders of the not-finished instances (a tenth
 * of them missing), so the no-reminder lookups are part of the figure; plus orphans (a leftover timer on one finished
 * instance in twenty, reminders of one missing instance per twenty), and the orphan count alone is timed against its
 * raw limit: the same etcd prefix scan plus a plain SELECT of each reminder's instance metadata key.
 *
 *   node --import tsx bench/stuck-scan.ts [--count 100000] [--postgres-url postgres://...] [--etcd]
 */
import { spawnSync } from "node:child_process";
import { parseArgs } from "node:util";
import { Command } from "commander";
import pg from "pg";
import Cursor from "pg-cursor";
import { reportCommand } from "../cli/report/index.ts";
import { countOrphanReminders } from "../shared/jobs/orphan-reminders.ts";
import { EtcdReminders } from "../shared/jobs/stuck-report/etcd-reminders.ts";
import { runStuckReport } from "../shared/jobs/stuck-report/scan.ts";
import type { InstanceSpec, Scenario } from "../shared/sample-data/instance-builder.ts";
import { SCENARIOS } from "../shared/sample-data/instance-builder.ts";
import type { SeedJob } from "../shared/sample-data/scheduler-jobs.ts";
import { buildSeeds } from "../shared/sample-data/scheduler-jobs.ts";
import { writeInstances } from "../shared/sample-data/writer.ts";
import { EtcdSchedulerStore } from "../shared/scheduler/etcd-store.ts";
import { writeBatches } from "../shared/scheduler/store.ts";
import type { AppRef } from "../shared/state-store/keys.ts";
import { instanceKeyPrefix, workflowActorType, workflowKeyPrefix } from "../shared/state-store/keys.ts";
import { createPostgresDaprTable, openPostgresBackend } from "../shared/state-store/postgresql.ts";
import { WorkflowStateStore } from "../shared/state-store/workflow-store.ts";
import { startEtcd, startPostgres } from "../test/support/servers.ts";

const { values: args } = parseArgs({
  options: {
    count: { type: "string", default: "100000" },
    "postgres-url": { type: "string" },
    etcd: { type: "boolean", default: false },
    // Internal: the child process that runs the CLI and reports its own peak RSS.
    child: { type: "string" },
    "etcd-endpoint": { type: "string" },
  },
});
const APP: AppRef = { appId: "benchapp", namespace: "default" };
const TABLE = "bench_stuck";
const HOUR = 3_600_000;
const RETENTION = ["--retention", "COMPLETED=720h,FAILED=2160h,TERMINATED=720h"];

if (args.child) {
  // Child: run `report stuck --format json` exactly as the CLI does, output to /dev/null, then print the peak RSS.
  const started = performance.now();
  const program = new Command("housekeeper").exitOverride();
  const { createWriteStream } = await import("node:fs");
  program.addCommand(reportCommand({ stdout: createWriteStream("/dev/null"), stderr: createWriteStream("/dev/null") }));
  const etcd = args["etcd-endpoint"] ? ["--etcd-endpoints", args["etcd-endpoint"]] : [];
  await program.parseAsync(
    ["report", "stuck", "-a", APP.appId, "-c", args.child, "-t", TABLE, "--format", "json", ...RETENTION, ...etcd],
    { from: "user" },
  );
  const seconds = (performance.now() - started) / 1000;
  console.log(JSON.stringify({ seconds, peakRssKb: process.resourceUsage().maxRSS }));
  process.exit(0);
}

const COUNT = Number(args.count);
const server = args["postgres-url"] ? undefined : await startPostgres();
const etcdServer = args.etcd ? await startEtcd() : undefined;
const url = args["postgres-url"] ?? server!.url;
const admin = new pg.Client({ connectionString: url });
await admin.connect();
await admin.query(`DROP TABLE IF EXISTS ${TABLE}`);
await createPostgresDaprTable(admin, TABLE, "v1");

try {
  const backend = await openPostgresBackend({ connectionString: url, tableName: TABLE });
  const scheduler = etcdServer ? new EtcdSchedulerStore({ endpoints: [etcdServer.endpoint] }) : undefined;
  const t0 = performance.now();
  const now = Date.now();
  let reminders = 0;
  for (let start = 0; start < COUNT; start += 2000) {
    const specs: InstanceSpec[] = [];
    const seeds: SeedJob[] = [];
    for (let i = start; i < Math.min(COUNT, start + 2000); i++) {
      const scenario: Scenario = SCENARIOS[i % SCENARIOS.length]!;
      const instanceId = `order-${i.toString().padStart(7, "0")}`;
      const createdAt = new Date(now - (i % 1000) * HOUR);
      specs.push({ instanceId, scenario, createdAt, timerFireAt: new Date(createdAt.getTime() + 48 * HOUR) });
      const workflow = (name: string, id = instanceId): SeedJob => ({
        target: { workflow: { appId: APP.appId, instanceId: id } },
        name,
      });
      if (i % 20 === 5) seeds.push(workflow("new-event-ghost", `ghost-${i}`)); // no instance behind it
      if (i % 20 === 0 && scenario === "completed") seeds.push(workflow("timer-9-leftover")); // finished
      if (i % 10 === 3) continue; // a tenth of the reminders are lost
      if (scenario === "running-timer" || scenario === "waiting-event") seeds.push(workflow("timer-2-bench"));
      if (scenario === "pending") seeds.push(workflow("start-bench"));
      if (scenario === "terminate-requested") seeds.push(workflow("new-event-bench"));
      if (scenario === "running-activity") {
        seeds.push({ target: { activity: { appId: APP.appId, activityId: `${instanceId}::1::1` } } });
      }
    }
    await writeInstances(backend, APP, specs, { batchSize: 500 });
    if (scheduler) {
      for (const batch of writeBatches(buildSeeds(seeds))) await scheduler.put(batch);
      reminders += seeds.length;
    }
  }
  await admin.query(`VACUUM ANALYZE ${TABLE}`);
  const { rows } = await admin.query<{ n: string }>(`SELECT count(*) AS n FROM ${TABLE}`);
  console.log(
    `seeded ${COUNT} instances (${rows[0]!.n} rows, with children)${scheduler ? ` and ${reminders} reminders in etcd` : ""} in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );

  // Raw limit: every row of the app, streamed with a server-side cursor.
  const raw = await time(async () => {
    const cursor = admin.query(
      new Cursor(`SELECT key, value FROM ${TABLE} WHERE key LIKE $1 ORDER BY key`, [`${workflowKeyPrefix(APP)}%`]),
    );
    let n = 0;
    for (;;) {
      const batch = await cursor.read(5000);
      if (batch.length === 0) break;
      n += batch.length;
    }
    await cursor.close();
    return n;
  });

  // The listing alone (every instance's summary: metadata and history read and decoded), the floor of any scan.
  const listing = await time(async () => {
    let n = 0;
    for await (const page of new WorkflowStateStore(backend, APP).listInstances()) n += page.instances.length;
    return n;
  });

  const reminderSource = etcdServer ? new EtcdReminders({ endpoints: [etcdServer.endpoint] }) : undefined;
  const rssBefore = process.memoryUsage().rss;
  let rssPeak = rssBefore;
  const sampler = setInterval(() => {
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
  }, 20);
  const ours = await time(() =>
    runStuckReport(
      {
        store: new WorkflowStateStore(backend, APP),
        ...(reminderSource ? { reminders: reminderSource.forApp(APP) } : {}),
      },
      { retention: { COMPLETED: 720 * HOUR, FAILED: 2160 * HOUR, TERMINATED: 720 * HOUR } },
    ),
  );
  clearInterval(sampler);

  if (scheduler) {
    // Orphan count alone vs its raw limit: scan the same reminder keys, SELECT each instance's metadata key.
    const prefix = `dapr/jobs/actorreminder||${APP.namespace}||${workflowActorType(APP)}||`;
    const rawOrphans = await time(async () => {
      const snapshot = await scheduler.snapshot();
      let keys = 0;
      for await (const page of snapshot.scan(prefix, { pageSize: 500 })) {
        keys += page.length;
        const ids = [...new Set(page.map((e) => e.key.slice(prefix.length).split("||")[0]!))];
        for (let i = 0; i < ids.length; i += 200) {
          const metadata = ids.slice(i, i + 200).map((id) => `${instanceKeyPrefix(APP, id)}metadata`);
          await admin.query(`SELECT key, value FROM ${TABLE} WHERE key = ANY($1)`, [metadata]);
        }
      }
      return keys;
    });
    const orphans = await time(() => countOrphanReminders({ scheduler, store: new WorkflowStateStore(backend, APP) }));
    console.log(
      `orphan count (job)    : ${orphans.result.total} orphans (${Object.entries(orphans.result.byReason)
        .map(([r, n]) => `${r} ${n}`)
        .join(
          ", ",
        )}) among ${rawOrphans.result} reminders in ${orphans.seconds.toFixed(2)} s; raw scan + metadata SELECT ${rawOrphans.seconds.toFixed(2)} s = ${(orphans.seconds / rawOrphans.seconds).toFixed(2)}x`,
    );
  }
  await backend.close();
  await scheduler?.close();
  await reminderSource?.close();

  const s = ours.result.summary;
  console.log(`raw SELECT key, value : ${raw.result} rows in ${raw.seconds.toFixed(2)} s`);
  console.log(
    `listInstances alone   : ${listing.result} instances in ${listing.seconds.toFixed(2)} s (${(listing.seconds / raw.seconds).toFixed(2)}x raw)`,
  );
  console.log(
    `stuck scan (job)      : ${s.scanned} instances (${s.read} candidates analysed, ${s.stuck} stuck: ${Object.entries(
      s.byReason,
    )
      .map(([r, n]) => `${r} ${n}`)
      .join(", ")}) in ${ours.seconds.toFixed(2)} s = ${Math.round(s.scanned / ours.seconds)} instances/s`,
  );
  console.log(
    `ratio scan / raw      : ${(ours.seconds / raw.seconds).toFixed(2)}x the time of the raw read (${(ours.seconds / listing.seconds).toFixed(2)}x the listing alone)`,
  );
  console.log(
    `in-process RSS        : ${mib(rssBefore)} MiB before, ${mib(rssPeak)} MiB peak during the scan (+${mib(rssPeak - rssBefore)} MiB)`,
  );

  const child = spawnSync(
    process.execPath,
    [
      "--import",
      "tsx",
      new URL(import.meta.url).pathname,
      "--child",
      url,
      ...(etcdServer ? ["--etcd-endpoint", etcdServer.endpoint] : []),
    ],
    { encoding: "utf8", maxBuffer: 1 << 26 },
  );
  const last = child.stdout.trim().split("\n").at(-1) ?? "";
  if (child.status === 0 && last.startsWith("{")) {
    const { seconds, peakRssKb } = JSON.parse(last) as { seconds: number; peakRssKb: number };
    console.log(
      `CLI report stuck --format json: ${seconds.toFixed(2)} s, peak RSS ${Math.round(peakRssKb / 1024)} MiB`,
    );
    console.log(`ratio CLI / raw       : ${(seconds / raw.seconds).toFixed(2)}x`);
  } else {
    console.log(`CLI run failed (exit ${child.status}): ${child.stderr.slice(-800)}`);
  }
} finally {
  await admin.end();
  await server?.stop();
  await etcdServer?.stop();
}

function mib(bytes: number): number {
  return Math.round(bytes / 1024 / 1024);
}

async function time<T>(work: () => Promise<T>): Promise<{ result: T; seconds: number }> {
  const t = performance.now();
  const result = await work();
  return { result, seconds: (performance.now() - t) / 1000 };
}
