/**
 * `workflow list` rows as the Dapr CLI builds them (cli:pkg/workflow/list.go ListOutputWide/ListOutputShort, §3.2):
 * a compact record per instance (only what the output needs, so a sort can spill it as one JSON line), Dapr's sort
 * order, and the short/wide/JSON/YAML shapes.
 */
import type { InstanceSummary } from "../../shared/state-store/workflow-store.ts";
import type { RuntimeStatus } from "../../shared/workflow/runtime-status.ts";
import { humanDuration, rfc3339FromSeconds, rfc3339Seconds } from "../output/go-format.ts";

/** What one listed instance needs for every output format. Times in epoch ms, null when unknown (PENDING). */
export interface ListedInstance {
  id: string;
  name: string;
  status: RuntimeStatus;
  created: number | null;
  lastUpdate: number | null;
  customStatus: string;
  /** failureDetails.errorMessage with \n and \r removed, as Dapr prints it. */
  failureMessage: string;
}

export function toListedInstance(summary: InstanceSummary): ListedInstance {
  return {
    id: summary.instanceId,
    name: summary.name,
    status: summary.runtimeStatus,
    created: summary.createdAt?.getTime() ?? null,
    lastUpdate: summary.lastUpdatedAt?.getTime() ?? null,
    customStatus: summary.customStatus ?? "",
    failureMessage: (summary.failureMessage ?? "").replace(/[\n\r]/g, ""),
  };
}

/** Created truncated to whole seconds (Dapr sorts and prints the truncated time); null when unknown. */
function createdSeconds(record: ListedInstance): number | null {
  return record.created === null ? null : Math.floor(record.created / 1000);
}

/**
 * Dapr's list order: created ascending (compared after truncation to seconds), unknown created last, ties by instance
 * ID (byte order of UTF-8, i.e. code point order, like Go string comparison). Dapr leaves instances with no created
 * time in fetch order; we order them by ID so the output is deterministic.
 */
export function compareListed(a: ListedInstance, b: ListedInstance): number {
  const ca = createdSeconds(a);
  const cb = createdSeconds(b);
  if (ca !== cb) {
    if (ca === null) return 1;
    if (cb === null) return -1;
    return ca - cb;
  }
  return compareCodePoints(a.id, b.id);
}

/** Compares strings by Unicode code point (= UTF-8 byte order), unlike `<` which compares UTF-16 code units. */
export function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (U+D800–DFFF) encode code points above U+FFFF, which sort after every BMP character.
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

export const SHORT_HEADERS = ["NAME", "ID", "STATUS", "CUSTOM STATUS", "AGE"] as const;
export const WIDE_HEADERS = [
  "NAMESPACE",
  "APP ID",
  "Name",
  "INSTANCE ID",
  "CREATED",
  "LAST UPDATE",
  "STATUS",
  "CUSTOM STATUS",
  "FAILURE MESSAGE",
] as const;

/** AGE: k8s HumanDuration(now - created truncated to seconds), `<scheduled>` when created is unknown. */
export function ageCell(record: ListedInstance, nowMs: number): string {
  const seconds = createdSeconds(record);
  return seconds === null ? "<scheduled>" : humanDuration(nowMs - seconds * 1000);
}

export function shortCells(record: ListedInstance, nowMs: number): string[] {
  return [record.name, record.id, record.status, record.customStatus, ageCell(record, nowMs)];
}

export interface ListContext {
  namespace: string;
  appId: string;
}

/** Dapr's ListOutputWide JSON/YAML record: exactly these keys, in this order; times RFC 3339 (Go zero time if unknown). */
export interface WideRecord {
  namespace: string;
  appID: string;
  name: string;
  instanceID: string;
  created: string;
  lastUpdate: string;
  runtimeStatus: string;
  customStatus: string;
  failureMessage: string;
}

/** The wide record's Go `time.Time` fields (cli pkg/workflow/list.go ListOutputWide): yaml.v2 writes them plain. */
export const WIDE_TIME_FIELDS = ["created", "lastUpdate"] as const;

function timeOrZero(ms: number | null): string {
  return ms === null ? rfc3339Seconds(undefined) : rfc3339FromSeconds(Math.floor(ms / 1000));
}

export function wideRecord(record: ListedInstance, context: ListContext): WideRecord {
  return {
    namespace: context.namespace,
    appID: context.appId,
    name: record.name,
    instanceID: record.id,
    created: timeOrZero(record.created),
    lastUpdate: timeOrZero(record.lastUpdate),
    runtimeStatus: record.status,
    customStatus: record.customStatus,
    failureMessage: record.failureMessage,
  };
}

export function wideCells(record: ListedInstance, context: ListContext): string[] {
  const w = wideRecord(record, context);
  return [
    w.namespace,
    w.appID,
    w.name,
    w.instanceID,
    w.created,
    w.lastUpdate,
    w.runtimeStatus,
    w.customStatus,
    w.failureMessage,
  ];
}
