/**
 * The workflow view over any StateBackend: streams an app's instances in pages and reads one instance whole, decoding
 * Dapr's values and deriving what Dapr derives. Undecodable instances are reported (key + reason), never fatal.
 */
import { errorMessage } from "../errors.ts";
import type { FailureDetails, HistoryEvent, WorkflowStateMetadata } from "../workflow/history-event.ts";
import type { RuntimeStatus } from "../workflow/runtime-status.ts";
import { effectiveShard, inShard, type Shard } from "../workflow/shard.ts";
import type { GuardedGroup, GuardedOutcome, StateBackend } from "./backend.ts";
import {
  buildRecord,
  decodeBoundedMetadata,
  eventKeys,
  KeyedDecodeError,
  multiEntryKeyOf,
  oddInstanceId,
  readVersionOf,
  stateKeysOf,
  UnreadableInstanceError,
} from "./instance-decode.ts";
import type { AppRef } from "./keys.ts";
import {
  CUSTOM_STATUS_KEY,
  instanceKeyPrefix,
  KEY_SEPARATOR,
  METADATA_KEY,
  parseWorkflowKey,
  workflowKeyPrefix,
} from "./keys.ts";
import { instancesFromRows } from "./range-scan-page.ts";
import { keyPastHistory, readReporting, storedCountsProblem } from "./stored-counts.ts";

export { MAX_ENTRIES_PER_INSTANCE, UnreadableInstanceError } from "./instance-decode.ts";

export interface InstanceSummary {
  namespace: string;
  appId: string;
  instanceId: string;
  name: string;
  runtimeStatus: RuntimeStatus;
  createdAt: Date | undefined;
  lastUpdatedAt: Date | undefined;
  completedAt: Date | undefined;
  customStatus: string | undefined;
  failureMessage: string | undefined;
  parentInstanceId: string | undefined;
  /** The parent's app when it is not this one (a cross-app child workflow). */
  parentAppId: string | undefined;
  /** The child workflows it created, each in the app that hosts it (the event's router, else this app). */
  childWorkflows: ChildWorkflowRef[];
  isTerminal: boolean;
  metadata: WorkflowStateMetadata;
}

export interface ChildWorkflowRef {
  instanceId: string;
  appId: string;
}

/** An instance's events, in order. */
export interface InstanceEvents {
  history: HistoryEvent[];
  inbox: HistoryEvent[];
}

/** A summary with its events: what the stuck report analyses (a whole record, or the scan's analysis decoding). */
export interface InstanceWithEvents extends InstanceSummary, InstanceEvents {}

export interface InstanceRecord extends InstanceWithEvents {
  input: string | undefined;
  output: string | undefined;
  failureDetails: FailureDetails | undefined;
}

/** An instance whose state could not be decoded: named by its key and the reason, so an operator can look. */
export interface UnreadableInstance {
  instanceId: string;
  key: string;
  reason: string;
}

export interface InstancePage {
  instances: InstanceSummary[];
  unreadable: UnreadableInstance[];
  /** Pass back to continue after this page; undefined when the listing is complete. */
  cursor: string | undefined;
  /**
   * With ListOptions.withEvents on a store that range-scans: the events of the instances it chose, by instance ID,
   * decoded for analysis (lean-event.ts decodeAnalysisHistoryEvent: no inputs or results). Undefined otherwise.
   */
  events?: Map<string, InstanceEvents>;
}

export interface ListOptions {
  pageSize?: number;
  cursor?: string | undefined;
  /**
   * Only this shard of the app's instances (shared/workflow/shard.ts). The instance IDs come from a keys-only scan
   * and only the shard's instances are read, so a shard reads about 1/N of the values on every store. A cursor
   * belongs to the shard it was returned for.
   */
  shard?: Shard | undefined;
  /**
   * Which instances to return with their history and inbox (page.events), decided from each summary. Only where the
   * store range-scans (its rows arrive with their values, so this costs no second read); other stores ignore it and
   * callers read those instances themselves (readInstances).
   */
  withEvents?: (summary: InstanceSummary) => boolean;
}

const DEFAULT_PAGE_SIZE = 200;
/** Keys a sharded listing scans per page at most: N times the page size, so a page still holds about pageSize. */
const MAX_SHARD_SCAN_PAGE = 10_000;
/** Rows a range-scan page asks for per instance of the page size (an instance has a few to a few dozen rows). */
const ROWS_PER_INSTANCE = 10;

