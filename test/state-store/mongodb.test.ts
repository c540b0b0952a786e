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
import { createServer, type Server, type Socket } from "node:net";
import {
  Binary,
  BSONRegExp,
  BSONSymbol,
  Code,
  Decimal128,
  type Document,
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

const require = createRequire(import.meta.url);
// biome-ignore lint/suspicious/noExplicitAny: generated jspb module without usable ESM types
const pb: any = require("@dapr/durabletask-js/proto/orchestrator_service_pb.js");
// biome-ignore lint/suspicious/noExplicitAny: same
const tspb: any = require("@dapr/durabletask-js/node_modules/google-protobuf/google/protobuf/timestamp_pb.js");

/** Protobuf-like bytes that are not valid UTF-8 (0x96 continuation without lead, 0xff, truncated 0xc3). */
const INVALID_UTF8 = Uint8Array.of(0x08, 0x96, 0x01, 0x12, 0x04, 0xff, 0xfe, 0x00, 0x41, 0xc3);

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

// ---------------------------------------------------------------------------------------------------------------
// Hand-made BSON

function cat(...parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts));
}
function i32(n: number): Uint8Array {
  const b = Buffer.alloc(4);
  b.writeInt32LE(n);
  return b;
}
function el(type: number, name: string, payload: Uint8Array): Uint8Array {
  return cat(Uint8Array.of(type), Buffer.from(`${name}\0`), payload);
}
function bsonDoc(...elements: Uint8Array[]): Uint8Array {
  const body = cat(...elements);
  return cat(i32(body.length + 5), body, Uint8Array.of(0));
}
function strPayload(bytes: Uint8Array): Uint8Array {
  return cat(i32(bytes.length + 1), bytes, Uint8Array.of(0));
}
function bsonArray(docs: Uint8Array[]): Uint8Array {
  return bsonDoc(...docs.map((d, i) => el(0x03, String(i), d)));
}

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
// FakeMongo: just enough of a MongoDB server for this adapter, through the real driver.

const OP_REPLY = 1;
const OP_QUERY = 2004;
const OP_MSG = 2013;

interface Command {
  doc: Document;
  sequences: Map<string, Uint8Array[]>;
}

class FakeMongo {
  /** database.collection → _id → raw document. */
  readonly collections = new Map<string, Map<string, Uint8Array>>();
  readonly received: Command[] = [];
  private server: Server | undefined;
  private sockets = new Set<Socket>();

  async start(): Promise<string> {
    this.server = createServer((socket) => this.serve(socket));
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    const address = this.server.address();
    if (address === null || typeof address === "string") throw new Error("no port");
    return `mongodb://127.0.0.1:${address.port}/?directConnection=true&serverSelectionTimeoutMS=5000`;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  collection(ns: string): Map<string, Uint8Array> {
    let c = this.collections.get(ns);
    if (!c) {
      c = new Map();
      this.collections.set(ns, c);
    }
    return c;
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.on("close", () => this.sockets.delete(socket));
    let pending = Buffer.alloc(0);
    socket.on("data", (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 16 && pending.length >= pending.readInt32LE(0)) {
        const length = pending.readInt32LE(0);
        const message = pending.subarray(0, length);
        pending = pending.subarray(length);
        try {
          socket.write(this.handle(message));
        } catch (error) {
          socket.destroy(error as Error);
        }
      }
    });
  }

  private handle(message: Buffer): Buffer {
    const requestId = message.readInt32LE(4);
    const opCode = message.readInt32LE(12);
    if (opCode === OP_QUERY) {
      let offset = 20;
      offset = message.indexOf(0, offset) + 1 + 8; // collection name, skip, return
      const query = unsafeDeserialize(message.subarray(offset));
      const reply = serialize(this.execute({ doc: query, sequences: new Map() }).doc);
      const body = Buffer.concat([i32(0), Buffer.alloc(8), i32(0), i32(1), reply]);
      return Buffer.concat([this.header(body.length, requestId, OP_REPLY), body]);
    }
    if (opCode !== OP_MSG) throw new Error(`unsupported opCode ${opCode}`);
    let offset = 20;
    let doc: Document | undefined;
    const sequences = new Map<string, Uint8Array[]>();
    while (offset < message.length) {
      const kind = message[offset++];
      if (kind === 0) {
        const size = message.readInt32LE(offset);
        doc = unsafeDeserialize(message.subarray(offset, offset + size));
        offset += size;
      } else {
        const size = message.readInt32LE(offset);
        const end = offset + size;
        const nameEnd = message.indexOf(0, offset + 4);
        const name = message.subarray(offset + 4, nameEnd).toString();
        const docs: Uint8Array[] = [];
        for (let p = nameEnd + 1; p < end; ) {
          const docSize = message.readInt32LE(p);
          docs.push(Uint8Array.from(message.subarray(p, p + docSize)));
          p += docSize;
        }
        sequences.set(name, docs);
        offset = end;
      }
    }
    const command = { doc: doc!, sequences };
    this.received.push(command);
    const result = this.execute(command);
    const body = Buffer.concat([i32(0), Uint8Array.of(0), result.raw ?? serialize(result.doc)]);
    return Buffer.concat([this.header(body.length, requestId, OP_MSG), body]);
  }

  private header(bodyLength: number, responseTo: number, opCode: number): Buffer {
    const h = Buffer.alloc(16);
    h.writeInt32LE(16 + bodyLength, 0);
    h.writeInt32LE(Math.floor(Math.random() * 1e9), 4);
    h.writeInt32LE(responseTo, 8);
    h.writeInt32LE(opCode, 12);
    return h;
  }

