/**
 * The corruption corpus (#12 "Keep them fixed"): one instance per kind of damage a state store can hold, on every
 * store the harness runs. Each corrupted instance is old and finished (a purge would take it if it misread it) or,
 * where the damage only matters while it runs, pending. For each store:
 *   - listing names every corrupted instance as unreadable (its own key, a one-line reason) and lists the healthy
 *     ones with their status, never a corrupted one as something it is not;
 *   - a direct purge (and a dry run) purges the healthy finished ones and leaves every corrupted one byte for byte;
 *   - the stuck report counts them unreadable and reports nothing about them.
 * MongoDB runs through the real driver against the in-process wire fake (test/support/fake-mongo.ts): no MongoDB server
 * can run here, so this checks the adapter's decoding of damaged bytes, not a real server's queries.
 * Damaged bytes are written with the backend (each store's own value encoding around them); the well-formed events
 * that some kinds start from come from the durabletask-js generated (google-protobuf) classes, not our encoder.
 */
import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import { Binary, Double, Int32, serialize } from "bson";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { runRetentionPurge } from "../../shared/jobs/retention-purge.ts";
import { runStuckReport } from "../../shared/jobs/stuck-report/scan.ts";
import type { Scenario } from "../../shared/sample-data/instance-builder.ts";
import { writeInstances } from "../../shared/sample-data/writer.ts";
import type { StateBackend } from "../../shared/state-store/backend.ts";
import { type AppRef, instanceKeyPrefix } from "../../shared/state-store/keys.ts";
import { openMongoBackend } from "../../shared/state-store/mongodb.ts";
import { openRedisBackend } from "../../shared/state-store/redis.ts";
import { openSqliteBackend } from "../../shared/state-store/sqlite.ts";
import { WorkflowStateStore } from "../../shared/state-store/workflow-store.ts";
import { decodeMetadata, encodeMetadata } from "../../shared/workflow/history-event.ts";
import { runHousekeeper } from "../support/cli.ts";
import { FakeMongo } from "../support/fake-mongo.ts";
import { createSqliteStateFile, dumpStore, type StoreFactory, storeFactories } from "../support/stores.ts";

const require = createRequire(import.meta.url);
// biome-ignore lint/suspicious/noExplicitAny: generated jspb module without usable ESM types
const pb: any = require("@dapr/durabletask-js/proto/orchestrator_service_pb.js");
// biome-ignore lint/suspicious/noExplicitAny: same
const tspb: any = require("@dapr/durabletask-js/node_modules/google-protobuf/google/protobuf/timestamp_pb.js");

const DAY = 86_400_000;

interface Damage {
  kind: string;
  scenario?: Scenario;
  /** Rewrites the instance's rows; `key(k)` is the full key of its state key `k`. */
  apply(io: {
    get(stateKey: string): Promise<Uint8Array>;
    set(stateKey: string, value: Uint8Array): Promise<void>;
    del(stateKey: string): Promise<void>;
    /** MongoDB only: replaces the row with a document whose `value` is this BSON value (built by the bson library). */
    setDocument?(stateKey: string, value: unknown): Promise<void>;
  }): Promise<void>;
}

const history = (index: number) => `history-${String(index).padStart(6, "0")}`;
const withMetadata = (change: (m: ReturnType<typeof decodeMetadata>) => Parameters<typeof encodeMetadata>[0]) =>
  (async (io) => {
    const metadata = decodeMetadata(await io.get("metadata"));
    await io.set("metadata", encodeMetadata(change(metadata)));
  }) satisfies Damage["apply"];

