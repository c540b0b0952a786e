/**
 * Lean decoding of a HistoryEvent for listings: the event's type, ID, timestamp and router always; the fields of only
 * the few members a summary derives something from (ExecutionStarted: name, parent; ExecutionCompleted: status,
 * failure; ChildWorkflowInstanceCreated: the child's ID). Every other member is skipped on the wire, so an activity's
 * input or result — most of a history's bytes — is never turned into strings and objects. A listing spends most of
 * its time on exactly that garbage (profile: ~40% GC with full decoding).
 *
 * Analysis decoding (decodeAnalysisHistoryEvent) is the same walk for the stuck report's scan: it also keeps what
 * shared/jobs/stuck-report/analyze.ts reads (timers, the names of activities and awaited events, the task IDs that
 * settle them, stall and suspend reasons), taking single fields out of members that carry an input or a result.
 *
 * Field numbers come from the same schema as the full decoder (schema.ts, dapr/durabletask-protobuf
 * protos/orchestrator_service.proto), so the two cannot disagree on which member is which. A message the full
 * decoder refuses at the top level (truncated, bad wire type) is refused here too; the inside of a skipped member is
 * not looked at (`workflow history`, which decodes in full, still reports it).
 */
import protobuf from "protobufjs";
import { errorMessage, HousekeeperError } from "../errors.ts";
import type { EventType, HistoryEvent, Timestamp } from "./history-event.ts";
import { HistoryEventType } from "./schema.ts";

/** The members whose fields a summary reads (workflow-store.ts buildRecord via runtime-status.ts deriveState). */
const SUMMARY_MEMBERS: Readonly<Partial<Record<EventType, MemberFields>>> = {
  executionStarted: "all",
  executionCompleted: "all",
  childWorkflowInstanceCreated: "all",
};
/**
 * What the stuck report's analysis reads besides (shared/jobs/stuck-report/analyze.ts analyzeInstance): small members
 * in full; of the members that carry an input or a result (most of a history's bytes), only the name or the ID they
 * pair on.
 */
const ANALYSIS_MEMBERS: Readonly<Partial<Record<EventType, MemberFields>>> = {
  // What deriveState and childWorkflowsOf read, and a PENDING instance's scheduled start; not inputs or results.
  executionStarted: ["name", "parentInstance", "scheduledStartTimestamp"],
  executionCompleted: ["workflowStatus", "failureDetails"],
  childWorkflowInstanceCreated: ["instanceId", "name"],
  timerCreated: "all",
  timerFired: "all",
  executionStalled: "all",
  executionSuspended: "all",
  taskScheduled: ["name"],
  eventRaised: ["name"],
  taskCompleted: ["taskScheduledId"],
  taskFailed: ["taskScheduledId"],
  childWorkflowInstanceCompleted: ["taskScheduledId"],
  childWorkflowInstanceFailed: ["taskScheduledId"],
};
/** A member decoded whole, or only these of its fields (scalars or messages; the rest skipped on the wire). */
type MemberFields = "all" | readonly string[];
const TO_OBJECT = { longs: Number, enums: Number, oneofs: true, defaults: false } as const;

HistoryEventType.root.resolveAll();
const EVENT_ID_FIELD = HistoryEventType.fields.eventId!.id;
const TIMESTAMP_FIELD = HistoryEventType.fields.timestamp!.id;
const ROUTER = HistoryEventType.fields.router!;
const LENGTH_DELIMITED = 2;

interface Member {
  type: EventType;
  /** The member's message type, when any of it is decoded. */
  decode: protobuf.Type | undefined;
  /** Decode only these fields (by field number); undefined: the whole member. */
  only: Map<number, protobuf.Field> | undefined;
}

function membersFor(decoded: Readonly<Partial<Record<EventType, MemberFields>>>): Map<number, Member> {
  return new Map(
    HistoryEventType.oneofs.eventType!.fieldsArray.map((field) => {
      const type = field.name as EventType;
      const fields = decoded[type];
      const message = field.resolvedType as protobuf.Type;
      const only =
        fields === undefined || fields === "all"
          ? undefined
          : new Map(
              fields.map((name) => {
                const f = message.fields[name];
                if (!f) throw new Error(`${type} has no field ${name}`); // a typo here, caught at load
                return [f.id, f] as const;
              }),
            );
      return [field.id, { type, decode: fields === undefined ? undefined : message, only }] as const;
    }),
  );
}
const SUMMARY = membersFor(SUMMARY_MEMBERS);
const ANALYSIS = membersFor(ANALYSIS_MEMBERS);

