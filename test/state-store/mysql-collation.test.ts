/**
 * Listing and purging on MySQL/MariaDB under the collations Dapr's table really gets. Dapr's CREATE TABLE
 * (components-contrib state/mysql/mysql.go ensureStateTable) names no collation, so `id` takes the database default:
 * MariaDB `utf8mb4_general_ci` (Debian) or `utf8mb4_unicode_ci`, MySQL 8 `utf8mb4_0900_ai_ci`, `latin1_swedish_ci` on
 * older servers; `utf8mb4_bin` where an operator chose it. In the case/accent-insensitive ones a key range is not a
 * byte range: listing must still be exactly right, through the primary key, and a purge must touch nothing else.
 */
import mysql from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { runRetentionPurge } from "../../shared/jobs/retention-purge.ts";
import { writeInstances } from "../../shared/sample-data/writer.ts";
import type { AppRef } from "../../shared/state-store/keys.ts";
import { instanceKeyPrefix, workflowKeyPrefix } from "../../shared/state-store/keys.ts";
import type { MysqlStateBackend } from "../../shared/state-store/mysql.ts";
import { openMysqlBackend } from "../../shared/state-store/mysql.ts";
import { createMysqlDaprTable, quoteMysqlIdentifier } from "../../shared/state-store/mysql-table.ts";
import { WorkflowStateStore } from "../../shared/state-store/workflow-store.ts";
import type { MysqlConnectionInfo } from "../support/servers.ts";
import { uniqueDatabaseName } from "../support/servers.ts";
import { dumpStore } from "../support/stores.ts";

const DAY = 86_400_000;
const APP: AppRef = { appId: "shop", namespace: "default" };
/** Equal to APP's prefix under a case-insensitive collation: its rows interleave with APP's by instance ID. */
const OTHER_APP: AppRef = { appId: "Shop", namespace: "default" };

// IDs that order differently byte-wise and in a collation; prefixes of each other; a trailing space (PAD SPACE
// collations compare `order-1 ` equal to `order-1`, but in a key a `|` follows it, so both keys exist).
const COMMON_IDS = ["order-1", "order-10", "order-1-a", "order-1|x", "order-1 ", "Order-2", "order_3", "z-6", "a-7"];
// Equal to each other under a case/accent-insensitive collation: only the first of each can exist there.
const FOLDED_IDS = ["abc", "café"];
const FOLDED_TWINS = ["ABC", "cafe"];
// The other app's IDs sort between APP's (order-1 < order-1b… < order-10 case-insensitively), more rows than a page.
const OTHER_IDS = [..."bcdefghijk"].map((c) => `order-1${c}`).concat(["abd", "order-2"]);

const COLLATIONS = [
  { charset: "utf8mb4", collation: "utf8mb4_general_ci", folds: true },
  { charset: "utf8mb4", collation: "utf8mb4_unicode_ci", folds: true },
  { charset: "utf8mb4", collation: "utf8mb4_bin", folds: false },
  { charset: "latin1", collation: "latin1_swedish_ci", folds: true },
] as const;

let info: MysqlConnectionInfo;
let admin: mysql.Pool;
const databases: string[] = [];

beforeAll(() => {
  info = inject("mysql") as MysqlConnectionInfo;
  admin = mysql.createPool({ host: info.host, port: info.port, user: info.user, password: info.password });
});
afterAll(async () => {
  for (const db of databases) await admin.query(`DROP DATABASE IF EXISTS ${quoteMysqlIdentifier(db)}`).catch(() => {});
  await admin?.end();
});

