/**
 * The SQLite adapter against real SQLite files in Dapr's `state.sqlite` layout: the conformance suite, the table
 * Dapr's migration creates, rows written with the component's own statements (components-contrib
 * state/sqlite/sqlite_dbaccess.go) holding history events encoded by the durabletask .proto's generated classes,
 * expiry, WAL files, and the refusals.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sqlite from "node-sqlite3-wasm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { instanceKeyPrefix, multiEntryKey } from "../../shared/state-store/keys.ts";
import { openStateBackend } from "../../shared/state-store/open.ts";
import {
  createSqliteDaprDatabase,
  createSqliteDaprTables,
  openSqliteBackend,
} from "../../shared/state-store/sqlite.ts";
import { WorkflowStateStore } from "../../shared/state-store/workflow-store.ts";
import { describeStateBackendConformance } from "../support/backend-conformance.ts";

const require = createRequire(import.meta.url);
// biome-ignore lint/suspicious/noExplicitAny: generated jspb module without usable ESM types
const pb: any = require("@dapr/durabletask-js/proto/orchestrator_service_pb.js");
// biome-ignore lint/suspicious/noExplicitAny: same
const wrappers: any = require("@dapr/durabletask-js/node_modules/google-protobuf/google/protobuf/wrappers_pb.js");
// biome-ignore lint/suspicious/noExplicitAny: same
const tspb: any = require("@dapr/durabletask-js/node_modules/google-protobuf/google/protobuf/timestamp_pb.js");

let root: string;
let count = 0;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "housekeeper-sqlite-test-"));
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

function freshFile(): string {
  const path = join(root, `s${++count}.db`);
  createSqliteDaprDatabase(path);
  return path;
}

/** Runs `work` on a raw connection, as another program (Dapr) would hold one; closes it after. */
function raw<T>(path: string, work: (db: InstanceType<typeof sqlite.Database>) => T): T {
  const db = new sqlite.Database(path, { fileMustExist: true });
  try {
    db.exec("PRAGMA locking_mode = EXCLUSIVE");
    return work(db);
  } finally {
    db.close();
  }
}

/**
 * Writes one value with the component's statement for a write without etag (doSet): base64 text and is_binary = 1
 * for bytes, the JSON text and is_binary = 0 otherwise; a TTL becomes DATETIME(CURRENT_TIMESTAMP, '+N seconds').
 */
function daprSet(
  db: InstanceType<typeof sqlite.Database>,
  key: string,
  value: Uint8Array | object,
  ttlSeconds?: number,
): void {
  const isBinary = value instanceof Uint8Array;
  const text = isBinary ? Buffer.from(value).toString("base64") : JSON.stringify(value);
  const expiration =
    ttlSeconds === undefined
      ? "NULL"
      : `DATETIME(CURRENT_TIMESTAMP, '${ttlSeconds >= 0 ? "+" : ""}${ttlSeconds} seconds')`;
  db.run(
    `INSERT OR REPLACE INTO state (key, value, is_binary, etag, update_time, expiration_time)
     VALUES(?, ?, ?, ?, CURRENT_TIMESTAMP, ${expiration})`,
    [key, text, isBinary ? 1 : 0, randomUUID()],
  );
}

describeStateBackendConformance("SQLite", async () => openSqliteBackend({ path: freshFile() }));

describe("SQLite physical layout", () => {
  it("creates Dapr's tables: the columns of state/sqlite migration 1, and metadata with the migration level", () => {
    const path = freshFile();
    raw(path, (db) => {
      createSqliteDaprTables(db); // idempotent
      const columns = db
        .all("PRAGMA table_info(state)")
        .map((c) => `${c.name} ${c.type} ${c.notnull ? "NOT NULL" : "NULL"} ${c.dflt_value ?? "-"} ${c.pk}`);
      expect(columns).toEqual([
        "key TEXT NOT NULL - 1",
        "value TEXT NOT NULL - 0",
        "is_binary BOOLEAN NOT NULL - 0",
        "etag TEXT NOT NULL - 0",
        "expiration_time TIMESTAMP NULL NULL 0",
        "update_time TIMESTAMP NOT NULL CURRENT_TIMESTAMP 0",
      ]);
      expect(db.all("SELECT key, value FROM metadata")).toEqual([{ key: "migrations", value: "1" }]);
    });
  });

  it("writes bytes as Dapr does: base64 text, is_binary 1, a fresh UUID etag per write, no expiry", async () => {
    const path = freshFile();
    const backend = await openSqliteBackend({ path });
    const key = "app||dapr.internal.default.app.workflow||i||metadata";
    const read = () =>
      raw(path, (db) =>
        db.get(
          "SELECT value, typeof(value) AS t, is_binary, etag, expiration_time, update_time FROM state WHERE key = ?",
          key,
        ),
      );
    try {
      await backend.setMany([[key, Buffer.from([0x10, 0x0c, 0x18, 0x01])]]);
    } finally {
      await backend.close();
    }
    const first = read();
    expect(first).toMatchObject({ value: "EAwYAQ==", t: "text", is_binary: 1, expiration_time: null });
    expect(first?.etag).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(first?.update_time).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    const again = await openSqliteBackend({ path });
    try {
      await again.setMany([[key, new Uint8Array(0)]]);
    } finally {
      await again.close();
    }
    const second = read();
    expect(second).toMatchObject({ value: "", is_binary: 1 });
    expect(second?.etag).not.toBe(first?.etag);
  });
});

