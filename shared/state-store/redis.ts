/**
 * Redis adapter for Dapr's `state.redis` component (components-contrib state/redis/redis.go).
 *
 * Dapr keeps every state key as a Redis HASH named by the key itself (actor keys carry no extra prefix):
 *   field `data`        the value's raw bytes,
 *   field `version`     the ETag, an integer bumped with HINCRBY on every write (1 after the first),
 *   field `first-write` present only when the key was written with first-write concurrency.
 * Expiry is Redis's own (EXPIRE), so an expired key is simply gone.
 *
 * Listing uses SCAN, whose guarantees are weaker than a SQL keyset scan; see scanKeys.
 */
import { Redis, type RedisOptions } from "ioredis";
import { errorMessage, HousekeeperError } from "../errors.ts";
import { networkTimeouts } from "../util/timeouts.ts";
import type { GuardedDeletion, GuardedGroup, KeyPage, ReadResult, ScanKeysRequest, StateBackend } from "./backend.ts";
import { guardKeys, planGuardedDeletion } from "./backend.ts";
import { whatToCheck } from "./connect-hint.ts";

export interface RedisBackendOptions {
  /** `redis://[user:password@]host[:port][/db]` or `rediss://…` (TLS). */
  url: string;
  /**
   * Called for a key that exists but cannot be read as Dapr state (e.g. it is a string or a list, not a hash:
   * WRONGTYPE). getMany reports it absent instead of failing the whole read.
   */
  onUnreadable?: (key: string, reason: string) => void;
  /** Extra ioredis options (e.g. `tls` settings for rediss://); URL parts win over these. */
  redisOptions?: RedisOptions;
}

/** Keys per pipeline / DEL command. */
const CHUNK = 500;

/** Connects and pings, so a wrong address or password fails here with a clear message. */
export async function openRedisBackend(options: RedisBackendOptions): Promise<RedisStateBackend> {
  const backend = new RedisStateBackend(options);
  try {
    await backend.ping();
    return backend;
  } catch (error) {
    await backend.close().catch(() => {});
    throw error;
  }
}

export class RedisStateBackend implements StateBackend {
  readonly kind = "redis" as const;
  readonly location: string;
  private readonly client: Redis;
  private readonly onUnreadable: ((key: string, reason: string) => void) | undefined;
  private lastConnectionError: Error | undefined;
  /** A refused connection setup step (SELECT of the database): every later command fails with it. */
  private setupError: HousekeeperError | undefined;
  private readonly db: number;
  /** WATCH holds per connection: guarded deletions get a connection of their own, one at a time. */
  private watchClient: Redis | undefined;
  private watchQueue: Promise<unknown> = Promise.resolve();
  private readonly requestTimeoutMs: number;

  /** Does not connect yet (the first command does); openRedisBackend() also checks the connection. */
  constructor(options: RedisBackendOptions) {
    const parsed = parseRedisUrl(options.url);
    this.location = parsed.location;
    this.db = parsed.options.db ?? 0;
    this.onUnreadable = options.onUnreadable;
    const extra = options.redisOptions ?? {};
    const timeouts = networkTimeouts();
    this.requestTimeoutMs = options.redisOptions?.commandTimeout ?? timeouts.requestMs;
    this.client = new Redis({
      connectTimeout: timeouts.connectMs,
      // connectTimeout ends at the TCP connection: until the first answer (ping()), a command gets the connect
      // timeout, so a peer that accepts TCP and never answers fails as fast as one that refuses.
      commandTimeout: timeouts.connectMs,
      ...extra,
      ...parsed.options,
      // rediss:// turns TLS on; settings such as a CA from redisOptions.tls still apply.
      ...(parsed.options.tls ? { tls: { ...parsed.options.tls, ...extra.tls } } : {}),
      lazyConnect: true,
      // A command fails after two reconnection attempts instead of waiting for the server indefinitely.
      maxRetriesPerRequest: 2,
      retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
    });
    // Without a listener ioredis prints every connection error; the failing command reports it instead.
    this.client.on("error", (error: Error) => this.onConnectionError(this.client, error));
  }

