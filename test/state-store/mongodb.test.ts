/**
 * MongoDB adapter tests. No MongoDB server can run on this machine, so:
 *   - the raw BSON reader/writer is tested against bytes from the real `bson` library and hand-made bytes with
 *     invalid UTF-8 inside a string element;
 *   - the adapter is driven through the REAL `mongodb` driver against FakeMongo below, a tiny in-process server that
 *     speaks the wire protocol (OP_QUERY handshake, OP_MSG incl. kind-1 document sequences) and implements only the
 *     filters this adapter sends. That exercises what matters most — raw reads, raw-byte writes via the driver's
 *     DocumentSequence — but not a real server's query semantics;
 *   - with MONGODB_URL set (a replica set, as Dapr requires for actors), the shared conformance suite runs against
 *     the real server.
 */
import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import {
  Binary,
  BSONRegExp,
  BSONSymbol,
  Code,
  Decimal128,
  Double,
  Int32,
  Long,
  MaxKey,
  MinKey,
  ObjectId,
  serialize,
  Timestamp,
  deserialize as unsafeDeserialize,
} from "bson";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HousekeeperError } from "../../shared/errors.ts";
import {
  buildScanFilter,
  createMongoDaprCollection,
  escapeRegex,
  loadDocumentSequence,
  mongoKeyRegex,
  NOT_EXPIRED_FILTER,
  openMongoBackend,
} from "../../shared/state-store/mongodb.ts";
import {
  bsonElements,
  encodeDaprDocument,
  encodeUpsertStatement,
  findBsonElement,
  readRawValueField,
  readStringField,
} from "../../shared/state-store/mongodb-bson.ts";
import { WorkflowStateStore } from "../../shared/state-store/workflow-store.ts";
import { describeStateBackendConformance } from "../support/backend-conformance.ts";
import { bsonDoc, cat, el, FakeMongo, i32, strPayload } from "../support/fake-mongo.ts";

const require = createRequire(import.meta.url);
// biome-ignore lint/suspicious/noExplicitAny: generated jspb module without usable ESM types
const pb: any = require("@dapr/durabletask-js/proto/orchestrator_service_pb.js");
// biome-ignore lint/suspicious/noExplicitAny: same
const tspb: any = require("@dapr/durabletask-js/node_modules/google-protobuf/google/protobuf/timestamp_pb.js");

