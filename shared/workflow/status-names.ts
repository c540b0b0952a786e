/**
 * Runtime status names and their OrchestrationStatus numbers (durabletask orchestrator_service.proto). Kept apart from
 * runtime-status.ts, which derives statuses from decoded history, so that code needing only the names (the CLI's
 * command tree and help) loads no protobuf code.
 */
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
export const TERMINAL_STATUS_NAMES = ["COMPLETED", "FAILED", "TERMINATED", "CANCELED", "CONTINUED_AS_NEW"] as const;
export const TERMINAL_STATUSES: ReadonlySet<RuntimeStatus> = new Set(TERMINAL_STATUS_NAMES);

/**
 * Finished for good: the Dapr CLI's "terminal" (durabletask WorkflowMetadataIsComplete, used by
 * `dapr workflow purge --all`). CONTINUED_AS_NEW is not: the instance goes on as a new generation.
 */
export const FINISHED_STATUSES: ReadonlySet<RuntimeStatus> = new Set(["COMPLETED", "FAILED", "TERMINATED", "CANCELED"]);
