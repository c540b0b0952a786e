/**
 * Runtime status and the derived instance fields, following durabletask-go backend/runtimestate/runtimestate.go
 * (docs/dapr-state-store.md §3.1): derived from the *history* only; the inbox does not count.
 */
import type { FailureDetails, HistoryEvent } from "./history-event.ts";
import { eventTypeOf, timestampToDate } from "./history-event.ts";

export const RUNTIME_STATUSES = [
  "RUNNING",
  "COMPLETED",
  "CONTINUED_AS_NEW",
  "FAILED",
  "CANCELED",
  "TERMINATED",
  "PENDING",
  "SUSPENDED",
  "STALLED",
] as const;
/**
 * A known status name, or "" for an ExecutionCompleted status number this version does not know: Dapr's CLI prints
 * "" for it (durabletask-go workflow/state.go WorkflowMetadata.String, `default: return ""`).
 */
export type RuntimeStatus = (typeof RUNTIME_STATUSES)[number] | "";

/** OrchestrationStatus enum numbers (durabletask orchestrator_service.proto). */
const STATUS_BY_NUMBER: Record<number, RuntimeStatus> = {
  0: "RUNNING",
  1: "COMPLETED",
  2: "CONTINUED_AS_NEW",
  3: "FAILED",
  4: "CANCELED",
  5: "TERMINATED",
  6: "PENDING",
  7: "SUSPENDED",
  8: "STALLED",
};

export function statusFromNumber(n: number | undefined): RuntimeStatus {
  return STATUS_BY_NUMBER[n ?? 0] ?? "";
}

export function statusToNumber(status: (typeof RUNTIME_STATUSES)[number]): number {
  return RUNTIME_STATUSES.indexOf(status);
}

/** Terminal for purge: the runtime refuses to purge anything without an ExecutionCompleted. */
export const TERMINAL_STATUSES: ReadonlySet<RuntimeStatus> = new Set([
  "COMPLETED",
  "CONTINUED_AS_NEW",
  "FAILED",
  "CANCELED",
  "TERMINATED",
]);

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
    createdAt: timestampToDate(start?.timestamp),
    lastUpdatedAt: timestampToDate(last?.timestamp),
    completedAt: timestampToDate(completed?.timestamp),
    input: (start ?? startForName)?.executionStarted?.input?.value,
    output: completed?.executionCompleted?.result?.value,
    failureDetails: completed?.executionCompleted?.failureDetails,
    parentInstanceId: startForName?.executionStarted?.parentInstance?.workflowInstance?.instanceId,
    parentAppId: startForName?.executionStarted?.parentInstance?.appID || undefined,
    // An unknown status number is not terminal for the Dapr CLI either: never purge it.
    isTerminal: completed !== undefined && TERMINAL_STATUSES.has(runtimeStatus),
  };
}
