/**
 * The workflow view over any StateBackend: streams an app's instances in pages and reads one instance whole, decoding
 * Dapr's values and deriving what Dapr derives. Undecodable instances are reported (key + reason), never fatal.
 */
import { errorMessage, HousekeeperError } from "../errors.ts";
import type { FailureDetails, HistoryEvent, WorkflowStateMetadata } from "../workflow/history-event.ts";
import { decodeCustomStatus, decodeHistoryEvent, decodeMetadata } from "../workflow/history-event.ts";
import { decodeAnalysisHistoryEvent, decodeLeanHistoryEvent } from "../workflow/lean-event.ts";
import type { RuntimeStatus } from "../workflow/runtime-status.ts";
import { deriveState } from "../workflow/runtime-status.ts";
import { effectiveShard, inShard, type Shard } from "../workflow/shard.ts";
import type { EntryPage, GuardedGroup, GuardedMember, GuardedOutcome, StateBackend } from "./backend.ts";
import type { AppRef } from "./keys.ts";
import {
  CUSTOM_STATUS_KEY,
  instanceKeyPrefix,
  KEY_SEPARATOR,
  METADATA_KEY,
  multiEntryKey,
  PROPAGATED_HISTORY_KEY,
  parseWorkflowKey,
  splitInstanceKey,
  workflowKeyPrefix,
} from "./keys.ts";
import {
  historyKeyPastCount,
  historyPastCountReason,
  keyPastHistory,
  readReporting,
  storedCountsProblem,
} from "./stored-counts.ts";

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
/** A page never grows past this many rows: an instance with more is reported as unreadable, not held in memory. */
const MAX_ROWS_PER_PAGE = 200_000;
/** State keys a summary needs: history, inbox, custom status, metadata (signatures and the like are skipped). */
const LISTED_STATE_KEY = /^(?:history-\d+|inbox-\d+|customStatus|metadata)$/;

/**
 * What an instance was read as: its metadata value and its last history event (a new event changes both, a new run
 * under the same ID changes the metadata's generation or the last event). Kept beside the summaries this module
 * returns, never in them, so it costs nothing to callers that only list; deleteFamilies compares against it.
 */
