/**
 * Peak RSS of the CLI's two whole-app reads, `workflow list -o json` and `report stuck --format json`, as the app
 * grows (100k → 1M instances by default): both must stay flat. Each runs as users run it (`bin/housekeeper.mjs`,
 * under /usr/bin/time; the built dist/cli when it is current, else the sources through tsx, which bin says on
 * stderr), output to /dev/null, on PostgreSQL (v1 table, C collation).
 *
 * Seeding a million instances (about 14 million rows) through the client takes long on a busy 2-core machine, so a
 * template of --template instances (the stuck-scan bench's mix: every scenario, ages 0–1000 h, timers 48 h after
 * creation) is written once through the same writer as the other benches, then copied server-side (INSERT … SELECT)
 * under new instance IDs, one block of IDs per copy: each copy has the template's rows byte for byte, so the IDs
 * inside the values (ExecutionStarted's own ID, a child's parent) stay the template's. Neither command reads those.
 * The raw read of the same rows (a cursor `SELECT key, value`) is timed at each size for the time ratios.
 *
 *   node --import tsx bench/cli-memory.ts [--counts 100000,1000000] [--template 10000] [--postgres-url postgres://...]
 */
import { spawnSync } from "node:child_process";
import { parseArgs } from "node:util";
import pg from "pg";
import Cursor from "pg-cursor";
import type { InstanceSpec, Scenario } from "../shared/sample-data/instance-builder.ts";
import { SCENARIOS } from "../shared/sample-data/instance-builder.ts";
import { writeInstances } from "../shared/sample-data/writer.ts";
import type { AppRef } from "../shared/state-store/keys.ts";
import { workflowKeyPrefix } from "../shared/state-store/keys.ts";
import { createPostgresDaprTable, openPostgresBackend } from "../shared/state-store/postgresql.ts";
import { startPostgres } from "../test/support/servers.ts";

const { values: args } = parseArgs({
  options: {
    counts: { type: "string", default: "100000,1000000" },
    template: { type: "string", default: "10000" },
    "postgres-url": { type: "string" },
  },
});
const APP: AppRef = { appId: "benchapp", namespace: "default" };
const TABLE = "bench_memory";
const TEMPLATE_TABLE = "bench_memory_template";
const HOUR = 3_600_000;
const ID_DIGITS = 7;
const TEMPLATE = Number(args.template);
const COUNTS = args.counts.split(",").map(Number);
for (const n of COUNTS) {
  if (!Number.isInteger(n) || n <= 0 || n % TEMPLATE !== 0 || n >= 10 ** ID_DIGITS) {
    throw new Error(`--counts: each count must be a positive multiple of --template (${TEMPLATE}) below 10^7`);
  }
}

const server = args["postgres-url"] ? undefined : await startPostgres();
const url = args["postgres-url"] ?? server!.url;
const admin = new pg.Client({ connectionString: url });
await admin.connect();
try {
  for (const table of [TABLE, TEMPLATE_TABLE]) {
    await admin.query(`DROP TABLE IF EXISTS ${table}`);
    await createPostgresDaprTable(admin, table, "v1");
  }
  const t0 = performance.now();
  const backend = await openPostgresBackend({ connectionString: url, tableName: TEMPLATE_TABLE });
  const now = Date.now();
  const specs: InstanceSpec[] = [];
  for (let i = 0; i < TEMPLATE; i++) {
    const scenario: Scenario = SCENARIOS[i % SCENARIOS.length]!;
    const createdAt = new Date(now - (i % 1000) * HOUR);
    specs.push({
      instanceId: `order-${i.toString().padStart(ID_DIGITS, "0")}`,
      scenario,
      createdAt,
      timerFireAt: new Date(createdAt.getTime() + 48 * HOUR),
    });
  }
  await writeInstances(backend, APP, specs, { batchSize: 500 });
  await backend.close();
  console.log(`template: ${TEMPLATE} instances written in ${seconds(t0)} s`);

  // Where the instance ID's digits start in every key of the app (`<prefix>order-NNNNNNN…`; children `…:0000`).
  const digitsAt = workflowKeyPrefix(APP).length + "order-".length + 1;
  let copies = 0;
  console.log(`load before: ${uptime()}`);
  for (const count of COUNTS) {
    const t1 = performance.now();
    for (; copies * TEMPLATE < count; copies++) {
      await admin.query(
        `INSERT INTO ${TABLE} (key, value, isbinary, insertdate)
           SELECT overlay(key PLACING lpad((substr(key, $1, $2)::int + $3)::text, $2, '0') FROM $1 FOR $2),
                  value, isbinary, insertdate
             FROM ${TEMPLATE_TABLE}`,
        [digitsAt, ID_DIGITS, copies * TEMPLATE],
      );
    }
    await admin.query(`VACUUM ANALYZE ${TABLE}`);
    const { rows } = await admin.query<{ n: string }>(`SELECT count(*) AS n FROM ${TABLE}`);
    console.log(`\n${count} instances (${rows[0]!.n} rows): grown in ${seconds(t1)} s; load ${uptime()}`);

    const raw = performance.now();
    const cursor = admin.query(
      new Cursor(`SELECT key, value FROM ${TABLE} WHERE key LIKE $1 ORDER BY key`, [`${workflowKeyPrefix(APP)}%`]),
    );
    while ((await cursor.read(5000)).length > 0) {}
    await cursor.close();
    const rawSeconds = (performance.now() - raw) / 1000;
    console.log(`  raw SELECT key, value           : ${rawSeconds.toFixed(2)} s`);

    const common = ["-a", APP.appId, "-c", url, "-t", TABLE];
    for (const [label, command] of [
      ["workflow list -o json          ", ["workflow", "list", ...common, "-o", "json"]],
      [
        "report stuck --format json     ",
        ["report", "stuck", ...common, "--format", "json", "--retention", "COMPLETED=720h,FAILED=2160h"],
      ],
    ] as const) {
      const run = spawnSync("/usr/bin/time", ["-f", "%e %M", process.execPath, "bin/housekeeper.mjs", ...command], {
        encoding: "utf8",
        maxBuffer: 1 << 26,
        stdio: ["ignore", "ignore", "pipe"],
      });
      const lines = run.stderr.trim().split("\n");
      const [elapsed, peakKb] = (lines.at(-1) ?? "").split(" ");
      const via = /through tsx/.test(run.stderr) ? "sources via tsx" : "dist/cli";
      if (run.status === 0) {
        console.log(
          `  ${label}: ${elapsed} s (${(Number(elapsed) / rawSeconds).toFixed(2)}x raw), peak RSS ${Math.round(Number(peakKb) / 1024)} MiB (${via})`,
        );
      } else {
        console.log(`  ${label}: failed (exit ${run.status}): ${run.stderr.slice(-600)}`);
      }
    }
  }
  console.log(`\nload after: ${uptime()}`);
} finally {
  await admin.end();
  await server?.stop();
}

function seconds(since: number): string {
  return ((performance.now() - since) / 1000).toFixed(1);
}

function uptime(): string {
  return spawnSync("uptime", { encoding: "utf8" })
    .stdout.trim()
    .replace(/^.*load average: /, "");
}
