/**
 * Decoding one instance from its stored values: what a summary, an analysis or a whole record derives, the keys an
 * instance owns, and the version (metadata and last event) a guarded deletion compares against.
 */
import { errorMessage, HousekeeperError } from "../errors.ts";
import type { HistoryEvent, WorkflowStateMetadata } from "../workflow/history-event.ts";
import { decodeCustomStatus, decodeHistoryEvent, decodeMetadata } from "../workflow/history-event.ts";
import { decodeAnalysisHistoryEvent, decodeLeanHistoryEvent } from "../workflow/lean-event.ts";
import { deriveState } from "../workflow/runtime-status.ts";
import type { GuardedMember } from "./backend.ts";
import type { AppRef } from "./keys.ts";
import {
  CUSTOM_STATUS_KEY,
  instanceKeyPrefix,
  KEY_SEPARATOR,
  METADATA_KEY,
  multiEntryKey,
  PROPAGATED_HISTORY_KEY,
  workflowKeyPrefix,
} from "./keys.ts";
import type {
  ChildWorkflowRef,
  InstanceEvents,
  InstanceRecord,
  InstanceSummary,
  UnreadableInstance,
} from "./workflow-store.ts";

/**
 * What an instance was read as: its metadata value and its last history event (a new event changes both, a new run
 * under the same ID changes the metadata's generation or the last event). Kept beside the summaries this module
 * returns, never in them, so it costs nothing to callers that only list; deleteFamilies compares against it.
 */
const readVersions = new WeakMap<InstanceSummary, GuardedMember["expect"]>();

/** The version an instance was read at (undefined when it was not read by decodeInstance). */
export function readVersionOf(instance: InstanceSummary): GuardedMember["expect"] | undefined {
  return readVersions.get(instance);
}

/**
 * Decodes and derives one instance. A summary decodes its history leanly (lean-event.ts: type, timestamp and the
 * few fields a summary derives from) and keeps no events; a whole record decodes every event in full.
 */
export function buildRecord(
  app: AppRef,
  instanceId: string,
  metadata: WorkflowStateMetadata,
  metadataBytes: Uint8Array,
  values: Map<string, Uint8Array>,
  read: "summary",
): InstanceSummary;
export function buildRecord(
  app: AppRef,
  instanceId: string,
  metadata: WorkflowStateMetadata,
  metadataBytes: Uint8Array,
  values: Map<string, Uint8Array>,
  read: "whole",
): InstanceRecord;
export function buildRecord(
  app: AppRef,
  instanceId: string,
  metadata: WorkflowStateMetadata,
  metadataBytes: Uint8Array,
  values: Map<string, Uint8Array>,
  read: "summary" | "whole",
): InstanceSummary | InstanceRecord {
  const { summary, derived, history, inbox } = decodeInstance(app, instanceId, metadata, metadataBytes, values, read);
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
export function decodeInstance(
  app: AppRef,
  instanceId: string,
  metadata: WorkflowStateMetadata,
  metadataBytes: Uint8Array,
  values: Map<string, Uint8Array>,
  read: "summary" | "analysis" | "whole",
): { summary: InstanceSummary; derived: ReturnType<typeof deriveState> } & InstanceEvents {
  const prefix = instanceKeyPrefix(app, instanceId);
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
    namespace: app.namespace,
    appId: app.appId,
    instanceId,
    name: derived.name,
    runtimeStatus: derived.runtimeStatus,
    createdAt: derived.createdAt,
    lastUpdatedAt: derived.lastUpdatedAt,
    completedAt: derived.completedAt,
    customStatus,
    failureMessage: derived.failureDetails?.errorMessage,
    parentInstanceId: derived.parentInstanceId,
    parentAppId: derived.parentAppId !== app.appId ? derived.parentAppId : undefined,
    childWorkflows: childWorkflowsOf(history, app),
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

/** An instance whose state cannot be decoded: names the key and why (its message reads "<reason> at <key>"). */
export class UnreadableInstanceError extends HousekeeperError {
  constructor(
    readonly key: string,
    readonly reason: string,
  ) {
    super("corrupt-data", `${reason} at ${key}`);
  }
}

export class KeyedDecodeError extends Error {
  constructor(
    readonly key: string,
    reason: string,
  ) {
    super(reason);
  }
}

/** Every state key an instance owns, from its metadata counts (Dapr's own purge deletes exactly these). */
export function stateKeysOf(app: AppRef, instanceId: string, metadata: WorkflowStateMetadata): string[] {
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

export function decodeBoundedMetadata(bytes: Uint8Array): WorkflowStateMetadata {
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

export function multiEntryKeyOf(prefix: string, kind: "history" | "inbox", index: number): string {
  return prefix + multiEntryKey(kind, index);
}

export function eventKeys(prefix: string, kind: Parameters<typeof multiEntryKey>[0], count: number): string[] {
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
export function oddInstanceId(app: AppRef, key: string): UnreadableInstance | undefined {
  const prefix = workflowKeyPrefix(app);
  const suffix = `${KEY_SEPARATOR}${METADATA_KEY}`;
  if (!key.startsWith(prefix) || !key.endsWith(suffix)) return undefined;
  const instanceId = key.slice(prefix.length, key.length - suffix.length);
  if (!instanceId.includes(KEY_SEPARATOR)) return undefined;
  return { instanceId, key, reason: `the instance ID contains "${KEY_SEPARATOR}"` };
}
