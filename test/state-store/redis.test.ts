import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { RedisBackendOptions } from "../../shared/state-store/redis.ts";
import { escapeRedisGlob, openRedisBackend, parseRedisUrl, RedisStateBackend } from "../../shared/state-store/redis.ts";
import { describeStateBackendConformance } from "../support/backend-conformance.ts";

// The harness provides the server; HOUSEKEEPER_TEST_REDIS_URL is a fallback when running without it.
function serverUrl(): string {
  const url = (inject("redisUrl") as string | undefined) ?? process.env.HOUSEKEEPER_TEST_REDIS_URL;
  if (!url) throw new Error("no Redis server: run through vitest's globalSetup or set HOUSEKEEPER_TEST_REDIS_URL");
  return url.replace(/\/+$/, "");
}

// This file works in database 7 of the shared server; the conformance suite also namespaces its keys randomly.
const DB = 7;
let url: string;
let raw: Redis;

beforeAll(() => {
  url = `${serverUrl()}/${DB}`;
  raw = new Redis(url, { lazyConnect: true });
});
afterAll(async () => {
  await raw.quit();
});

const open = (options: Omit<RedisBackendOptions, "url"> = {}) => openRedisBackend({ url, ...options });
const token = () => `t${randomBytes(6).toString("hex")}`;

describeStateBackendConformance("Redis", () => open(), { scanMayRepeatAcrossPages: true });

