/**
 * List throughput on MariaDB: our listing (one ordered range scan a page over the primary key, in the id column's own
 * collation) against the raw limit — one streamed `SELECT id, value` of the same rows in key order — in the same run;
 * also the listing by key pages + batched reads (the path before range scans) for comparison. The table is Dapr's
 * (state/mysql/mysql.go ensureStateTable), created in a database whose default collation is `--collation` (Dapr's
 * DDL names none, so that is what the id column gets).
 *
 *   node --import tsx bench/list-mysql.ts [--count 100000] [--collation utf8mb4_general_ci] [--mysql-url mysql://...]
 */
import { parseArgs } from "node:util";
import mysqlCallback from "mysql2";
import mysql from "mysql2/promise";
import type { AppRef } from "../shared/state-store/keys.ts";
import { workflowKeyPrefix } from "../shared/state-store/keys.ts";
import { openMysqlBackend } from "../shared/state-store/mysql.ts";
import { createMysqlDaprTable } from "../shared/state-store/mysql-table.ts";
import { WorkflowStateStore } from "../shared/state-store/workflow-store.ts";
import { parseMysqlUrl, startMariadb } from "../test/support/servers.ts";
import { seedListingApp } from "./support/run.ts";

const { values: args } = parseArgs({
  options: {
    count: { type: "string", default: "100000" },
    collation: { type: "string", default: "utf8mb4_general_ci" },
    "mysql-url": { type: "string" },
    "skip-key-pages": { type: "boolean", default: false },
  },
});
const COUNT = Number(args.count);
const COLLATION = args.collation;
if (!/^[a-z0-9]+_[a-z0-9_]+$/.test(COLLATION)) throw new Error(`not a collation name: ${COLLATION}`);
const CHARSET = COLLATION.split("_")[0]!;
const APP: AppRef = { appId: "benchapp", namespace: "default" };
const DATABASE = "bench_list";

const server = args["mysql-url"] ? undefined : await startMariadb();
const info = args["mysql-url"] ? parseMysqlUrl(args["mysql-url"]) : server!;
const connection = { host: info.host, port: info.port, user: info.user, password: info.password };
const admin = await mysql.createConnection(connection);

try {
  await admin.query(`DROP DATABASE IF EXISTS ${DATABASE}`);
  await admin.query(`CREATE DATABASE ${DATABASE} CHARACTER SET ${CHARSET} COLLATE ${COLLATION}`);
  await createMysqlDaprTable(admin, DATABASE, "state");
  const backend = await openMysqlBackend({ ...connection, database: DATABASE, tableName: "state" });
  const t0 = performance.now();
  await seedListingApp(backend, APP, COUNT);
  await admin.query(`ANALYZE TABLE ${DATABASE}.state`);
  const [[count]] = (await admin.query(`SELECT COUNT(*) AS n FROM ${DATABASE}.state`)) as unknown as [
    Array<{ n: number }>,
  ];
  console.log(
    `MariaDB ${await version()}, id column ${COLLATION}: seeded ${COUNT} instances (${count!.n} rows, with children) in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );

  // Raw limit: every row of the app in key order, one statement streamed row by row (mysql2's text protocol).
  const stem = workflowKeyPrefix(APP).slice(0, -2);
  const above = backend.layout.aboveSeparator ?? "~";
  const raw = await time(async () => {
    const conn = mysqlCallback.createConnection({ ...connection, jsonStrings: true });
    let n = 0;
    const stream = conn
      .query(`SELECT id, value FROM ${DATABASE}.state WHERE id >= ? AND id < ? ORDER BY id`, [stem, `${stem}${above}`])
      .stream();
    for await (const _ of stream) n++;
    await conn.promise().end();
    return n;
  });

  // The store's own part: the same rows through backend.scanEntries pages (5000 rows, the listing's page), no decoding.
  const scan = await time(async () => {
    let n = 0;
    let after: string | undefined;
    for (;;) {
      const page = await backend.scanEntries!({ prefix: workflowKeyPrefix(APP), pageSize: 5000, after });
      n += page.entries.length;
      if (page.done) return n;
      after = page.lastKey;
    }
  });

  const ours = await time(async () => {
    const store = new WorkflowStateStore(backend, APP);
    let n = 0;
    for await (const page of store.listInstances({ pageSize: 500 })) n += page.instances.length;
    return n;
  });
  const ranged = backend.scanEntries !== undefined;

  let keyPages: { result: number; seconds: number } | undefined;
  if (!args["skip-key-pages"]) {
    const old = await openMysqlBackend({ ...connection, database: DATABASE, tableName: "state" });
    old.scanEntries = undefined; // the listing before range scans: metadata key pages, then batched reads
    keyPages = await time(async () => {
      const store = new WorkflowStateStore(old, APP);
      let n = 0;
      for await (const page of store.listInstances({ pageSize: 500 })) n += page.instances.length;
      return n;
    });
    await old.close();
  }
  await backend.close();

  console.log(`raw SELECT id, value  : ${raw.result} rows in ${raw.seconds.toFixed(2)} s`);
  console.log(
    `backend.scanEntries   : ${scan.result} rows in ${scan.seconds.toFixed(2)} s, ${(scan.seconds / raw.seconds).toFixed(2)}x`,
  );
  console.log(
    `WorkflowStateStore    : ${ours.result} instances in ${ours.seconds.toFixed(2)} s (${Math.round(ours.result / ours.seconds)} instances/s, ${ranged ? "range scan" : "key pages"})`,
  );
  console.log(`ratio ours / raw      : ${(ours.seconds / raw.seconds).toFixed(2)}x the time of the raw read`);
  if (keyPages) {
    console.log(
      `key pages + getMany   : ${keyPages.result} instances in ${keyPages.seconds.toFixed(2)} s, ${(keyPages.seconds / raw.seconds).toFixed(2)}x`,
    );
  }
} finally {
  await admin.query(`DROP DATABASE IF EXISTS ${DATABASE}`).catch(() => {});
  await admin.end();
  await server?.stop();
}

async function version(): Promise<string> {
  const [[row]] = (await admin.query("SELECT VERSION() AS v")) as unknown as [Array<{ v: string }>];
  return row!.v;
}

async function time<T>(work: () => Promise<T>): Promise<{ result: T; seconds: number }> {
  const t = performance.now();
  const result = await work();
  return { result, seconds: (performance.now() - t) / 1000 };
}
