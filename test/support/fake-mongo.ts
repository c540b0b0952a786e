/**
 * FakeMongo: just enough of a MongoDB server for our adapter, spoken to through the REAL `mongodb` driver (OP_QUERY
 * handshake, OP_MSG incl. kind-1 document sequences), implementing only the filters the adapter sends. No MongoDB
 * server can run on this machine; this exercises the driver path and raw BSON bytes, not a real server's query
 * semantics (see test/state-store/mongodb.test.ts for what a real server adds with MONGODB_URL).
 */
import { createServer, type Server, type Socket } from "node:net";
import { type Document, serialize, deserialize as unsafeDeserialize } from "bson";
import { NOT_EXPIRED_FILTER } from "../../shared/state-store/mongodb.ts";
import { findBsonElement, readStringField } from "../../shared/state-store/mongodb-bson.ts";

// Hand-made BSON

export function cat(...parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts));
}
export function i32(n: number): Uint8Array {
  const b = Buffer.alloc(4);
  b.writeInt32LE(n);
  return b;
}
export function el(type: number, name: string, payload: Uint8Array): Uint8Array {
  return cat(Uint8Array.of(type), Buffer.from(`${name}\0`), payload);
}
export function bsonDoc(...elements: Uint8Array[]): Uint8Array {
  const body = cat(...elements);
  return cat(i32(body.length + 5), body, Uint8Array.of(0));
}
export function strPayload(bytes: Uint8Array): Uint8Array {
  return cat(i32(bytes.length + 1), bytes, Uint8Array.of(0));
}
export function bsonArray(docs: Uint8Array[]): Uint8Array {
  return bsonDoc(...docs.map((d, i) => el(0x03, String(i), d)));
}

const OP_REPLY = 1;
const OP_QUERY = 2004;
const OP_MSG = 2013;

interface Command {
  doc: Document;
  sequences: Map<string, Uint8Array[]>;
}

export class FakeMongo {
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