const CORPUS: Damage[] = [
  { kind: "metadata-not-protobuf", apply: (io) => io.set("metadata", Uint8Array.of(0xff, 0xff, 0xff, 0xff)) },
  { kind: "metadata-truncated", apply: (io) => io.set("metadata", Uint8Array.of(0x08)) },
  {
    kind: "metadata-broken-legacy-json",
    apply: (io) => io.set("metadata", new TextEncoder().encode('{"historyLength": ')),
  },
  { kind: "metadata-empty", apply: (io) => io.set("metadata", new Uint8Array(0)) },
  { kind: "metadata-counts-more", apply: withMetadata((m) => ({ ...m, historyLength: m.historyLength + 3 })) },
  { kind: "metadata-counts-fewer", apply: withMetadata((m) => ({ ...m, historyLength: m.historyLength - 2 })) },
  { kind: "metadata-counts-absurd", apply: withMetadata((m) => ({ ...m, historyLength: 2_147_483_647 })) },
  { kind: "metadata-counts-negative", apply: withMetadata((m) => ({ ...m, historyLength: -1 })) },
  { kind: "history-not-protobuf", apply: (io) => io.set(history(2), Uint8Array.of(0xff, 0xff, 0xff)) },
  {
    kind: "history-truncated",
    apply: async (io) => {
      const started = await io.get(history(1));
      await io.set(history(1), started.subarray(0, Math.floor(started.length / 2)));
    },
  },
  { kind: "history-empty-event", apply: (io) => io.set(history(2), new Uint8Array(0)) },
  { kind: "history-row-missing", apply: (io) => io.del(history(2)) },
  {
    kind: "history-completed-without-start",
    apply: async (io) => {
      const metadata = decodeMetadata(await io.get("metadata"));
      await io.set(history(1), await io.get(history(metadata.historyLength - 1)));
    },
  },
  {
    kind: "history-timestamp-out-of-range",
    apply: (io) =>
      io.set(
        history(1),
        new pb.HistoryEvent()
          .setEventid(-1)
          .setTimestamp(new tspb.Timestamp().setSeconds(10_000_000_000_000))
          .setExecutionstarted(
            new pb.ExecutionStartedEvent()
              .setName("CorruptWorkflow")
              .setOrchestrationinstance(new pb.OrchestrationInstance().setInstanceid("x")),
          )
          .serializeBinary(),
      ),
  },
  {
    kind: "inbox-not-protobuf",
    scenario: "pending",
    apply: (io) => io.set(history(0).replace("history", "inbox"), Uint8Array.of(0xff, 0xff)),
  },
  { kind: "custom-status-not-protobuf", apply: (io) => io.set("customStatus", Uint8Array.of(0xff, 0xff, 0xff)) },
];

/**
 * Damage only MongoDB can hold: a `value` of a BSON type Dapr never writes for workflow state (it writes a string of
 * the bytes, or a sub-document for ≤ 1.14 JSON metadata). Dapr renders such values as JSON (decodeData), which is
 * not workflow metadata.
 */
const MONGO_ONLY: Damage[] = [
  { kind: "mongo-metadata-int32", apply: (io) => io.setDocument!("metadata", new Int32(7)) },
  { kind: "mongo-metadata-null", apply: (io) => io.setDocument!("metadata", null) },
  { kind: "mongo-metadata-array", apply: (io) => io.setDocument!("metadata", [1, "two"]) },
  { kind: "mongo-metadata-binary", apply: (io) => io.setDocument!("metadata", new Binary(Uint8Array.of(0xff, 1))) },
  { kind: "mongo-history-double", apply: (io) => io.setDocument!(history(1), new Double(1.5)) },
];

const HEALTHY: Array<{ id: string; scenario: Scenario; status: string }> = [
  { id: "healthy-completed", scenario: "completed", status: "COMPLETED" },
  { id: "healthy-failed", scenario: "failed", status: "FAILED" },
  { id: "healthy-running", scenario: "running-timer", status: "RUNNING" },
];

/** Redis shares DB 5 with other files and is never flushed: every app here is its own. */
const redisShared: StoreFactory = {
  name: "Redis",
  open: () => openRedisBackend({ url: `${inject("redisUrl")}/5` }),
};
let sqlitePath = "";
const sqliteKept: StoreFactory = {
  name: "SQLite",
  async open() {
    sqlitePath = createSqliteStateFile();
    return openSqliteBackend({ path: sqlitePath });
  },
};
const MONGO_NS = "corpus.daprCollection";
const fakeMongo = new FakeMongo();
let fakeMongoUrl: string | undefined;
const mongoWireFake: StoreFactory = {
  name: "MongoDB (wire fake)",
  async open() {
    fakeMongoUrl ??= await fakeMongo.start();
    fakeMongo.collection(MONGO_NS);
    return openMongoBackend({ url: fakeMongoUrl, database: "corpus", collection: "daprCollection" });
  },
};
afterAll(() => fakeMongo.stop());

const factories = [
  ...storeFactories(0).filter((f) => f.name.startsWith("PostgreSQL") || f.name === "MariaDB"),
  redisShared,
  sqliteKept,
  mongoWireFake,
];

