import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { writeInstances } from "../../shared/sample-data/writer.ts";
import type { AppRef } from "../../shared/state-store/keys.ts";
import { openRedisBackend, type RedisStateBackend } from "../../shared/state-store/redis.ts";
import { runHousekeeper } from "../support/cli.ts";
import { dumpStore } from "../support/stores.ts";

const DAY = 86_400_000;

const housekeeper = runHousekeeper;

describe("a Redis database the server refuses", () => {
  const app: AppRef = { appId: `wrongdb-${randomUUID().slice(0, 8)}`, namespace: "default" };
  let server: string;
  let db0: RedisStateBackend;
  let before: Map<string, string>;

  beforeAll(async () => {
    server = inject("redisUrl").replace(/\/+$/, "");
    db0 = await openRedisBackend({ url: `${server}/0` });
    const old = new Date(Date.now() - 60 * DAY);
    await writeInstances(
      db0,
      app,
      Array.from({ length: 20 }, (_, i) => ({
        instanceId: `done-${i}`,
        scenario: "completed" as const,
        createdAt: old,
      })),
    );
    before = await dumpStore(db0, `${app.appId}||`);
    expect(before.size).toBeGreaterThan(20);
  });
  afterAll(async () => {
    await db0?.deleteMany([...before.keys()]);
    await db0?.close();
  });

  it("fails the open with one line naming the database", async () => {
    await expect(openRedisBackend({ url: `${server}/99` })).rejects.toThrow(
      /^Redis on redis:\/\/127\.0\.0\.1:\d+ db 99 refused database 99: ERR DB index is out of range/,
    );
  });

  it.each([
    [
      "a direct purge",
      ["workflow", "purge", "--all-older-than", "1h", "--mode", "direct", "--etcd-endpoints", "127.0.0.1:1"],
    ],
    ["a listing", ["workflow", "list"]],
  ])("%s exits non-zero and touches no other database", async (_what, args) => {
    const run = await housekeeper([...args, "-a", app.appId, "-c", `${server}/99`]);
    expect(run.code).not.toBe(0);
    expect(run.stdout).toBe("");
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).toContain("refused database 99");
    expect(await dumpStore(db0, `${app.appId}||`)).toEqual(before);
  });
});