export class WorkflowStateStore {
  constructor(
    readonly backend: StateBackend,
    readonly app: AppRef,
  ) {}

  /** The same store, seen as another app's (cross-app child workflows live beside their parent's). */
  forApp(app: AppRef): WorkflowStateStore {
    return app.appId === this.app.appId && app.namespace === this.app.namespace
      ? this
      : new WorkflowStateStore(this.backend, app);
  }

  /**
   * Deletes each family (a workflow and the children purged with it, root first) in one transaction that first
   * checks, under lock, that every member is still exactly what this store read: an instance that gained an event or
   * was started again under the same ID since is never deleted ("changed"); a root deleted meanwhile is "gone".
   * Every member must come from this store's reads (listInstances, readSummaries, readInstances).
   */
  async deleteFamilies(
    families: ReadonlyArray<readonly InstanceSummary[]>,
  ): Promise<{ outcomes: GuardedOutcome[]; keysDeleted: number }> {
    const groups: GuardedGroup[] = families.map((family) =>
      family.map((member) => {
        const expect = readVersionOf(member);
        if (!expect) throw new Error(`instance ${member.instanceId} was not read by this store`);
        const app = { appId: member.appId, namespace: member.namespace };
        return { expect, keys: stateKeysOf(app, member.instanceId, member.metadata) };
      }),
    );
    return this.backend.deleteIfUnchanged(groups);
  }

  /**
   * Streams instance pages; memory is bounded by two pages of instances and their histories: while the caller works
   * on one page, the next one is already being read (one page of read-ahead hides the store's round trips).
   */
  async *listInstances(options: ListOptions = {}): AsyncGenerator<InstancePage> {
    const shard = effectiveShard(options.shard);
    // A range scan reads every row's value; a shard reads the keys and then only its own instances' values.
    if (this.backend.scanEntries && !shard) {
      yield* this.listByRangeScan(options);
      return;
    }
    const pageSize = shard
      ? Math.min(MAX_SHARD_SCAN_PAGE, (options.pageSize ?? DEFAULT_PAGE_SIZE) * shard.count)
      : (options.pageSize ?? DEFAULT_PAGE_SIZE);
    const seen = new Set<string>(); // Redis SCAN may return a key twice; other stores never do
    const readPage = async (cursor: string | undefined): Promise<InstancePage> => {
      const page = await this.backend.scanKeys({
        prefix: workflowKeyPrefix(this.app),
        suffix: `${KEY_SEPARATOR}${METADATA_KEY}`,
        pageSize,
        cursor,
      });
      const ids: string[] = [];
      const odd: UnreadableInstance[] = [];
      for (const key of page.keys) {
        const parsed = parseWorkflowKey(this.app, key);
        if (!parsed) {
          // An ID with `||` in it: named, never guessed at (as the range scan does), in the shard of the whole ID.
          const oddId = oddInstanceId(this.app, key);
          if (oddId && inShard(oddId.instanceId, shard) && !seen.has(oddId.instanceId)) {
            odd.push(oddId);
            if (this.backend.kind === "redis") seen.add(oddId.instanceId);
          }
          continue;
        }
        if (parsed.stateKey !== METADATA_KEY || seen.has(parsed.instanceId)) continue;
        if (!inShard(parsed.instanceId, shard)) continue;
        ids.push(parsed.instanceId);
        if (this.backend.kind === "redis") seen.add(parsed.instanceId);
      }
      const read = await this.readSummaries(ids);
      return { instances: read.instances, unreadable: [...odd, ...read.unreadable], cursor: page.cursor };
    };
    let next: Promise<InstancePage> | undefined = readPage(options.cursor);
    while (next) {
      const page: InstancePage = await next;
      next = page.cursor === undefined ? undefined : readPage(page.cursor);
      // Keep the read-ahead's rejection from going unhandled if the consumer stops early.
      next?.catch(() => {});
      yield page;
    }
  }

