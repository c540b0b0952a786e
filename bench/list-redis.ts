/**
 * List throughput on Redis: our listing (SCAN MATCH for the app's metadata keys, then pipelined HGETs of the metadata
 * and of every history key) against the raw limit of the same I/O in the same run — one SCAN MATCH over every key of
 * the app with a pipelined `HGET key data` per page. Dapr's Redis store keeps each key as a hash (fields `data`,
 * `version`: components-contrib state/redis/redis.go), so MGET cannot read them; a pipeline of HGETs is the fastest
 * read Redis offers for hashes. SCAN walks the whole keyspace in hash order, so an instance's keys are scattered over
 * the scan and cannot be grouped from one pass in bounded memory: the listing needs the metadata first.
 *
 *   node --import tsx bench/list-redis.ts [--count 100000] [--redis-url redis://...]
 */
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import type { AppRef } from "../shared/state-store/keys.ts";
import { workflowKeyPrefix } from "../shared/state-store/keys.ts";
import { openRedisBackend } from "../shared/state-store/redis.ts";
import { WorkflowStateStore } from "../shared/state-store/workflow-store.ts";
import { startRedis } from "../test/support/servers.ts";
import { seedListingApp } from "./support/run.ts";

const { values: args } = parseArgs({
  options: { count: { type: "string", default: "100000" }, "redis-url": { type: "string" } },
});
const COUNT = Number(args.count);
const APP: AppRef = { appId: "benchapp", namespace: "default" };

const server = args["redis-url"] ? undefined : await startRedis();
const url = args["redis-url"] ?? server!.url;
const admin = new Redis(url);

try {
  await admin.flushdb();
  const backend = await openRedisBackend({ url });
  const t0 = performance.now();
  await seedListingApp(backend, APP, COUNT);
  console.log(
    `Redis ${(await admin.info("server")).match(/redis_version:(\S+)/)?.[1]}: seeded ${COUNT} instances (${await admin.dbsize()} keys, with children) in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );

  // Raw limit: SCAN every key of the app, each page's values read with one pipeline of HGETs.
  const raw = await time(async () => {
    const client = new Redis(url);
    let cursor = "0";
    let n = 0;
    do {
      const [next, keys] = await client.scan(cursor, "MATCH", `${workflowKeyPrefix(APP)}*`, "COUNT", 5000);
      cursor = next;
      const pipeline = client.pipeline();
      for (const key of keys) pipeline.hgetBuffer(key, "data");
      const replies = (await pipeline.exec()) ?? [];
      n += replies.length;
    } while (cursor !== "0");
    client.disconnect();
    return n;
  });

  const ours = await time(async () => {
    const store = new WorkflowStateStore(backend, APP);
    let n = 0;
    for await (const page of store.listInstances({ pageSize: 500 })) n += page.instances.length;
    return n;
  });
  await backend.close();

  console.log(`raw SCAN + HGET pipeline: ${raw.result} keys in ${raw.seconds.toFixed(2)} s`);
  console.log(
    `WorkflowStateStore      : ${ours.result} instances in ${ours.seconds.toFixed(2)} s (${Math.round(ours.result / ours.seconds)} instances/s)`,
  );
  console.log(`ratio ours / raw        : ${(ours.seconds / raw.seconds).toFixed(2)}x the time of the raw read`);
} finally {
  await admin.flushdb().catch(() => {});
  admin.disconnect();
  await server?.stop();
}

async function time<T>(work: () => Promise<T>): Promise<{ result: T; seconds: number }> {
  const t = performance.now();
  const result = await work();
  return { result, seconds: (performance.now() - t) / 1000 };
}