describe("Redis physical layout", () => {
  it("stores each key as a hash with fields data (raw bytes) and version (incremented per write)", async () => {
    const backend = await open();
    try {
      const key = `${token()}app||dapr.internal.default.app.workflow||i||history-000000`;
      const bytes = Buffer.from([0x0a, 0x00, 0xff, 0xfe]);
      await backend.setMany([[key, bytes]]);
      expect(await raw.type(key)).toBe("hash");
      expect(await raw.hkeys(key)).toEqual(["data", "version"]);
      expect(await raw.hgetBuffer(key, "data")).toEqual(bytes);
      expect(await raw.hget(key, "version")).toBe("1");
      await backend.setMany([[key, Buffer.from("again")]]);
      expect(await raw.hget(key, "version")).toBe("2");
      expect(await raw.ttl(key)).toBe(-1);
    } finally {
      await backend.close();
    }
  });

  it("reads hashes written the way Dapr writes them (including first-write)", async () => {
    const backend = await open();
    try {
      const key = `${token()}dapr||written`;
      await raw.hset(key, "data", Buffer.from([1, 2, 3]), "first-write", "0", "version", "7");
      expect(Buffer.from((await backend.getMany([key])).get(key)!)).toEqual(Buffer.from([1, 2, 3]));
    } finally {
      await backend.close();
    }
  });

  it("skips keys that are not hashes and reports them through onUnreadable", async () => {
    const unreadable: Array<[string, string]> = [];
    const backend = await open({ onUnreadable: (key, reason) => unreadable.push([key, reason]) });
    try {
      const ns = token();
      await backend.setMany([[`${ns}good`, Buffer.from("ok")]]);
      await raw.set(`${ns}string`, "plain");
      await raw.rpush(`${ns}list`, "a");
      await raw.hset(`${ns}no-data`, "version", "1");
      const values = await backend.getMany([`${ns}string`, `${ns}good`, `${ns}list`, `${ns}no-data`]);
      expect([...values.keys()]).toEqual([`${ns}good`]);
      expect(unreadable.map(([k]) => k)).toEqual([`${ns}string`, `${ns}list`]);
      expect(unreadable[0]?.[1]).toMatch(/WRONGTYPE/);
    } finally {
      await backend.close();
    }
  });

  it("never returns an empty page with a cursor, even when matches are sparse", async () => {
    const backend = await open();
    try {
      const ns = token();
      const noise = Array.from({ length: 400 }, (_, i) => [`${ns}noise||${i}`, "x"]).flat();
      await raw.mset(...noise);
      const wanted = [`${ns}app||1||metadata`, `${ns}app||2||metadata`, `${ns}app||3||metadata`];
      await backend.setMany(wanted.map((k) => [k, Buffer.from("v")] as const));
      const seen = new Set<string>();
      let cursor: string | undefined;
      do {
        const page = await backend.scanKeys({ prefix: `${ns}app||`, suffix: "||metadata", pageSize: 1, cursor });
        if (page.cursor !== undefined) expect(page.keys.length).toBeGreaterThan(0);
        for (const k of page.keys) seen.add(k);
        cursor = page.cursor;
      } while (cursor !== undefined);
      expect([...seen].sort()).toEqual(wanted);
    } finally {
      await backend.close();
    }
  });

  it("honours the database index in the URL", async () => {
    const backend = await openRedisBackend({ url: `${serverUrl()}/5` });
    const db0 = new Redis(`${serverUrl()}/0`, { lazyConnect: true });
    const db5 = new Redis(`${serverUrl()}/5`, { lazyConnect: true });
    try {
      const key = `${token()}db-index`;
      await backend.setMany([[key, Buffer.from("x")]]);
      expect(await db5.exists(key)).toBe(1);
      expect(await db0.exists(key)).toBe(0);
      await backend.deleteMany([key]);
    } finally {
      await backend.close();
      await Promise.all([db0.quit(), db5.quit()]);
    }
  });

  it("authenticates with user:password from the URL and fails clearly with a wrong one", async () => {
    const user = token();
    await raw.call("ACL", "SETUSER", user, "on", ">s3cr:t@", "~*", "+@all");
    try {
      const base = new URL(serverUrl());
      const withAuth = `redis://${user}:${encodeURIComponent("s3cr:t@")}@${base.host}/${DB}`;
      const backend = await openRedisBackend({ url: withAuth });
      try {
        expect(backend.location).toBe(`redis://${base.host} db ${DB}`);
        await backend.setMany([[`${user}k`, Buffer.from("v")]]);
        expect(await backend.deleteMany([`${user}k`])).toBe(1);
      } finally {
        await backend.close();
      }
      const wrong = `redis://${user}:nope@${base.host}/${DB}`;
      await expect(openRedisBackend({ url: wrong })).rejects.toMatchObject({
        code: "store-error",
        message: expect.stringMatching(/WRONGPASS|invalid username-password/i),
      });
    } finally {
      await raw.call("ACL", "DELUSER", user);
    }
  });

  it("fails with a clear error when the server cannot be reached", async () => {
    await expect(openRedisBackend({ url: "redis://127.0.0.1:1/0" })).rejects.toMatchObject({
      code: "store-error",
      message: expect.stringMatching(/ECONNREFUSED|connect/),
    });
  });
});

describe("Redis URL and glob helpers", () => {
  it("parses redis:// and rediss:// URLs", () => {
    expect(parseRedisUrl("redis://localhost")).toEqual({
      options: { host: "localhost", port: 6379, db: 0 },
      location: "redis://localhost db 0",
    });
    expect(parseRedisUrl("rediss://u:p%40ss@cache.example.com:6380/3")).toEqual({
      options: { host: "cache.example.com", port: 6380, db: 3, username: "u", password: "p@ss", tls: {} },
      location: "rediss://cache.example.com:6380 db 3",
    });
    expect(parseRedisUrl("redis://:pw@[::1]:7000/").options).toEqual({
      host: "::1",
      port: 7000,
      db: 0,
      password: "pw",
    });
  });

  it("rejects other schemes and non-numeric databases", () => {
    for (const bad of ["http://localhost", "localhost:6379", "redis://host/abc", "redis://"]) {
      expect(() => parseRedisUrl(bad), bad).toThrow(expect.objectContaining({ code: "bad-connection-string" }));
    }
    expect(() => new RedisStateBackend({ url: "mysql://x" })).toThrow(/redis:\/\//);
  });

  it("escapes every glob metacharacter", () => {
    expect(escapeRedisGlob("a*b?c[d]e\\f_g%h.i")).toBe("a\\*b\\?c\\[d\\]e\\\\f_g%h.i");
  });
});
