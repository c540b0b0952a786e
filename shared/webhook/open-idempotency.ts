/**
 * Which idempotency store keeps the delivery IDs, and opening it: one place for the webhook function and
 * `housekeeper webhook serve`.
 *
 *   IDEMPOTENCY_TABLE / --idempotency-table        a DynamoDB table (the stack creates one by default); the endpoint
 *                                                  and region come from the SDK's own settings (AWS_REGION,
 *                                                  AWS_ENDPOINT_URL_DYNAMODB for DynamoDB Local and the like)
 *   IDEMPOTENCY_REDIS_URL / --idempotency-redis-url  redis://… or a secret reference holding it
 *   neither                                        this process's memory (one execution environment only)
 */

import { HousekeeperError } from "../errors.ts";
import type { SecretResolver } from "../util/secrets.ts";
import { awsRequestHandler } from "../util/timeouts.ts";
import { type IdempotencyStore, lazyIdempotencyStore, MemoryIdempotencyStore } from "./idempotency.ts";
import type { IdempotencyBackend } from "./idempotency-backend.ts";
import { RedisIdempotencyStore, redisReason } from "./redis-idempotency.ts";

export { describeIdempotencyBackend, type IdempotencyBackend, idempotencyBackend } from "./idempotency-backend.ts";

export interface OpenIdempotencyStoreOptions {
  secrets: SecretResolver;
  /** Told about Redis connection errors between requests (a request that meets one answers 503 anyway). */
  onConnectionError?: (reason: string) => void;
}

/**
 * Opens the store. Nothing is connected yet: the Redis URL (possibly a secret) is resolved and connected on first
 * use, and a failure there is retried on the next request; the DynamoDB client connects per request.
 */
export function openIdempotencyStore(
  backend: IdempotencyBackend,
  options: OpenIdempotencyStoreOptions,
): IdempotencyStore {
  switch (backend.kind) {
    case "memory":
      return new MemoryIdempotencyStore();
    case "dynamodb":
      // Two attempts: a webhook sender retries on our 503 anyway, and a slow answer holds its request open.
      // Short timeouts, as for Redis below: the sender is waiting.
      // Each client is imported when first used: a function keeping delivery IDs in Redis never loads the DynamoDB
      // client, nor the other way round.
      return lazyIdempotencyStore(async () => {
        const [{ DynamoDBClient }, { DynamoDbIdempotencyStore }] = await Promise.all([
          import("@aws-sdk/client-dynamodb"),
          import("./dynamodb-idempotency.ts"),
        ]);
        return new DynamoDbIdempotencyStore(
          new DynamoDBClient({
            maxAttempts: 2,
            requestHandler: awsRequestHandler({ connectMs: 2_000, requestMs: 5_000 }),
          }),
          { tableName: backend.tableName },
        );
      });
    case "redis":
      return lazyIdempotencyStore(async () => {
        const { Redis } = await import("ioredis");
        const redis = new Redis(await options.secrets.resolve(backend.url), {
          lazyConnect: true,
          connectTimeout: 2_000,
          commandTimeout: 2_000,
          maxRetriesPerRequest: 1,
        });
        redis.on("error", (error: unknown) => options.onConnectionError?.(redisReason(error)));
        try {
          await redis.connect();
        } catch (error) {
          redis.disconnect();
          throw new HousekeeperError("unavailable", `cannot connect to the idempotency Redis: ${redisReason(error)}`, {
            cause: error,
          });
        }
        return new RedisIdempotencyStore(redis);
      });
  }
}
