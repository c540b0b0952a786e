/**
 * SchedulerStore over the `etcd3` package: the Dapr Scheduler's embedded etcd (or any etcd holding its keys).
 *
 * Reads go through the raw KV RPCs so that paging is explicit: each page is a Range request with `limit`, starting
 * just after the previous page's last key, pinned to the snapshot's `revision`. Dapr's Scheduler keeps 1,000,000
 * revisions of history by default (`--etcd-compaction-retention`), so a snapshot outlives any export; if it is
 * compacted away anyway, the read fails with a message saying so rather than mixing two points in time.
 */
import { rootCertificates } from "node:tls";
import type { Client as GrpcClient, Metadata as GrpcMetadata, ServiceError } from "@grpc/grpc-js";
import type { ICallable, IOptions } from "etcd3";
import { castGrpcError, Etcd3 } from "etcd3";
import { HousekeeperError, withoutEmptyGrpcNote } from "../errors.ts";
import { networkTimeouts } from "../util/timeouts.ts";
import { DEFAULT_ETCD_ENDPOINT, parseEndpoints, pemProblem } from "./etcd-endpoints.ts";
import { decodeRangeResponse, encodeRangeRequest } from "./etcd-range.ts";
import { DAPR_ROOT } from "./keys.ts";
import type {
  KeyRange,
  PrefixRead,
  PutOptions,
  RangeRead,
  ScanOptions,
  SchedulerSnapshot,
  SchedulerStore,
  StoredEntry,
} from "./store.ts";
import { DEFAULT_PAGE_BYTES, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, MAX_TXN_OPS } from "./store.ts";

export { DEFAULT_ETCD_ENDPOINT, parseEndpoints, pemProblem } from "./etcd-endpoints.ts";

const DAPR_ROOT_BYTES = Buffer.from(DAPR_ROOT);

export interface EtcdTlsOptions {
  /** PEM of the CA that signed etcd's server certificate (default: Node's bundled root CAs). */
  ca?: Buffer | string;
  /** PEM client certificate and key, for etcd's client-certificate auth. */
  cert?: Buffer | string;
  key?: Buffer | string;
}

export interface EtcdStoreOptions {
  /** `host:port`, `http://host:port` or `https://host:port` (default 127.0.0.1:2379). */
  endpoints?: readonly string[];
  /** TLS; implied by an `https://` endpoint. */
  tls?: EtcdTlsOptions;
  /** Where Dapr's `dapr/` root lives in this etcd (default `dapr/`); tests use a private prefix. */
  root?: string;
  /** Deadline of each etcd call (default: the request timeout, shared/util/timeouts.ts). */
  timeoutMs?: number;
  /** Deadline of calls until etcd first answers (default: the connect timeout); gRPC has no connect timeout. */
  connectTimeoutMs?: number;
}

/**
 * etcd3's default global policy retries every recoverable error three times, deadlines included, so a frozen etcd
 * took three deadlines to fail. Calls go straight through instead (etcd3 still tries each endpoint once); the
 * command or function is what is re-run.
 */
const NO_RETRY = {
  execute: <T>(fn: (context: { signal: AbortSignal }) => PromiseLike<T> | T): Promise<T> =>
    Promise.resolve().then(() => fn({ signal: new AbortController().signal })),
} as unknown as NonNullable<NonNullable<IOptions["faultHandling"]>["global"]>;

function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]); // all 0xff: to the end of the keyspace
}

