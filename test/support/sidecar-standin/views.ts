/**
 * What the sidecar reports about an instance, derived as dapr master does: backends/actors/actors.go
 * GetWorkflowMetadata builds the runtime state from *history only* (a PENDING instance has no name and Go's zero
 * time), and pkg/api/universal/workflow.go GetWorkflow turns it into the HTTP/gRPC GetWorkflowResponse: the status
 * string map stops at SUSPENDED (STALLED → "UNKNOWN"), `properties` carry input/custom status when present (even
 * empty), output only when there is no failure, and the failure fields.
 */
import type { InstanceRecord } from "../../../shared/state-store/workflow-store.ts";
import type { FailureDetails, StringValue, Timestamp } from "../../../shared/workflow/history-event.ts";
import { deriveState, statusToNumber } from "../../../shared/workflow/runtime-status.ts";

export const GO_ZERO_TIMESTAMP: Timestamp = { seconds: -62_135_596_800, nanos: 0 };

export interface DaprWorkflowMetadata {
  instanceId: string;
  name: string;
  /** durabletask OrchestrationStatus number. */
  status: number;
  createdAt: Timestamp;
  lastUpdatedAt: Timestamp;
  input: StringValue | undefined;
  output: StringValue | undefined;
  customStatus: StringValue | undefined;
  failureDetails: FailureDetails | undefined;
}

export function workflowMetadata(record: InstanceRecord): DaprWorkflowMetadata {
  const history = record.history;
  const derived = deriveState(history, []);
  const start = history.find((e) => e.executionStarted);
  const completed = history.find((e) => e.executionCompleted);
  const last = history.at(-1);
  const presence = (value: StringValue | undefined) => (value ? { value: value.value ?? "" } : undefined);
  return {
    instanceId: record.instanceId,
    name: start?.executionStarted?.name ?? "",
    status:
      derived.runtimeStatus === ""
        ? (completed?.executionCompleted?.workflowStatus ?? 0)
        : statusToNumber(derived.runtimeStatus),
    createdAt: start?.timestamp ?? GO_ZERO_TIMESTAMP,
    lastUpdatedAt: (start ? last?.timestamp : undefined) ?? GO_ZERO_TIMESTAMP,
    input: presence(start?.executionStarted?.input),
    output: presence(completed?.executionCompleted?.result),
    customStatus: record.customStatus === undefined ? undefined : { value: record.customStatus },
    failureDetails: completed?.executionCompleted?.failureDetails,
  };
}

const STATUS_STRINGS = [
  "RUNNING",
  "COMPLETED",
  "CONTINUED_AS_NEW",
  "FAILED",
  "CANCELED",
  "TERMINATED",
  "PENDING",
  "SUSPENDED",
];

/** universal/workflow.go getStatusString. */
export function statusString(status: number): string {
  return STATUS_STRINGS[status] ?? "UNKNOWN";
}

/** protojson's Timestamp form: RFC 3339 in UTC, with 0, 3, 6 or 9 fractional digits. */
export function protoJsonTimestamp(ts: Timestamp): string {
  const seconds = ts.seconds ?? 0;
  const nanos = ts.nanos ?? 0;
  const base = new Date(seconds * 1000).toISOString().slice(0, 19);
  let fraction = "";
  if (nanos !== 0) {
    const digits = String(nanos).padStart(9, "0");
    fraction = `.${nanos % 1e6 === 0 ? digits.slice(0, 3) : nanos % 1e3 === 0 ? digits.slice(0, 6) : digits}`;
  }
  return `${base}${fraction}Z`;
}

/** The HTTP GET body: protojson of GetWorkflowResponse (field order, empty fields omitted). */
export function httpGetBody(meta: DaprWorkflowMetadata): Record<string, unknown> {
  const properties: Record<string, string> = {};
  if (meta.customStatus) properties["dapr.workflow.custom_status"] = meta.customStatus.value ?? "";
  if (meta.input) properties["dapr.workflow.input"] = meta.input.value ?? "";
  if (meta.output && !meta.failureDetails) properties["dapr.workflow.output"] = meta.output.value ?? "";
  if (meta.failureDetails) {
    properties["dapr.workflow.failure.error_type"] = meta.failureDetails.errorType ?? "";
    properties["dapr.workflow.failure.error_message"] = meta.failureDetails.errorMessage ?? "";
    if (meta.failureDetails.stackTrace) {
      properties["dapr.workflow.failure.stack_trace"] = meta.failureDetails.stackTrace.value ?? "";
    }
  }
  const body: Record<string, unknown> = { instanceID: meta.instanceId };
  if (meta.name !== "") body.workflowName = meta.name;
  body.createdAt = protoJsonTimestamp(meta.createdAt);
  body.lastUpdatedAt = protoJsonTimestamp(meta.lastUpdatedAt);
  body.runtimeStatus = statusString(meta.status);
  if (Object.keys(properties).length > 0) body.properties = properties;
  return body;
}
