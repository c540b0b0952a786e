/**
 * MongoDB adapter for Dapr's `state.mongodb` layout (components-contrib state/mongodb/mongodb.go):
 *   { _id: <key string>, value: <see below>, _etag: <uuid string>, _ttl: <Date | null> }
 * in database `daprStore` / collection `daprCollection` by default.
 *
 * What `value` holds depends on what Dapr was given (mongodb.go `setInternal`, `decodeData`):
 *   - []byte (every workflow value since Dapr 1.15): a BSON **string** holding the raw bytes, `string(obj)` in Go.
 *     Protobuf is usually not valid UTF-8, so the Node driver either refuses the document (UTF-8 validation) or,
 *     with validation off, js-bson replaces the bad bytes with U+FFFD. We therefore read documents as raw BSON
 *     (`find(…, { raw: true })`) and take the string's bytes ourselves (`readRawValueField` in mongodb-bson.ts).
 *   - Go structs / JSON values (legacy 1.10–1.14 `metadata`, JSON content-type writes): an embedded document or array,
 *     or a BSON scalar. Dapr returns those re-rendered as JSON (json.Marshal: map keys sorted), and so do we.
 *   - Dapr never writes BSON binary; we still return a binary's payload as-is in case another tool wrote one.
 *
 * Writing is the mirror problem: a JS string cannot carry invalid UTF-8, and js-bson encodes lone surrogates as
 * U+FFFD. So `setMany` builds each update statement's BSON by hand (the string element carries the exact bytes) and
 * sends the statements as an OP_MSG kind-1 document sequence, whose documents go on the wire byte for byte. The
 * driver implements document sequences (class `DocumentSequence`, used for its client bulkWrite) but does not export
 * it, so we load it from the driver's internal module; if a future driver moves it, writes fail with a clear error
 * rather than silently storing something Dapr would read differently (e.g. BSON binary, which Dapr's decodeData
 * would hand to the runtime as `{"Subtype":0,"Data":"…"}`).
 */
import {
  type ClientSession,
  type Collection,
  type Db,
  type Document,
  MongoClient,
  type MongoClientOptions,
} from "mongodb";
import { errorMessage, HousekeeperError } from "../errors.ts";
import { networkTimeouts } from "../util/timeouts.ts";
import type { GuardedDeletion, GuardedGroup, KeyPage, ScanKeysRequest, StateBackend } from "./backend.ts";
import { guardKeys, planGuardedDeletion } from "./backend.ts";
import { encodeUpsertStatement, MONGO_FIELDS, readRawValueField, readStringField } from "./mongodb-bson.ts";

/** A document of Dapr's collection, as far as the typed driver calls here need to know. */
interface DaprDocument {
  _id: string;
  value?: unknown;
  _etag?: string;
  _ttl?: Date | null;
}

const GET_CHUNK = 1000;
const DELETE_CHUNK = 1000;
const WRITE_CHUNK = 1000;
/** Keep one update command well under the 48 MB OP_MSG limit. */
const WRITE_CHUNK_BYTES = 8 * 1024 * 1024;

interface DocumentSequenceLike {
  push(document: Document, buffer: Uint8Array): number;
}
type DocumentSequenceCtor = new (field: string) => DocumentSequenceLike;

let documentSequenceClass: Promise<DocumentSequenceCtor> | undefined;

/** The driver's internal OP_MSG document-sequence class (see the file comment). */
export function loadDocumentSequence(): Promise<DocumentSequenceCtor> {
  documentSequenceClass ??= (async () => {
    let mod: Record<string, unknown> | undefined;
    try {
      // @ts-expect-error: an internal module of the mongodb driver, without type declarations.
      mod = (await import("mongodb/lib/cmap/commands.js")) as Record<string, unknown>;
    } catch {
      mod = undefined;
    }
    const ctor =
      (mod?.DocumentSequence as DocumentSequenceCtor | undefined) ??
      ((mod?.default as Record<string, unknown> | undefined)?.DocumentSequence as DocumentSequenceCtor | undefined);
    if (typeof ctor !== "function" || typeof ctor.prototype?.push !== "function") {
      throw new HousekeeperError(
        "missing-dependency",
        "this version of the mongodb driver has no internal DocumentSequence (mongodb/lib/cmap/commands.js), which " +
          "writing Dapr's raw-byte string values needs; install mongodb@6",
      );
    }
    return ctor;
  })();
  return documentSequenceClass;
}