const readVersions = new WeakMap<InstanceSummary, GuardedMember["expect"]>();

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
        const expect = readVersions.get(member);
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
      return this.instancesFromRows(page, after, rowsPerPage, options.withEvents);
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

  private instancesFromRows(
    page: EntryPage,
    after: string | undefined,
    rowsPerPage: number,
    withEvents: ListOptions["withEvents"],
  ): InstancePage | "too-small" {
    // Rows in scan order; unreadable ones (no value) are merged back in where they belong.
    const rows = mergeUnreadable(page);
    const groups = new Map<
      string,
      { rows: Map<string, Uint8Array>; first: number; bad?: { key: string; reason: string } }
    >();
    const completed: Array<{ id: string; at: number }> = [];
    const prefixLength = workflowKeyPrefix(this.app).length; // every row of the scan starts with it
    const oddIds: Array<UnreadableInstance & { at: number }> = [];
    rows.forEach((row, at) => {
      const parsed = splitInstanceKey(row.key, prefixLength);
      const odd = parsed ? undefined : oddInstanceId(this.app, row.key);
      if (odd) {
        oddIds.push({ ...odd, at });
        return;
      }
      if (!parsed || !LISTED_STATE_KEY.test(parsed.stateKey)) return;
      let group = groups.get(parsed.instanceId);
      if (!group) {
        group = { rows: new Map(), first: at };
        groups.set(parsed.instanceId, group);
      }
      if (row.value) group.rows.set(row.key, row.value);
      if (row.bad) group.bad ??= { key: row.key, reason: row.bad };
      if (parsed.stateKey === METADATA_KEY) completed.push({ id: parsed.instanceId, at });
    });
    // Cut before the first row of the first instance still waiting for its metadata; the next page starts there.
    let cut = rows.length;
    if (!page.done) {
      const done = new Set(completed.map((c) => c.id));
      for (const [id, group] of groups) if (!done.has(id)) cut = Math.min(cut, group.first);
      // A finished instance whose rows straddle the cut goes to the next page whole (in a store's case-insensitive
      // order, IDs that are not byte-prefix-related can still interleave).
      for (let moved = true; moved; ) {
        moved = false;
        for (const { id, at } of completed) {
          const first = groups.get(id)!.first;
          if (first < cut && at >= cut) {
            cut = first;
            moved = true;
          }
        }
      }
      if (cut === 0) {
        if (rowsPerPage < MAX_ROWS_PER_PAGE) return "too-small";
        cut = rows.length; // an instance beyond any page: skip past it; its metadata row will show it unreadable
      }
    }
    const instances: InstanceSummary[] = [];
    const unreadable: UnreadableInstance[] = [];
    const events = withEvents ? new Map<string, InstanceEvents>() : undefined;
    for (const odd of oddIds) {
      if (odd.at < cut) unreadable.push({ instanceId: odd.instanceId, key: odd.key, reason: odd.reason });
    }
    for (const { id, at } of completed) {
      if (at >= cut) continue;
      const group = groups.get(id)!;
      const metaKey = instanceKeyPrefix(this.app, id) + METADATA_KEY;
      if (group.bad) {
        unreadable.push({ instanceId: id, key: group.bad.key, reason: group.bad.reason });
        continue;
      }
      try {
        const metadataBytes = group.rows.get(metaKey)!;
        const metadata = decodeBoundedMetadata(metadataBytes);
        const prefix = instanceKeyPrefix(this.app, id);
        const past = historyKeyPastCount(prefix, metadata.historyLength, group.rows.keys());
        if (past) {
          unreadable.push({ instanceId: id, key: past, reason: historyPastCountReason(metadata.historyLength) });
          continue;
        }
        if (withEvents) {
          // One decode of each row serves the summary and, for the chosen few, the analysis.
          const decoded = this.decodeInstance(id, metadata, metadataBytes, group.rows, "analysis");
          instances.push(decoded.summary);
          if (withEvents(decoded.summary)) events!.set(id, { history: decoded.history, inbox: decoded.inbox });
        } else {
          instances.push(this.buildRecord(id, metadata, metadataBytes, group.rows, "summary"));
        }
      } catch (error) {
        const key = error instanceof KeyedDecodeError ? error.key : metaKey;
        unreadable.push({ instanceId: id, key, reason: errorMessage(error) });
      }
    }
    const finished = page.done && cut === rows.length;
    const cursor = finished ? undefined : cut > 0 ? rows[cut - 1]!.key : after;
    return events ? { instances, unreadable, cursor, events } : { instances, unreadable, cursor };
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
        out.set(id, this.buildRecord(id, metadata, metadataBytes, values, "whole"));
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
        instances.push(this.buildRecord(id, metadata, metadataBytes, values, "summary"));
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

  /**
   * Decodes and derives one instance. A summary decodes its history leanly (lean-event.ts: type, timestamp and the
   * few fields a summary derives from) and keeps no events; a whole record decodes every event in full.
   */
  private buildRecord(
    instanceId: string,
    metadata: WorkflowStateMetadata,
    metadataBytes: Uint8Array,
    values: Map<string, Uint8Array>,
    read: "summary",
  ): InstanceSummary;
  private buildRecord(
    instanceId: string,
    metadata: WorkflowStateMetadata,
    metadataBytes: Uint8Array,
    values: Map<string, Uint8Array>,
    read: "whole",
  ): InstanceRecord;
  private buildRecord(
    instanceId: string,
    metadata: WorkflowStateMetadata,
    metadataBytes: Uint8Array,
    values: Map<string, Uint8Array>,
    read: "summary" | "whole",
  ): InstanceSummary | InstanceRecord {
    const { summary, derived, history, inbox } = this.decodeInstance(instanceId, metadata, metadataBytes, values, read);
    if (read === "summary") return summary;
    const record: InstanceRecord = {
      ...summary,
      input: derived.input,
      output: derived.output,
      failureDetails: derived.failureDetails,
      history,
      inbox,
    };
    readVersions.set(record, readVersions.get(summary)!);
    return record;
  }

  /**
   * The summary of one instance and the events it was derived from, decoded as `read` says: "summary" (lean, the
   * inbox only for a PENDING instance's ExecutionStarted), "analysis" (lean plus what the stuck report analyses,
   * whole inbox) or "whole" (every event in full).
   */
  private decodeInstance(
    instanceId: string,
    metadata: WorkflowStateMetadata,
    metadataBytes: Uint8Array,
    values: Map<string, Uint8Array>,
    read: "summary" | "analysis" | "whole",
  ): { summary: InstanceSummary; derived: ReturnType<typeof deriveState> } & InstanceEvents {
    const prefix = instanceKeyPrefix(this.app, instanceId);
    const decode =
      read === "whole" ? decodeHistoryEvent : read === "analysis" ? decodeAnalysisHistoryEvent : decodeLeanHistoryEvent;
    const history = decodeEvents(prefix, "history", metadata.historyLength, values, true, decode);
    // A summary reads the inbox only for a PENDING instance's ExecutionStarted (its name).
    const inboxCount =
      read !== "summary" ? metadata.inboxLength : metadata.historyLength === 0 ? Math.min(1, metadata.inboxLength) : 0;
    const inbox = decodeEvents(prefix, "inbox", inboxCount, values, false, decode);
    const customStatusBytes = values.get(prefix + CUSTOM_STATUS_KEY);
    let customStatus: string | undefined;
    if (customStatusBytes) {
      try {
        customStatus = decodeCustomStatus(customStatusBytes);
      } catch (error) {
        throw new KeyedDecodeError(prefix + CUSTOM_STATUS_KEY, errorMessage(error));
      }
    }
    const derived = deriveState(history, inbox);
    if (derived.completedAt && !derived.createdAt) {
      // Finished without having started: rows are missing or were overwritten. Never shown as PENDING, never purged.
      throw new KeyedDecodeError(
        prefix + multiEntryKey("history", 0),
        "the history has an ExecutionCompleted but no ExecutionStarted",
      );
    }
    const summary: InstanceSummary = {
      namespace: this.app.namespace,
      appId: this.app.appId,
      instanceId,
      name: derived.name,
      runtimeStatus: derived.runtimeStatus,
      createdAt: derived.createdAt,
      lastUpdatedAt: derived.lastUpdatedAt,
      completedAt: derived.completedAt,
      customStatus,
      failureMessage: derived.failureDetails?.errorMessage,
      parentInstanceId: derived.parentInstanceId,
      parentAppId: derived.parentAppId !== this.app.appId ? derived.parentAppId : undefined,
      childWorkflows: childWorkflowsOf(history, this.app),
      isTerminal: derived.isTerminal,
      metadata,
    };
    const version: Array<readonly [string, Uint8Array]> = [[prefix + METADATA_KEY, metadataBytes]];
    if (metadata.historyLength > 0) {
      const lastKey = multiEntryKeyOf(prefix, "history", metadata.historyLength - 1);
      version.push([lastKey, values.get(lastKey)!]);
    }
    readVersions.set(summary, version);
    return { summary, derived, history, inbox };
  }
}

