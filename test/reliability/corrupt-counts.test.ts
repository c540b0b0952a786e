/**
 * Corrupted rows are reported as unreadable (named by key, with the reason), on every store, and the rest of the app
 * is listed and purged as usual; never shown as something they are not:
 *   - a metadata row that claims an absurd number of entries (2,147,483,647 history events once ran listing out of
 *     memory; 1,000,000 overflowed the stack);
 *   - a history that finished without having started (was listed as PENDING);
 *   - an instance ID containing `||` (was neither listed nor reported);
 *   - metadata counting fewer history events than are stored (a FAILED instance was listed as RUNNING);
 *   - a Redis metadata key that is not a hash (it vanished from listings and purges).
 */
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import mysql from "mysql2/promise";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { runRetentionPurge } from "../../shared/jobs/retention-purge.ts";
import { writeInstances } from "../../shared/sample-data/writer.ts";
import type { StateBackend } from "../../shared/state-store/backend.ts";
import { instanceKeyPrefix } from "../../shared/state-store/keys.ts";
import { openMysqlBackend } from "../../shared/state-store/mysql.ts";
import { createMysqlDaprTable } from "../../shared/state-store/mysql-table.ts";
import { openPostgresBackend } from "../../shared/state-store/postgresql.ts";
import { openRedisBackend } from "../../shared/state-store/redis.ts";
import { type ListOptions, WorkflowStateStore } from "../../shared/state-store/workflow-store.ts";
import { decodeMetadata, encodeMetadata } from "../../shared/workflow/history-event.ts";
import { runHousekeeper } from "../support/cli.ts";
import { createMysqlDatabase, uniqueDatabaseName } from "../support/servers.ts";
import { createPostgresStateDatabase, storeFactories } from "../support/stores.ts";

const DAY = 86_400_000;

for (const factory of storeFactories(1)) {
  describe(`absurd metadata counts on ${factory.name}`, () => {
    let backend: StateBackend;
    const app = { appId: `counts-${randomUUID().slice(0, 6)}`, namespace: "default" };

    beforeAll(async () => {
      backend = await factory.open();
      const old = new Date(Date.now() - 60 * DAY);
      await writeInstances(
        backend,
        app,
        ["ok-1", "huge-1", "huge-2", "ok-2", "headless-1", "a||b"].map((instanceId) => ({
          instanceId,
          scenario: "completed" as const,
          createdAt: old,
        })),
      );
      // headless-1: its ExecutionStarted (history-000001, after OrchestratorStarted) overwritten by its ExecutionCompleted.
      const headless = instanceKeyPrefix(app, "headless-1");
      const meta = decodeMetadata((await backend.getMany([`${headless}metadata`])).get(`${headless}metadata`)!);
      const lastKey = `${headless}history-${String(meta.historyLength - 1).padStart(6, "0")}`;
      const last = (await backend.getMany([lastKey])).get(lastKey)!;
      await backend.setMany([[`${headless}history-000001`, last]]);
      await backend.setMany([
        [
          `${instanceKeyPrefix(app, "huge-1")}metadata`,
          encodeMetadata({ historyLength: 2_147_483_647, generation: 1 }),
        ],
        [`${instanceKeyPrefix(app, "huge-2")}metadata`, encodeMetadata({ historyLength: 1_000_000, generation: 1 })],
      ]);
    });
    afterAll(async () => {
      await backend?.close();
    });

    it("lists the others and names the unreadable ones, sharded or not", async () => {
      const store = new WorkflowStateStore(backend, app);
      const listed: string[] = [];
      const unreadable: string[] = [];
      for await (const page of store.listInstances({ pageSize: 2 })) {
        listed.push(...page.instances.map((i) => i.instanceId));
        unreadable.push(...page.unreadable.map((u) => `${u.instanceId}: ${u.reason}`));
      }
      expect(listed.sort()).toEqual(["ok-1", "ok-2"]);
      const expected = [
        'a||b: the instance ID contains "||"',
        "headless-1: the history has an ExecutionCompleted but no ExecutionStarted",
        "huge-1: metadata counts 2147483647 history entries, more than the 50000 one instance may have: left unread",
        "huge-2: metadata counts 1000000 history entries, more than the 50000 one instance may have: left unread",
      ];
      // Every store names an ID with `||` in it (range-scanned ones from its rows, the others from its metadata key).
      expect(unreadable.sort()).toEqual(expected);
      const sharded = { listed: [] as string[], unreadable: [] as string[] };
      for (let index = 1; index <= 3; index++) {
        for await (const page of store.listInstances({ pageSize: 2, shard: { index, count: 3 } })) {
          sharded.listed.push(...page.instances.map((i) => i.instanceId));
          sharded.unreadable.push(...page.unreadable.map((u) => `${u.instanceId}: ${u.reason}`));
        }
      }
      expect(sharded.listed.sort()).toEqual(["ok-1", "ok-2"]);
      expect(sharded.unreadable.sort()).toEqual(expected);
      await expect(store.readInstance("huge-1")).rejects.toThrow(/metadata counts 2147483647 history entries/);
    });

    it("purges the others directly and leaves the unreadable ones", async () => {
      const store = new WorkflowStateStore(backend, app);
      const result = await runRetentionPurge({ store }, { retention: { COMPLETED: 30 * DAY }, mode: "direct" });
      expect(result.purged).toBe(2);
      expect(result.unreadable.map((u) => u.instanceID).sort()).toEqual(
        ["a||b", "headless-1", "huge-1", "huge-2"].sort(),
      );
      expect(await backend.getMany([`${instanceKeyPrefix(app, "huge-1")}metadata`])).toHaveProperty("size", 1);
    });
  });
}