  private onConnectionError(client: Redis, error: Error): void {
    this.lastConnectionError = error;
    // ioredis reports a refused SELECT (on connect or reconnect) only here and then carries on in database 0:
    // never let a command run against a database the user did not name.
    if (isSelectRefusal(error)) {
      this.setupError ??= this.databaseRefused(error);
      client.disconnect();
    }
  }

  /**
   * Checks the connection and the database: ioredis sends SELECT on connect but ignores a refusal (e.g. `/99` on a
   * server with 16 databases), so the database is selected here explicitly and a refusal fails the open.
   */
  async ping(): Promise<void> {
    try {
      await this.call("connect", () => this.client.ping());
      if (this.db !== 0) await this.client.select(this.db);
    } catch (error) {
      if (this.setupError) throw this.setupError;
      if (error instanceof Error && isSelectRefusal(error)) this.setupError = this.databaseRefused(error);
      throw this.setupError ?? error;
    }
    if (this.setupError) throw this.setupError;
    // ioredis reads this option per command: from now on each command gets the request timeout.
    this.client.options.commandTimeout = this.requestTimeoutMs;
  }

  private databaseRefused(error: unknown): HousekeeperError {
    return new HousekeeperError(
      "bad-connection-string",
      `Redis on ${this.location} refused database ${this.db}: ${errorMessage(error)} (the server's \`databases\` setting bounds the number in the URL's path)`,
      { cause: error },
    );
  }

  /**
   * SCAN-based listing. What holds (Redis SCAN guarantees): every key that matches and exists for the whole scan is
   * returned at least once; keys created or deleted during the scan may or may not be; a page never holds a key
   * twice, but a key may appear in two pages (when Redis resizes its hash table between calls). Deleting keys that
   * were already returned does not make the scan miss others. Callers must tolerate repeats across pages.
   *
   * A SCAN call may find nothing while the scan is not over (sparse matches); this keeps calling SCAN until it has
   * pageSize keys or the scan ends, so a non-final page is never empty. A page can exceed pageSize by up to one SCAN
   * batch (a batch cannot be split without losing the keys after the split).
   */
  async scanKeys({ prefix, suffix, pageSize, cursor }: ScanKeysRequest): Promise<KeyPage> {
    if (!Number.isSafeInteger(pageSize) || pageSize < 1) {
      throw new HousekeeperError("bad-input", `page size must be a positive integer, got ${pageSize}`);
    }
    if (cursor !== undefined && !/^\d+$/.test(cursor)) {
      throw new HousekeeperError("bad-input", `invalid Redis scan cursor ${JSON.stringify(cursor)}`);
    }
    const match = `${escapeRedisGlob(prefix)}*${escapeRedisGlob(suffix)}`;
    const minLength = prefix.length + suffix.length;
    const found = new Set<string>();
    let position = cursor ?? "0";
    do {
      const [next, batch] = await this.call("SCAN", () =>
        this.client.scan(position, "MATCH", match, "COUNT", Math.min(pageSize, 10_000)),
      );
      position = next;
      for (const key of batch) {
        // The glob already matched literally; this only guards against keys that are not valid UTF-8 and were
        // decoded lossily.
        if (key.length >= minLength && key.startsWith(prefix) && key.endsWith(suffix)) found.add(key);
      }
    } while (position !== "0" && found.size < pageSize);
    return { keys: [...found], cursor: position === "0" ? undefined : position };
  }

  async getMany(keys: readonly string[]): Promise<Map<string, Uint8Array>> {
    const { values, unreadable } = await this.getManyReporting(keys);
    for (const [key, reason] of unreadable) this.onUnreadable?.(key, reason);
    return values;
  }