// ---------------------------------------------------------------------------------------------------------------
// Queries

/** Escapes every regex metacharacter (PCRE and JS agree on these). */
export function escapeRegex(literal: string): string {
  return literal.replace(/[\\^$.|?*+()[\]{}]/g, (c) => `\\${c}`);
}

/**
 * `_id` regex for keys starting with `prefix` and ending with `suffix` (no overlap, like LIKE 'prefix%suffix').
 * The literal, anchored prefix lets MongoDB turn it into index bounds on `_id`.
 */
export function mongoKeyRegex(prefix: string, suffix: string): string {
  return `^${escapeRegex(prefix)}[\\s\\S]*${escapeRegex(suffix)}$`;
}

/** Dapr's getFilterTTL: documents whose `_ttl` is missing, null or not yet reached (server clock). */
export const NOT_EXPIRED_FILTER: Document = {
  $expr: {
    $or: [{ $eq: [{ $ifNull: ["$_ttl", null] }, null] }, { $gte: ["$_ttl", "$$NOW"] }],
  },
};

export function buildScanFilter(request: ScanKeysRequest): Document {
  const and: Document[] = [{ _id: { $regex: mongoKeyRegex(request.prefix, request.suffix) } }, NOT_EXPIRED_FILTER];
  if (request.cursor !== undefined) and.push({ _id: { $gt: request.cursor } });
  return { $and: and };
}

// ---------------------------------------------------------------------------------------------------------------
// Backend

export interface MongoBackendOptions {
  /** A mongodb:// or mongodb+srv:// URL. */
  url: string;
  /** Dapr `databaseName`, default `daprStore`. */
  database: string;
  /** Dapr `collectionName`, default `daprCollection`. */
  collection: string;
  /** Defaults to the URL without credentials or options. */
  location?: string | undefined;
  /** Fail at open when the collection does not exist (default true: a wrong database is the usual cause). */
  requireCollection?: boolean | undefined;
}

export async function openMongoBackend(options: MongoBackendOptions): Promise<MongoStateBackend> {
  const client = new MongoClient(options.url, mongoClientOptions(options.url));
  const location =
    options.location ??
    `mongodb ${options.url.replace(/^([^:]+:\/\/)[^@/]*@/, "$1").replace(/[/?].*$/, "")}/${options.database} collection ${options.collection}`;
  try {
    await client.connect();
    const db = client.db(options.database);
    const hello = await db.admin().command({ hello: 1 });
    const transactions = typeof hello.setName === "string" || hello.msg === "isdbgrid";
    if (options.requireCollection !== false) {
      const found = await db.listCollections({ name: options.collection }, { nameOnly: true }).toArray();
      if (found.length === 0) {
        throw new HousekeeperError(
          "not-found",
          `collection "${options.collection}" does not exist in MongoDB database "${options.database}" ` +
            "(Dapr's defaults are daprStore/daprCollection; pass the component's databaseName as " +
            "--database-name and its collectionName as --table-name)",
        );
      }
    }
    return new MongoStateBackend(client, db, options.collection, transactions, location);
  } catch (error) {
    await client.close().catch(() => {});
    if (error instanceof HousekeeperError) throw error;
    // Server selection is what fails for a wrong host, a closed port or a server that does not answer.
    const check =
      error instanceof Error && error.name === "MongoServerSelectionError"
        ? "; check the host and port, and that MongoDB is running and reachable there"
        : "";
    throw new HousekeeperError("unavailable", `cannot connect to ${location}: ${errorMessage(error)}${check}`, {
      cause: error,
    });
  }
}