for (const factory of factories) {
  describe(`the corruption corpus on ${factory.name}`, () => {
    let backend: StateBackend;
    const app: AppRef = { appId: `corpus-${randomUUID().slice(0, 8)}`, namespace: "default" };
    const old = new Date(Date.now() - 60 * DAY);
    const corpus = factory === mongoWireFake ? [...CORPUS, ...MONGO_ONLY] : CORPUS;
    const corruptIds = corpus.map((d) => d.kind);
    let corruptRows: Map<string, string>;

    beforeAll(async () => {
      backend = await factory.open();
      await writeInstances(backend, app, [
        ...HEALTHY.map((h) => ({ instanceId: h.id, scenario: h.scenario, createdAt: old })),
        ...corpus.map((d) => ({ instanceId: d.kind, scenario: d.scenario ?? "completed", createdAt: old })),
      ]);
      for (const damage of corpus) {
        const prefix = instanceKeyPrefix(app, damage.kind);
        await damage.apply({
          async get(stateKey) {
            const value = (await backend.getMany([prefix + stateKey])).get(prefix + stateKey);
            if (!value) throw new Error(`${damage.kind}: no ${stateKey} to damage`);
            return value;
          },
          set: (stateKey, value) => backend.setMany([[prefix + stateKey, value]]),
          del: async (stateKey) => {
            await backend.deleteMany([prefix + stateKey]);
          },
          async setDocument(stateKey, value) {
            const key = prefix + stateKey;
            fakeMongo.collection(MONGO_NS).set(key, serialize({ _id: key, value, _etag: randomUUID() }));
          },
        });
      }
      corruptRows = await snapshotCorrupt(backend, app, corruptIds);
    });
    afterAll(async () => {
      await backend?.close();
    });

    it("lists the healthy instances and names every corrupted one as unreadable, by its own key, in one line", async () => {
      const store = new WorkflowStateStore(backend, app);
      const listed = new Map<string, string>();
      const unreadable = new Map<string, { key: string; reason: string }>();
      for await (const page of store.listInstances({ pageSize: 4 })) {
        for (const i of page.instances) listed.set(i.instanceId, i.runtimeStatus);
        for (const u of page.unreadable) unreadable.set(u.instanceId, { key: u.key, reason: u.reason });
      }
      expect(Object.fromEntries(listed)).toEqual(Object.fromEntries(HEALTHY.map((h) => [h.id, h.status])));
      expect([...unreadable.keys()].sort()).toEqual([...corruptIds].sort());
      for (const [id, { key, reason }] of unreadable) {
        expect(key.startsWith(instanceKeyPrefix(app, id)), `${id}: ${key}`).toBe(true);
        expect(reason, id).toMatch(/^[^\n]{8,300}$/);
        expect(reason, id).not.toMatch(/\bat \S+:\d+|TypeError|RangeError|undefined/);
      }
    });

    it("a dry run and a direct purge leave every corrupted instance byte for byte", async () => {
      const store = new WorkflowStateStore(backend, app);
      const retention = { COMPLETED: 30 * DAY, FAILED: 30 * DAY };
      const dry = await runRetentionPurge({ store }, { retention, mode: "direct", dryRun: true });
      expect(dry.wouldPurge.map((d) => d.instanceID).sort()).toEqual(["healthy-completed", "healthy-failed"]);
      const result = await runRetentionPurge({ store }, { retention, mode: "direct" });
      expect(result.purged).toBe(2);
      expect(result.failed).toEqual([]);
      expect(result.unreadable.map((u) => u.instanceID).sort()).toEqual([...corruptIds].sort());
      expect(await snapshotCorrupt(backend, app, corruptIds)).toEqual(corruptRows);
      expect((await backend.getMany([`${instanceKeyPrefix(app, "healthy-running")}metadata`])).size).toBe(1);
    });

    it("the stuck report counts them unreadable and reports nothing about them", async () => {
      const store = new WorkflowStateStore(backend, app);
      const report = await runStuckReport({ store }, { olderThanMs: DAY, retention: { COMPLETED: DAY } });
      expect(report.unreadable.map((u) => u.instanceID).sort()).toEqual([...corruptIds].sort());
      expect(report.records.map((r) => r.instanceID).filter((id) => corruptIds.includes(id))).toEqual([]);
    });

    if (factory === sqliteKept) {
      it("the CLI lists the healthy ones, names each corrupted one on stderr in one line, and exits 0", async () => {
        await backend.close(); // the SQLite file is held by one process at a time
        const run = await runHousekeeper(["workflow", "list", "-a", app.appId, "-c", sqlitePath, "-o", "json"]);
        expect(run.code, run.stderr).toBe(0);
        const listed = (JSON.parse(run.stdout) as Array<{ instanceID: string }>).map((i) => i.instanceID);
        expect(listed.sort()).toEqual(["healthy-running"]);
        for (const id of corruptIds) expect(run.stderr).toContain(id);
        expect(run.stderr).not.toMatch(/\n\s+at /);
      });
    }
  });
}

/** Every row of the corrupted instances, as hex: what a purge must leave exactly as it was. */
async function snapshotCorrupt(backend: StateBackend, app: AppRef, ids: string[]): Promise<Map<string, string>> {
  const rows = new Map<string, string>();
  for (const id of ids) {
    for (const [k, v] of await dumpStore(backend, instanceKeyPrefix(app, id))) rows.set(k, v);
  }
  return rows;
}
