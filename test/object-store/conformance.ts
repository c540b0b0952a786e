/**
 * The behaviour every ObjectStore adapter must show, run against each one (S3 on s3rver, the filesystem in a temp
 * dir). `open` gives a fresh store whose keys no other test sees.
 */
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HousekeeperError } from "../../shared/errors.ts";
import { listNewestFirst, type ObjectStore, readAll } from "../../shared/object-store/object-store.ts";

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

/** `total` pseudo-random bytes in `chunk`-sized pieces, produced lazily (never all in memory). */
async function* generated(total: number, chunk: number, seed: number): AsyncGenerator<Uint8Array> {
  const block = Buffer.alloc(chunk);
  for (let i = 0; i < chunk; i++) block[i] = (i * 31 + seed) & 0xff;
  for (let sent = 0; sent < total; sent += chunk) {
    const n = Math.min(chunk, total - sent);
    const out = Buffer.from(block.subarray(0, n));
    if (n >= 4) out.writeUInt32BE(sent >>> 0, 0);
    yield out;
  }
}

async function sha256Of(source: AsyncIterable<Uint8Array | string>): Promise<{ sha256: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of source) {
    hash.update(chunk);
    size += typeof chunk === "string" ? Buffer.byteLength(chunk) : chunk.byteLength;
  }
  return { sha256: hash.digest("hex"), size };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface ConformanceOptions {
  /** Size of the "large" streamed object; should span several multipart parts for S3. */
  largeSize: number;
  /** Known deviations of a test server from the real service (never of our adapters). */
  quirks?: {
    /**
     * s3rver walks its directory tree depth-first and pages with `key > startAfter`, so `a/…` comes before `a-b`
     * and a page boundary inside `a/` loses `a-b`. Real S3 lists in UTF-8 byte order.
     */
    folderOrderedListing?: boolean;
  };
}