/** Decodes what a listing needs of one `history-*` / `inbox-*` value; throws HousekeeperError on a malformed one. */
export function decodeLeanHistoryEvent(bytes: Uint8Array): HistoryEvent {
  return decodeReporting(bytes, SUMMARY);
}

/**
 * Decodes what a listing needs plus what the stuck report's analysis reads (pending timers, activities, child
 * workflows, awaited event names, stall and suspend reasons); inputs and results are still skipped.
 */
export function decodeAnalysisHistoryEvent(bytes: Uint8Array): HistoryEvent {
  return decodeReporting(bytes, ANALYSIS);
}

function decodeReporting(bytes: Uint8Array, members: Map<number, Member>): HistoryEvent {
  try {
    return decodeLean(bytes, members);
  } catch (error) {
    throw new HousekeeperError("corrupt-data", `not a protobuf HistoryEvent (${errorMessage(error)})`, {
      cause: error,
    });
  }
}

function decodeLean(bytes: Uint8Array, members: Map<number, Member>): HistoryEvent {
  const reader = protobuf.Reader.create(bytes);
  const event: HistoryEvent = {};
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    const field = tag >>> 3;
    const wireType = tag & 7;
    if (field === EVENT_ID_FIELD && wireType === 0) {
      event.eventId = reader.int32();
    } else if (field === TIMESTAMP_FIELD && wireType === LENGTH_DELIMITED) {
      event.timestamp = readTimestamp(reader);
    } else if (field === ROUTER.id && wireType === LENGTH_DELIMITED) {
      const type = ROUTER.resolvedType as protobuf.Type;
      event.router = type.toObject(type.decode(reader, reader.uint32()), TO_OBJECT);
    } else {
      const member = members.get(field);
      if (member && wireType === LENGTH_DELIMITED) {
        event.eventType = member.type;
        if (member.decode) {
          (event as Record<string, unknown>)[member.type] = member.only
            ? readFields(reader, member.only)
            : member.decode.toObject(member.decode.decode(reader, reader.uint32()), TO_OBJECT);
          continue;
        }
      }
      reader.skipType(wireType);
    }
  }
  return event;
}

/** The listed fields of one length-delimited message, as toObject would give them; every other field skipped. */
function readFields(reader: protobuf.Reader, only: Map<number, protobuf.Field>): Record<string, unknown> {
  const end = reader.uint32() + reader.pos;
  if (end > reader.len) throw new RangeError(`index out of range: ${end} > ${reader.len}`);
  const out: Record<string, unknown> = {};
  while (reader.pos < end) {
    const tag = reader.uint32();
    const field = only.get(tag >>> 3);
    const wireType = tag & 7;
    if (field === undefined || wireType !== wireTypeOf(field)) {
      reader.skipType(wireType);
      continue;
    }
    if (field.resolvedType instanceof protobuf.Enum) {
      out[field.name] = reader.int32(); // enums: Number, as toObject gives them
    } else if (field.resolvedType instanceof protobuf.Type) {
      const type = field.resolvedType;
      out[field.name] = type.toObject(type.decode(reader, reader.uint32()), TO_OBJECT);
    } else if (field.type === "string") {
      out[field.name] = reader.string();
    } else if (field.type === "int32") {
      out[field.name] = reader.int32();
    } else {
      throw new Error(`lean decoding of ${field.type} fields is not supported`); // only the types listed above
    }
  }
  if (reader.pos !== end) throw new RangeError("member overruns its length");
  return out;
}

function wireTypeOf(field: protobuf.Field): number {
  return field.type === "int32" || field.resolvedType instanceof protobuf.Enum ? 0 : LENGTH_DELIMITED;
}

/** google.protobuf.Timestamp read in place: seconds (int64) and nanos (int32). */
function readTimestamp(reader: protobuf.Reader): Timestamp {
  const end = reader.uint32() + reader.pos;
  const timestamp: Timestamp = {};
  while (reader.pos < end) {
    const tag = reader.uint32();
    if (tag === 0x08) timestamp.seconds = toNumber(reader.int64());
    else if (tag === 0x10) timestamp.nanos = reader.int32();
    else reader.skipType(tag & 7);
  }
  if (reader.pos !== end) throw new RangeError("timestamp overruns its length");
  return timestamp;
}

function toNumber(value: number | protobuf.Long): number {
  return typeof value === "number" ? value : new protobuf.util.LongBits(value.low >>> 0, value.high >>> 0).toNumber();
}
