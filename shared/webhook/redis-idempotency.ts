/**
 * The idempotency store on Redis: claim = one Lua script (`SET key inflight:<token> NX PX ms`, else `GET key`: one
 * round trip, atomic), complete = `SET key done:<id> PX ttl`, release = compare-and-delete (a claim that expired and
 * was taken by another delivery is never dropped by the first one).
 */
import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { HousekeeperError } from "../errors.ts";
import {
  type ClaimResult,
  claimFromValue,
  DONE_PREFIX,
  type IdempotencyStore,
  IN_FLIGHT_PREFIX,
} from "./idempotency.ts";

const CLAIM_SCRIPT = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return false end
return redis.call('GET', KEYS[1])`;

const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

export interface RedisIdempotencyStoreOptions {
  /** Prepended to every key (default none: the job already prefixes its keys). */
  keyPrefix?: string;
  /** Close the client on close() (default true: the store owns it). */
  ownsClient?: boolean;
}

export class RedisIdempotencyStore implements IdempotencyStore {
  private readonly prefix: string;
  private readonly ownsClient: boolean;

  constructor(
    private readonly redis: Redis,
    options: RedisIdempotencyStoreOptions = {},
  ) {
    this.prefix = options.keyPrefix ?? "";
    this.ownsClient = options.ownsClient ?? true;
  }

  async claim(key: string, inFlightMs: number): Promise<ClaimResult> {
    const token = randomUUID();
    const existing = (await this.run(() =>
      this.redis.eval(CLAIM_SCRIPT, 1, this.prefix + key, IN_FLIGHT_PREFIX + token, String(ttl(inFlightMs))),
    )) as string | null;
    return claimFromValue(existing) ?? { status: "claimed", token };
  }

  async complete(key: string, _token: string, instanceId: string, ttlMs: number): Promise<void> {
    await this.run(() => this.redis.set(this.prefix + key, DONE_PREFIX + instanceId, "PX", ttl(ttlMs)));
  }

  async release(key: string, token: string): Promise<void> {
    await this.run(() => this.redis.eval(RELEASE_SCRIPT, 1, this.prefix + key, IN_FLIGHT_PREFIX + token));
  }

  async close(): Promise<void> {
    if (!this.ownsClient) return;
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }

  private async run<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      throw new HousekeeperError("unavailable", `the idempotency store (Redis) failed: ${redisReason(error)}`, {
        cause: error,
      });
    }
  }
}

function ttl(ms: number): number {
  return Math.max(1, Math.ceil(ms));
}

/** The error's message without anything that could hold credentials (ioredis messages name host:port at most). */
export function redisReason(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.replace(/\/\/[^@\s]*@/g, "//***@");
}