/** An instance whose state cannot be decoded: names the key and why (its message reads "<reason> at <key>"). */
export class UnreadableInstanceError extends HousekeeperError {
  constructor(
    readonly key: string,
    readonly reason: string,
  ) {
    super("corrupt-data", `${reason} at ${key}`);
  }
}

class KeyedDecodeError extends Error {
  constructor(
    readonly key: string,
    reason: string,
  ) {
    super(reason);
  }
}

/** Every state key an instance owns, from its metadata counts (Dapr's own purge deletes exactly these). */
function stateKeysOf(app: AppRef, instanceId: string, metadata: WorkflowStateMetadata): string[] {
  const prefix = instanceKeyPrefix(app, instanceId);
  return [
    ...eventKeys(prefix, "inbox", metadata.inboxLength),
    ...eventKeys(prefix, "history", metadata.historyLength),
    ...eventKeys(prefix, "signature", metadata.signatureLength),
    ...eventKeys(prefix, "sigcert", metadata.signingCertificateLength),
    ...eventKeys(prefix, "ext-sigcert", metadata.externalSigningCertificateLength),
    prefix + CUSTOM_STATUS_KEY,
    prefix + PROPAGATED_HISTORY_KEY,
    prefix + METADATA_KEY,
  ];
}

/**
 * Child workflows from ChildWorkflowInstanceCreated events, once each, in the app the event's router names (a
 * cross-app child) or else this app: dapr pkg/actors/targets/workflow/orchestrator/recursivepurge.go collectChildren.
 */
function childWorkflowsOf(history: readonly HistoryEvent[], app: AppRef): ChildWorkflowRef[] {
  const children: ChildWorkflowRef[] = [];
  const seen = new Set<string>();
  for (const event of history) {
    const instanceId = event.childWorkflowInstanceCreated?.instanceId;
    if (instanceId === undefined || seen.has(instanceId)) continue;
    seen.add(instanceId);
    children.push({ instanceId, appId: event.router?.targetAppID || app.appId });
  }
  return children;
}

