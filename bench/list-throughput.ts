/**
 * List throughput on PostgreSQL: our streaming listing (scan metadata keys, batch-read histories, decode, derive)
 * against the raw limit — a plain cursor `SELECT key, value` of the same rows — in the same run, plus the CLI's
 * `workflow list -o json` end to end with its peak RSS.
 *
 *   node --import tsx bench/list-throughput.ts [--count 100000] [--postgres-url postgres://...]
 */
import { spawnSync } from "node:child_process";
import { parseArgs } from "node:util";
import pg from "pg";
import Cursor from "pg-cursor";
import type { AppRef } from "../shared/state-store/keys.ts";
import { workflowKeyPrefix } from "../shared/state-store/keys.ts";
import { createPostgresDaprTable, openPostgresBackend } from "../shared/state-store/postgresql.ts";
import { WorkflowStateStore } from "../shared/state-store/workflow-store.ts";
import { startPostgres } from "../test/support/servers.ts";
import { seedListingApp } from "./support/run.ts";

const { values: args } = parseArgs({
  options: { count: { type: "string", default: "100000" }, "postgres-url": { type: "string" } },
});
const COUNT = Number(args.count);
const APP: AppRef = { appId: "benchapp", namespace: "default" };

const server = args["postgres-url"] ? undefined : await startPostgres();
const url = args["postgres-url"] ?? server!.url;
const admin = new pg.Client({ connectionString: url });
await admin.connect();
await admin.query("DROP TABLE IF EXISTS bench_state");
await createPostgresDaprTable(admin, "bench_state", "v1");

try {
  const backend = await openPostgresBackend({ connectionString: url, tableName: "bench_state" });
  const t0 = performance.now();
  await seedListingApp(backend, APP, COUNT);
  await admin.query("VACUUM ANALYZE bench_state");
  const { rows } = await admin.query<{ n: string }>("SELECT count(*) AS n FROM bench_state");
  console.log(
    `seeded ${COUNT} instances (${rows[0]!.n} rows, with children) in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );

  // Raw limit: every row of the app, streamed with a server-side cursor.
  const raw = await time(async () => {
    const cursor = admin.query(
      new Cursor("SELECT key, value FROM bench_state WHERE key LIKE $1 ORDER BY key", [`${workflowKeyPrefix(APP)}%`]),
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

  const ours = await time(async () => {
    const store = new WorkflowStateStore(backend, APP);
    let n = 0;
    for await (const page of store.listInstances({ pageSize: 500 })) n += page.instances.length;
    return n;
  });
  await backend.close();

  console.log(`raw SELECT key, value : ${raw.result} rows in ${raw.seconds.toFixed(2)} s`);
  console.log(
    `WorkflowStateStore    : ${ours.result} instances in ${ours.seconds.toFixed(2)} s (${Math.round(ours.result / ours.seconds)} instances/s)`,
  );
  console.log(`ratio ours / raw      : ${(ours.seconds / raw.seconds).toFixed(2)}x the time of the raw read`);

  const cli = spawnSync(
    "/usr/bin/time",
    [
      "-f",
      "%e %M",
      process.execPath,
      "bin/housekeeper.mjs",
      "workflow",
      "list",
      "-a",
      APP.appId,
      "-c",
      url,
      "-t",
      "bench_state",
      "-o",
      "json",
    ],
    { encoding: "utf8", maxBuffer: 1 << 30, stdio: ["ignore", "ignore", "pipe"] },
  );
  const last = cli.stderr.trim().split("\n").at(-1) ?? "";
  const [elapsed, peakKb] = last.split(" ");
  if (cli.status === 0) {
    console.log(`CLI workflow list -o json: ${elapsed} s, peak RSS ${Math.round(Number(peakKb) / 1024)} MiB`);
    console.log(`ratio CLI / raw       : ${(Number(elapsed) / raw.seconds).toFixed(2)}x`);
  } else {
    console.log(`CLI run failed (exit ${cli.status}): ${cli.stderr.slice(-500)}`);
  }
} finally {
  await admin.end();
  await server?.stop();
}

async function time<T>(work: () => Promise<T>): Promise<{ result: T; seconds: number }> {
  const t = performance.now();
  const result = await work();
  return { result, seconds: (performance.now() - t) / 1000 };
}
