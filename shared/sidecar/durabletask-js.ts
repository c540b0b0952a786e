/**
 * Loads the gRPC client code `@dapr/durabletask-js` ships (google-protobuf/jspb classes and the grpc-js service
 * definition of `TaskHubSidecarService`), lazily: it is only needed for gRPC calls, and a missing package must be
 * a clear error, not a crash at import time. Loaded through `require` from the package's own directory, so its
 * generated code and we share its google-protobuf copy (its setters expect their own StringValue/Timestamp classes)
 * and the one @grpc/grpc-js the project installs.
 */
import { createRequire } from "node:module";
import type * as grpc from "@grpc/grpc-js";
import { HousekeeperError } from "../errors.ts";

/** The jspb message classes we use, typed structurally (the package's .d.ts cannot be imported from ESM cleanly). */
export interface JspbMessage {
  serializeBinary(): Uint8Array;
}
export interface StringValueMessage extends JspbMessage {
  setValue(value: string): void;
  getValue(): string;
}
export interface TimestampMessage extends JspbMessage {
  getSeconds(): number;
  getNanos(): number;
}
export interface FailureDetailsMessage {
  getErrortype(): string;
  getErrormessage(): string;
  getStacktrace(): StringValueMessage | undefined;
}
export interface OrchestrationStateMessage {
  getInstanceid(): string;
  getName(): string;
  getOrchestrationstatus(): number;
  getCreatedtimestamp(): TimestampMessage | undefined;
  getLastupdatedtimestamp(): TimestampMessage | undefined;
  getInput(): StringValueMessage | undefined;
  getOutput(): StringValueMessage | undefined;
  getCustomstatus(): StringValueMessage | undefined;
  getFailuredetails(): FailureDetailsMessage | undefined;
}
export interface CreateInstanceRequestMessage extends JspbMessage {
  setInstanceid(value: string): void;
  setName(value: string): void;
  setInput(value: StringValueMessage | undefined): void;
  setScheduledstarttimestamp(value: TimestampMessage | undefined): void;
}
export interface GetInstanceRequestMessage extends JspbMessage {
  setInstanceid(value: string): void;
  setGetinputsandoutputs(value: boolean): void;
}
export interface RaiseEventRequestMessage extends JspbMessage {
  setInstanceid(value: string): void;
  setName(value: string): void;
  setInput(value: StringValueMessage | undefined): void;
}
export interface ReasonRequestMessage extends JspbMessage {
  setInstanceid(value: string): void;
  setReason(value: StringValueMessage | undefined): void;
}

export interface DurableTaskJs {
  /** grpc-js method definitions of TaskHubSidecarService, keyed by lower-camel method name. */
  service: Record<string, grpc.MethodDefinition<object, object>>;
  CreateInstanceRequest: new () => CreateInstanceRequestMessage;
  GetInstanceRequest: new () => GetInstanceRequestMessage;
  RaiseEventRequest: new () => RaiseEventRequestMessage;
  SuspendRequest: new () => ReasonRequestMessage;
  ResumeRequest: new () => ReasonRequestMessage;
  StringValue: new () => StringValueMessage;
  timestampFromDate: (date: Date) => TimestampMessage;
}

const PACKAGE = "@dapr/durabletask-js";
let loaded: DurableTaskJs | undefined;

export function loadDurableTaskJs(): DurableTaskJs {
  if (loaded) return loaded;
  const here = createRequire(import.meta.url);
  let grpcPbPath: string;
  try {
    grpcPbPath = here.resolve(`${PACKAGE}/proto/orchestrator_service_grpc_pb.js`);
  } catch (error) {
    throw new HousekeeperError(
      "missing-dependency",
      `the gRPC sidecar client needs ${PACKAGE}, which is not installed (npm install ${PACKAGE})`,
      { cause: error },
    );
  }
  const local = createRequire(grpcPbPath);
  const grpcPb = local("./orchestrator_service_grpc_pb.js") as {
    TaskHubSidecarServiceService: Record<string, grpc.MethodDefinition<object, object>>;
  };
  const pb = local("./orchestrator_service_pb.js") as Record<string, new () => unknown>;
  const wrappers = local("google-protobuf/google/protobuf/wrappers_pb.js") as {
    StringValue: new () => StringValueMessage;
  };
  const timestamp = local("google-protobuf/google/protobuf/timestamp_pb.js") as {
    Timestamp: { fromDate(date: Date): TimestampMessage };
  };
  loaded = {
    service: grpcPb.TaskHubSidecarServiceService,
    CreateInstanceRequest: pb.CreateInstanceRequest as new () => CreateInstanceRequestMessage,
    GetInstanceRequest: pb.GetInstanceRequest as new () => GetInstanceRequestMessage,
    RaiseEventRequest: pb.RaiseEventRequest as new () => RaiseEventRequestMessage,
    SuspendRequest: pb.SuspendRequest as new () => ReasonRequestMessage,
    ResumeRequest: pb.ResumeRequest as new () => ReasonRequestMessage,
    StringValue: wrappers.StringValue,
    timestampFromDate: (date) => timestamp.Timestamp.fromDate(date),
  };
  return loaded;
}