/** Maps etcd/gRPC failures to one clear HousekeeperError. */
export function etcdError(error: unknown, endpoints: readonly string[], doing: string): HousekeeperError {
  if (error instanceof HousekeeperError) return error;
  const message = withoutEmptyGrpcNote(error instanceof Error ? error.message : String(error));
  const name = error instanceof Error ? error.constructor.name : "";
  const where = endpoints.join(",");
  if (/compacted/i.test(message)) {
    return new HousekeeperError(
      "store-error",
      `etcd at ${where} compacted the revision this read was pinned to while ${doing}; run it again`,
      { cause: error },
    );
  }
  if (/Unavailable|DeadlineExceeded|ConnectFailed/.test(name) || /ECONNREFUSED|UNAVAILABLE|DEADLINE/i.test(message)) {
    const detail = /DeadlineExceeded/.test(name) || /DEADLINE/i.test(message) ? "no answer in time" : message;
    return new HousekeeperError(
      "unavailable",
      `cannot reach etcd at ${where} while ${doing}: ${detail}; check the endpoint and that etcd is running there`,
      { cause: error },
    );
  }
  if (/Unauthenticated|PermissionDenied|InvalidAuthToken|AuthenticationFailed/.test(name)) {
    return new HousekeeperError("unauthorized", `etcd at ${where} refused access while ${doing}: ${message}`, {
      cause: error,
    });
  }
  return new HousekeeperError("store-error", `etcd at ${where} failed while ${doing}: ${message}`, { cause: error });
}

export class EtcdSchedulerStore implements SchedulerStore {
  readonly root: string;
  private readonly client: Etcd3;
  private readonly endpoints: readonly string[];
  private readonly rootBytes: Buffer;
  /** etcd has answered a call (from then on, calls get the request timeout). */
  private answered = false;
  private readonly timeoutMs: number;
  private readonly connectTimeoutMs: number;

  constructor(options: EtcdStoreOptions = {}) {
    const endpoints = parseEndpoints(options.endpoints ?? [DEFAULT_ETCD_ENDPOINT]);
    this.root = options.root ?? DAPR_ROOT;
    if (this.root === "" || !this.root.endsWith("/")) {
      throw new HousekeeperError("bad-input", `scheduler root must end in "/", got "${this.root}"`);
    }
    this.rootBytes = Buffer.from(this.root, "utf8");
    this.endpoints = endpoints.hosts;
    const timeouts = networkTimeouts();
    const timeoutMs = options.timeoutMs ?? timeouts.requestMs;
    const connectTimeoutMs = Math.min(options.connectTimeoutMs ?? timeouts.connectMs, timeoutMs);
    this.timeoutMs = timeoutMs;
    this.connectTimeoutMs = connectTimeoutMs;
    const etcdOptions: IOptions = {
      hosts: endpoints.hosts,
      // Pages of large values can exceed gRPC's 4 MiB default; the page size bounds them instead.
      grpcOptions: { "grpc.max_receive_message_length": -1, "grpc.max_send_message_length": -1 },
      // Until etcd first answers, a call waits only the connect timeout: a silent peer fails fast.
      defaultCallOptions: () => ({ deadline: Date.now() + (this.answered ? timeoutMs : connectTimeoutMs) }),
      faultHandling: { global: NO_RETRY },
    };
    const tls = options.tls;
    if (endpoints.tls || tls?.ca !== undefined || tls?.cert !== undefined || tls?.key !== undefined) {
      if ((tls?.cert === undefined) !== (tls?.key === undefined)) {
        throw new HousekeeperError("bad-input", "an etcd client certificate needs its key, and a key its certificate");
      }
      for (const [what, pem, kind] of [
        ["CA certificate", tls?.ca, "certificate"],
        ["client certificate", tls?.cert, "certificate"],
        ["client key", tls?.key, "key"],
      ] as const) {
        const problem = pem === undefined ? undefined : pemProblem(pem, kind);
        if (problem) throw new HousekeeperError("bad-input", `the etcd ${what} ${problem}`);
      }
      etcdOptions.credentials = {
        rootCertificate: toBuffer(tls?.ca) ?? Buffer.from(rootCertificates.join("\n")),
        ...(tls?.key !== undefined ? { privateKey: toBuffer(tls.key)! } : {}),
        ...(tls?.cert !== undefined ? { certChain: toBuffer(tls.cert)! } : {}),
      };
    }
    this.client = new Etcd3(etcdOptions);
  }