  /** getMany, naming the keys that exist but are not a Dapr state hash (WRONGTYPE) instead of failing the read. */
  async getManyReporting(keys: readonly string[]): Promise<ReadResult> {
    const unique = [...new Set(keys)];
    const values = new Map<string, Uint8Array>();
    const unreadable = new Map<string, string>();
    for (let i = 0; i < unique.length; i += CHUNK) {
      const chunk = unique.slice(i, i + CHUNK);
      const pipeline = this.client.pipeline();
      for (const key of chunk) pipeline.hgetBuffer(key, "data");
      const results = await this.call("HGET pipeline", () => pipeline.exec());
      if (!results) throw this.storeError("HGET pipeline", new Error("pipeline returned no results"));
      chunk.forEach((key, n) => {
        const [error, value] = results[n] ?? [new Error("missing pipeline reply"), null];
        if (error) {
          if (isWrongType(error)) {
            unreadable.set(key, `not a Dapr state hash: ${error.message}`);
            return;
          }
          throw this.storeError(`HGET ${key}`, error);
        }
        // A missing key, or a hash without `data`, reads as absent.
        if (Buffer.isBuffer(value)) values.set(key, value);
      });
    }
    return { values, unreadable };
  }

  /**
   * MULTI/EXEC of `HSET key data <bytes>` + `HINCRBY key version 1` per entry, as Dapr's set script does. Redis does
   * not roll back: if one command fails at EXEC (e.g. the key holds a non-hash), the others still apply.
   */
  async setMany(entries: ReadonlyArray<readonly [string, Uint8Array]>): Promise<void> {
    if (entries.length === 0) return;
    const multi = this.client.multi();
    for (const [key, value] of entries) {
      multi.hset(key, "data", Buffer.from(value.buffer, value.byteOffset, value.byteLength));
      multi.hincrby(key, "version", 1);
    }
    const results = await this.call("MULTI/EXEC", () => multi.exec());
    if (!results) throw this.storeError("MULTI/EXEC", new Error("transaction aborted"));
    results.forEach(([error], n) => {
      if (error) {
        const key = entries[Math.floor(n / 2)]?.[0] ?? "?";
        throw this.storeError(`write of ${JSON.stringify(key)} (other writes of this batch were applied)`, error);
      }
    });
  }

  async deleteMany(keys: readonly string[]): Promise<number> {
    const unique = [...new Set(keys)];
    if (unique.length === 0) return 0;
    const multi = this.client.multi();
    for (let i = 0; i < unique.length; i += CHUNK) multi.del(...unique.slice(i, i + CHUNK));
    const results = await this.call("MULTI/EXEC", () => multi.exec());
    if (!results) throw this.storeError("MULTI/EXEC", new Error("transaction aborted"));
    let deleted = 0;
    for (const [error, count] of results) {
      if (error) throw this.storeError("DEL", error);
      deleted += Number(count);
    }
    return deleted;
  }

  /**
   * WATCH the guard keys, read them, decide, then MULTI/EXEC the deletions: EXEC does nothing if a watched key was
   * written in between (Redis optimistic locking), and the decision is made again on the new values.
   */
  deleteIfUnchanged(groups: readonly GuardedGroup[]): Promise<GuardedDeletion> {
    if (groups.length === 0) return Promise.resolve({ outcomes: [], keysDeleted: 0 });
    const run = this.watchQueue.then(() => this.deleteIfUnchangedOnce(groups));
    this.watchQueue = run.catch(() => {});
    return run;
  }

