/** Small conversions both transports share: payload text, Dapr's zero time, the HTTP GET body. */

import { RUNTIME_STATUSES } from "../workflow/status-names.ts";
import { SidecarError, type SidecarOperation } from "./errors.ts";
import type { PayloadOptions, SidecarRuntimeStatus, WorkflowInstanceMetadata } from "./types.ts";

/** The payload text to send, or undefined for none. `input` is JSON-serialized; `rawInput` goes as is. */
export function payloadText(options: PayloadOptions | undefined, operation: SidecarOperation): string | undefined {
  if (!options) return undefined;
  if (options.input !== undefined && options.rawInput !== undefined) {
    throw new SidecarError("bad-request", "give either input or rawInput, not both", {
      operation,
      errorCode: "INPUT_AND_RAW_INPUT",
    });
  }
  if (options.rawInput !== undefined) return options.rawInput;
  if (options.input === undefined) return undefined;
  const text = JSON.stringify(options.input);
  if (text === undefined) {
    throw new SidecarError("bad-request", "the input cannot be serialized as JSON", {
      operation,
      errorCode: "INPUT_NOT_JSON",
    });
  }
  return text;
}

/** Go's zero time (timestamppb.New(time.Time{})) is how Dapr says "no time"; -62135596800 seconds. */
export const GO_ZERO_TIME_SECONDS = -62_135_596_800;

/** A protojson Timestamp string as a Date; undefined for Go's zero time or anything unreadable. */
export function dateFromProtoJson(value: unknown): Date | undefined {
  if (typeof value !== "string" || value.startsWith("0001-01-01T00:00:00")) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

/** seconds/nanos as a Date; undefined for Go's zero time or a missing timestamp. */
export function dateFromSeconds(seconds: number | undefined, nanos = 0): Date | undefined {
  if (seconds === undefined || seconds <= GO_ZERO_TIME_SECONDS) return undefined;
  return new Date(seconds * 1000 + Math.floor(nanos / 1e6));
}

const KNOWN_STATUSES = new Set<string>(RUNTIME_STATUSES);

function runtimeStatusOf(value: unknown): SidecarRuntimeStatus {
  return typeof value === "string" && KNOWN_STATUSES.has(value) ? (value as SidecarRuntimeStatus) : "UNKNOWN";
}

/**
 * The body of HTTP GET /workflows/dapr/{id} (protojson GetWorkflowResponse: instanceID, workflowName, createdAt,
 * lastUpdatedAt, runtimeStatus, properties; empty fields omitted). Undefined for the not-found answer of Dapr ≤1.15,
 * which was a 200 carrying only `instanceID` (1.16+ answers 404 ERR_INSTANCE_ID_NOT_FOUND instead).
 */
export function metadataFromHttpBody(body: unknown, instanceId: string): WorkflowInstanceMetadata | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const o = body as Record<string, unknown>;
  if (o.runtimeStatus === undefined && o.properties === undefined) return undefined;
  const properties: Record<string, string> = {};
  if (typeof o.properties === "object" && o.properties !== null) {
    for (const [k, v] of Object.entries(o.properties)) if (typeof v === "string") properties[k] = v;
  }
  const errorType = properties["dapr.workflow.failure.error_type"];
  const errorMessage = properties["dapr.workflow.failure.error_message"];
  return {
    instanceId: typeof o.instanceID === "string" ? o.instanceID : instanceId,
    workflowName: typeof o.workflowName === "string" ? o.workflowName : "",
    runtimeStatus: runtimeStatusOf(o.runtimeStatus),
    createdAt: dateFromProtoJson(o.createdAt),
    lastUpdatedAt: dateFromProtoJson(o.lastUpdatedAt),
    input: properties["dapr.workflow.input"],
    output: properties["dapr.workflow.output"],
    customStatus: properties["dapr.workflow.custom_status"],
    failure:
      errorType !== undefined || errorMessage !== undefined
        ? {
            errorType: errorType ?? "",
            errorMessage: errorMessage ?? "",
            stackTrace: properties["dapr.workflow.failure.stack_trace"],
          }
        : undefined,
    properties,
  };
}