/**
 * Our app name and timeouts, each unless the URL sets it (URL options are the user's word). Server selection is what
 * a refused or silent server waits for (the driver's default, 30 s, made a refused connection take 34 s to fail).
 */
function mongoClientOptions(url: string): MongoClientOptions {
  const timeouts = networkTimeouts();
  const defaults: Array<[keyof MongoClientOptions, string | number]> = [
    ["appName", "dapr-housekeeper"],
    ["serverSelectionTimeoutMS", timeouts.connectMs],
    ["connectTimeoutMS", timeouts.connectMs],
    ["socketTimeoutMS", timeouts.requestMs],
  ];
  const options: Record<string, string | number> = {};
  for (const [name, value] of defaults) {
    if (!new RegExp(`[?&]${name}=`, "i").test(url)) options[name] = value;
  }
  return options as MongoClientOptions;
}

/** Mirrors Dapr's Init: the collection with its TTL index (`_ttl`, expireAfterSeconds 0). For tests and seeding. */
export async function createMongoDaprCollection(db: Db, collection: string): Promise<void> {
  await db.collection(collection).createIndex({ [MONGO_FIELDS.ttl]: 1 }, { expireAfterSeconds: 0 });
}

export class MongoStateBackend implements StateBackend {
  readonly kind = "mongodb" as const;
  private readonly collection: Collection<DaprDocument>;

  constructor(
    private readonly client: MongoClient,
    private readonly db: Db,
    private readonly collectionName: string,
    /** Replica set or sharded cluster: multi-document writes run in one transaction (Dapr requires this too). */
    readonly transactions: boolean,
    readonly location: string,
  ) {
    this.collection = db.collection<DaprDocument>(collectionName);
  }

  async scanKeys(request: ScanKeysRequest): Promise<KeyPage> {
    const { prefix, suffix, pageSize } = request;
    const ids = await this.run("list keys", () =>
      this.collection
        .find(buildScanFilter(request), { projection: { _id: 1 }, sort: { _id: 1 }, limit: pageSize + 1 })
        .map((d) => d._id as unknown)
        .toArray(),
    );
    const more = ids.length > pageSize;
    const page = (more ? ids.slice(0, pageSize) : ids).filter((id): id is string => typeof id === "string");
    // PCRE's `$` also matches before a final newline; the exact check keeps such keys out.
    const keys = page.filter(
      (k) => k.length >= prefix.length + suffix.length && k.startsWith(prefix) && k.endsWith(suffix),
    );
    return { keys, cursor: more ? page.at(-1) : undefined };
  }

  async getMany(keys: readonly string[]): Promise<Map<string, Uint8Array>> {
    return this.run("read values", () => this.readValues(keys, undefined));
  }

  private async readValues(
    keys: readonly string[],
    session: ClientSession | undefined,
  ): Promise<Map<string, Uint8Array>> {
    const values = new Map<string, Uint8Array>();
    const requested = new Set(keys);
    const unique = [...requested];
    for (let i = 0; i < unique.length; i += GET_CHUNK) {
      const chunk = unique.slice(i, i + GET_CHUNK);
      const filter = { $and: [{ _id: { $in: chunk } }, NOT_EXPIRED_FILTER] };
      const docs = (await this.collection
        .find(filter, { raw: true, ...(session ? { session } : {}) })
        .toArray()) as unknown as Uint8Array[];
      for (const doc of docs) {
        const key = readStringField(doc, MONGO_FIELDS.id);
        const value = readRawValueField(doc);
        if (key !== undefined && value !== undefined && requested.has(key)) values.set(key, Uint8Array.from(value));
      }
    }
    return values;
  }

