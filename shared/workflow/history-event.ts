/**
 * Typed view of a decoded durabletask HistoryEvent (the object shape protobufjs produces from schema.ts, field names
 * as in the .proto). Only the fields this tool reads are typed; everything else is still carried through.
 */
import { HousekeeperError } from "../errors.ts";
import { HistoryEventType, MetadataType, StringValueType } from "./schema.ts";

export interface Timestamp {
  seconds?: number;
  nanos?: number;
}
export interface StringValue {
  value?: string;
}
export interface FailureDetails {
  errorType?: string;
  errorMessage?: string;
  stackTrace?: StringValue;
  innerFailure?: FailureDetails;
  isNonRetriable?: boolean;
}
export interface WorkflowInstanceRef {
  instanceId?: string;
  executionId?: StringValue;
}
export interface TaskRouter {
  sourceAppID?: string;
  targetAppID?: string;
  targetAppNamespace?: string;
}

export const EVENT_TYPES = [
  "executionStarted",
  "executionCompleted",
  "executionTerminated",
  "taskScheduled",
  "taskCompleted",
  "taskFailed",
  "childWorkflowInstanceCreated",
  "childWorkflowInstanceCompleted",
  "childWorkflowInstanceFailed",
  "timerCreated",
  "timerFired",
  "workflowStarted",
  "workflowCompleted",
  "eventSent",
  "eventRaised",
  "continueAsNew",
  "executionSuspended",
  "executionResumed",
  "executionStalled",
  "detachedWorkflowInstanceCreated",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface HistoryEvent {
  eventId?: number;
  timestamp?: Timestamp;
  /** The oneof member that is set; undefined for an event type this schema does not know (newer Dapr). */
  eventType?: EventType;
  router?: TaskRouter;
  executionStarted?: {
    name?: string;
    version?: StringValue;
    input?: StringValue;
    workflowInstance?: WorkflowInstanceRef;
    parentInstance?: {
      taskScheduledId?: number;
      name?: StringValue;
      workflowInstance?: WorkflowInstanceRef;
      appID?: string;
    };
    scheduledStartTimestamp?: Timestamp;
    tags?: Record<string, string>;
  };
  executionCompleted?: { workflowStatus?: number; result?: StringValue; failureDetails?: FailureDetails };
  executionTerminated?: { input?: StringValue; recurse?: boolean };
  taskScheduled?: { name?: string; input?: StringValue; taskExecutionId?: string };
  taskCompleted?: { taskScheduledId?: number; result?: StringValue; taskExecutionId?: string };
  taskFailed?: { taskScheduledId?: number; failureDetails?: FailureDetails; taskExecutionId?: string };
  childWorkflowInstanceCreated?: { instanceId?: string; name?: string; input?: StringValue };
  childWorkflowInstanceCompleted?: { taskScheduledId?: number; result?: StringValue };
  childWorkflowInstanceFailed?: { taskScheduledId?: number; failureDetails?: FailureDetails };
  timerCreated?: {
    fireAt?: Timestamp;
    name?: string;
    origin?: "createTimer" | "externalEvent" | "activityRetry" | "childWorkflowRetry";
    createTimer?: Record<string, never>;
    externalEvent?: { name?: string };
  };
  timerFired?: { fireAt?: Timestamp; timerId?: number };
  workflowStarted?: { version?: { patches?: string[]; name?: string } };
  workflowCompleted?: Record<string, never>;
  eventSent?: { instanceId?: string; name?: string; input?: StringValue };
  eventRaised?: { name?: string; input?: StringValue };
  continueAsNew?: { input?: StringValue };
  executionSuspended?: { input?: StringValue };
  executionResumed?: { input?: StringValue };
  executionStalled?: { reason?: number; description?: string };
  detachedWorkflowInstanceCreated?: { instanceId?: string };
}

export interface WorkflowStateMetadata {
  inboxLength: number;
  historyLength: number;
  generation: number;
  signatureLength: number;
  signingCertificateLength: number;
  externalSigningCertificateLength: number;
}

const TO_OBJECT = { longs: Number, enums: Number, oneofs: true, defaults: false } as const;

/** Decodes one `history-*` / `inbox-*` value. Throws HousekeeperError("corrupt-data") naming the problem. */
export function decodeHistoryEvent(bytes: Uint8Array): HistoryEvent {
  try {
    const message = HistoryEventType.decode(bytes);
    return HistoryEventType.toObject(message, TO_OBJECT) as HistoryEvent;
  } catch (error) {
    throw new HousekeeperError("corrupt-data", `not a protobuf HistoryEvent (${describeDecodeError(error)})`, {
      cause: error,
    });
  }
}

export function encodeHistoryEvent(event: HistoryEvent): Uint8Array {
  const { eventType: _virtual, ...fields } = event;
  return HistoryEventType.encode(HistoryEventType.fromObject(fields)).finish();
}

/**
 * Decodes the `metadata` value: protobuf BackendWorkflowStateMetadata (Dapr 1.15+), or the legacy JSON object
 * `{"InboxLength":n,"HistoryLength":n,"Generation":n}` of Dapr 1.10–1.14, which Dapr itself still reads.
 */
export function decodeMetadata(bytes: Uint8Array): WorkflowStateMetadata {
  const legacy = tryParseLegacyJsonMetadata(bytes);
  if (legacy) return legacy;
  try {
    const o = MetadataType.toObject(MetadataType.decode(bytes), { longs: Number, defaults: true });
    return {
      inboxLength: o.inboxLength,
      historyLength: o.historyLength,
      generation: o.generation,
      signatureLength: o.signatureLength,
      signingCertificateLength: o.signingCertificateLength,
      externalSigningCertificateLength: o.externalSigningCertificateLength,
    };
  } catch (error) {
    throw new HousekeeperError(
      "corrupt-data",
      `metadata is neither protobuf nor legacy JSON (${describeDecodeError(error)})`,
      {
        cause: error,
      },
    );
  }
}

export function encodeMetadata(metadata: Partial<WorkflowStateMetadata>): Uint8Array {
  return MetadataType.encode(MetadataType.fromObject(metadata)).finish();
}

function tryParseLegacyJsonMetadata(bytes: Uint8Array): WorkflowStateMetadata | undefined {
  if (bytes[0] !== 0x7b /* { */) return undefined;
  try {
    const o = JSON.parse(Buffer.from(bytes).toString("utf8")) as Record<string, unknown>;
    const count = (v: unknown) => (typeof v === "number" && Number.isInteger(v) && v >= 0 ? v : 0);
    // Dapr reads this with json.Unmarshal into a struct (dapr pkg/runtime/wfengine/state/state.go
    // legacyWorkflowStateMetadata), which matches keys case-insensitively, the last match winning. MongoDB state
    // of Dapr 1.10–1.14 needs it: the Go driver stored the struct as a BSON document with lower-case field names.
    const field = (name: string) => {
      let value: unknown;
      for (const [key, v] of Object.entries(o)) if (goFoldKey(key) === name) value = v;
      return count(value);
    };
    return {
      inboxLength: field("inboxlength"),
      historyLength: field("historylength"),
      generation: field("generation"),
      signatureLength: 0,
      signingCertificateLength: 0,
      externalSigningCertificateLength: 0,
    };
  } catch {
    return undefined;
  }
}

/**
 * A JSON key as Go's encoding/json compares it with a field name: Unicode simple case folding, which for these ASCII
 * names also lets U+017F (long s) stand for "s" and U+212A (Kelvin sign) for "k".
 */
function goFoldKey(key: string): string {
  return key
    .replace(/\u017f/g, "s")
    .replace(/\u212a/g, "k")
    .toLowerCase();
}

/**
 * Decodes `customStatus`: protobuf StringValue (1.15+), falling back to a JSON string (≤1.14) as Dapr's loader does.
 * An empty value is an empty StringValue, i.e. "".
 */
export function decodeCustomStatus(bytes: Uint8Array): string {
  if (bytes.length === 0) return "";
  try {
    const o = StringValueType.toObject(StringValueType.decode(bytes)) as StringValue;
    return o.value ?? "";
  } catch (protobufError) {
    try {
      const parsed: unknown = JSON.parse(Buffer.from(bytes).toString("utf8"));
      if (typeof parsed === "string") return parsed;
    } catch {
      // fall through to the protobuf error, which is the one that matters for 1.15+
    }
    throw new HousekeeperError("corrupt-data", `customStatus is neither a protobuf StringValue nor a JSON string`, {
      cause: protobufError,
    });
  }
}

export function encodeCustomStatus(value: string): Uint8Array {
  return StringValueType.encode(StringValueType.fromObject({ value })).finish();
}

export function timestampToDate(ts: Timestamp | undefined): Date | undefined {
  if (!ts) return undefined;
  const ms = (ts.seconds ?? 0) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6);
  return new Date(ms);
}

export function dateToTimestamp(date: Date): Timestamp {
  const ms = date.getTime();
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: (ms - seconds * 1000) * 1e6 };
}

function describeDecodeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The event's type: the decoder's oneof name, or for a hand-built event, whichever member is set. */
export function eventTypeOf(event: HistoryEvent): EventType | undefined {
  return event.eventType ?? EVENT_TYPES.find((type) => event[type] !== undefined);
}
