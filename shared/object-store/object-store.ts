/**
 * The object-storage port: where backups live. Two adapters implement it, S3 (AWS SDK v3, or any S3-compatible
 * server) and the local filesystem (the embedded default, `./.housekeeper/backups/`), and both pass the same
 * conformance tests.
 *
 * Keys are `/`-separated relative paths (`reminders/dapr-system/20250101T000000Z.bin`). The same rules hold in every
 * adapter, so a key that works in one works in all: no empty, `.` or `..` segments, no leading `/`, no backslash, no
 * control characters. Bodies are streamed both ways; nothing here holds a whole object in memory.
 */
import { Readable } from "node:stream";
import { HousekeeperError } from "../errors.ts";

/** What `put` accepts: a Node stream, any async iterable of byte chunks, or bytes already in memory. */
export type ObjectBody = Readable | AsyncIterable<Uint8Array> | Uint8Array | string;

export interface PutObjectOptions {
  /** Default `application/octet-stream`. */
  contentType?: string;
  /** User metadata: keys `[a-z0-9-]`, values printable ASCII (what S3 keeps verbatim in `x-amz-meta-*`). */
  metadata?: Record<string, string>;
}

export interface PutObjectResult {
  key: string;
  /** Bytes written. */
  size: number;
}

/** One entry of a listing. */
export interface ObjectSummary {
  key: string;
  size: number;
  lastModified: Date;
}

/** What `head` and `get` know about an object. */
export interface ObjectInfo extends ObjectSummary {
  contentType: string;
  metadata: Record<string, string>;
}

export interface GetObjectResult {
  info: ObjectInfo;
  /** The object's bytes; the caller must consume or destroy it. */
  body: Readable;
}

export interface ListObjectsOptions {
  /** Objects per page fetched from the store (default 1000; S3's maximum). */
  pageSize?: number;
}

export interface ObjectStore {
  /** Where objects go, for messages (`s3://bucket`, `/abs/path`); never contains secrets. */
  readonly location: string;
  /** Streams `body` into `key`, replacing any object there. Readers never see a partial object. */
  put(key: string, body: ObjectBody, options?: PutObjectOptions): Promise<PutObjectResult>;
  /** The object and its bytes; HousekeeperError("not-found") when there is none. */
  get(key: string): Promise<GetObjectResult>;
  /** What is known about `key`, or undefined when there is no such object. */
  head(key: string): Promise<ObjectInfo | undefined>;
  /** Every object whose key starts with `prefix` (a plain string prefix, not a folder), in key order, page by page. */
  list(prefix: string, options?: ListObjectsOptions): AsyncIterable<ObjectSummary>;
  /** Deletes these keys (missing ones are fine), in as few requests as the store allows. */
  deleteMany(keys: readonly string[]): Promise<void>;
  /** Releases clients; the store is unusable afterwards. */
  close(): Promise<void>;
}

export const DEFAULT_CONTENT_TYPE = "application/octet-stream";
export const DEFAULT_LIST_PAGE_SIZE = 1000;

/** Throws HousekeeperError("bad-input") unless `bucket` is a valid S3 bucket name; returns it unchanged. */
export function checkBucketName(bucket: string | undefined): string {
  if (!bucket || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new HousekeeperError("bad-input", `invalid S3 bucket name ${JSON.stringify(bucket ?? "")}`);
  }
  return bucket;
}

/** Throws HousekeeperError("bad-input") unless `key` follows the key rules above; returns it unchanged. */
export function checkObjectKey(key: string): string {
  const bad = (why: string) => new HousekeeperError("bad-input", `invalid object key ${JSON.stringify(key)}: ${why}`);
  if (typeof key !== "string" || key === "") throw bad("it is empty");
  if (Buffer.byteLength(key, "utf8") > 1024) throw bad("it is longer than 1024 bytes");
  if (key.startsWith("/")) throw bad("it must be relative (no leading /)");
  if (key.includes("\\")) throw bad("backslashes are not allowed");
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(key)) throw bad("control characters are not allowed");
  for (const segment of key.split("/")) {
    if (segment === "") throw bad("empty path segments are not allowed");
    if (segment === "." || segment === "..") throw bad(`"${segment}" segments are not allowed`);
  }
  return key;
}

/** A list prefix may be "" (everything) or end with "/"; otherwise it follows the key rules. */
export function checkListPrefix(prefix: string): string {
  if (prefix === "") return prefix;
  checkObjectKey(prefix.endsWith("/") ? prefix.slice(0, -1) : prefix);
  return prefix;
}

/** Throws HousekeeperError("bad-input") unless the metadata fits every adapter (S3 lower-cases keys, ASCII only). */
export function checkMetadata(metadata: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(metadata ?? {})) {
    if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) {
      throw new HousekeeperError("bad-input", `invalid metadata name ${JSON.stringify(name)}: use [a-z0-9-]`);
    }
    if (typeof value !== "string" || !/^[\x20-\x7e]*$/.test(value)) {
      throw new HousekeeperError("bad-input", `metadata "${name}" must be printable ASCII`);
    }
    out[name] = value;
  }
  return out;
}

/** Turns any ObjectBody into a Node Readable of bytes (without copying in-memory bodies). */
export function toReadable(body: ObjectBody): Readable {
  if (body instanceof Readable) return body;
  if (typeof body === "string") return Readable.from([Buffer.from(body, "utf8")], { objectMode: false });
  if (body instanceof Uint8Array) return Readable.from([body], { objectMode: false });
  return Readable.from(body, { objectMode: false });
}

/** Reads a whole object into memory: for small objects (manifests) only. */
export async function readAll(body: AsyncIterable<Uint8Array | string>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/**
 * Every object under `prefix`, newest first (by last-modified time, then by key, descending). It has to see the
 * whole listing before it can sort, so it holds one summary per object (tens of bytes each), never a body.
 */
export async function listNewestFirst(store: ObjectStore, prefix: string): Promise<ObjectSummary[]> {
  const all: ObjectSummary[] = [];
  for await (const object of store.list(prefix)) all.push(object);
  return all.sort(
    (a, b) => b.lastModified.getTime() - a.lastModified.getTime() || (a.key < b.key ? 1 : a.key > b.key ? -1 : 0),
  );
}
