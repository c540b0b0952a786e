/**
 * The durabletask gRPC API of the sidecar (`TaskHubSidecarService` on daprd's gRPC API port, 50001 by default):
 * everything the HTTP API does, plus what only it offers — rerun (Dapr ≥1.16), instance listing and history
 * (≥1.17), scheduled starts, termination output, suspend/resume reasons and forced purges (≥1.17).
 *
 * One grpc-js client (one channel) serves every method: start, get, raise-event, suspend and resume through the
 * generated code of `@dapr/durabletask-js`; terminate, purge, rerun, listing and history through our own messages
 * (taskhub-proto.ts explains why). The API token goes in the `dapr-api-token` metadata (dapr pkg/api/grpc/auth.go:
 * a wrong or missing one is UNAUTHENTICATED "Unauthorized").
 *
 * Semantics are Dapr's gRPC ones (durabletask-go backend/executor.go), which differ from HTTP: StartInstance waits
 * until the instance left PENDING (unless scheduled), TerminateInstance until it completed, SuspendInstance/
 * ResumeInstance until it is SUSPENDED/RUNNING; instance IDs are not validated (the gRPC API accepts `a:b`).
 *
 * Retries: reads (get, list, history) on UNAVAILABLE/RESOURCE_EXHAUSTED; every call when the channel never
 * connected (UNAVAILABLE "No connection established"), since then nothing was sent.
 */
import { randomUUID } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import { withoutEmptyGrpcNote } from "../errors.ts";
import { decodeHistoryEvent, type HistoryEvent } from "../workflow/history-event.ts";
import { statusFromNumber } from "../workflow/runtime-status.ts";
import { dateFromSeconds, payloadText } from "./codec.ts";
import { DEFAULT_SIDECAR_GRPC_ADDRESS } from "./defaults.ts";
import type { DurableTaskJs, OrchestrationStateMessage, TimestampMessage } from "./durabletask-js.ts";
import { loadDurableTaskJs } from "./durabletask-js.ts";
import { GRPC_CODE_NAMES, grpcErrorKind, SidecarError, type SidecarOperation } from "./errors.ts";
import { API_TOKEN_HEADER } from "./http-client.ts";
import type { RetryPolicy, Sleep } from "./retry.ts";
import { retryPolicy, withRetries } from "./retry.ts";
import { TASKHUB_EXTRA_METHODS } from "./taskhub-proto.ts";
import type {
  CallOptions,
  InstanceIdPage,
  ListInstanceIdsOptions,
  PayloadOptions,
  PurgeOptions,
  ReasonOptions,
  RerunOptions,
  StartOptions,
  TerminateOptions,
  WorkflowInstanceMetadata,
  WorkflowSidecar,
  WorkflowSidecarAdmin,
} from "./types.ts";
import { defaultUserAgent } from "./user-agent.ts";
import { validateEventName, validateInstanceId, validateWorkflowName } from "./validation.ts";

export { DEFAULT_SIDECAR_GRPC_ADDRESS } from "./defaults.ts";

export interface GrpcSidecarClientOptions {
  /**
   * `host:port` (default 127.0.0.1:50001), or `http://host:port` / `https://host:port` (TLS), as Dapr's
   * DAPR_GRPC_ENDPOINT.
   */
  address?: string | undefined;
  apiToken?: string | undefined;
  /** Deadline of each call (default 30 s; terminate and suspend wait for the instance on the server side). */
  deadlineMs?: number | undefined;
  retry?: Partial<RetryPolicy> | false | undefined;
  userAgent?: string | undefined;
  /** Extra grpc-js channel options. */
  channelOptions?: grpc.ChannelOptions | undefined;
  random?: (() => number) | undefined;
  sleep?: Sleep | undefined;
}

type Callback = (error: grpc.ServiceError | null, response: unknown) => void;
type UnaryMethod = (request: unknown, metadata: grpc.Metadata, options: grpc.CallOptions, callback: Callback) => void;

const READS = new Set<SidecarOperation>(["get", "list-instance-ids", "get-history"]);

export class GrpcSidecarClient implements WorkflowSidecar, WorkflowSidecarAdmin {
  readonly address: string;
  private readonly target: string;
  private readonly credentials: grpc.ChannelCredentials;
  private readonly apiToken: string | undefined;
  private readonly deadlineMs: number;
  private readonly policy: RetryPolicy;
  private readonly channelOptions: grpc.ChannelOptions;
  private readonly random: (() => number) | undefined;
  private readonly sleep: Sleep | undefined;
  private client: grpc.Client | undefined;
  private dt: DurableTaskJs | undefined;