  /** Returns either a document to serialize or ready raw BSON (replies that embed stored raw documents). */
  private execute({ doc, sequences }: Command): { doc: Document; raw?: Uint8Array } {
    const name = Object.keys(doc)[0]!;
    const db = (doc.$db as string | undefined) ?? "admin";
    switch (name) {
      case "hello":
      case "isMaster":
      case "ismaster":
        return {
          doc: {
            ismaster: true,
            isWritablePrimary: true,
            helloOk: true,
            maxBsonObjectSize: 16 * 1024 * 1024,
            maxMessageSizeBytes: 48_000_000,
            maxWriteBatchSize: 100_000,
            localTime: new Date(),
            logicalSessionTimeoutMinutes: 30,
            connectionId: 1,
            minWireVersion: 0,
            maxWireVersion: 21,
            readOnly: false,
            ok: 1,
          },
        };
      case "ping":
      case "endSessions":
      case "killCursors":
        return { doc: { ok: 1 } };
      case "createIndexes":
      case "create":
        this.collection(`${db}.${doc[name]}`);
        return { doc: { ok: 1 } };
      case "listCollections": {
        const wanted = (doc.filter as Document | undefined)?.name as string | undefined;
        const names = [...this.collections.keys()]
          .filter((ns) => ns.startsWith(`${db}.`))
          .map((ns) => ns.slice(db.length + 1))
          .filter((n) => wanted === undefined || n === wanted);
        return {
          doc: {},
          raw: cursorReply(
            `${db}.$cmd.listCollections`,
            names.map((n) => serialize({ name: n, type: "collection" })),
          ),
        };
      }
      case "find": {
        const coll = this.collection(`${db}.${doc.find}`);
        let docs = [...coll.values()].filter((d) => matches(doc.filter ?? {}, d));
        docs.sort((a, b) =>
          Buffer.compare(Buffer.from(readStringField(a, "_id")!), Buffer.from(readStringField(b, "_id")!)),
        );
        if (typeof doc.limit === "number" && doc.limit > 0) docs = docs.slice(0, doc.limit);
        const projection = doc.projection as Document | undefined;
        if (projection && Object.keys(projection).join() === "_id") {
          docs = docs.map((d) => bsonDoc(el(0x02, "_id", strPayload(Buffer.from(readStringField(d, "_id")!)))));
        }
        return { doc: {}, raw: cursorReply(`${db}.${doc.find}`, docs) };
      }
      case "update": {
        const coll = this.collection(`${db}.${doc.update}`);
        const statements = sequences.get("updates") ?? (doc.updates as Document[]).map((s) => serialize(s));
        const upserted: Document[] = [];
        statements.forEach((statement, index) => {
          const u = findBsonElement(statement, "u")!;
          const replacement = statement.slice(u.valueStart, u.valueEnd);
          const id = readStringField(replacement, "_id")!;
          if (!coll.has(id)) upserted.push({ index, _id: id });
          coll.set(id, replacement);
        });
        return { doc: { n: statements.length, nModified: statements.length - upserted.length, upserted, ok: 1 } };
      }
      case "delete": {
        const coll = this.collection(`${db}.${doc.delete}`);
        let n = 0;
        for (const { q } of doc.deletes as Array<{ q: Document }>) {
          for (const [id, d] of coll) {
            if (matches(q, d)) {
              coll.delete(id);
              n++;
            }
          }
        }
        return { doc: { n, ok: 1 } };
      }
      case "dropDatabase":
        for (const ns of [...this.collections.keys()]) if (ns.startsWith(`${db}.`)) this.collections.delete(ns);
        return { doc: { ok: 1 } };
      default:
        return { doc: { ok: 0, errmsg: `FakeMongo: no such command: ${name}`, code: 59 } };
    }
  }
}

function cursorReply(ns: string, docs: Uint8Array[]): Uint8Array {
  const id = Buffer.alloc(8);
  const cursor = bsonDoc(
    el(0x04, "firstBatch", bsonArray(docs)),
    el(0x12, "id", id),
    el(0x02, "ns", strPayload(Buffer.from(ns))),
  );
  const ok = Buffer.alloc(8);
  ok.writeDoubleLE(1);
  return bsonDoc(el(0x03, "cursor", cursor), el(0x01, "ok", ok));
}

/** The filter shapes the adapter sends: $and, $expr (TTL), and _id with equality, $in, $regex, $gt. */
function matches(filter: Document, raw: Uint8Array): boolean {
  for (const [key, condition] of Object.entries(filter)) {
    if (key === "$and") {
      if (!(condition as Document[]).every((f) => matches(f, raw))) return false;
    } else if (key === "$expr") {
      if (JSON.stringify(condition) !== JSON.stringify(NOT_EXPIRED_FILTER.$expr)) throw new Error("unexpected $expr");
      const ttl = findBsonElement(raw, "_ttl");
      if (ttl && ttl.type === 0x09 && Number(Buffer.from(raw).readBigInt64LE(ttl.valueStart)) < Date.now())
        return false;
    } else if (key === "_id") {
      const id = readStringField(raw, "_id")!;
      if (typeof condition === "string") {
        if (id !== condition) return false;
        continue;
      }
      for (const [op, operand] of Object.entries(condition as Document)) {
        if (op === "$in" && !(operand as string[]).includes(id)) return false;
        if (op === "$regex" && !new RegExp(operand as string).test(id)) return false;
        if (op === "$gt" && Buffer.compare(Buffer.from(id), Buffer.from(operand as string)) <= 0) return false;
        if (!["$in", "$regex", "$gt"].includes(op)) throw new Error(`unexpected operator ${op}`);
      }
    } else {
      throw new Error(`unexpected filter key ${key}`);
    }
  }
  return true;
}

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
