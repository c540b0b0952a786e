/**
 * The stand-in's own definition of the durabletask `TaskHubSidecarService` methods it serves (field numbers from
 * durabletask-go api/protos/orchestrator_service.pb.go v0.13.0 = docs/dapr-state-store.md §6.3), written
 * independently of the client's (shared/sidecar/taskhub-proto.ts, @dapr/durabletask-js) so a wire mismatch in the
 * client shows up in the tests. History events travel as bytes encoded by shared/workflow/history-event.ts.
 */
import type * as grpc from "@grpc/grpc-js";
import protobuf from "protobufjs";

const PROTO = `
syntax = "proto3";

message Timestamp { int64 seconds = 1; int32 nanos = 2; }
message StringValue { string value = 1; }
message BoolValue { bool value = 1; }

message TaskFailureDetails {
  string errorType = 1;
  string errorMessage = 2;
  StringValue stackTrace = 3;
  TaskFailureDetails innerFailure = 4;
  bool isNonRetriable = 5;
}

message CreateInstanceRequest {
  string instanceId = 1;
  string name = 2;
  StringValue version = 3;
  StringValue input = 4;
  Timestamp scheduledStartTimestamp = 5;
  StringValue executionId = 7;
  map<string, string> tags = 8;
}
message CreateInstanceResponse { string instanceId = 1; }

message GetInstanceRequest { string instanceId = 1; bool getInputsAndOutputs = 2; }
message WorkflowState {
  string instanceId = 1;
  string name = 2;
  StringValue version = 3;
  int32 workflowStatus = 4;
  Timestamp scheduledStartTimestamp = 5;
  Timestamp createdTimestamp = 6;
  Timestamp lastUpdatedTimestamp = 7;
  StringValue input = 8;
  StringValue output = 9;
  StringValue customStatus = 10;
  TaskFailureDetails failureDetails = 11;
  StringValue executionId = 12;
  Timestamp completedTimestamp = 13;
  StringValue parentInstanceId = 14;
}
message GetInstanceResponse { bool exists = 1; WorkflowState workflowState = 2; }

message RaiseEventRequest { string instanceId = 1; string name = 2; StringValue input = 3; }
message RaiseEventResponse {}

message TerminateRequest { string instanceId = 1; StringValue output = 2; bool recursive = 3; }
message TerminateResponse {}

message SuspendRequest { string instanceId = 1; StringValue reason = 2; }
message SuspendResponse {}
message ResumeRequest { string instanceId = 1; StringValue reason = 2; }
message ResumeResponse {}

message PurgeInstancesRequest {
  oneof request { string instanceId = 1; bytes purgeInstanceFilter = 2; }
  bool recursive = 3;
  optional bool force = 4;
}
message PurgeInstancesResponse { int32 deletedInstanceCount = 1; BoolValue isComplete = 2; }

message RerunWorkflowFromEventRequest {
  string sourceInstanceID = 1;
  uint32 eventID = 2;
  optional string newInstanceID = 3;
  StringValue input = 4;
  bool overwriteInput = 5;
  optional string newChildWorkflowInstanceID = 6;
}
message RerunWorkflowFromEventResponse { string newInstanceID = 1; }

message ListInstanceIDsRequest { optional string continuationToken = 1; optional uint32 pageSize = 2; }
message ListInstanceIDsResponse { repeated string instanceIds = 1; optional string continuationToken = 2; }

message GetInstanceHistoryRequest { string instanceId = 1; }
message GetInstanceHistoryResponse { repeated bytes events = 1; }
`;

const root = protobuf.parse(PROTO, { keepCase: true }).root;
const TO_OBJECT: protobuf.IConversionOptions = { longs: Number, enums: Number, bytes: Buffer, defaults: false };

// biome-ignore lint/suspicious/noExplicitAny: protobufjs plain objects, checked by the handlers
export type Plain = Record<string, any>;

function method(name: string, request: string, response: string): grpc.MethodDefinition<Plain, Plain> {
  const req = root.lookupType(request);
  const res = root.lookupType(response);
  return {
    path: `/TaskHubSidecarService/${name}`,
    requestStream: false,
    responseStream: false,
    requestSerialize: (v) => Buffer.from(req.encode(req.fromObject(v)).finish()),
    requestDeserialize: (b) => req.toObject(req.decode(b), TO_OBJECT),
    responseSerialize: (v) => Buffer.from(res.encode(res.fromObject(v)).finish()),
    responseDeserialize: (b) => res.toObject(res.decode(b), TO_OBJECT),
  };
}

export const TASKHUB_SERVICE = {
  StartInstance: method("StartInstance", "CreateInstanceRequest", "CreateInstanceResponse"),
  GetInstance: method("GetInstance", "GetInstanceRequest", "GetInstanceResponse"),
  RaiseEvent: method("RaiseEvent", "RaiseEventRequest", "RaiseEventResponse"),
  TerminateInstance: method("TerminateInstance", "TerminateRequest", "TerminateResponse"),
  SuspendInstance: method("SuspendInstance", "SuspendRequest", "SuspendResponse"),
  ResumeInstance: method("ResumeInstance", "ResumeRequest", "ResumeResponse"),
  PurgeInstances: method("PurgeInstances", "PurgeInstancesRequest", "PurgeInstancesResponse"),
  RerunWorkflowFromEvent: method(
    "RerunWorkflowFromEvent",
    "RerunWorkflowFromEventRequest",
    "RerunWorkflowFromEventResponse",
  ),
  ListInstanceIDs: method("ListInstanceIDs", "ListInstanceIDsRequest", "ListInstanceIDsResponse"),
  GetInstanceHistory: method("GetInstanceHistory", "GetInstanceHistoryRequest", "GetInstanceHistoryResponse"),
} as const;

export type TaskHubMethod = keyof typeof TASKHUB_SERVICE;
