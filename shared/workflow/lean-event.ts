/**
 * Lean decoding of a HistoryEvent for listings: the event's type, ID, timestamp and router always; the fields of only
 * the few members a summary derives something from (ExecutionStarted: name, parent; ExecutionCompleted: status,
 * failure; ChildWorkflowInstanceCreated: the child's ID). Every other member is skipped on the wire, so an activity's
 * input or result — most of a history's bytes — is never turned into strings and objects. A listing spends most of
 * its time on exactly that garbage (profile: ~40% GC with full decoding).
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
const DECODED_MEMBERS: ReadonlySet<EventType> = new Set([
  "executionStarted",
  "executionCompleted",
  "childWorkflowInstanceCreated",
]);
const TO_OBJECT = { longs: Number, enums: Number, oneofs: true, defaults: false } as const;

HistoryEventType.root.resolveAll();
const EVENT_ID_FIELD = HistoryEventType.fields.eventId!.id;
const TIMESTAMP_FIELD = HistoryEventType.fields.timestamp!.id;
const ROUTER = HistoryEventType.fields.router!;
const MEMBERS = new Map<number, { type: EventType; decode: protobuf.Type | undefined }>(
  HistoryEventType.oneofs.eventType!.fieldsArray.map((field) => {
    const type = field.name as EventType;
    return [field.id, { type, decode: DECODED_MEMBERS.has(type) ? (field.resolvedType as protobuf.Type) : undefined }];
  }),
);
const LENGTH_DELIMITED = 2;

/** Decodes what a listing needs of one `history-*` / `inbox-*` value; throws HousekeeperError on a malformed one. */
export function decodeLeanHistoryEvent(bytes: Uint8Array): HistoryEvent {
  try {
    return decodeLean(bytes);
  } catch (error) {
    throw new HousekeeperError("corrupt-data", `not a protobuf HistoryEvent (${errorMessage(error)})`, {
      cause: error,
    });
  }
}

function decodeLean(bytes: Uint8Array): HistoryEvent {
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
      const member = MEMBERS.get(field);
      if (member && wireType === LENGTH_DELIMITED) {
        event.eventType = member.type;
        if (member.decode) {
          const message = member.decode.decode(reader, reader.uint32());
          (event as Record<string, unknown>)[member.type] = member.decode.toObject(message, TO_OBJECT);
          continue;
        }
      }
      reader.skipType(wireType);
    }
  }
  return event;
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
