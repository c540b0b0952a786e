/**
 * The idempotency stores behave alike: the in-memory LRU, Redis (real server, logical DB 8, keys under a prefix of
 * this file's own) and DynamoDB (the real AWS SDK against dynalite, a table of this file's own). Claims are exclusive
 * under concurrency, a release only drops its own claim, records expire.
 */
import { randomUUID } from "node:crypto";
import {
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  waitUntilTableExists,
} from "@aws-sdk/client-dynamodb";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { HousekeeperError } from "../../shared/errors.ts";
import {
  DYNAMODB_PARTITION_KEY,
  DYNAMODB_TTL_ATTRIBUTE,
  DynamoDbIdempotencyStore,
} from "../../shared/webhook/dynamodb-idempotency.ts";
import { type IdempotencyStore, MemoryIdempotencyStore } from "../../shared/webhook/idempotency.ts";
import { RedisIdempotencyStore } from "../../shared/webhook/redis-idempotency.ts";

const PREFIX = `test:idem:${randomUUID()}:`;
const TABLE = `idempotency-${randomUUID()}`;
let redis: Redis;
let dynamodb: DynamoDBClient;

function dynamoDbClient(endpoint = inject("dynamodb").endpoint): DynamoDBClient {
  const { region, accessKeyId, secretAccessKey } = inject("dynamodb");
  return new DynamoDBClient({ endpoint, region, credentials: { accessKeyId, secretAccessKey }, maxAttempts: 1 });
}