describe("SQLite rows as Dapr's component writes them", () => {
  const app = { appId: "shop", namespace: "default" };
  const ts = (seconds: number) => new tspb.Timestamp().setSeconds(seconds);
  const event = (id: number, seconds: number) => new pb.HistoryEvent().setEventid(id).setTimestamp(ts(seconds));
  // BackendWorkflowStateMetadata (durabletask-go backend protos): inboxLength = 1, historyLength = 2, generation = 3,
  // all varints; written out by hand from the field numbers.
  const metadata = (history: number) => Uint8Array.from([0x08, 0x00, 0x10, history, 0x18, 0x01]);

  function writeCompletedInstance(db: InstanceType<typeof sqlite.Database>, instanceId: string, created: number) {
    const prefix = instanceKeyPrefix(app, instanceId);
    const started = event(-1, created).setExecutionstarted(
      new pb.ExecutionStartedEvent()
        .setName("CheckoutWorkflow")
        .setInput(new wrappers.StringValue().setValue('{"cart":1}'))
        .setOrchestrationinstance(new pb.OrchestrationInstance().setInstanceid(instanceId)),
    );
    const completed = event(0, created + 90).setExecutioncompleted(
      new pb.ExecutionCompletedEvent()
        .setOrchestrationstatus(pb.OrchestrationStatus.ORCHESTRATION_STATUS_COMPLETED)
        .setResult(new wrappers.StringValue().setValue('"ok"')),
    );
    daprSet(db, prefix + multiEntryKey("history", 0), started.serializeBinary());
    daprSet(db, prefix + multiEntryKey("history", 1), completed.serializeBinary());
    daprSet(db, `${prefix}metadata`, metadata(2));
  }

  it("lists instances whose history events come from the durabletask .proto's generated encoder", async () => {
    const path = freshFile();
    raw(path, (db) => {
      db.exec("BEGIN IMMEDIATE");
      writeCompletedInstance(db, "order-1", 1_767_225_600);
      writeCompletedInstance(db, "order-2", 1_767_229_200);
      db.exec("COMMIT");
    });
    const backend = await openStateBackend(`file:${path}`);
    try {
      const store = new WorkflowStateStore(backend, app);
      const listed = [];
      for await (const page of store.listInstances({ pageSize: 10 })) {
        expect(page.unreadable).toEqual([]);
        listed.push(...page.instances);
      }
      expect(listed.map((i) => [i.instanceId, i.name, i.runtimeStatus, i.metadata.historyLength])).toEqual([
        ["order-1", "CheckoutWorkflow", "COMPLETED", 2],
        ["order-2", "CheckoutWorkflow", "COMPLETED", 2],
      ]);
      expect(listed[0]?.createdAt?.toISOString()).toBe("2026-01-01T00:00:00.000Z");
      expect(listed[0]?.completedAt?.toISOString()).toBe("2026-01-01T00:01:30.000Z");
    } finally {
      await backend.close();
    }
  });

  it("reads an is_binary = 0 row (Dapr ≤ 1.14 JSON metadata) as its JSON text", async () => {
    const path = freshFile();
    raw(path, (db) => daprSet(db, "legacy||metadata", { InboxLength: 0, HistoryLength: 3, Generation: 1 }));
    const backend = await openSqliteBackend({ path });
    try {
      const value = (await backend.getMany(["legacy||metadata"])).get("legacy||metadata")!;
      expect(Buffer.from(value).toString("utf8")).toBe('{"InboxLength":0,"HistoryLength":3,"Generation":1}');
    } finally {
      await backend.close();
    }
  });

  it("treats rows past their expiration_time as absent, as Dapr's queries do", async () => {
    const path = freshFile();
    raw(path, (db) => {
      daprSet(db, "a||x||metadata", Buffer.from("expired"), -60);
      daprSet(db, "a||y||metadata", Buffer.from("live"), 3600);
      daprSet(db, "a||z||metadata", Buffer.from("forever"));
    });
    const backend = await openSqliteBackend({ path });
    try {
      const keys = ["a||x||metadata", "a||y||metadata", "a||z||metadata"];
      expect([...(await backend.getMany(keys)).keys()].sort()).toEqual(["a||y||metadata", "a||z||metadata"]);
      expect((await backend.scanKeys({ prefix: "a||", suffix: "||metadata", pageSize: 10 })).keys).toEqual([
        "a||y||metadata",
        "a||z||metadata",
      ]);
      expect((await backend.scanEntries!({ prefix: "a||", pageSize: 10 })).entries.map(([k]) => k)).toEqual([
        "a||y||metadata",
        "a||z||metadata",
      ]);
      // Writing the key again clears the expiry, as Dapr's INSERT OR REPLACE does.
      await backend.setMany([["a||x||metadata", Buffer.from("again")]]);
      expect((await backend.getMany(["a||x||metadata"])).size).toBe(1);
    } finally {
      await backend.close();
    }
  });

  it("reads a binary row that is not base64 as absent, and names it as unreadable in a range scan", async () => {
    const path = freshFile();
    raw(path, (db) => {
      db.run("INSERT INTO state (key, value, is_binary, etag) VALUES ('b||bad', 'not base64!', 1, 'e')");
      daprSet(db, "b||good", Buffer.from("x"));
    });
    const backend = await openSqliteBackend({ path });
    try {
      expect([...(await backend.getMany(["b||bad", "b||good"])).keys()]).toEqual(["b||good"]);
      const page = await backend.scanEntries!({ prefix: "b||", pageSize: 10 });
      expect(page.entries.map(([k]) => k)).toEqual(["b||good"]);
      expect(page.unreadable).toEqual([{ key: "b||bad", reason: expect.stringContaining("base64") }]);
      expect(page.lastKey).toBe("b||good");
    } finally {
      await backend.close();
    }
  });

  it("reads and writes a database in WAL mode (Dapr's default journal), leaving it in WAL mode", async () => {
    const path = freshFile();
    raw(path, (db) => {
      expect(db.get("PRAGMA journal_mode = WAL")).toEqual({ journal_mode: "wal" });
      daprSet(db, "w||1", Buffer.from("one"));
    });
    const backend = await openStateBackend(path);
    try {
      expect(Buffer.from((await backend.getMany(["w||1"])).get("w||1")!).toString()).toBe("one");
      await backend.setMany([["w||2", Buffer.from("two")]]);
      expect(await backend.deleteMany(["w||1"])).toBe(1);
    } finally {
      await backend.close();
    }
    raw(path, (db) => {
      expect(db.get("PRAGMA journal_mode")).toEqual({ journal_mode: "wal" });
      expect(db.all("SELECT key FROM state")).toEqual([{ key: "w||2" }]);
    });
  });
});

