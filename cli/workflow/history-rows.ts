/**
 * `workflow history` rows exactly as the Dapr CLI derives them (cli:pkg/workflow/history.go HistoryWide/HistoryShort,
 * cli:pkg/workflow/dclient/dclient.go InstanceHistory sort; docs/dapr-state-store.md §5.3). Pure functions: events in,
 * rows out.
 */
import type { HistoryEvent, StringValue, Timestamp } from "../../shared/workflow/history-event.ts";
import { eventTypeOf } from "../../shared/workflow/history-event.ts";
import { statusFromNumber } from "../../shared/workflow/runtime-status.ts";
import { humanizeDuration, rfc3339FromSeconds } from "../output/go-format.ts";

/** HistoryOutputWide: the wide table, and the JSON/YAML record (keys and order as Dapr's json tags). */
export interface HistoryRow {
  namespace: string;
  appID: string;
  play: number;
  type: string;
  /** null where Dapr's *string is nil (JSON `null`). */
  name: string | null;
  /** Omitted (omitempty) when unset. */
  eventId?: number;
  timestamp: string;
  elapsed: string;
  status: string;
  details: string | null;
  router?: string;
  executionId?: string;
  attrs?: string;
}

/** HistoryOutputWide's Go `time.Time` field (cli pkg/workflow/history.go): yaml.v2 writes it plain. */
export const HISTORY_TIME_FIELDS = ["timestamp"] as const;

export const HISTORY_SHORT_HEADERS = ["TYPE", "NAME", "EVENTID", "ELAPSED", "STATUS", "DETAILS"] as const;
export const HISTORY_WIDE_HEADERS = [
  "PLAY",
  "TYPE",
  "NAME",
  "EVENTID",
  "TIMESTAMP",
  "ELAPSED",
  "STATUS",
  "DETAILS",
  "ROUTER",
  "EXECUTION_ID",
  "ATTRS",
] as const;

const TYPE_NAMES: Partial<Record<NonNullable<ReturnType<typeof eventTypeOf>>, string>> = {
  executionStarted: "ExecutionStarted",
  executionCompleted: "ExecutionCompleted",
  executionTerminated: "ExecutionTerminated",
  taskScheduled: "TaskScheduled",
  taskCompleted: "TaskCompleted",
  taskFailed: "TaskFailed",
  childWorkflowInstanceCreated: "ChildWorkflowCreated",
  childWorkflowInstanceCompleted: "ChildWorkflowCompleted",
  childWorkflowInstanceFailed: "ChildWorkflowFailed",
  timerCreated: "TimerCreated",
  timerFired: "TimerFired",
  workflowStarted: "WorkflowStarted",
  workflowCompleted: "WorkflowCompleted",
  eventSent: "EventSent",
  eventRaised: "EventRaised",
  continueAsNew: "ContinueAsNew",
  executionSuspended: "ExecutionSuspended",
  executionResumed: "ExecutionResumed",
  executionStalled: "ExecutionStalled",
};

/** durabletask StalledReason enum names. */
const STALLED_REASONS = ["PATCH_MISMATCH", "VERSION_NOT_AVAILABLE", "PAYLOAD_SIZE_EXCEEDED"];

export function eventTypeName(event: HistoryEvent): string {
  const type = eventTypeOf(event);
  return (type && TYPE_NAMES[type]) ?? "Unknown";
}

// ---------------------------------------------------------------------------------------------------------------
// Sort

function seconds(ts: Timestamp | undefined): number {
  return ts?.seconds ?? 0;
}
function nanos(ts: Timestamp | undefined): number {
  return ts?.nanos ?? 0;
}
/** b - a in nanoseconds. */
function diffNs(a: Timestamp | undefined, b: Timestamp | undefined): bigint {
  return BigInt(seconds(b) - seconds(a)) * 1_000_000_000n + BigInt(nanos(b) - nanos(a));
}

/**
 * Dapr's order: `sort.SliceStable` with "by eventId when both are > 0, else by timestamp, then eventId". That
 * comparator is not a strict weak order (events without IDs interleave by time), so the result depends on the
 * algorithm: we run Go's own stable sort (insertion-sorted blocks of 20 + SymMerge) to get the same order Dapr prints.
 */