for (const { charset, collation, folds } of COLLATIONS) {
  describe(`a Dapr table whose id column is ${collation}`, () => {
    const database = uniqueDatabaseName(`coll_${collation}`).slice(0, 64);
    // U+200B weighs nothing in utf8mb4_unicode_ci: `order-9|\u200b|j||…` sorts among `order-9||…` (latin1 cannot hold it).
    // Characters beyond U+FFFF weigh the same in MariaDB's utf8mb4 _ci collations: 😁-1 is a twin of 😀-1 there.
    const unicodeIds = charset === "utf8mb4" ? ["order-9", "order-9|\u200b|j", "straße", "😀-1"] : [];
    const twins = folds ? [] : [...FOLDED_TWINS, ...(charset === "utf8mb4" ? ["😁-1"] : [])];
    const ids = [...COMMON_IDS, ...FOLDED_IDS, ...twins, ...unicodeIds];
    const orphanKey = `${instanceKeyPrefix(APP, "aBc")}history-000040`;
    const open = async () =>
      (await openMysqlBackend({
        host: info.host,
        port: info.port,
        user: info.user,
        password: info.password,
        database,
        tableName: "state",
      })) as MysqlStateBackend;

    beforeAll(async () => {
      databases.push(database);
      // Dapr creates the database only when it is missing, so the default collation is the server's or the DBA's.
      await admin.query(
        `CREATE DATABASE ${quoteMysqlIdentifier(database)} CHARACTER SET ${charset} COLLATE ${collation}`,
      );
      await createMysqlDaprTable(admin, database, "state");
      const [cols] = await admin.query<mysql.RowDataPacket[]>(
        "SELECT COLLATION_NAME AS c FROM information_schema.columns WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'state' AND COLUMN_NAME = 'id'",
        [database],
      );
      expect(cols[0]?.c).toBe(collation);
      const backend = await open();
      try {
        const old = new Date(Date.now() - 60 * DAY);
        const spec = (instanceId: string) => ({ instanceId, scenario: "completed" as const, createdAt: old });
        await writeInstances(backend, APP, [...ids, "a||b"].map(spec));
        await writeInstances(backend, OTHER_APP, OTHER_IDS.map(spec));
        // A leftover history row of an ID that folds to `abc` (in a ci table it sits among abc's rows).
        const [value] = (await backend.getMany([`${instanceKeyPrefix(APP, "abc")}history-000000`])).values();
        await backend.setMany([[orphanKey, value!]]);
      } finally {
        await backend.close();
      }
    });

    async function list(pageSize: number) {
      const backend = await open();
      try {
        const store = new WorkflowStateStore(backend, APP);
        const listed: string[] = [];
        const unreadable: string[] = [];
        for await (const page of store.listInstances({ pageSize })) {
          listed.push(...page.instances.map((i) => i.instanceId));
          unreadable.push(...page.unreadable.map((u) => `${u.instanceId}: ${u.reason}`));
        }
        return { listed, unreadable, ranged: backend.scanEntries !== undefined };
      } finally {
        await backend.close();
      }
    }

    it("lists every instance of the app exactly once, by its literal ID, in one range scan a page", async () => {
      for (const pageSize of [1, 2, 3, 5, 200]) {
        const { listed, unreadable, ranged } = await list(pageSize);
        expect(ranged).toBe(true);
        expect([...listed].sort()).toEqual([...ids].sort());
        expect(new Set(listed).size).toBe(listed.length);
        expect(unreadable).toEqual(['a||b: the instance ID contains "||"']);
      }
    });

    it("finds every metadata key by key pages too (workflow list --ids-only)", async () => {
      const backend = await open();
      try {
        const keys: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await backend.scanKeys({
            prefix: workflowKeyPrefix(APP),
            suffix: "||metadata",
            pageSize: 2,
            cursor,
          });
          keys.push(...page.keys);
          cursor = page.cursor;
        } while (cursor !== undefined);
        expect(keys.sort()).toEqual([...ids, "a||b"].map((id) => `${instanceKeyPrefix(APP, id)}metadata`).sort());
      } finally {
        await backend.close();
      }
    });

    it("scans through the primary key, without a sort", async () => {
      const backend = await open();
      const above = backend.layout.aboveSeparator;
      await backend.close();
      expect(above).toBeDefined();
      const stem = workflowKeyPrefix(APP).slice(0, -2);
      const [plan] = await admin.query<mysql.RowDataPacket[]>(
        `EXPLAIN SELECT id, isbinary, value FROM ${quoteMysqlIdentifier(database)}.state
          WHERE id >= ? AND id < ? AND id > ? ORDER BY id LIMIT 100`,
        [stem, `${stem}${above}`, `${stem}||a`],
      );
      expect(plan[0]).toMatchObject({ key: "PRIMARY", type: "range" });
      expect(String(plan[0]?.Extra)).not.toMatch(/filesort/i);
    });

    it("purges only this app's instances: the other app's rows and the leftover row stay byte for byte", async () => {
      const backend = await open();
      try {
        const otherBefore = await dumpStore(backend, workflowKeyPrefix(OTHER_APP));
        expect(otherBefore.size).toBeGreaterThan(OTHER_IDS.length * 3);
        const store = new WorkflowStateStore(backend, APP);
        const result = await runRetentionPurge({ store }, { retention: { COMPLETED: 30 * DAY }, mode: "direct" });
        expect(result.purged).toBe(ids.length);
        expect(result.unreadable.map((u) => u.instanceID)).toEqual(["a||b"]);
        expect(await dumpStore(backend, workflowKeyPrefix(OTHER_APP))).toEqual(otherBefore);
        const left = [...(await dumpStore(backend, workflowKeyPrefix(APP))).keys()];
        expect(left.filter((k) => !k.startsWith(instanceKeyPrefix(APP, "a||b")))).toEqual([orphanKey]);
        expect((await list(3)).listed).toEqual([]);
      } finally {
        await backend.close();
      }
    });
  });
}