  /**
   * Listing where the store can range-scan in key order: the app's rows arrive grouped by instance (each instance's
   * keys share `<prefix><id>||`), its history, inbox and custom status before its metadata, so an instance is
   * decided when its metadata row arrives: one round trip a page, no second read. Rows after the last whole
   * instance of a page are read again with the next page (the cursor stops before them). A page is read ahead while
   * the caller works on the last one.
   */
  private async *listByRangeScan(options: ListOptions): AsyncGenerator<InstancePage> {
    const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
    let rowsPerPage = Math.max(16, pageSize * ROWS_PER_INSTANCE);
    const readPage = async (after: string | undefined): Promise<InstancePage | "too-small"> => {
      const page = await this.backend.scanEntries!({
        prefix: workflowKeyPrefix(this.app),
        pageSize: rowsPerPage,
        after,
      });
      return instancesFromRows(this.app, page, after, rowsPerPage, options.withEvents);
    };
    let after = options.cursor;
    let next: Promise<InstancePage | "too-small"> | undefined = readPage(after);
    while (next) {
      const page: InstancePage | "too-small" = await next;
      if (page === "too-small") {
        // One instance has more rows than a page: read it with a bigger one.
        rowsPerPage *= 4;
        next = readPage(after);
        continue;
      }
      after = page.cursor;
      next = page.cursor === undefined ? undefined : readPage(page.cursor);
      next?.catch(() => {});
      yield page;
    }
  }

  /** Reads one instance whole; undefined when it has no metadata key (it does not exist). */
  async readInstance(instanceId: string): Promise<InstanceRecord | undefined> {
    const result = (await this.readInstances([instanceId])).get(instanceId);
    if (result instanceof Error) throw result;
    return result;
  }

  /**
   * Reads many instances whole in two round trips (metadata, then every value). Per ID: the record, undefined when
   * it does not exist, or the Error that says why it cannot be decoded (other IDs are unaffected).
   */
  async readInstances(
    instanceIds: readonly string[],
  ): Promise<Map<string, InstanceRecord | undefined | UnreadableInstanceError>> {
    const out = new Map<string, InstanceRecord | undefined | UnreadableInstanceError>();
    const metaKeys = instanceIds.map((id) => instanceKeyPrefix(this.app, id) + METADATA_KEY);
    const { values: metaValues, unreadable: badMeta } = await readReporting(this.backend, metaKeys);
    const found: Array<{ id: string; metadata: WorkflowStateMetadata; metadataBytes: Uint8Array }> = [];
    const keys: string[] = [];
    for (const [i, id] of instanceIds.entries()) {
      const bytes = metaValues.get(metaKeys[i]!);
      const bad = badMeta.get(metaKeys[i]!);
      if (bad !== undefined) {
        out.set(id, new UnreadableInstanceError(metaKeys[i]!, bad));
        continue;
      }
      if (!bytes) {
        out.set(id, undefined);
        continue;
      }
      try {
        const metadata = decodeBoundedMetadata(bytes);
        const prefix = instanceKeyPrefix(this.app, id);
        keys.push(
          ...eventKeys(prefix, "history", metadata.historyLength),
          ...eventKeys(prefix, "inbox", metadata.inboxLength),
          prefix + CUSTOM_STATUS_KEY,
          keyPastHistory(prefix, metadata.historyLength),
        );
        found.push({ id, metadata, metadataBytes: bytes });
      } catch (error) {
        out.set(id, new UnreadableInstanceError(metaKeys[i]!, errorMessage(error)));
      }
    }
    const { values, unreadable: badValues } =
      keys.length > 0
        ? await readReporting(this.backend, keys)
        : { values: new Map<string, Uint8Array>(), unreadable: new Map<string, string>() };
    for (const { id, metadata, metadataBytes } of found) {
      const problem = storedCountsProblem(instanceKeyPrefix(this.app, id), metadata, values, badValues);
      if (problem) {
        out.set(id, new UnreadableInstanceError(problem.key, problem.reason));
        continue;
      }
      try {
        out.set(id, buildRecord(this.app, id, metadata, metadataBytes, values, "whole"));
      } catch (error) {
        const key = error instanceof KeyedDecodeError ? error.key : instanceKeyPrefix(this.app, id) + METADATA_KEY;
        out.set(id, new UnreadableInstanceError(key, errorMessage(error)));
      }
    }
    return out;
  }