  /** Canonical `dapr/…` key → key in this etcd. */
  physicalKey(key: string): Buffer {
    if (!key.startsWith(DAPR_ROOT)) {
      throw new HousekeeperError("bad-input", `scheduler key "${key}" does not start with "${DAPR_ROOT}"`);
    }
    return Buffer.concat([this.rootBytes, Buffer.from(key.slice(DAPR_ROOT.length), "utf8")]);
  }

  private canonicalKey(physical: Buffer): string {
    return DAPR_ROOT + physical.subarray(this.rootBytes.length).toString("utf8");
  }

  /** The deadline the client's defaultCallOptions give a call now (see the constructor). */
  private deadline(): number {
    return Date.now() + (this.answered ? this.timeoutMs : this.connectTimeoutMs);
  }

  private async call<T>(doing: string, fn: () => Promise<T>): Promise<T> {
    try {
      const result = await fn();
      this.answered = true;
      return result;
    } catch (error) {
      throw etcdError(error, this.endpoints, doing);
    }
  }

  async snapshot(): Promise<SchedulerSnapshot> {
    const response = await this.call("reading the current revision", () =>
      this.client.kv.range({ key: this.rootBytes, keys_only: true, limit: 1 }),
    );
    return new EtcdSnapshot(this, response.header.revision);
  }

  /** @internal one Range page. */
  async rangePage(start: Buffer, end: Buffer, limit: number, revision: string): Promise<Page> {
    const pool = (this.client.kv as unknown as { client?: Partial<ICallable<unknown>> }).client;
    const response = await this.call(`reading keys under ${this.root}`, () =>
      typeof pool?.withConnection === "function"
        ? pool.withConnection("KV", ({ client, metadata }) =>
            rawRange(client, metadata, this.deadline(), start, end, limit, revision),
          )
        : this.client.kv.range({ key: start, range_end: end, limit, revision }),
    );
    const kvs = response.kvs ?? [];
    const sameRoot = this.root === DAPR_ROOT;
    const entries = kvs.map((kv) => ({
      key: this.canonicalKey(kv.key),
      value: kv.value as Uint8Array,
      keyBytes: sameRoot ? kv.key : Buffer.concat([DAPR_ROOT_BYTES, kv.key.subarray(this.rootBytes.length)]),
    }));
    const last = kvs[kvs.length - 1]?.key;
    return { entries, more: Boolean(response.more), ...(last ? { lastKey: last } : {}) };
  }

  /** @internal values of single keys, one revision. */
  async getAt(keys: readonly string[], revision: string | undefined): Promise<Map<string, Uint8Array>> {
    const out = new Map<string, Uint8Array>();
    for (let i = 0; i < keys.length; i += MAX_TXN_OPS) {
      const chunk = keys.slice(i, i + MAX_TXN_OPS);
      const response = await this.call("reading keys", () =>
        this.client.kv.txn({
          success: chunk.map((k) => ({
            request_range: { key: this.physicalKey(k), ...(revision !== undefined ? { revision } : {}) },
          })),
        }),
      );
      // Later chunks read at the first chunk's revision, so the whole answer is one point in time.
      revision ??= response.header.revision;
      response.responses.forEach((r, index) => {
        const kv = r.response_range?.kvs?.[0];
        if (kv) out.set(chunk[index]!, kv.value as Uint8Array);
      });
    }
    return out;
  }

  get(keys: readonly string[]): Promise<Map<string, Uint8Array>> {
    return this.getAt(keys, undefined);
  }

  async deleteKeys(keys: readonly string[]): Promise<string[]> {
    if (keys.length === 0) return [];
    checkOps(keys.length);
    const response = await this.call("deleting keys", () =>
      this.client.kv.txn({ success: keys.map((k) => ({ request_delete_range: { key: this.physicalKey(k) } })) }),
    );
    return keys.filter((_, i) => Number(response.responses[i]?.response_delete_range?.deleted ?? 0) > 0);
  }