describe("a PostgreSQL v1 row whose base64 is not base64", () => {
  it("is reported as unreadable by key, never decoded into an empty event", async () => {
    const url = await createPostgresStateDatabase("bad_b64", "v1");
    const backend = await openPostgresBackend({ connectionString: url, tableName: "state" });
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      const app = { appId: "b64", namespace: "default" };
      const old = new Date(Date.now() - 60 * DAY);
      await writeInstances(backend, app, [
        { instanceId: "ok-1", scenario: "completed", createdAt: old },
        { instanceId: "bad-1", scenario: "completed", createdAt: old },
      ]);
      const badKey = `${instanceKeyPrefix(app, "bad-1")}history-000001`;
      await admin.query(`UPDATE state SET value = '"!!!not base64!!!"'::jsonb WHERE key = $1`, [badKey]);
      const store = new WorkflowStateStore(backend, app);
      const unreadable: string[] = [];
      const listed: string[] = [];
      for await (const page of store.listInstances()) {
        listed.push(...page.instances.map((i) => i.instanceId));
        unreadable.push(...page.unreadable.map((u) => `${u.instanceId} ${u.key}: ${u.reason}`));
      }
      expect(listed).toEqual(["ok-1"]);
      expect(unreadable).toEqual([`bad-1 ${badKey}: its jsonb value is not a string of base64`]);
      await expect(store.readInstance("bad-1")).rejects.toThrow(`this key is missing at ${badKey}`);
    } finally {
      await admin.end();
      await backend.close();
    }
  });
});

/** A fresh MariaDB database with Dapr's table, its backend and an admin connection to damage rows with. */
async function withMariaDbState(
  name: string,
  work: (backend: Awaited<ReturnType<typeof openMysqlBackend>>, admin: mysql.Connection) => Promise<void>,
): Promise<void> {
  const info = await createMysqlDatabase(inject("mysql"), uniqueDatabaseName(name));
  const connection = { host: info.host, port: info.port, user: info.user, password: info.password };
  await createMysqlDaprTable(connection, info.database, "state");
  const backend = await openMysqlBackend({ ...connection, database: info.database, tableName: "state" });
  const admin = await mysql.createConnection({ ...connection, database: info.database });
  try {
    await work(backend, admin);
  } finally {
    await admin.end();
    await backend.close();
  }
}

/** Every instance ID listed and every unreadable one (`<id> <key>`), over all pages of each listing. */
async function listAll(store: WorkflowStateStore, optionsList: ListOptions[]) {
  const listed: string[] = [];
  const unreadable: string[] = [];
  for (const options of optionsList) {
    for await (const page of store.listInstances(options)) {
      listed.push(...page.instances.map((i) => i.instanceId));
      unreadable.push(...page.unreadable.map((u) => `${u.instanceId} ${u.key}`));
    }
  }
  return { listed: listed.sort(), unreadable };
}