export function describeObjectStoreConformance(
  name: string,
  open: () => Promise<ObjectStore>,
  options: ConformanceOptions,
): void {
  describe(`ObjectStore conformance: ${name}`, () => {
    let store: ObjectStore;
    let base: string;

    beforeAll(async () => {
      store = await open();
    });
    afterAll(async () => {
      await store.close();
    });
    const fresh = () => {
      base = `t-${randomBytes(5).toString("hex")}/`;
      return base;
    };

    it("round-trips bytes, content type and metadata through put, head and get", async () => {
      const key = `${fresh()}dir/object.bin`;
      const bytes = Buffer.from([0, 1, 2, 0xff, 0xfe, 10, 13, 0]);
      const put = await store.put(key, bytes, {
        contentType: "application/x-gob",
        metadata: { "backup-sha256": "abc123", kind: "reminders" },
      });
      expect(put).toEqual({ key, size: bytes.length });

      const head = await store.head(key);
      expect(head).toMatchObject({
        key,
        size: bytes.length,
        contentType: "application/x-gob",
        metadata: { "backup-sha256": "abc123", kind: "reminders" },
      });
      expect(head?.lastModified).toBeInstanceOf(Date);

      const got = await store.get(key);
      expect(got.info).toMatchObject({ key, size: bytes.length, contentType: "application/x-gob" });
      expect(got.info.metadata).toEqual({ "backup-sha256": "abc123", kind: "reminders" });
      expect(await readAll(got.body)).toEqual(bytes);
    });

    it("accepts a Node Readable, an async iterable and a string as the body", async () => {
      const prefix = fresh();
      await store.put(`${prefix}readable`, Readable.from([Buffer.from("ab"), Buffer.from("cd")]));
      await store.put(`${prefix}iterable`, generated(10, 3, 7));
      await store.put(`${prefix}string`, "héllo", { contentType: "text/plain" });
      expect((await readAll((await store.get(`${prefix}readable`)).body)).toString()).toBe("abcd");
      expect((await readAll((await store.get(`${prefix}iterable`)).body)).length).toBe(10);
      const text = await store.get(`${prefix}string`);
      expect((await readAll(text.body)).toString("utf8")).toBe("héllo");
      expect(text.info.contentType).toBe("text/plain");
      expect(text.info.metadata).toEqual({});
    });

    it("streams a large object in and out without changing a byte", async () => {
      const key = `${fresh()}large.bin`;
      const expected = await sha256Of(generated(options.largeSize, 64 * 1024, 3));
      const put = await store.put(key, generated(options.largeSize, 64 * 1024, 3));
      expect(put.size).toBe(options.largeSize);
      expect((await store.head(key))?.size).toBe(options.largeSize);
      const got = await store.get(key);
      expect(await sha256Of(got.body)).toEqual(expected);
    });

    it("replaces an existing object", async () => {
      const key = `${fresh()}replace`;
      await store.put(key, "first", { metadata: { n: "1" } });
      await store.put(key, "second!", { metadata: { n: "2" } });
      const got = await store.get(key);
      expect((await readAll(got.body)).toString()).toBe("second!");
      expect(got.info).toMatchObject({ size: 7, metadata: { n: "2" } });
    });

    it("reports a missing object: head gives undefined, get throws not-found", async () => {
      const key = `${fresh()}missing`;
      expect(await store.head(key)).toBeUndefined();
      const error = await store.get(key).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(HousekeeperError);
      expect((error as HousekeeperError).code).toBe("not-found");
    });

    it("lists by plain string prefix in key order, across pages", async () => {
      const prefix = fresh();
      const keys = [
        `${prefix}a/1.bin`,
        `${prefix}a/2.bin`,
        `${prefix}a/sub/3.bin`,
        `${prefix}ab.bin`,
        `${prefix}b/1.bin`,
      ];
      for (const key of [...keys].reverse()) await store.put(key, key);

      const all = await collect(store.list(prefix, { pageSize: 2 }));
      expect(all.map((o) => o.key)).toEqual(keys);
      expect(all.find((o) => o.key === `${prefix}ab.bin`)?.size).toBe(Buffer.byteLength(`${prefix}ab.bin`));
      expect(all.every((o) => o.lastModified instanceof Date)).toBe(true);

      expect((await collect(store.list(`${prefix}a/`))).map((o) => o.key)).toEqual(keys.slice(0, 3));
      expect((await collect(store.list(`${prefix}a`, { pageSize: 1 }))).map((o) => o.key)).toEqual(keys.slice(0, 4));
      expect(await collect(store.list(`${prefix}zzz`))).toEqual([]);
      expect(await collect(store.list(`${prefix}nothing/`))).toEqual([]);
    });

    it.skipIf(options.quirks?.folderOrderedListing)(
      "lists in byte order where a folder and a file interleave",
      async () => {
        const prefix = fresh();
        const keys = [`${prefix}a-b`, `${prefix}a/1.bin`, `${prefix}a0`];
        for (const key of keys) await store.put(key, key);
        expect((await collect(store.list(prefix, { pageSize: 1 }))).map((o) => o.key)).toEqual(keys);
      },
    );

    it("lists newest first", async () => {
      const prefix = fresh();
      await store.put(`${prefix}z-oldest`, "1");
      await sleep(1100); // S3 LastModified has one-second resolution
      await store.put(`${prefix}a-newest`, "2");
      const listed = await listNewestFirst(store, prefix);
      expect(listed.map((o) => o.key)).toEqual([`${prefix}a-newest`, `${prefix}z-oldest`]);
    });

    it("deletes a batch of keys, missing ones included", async () => {
      const prefix = fresh();
      for (const name of ["1", "2", "3", "keep"]) await store.put(`${prefix}${name}`, name);
      await store.deleteMany([`${prefix}1`, `${prefix}2`, `${prefix}3`, `${prefix}never-existed`]);
      expect((await collect(store.list(prefix))).map((o) => o.key)).toEqual([`${prefix}keep`]);
      await store.deleteMany([]);
      expect(await store.head(`${prefix}1`)).toBeUndefined();
    });

    it("refuses keys that could escape or that other adapters could not store", async () => {
      for (const key of ["", "/abs", "../up", "a/../../b", "a//b", "a/./b", "back\\slash", "nul\u0000"]) {
        const error = await store.put(key, "x").catch((e: unknown) => e);
        expect(error, key).toBeInstanceOf(HousekeeperError);
        expect((error as HousekeeperError).code, key).toBe("bad-input");
      }
      const error = await store.put(`${fresh()}x`, "x", { metadata: { "Bad Name": "v" } }).catch((e: unknown) => e);
      expect((error as HousekeeperError).code).toBe("bad-input");
      await expect(collect(store.list("../"))).rejects.toMatchObject({ code: "bad-input" });
    });

    it("leaves no object behind when the body fails midway", async () => {
      const key = `${fresh()}failed.bin`;
      async function* failing(): AsyncGenerator<Uint8Array> {
        yield* generated(options.largeSize / 2, 64 * 1024, 5);
        throw new Error("source broke");
      }
      await expect(store.put(key, failing())).rejects.toThrow(/source broke/);
      expect(await store.head(key)).toBeUndefined();
      expect(await collect(store.list(base))).toEqual([]);
    });
  });
}