  constructor(options: GrpcSidecarClientOptions = {}) {
    const address = options.address ?? DEFAULT_SIDECAR_GRPC_ADDRESS;
    this.address = address;
    const tls = address.startsWith("https://");
    this.target = address.replace(/^https?:\/\//, "").replace(/\/+$/, "");
    this.credentials = tls ? grpc.credentials.createSsl() : grpc.credentials.createInsecure();
    this.apiToken = options.apiToken === "" ? undefined : options.apiToken;
    this.deadlineMs = options.deadlineMs ?? 30_000;
    this.policy = retryPolicy(options.retry);
    this.random = options.random;
    this.sleep = options.sleep;
    this.channelOptions = {
      "grpc.primary_user_agent": options.userAgent ?? defaultUserAgent(),
      ...options.channelOptions,
    };
  }

  async start(workflowName: string, options: StartOptions = {}): Promise<string> {
    const op: SidecarOperation = "start";
    validateWorkflowName(workflowName, op);
    noAppId(op, options);
    const instanceId = options.instanceId ?? randomUUID();
    validateInstanceId(instanceId, false, op);
    const dt = this.durableTask();
    const request = new dt.CreateInstanceRequest();
    request.setInstanceid(instanceId);
    request.setName(workflowName);
    request.setInput(this.stringValue(payloadText(options, op)));
    if (options.startTime) request.setScheduledstarttimestamp(dt.timestampFromDate(options.startTime));
    const response = (await this.call(op, "startInstance", request, options)) as { getInstanceid(): string };
    return response.getInstanceid() || instanceId;
  }

  async get(instanceId: string, options: CallOptions = {}): Promise<WorkflowInstanceMetadata | undefined> {
    const op: SidecarOperation = "get";
    validateInstanceId(instanceId, false, op);
    noAppId(op, options);
    const request = new (this.durableTask().GetInstanceRequest)();
    request.setInstanceid(instanceId);
    request.setGetinputsandoutputs(true);
    const response = (await this.call(op, "getInstance", request, options)) as {
      getExists(): boolean;
      getOrchestrationstate(): OrchestrationStateMessage | undefined;
    };
    const state = response.getOrchestrationstate();
    if (!response.getExists() || !state) return undefined;
    return metadataFromState(state, instanceId);
  }

  async raiseEvent(instanceId: string, eventName: string, options: CallOptions & PayloadOptions = {}): Promise<void> {
    const op: SidecarOperation = "raise-event";
    validateInstanceId(instanceId, false, op);
    validateEventName(eventName, op);
    noAppId(op, options);
    const request = new (this.durableTask().RaiseEventRequest)();
    request.setInstanceid(instanceId);
    request.setName(eventName);
    request.setInput(this.stringValue(payloadText(options, op)));
    await this.call(op, "raiseEvent", request, options);
  }

  async terminate(instanceId: string, options: TerminateOptions = {}): Promise<void> {
    const op: SidecarOperation = "terminate";
    validateInstanceId(instanceId, false, op);
    noAppId(op, options);
    const output = payloadText({ input: options.output, rawInput: options.rawOutput }, op);
    await this.call(
      op,
      "terminateInstance",
      {
        instanceId,
        output: output === undefined ? undefined : { value: output },
        recursive: options.recursive ?? true,
      },
      options,
    );
  }

  async suspend(instanceId: string, options: ReasonOptions = {}): Promise<void> {
    await this.reasonCall("suspend", "suspendInstance", instanceId, options);
  }

  async resume(instanceId: string, options: ReasonOptions = {}): Promise<void> {
    await this.reasonCall("resume", "resumeInstance", instanceId, options);
  }

  async purge(instanceId: string, options: PurgeOptions = {}): Promise<void> {
    const op: SidecarOperation = "purge";
    validateInstanceId(instanceId, false, op);
    noAppId(op, options);
    await this.call(
      op,
      "purgeInstances",
      { instanceId, recursive: options.recursive ?? !options.force, force: options.force ? true : undefined },
      options,
    );
  }

  async rerun(sourceInstanceId: string, options: RerunOptions = {}): Promise<string> {
    const op: SidecarOperation = "rerun";
    validateInstanceId(sourceInstanceId, false, op);
    noAppId(op, options);
    const eventId = options.eventId ?? 0;
    if (!Number.isInteger(eventId) || eventId < 0 || eventId > 0xffff_ffff) {
      throw new SidecarError(
        "bad-request",
        `the event ID must be a whole number from 0 to 4294967295, got ${eventId}`,
        {
          operation: op,
          errorCode: "BAD_EVENT_ID",
        },
      );
    }
    if (options.newInstanceId !== undefined) validateInstanceId(options.newInstanceId, false, op);
    const input = payloadText(options, op);
    const response = (await this.call(
      op,
      "rerunWorkflowFromEvent",
      {
        sourceInstanceID: sourceInstanceId,
        eventID: eventId,
        newInstanceID: options.newInstanceId,
        input: input === undefined ? undefined : { value: input },
        overwriteInput: input !== undefined,
        newChildWorkflowInstanceID: options.newChildWorkflowInstanceId,
      },
      options,
    )) as { newInstanceID?: string };
    return response.newInstanceID ?? options.newInstanceId ?? "";
  }

  async listInstanceIds(options: ListInstanceIdsOptions = {}): Promise<InstanceIdPage> {
    noAppId("list-instance-ids", options);
    const response = (await this.call(
      "list-instance-ids",
      "listInstanceIDs",
      { continuationToken: options.continuationToken, pageSize: options.pageSize },
      options,
    )) as { instanceIds?: string[]; continuationToken?: string };
    const token = response.continuationToken;
    return { instanceIds: response.instanceIds ?? [], continuationToken: token === "" ? undefined : token };
  }

  async *instanceIds(options: Omit<ListInstanceIdsOptions, "continuationToken"> = {}): AsyncGenerator<string[]> {
    let continuationToken: string | undefined;
    do {
      const page = await this.listInstanceIds({ ...options, continuationToken });
      if (page.instanceIds.length > 0) yield page.instanceIds;
      continuationToken = page.continuationToken;
    } while (continuationToken !== undefined);
  }

  async getHistory(instanceId: string, options: CallOptions = {}): Promise<HistoryEvent[]> {
    const op: SidecarOperation = "get-history";
    validateInstanceId(instanceId, false, op);
    noAppId(op, options);
    const response = (await this.call(op, "getInstanceHistory", { instanceId }, options)) as {
      events?: Uint8Array[];
    };
    return (response.events ?? []).map((bytes) => decodeHistoryEvent(bytes));
  }

  async close(): Promise<void> {
    this.client?.close();
    this.client = undefined;
  }

  private async reasonCall(
    op: SidecarOperation,
    method: "suspendInstance" | "resumeInstance",
    instanceId: string,
    options: ReasonOptions,
  ): Promise<void> {
    validateInstanceId(instanceId, false, op);
    noAppId(op, options);
    const dt = this.durableTask();
    const request = new (op === "suspend" ? dt.SuspendRequest : dt.ResumeRequest)();
    request.setInstanceid(instanceId);
    // Like Dapr's clients: an empty reason is no reason.
    request.setReason(this.stringValue(options.reason === "" ? undefined : options.reason));
    await this.call(op, method, request, options);
  }

  private durableTask(): DurableTaskJs {
    this.dt ??= loadDurableTaskJs();
    return this.dt;
  }

  private stringValue(text: string | undefined) {
    if (text === undefined) return undefined;
    const value = new (this.durableTask().StringValue)();
    value.setValue(text);
    return value;
  }

  private grpcClient(): grpc.Client {
    if (!this.client) {
      const dt = this.durableTask();
      const pick = (name: string) => {
        const definition = dt.service[name];
        if (!definition) throw new Error(`@dapr/durabletask-js has no ${name} method`);
        return definition;
      };
      const definition: grpc.ServiceDefinition = {
        startInstance: pick("startInstance"),
        getInstance: pick("getInstance"),
        raiseEvent: pick("raiseEvent"),
        suspendInstance: pick("suspendInstance"),
        resumeInstance: pick("resumeInstance"),
        ...TASKHUB_EXTRA_METHODS,
      } as grpc.ServiceDefinition;
      const Client = grpc.makeClientConstructor(definition, "TaskHubSidecarService");
      const client: grpc.Client = new Client(this.target, this.credentials, this.channelOptions);
      this.client = client;
      return client;
    }
    return this.client;
  }

  private call(op: SidecarOperation, method: string, request: unknown, options: CallOptions): Promise<unknown> {
    return withRetries(
      {
        policy: this.policy,
        signal: options.signal,
        random: this.random,
        sleep: this.sleep,
        decide: (error) => {
          if (!(error instanceof SidecarError) || error.kind !== "unavailable") return { retry: false };
          const neverConnected = /No connection established|ECONNREFUSED/i.test(error.message);
          const retryableRead = READS.has(op) && (error.grpcCode === 14 || error.grpcCode === 8);
          return { retry: neverConnected || retryableRead };
        },
      },
      () => this.callOnce(op, method, request, options),
    );
  }

  private callOnce(op: SidecarOperation, method: string, request: unknown, options: CallOptions): Promise<unknown> {
    const client = this.grpcClient();
    const fn = (client as unknown as Record<string, UnaryMethod>)[method]!.bind(client);
    const metadata = new grpc.Metadata();
    if (this.apiToken !== undefined) metadata.set(API_TOKEN_HEADER, this.apiToken);
    return new Promise((resolve, reject) => {
      const signal = options.signal;
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const callOptions: grpc.CallOptions = { deadline: Date.now() + this.deadlineMs };
      let onAbort: (() => void) | undefined;
      const call = fn(request, metadata, callOptions, (error, response) => {
        if (onAbort) signal?.removeEventListener("abort", onAbort);
        if (error) {
          if (signal?.aborted) reject(signal.reason);
          else reject(this.toSidecarError(op, error));
        } else resolve(response);
      }) as unknown as grpc.ClientUnaryCall | undefined;
      if (signal && call) {
        onAbort = () => call.cancel();
        signal.addEventListener("abort", onAbort, { once: true });
      }
    });
  }

  private toSidecarError(op: SidecarOperation, error: grpc.ServiceError): SidecarError {
    const code = typeof error.code === "number" ? error.code : 2;
    const details = withoutEmptyGrpcNote(error.details || error.message);
    const kind = grpcErrorKind(code, details, op);
    const name = GRPC_CODE_NAMES[code] ?? String(code);
    let message = details;
    if (code === 16)
      message = `the Dapr sidecar refused the request (gRPC UNAUTHENTICATED: ${details}); check the API token`;
    else if (code === 14) message = `cannot reach the Dapr sidecar's gRPC API at ${this.address}: ${details}`;
    else if (code === 4) message = `the Dapr sidecar's gRPC API at ${this.address} did not answer in time: ${details}`;
    else if (code === 12)
      message = `the Dapr sidecar does not support this (gRPC UNIMPLEMENTED: ${details}); it may be too old`;
    return new SidecarError(kind, message, { operation: op, errorCode: name, grpcCode: code, cause: error });
  }
}

function noAppId(operation: SidecarOperation, options: CallOptions): void {
  if (options.appId !== undefined && options.appId !== "") {
    throw new SidecarError("bad-request", "a target app ID is not supported over gRPC by this client; use HTTP", {
      operation,
      errorCode: "UNSUPPORTED_OVER_GRPC",
    });
  }
}

function seconds(ts: TimestampMessage | undefined): Date | undefined {
  return ts ? dateFromSeconds(ts.getSeconds(), ts.getNanos()) : undefined;
}

function metadataFromState(state: OrchestrationStateMessage, instanceId: string): WorkflowInstanceMetadata {
  const failure = state.getFailuredetails();
  return {
    instanceId: state.getInstanceid() || instanceId,
    workflowName: state.getName(),
    runtimeStatus: statusFromNumber(state.getOrchestrationstatus()),
    createdAt: seconds(state.getCreatedtimestamp()),
    lastUpdatedAt: seconds(state.getLastupdatedtimestamp()),
    input: state.getInput()?.getValue(),
    output: state.getOutput()?.getValue(),
    customStatus: state.getCustomstatus()?.getValue(),
    failure: failure
      ? {
          errorType: failure.getErrortype(),
          errorMessage: failure.getErrormessage(),
          stackTrace: failure.getStacktrace()?.getValue(),
        }
      : undefined,
    properties: {},
  };
}