/** The same backend without its range scan, so the listing takes key pages and then reads by key. */
function withoutRangeScan(backend: StateBackend): StateBackend {
  return new Proxy(backend, {
    get(target, property) {
      if (property === "scanEntries") return undefined;
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

describe("MariaDB rows that are not Dapr's encoding", () => {
  it.each([
    ["a JSON null", "null"],
    ["bad base64", '"!!!not base64!!!"'],
  ])("a history row holding %s makes only its instance unreadable, named by key", async (_what, json) => {
    await withMariaDbState("bad_rows", async (backend, admin) => {
      const app = { appId: "rows", namespace: "default" };
      const old = new Date(Date.now() - 60 * DAY);
      await writeInstances(backend, app, [
        { instanceId: "ok-1", scenario: "completed", createdAt: old },
        { instanceId: "bad-1", scenario: "completed", createdAt: old },
      ]);
      const badKey = `${instanceKeyPrefix(app, "bad-1")}history-000001`;
      await admin.execute("UPDATE state SET value = ? WHERE id = ?", [json, badKey]);
      const store = new WorkflowStateStore(backend, app);
      expect(await listAll(store, [{}])).toEqual({ listed: ["ok-1"], unreadable: [`bad-1 ${badKey}`] });
      const result = await runRetentionPurge({ store }, { retention: { COMPLETED: 30 * DAY }, mode: "direct" });
      expect(result.purged).toBe(1);
      expect(result.unreadable.map((u) => u.instanceID)).toEqual(["bad-1"]);
    });
  });

  it.each([
    ["a JSON null", "null"],
    ["bad base64", '"!!!not base64!!!"'],
  ])(
    "a metadata row holding %s is named unreadable by its key, by the range scan, key pages and shards, and left",
    async (_what, json) => {
      await withMariaDbState("bad_meta", async (backend, admin) => {
        const app = { appId: "rows", namespace: "default" };
        const old = new Date(Date.now() - 60 * DAY);
        // Case variants of one ID around the damaged one: in the table's case-insensitive order their rows interleave.
        await writeInstances(backend, app, [
          { instanceId: "a-ok", scenario: "completed", createdAt: old },
          { instanceId: "Bad-1", scenario: "completed", createdAt: old },
          { instanceId: "bad-1x", scenario: "completed", createdAt: old },
          { instanceId: "z-ok", scenario: "completed", createdAt: old },
        ]);
        const badKey = `${instanceKeyPrefix(app, "Bad-1")}metadata`;
        await admin.execute("UPDATE state SET value = ? WHERE id = ?", [json, badKey]);
        const [before] = (await admin.query("SELECT id, value FROM state ORDER BY id")) as unknown as [
          Array<{ id: string }>,
        ];
        const store = new WorkflowStateStore(backend, app);
        const keyPaged = new WorkflowStateStore(withoutRangeScan(backend), app);
        const expected = { listed: ["a-ok", "bad-1x", "z-ok"], unreadable: [`Bad-1 ${badKey}`] };
        const shards = [1, 2, 3].map((index) => ({ shard: { index, count: 3 } }));
        for (const [on, optionsList, what] of [
          [store, [{ pageSize: 1 }], "range scan, 1 a page"],
          [store, [{ pageSize: 2 }], "range scan, 2 a page"],
          [store, [{}], "range scan"],
          [keyPaged, [{ pageSize: 1 }], "key pages, 1 a page"],
          [keyPaged, [{}], "key pages"],
          [store, shards, "3 shards"],
        ] as Array<[WorkflowStateStore, ListOptions[], string]>) {
          expect(await listAll(on, optionsList), what).toEqual(expected);
        }
        const result = await runRetentionPurge({ store }, { retention: { COMPLETED: 30 * DAY }, mode: "direct" });
        expect(result.purged).toBe(3);
        expect(result.unreadable.map((u) => u.instanceID)).toEqual(["Bad-1"]);
        const [left] = await admin.query("SELECT id, value FROM state ORDER BY id");
        expect(left).toEqual(before.filter((r) => r.id.startsWith(instanceKeyPrefix(app, "Bad-1"))));
      });
    },
  );
});

for (const factory of storeFactories(1)) {
  describe(`metadata counting fewer history events than are stored, on ${factory.name}`, () => {
    it("is reported unreadable by key with the reason, never listed with the status its first events give", async () => {
      const backend = await factory.open();
      try {
        const app = { appId: `short-${randomUUID().slice(0, 6)}`, namespace: "default" };
        const old = new Date(Date.now() - 60 * DAY);
        await writeInstances(backend, app, [
          { instanceId: "ok-1", scenario: "completed", createdAt: old },
          { instanceId: "short-1", scenario: "failed", createdAt: old },
        ]);
        // The count loses its last two events (the failure among them): read by it, short-1 would be RUNNING.
        const prefix = instanceKeyPrefix(app, "short-1");
        const meta = decodeMetadata((await backend.getMany([`${prefix}metadata`])).get(`${prefix}metadata`)!);
        const shortened = meta.historyLength - 2;
        await backend.setMany([[`${prefix}metadata`, encodeMetadata({ ...meta, historyLength: shortened })]]);
        const pastKey = `${prefix}history-${String(shortened).padStart(6, "0")}`;
        const reason = `metadata counts ${shortened} history events but more are stored: the count is wrong, so its status cannot be told`;

        const store = new WorkflowStateStore(backend, app);
        const listed: string[] = [];
        const unreadable: string[] = [];
        for await (const page of store.listInstances()) {
          listed.push(...page.instances.map((i) => `${i.instanceId} ${i.runtimeStatus}`));
          unreadable.push(...page.unreadable.map((u) => `${u.instanceId} ${u.key}: ${u.reason}`));
        }
        expect(listed).toEqual(["ok-1 COMPLETED"]);
        expect(unreadable).toEqual([`short-1 ${pastKey}: ${reason}`]);
        await expect(store.readInstance("short-1")).rejects.toThrow(reason);
        const result = await runRetentionPurge({ store }, { retention: { FAILED: 30 * DAY }, mode: "direct" });
        expect(result.purged).toBe(0);
        expect(result.unreadable.map((u) => u.instanceID)).toEqual(["short-1"]);
        expect((await backend.getMany([`${prefix}metadata`, pastKey])).size).toBe(2);
      } finally {
        await backend.close();
      }
    });
  });
}

describe("a Redis metadata key of the wrong type", () => {
  it("is reported unreadable by key (WRONGTYPE), never dropped from the listing, the purge or the CLI", async () => {
    // Shared with other files, never flushed: this app's keys are its own.
    const url = `${inject("redisUrl")}/5`;
    const admin = new Redis(url);
    const backend = await openRedisBackend({ url });
    try {
      const app = { appId: `wrongtype-${randomUUID().slice(0, 6)}`, namespace: "default" };
      const old = new Date(Date.now() - 60 * DAY);
      await writeInstances(backend, app, [
        { instanceId: "ok-1", scenario: "completed", createdAt: old },
        { instanceId: "list-1", scenario: "completed", createdAt: old },
      ]);
      const metaKey = `${instanceKeyPrefix(app, "list-1")}metadata`;
      await admin.del(metaKey);
      await admin.rpush(metaKey, "not", "a", "hash");

      const store = new WorkflowStateStore(backend, app);
      const listed: string[] = [];
      const unreadable: string[] = [];
      for await (const page of store.listInstances()) {
        listed.push(...page.instances.map((i) => i.instanceId));
        unreadable.push(...page.unreadable.map((u) => `${u.instanceId} ${u.key}: ${u.reason}`));
      }
      expect(listed).toEqual(["ok-1"]);
      expect(unreadable).toEqual([`list-1 ${metaKey}: not a Dapr state hash: ${wrongType}`]);
      await expect(store.readInstance("list-1")).rejects.toThrow(/not a Dapr state hash: WRONGTYPE/);
      const result = await runRetentionPurge({ store }, { retention: { COMPLETED: 30 * DAY }, mode: "direct" });
      expect(result.purged).toBe(1);
      expect(result.unreadable.map((u) => `${u.instanceID} ${u.key}`)).toEqual([`list-1 ${metaKey}`]);
      expect(await admin.type(metaKey)).toBe("list");

      const run = await runHousekeeper(["workflow", "list", "-a", app.appId, "-c", url, "-o", "json"]);
      expect(run.code).toBe(0);
      expect(run.stderr).toContain(`list-1`);
      expect(run.stderr).toContain(metaKey);
    } finally {
      admin.disconnect();
      await backend.close();
    }
  });
});

const wrongType = "WRONGTYPE Operation against a key holding the wrong kind of value";
