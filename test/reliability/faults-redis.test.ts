/**
 * The fault-injection suite (store-faults.ts) against a Redis server of its own, with an append-only file synced on
 * every write so that its data outlives the kill -9.
 */
import { afterAll, describe } from "vitest";
import { openRedisBackend } from "../../shared/state-store/redis.ts";
import { type RedisServer, startRedis } from "../support/servers.ts";
import { defineStoreFaults } from "./store-faults.ts";

let server: RedisServer | undefined;
afterAll(async () => {
  await server?.stop();
});

describe("Redis faults", () => {
  defineStoreFaults(async () => {
    server = await startRedis({ durable: true });
    const s = server;
    return {
      name: "Redis",
      server: s,
      connectionString: ({ host, port }) => `redis://${host}:${port}/0`,
      openBackend: () => openRedisBackend({ url: `redis://${s.host}:${s.port}/0` }),
    };
  });
});