describe("SQLite refusals", () => {
  it("refuses a missing file without creating it", async () => {
    const path = join(root, "missing.db");
    await expect(openStateBackend(path)).rejects.toMatchObject({
      code: "not-found",
      message: `SQLite database ${path} does not exist (check the path; it is never created)`,
    });
    await expect(openStateBackend(`file:${path}`)).rejects.toMatchObject({ code: "not-found" });
  });

  it("refuses a file that is not SQLite, and an SQLite file without Dapr's table", async () => {
    const text = join(root, "notes.db");
    writeFileSync(text, "hello");
    await expect(openStateBackend(text)).rejects.toMatchObject({
      code: "bad-input",
      message: `${text} is not an SQLite database`,
    });
    const other = join(root, "other.db");
    const db = new sqlite.Database(other);
    db.exec("CREATE TABLE notes (id INTEGER)");
    db.close();
    await expect(openStateBackend(other)).rejects.toMatchObject({
      code: "not-found",
      message: expect.stringContaining(`${other} has no table "state": not a Dapr SQLite state store`),
    });
    await expect(openStateBackend(freshFile(), { tableName: "actors" })).rejects.toMatchObject({ code: "not-found" });
  });

  it("refuses a file another SQLite process has open (its -wal or -shm file exists)", async () => {
    const path = freshFile();
    writeFileSync(`${path}-shm`, "");
    await expect(openStateBackend(path)).rejects.toMatchObject({
      code: "unavailable",
      message: expect.stringContaining(`${path} is open in another process (${path}-shm exists)`),
    });
  });

  it("refuses a second housekeeper while one holds the database", async () => {
    const path = freshFile();
    const first = await openSqliteBackend({ path });
    try {
      await first.getMany(["x"]);
      await expect(openSqliteBackend({ path })).rejects.toMatchObject({
        code: "unavailable",
        message: expect.stringContaining(`${path}.lock exists`),
      });
    } finally {
      await first.close();
    }
    await (await openSqliteBackend({ path })).close();
  });

  it("opens mode=ro read-only: reads work, writes fail with one line naming the database", async () => {
    const path = freshFile();
    raw(path, (db) => daprSet(db, "r||1", Buffer.from("x")));
    const backend = await openStateBackend(`file:${path}?mode=ro`);
    try {
      expect(backend.location).toContain("(read-only)");
      expect((await backend.getMany(["r||1"])).size).toBe(1);
      await expect(backend.deleteMany(["r||1"])).rejects.toMatchObject({
        code: "store-error",
        message: expect.stringMatching(/^SQLite on sqlite .* failed: attempt to write a readonly database$/),
      });
    } finally {
      await backend.close();
    }
  });
});
