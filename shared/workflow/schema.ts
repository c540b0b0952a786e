/**
 * The durabletask protobuf messages Dapr persists in the actor state store, written from the field tables in
 * docs/dapr-state-store.md §2.3 (dapr/durabletask-protobuf). Field numbers never changed across Dapr releases, so
 * one schema decodes 1.15 through master. protobufjs builds codecs from this text at load time; unknown fields
 * (newer Dapr) are skipped by protobufjs, which is what a forward-compatible reader needs.
 */
import protobuf from "protobufjs";

const DURABLETASK_PROTO = `
syntax = "proto3";

message Timestamp { int64 seconds = 1; int32 nanos = 2; }
message StringValue { string value = 1; }

enum OrchestrationStatus {
  ORCHESTRATION_STATUS_RUNNING = 0;
  ORCHESTRATION_STATUS_COMPLETED = 1;
  ORCHESTRATION_STATUS_CONTINUED_AS_NEW = 2;
  ORCHESTRATION_STATUS_FAILED = 3;
  ORCHESTRATION_STATUS_CANCELED = 4;
  ORCHESTRATION_STATUS_TERMINATED = 5;
  ORCHESTRATION_STATUS_PENDING = 6;
  ORCHESTRATION_STATUS_SUSPENDED = 7;
  ORCHESTRATION_STATUS_STALLED = 8;
}

message WorkflowInstance { string instanceId = 1; StringValue executionId = 2; }
message ParentInstanceInfo {
  int32 taskScheduledId = 1;
  StringValue name = 2;
  StringValue version = 3;
  WorkflowInstance workflowInstance = 4;
  optional string appID = 5;
  optional string appNamespace = 6;
}
message TraceContext { string traceParent = 1; string spanID = 2; StringValue traceState = 3; }
message TaskFailureDetails {
  string errorType = 1;
  string errorMessage = 2;
  StringValue stackTrace = 3;
  TaskFailureDetails innerFailure = 4;
  bool isNonRetriable = 5;
}
message TaskRouter { string sourceAppID = 1; optional string targetAppID = 2; optional string targetAppNamespace = 3; }
message RerunParentInstanceInfo { string instanceID = 1; }
message WorkflowVersion { repeated string patches = 1; optional string name = 2; }

message ExecutionStartedEvent {
  string name = 1;
  StringValue version = 2;
  StringValue input = 3;
  WorkflowInstance workflowInstance = 4;
  ParentInstanceInfo parentInstance = 5;
  Timestamp scheduledStartTimestamp = 6;
  TraceContext parentTraceContext = 7;
  StringValue workflowSpanID = 8;
  map<string, string> tags = 9;
}
message ExecutionCompletedEvent {
  OrchestrationStatus workflowStatus = 1;
  StringValue result = 2;
  TaskFailureDetails failureDetails = 3;
}
message ExecutionTerminatedEvent { StringValue input = 1; bool recurse = 2; }
message TaskScheduledEvent {
  string name = 1;
  StringValue version = 2;
  StringValue input = 3;
  TraceContext parentTraceContext = 4;
  string taskExecutionId = 5;
  optional RerunParentInstanceInfo rerunParentInstanceInfo = 6;
}
message TaskCompletedEvent { int32 taskScheduledId = 1; StringValue result = 2; string taskExecutionId = 3; }
message TaskFailedEvent { int32 taskScheduledId = 1; TaskFailureDetails failureDetails = 2; string taskExecutionId = 3; }
message ChildWorkflowInstanceCreatedEvent {
  string instanceId = 1;
  string name = 2;
  StringValue version = 3;
  StringValue input = 4;
  TraceContext parentTraceContext = 5;
  optional RerunParentInstanceInfo rerunParentInstanceInfo = 6;
}
message ChildWorkflowInstanceCompletedEvent { int32 taskScheduledId = 1; StringValue result = 2; }
message ChildWorkflowInstanceFailedEvent { int32 taskScheduledId = 1; TaskFailureDetails failureDetails = 2; }
message TimerOriginCreateTimer {}
message TimerOriginExternalEvent { string name = 1; }
message TimerOriginActivityRetry { string taskExecutionId = 1; }
message TimerOriginChildWorkflowRetry { string instanceId = 1; }
message TimerCreatedEvent {
  Timestamp fireAt = 1;
  optional string name = 2;
  optional RerunParentInstanceInfo rerunParentInstanceInfo = 3;
  oneof origin {
    TimerOriginCreateTimer createTimer = 4;
    TimerOriginExternalEvent externalEvent = 5;
    TimerOriginActivityRetry activityRetry = 6;
    TimerOriginChildWorkflowRetry childWorkflowRetry = 7;
  }
}
message TimerFiredEvent { Timestamp fireAt = 1; int32 timerId = 2; }
message WorkflowStartedEvent { optional WorkflowVersion version = 1; }
message WorkflowCompletedEvent {}
message EventSentEvent { string instanceId = 1; string name = 2; StringValue input = 3; }
message EventRaisedEvent { string name = 1; StringValue input = 2; }
message ContinueAsNewEvent { StringValue input = 1; }
message ExecutionSuspendedEvent { StringValue input = 1; }
message ExecutionResumedEvent { StringValue input = 1; }
message ExecutionStalledEvent { int32 reason = 1; optional string description = 2; }
message DetachedWorkflowInstanceCreatedEvent { string instanceId = 1; }

message HistoryEvent {
  int32 eventId = 1;
  Timestamp timestamp = 2;
  oneof eventType {
    ExecutionStartedEvent executionStarted = 3;
    ExecutionCompletedEvent executionCompleted = 4;
    ExecutionTerminatedEvent executionTerminated = 5;
    TaskScheduledEvent taskScheduled = 6;
    TaskCompletedEvent taskCompleted = 7;
    TaskFailedEvent taskFailed = 8;
    ChildWorkflowInstanceCreatedEvent childWorkflowInstanceCreated = 9;
    ChildWorkflowInstanceCompletedEvent childWorkflowInstanceCompleted = 10;
    ChildWorkflowInstanceFailedEvent childWorkflowInstanceFailed = 11;
    TimerCreatedEvent timerCreated = 12;
    TimerFiredEvent timerFired = 13;
    WorkflowStartedEvent workflowStarted = 14;
    WorkflowCompletedEvent workflowCompleted = 15;
    EventSentEvent eventSent = 16;
    EventRaisedEvent eventRaised = 17;
    ContinueAsNewEvent continueAsNew = 20;
    ExecutionSuspendedEvent executionSuspended = 21;
    ExecutionResumedEvent executionResumed = 22;
    ExecutionStalledEvent executionStalled = 31;
    DetachedWorkflowInstanceCreatedEvent detachedWorkflowInstanceCreated = 32;
  }
  optional TaskRouter router = 30;
}

message BackendWorkflowStateMetadata {
  uint64 inboxLength = 1;
  uint64 historyLength = 2;
  uint64 generation = 3;
  uint64 signatureLength = 4;
  uint64 signingCertificateLength = 5;
  uint64 externalSigningCertificateLength = 6;
}
`;

const root = protobuf.parse(DURABLETASK_PROTO, { keepCase: true }).root;

export const HistoryEventType = root.lookupType("HistoryEvent");
export const MetadataType = root.lookupType("BackendWorkflowStateMetadata");
export const StringValueType = root.lookupType("StringValue");