/** Protobuf-like bytes that are not valid UTF-8 (0x96 continuation without lead, 0xff, truncated 0xc3). */
const INVALID_UTF8 = Uint8Array.of(0x08, 0x96, 0x01, 0x12, 0x04, 0xff, 0xfe, 0x00, 0x41, 0xc3);

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("readRawValueField", () => {
  it("returns the exact bytes of a string value holding invalid UTF-8 (as Dapr's Go driver writes it)", () => {
    const doc = bsonDoc(
      el(0x02, "_id", strPayload(Buffer.from("app||dapr.internal.default.app.workflow||i1||metadata"))),
      el(0x02, "value", strPayload(INVALID_UTF8)),
      el(0x02, "_etag", strPayload(Buffer.from(randomUUID()))),
      el(0x0a, "_ttl", new Uint8Array(0)),
    );
    expect(hex(readRawValueField(doc)!)).toBe(hex(INVALID_UTF8));
    expect(readStringField(doc, "_id")).toBe("app||dapr.internal.default.app.workflow||i1||metadata");
    // What the Node driver would do with the same bytes: refuse them, or replace them (lossy).
    expect(() => unsafeDeserialize(doc)).toThrow(/Invalid UTF-8/);
    const lossy = unsafeDeserialize(doc, { validation: { utf8: false } }).value as string;
    expect(hex(Buffer.from(lossy, "utf8"))).not.toBe(hex(INVALID_UTF8));
    expect(lossy).toContain("\uFFFD");
  });

  it("reads strings written by the bson library, including NUL bytes and the empty string", () => {
    expect(Buffer.from(readRawValueField(serialize({ value: "héllo\u0000x" }))!).toString("utf8")).toBe("héllo\u0000x");
    expect(readRawValueField(serialize({ value: "" }))!.length).toBe(0);
  });

  it("skips every other BSON element type generically before reaching `value`", () => {
    const doc = serialize({
      _id: "k",
      double: new Double(1.5),
      doc: { a: { b: [1, 2] } },
      arr: ["x", { y: 1 }],
      bin: new Binary(Buffer.from([1, 2, 3]), 0),
      oid: new ObjectId(),
      bool: true,
      date: new Date(1),
      nul: null,
      re: new BSONRegExp("a.*b", "i"),
      code: new Code("function(){}"),
      sym: new BSONSymbol("s"),
      scope: new Code("function(){ return a }", { a: 1 }),
      int: new Int32(7),
      ts: new Timestamp({ t: 1, i: 2 }),
      long: Long.fromNumber(2 ** 40),
      dec: Decimal128.fromString("1.23"),
      min: new MinKey(),
      max: new MaxKey(),
      value: "target",
      after: 1,
    });
    const names = [...bsonElements(doc)].map((e) => e.name);
    expect(names).toContain("value");
    expect(names.at(-1)).toBe("after");
    expect(Buffer.from(readRawValueField(doc)!).toString()).toBe("target");
    // DBPointer (0x0c) cannot be produced by js-bson: hand-made.
    const withPointer = bsonDoc(
      el(0x0c, "ptr", cat(strPayload(Buffer.from("db.coll")), new Uint8Array(12))),
      el(0x02, "value", strPayload(INVALID_UTF8)),
    );
    expect(hex(readRawValueField(withPointer)!)).toBe(hex(INVALID_UTF8));
  });

  it("returns a binary value's payload (subtype 0, and old subtype 2 with its inner length)", () => {
    expect(hex(readRawValueField(serialize({ value: new Binary(Buffer.from(INVALID_UTF8), 0) }))!)).toBe(
      hex(INVALID_UTF8),
    );
    const old = bsonDoc(
      el(0x05, "value", cat(i32(INVALID_UTF8.length + 4), Uint8Array.of(0x02), i32(INVALID_UTF8.length), INVALID_UTF8)),
    );
    expect(hex(readRawValueField(old)!)).toBe(hex(INVALID_UTF8));
  });

  it("renders legacy documents, arrays and scalars as JSON the way Dapr's decodeData does (keys sorted)", () => {
    const text = (value: unknown) => Buffer.from(readRawValueField(serialize({ value }))!).toString();
    expect(text({ InboxLength: 1, HistoryLength: 2, Generation: Long.fromNumber(3) })).toBe(
      '{"Generation":3,"HistoryLength":2,"InboxLength":1}',
    );
    expect(text(["a", { z: 1, b: [true, null] }])).toBe('["a",{"b":[true,null],"z":1}]');
    expect(text(new Int32(5))).toBe("5");
    expect(text(new Double(2.5))).toBe("2.5");
    expect(text(false)).toBe("false");
    expect(text(null)).toBe("null");
    expect(text(Long.fromString("9007199254740993"))).toBe("9007199254740993");
    expect(text({ when: new Date(0) })).toBe('{"when":"1970-01-01T00:00:00.000Z"}');
  });

  it("returns undefined without a value field and rejects malformed documents as corrupt-data", () => {
    expect(readRawValueField(serialize({ _id: "k" }))).toBeUndefined();
    const good = bsonDoc(el(0x02, "value", strPayload(INVALID_UTF8)));
    for (const bad of [
      good.subarray(0, 3),
      good.subarray(0, good.length - 1),
      bsonDoc(el(0x02, "value", cat(i32(1000), INVALID_UTF8, Uint8Array.of(0)))),
      bsonDoc(el(0x02, "value", cat(i32(INVALID_UTF8.length + 1), INVALID_UTF8, Uint8Array.of(7)))),
      bsonDoc(el(0x42, "weird", new Uint8Array(0))),
    ]) {
      let error: unknown;
      try {
        readRawValueField(bad);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(HousekeeperError);
      expect((error as HousekeeperError).code).toBe("corrupt-data");
    }
  });
});

describe("raw BSON writing", () => {
  it("encodes Dapr's document exactly as the bson library would for valid UTF-8", () => {
    const etag = randomUUID();
    const value = Buffer.from("plain text");
    expect(hex(encodeDaprDocument("k", value, etag))).toBe(
      hex(serialize({ _id: "k", value: "plain text", _etag: etag, _ttl: null })),
    );
  });

  it("keeps invalid UTF-8 bytes in the string element, round-tripping through readRawValueField", () => {
    const doc = encodeDaprDocument("k", INVALID_UTF8, "e");
    expect(findBsonElement(doc, "value")?.type).toBe(0x02);
    expect(hex(readRawValueField(doc)!)).toBe(hex(INVALID_UTF8));
    const statement = encodeUpsertStatement("k", INVALID_UTF8, "e");
    const u = findBsonElement(statement, "u")!;
    expect(hex(statement.subarray(u.valueStart, u.valueEnd))).toBe(hex(doc));
    const q = findBsonElement(statement, "q")!;
    expect(unsafeDeserialize(statement.subarray(q.valueStart, q.valueEnd))).toEqual({ _id: "k" });
    expect(findBsonElement(statement, "upsert")).toMatchObject({ type: 0x08 });
  });

  it("loads the driver's internal DocumentSequence", async () => {
    const DocumentSequence = await loadDocumentSequence();
    const seq = new DocumentSequence("updates");
    expect(seq.push({}, encodeUpsertStatement("k", INVALID_UTF8))).toBeGreaterThan(0);
  });
});

describe("MongoDB queries", () => {
  it("builds an anchored, escaped _id regex that matches prefix…suffix literally", () => {
    const prefix = "my_app%.*?[x]\\||(a)+{1}$^";
    const regex = new RegExp(mongoKeyRegex(prefix, "||metadata"));
    expect(mongoKeyRegex("app||", "||metadata")).toBe("^app\\|\\|[\\s\\S]*\\|\\|metadata$");
    expect(regex.test(`${prefix}i1||metadata`)).toBe(true);
    expect(regex.test(`${prefix}||metadata`)).toBe(true);
    expect(regex.test(`${prefix}i1\n||metadata`)).toBe(true);
    expect(regex.test(`${prefix.replace("_", "X")}i1||metadata`)).toBe(false);
    expect(regex.test(`x${prefix}i1||metadata`)).toBe(false);
    expect(regex.test(`${prefix}i1||metadataX`)).toBe(false);
    expect(escapeRegex("a.b")).toBe("a\\.b");
  });

  it("filters on regex, TTL and the cursor like Dapr's KeysLike", () => {
    expect(buildScanFilter({ prefix: "p", suffix: "s", pageSize: 10 })).toEqual({
      $and: [{ _id: { $regex: "^p[\\s\\S]*s$" } }, NOT_EXPIRED_FILTER],
    });
    expect(buildScanFilter({ prefix: "p", suffix: "", pageSize: 10, cursor: "p1" })).toEqual({
      $and: [{ _id: { $regex: "^p[\\s\\S]*$" } }, NOT_EXPIRED_FILTER, { _id: { $gt: "p1" } }],
    });
    expect(NOT_EXPIRED_FILTER).toEqual({
      $expr: { $or: [{ $eq: [{ $ifNull: ["$_ttl", null] }, null] }, { $gte: ["$_ttl", "$$NOW"] }] },
    });
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe("MongoStateBackend through the real driver against an in-process wire fake", () => {
  const fake = new FakeMongo();
  let url = "";
  let counter = 0;

  beforeAll(async () => {
    url = await fake.start();
  });
  afterAll(async () => {
    await fake.stop();
  });

  async function fresh(collection = "daprCollection") {
    const database = `fake${++counter}`;
    fake.collection(`${database}.${collection}`);
    const backend = await openMongoBackend({ url, database, collection });
    return { backend, ns: `${database}.${collection}` };
  }

  describeStateBackendConformance("MongoDB (wire fake)", async () => (await fresh()).backend);

  it("reads a document Dapr wrote (invalid UTF-8 in the value string) byte for byte", async () => {
    const { backend, ns } = await fresh();
    const key = "app||dapr.internal.default.app.workflow||i1||history-000000";
    fake.collection(ns).set(key, encodeDaprDocument(key, INVALID_UTF8, randomUUID()));
    try {
      expect(hex((await backend.getMany([key])).get(key)!)).toBe(hex(INVALID_UTF8));
      // The driver's normal decoding cannot do this: it rejects the document, or replaces the bytes.
      const client = new MongoClient(url);
      try {
        const [database, collection] = ns.split(".") as [string, string];
        await expect(
          client
            .db(database)
            .collection(collection)
            .findOne({ _id: key as never }),
        ).rejects.toThrow(/Invalid UTF-8/);
        const lossy = await client
          .db(database)
          .collection(collection)
          .findOne({ _id: key as never }, { enableUtf8Validation: false });
        expect(lossy?.value).toContain("\uFFFD");
      } finally {
        await client.close();
      }
    } finally {
      await backend.close();
    }
  });

  it("writes the value as a BSON string of the raw bytes, through a kind-1 document sequence", async () => {
    const { backend, ns } = await fresh();
    const key = "app||dapr.internal.default.app.workflow||i1||metadata";
    try {
      fake.received.length = 0;
      await backend.setMany([[key, INVALID_UTF8]]);
      const update = fake.received.find((c) => c.doc.update !== undefined)!;
      expect(update.doc.updates).toBeUndefined();
      expect(update.sequences.get("updates")).toHaveLength(1);
      const stored = fake.collection(ns).get(key)!;
      expect([...bsonElements(stored)].map((e) => [e.name, e.type])).toEqual([
        ["_id", 0x02],
        ["value", 0x02],
        ["_etag", 0x02],
        ["_ttl", 0x0a],
      ]);
      expect(hex(readRawValueField(stored)!)).toBe(hex(INVALID_UTF8));
      expect(readStringField(stored, "_etag")).toMatch(/^[0-9a-f-]{36}$/);
    } finally {
      await backend.close();
    }
  });

  it("returns legacy JSON sub-documents as Dapr renders them, and hides expired documents", async () => {
    const { backend, ns } = await fresh();
    const legacy = "app||dapr.internal.default.app.workflow||old||metadata";
    const expired = "app||dapr.internal.default.app.workflow||gone||metadata";
    fake
      .collection(ns)
      .set(
        legacy,
        serialize({ _id: legacy, value: { InboxLength: 0, HistoryLength: 4, Generation: 1 }, _etag: "e", _ttl: null }),
      );
    fake
      .collection(ns)
      .set(expired, serialize({ _id: expired, value: "x", _etag: "e", _ttl: new Date(Date.now() - 60_000) }));
    try {
      const read = await backend.getMany([legacy, expired]);
      expect([...read.keys()]).toEqual([legacy]);
      expect(Buffer.from(read.get(legacy)!).toString()).toBe('{"Generation":1,"HistoryLength":4,"InboxLength":0}');
      const page = await backend.scanKeys({ prefix: "app||", suffix: "||metadata", pageSize: 10 });
      expect(page).toEqual({ keys: [legacy], cursor: undefined });
    } finally {
      await backend.close();
    }
  });

  it("reads Dapr 1.10–1.14 metadata (BSON document, Go driver's lower-case field names) as Dapr does", async () => {
    // Vectors from independent encoders: js-bson for the document the Go driver's struct codec wrote (uint64 as
    // int64, lower-cased field names), the upstream .proto's generated classes for the history events.
    const { backend, ns } = await fresh();
    const prefix = "app||dapr.internal.default.app.workflow||legacy1||";
    const history = [
      new pb.HistoryEvent()
        .setEventid(-1)
        .setTimestamp(new tspb.Timestamp().setSeconds(1_700_000_000))
        .setExecutionstarted(new pb.ExecutionStartedEvent().setName("Legacy")),
      new pb.HistoryEvent()
        .setEventid(-1)
        .setTimestamp(new tspb.Timestamp().setSeconds(1_700_000_060))
        .setExecutioncompleted(new pb.ExecutionCompletedEvent().setOrchestrationstatus(1)),
    ].map((event) => event.serializeBinary() as Uint8Array);
    const metadata = {
      inboxlength: Long.fromNumber(0),
      historylength: Long.fromNumber(2),
      generation: Long.fromNumber(1),
    };
    fake
      .collection(ns)
      .set(`${prefix}metadata`, serialize({ _id: `${prefix}metadata`, value: metadata, _etag: "e", _ttl: null }));
    history.forEach((bytes, i) => {
      const key = `${prefix}history-00000${i}`;
      fake.collection(ns).set(key, encodeDaprDocument(key, bytes, "e"));
    });
    try {
      const record = await new WorkflowStateStore(backend, { appId: "app", namespace: "default" }).readInstance(
        "legacy1",
      );
      expect(record?.metadata).toMatchObject({ inboxLength: 0, historyLength: 2, generation: 1 });
      expect(record?.runtimeStatus).toBe("COMPLETED");
      expect(record?.name).toBe("Legacy");
      expect(record?.history).toHaveLength(2);
    } finally {
      await backend.close();
    }
  });

  it("refuses to open a database without Dapr's collection", async () => {
    await expect(
      openMongoBackend({ url, database: "nothing_here", collection: "daprCollection" }),
    ).rejects.toMatchObject({
      code: "not-found",
    });
  });
});

// ---------------------------------------------------------------------------------------------------------------

const MONGODB_URL = process.env.MONGODB_URL;

describe.skipIf(!MONGODB_URL)("MongoStateBackend against a real MongoDB (set MONGODB_URL to run)", () => {
  const databases: string[] = [];
  let admin: MongoClient;

  beforeAll(async () => {
    admin = new MongoClient(MONGODB_URL!);
    await admin.connect();
  });
  afterAll(async () => {
    for (const name of databases) await admin.db(name).dropDatabase();
    await admin.close();
  });

  describeStateBackendConformance("MongoDB", async () => {
    const database = `hk_test_${randomUUID().slice(0, 8)}`;
    databases.push(database);
    await createMongoDaprCollection(admin.db(database), "daprCollection");
    return openMongoBackend({ url: MONGODB_URL!, database, collection: "daprCollection" });
  });
});

if (!MONGODB_URL) {
  describe("MongoStateBackend against a real MongoDB", () => {
    it.skip("skipped: MONGODB_URL is not set (no MongoDB server on this machine; use a replica set URL)", () => {});
  });
}
