/**
 * Sharded listing on every store the harness runs: the N shards are disjoint, their union is exactly the unsharded
 * listing, and each shard reads about 1/N of the values (counted at the StateBackend port), including on the stores
 * whose unsharded listing is one range scan of every row.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { SCENARIOS } from "../../shared/sample-data/instance-builder.ts";
import { writeInstances } from "../../shared/sample-data/writer.ts";
import type { StateBackend } from "../../shared/state-store/backend.ts";
import type { AppRef } from "../../shared/state-store/keys.ts";
import { openRedisBackend } from "../../shared/state-store/redis.ts";
import {
  type InstancePage,
  type InstanceSummary,
  WorkflowStateStore,
} from "../../shared/state-store/workflow-store.ts";
import type { Shard } from "../../shared/workflow/shard.ts";
import { shardOf } from "../../shared/workflow/shard.ts";
import { countingBackend } from "../support/counting-backend.ts";
import { type StoreFactory, storeFactories } from "../support/stores.ts";

const NOW = Date.parse("2026-11-01T00:00:00Z");
const DAY = 86_400_000;
const COUNT = 3;

/** Every Redis DB index is some test file's to flush: this one shares DB 0 (never flushed) under its own app ID. */
const redisDb0: StoreFactory = {
  name: "Redis",
  open: () => openRedisBackend({ url: `${inject("redisUrl")}/0` }),
};
const factories = [...storeFactories(0).filter((f) => f.name !== "Redis"), redisDb0];

async function listAll(store: WorkflowStateStore, shard?: Shard, pageSize = 50): Promise<InstanceSummary[]> {
  const out: InstanceSummary[] = [];
  for await (const page of store.listInstances({ shard, pageSize })) {
    expect(page.unreadable).toEqual([]);
    out.push(...page.instances);
  }
  return out;
}

describe.each(factories)("sharded listing on $name", (factory) => {
  const app: AppRef = { appId: `shard-${randomUUID().slice(0, 8)}`, namespace: "default" };
  let real: StateBackend;

  beforeAll(async () => {
    real = await factory.open();
    await writeInstances(
      real,
      app,
      Array.from({ length: 240 }, (_, i) => ({
        instanceId: `order-${i}`,
        scenario: SCENARIOS[i % SCENARIOS.length]!,
        createdAt: new Date(NOW - (i % 90) * DAY),
      })),
    );
  });
  afterAll(async () => {
    if (factory === redisDb0) {
      const store = new WorkflowStateStore(real, app);
      for await (const page of store.listInstances()) {
        await real.deleteMany(page.instances.flatMap((i) => store.instanceStateKeys(i.instanceId, i.metadata)));
      }
    }
    await real?.close();
  });

  it(`splits the app into ${COUNT} disjoint shards whose union is the unsharded listing, each reading ~1/${COUNT} of the values`, async () => {
    const counting = countingBackend(real);
    const store = new WorkflowStateStore(counting.backend, app);
    const whole = await listAll(store);
    const wholeValues = counting.values();
    expect(whole.length).toBeGreaterThan(240); // the parents' children too

    const seen = new Map<string, number>();
    let shardValues = 0;
    for (let index = 1; index <= COUNT; index++) {
      counting.reset();
      const part = await listAll(store, { index, count: COUNT });
      const read = counting.values();
      shardValues += read;
      for (const instance of part) {
        expect(seen.has(instance.instanceId), `${instance.instanceId} in two shards`).toBe(false);
        expect(shardOf(instance.instanceId, COUNT)).toBe(index);
        seen.set(instance.instanceId, index);
      }
      expect(part.length).toBeGreaterThan(whole.length / COUNT / 2);
      // About 1/N of what the unsharded listing reads (the hash splits unevenly on a few hundred IDs).
      expect(read).toBeLessThan(wholeValues * 0.45);
      expect(read).toBeGreaterThan(wholeValues * 0.2);
    }
    expect(shardValues).toBeLessThanOrEqual(wholeValues * 1.05);
    const strip = (list: InstanceSummary[]) =>
      list.map((i) => JSON.stringify(i)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const union: InstanceSummary[] = [];
    for (let index = 1; index <= COUNT; index++) union.push(...(await listAll(store, { index, count: COUNT }, 7)));
    expect(strip(union)).toEqual(strip(whole));
  });

  it("a shard's cursor resumes that shard where it stopped; 1/1 is the unsharded listing", async () => {
    const store = new WorkflowStateStore(real, app);
    const shard = { index: 2, count: 4 };
    const all = (await listAll(store, shard)).map((i) => i.instanceId);
    const first = await store.listInstances({ shard, pageSize: 5 }).next();
    const page: InstancePage = first.value!;
    expect(page.cursor).toBeDefined();
    const rest: string[] = [];
    for await (const next of store.listInstances({ shard, pageSize: 5, cursor: page.cursor })) {
      rest.push(...next.instances.map((i) => i.instanceId));
    }
    expect([...page.instances.map((i) => i.instanceId), ...rest].sort()).toEqual([...all].sort());
    const one = (await listAll(store, { index: 1, count: 1 })).map((i) => i.instanceId).sort();
    expect(one).toEqual((await listAll(store)).map((i) => i.instanceId).sort());
  });
});