  /** Whether the app has any instance at all (a metadata key), reading keys only and stopping at the first. */
  async hasAnyInstance(): Promise<boolean> {
    let cursor: string | undefined;
    do {
      const page = await this.backend.scanKeys({
        prefix: workflowKeyPrefix(this.app),
        suffix: `${KEY_SEPARATOR}${METADATA_KEY}`,
        pageSize: 1000,
        cursor,
      });
      if (page.keys.some((key) => parseWorkflowKey(this.app, key)?.stateKey === METADATA_KEY)) return true;
      cursor = page.cursor;
    } while (cursor !== undefined);
    return false;
  }

  /** Which of these instances exist (have a metadata key), in one round trip. */
  async existingInstanceIds(instanceIds: readonly string[]): Promise<Set<string>> {
    const keys = instanceIds.map((id) => instanceKeyPrefix(this.app, id) + METADATA_KEY);
    const found = await this.backend.getMany(keys);
    return new Set(instanceIds.filter((_, i) => found.has(keys[i]!)));
  }

  /**
   * Every state key the instance owns, from its metadata counts (Dapr's own purge deletes exactly these). Includes
   * keys that may not exist (customStatus, propagated-history); deleting a missing key is harmless.
   */
  instanceStateKeys(instanceId: string, metadata: WorkflowStateMetadata): string[] {
    return stateKeysOf(this.app, instanceId, metadata);
  }

  /**
   * Summaries (no input, output or inbox) of these instances in two round trips; IDs that do not exist are simply
   * absent, undecodable ones are in `unreadable`.
   */
  async readSummaries(ids: readonly string[]): Promise<Omit<InstancePage, "cursor">> {
    const instances: InstanceSummary[] = [];
    const unreadable: UnreadableInstance[] = [];
    if (ids.length === 0) return { instances, unreadable };
    const metaKeys = ids.map((id) => instanceKeyPrefix(this.app, id) + METADATA_KEY);
    const { values: metaValues, unreadable: badMeta } = await readReporting(this.backend, metaKeys);

    const decoded: Array<{ id: string; metadata: WorkflowStateMetadata; metadataBytes: Uint8Array }> = [];
    const valueKeys: string[] = [];
    for (const [i, id] of ids.entries()) {
      const key = metaKeys[i]!;
      const bytes = metaValues.get(key);
      const bad = badMeta.get(key);
      if (bad !== undefined) {
        unreadable.push({ instanceId: id, key, reason: bad });
        continue;
      }
      if (!bytes) continue; // purged between the scan and the read: it no longer exists
      try {
        const metadata = decodeBoundedMetadata(bytes);
        decoded.push({ id, metadata, metadataBytes: bytes });
        const prefix = instanceKeyPrefix(this.app, id);
        valueKeys.push(
          ...eventKeys(prefix, "history", metadata.historyLength),
          prefix + CUSTOM_STATUS_KEY,
          keyPastHistory(prefix, metadata.historyLength),
        );
        // A PENDING instance keeps its ExecutionStarted in the inbox: read it for the workflow name.
        if (metadata.historyLength === 0 && metadata.inboxLength > 0)
          valueKeys.push(multiEntryKeyOf(prefix, "inbox", 0));
      } catch (error) {
        unreadable.push({ instanceId: id, key, reason: errorMessage(error) });
      }
    }
    const { values, unreadable: badValues } = await readReporting(this.backend, valueKeys);
    const suspects: UnreadableInstance[] = [];
    for (const { id, metadata, metadataBytes } of decoded) {
      const problem = storedCountsProblem(instanceKeyPrefix(this.app, id), metadata, values, badValues);
      if (problem) {
        suspects.push({ instanceId: id, ...problem });
        continue;
      }
      try {
        instances.push(buildRecord(this.app, id, metadata, metadataBytes, values, "summary"));
      } catch (error) {
        const key = error instanceof KeyedDecodeError ? error.key : instanceKeyPrefix(this.app, id) + METADATA_KEY;
        suspects.push({ instanceId: id, key, reason: errorMessage(error) });
      }
    }
    if (suspects.length > 0) {
      // Metadata and values are two reads: an instance purged in between (by another shard, another batch or Dapr
      // itself) lost its values after its metadata was read. Gone now means purged, not corrupt.
      const still = await this.existingInstanceIds(suspects.map((s) => s.instanceId));
      unreadable.push(...suspects.filter((s) => still.has(s.instanceId)));
    }
    return { instances, unreadable };
  }
}
