/**
 * The idempotency store: what keeps a redelivered webhook from acting twice. One key per action (see job.ts: a start
 * is keyed by its instance ID, an event by its route and delivery ID), in three states:
 *
 *   absent ──claim──▶ in-flight (short TTL, owned by a token) ──complete──▶ done (instance ID, long TTL)
 *                          │
 *                          └──release (failure: the sidecar did not accept) ──▶ absent, so a retry can act
 *
 * A claim is atomic (Redis `SET NX PX`, a DynamoDB conditional put), so of two concurrent deliveries exactly one acts; the other sees in-flight
 * and is told to retry. If the process dies while in flight, the marker expires and the next delivery acts. The done
 * record is written only after the sidecar accepted, and it expires (TTL) so the store stays bounded.
 *
 * Adapters: MemoryIdempotencyStore (here; one process: `housekeeper webhook serve`), RedisIdempotencyStore
 * (redis-idempotency.ts) and DynamoDbIdempotencyStore (dynamodb-idempotency.ts; the stack's default in AWS). Which
 * one a process uses: open-idempotency.ts.
 */
import { randomUUID } from "node:crypto";

export type ClaimResult =
  | { status: "claimed"; token: string }
  | { status: "done"; instanceId: string }
  | { status: "in-flight" };

export interface IdempotencyStore {
  /** Atomically claims the key for `inFlightMs`, or says what already holds it. */
  claim(key: string, inFlightMs: number): Promise<ClaimResult>;
  /** Records the action as done (after the sidecar accepted it), for `ttlMs`. */
  complete(key: string, token: string, instanceId: string, ttlMs: number): Promise<void>;
  /** Drops the claim if this token still owns it (the action failed; a redelivery may try again). */
  release(key: string, token: string): Promise<void>;
  /** Connects and checks the store now, so a server can refuse to start on a bad one (optional: stores open lazily). */
  ready?(): Promise<void>;
  close(): Promise<void>;
}

/** Stored values, shared by the adapters: `inflight:<token>` or `done:<instanceId>`. */
export const IN_FLIGHT_PREFIX = "inflight:";
export const DONE_PREFIX = "done:";

export function claimFromValue(value: string | null | undefined): ClaimResult | undefined {
  if (value === null || value === undefined) return undefined;
  if (value.startsWith(DONE_PREFIX)) return { status: "done", instanceId: value.slice(DONE_PREFIX.length) };
  return { status: "in-flight" };
}

export interface MemoryIdempotencyStoreOptions {
  /** Most keys kept; the least recently used go first (default 10,000). */
  maxEntries?: number;
  now?: () => number;
}

/** An in-process LRU with per-entry expiry: for one `webhook serve` process, not for several Lambda instances. */
export class MemoryIdempotencyStore implements IdempotencyStore {
  private readonly entries = new Map<string, { value: string; expiresAt: number }>();
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(options: MemoryIdempotencyStoreOptions = {}) {
    this.maxEntries = options.maxEntries ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  async claim(key: string, inFlightMs: number): Promise<ClaimResult> {
    const existing = claimFromValue(this.get(key));
    if (existing) return existing;
    const token = randomUUID();
    this.set(key, IN_FLIGHT_PREFIX + token, inFlightMs);
    return { status: "claimed", token };
  }

  async complete(key: string, _token: string, instanceId: string, ttlMs: number): Promise<void> {
    this.set(key, DONE_PREFIX + instanceId, ttlMs);
  }

  async release(key: string, token: string): Promise<void> {
    if (this.get(key) === IN_FLIGHT_PREFIX + token) this.entries.delete(key);
  }

  async close(): Promise<void> {
    this.entries.clear();
  }

  private get(key: string): string | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    // Re-insert: Map keeps insertion order, so the first key is always the least recently used.
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  private set(key: string, value: string, ttlMs: number): void {
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: this.now() + ttlMs });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }
}

/** A store opened on first use (e.g. once its connection URL, a secret reference, has been resolved). */
export function lazyIdempotencyStore(open: () => Promise<IdempotencyStore>): IdempotencyStore {
  let opening: Promise<IdempotencyStore> | undefined;
  const store = (): Promise<IdempotencyStore> => {
    opening ??= open().catch((error: unknown) => {
      opening = undefined; // try again on the next request
      throw error;
    });
    return opening;
  };
  return {
    claim: async (key, inFlightMs) => (await store()).claim(key, inFlightMs),
    complete: async (key, token, instanceId, ttlMs) => (await store()).complete(key, token, instanceId, ttlMs),
    release: async (key, token) => (await store()).release(key, token),
    ready: async () => {
      await (await store()).ready?.();
    },
    close: async () => {
      if (opening) await (await opening.catch(() => undefined))?.close();
    },
  };
}
