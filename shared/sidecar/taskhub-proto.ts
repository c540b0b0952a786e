/**
 * The durabletask `TaskHubSidecarService` messages that `@dapr/durabletask-js` (1.0.0) lacks, in our own .proto
 * text, compiled by protobufjs at load time (no hand-written wire code).
 *
 * Why not just its generated client: it is generated from microsoft/durabletask-protobuf @139a8e31, which predates
 * Dapr's additions (docs/dapr-state-store.md §2.6): no `RerunWorkflowFromEvent` (Dapr ≥1.16), no `ListInstanceIDs`
 * / `GetInstanceHistory` (≥1.17), no `PurgeInstancesRequest.force` (≥1.17), and no `recursive` on
 * `TerminateRequest`/`PurgeInstancesRequest` (field 3 — without it Dapr would leave child workflows alone, unlike its
 * own clients and HTTP API). So terminate, purge, rerun, listing and history use the messages below; start, get,
 * raise-event, suspend and resume use the package's generated code.
 *
 * Field numbers from durabletask-go api/protos/orchestrator_service.pb.go (v0.13.0, Dapr master), as listed in
 * docs/dapr-state-store.md §6.3. The service has no proto package: methods are `/TaskHubSidecarService/<Method>`.
 * `GetInstanceHistoryResponse.events` is declared `repeated bytes`: a length-delimited embedded message is the same
 * on the wire, and each element is then decoded by the one HistoryEvent schema the tool already has
 * (shared/workflow/schema.ts), so there is a single definition of that large message.
 */
import type * as grpc from "@grpc/grpc-js";
import protobuf from "protobufjs";

const TASKHUB_EXTRA_PROTO = `
syntax = "proto3";

message StringValue { string value = 1; }
message BoolValue { bool value = 1; }

message TerminateRequest {
  string instanceId = 1;
  StringValue output = 2;
  bool recursive = 3;
}
message TerminateResponse {}

message PurgeInstancesRequest {
  oneof request {
    string instanceId = 1;
  }
  bool recursive = 3;
  optional bool force = 4;
}
message PurgeInstancesResponse {
  int32 deletedInstanceCount = 1;
  BoolValue isComplete = 2;
}

message RerunWorkflowFromEventRequest {
  string sourceInstanceID = 1;
  uint32 eventID = 2;
  optional string newInstanceID = 3;
  StringValue input = 4;
  bool overwriteInput = 5;
  optional string newChildWorkflowInstanceID = 6;
}
message RerunWorkflowFromEventResponse { string newInstanceID = 1; }

message ListInstanceIDsRequest {
  optional string continuationToken = 1;
  optional uint32 pageSize = 2;
}
message ListInstanceIDsResponse {
  repeated string instanceIds = 1;
  optional string continuationToken = 2;
}

message GetInstanceHistoryRequest { string instanceId = 1; }
message GetInstanceHistoryResponse { repeated bytes events = 1; }
`;

const root = protobuf.parse(TASKHUB_EXTRA_PROTO, { keepCase: true }).root;

const TO_OBJECT: protobuf.IConversionOptions = { longs: Number, enums: Number, bytes: Buffer, defaults: false };

export interface TerminateRequest {
  instanceId: string;
  output?: { value: string } | undefined;
  recursive?: boolean;
}
export interface PurgeInstancesRequest {
  instanceId: string;
  recursive?: boolean;
  force?: boolean;
}
export interface PurgeInstancesResponse {
  deletedInstanceCount?: number;
  isComplete?: { value?: boolean };
}
export interface RerunWorkflowFromEventRequest {
  sourceInstanceID: string;
  eventID?: number;
  newInstanceID?: string | undefined;
  input?: { value: string } | undefined;
  overwriteInput?: boolean;
  newChildWorkflowInstanceID?: string | undefined;
}
export interface RerunWorkflowFromEventResponse {
  newInstanceID?: string;
}
export interface ListInstanceIDsRequest {
  continuationToken?: string | undefined;
  pageSize?: number | undefined;
}
export interface ListInstanceIDsResponse {
  instanceIds?: string[];
  continuationToken?: string;
}
export interface GetInstanceHistoryRequest {
  instanceId: string;
}
export interface GetInstanceHistoryResponse {
  events?: Uint8Array[];
}

function method<Req extends object, Res extends object>(
  name: string,
  requestType: string,
  responseType: string,
): grpc.MethodDefinition<Req, Res> {
  const req = root.lookupType(requestType);
  const res = root.lookupType(responseType);
  return {
    path: `/TaskHubSidecarService/${name}`,
    requestStream: false,
    responseStream: false,
    requestSerialize: (value: Req) => Buffer.from(req.encode(req.fromObject(value)).finish()),
    requestDeserialize: (bytes: Buffer) => req.toObject(req.decode(bytes), TO_OBJECT) as Req,
    responseSerialize: (value: Res) => Buffer.from(res.encode(res.fromObject(value)).finish()),
    responseDeserialize: (bytes: Buffer) => res.toObject(res.decode(bytes), TO_OBJECT) as Res,
  };
}

/** Method definitions for grpc-js (client or server), keyed by our method names. */
export const TASKHUB_EXTRA_METHODS = {
  terminateInstance: method<TerminateRequest, Record<string, never>>(
    "TerminateInstance",
    "TerminateRequest",
    "TerminateResponse",
  ),
  purgeInstances: method<PurgeInstancesRequest, PurgeInstancesResponse>(
    "PurgeInstances",
    "PurgeInstancesRequest",
    "PurgeInstancesResponse",
  ),
  rerunWorkflowFromEvent: method<RerunWorkflowFromEventRequest, RerunWorkflowFromEventResponse>(
    "RerunWorkflowFromEvent",
    "RerunWorkflowFromEventRequest",
    "RerunWorkflowFromEventResponse",
  ),
  listInstanceIDs: method<ListInstanceIDsRequest, ListInstanceIDsResponse>(
    "ListInstanceIDs",
    "ListInstanceIDsRequest",
    "ListInstanceIDsResponse",
  ),
  getInstanceHistory: method<GetInstanceHistoryRequest, GetInstanceHistoryResponse>(
    "GetInstanceHistory",
    "GetInstanceHistoryRequest",
    "GetInstanceHistoryResponse",
  ),
} as const;