  async deleteIfUnchanged(expected: readonly StoredEntry[], alsoDelete: readonly string[] = []): Promise<boolean> {
    if (expected.length === 0) return true;
    checkOps(expected.length + alsoDelete.length);
    const response = await this.call("deleting keys", () =>
      this.client.kv.txn({
        compare: expected.map((e) => ({
          key: this.physicalKey(e.key),
          target: "Value",
          result: "Equal",
          value: Buffer.from(e.value.buffer, e.value.byteOffset, e.value.byteLength),
        })),
        success: [...expected.map((e) => e.key), ...alsoDelete].map((k) => ({
          request_delete_range: { key: this.physicalKey(k) },
        })),
      }),
    );
    return response.succeeded;
  }

  async readPrefixes(prefixes: readonly string[], options: { revision?: string } = {}): Promise<PrefixRead> {
    if (prefixes.length === 0) return { revision: options.revision ?? "0", entries: [] };
    checkOps(prefixes.length);
    const response = await this.call("reading keys", () =>
      this.client.kv.txn({
        success: prefixes.map((p) => {
          const key = this.physicalKey(p);
          return {
            request_range: {
              key,
              range_end: prefixEnd(key),
              ...(options.revision ? { revision: options.revision } : {}),
            },
          };
        }),
      }),
    );
    return {
      revision: options.revision ?? response.header.revision,
      entries: prefixes.map((_, i) =>
        (response.responses[i]?.response_range?.kvs ?? []).map((kv) => ({
          key: this.canonicalKey(kv.key),
          value: kv.value,
        })),
      ),
    };
  }

  async readRanges(ranges: readonly KeyRange[], options: { revision?: string; limit: number }): Promise<RangeRead> {
    if (ranges.length === 0) return { revision: options.revision ?? "0", entries: [], truncated: [] };
    checkOps(ranges.length);
    const response = await this.call("reading keys", () =>
      this.client.kv.txn({
        success: ranges.map((r) => ({
          request_range: {
            key: this.physicalKey(r.from),
            range_end: prefixEnd(this.physicalKey(r.through)),
            limit: options.limit,
            ...(options.revision ? { revision: options.revision } : {}),
          },
        })),
      }),
    );
    const results = ranges.map((_, i) => response.responses[i]?.response_range);
    return {
      revision: options.revision ?? response.header.revision,
      entries: results.map((r) => (r?.kvs ?? []).map((kv) => ({ key: this.canonicalKey(kv.key), value: kv.value }))),
      truncated: results.map((r) => r?.more === true),
    };
  }

  async deletePrefixes(prefixes: readonly string[]): Promise<string[][]> {
    if (prefixes.length === 0) return [];
    checkOps(prefixes.length);
    const response = await this.call("deleting keys", () =>
      this.client.kv.txn({
        success: prefixes.map((p) => {
          const key = this.physicalKey(p);
          return { request_delete_range: { key, range_end: prefixEnd(key), prev_kv: true } };
        }),
      }),
    );
    return prefixes.map((_, i) =>
      (response.responses[i]?.response_delete_range?.prev_kvs ?? []).map((kv) => this.canonicalKey(kv.key)),
    );
  }

  async put(entries: readonly StoredEntry[], options: PutOptions = {}): Promise<boolean> {
    if (entries.length === 0) return true;
    checkOps(entries.length);
    const response = await this.call("writing keys", () =>
      this.client.kv.txn({
        compare: options.ifAbsent
          ? entries.map((e) => ({
              key: this.physicalKey(e.key),
              target: "Create",
              result: "Equal",
              create_revision: 0,
            }))
          : [],
        success: entries.map((e) => ({
          request_put: {
            key: this.physicalKey(e.key),
            value: Buffer.from(e.value.buffer, e.value.byteOffset, e.value.byteLength),
          },
        })),
      }),
    );
    return response.succeeded;
  }