beforeAll(async () => {
  redis = new Redis(`${inject("redisUrl")}/8`);
  dynamodb = dynamoDbClient();
  // The table as the stack creates it (infra/constructs/webhook-idempotency-table.ts): a string partition key.
  await dynamodb.send(
    new CreateTableCommand({
      TableName: TABLE,
      AttributeDefinitions: [{ AttributeName: DYNAMODB_PARTITION_KEY, AttributeType: "S" }],
      KeySchema: [{ AttributeName: DYNAMODB_PARTITION_KEY, KeyType: "HASH" }],
      BillingMode: "PAY_PER_REQUEST",
    }),
  );
  await waitUntilTableExists({ client: dynamodb, maxWaitTime: 30 }, { TableName: TABLE });
});
afterAll(async () => {
  const keys = await redis.keys(`${PREFIX}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
  dynamodb.destroy();
});

const dynamoDbStore = (options: { now?: () => number } = {}) =>
  new DynamoDbIdempotencyStore(dynamodb, { tableName: TABLE, keyPrefix: PREFIX, ownsClient: false, ...options });

const stores: Array<[string, () => IdempotencyStore]> = [
  ["memory", () => new MemoryIdempotencyStore()],
  ["Redis", () => new RedisIdempotencyStore(redis, { keyPrefix: PREFIX, ownsClient: false })],
  ["DynamoDB", () => dynamoDbStore()],
];

describe.each(stores)("%s store", (_name, open) => {
  it("claims once; a second claim sees in-flight; complete makes it done with the instance ID", async () => {
    const store = open();
    const key = randomUUID();
    const first = await store.claim(key, 10_000);
    expect(first.status).toBe("claimed");
    expect(await store.claim(key, 10_000)).toEqual({ status: "in-flight" });
    await store.complete(key, (first as { token: string }).token, "order-1", 60_000);
    expect(await store.claim(key, 10_000)).toEqual({ status: "done", instanceId: "order-1" });
  });

  it("of 20 concurrent claims exactly one wins", async () => {
    const store = open();
    const key = randomUUID();
    const results = await Promise.all(Array.from({ length: 20 }, () => store.claim(key, 10_000)));
    expect(results.filter((r) => r.status === "claimed")).toHaveLength(1);
    expect(results.filter((r) => r.status === "in-flight")).toHaveLength(19);
  });

  it("release drops only the releasing claim's marker; then the key can be claimed again", async () => {
    const store = open();
    const key = randomUUID();
    const claim = (await store.claim(key, 10_000)) as { status: "claimed"; token: string };
    await store.release(key, "someone-else");
    expect(await store.claim(key, 10_000)).toEqual({ status: "in-flight" });
    await store.release(key, claim.token);
    expect((await store.claim(key, 10_000)).status).toBe("claimed");
  });

  it("an in-flight marker expires (a crashed request does not block its redelivery)", async () => {
    const store = open();
    const key = randomUUID();
    expect((await store.claim(key, 50)).status).toBe("claimed");
    await new Promise((r) => setTimeout(r, 120));
    expect((await store.claim(key, 50)).status).toBe("claimed");
  });

  it("a done record is not dropped by a late release", async () => {
    const store = open();
    const key = randomUUID();
    const claim = (await store.claim(key, 10_000)) as { status: "claimed"; token: string };
    await store.complete(key, claim.token, "i-1", 60_000);
    await store.release(key, claim.token);
    expect(await store.claim(key, 10_000)).toEqual({ status: "done", instanceId: "i-1" });
  });
});

describe("memory store", () => {
  it("keeps at most maxEntries keys, dropping the least recently used", async () => {
    const store = new MemoryIdempotencyStore({ maxEntries: 3 });
    for (const key of ["a", "b", "c"]) await store.claim(key, 60_000);
    await store.claim("a", 60_000); // touches a: b is now the oldest
    await store.claim("d", 60_000);
    expect(store.size).toBe(3);
    expect((await store.claim("b", 60_000)).status).toBe("claimed");
    expect((await store.claim("a", 60_000)).status).toBe("in-flight");
  });

  it("done records expire after their TTL", async () => {
    let now = 1_000;
    const store = new MemoryIdempotencyStore({ now: () => now });
    const claim = (await store.claim("k", 1_000)) as { token: string };
    await store.complete("k", claim.token, "i", 5_000);
    now += 4_999;
    expect((await store.claim("k", 1_000)).status).toBe("done");
    now += 2;
    expect((await store.claim("k", 1_000)).status).toBe("claimed");
  });
});

describe("Redis store", () => {
  it("stores the record under the prefix with the TTL asked for", async () => {
    const store = new RedisIdempotencyStore(redis, { keyPrefix: PREFIX, ownsClient: false });
    const claim = (await store.claim("ttl-check", 10_000)) as { token: string };
    await store.complete("ttl-check", claim.token, "order-7", 3_600_000);
    expect(await redis.get(`${PREFIX}ttl-check`)).toBe("done:order-7");
    const ttl = await redis.pttl(`${PREFIX}ttl-check`);
    expect(ttl).toBeGreaterThan(3_590_000);
    expect(ttl).toBeLessThanOrEqual(3_600_000);
  });

  it("a Redis that cannot be reached is an 'unavailable' HousekeeperError", async () => {
    const dead = new Redis("redis://127.0.0.1:1", {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => null,
    });
    const store = new RedisIdempotencyStore(dead);
    const error = await store.claim("x", 1_000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HousekeeperError);
    expect((error as HousekeeperError).code).toBe("unavailable");
    await store.close();
  });
});

describe("DynamoDB store", () => {
  it("stores state, the expiry in ms and the TTL attribute in epoch seconds, under the prefix", async () => {
    const now = Date.now();
    const store = dynamoDbStore({ now: () => now });
    const claim = (await store.claim("ttl-check", 10_000)) as { token: string };
    await store.complete("ttl-check", claim.token, "order-7", 3_600_000);
    const { Item } = await dynamodb.send(
      new GetItemCommand({ TableName: TABLE, Key: { id: { S: `${PREFIX}ttl-check` } }, ConsistentRead: true }),
    );
    expect(Item).toEqual({
      id: { S: `${PREFIX}ttl-check` },
      state: { S: "done:order-7" },
      expiresAtMs: { N: String(now + 3_600_000) },
      [DYNAMODB_TTL_ATTRIBUTE]: { N: String(Math.ceil((now + 3_600_000) / 1000)) },
    });
  });

  it("an expired record that DynamoDB's TTL has not deleted yet counts as absent", async () => {
    const key = randomUUID();
    const past = Date.now() - 1_000;
    await dynamodb.send(
      new PutItemCommand({
        TableName: TABLE,
        Item: {
          id: { S: PREFIX + key },
          state: { S: "done:old-instance" },
          expiresAtMs: { N: String(past) },
          [DYNAMODB_TTL_ATTRIBUTE]: { N: String(Math.ceil(past / 1000)) },
        },
      }),
    );
    const store = dynamoDbStore();
    expect((await store.claim(key, 10_000)).status).toBe("claimed");
    expect(await store.claim(key, 10_000)).toEqual({ status: "in-flight" });
  });

  it("ready() names a missing table; an unreachable endpoint is an 'unavailable' HousekeeperError", async () => {
    const missing = new DynamoDbIdempotencyStore(dynamodb, { tableName: "no-such-table", ownsClient: false });
    const notReady = await missing.ready().catch((e: unknown) => e);
    expect(notReady).toBeInstanceOf(HousekeeperError);
    expect((notReady as HousekeeperError).code).toBe("unavailable");
    expect((notReady as Error).message).toMatch(/DynamoDB table no-such-table.*ResourceNotFoundException/);
    await expect(dynamoDbStore().ready()).resolves.toBeUndefined();

    const dead = new DynamoDbIdempotencyStore(dynamoDbClient("http://127.0.0.1:1"), { tableName: TABLE });
    const error = await dead.claim("x", 1_000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HousekeeperError);
    expect((error as HousekeeperError).code).toBe("unavailable");
    await dead.close();
  });
});