/**
 * Most entries of one kind (history, inbox, signatures…) an instance may count before it is reported as unreadable
 * instead of read: a count is data, not a promise, and one corrupt row must not exhaust memory for the whole run.
 * Dapr itself loads an instance's whole history on every turn, so a real one stays far below this.
 */
export const MAX_ENTRIES_PER_INSTANCE = 50_000;

function decodeBoundedMetadata(bytes: Uint8Array): WorkflowStateMetadata {
  const metadata = decodeMetadata(bytes);
  const counts: Array<[string, number]> = [
    ["history", metadata.historyLength],
    ["inbox", metadata.inboxLength],
    ["signature", metadata.signatureLength],
    ["signing certificate", metadata.signingCertificateLength],
    ["external signing certificate", metadata.externalSigningCertificateLength],
  ];
  for (const [kind, count] of counts) {
    if (!Number.isSafeInteger(count) || count < 0 || count > MAX_ENTRIES_PER_INSTANCE) {
      throw new Error(
        `metadata counts ${count} ${kind} entries, more than the ${MAX_ENTRIES_PER_INSTANCE} one instance may have: left unread`,
      );
    }
  }
  return metadata;
}

/** Byte order of UTF-8 strings (the order of `COLLATE "C"`). */
function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function multiEntryKeyOf(prefix: string, kind: "history" | "inbox", index: number): string {
  return prefix + multiEntryKey(kind, index);
}

function eventKeys(prefix: string, kind: Parameters<typeof multiEntryKey>[0], count: number): string[] {
  const keys: string[] = [];
  for (let i = 0; i < count; i++) keys.push(prefix + multiEntryKey(kind, i));
  return keys;
}

function decodeEvents(
  prefix: string,
  kind: "history" | "inbox",
  count: number,
  values: Map<string, Uint8Array>,
  required: boolean,
  decode: (bytes: Uint8Array) => HistoryEvent,
): HistoryEvent[] {
  const events: HistoryEvent[] = [];
  for (let i = 0; i < count; i++) {
    const key = multiEntryKeyOf(prefix, kind, i);
    const bytes = values.get(key);
    if (!bytes) {
      if (required) throw new KeyedDecodeError(key, `metadata counts ${count} ${kind} events but this key is missing`);
      continue;
    }
    if (bytes.length === 0) {
      // Dapr never stores an empty event; a value that decodes to nothing (e.g. bad base64) is no event at all.
      throw new KeyedDecodeError(key, `the ${kind} event is empty`);
    }
    try {
      events.push(decode(bytes));
    } catch (error) {
      throw new KeyedDecodeError(key, errorMessage(error));
    }
  }
  return events;
}

/**
 * The metadata key of an instance whose ID contains `||`: Dapr's layout cannot tell its keys from another instance's,
 * so it is named as unreadable (by its metadata key), never guessed at or purged.
 */
function oddInstanceId(app: AppRef, key: string): UnreadableInstance | undefined {
  const prefix = workflowKeyPrefix(app);
  const suffix = `${KEY_SEPARATOR}${METADATA_KEY}`;
  if (!key.startsWith(prefix) || !key.endsWith(suffix)) return undefined;
  const instanceId = key.slice(prefix.length, key.length - suffix.length);
  if (!instanceId.includes(KEY_SEPARATOR)) return undefined;
  return { instanceId, key, reason: `the instance ID contains "${KEY_SEPARATOR}"` };
}

/** A page's rows in scan order: its unreadable rows (no value) at their place (their `index`, else byte order). */
function mergeUnreadable(page: EntryPage): Array<{ key: string; value?: Uint8Array; bad?: string }> {
  const rows: Array<{ key: string; value?: Uint8Array; bad?: string }> = page.entries.map(([key, value]) => ({
    key,
    value,
  }));
  const unreadable = page.unreadable ?? [];
  if (unreadable.length === 0) return rows;
  if (unreadable.every((u) => u.index !== undefined)) {
    // From the last, so earlier indexes still count entries only.
    for (const u of [...unreadable].reverse()) rows.splice(u.index!, 0, { key: u.key, bad: u.reason });
    return rows;
  }
  rows.push(...unreadable.map((u) => ({ key: u.key, bad: u.reason })));
  return rows.sort((a, b) => compareBytes(a.key, b.key));
}