  async setMany(entries: ReadonlyArray<readonly [string, Uint8Array]>): Promise<void> {
    if (entries.length === 0) return;
    const DocumentSequence = await loadDocumentSequence();
    const latest = new Map<string, Uint8Array>();
    for (const [key, value] of entries) latest.set(key, value);
    const batches: Uint8Array[][] = [[]];
    let bytes = 0;
    for (const [key, value] of latest) {
      const statement = encodeUpsertStatement(key, value);
      let batch = batches.at(-1)!;
      if (batch.length >= WRITE_CHUNK || (batch.length > 0 && bytes + statement.length > WRITE_CHUNK_BYTES)) {
        batch = [];
        batches.push(batch);
        bytes = 0;
      }
      batch.push(statement);
      bytes += statement.length;
    }
    await this.write("write values", async (session) => {
      for (const batch of batches) {
        const updates = new DocumentSequence("updates");
        for (const statement of batch) updates.push({ raw: true }, statement);
        const reply = await this.db.command(
          { update: this.collectionName, updates, ordered: true },
          session ? { session } : {},
        );
        checkWriteReply(reply, batch.length);
      }
    });
  }

  async deleteMany(keys: readonly string[]): Promise<number> {
    const unique = [...new Set(keys)];
    if (unique.length === 0) return 0;
    return this.write("delete keys", async (session) => {
      let deleted = 0;
      for (let i = 0; i < unique.length; i += DELETE_CHUNK) {
        const result = await this.collection.deleteMany(
          { _id: { $in: unique.slice(i, i + DELETE_CHUNK) } },
          session ? { session } : {},
        );
        deleted += result.deletedCount;
      }
      return deleted;
    });
  }

  /**
   * In a transaction (replica set or sharded cluster, which Dapr's actor state store needs anyway): the guard
   * documents are among those deleted, so a concurrent change to one is a write conflict and the driver retries the
   * whole transaction, which then sees the change. On a standalone server the check and the delete are two steps.
   */
  async deleteIfUnchanged(groups: readonly GuardedGroup[]): Promise<GuardedDeletion> {
    if (groups.length === 0) return { outcomes: [], keysDeleted: 0 };
    return this.write("delete keys", async (session) => {
      const plan = planGuardedDeletion(groups, await this.readValues(guardKeys(groups), session));
      let keysDeleted = 0;
      for (let i = 0; i < plan.keys.length; i += DELETE_CHUNK) {
        const result = await this.collection.deleteMany(
          { _id: { $in: plan.keys.slice(i, i + DELETE_CHUNK) } },
          session ? { session } : {},
        );
        keysDeleted += result.deletedCount;
      }
      return { outcomes: plan.outcomes, keysDeleted };
    });
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  private async run<T>(what: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof HousekeeperError) throw error;
      throw new HousekeeperError("store-error", `MongoDB: cannot ${what} on ${this.location}: ${errorMessage(error)}`, {
        cause: error,
      });
    }
  }

  /** Runs the writes in one transaction where the deployment supports it (replica set / sharded). */
  private async write<T>(what: string, work: (session: ClientSession | undefined) => Promise<T>): Promise<T> {
    if (!this.transactions) return this.run(what, () => work(undefined));
    return this.run(what, async () => {
      const session = this.client.startSession();
      try {
        let result: T | undefined;
        await session.withTransaction(async () => {
          result = await work(session);
        });
        return result as T;
      } finally {
        await session.endSession();
      }
    });
  }
}

function checkWriteReply(reply: Document, expected: number): void {
  const writeErrors = reply.writeErrors as Array<{ index?: number; errmsg?: string }> | undefined;
  if (writeErrors && writeErrors.length > 0) {
    const first = writeErrors[0]!;
    throw new Error(`write error on statement ${first.index ?? "?"}: ${first.errmsg ?? "unknown"}`);
  }
  const concern = reply.writeConcernError as { errmsg?: string } | undefined;
  if (concern) throw new Error(`write concern error: ${concern.errmsg ?? "unknown"}`);
  if (reply.ok !== 1) throw new Error(`update failed: ${String(reply.errmsg ?? "ok is not 1")}`);
  if (typeof reply.n === "number" && reply.n !== expected) {
    throw new Error(`update matched or inserted ${reply.n} documents instead of ${expected}`);
  }
}