  private async deleteIfUnchangedOnce(groups: readonly GuardedGroup[]): Promise<GuardedDeletion> {
    if (!this.watchClient) {
      const client = this.client.duplicate();
      client.on("error", (error: Error) => this.onConnectionError(client, error));
      this.watchClient = client;
    }
    const client = this.watchClient;
    const guards = guardKeys(groups);
    for (let attempt = 1; attempt <= 10; attempt++) {
      await this.call("WATCH", () => client.watch(...guards));
      try {
        const pipeline = client.pipeline();
        for (const key of guards) pipeline.hgetBuffer(key, "data");
        const replies = (await this.call("HGET pipeline", () => pipeline.exec())) ?? [];
        const current = new Map<string, Uint8Array>();
        guards.forEach((key, n) => {
          const [error, value] = replies[n] ?? [new Error("missing pipeline reply"), null];
          if (error && !isWrongType(error)) throw this.storeError(`HGET ${key}`, error);
          // A key that is no longer a hash has changed; it can never equal the decided bytes.
          if (error) current.set(key, new Uint8Array([0xff, 0xff]));
          else if (Buffer.isBuffer(value)) current.set(key, value);
        });
        const plan = planGuardedDeletion(groups, current);
        if (plan.keys.length === 0) {
          await client.unwatch();
          return { outcomes: plan.outcomes, keysDeleted: 0 };
        }
        const multi = client.multi();
        for (let i = 0; i < plan.keys.length; i += CHUNK) multi.del(...plan.keys.slice(i, i + CHUNK));
        const results = await this.call("MULTI/EXEC", () => multi.exec());
        if (results === null) continue; // a watched key changed after it was read: decide again
        let keysDeleted = 0;
        for (const [error, count] of results) {
          if (error) throw this.storeError("DEL", error);
          keysDeleted += Number(count);
        }
        return { outcomes: plan.outcomes, keysDeleted };
      } catch (error) {
        await client.unwatch().catch(() => {});
        throw error;
      }
    }
    throw new HousekeeperError(
      "store-error",
      `Redis on ${this.location}: the instances kept changing while being purged`,
    );
  }

  async close(): Promise<void> {
    await Promise.all([this.client, this.watchClient].map((client) => (client ? closeClient(client) : undefined)));
  }

  private async call<T>(what: string, command: () => Promise<T>): Promise<T> {
    if (this.setupError) throw this.setupError;
    try {
      return await command();
    } catch (error) {
      if (error instanceof HousekeeperError) throw error;
      throw this.storeError(what, error);
    }
  }

  private storeError(what: string, error: unknown): HousekeeperError {
    const cause = this.lastConnectionError && isConnectionClosed(error) ? this.lastConnectionError : error;
    const check = what === "connect" ? whatToCheck(cause, "Redis") : "";
    return new HousekeeperError(
      "store-error",
      `Redis ${what} on ${this.location} failed: ${errorMessage(cause)}${check}`,
      {
        cause: error,
      },
    );
  }
}

async function closeClient(client: Redis): Promise<void> {
  if (client.status === "end" || client.status === "wait") {
    client.disconnect();
    return;
  }
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
}

function isWrongType(error: Error): boolean {
  return error.message.startsWith("WRONGTYPE");
}

function isSelectRefusal(error: Error): boolean {
  const command = (error as Error & { command?: { name?: string } }).command;
  return command?.name === "select" || /DB index is out of range/i.test(error.message);
}

function isConnectionClosed(error: unknown): boolean {
  return error instanceof Error && /connection is closed|max retries per request/i.test(error.message);
}

/** Escapes Redis glob metacharacters (`* ? [ ] \`) so `literal` matches only itself in SCAN MATCH. */
export function escapeRedisGlob(literal: string): string {
  return literal.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/** Parses `redis://` / `rediss://` URLs into ioredis options and a description without secrets. */
export function parseRedisUrl(url: string): { options: RedisOptions; location: string } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw badUrl("not a URL");
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    throw badUrl(`scheme must be redis:// or rediss://, not ${parsed.protocol}//`);
  }
  if (!parsed.hostname) throw badUrl("no host");
  const path = parsed.pathname.replace(/^\/+|\/+$/g, "");
  if (path !== "" && !/^\d+$/.test(path)) throw badUrl(`database must be a number, got "/${path}"`);
  const db = path === "" ? 0 : Number(path);
  const port = parsed.port ? Number(parsed.port) : 6379;
  const host = parsed.hostname.replace(/^\[|\]$/g, "");
  const options: RedisOptions = { host, port, db };
  if (parsed.username) options.username = decodeURIComponent(parsed.username);
  if (parsed.password) options.password = decodeURIComponent(parsed.password);
  if (parsed.protocol === "rediss:") options.tls = {};
  return { options, location: `${parsed.protocol}//${parsed.host} db ${db}` };
}

function badUrl(reason: string): HousekeeperError {
  return new HousekeeperError(
    "bad-connection-string",
    `invalid Redis URL (${reason}); expected redis://[user:password@]host[:port][/db] or rediss://…`,
  );
}