export function sortHistory(events: readonly HistoryEvent[]): HistoryEvent[] {
  const data = [...events];
  const less = (i: number, j: number): boolean => {
    const ei = data[i]!;
    const ej = data[j]!;
    const idI = ei.eventId ?? 0;
    const idJ = ej.eventId ?? 0;
    if (idI > 0 && idJ > 0) return idI < idJ;
    const d = diffNs(ej.timestamp, ei.timestamp);
    if (d !== 0n) return d < 0n;
    return idI < idJ;
  };
  goStableSort(data.length, less, (i, j) => {
    [data[i], data[j]] = [data[j]!, data[i]!];
  });
  return data;
}

/** Go's sort.Stable (sort/zsortfunc.go stable_func), driven by index-based less/swap. */
export function goStableSort(n: number, less: (i: number, j: number) => boolean, swap: (i: number, j: number) => void) {
  const insertionSort = (a: number, b: number) => {
    for (let i = a + 1; i < b; i++) for (let j = i; j > a && less(j, j - 1); j--) swap(j, j - 1);
  };
  const swapRange = (a: number, b: number, count: number) => {
    for (let i = 0; i < count; i++) swap(a + i, b + i);
  };
  const rotate = (a: number, m: number, b: number) => {
    let i = m - a;
    let j = b - m;
    while (i !== j) {
      if (i > j) {
        swapRange(m - i, m, j);
        i -= j;
      } else {
        swapRange(m - i, m + j - i, i);
        j -= i;
      }
    }
    swapRange(m - i, m, i);
  };
  const symMerge = (a: number, m: number, b: number): void => {
    if (m - a === 1) {
      let i = m;
      let j = b;
      while (i < j) {
        const h = (i + j) >>> 1;
        if (less(h, a)) i = h + 1;
        else j = h;
      }
      for (let k = a; k < i - 1; k++) swap(k, k + 1);
      return;
    }
    if (b - m === 1) {
      let i = a;
      let j = m;
      while (i < j) {
        const h = (i + j) >>> 1;
        if (!less(m, h)) i = h + 1;
        else j = h;
      }
      for (let k = m; k > i; k--) swap(k, k - 1);
      return;
    }
    const mid = (a + b) >>> 1;
    const nn = mid + m;
    let start: number;
    let r: number;
    if (m > mid) {
      start = nn - b;
      r = mid;
    } else {
      start = a;
      r = m;
    }
    const p = nn - 1;
    while (start < r) {
      const c = (start + r) >>> 1;
      if (!less(p - c, c)) start = c + 1;
      else r = c;
    }
    const end = nn - start;
    if (start < m && m < end) rotate(start, m, end);
    if (a < start && start < mid) symMerge(a, start, mid);
    if (mid < end && end < b) symMerge(mid, end, b);
  };

  let blockSize = 20;
  let a = 0;
  let b = blockSize;
  while (b <= n) {
    insertionSort(a, b);
    a = b;
    b += blockSize;
  }
  insertionSort(a, n);
  while (blockSize < n) {
    a = 0;
    b = 2 * blockSize;
    while (b <= n) {
      symMerge(a, a + blockSize, b);
      a = b;
      b += 2 * blockSize;
    }
    const m = a + blockSize;
    if (m < n) symMerge(a, m, n);
    blockSize *= 2;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Rows

export interface HistoryContext {
  namespace: string;
  appId: string;
  /** "now" for the first row's `Age:` (epoch ms). */
  nowMs: number;
}

/** Sorts the events as Dapr does and derives one wide row per event. */
export function historyRows(events: readonly HistoryEvent[], context: HistoryContext): HistoryRow[] {
  const history = sortHistory(events);
  const rows: HistoryRow[] = [];
  let prev: Timestamp | undefined;
  let play = 0;
  const first = history[0];
  history.forEach((event, index) => {
    const type = eventTypeOf(event);
    if (index === 0) prev = event.timestamp;
    if (type === "workflowStarted") play++;
    const row: HistoryRow = {
      namespace: context.namespace,
      appID: context.appId,
      play,
      type: eventTypeName(event),
      name: deriveName(event),
      timestamp: rfc3339FromSeconds(seconds(event.timestamp)),
      elapsed:
        index === 0
          ? `Age:${humanizeDuration(BigInt(context.nowMs) * 1_000_000n - (BigInt(seconds(event.timestamp)) * 1_000_000_000n + BigInt(nanos(event.timestamp))))}`
          : humanizeDuration(diffNs(prev, event.timestamp)),
      status: deriveStatus(event),
      details: deriveDetails(first!, event),
    };
    prev = event.timestamp;
    if ((event.eventId ?? 0) > 0) row.eventId = event.eventId!;
    if (event.router) {
      const source = event.router.sourceAppID ?? "";
      row.router = event.router.targetAppID !== undefined ? `${source}->${event.router.targetAppID}` : source;
    }
    addAttrsAndIds(row, event);
    rows.push(reorder(row));
  });
  return rows;
}

/** Puts the keys in Dapr's JSON order (optional ones were assigned after the required ones). */
function reorder(row: HistoryRow): HistoryRow {
  return {
    namespace: row.namespace,
    appID: row.appID,
    play: row.play,
    type: row.type,
    name: row.name,
    eventId: row.eventId,
    timestamp: row.timestamp,
    elapsed: row.elapsed,
    status: row.status,
    details: row.details,
    router: row.router,
    executionId: row.executionId,
    attrs: row.attrs,
  };
}

function deriveName(event: HistoryEvent): string | null {
  switch (eventTypeOf(event)) {
    case "taskScheduled":
      return event.taskScheduled?.name ?? "";
    case "childWorkflowInstanceCreated":
      return event.childWorkflowInstanceCreated?.name ?? "";
    case "timerCreated":
      return event.timerCreated?.name ?? null;
    case "eventRaised":
      return event.eventRaised?.name ?? "";
    case "eventSent":
      return event.eventSent?.name ?? "";
    case "executionStarted":
      return event.executionStarted?.name ?? "";
    default:
      return null;
  }
}

function deriveStatus(event: HistoryEvent): string {
  switch (eventTypeOf(event)) {
    case "taskFailed":
      return "FAILED";
    case "executionCompleted":
      // Go's WorkflowMetadata.String(): the status name, "" for a number it does not know.
      return statusFromNumber(event.executionCompleted?.workflowStatus);
    case "executionTerminated":
      return "TERMINATED";
    case "executionSuspended":
      return "SUSPENDED";
    case "executionResumed":
      return "RESUMED";
    case "executionStalled":
      return "STALLED";
    default:
      return "RUNNING";
  }
}

interface RerunInfo {
  rerunParentInstanceInfo?: { instanceID?: string };
}

interface TimerOrigin {
  kind: string;
  attrKey: string;
  attrVal: string;
}

function timerOrigin(event: HistoryEvent): TimerOrigin | undefined {
  const timer = event.timerCreated as
    | (NonNullable<HistoryEvent["timerCreated"]> & {
        createTimer?: object;
        activityRetry?: { taskExecutionId?: string };
        childWorkflowRetry?: { instanceId?: string };
      })
    | undefined;
  if (!timer) return undefined;
  const origin =
    timer.origin ??
    (timer.createTimer
      ? "createTimer"
      : timer.externalEvent
        ? "externalEvent"
        : timer.activityRetry
          ? "activityRetry"
          : timer.childWorkflowRetry
            ? "childWorkflowRetry"
            : undefined);
  switch (origin) {
    case "createTimer":
      return { kind: "createTimer", attrKey: "", attrVal: "" };
    case "externalEvent":
      return { kind: "externalEvent", attrKey: "eventName", attrVal: timer.externalEvent?.name ?? "" };
    case "activityRetry":
      return { kind: "activityRetry", attrKey: "taskExecId", attrVal: timer.activityRetry?.taskExecutionId ?? "" };
    case "childWorkflowRetry":
      return { kind: "childWorkflowRetry", attrKey: "instanceId", attrVal: timer.childWorkflowRetry?.instanceId ?? "" };
    default:
      return undefined;
  }
}

function rerunParent(info: RerunInfo | undefined): string | undefined {
  return info?.rerunParentInstanceInfo ? `rerunParent=${info.rerunParentInstanceInfo.instanceID ?? ""}` : undefined;
}

function deriveDetails(first: HistoryEvent, event: HistoryEvent): string | null {
  switch (eventTypeOf(event)) {
    case "taskScheduled":
      return rerunParent(event.taskScheduled as RerunInfo) ?? null;
    case "timerCreated": {
      let details = `fireAt=${rfc3339FromSeconds(seconds(event.timerCreated?.fireAt))}`;
      const rerun = rerunParent(event.timerCreated as RerunInfo);
      if (rerun) details += `,${rerun}`;
      const origin = timerOrigin(event);
      if (origin) details += `,origin=${origin.attrVal !== "" ? `${origin.kind}(${origin.attrVal})` : origin.kind}`;
      return details;
    }
    case "eventRaised":
      return `event=${event.eventRaised?.name ?? ""}`;
    case "eventSent":
      return `event=${event.eventSent?.name ?? ""}->${event.eventSent?.instanceId ?? ""}`;
    case "executionStarted": {
      const parent = event.executionStarted?.parentInstance;
      return parent ? `workflowStart,parent=${parent.workflowInstance?.instanceId ?? ""}` : "workflowStart";
    }
    case "workflowStarted":
      return "replay";
    case "taskCompleted":
      return `eventId=${event.taskCompleted?.taskScheduledId ?? 0}`;
    case "executionCompleted":
      return `execDuration=${humanizeDuration(diffNs(first.timestamp, event.timestamp))}`;
    case "childWorkflowInstanceCreated":
      return rerunParent(event.childWorkflowInstanceCreated as RerunInfo) ?? null;
    case "childWorkflowInstanceCompleted":
      return `eventId=${event.childWorkflowInstanceCompleted?.taskScheduledId ?? 0}`;
    default:
      return null;
  }
}

function addAttr(row: HistoryRow, key: string, value: string): void {
  if (value === "") return;
  row.attrs = row.attrs === undefined ? `${key}=${value}` : `${row.attrs};${key}=${value}`;
}

/** Dapr's trim(): JSON-unquote the payload when it is a JSON string, then cut to `limit` runes plus "…". */
export function trimPayload(value: StringValue | string | undefined, limit: number): string {
  if (value === undefined) return "";
  const raw = typeof value === "string" ? value : (value.value ?? "");
  let s = raw;
  try {
    const parsed: unknown = JSON.parse(raw);
    if (typeof parsed === "string") s = parsed;
  } catch {
    // not JSON: shown as is
  }
  if (limit <= 0 || Buffer.byteLength(s, "utf8") <= limit) return s;
  const runes = [...s];
  if (runes.length <= limit) return s;
  return `${runes.slice(0, limit).join("")}\u2026`;
}

/**
 * Dapr's flatTags: up to 6 `k=v` pairs, sorted, `,…` when there are more. Dapr takes the first 6 in Go's random map
 * order before sorting; we take the first 6 keys in sorted order so the output is deterministic.
 */
function flatTags(tags: Record<string, string>, max: number): string {
  const keys = Object.keys(tags).sort(); // keys are compared by UTF-16 code unit: fine for tag names
  const parts = keys.slice(0, max).map((k) => `${k}=${tags[k]}`);
  return parts.join(",") + (keys.length > max ? ",\u2026" : "");
}

function addAttrsAndIds(row: HistoryRow, event: HistoryEvent): void {
  switch (eventTypeOf(event)) {
    case "executionStarted": {
      const e = event.executionStarted!;
      if (e.workflowInstance?.executionId) row.executionId = e.workflowInstance.executionId.value ?? "";
      if (e.input) addAttr(row, "input", trimPayload(e.input, 120));
      if (e.tags && Object.keys(e.tags).length > 0) addAttr(row, "tags", flatTags(e.tags, 6));
      break;
    }
    case "executionStalled": {
      const e = event.executionStalled!;
      const reason = e.reason ?? 0;
      addAttr(row, "reason", STALLED_REASONS[reason] ?? String(reason));
      if (e.description !== undefined) addAttr(row, "description", trimPayload(e.description, 120));
      break;
    }
    case "taskScheduled": {
      const e = event.taskScheduled!;
      row.eventId ??= 0;
      if (e.taskExecutionId) row.executionId = e.taskExecutionId;
      if (e.input) addAttr(row, "input", trimPayload(e.input, 120));
      break;
    }
    case "taskCompleted": {
      const e = event.taskCompleted!;
      addAttr(row, "scheduledId", String(e.taskScheduledId ?? 0));
      if (e.taskExecutionId) row.executionId = e.taskExecutionId;
      if (e.result) addAttr(row, "output", trimPayload(e.result, 120));
      break;
    }
    case "workflowStarted": {
      const version = event.workflowStarted?.version;
      if (version) {
        if (version.name !== undefined) addAttr(row, "versionName", version.name);
        if (version.patches && version.patches.length > 0) addAttr(row, "versionPatches", version.patches.join(","));
      }
      break;
    }
    case "childWorkflowInstanceCreated": {
      const e = event.childWorkflowInstanceCreated!;
      if (e.input) addAttr(row, "input", trimPayload(e.input, 120));
      break;
    }
    case "childWorkflowInstanceCompleted": {
      const e = event.childWorkflowInstanceCompleted!;
      if (e.result) addAttr(row, "output", trimPayload(e.result, 120));
      break;
    }
    case "taskFailed": {
      const e = event.taskFailed!;
      addAttr(row, "scheduledId", String(e.taskScheduledId ?? 0));
      if (e.taskExecutionId) row.executionId = e.taskExecutionId;
      const fd = e.failureDetails;
      if (fd) {
        if (fd.errorType) addAttr(row, "errorType", fd.errorType);
        if (fd.errorMessage) addAttr(row, "errorMsg", trimPayload(fd.errorMessage, 160));
        if (fd.isNonRetriable) addAttr(row, "nonRetriable", "true");
      }
      break;
    }
    case "timerCreated": {
      const e = event.timerCreated!;
      row.eventId ??= 0;
      if (e.name !== undefined) addAttr(row, "timerName", e.name);
      addAttr(row, "fireAt", rfc3339FromSeconds(seconds(e.fireAt)));
      const origin = timerOrigin(event);
      if (origin) {
        addAttr(row, "origin", origin.kind);
        if (origin.attrKey !== "") addAttr(row, origin.attrKey, origin.attrVal);
      }
      break;
    }
    case "timerFired": {
      const e = event.timerFired!;
      addAttr(row, "timerId", String(e.timerId ?? 0));
      addAttr(row, "fireAt", rfc3339FromSeconds(seconds(e.fireAt)));
      break;
    }
    case "eventRaised": {
      const e = event.eventRaised!;
      addAttr(row, "eventName", e.name ?? "");
      if (e.input) addAttr(row, "payload", trimPayload(e.input, 120));
      break;
    }
    case "eventSent": {
      const e = event.eventSent!;
      addAttr(row, "eventName", e.name ?? "");
      if (e.input) addAttr(row, "payload", trimPayload(e.input, 120));
      addAttr(row, "targetInstance", e.instanceId ?? "");
      break;
    }
    case "executionCompleted": {
      const e = event.executionCompleted!;
      if (e.result) addAttr(row, "output", trimPayload(e.result, 160));
      const fd = e.failureDetails;
      if (fd) {
        if (fd.errorType) addAttr(row, "failureType", fd.errorType);
        if (fd.errorMessage) addAttr(row, "failureMessage", trimPayload(fd.errorMessage, 160));
      }
      break;
    }
    default:
      break;
  }
}

/** HistoryOutputShort cells: `-` stands in for a missing name, event ID or details. */
export function historyShortCells(row: HistoryRow): string[] {
  return [
    row.type,
    row.name ?? "-",
    row.eventId === undefined ? "-" : String(row.eventId),
    row.elapsed,
    row.status,
    row.details ?? "-",
  ];
}

export function historyWideCells(row: HistoryRow): string[] {
  return [
    String(row.play),
    row.type,
    row.name ?? "",
    row.eventId === undefined ? "" : String(row.eventId),
    row.timestamp,
    row.elapsed,
    row.status,
    row.details ?? "",
    row.router ?? "",
    row.executionId ?? "",
    row.attrs ?? "",
  ];
}
