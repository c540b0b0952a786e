/**
 * Runtime status and the derived instance fields, following durabletask-go backend/runtimestate/runtimestate.go
 * (docs/dapr-state-store.md §3.1): derived from the *history* only; the inbox does not count.
 */
import type { FailureDetails, HistoryEvent, Timestamp } from "./history-event.ts";
import { eventTypeOf, timestampToDate } from "./history-event.ts";
import { type RuntimeStatus, statusFromNumber, TERMINAL_STATUSES } from "./status-names.ts";

// The names and numbers live in status-names.ts, which loads nothing else (the CLI's help text needs them).
export {
  RUNTIME_STATUSES,
  type RuntimeStatus,
  statusFromNumber,
  statusToNumber,
  TERMINAL_STATUSES,
} from "./status-names.ts";

export interface DerivedState {
  name: string;
  runtimeStatus: RuntimeStatus;
  /** Timestamp of the ExecutionStarted history event; undefined for PENDING instances (Dapr shows the zero time). */
  createdAt: Date | undefined;
  /** Timestamp of the last history event; undefined when not started. */
  lastUpdatedAt: Date | undefined;
  completedAt: Date | undefined;
  input: string | undefined;
  output: string | undefined;
  failureDetails: FailureDetails | undefined;
  parentInstanceId: string | undefined;
  /** The app hosting the parent when it is another app's (cross-app child workflow); undefined for this app. */
  parentAppId: string | undefined;
  /** True when history holds an ExecutionCompleted with a known terminal status: only such instances may be purged. */
  isTerminal: boolean;
}

export function deriveState(history: readonly HistoryEvent[], inbox: readonly HistoryEvent[] = []): DerivedState {
  let start: HistoryEvent | undefined;
  let completed: HistoryEvent | undefined;
  let suspended = false;
  let stalled = false;
  for (const event of history) {
    const type = eventTypeOf(event);
    switch (type) {
      case "executionStarted":
        start ??= event;
        break;
      case "executionCompleted":
        completed ??= event;
        break;
      case "executionSuspended":
        suspended = true;
        break;
      case "executionResumed":
        suspended = false;
        break;
      default:
        break;
    }
    // Any event after a stall clears it; the stall itself sets it.
    stalled = type === "executionStalled";
  }

  let runtimeStatus: RuntimeStatus;
  if (!start) runtimeStatus = stalled ? "STALLED" : "PENDING";
  else if (completed) runtimeStatus = statusFromNumber(completed.executionCompleted?.workflowStatus);
  else if (stalled) runtimeStatus = "STALLED";
  else if (suspended) runtimeStatus = "SUSPENDED";
  else runtimeStatus = "RUNNING";

  // Dapr's GetInstance leaves the name empty for a PENDING instance; the orchestrator's own metadata falls back to
  // the inbox ExecutionStarted. We take the fallback: an operator wants to see what is pending.
  const startForName = start ?? inbox.find((e) => eventTypeOf(e) === "executionStarted");
  // Not started: no last-update time (zero time in Dapr), even when the history holds an ExecutionStalled
  // (durabletask-go backend/runtimestate/runtimestate.go LastUpdatedTime).
  const last = start ? history.at(-1) : undefined;
  return {
    name: startForName?.executionStarted?.name ?? "",
    runtimeStatus,
    createdAt: validTimestamp(start?.timestamp, "ExecutionStarted"),
    lastUpdatedAt: validTimestamp(last?.timestamp, "last history event"),
    completedAt: validTimestamp(completed?.timestamp, "ExecutionCompleted"),
    input: (start ?? startForName)?.executionStarted?.input?.value,
    output: completed?.executionCompleted?.result?.value,
    failureDetails: completed?.executionCompleted?.failureDetails,
    parentInstanceId: startForName?.executionStarted?.parentInstance?.workflowInstance?.instanceId,
    parentAppId: startForName?.executionStarted?.parentInstance?.appID || undefined,
    // An unknown status number is not terminal for the Dapr CLI either: never purge it.
    isTerminal: completed !== undefined && TERMINAL_STATUSES.has(runtimeStatus),
  };
}

/** google.protobuf.Timestamp's documented range (timestamp.proto): 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z. */
const MIN_TIMESTAMP_SECONDS = -62_135_596_800;
const MAX_TIMESTAMP_SECONDS = 253_402_300_799;

/**
 * The times a status is derived from, refused outside Timestamp's range: such an instance is unreadable (it once was
 * listed with an invalid date and could be judged by it), never shown with a time it does not have.
 */
function validTimestamp(ts: Timestamp | undefined, what: string): Date | undefined {
  if (!ts) return undefined;
  const seconds = ts.seconds ?? 0;
  const nanos = ts.nanos ?? 0;
  if (seconds < MIN_TIMESTAMP_SECONDS || seconds > MAX_TIMESTAMP_SECONDS || nanos < 0 || nanos > 999_999_999) {
    throw new RangeError(`the ${what} timestamp (${seconds} s, ${nanos} ns) is outside 0001-01-01..9999-12-31`);
  }
  return timestampToDate(ts);
}