  async close(): Promise<void> {
    this.client.close();
  }
}

interface Page {
  entries: StoredEntry[];
  more: boolean;
  lastKey?: Buffer;
}

class EtcdSnapshot implements SchedulerSnapshot {
  constructor(
    private readonly store: EtcdSchedulerStore,
    readonly revision: string,
  ) {}

  async *scan(prefix: string, options: ScanOptions = {}): AsyncGenerator<StoredEntry[], void, undefined> {
    const fixed = options.pageSize === undefined ? undefined : Math.max(1, options.pageSize);
    let pageSize = fixed ?? DEFAULT_PAGE_SIZE;
    let seenKeys = 0;
    let seenBytes = 0;
    const start = this.store.physicalKey(prefix);
    const end = prefixEnd(start);
    let from = options.after === undefined ? start : afterKey(this.store.physicalKey(options.after));
    if (Buffer.compare(from, start) < 0) from = start;
    // The next page is requested before this one is handed out, so etcd works while the consumer does.
    let next: Promise<Page> | undefined = this.store.rangePage(from, end, pageSize, this.revision);
    while (next !== undefined) {
      const page: Page = await next;
      next = undefined;
      if (page.more && page.lastKey !== undefined) {
        if (fixed === undefined) {
          for (const e of page.entries) seenBytes += e.key.length + e.value.length + 32;
          seenKeys += page.entries.length;
          pageSize = Math.max(100, Math.min(MAX_PAGE_SIZE, Math.floor(DEFAULT_PAGE_BYTES / (seenBytes / seenKeys))));
        }
        next = this.store.rangePage(afterKey(page.lastKey), end, pageSize, this.revision);
        // If the consumer stops early, nobody awaits the prefetch: keep its failure from going unhandled.
        next.catch(() => undefined);
      }
      if (page.entries.length > 0) yield page.entries;
    }
  }

  get(keys: readonly string[]): Promise<Map<string, Uint8Array>> {
    return this.store.getAt(keys, this.revision);
  }
}

/** The smallest key after `key`: key + 0x00. */
function afterKey(key: Buffer): Buffer {
  return Buffer.concat([key, Buffer.from([0])]);
}

/**
 * KV.Range through the client's own connection (TLS, channel, failover as configured), with our codec
 * (shared/scheduler/etcd-range.ts) instead of the generic decoder: only keys, values and `more`.
 */
function rawRange(
  client: GrpcClient,
  metadata: GrpcMetadata,
  deadline: number,
  key: Buffer,
  rangeEnd: Buffer,
  limit: number,
  revision: string,
): Promise<{ kvs: Array<{ key: Buffer; value: Buffer }>; more: boolean }> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      "/etcdserverpb.KV/Range",
      (request: Buffer) => request,
      decodeRangeResponse,
      encodeRangeRequest({ key, rangeEnd, limit, revision }),
      metadata,
      { deadline },
      (error: ServiceError | null, response?: { kvs: Array<{ key: Buffer; value: Buffer }>; more: boolean }) => {
        if (error || !response) reject(castGrpcError(error ?? new Error("etcd Range: no response")));
        else resolve(response);
      },
    );
  });
}

function checkOps(count: number): void {
  if (count > MAX_TXN_OPS) {
    throw new HousekeeperError(
      "bad-input",
      `an etcd transaction takes at most ${MAX_TXN_OPS} operations, got ${count}`,
    );
  }
}

function toBuffer(value: Buffer | string | undefined): Buffer | undefined {
  if (value === undefined) return undefined;
  return typeof value === "string" ? Buffer.from(value) : value;
}

/** Opens the store; the connection itself is made lazily by the first call. */
export function openEtcdSchedulerStore(options: EtcdStoreOptions = {}): EtcdSchedulerStore {
  return new EtcdSchedulerStore(options);
}
