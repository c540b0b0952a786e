/**
 * Listing on PostgreSQL under the collations production uses. The harness's server is `initdb --locale=C`, where the
 * primary key orders keys byte-wise; Amazon RDS and the official image default to en_US.UTF-8, where a key range is
 * not a prefix range. Here the key column is ICU `en-US` (needs no OS locale): listing must be exactly right there
 * too, say which index makes it fast, and use that index once it exists.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { SCENARIOS } from "../../shared/sample-data/instance-builder.ts";
import { writeInstances } from "../../shared/sample-data/writer.ts";
import type { AppRef } from "../../shared/state-store/keys.ts";
import { instanceKeyPrefix } from "../../shared/state-store/keys.ts";
import type { PostgresStateBackend } from "../../shared/state-store/postgresql.ts";
import { createPostgresDaprTable, openPostgresBackend } from "../../shared/state-store/postgresql.ts";
import { WorkflowStateStore } from "../../shared/state-store/workflow-store.ts";
import { createPostgresDatabase, uniqueDatabaseName } from "../support/servers.ts";

const APP: AppRef = { appId: "shop", namespace: "default" };
// IDs that sort differently byte-wise and linguistically (case, punctuation, digits after letters).
const IDS = ["order-1", "order-10", "Order-2", "order_3", "order-1-a", "ORDER-4", "order.5", "z-6", "a-7", "order-100"];

let url: string;
let admin: pg.Client;

beforeAll(async () => {
  url = await createPostgresDatabase(inject("postgresUrl"), uniqueDatabaseName("collation"));
  admin = new pg.Client({ connectionString: url });
  await admin.connect();
  // Dapr's v2 table, with the key column in a linguistic collation.
  await admin.query(`CREATE TABLE state (
    key text COLLATE "en-US-x-icu" NOT NULL PRIMARY KEY, value bytea NOT NULL, etag uuid NOT NULL DEFAULT gen_random_uuid(),
    created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz, expires_at timestamptz)`);
  const backend = await openPostgresBackend({ connectionString: url, tableName: "state" });
  await writeInstances(
    backend,
    APP,
    IDS.map((instanceId, i) => ({
      instanceId,
      scenario: SCENARIOS[i % SCENARIOS.length]!,
      createdAt: new Date(Date.UTC(2026, 0, 1 + i)),
    })),
  );
  // A neighbouring app whose keys interleave linguistically with shop's.
  await writeInstances(backend, { appId: "Shop", namespace: "default" }, [
    { instanceId: "order-1", scenario: "completed", createdAt: new Date(Date.UTC(2026, 0, 1)) },
  ]);
  await backend.close();
});
afterAll(async () => {
  await admin?.end();
});

async function listIds(pageSize: number): Promise<{ ids: string[]; advice: string | undefined; ranged: boolean }> {
  const backend = (await openPostgresBackend({ connectionString: url, tableName: "state" })) as PostgresStateBackend;
  try {
    const store = new WorkflowStateStore(backend, APP);
    const ids: string[] = [];
    for await (const page of store.listInstances({ pageSize })) {
      expect(page.unreadable).toEqual([]);
      ids.push(...page.instances.map((i) => i.instanceId));
    }
    return { ids, advice: backend.advice, ranged: backend.scanEntries !== undefined };
  } finally {
    await backend.close();
  }
}

const expected = (ids: string[]) => [...ids].sort();

describe("listing on a linguistic (ICU en-US) key column", () => {
  it("lists every instance exactly once and names the index that would make it one range scan", async () => {
    for (const pageSize of [1, 3, 200]) {
      const { ids, advice, ranged } = await listIds(pageSize);
      expect(ids.sort()).toEqual(expected(withChildren(IDS)));
      expect(ranged).toBe(false);
      expect(advice).toMatch(
        /linguistic collation.*CREATE INDEX CONCURRENTLY state_key_bytes ON state \(key COLLATE "C"\);$/,
      );
    }
  });

  it("uses one byte-ordered range scan once that index exists, with the same result", async () => {
    await admin.query(`CREATE INDEX state_key_bytes ON state (key COLLATE "C")`);
    try {
      for (const pageSize of [1, 3, 200]) {
        const { ids, advice, ranged } = await listIds(pageSize);
        expect(ids.sort()).toEqual(expected(withChildren(IDS)));
        expect(ranged).toBe(true);
        expect(advice).toBeUndefined();
      }
      // The table is tiny, so the planner would pick a sequential scan anyway: show that the index can serve it.
      await admin.query("SET enable_seqscan = off");
      const plan = await admin.query(
        `EXPLAIN SELECT key FROM state WHERE key COLLATE "C" > 'shop||' AND key COLLATE "C" < 'shop|}' ORDER BY key COLLATE "C" LIMIT 10`,
      );
      expect(plan.rows.map((r) => r["QUERY PLAN"]).join("\n")).toContain("state_key_bytes");
    } finally {
      await admin.query("RESET enable_seqscan");
      await admin.query("DROP INDEX state_key_bytes");
    }
  });
});

/** The builder gives completed-with-children instances two children, `<id>:0000` and `<id>:0001`. */
function withChildren(ids: string[]): string[] {
  return ids.flatMap((id, i) =>
    SCENARIOS[i % SCENARIOS.length] === "completed-with-children" ? [id, `${id}:0000`, `${id}:0001`] : [id],
  );
}

describe("a v1 row whose jsonb value is null", () => {
  it("is reported as unreadable, by key, and the listing goes on", async () => {
    const nullUrl = await createPostgresDatabase(inject("postgresUrl"), uniqueDatabaseName("null_row"));
    const client = new pg.Client({ connectionString: nullUrl });
    await client.connect();
    try {
      await createPostgresDaprTable(client, "state", "v1");
      const backend = await openPostgresBackend({ connectionString: nullUrl, tableName: "state" });
      try {
        await writeInstances(backend, APP, [
          { instanceId: "good-1", scenario: "completed", createdAt: new Date(Date.UTC(2026, 0, 1)) },
          { instanceId: "bad-1", scenario: "completed", createdAt: new Date(Date.UTC(2026, 0, 1)) },
          { instanceId: "good-2", scenario: "failed", createdAt: new Date(Date.UTC(2026, 0, 1)) },
        ]);
        const badKey = `${instanceKeyPrefix(APP, "bad-1")}history-000001`;
        await client.query("UPDATE state SET value = 'null'::jsonb WHERE key = $1", [badKey]);
        const store = new WorkflowStateStore(backend, APP);
        const listed: string[] = [];
        const unreadable: Array<{ instanceId: string; key: string }> = [];
        for await (const page of store.listInstances()) {
          listed.push(...page.instances.map((i) => i.instanceId));
          unreadable.push(...page.unreadable.map(({ instanceId, key }) => ({ instanceId, key })));
        }
        expect(listed.sort()).toEqual(["good-1", "good-2"]);
        expect(unreadable).toEqual([{ instanceId: "bad-1", key: badKey }]);
        // Read by ID: named as unreadable too, never a type error.
        await expect(store.readInstance("bad-1")).rejects.toThrow(`at ${badKey}`);
      } finally {
        await backend.close();
      }
    } finally {
      await client.end();
    }
  });
});
