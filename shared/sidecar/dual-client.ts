/**
 * One WorkflowSidecar over both transports: each call goes over HTTP unless it needs something only the durabletask
 * gRPC API carries (a scheduled start, a termination output or a non-recursive terminate, a suspend/resume reason,
 * a forced or non-recursive purge), and rerun, listing and history always go over gRPC. The gRPC channel opens on
 * its first call only, so an HTTP-only user never connects to the gRPC port.
 */
import type { HistoryEvent } from "../workflow/history-event.ts";
import { GrpcSidecarClient, type GrpcSidecarClientOptions } from "./grpc-client.ts";
import { HttpSidecarClient, type HttpSidecarClientOptions } from "./http-client.ts";
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

export interface DualSidecarClientOptions {
  http?: HttpSidecarClient | HttpSidecarClientOptions | undefined;
  grpc?: GrpcSidecarClient | GrpcSidecarClientOptions | undefined;
}

export class DualSidecarClient implements WorkflowSidecar, WorkflowSidecarAdmin {
  readonly http: HttpSidecarClient;
  readonly grpc: GrpcSidecarClient;

  constructor(options: DualSidecarClientOptions = {}) {
    this.http = options.http instanceof HttpSidecarClient ? options.http : new HttpSidecarClient(options.http);
    this.grpc = options.grpc instanceof GrpcSidecarClient ? options.grpc : new GrpcSidecarClient(options.grpc);
  }

  start(workflowName: string, options: StartOptions = {}): Promise<string> {
    return options.startTime !== undefined
      ? this.grpc.start(workflowName, options)
      : this.http.start(workflowName, options);
  }

  get(instanceId: string, options?: CallOptions): Promise<WorkflowInstanceMetadata | undefined> {
    return this.http.get(instanceId, options);
  }

  raiseEvent(instanceId: string, eventName: string, options?: CallOptions & PayloadOptions): Promise<void> {
    return this.http.raiseEvent(instanceId, eventName, options);
  }

  terminate(instanceId: string, options: TerminateOptions = {}): Promise<void> {
    const grpcOnly = options.output !== undefined || options.rawOutput !== undefined || options.recursive === false;
    return grpcOnly ? this.grpc.terminate(instanceId, options) : this.http.terminate(instanceId, options);
  }

  suspend(instanceId: string, options: ReasonOptions = {}): Promise<void> {
    return options.reason ? this.grpc.suspend(instanceId, options) : this.http.suspend(instanceId, options);
  }

  resume(instanceId: string, options: ReasonOptions = {}): Promise<void> {
    return options.reason ? this.grpc.resume(instanceId, options) : this.http.resume(instanceId, options);
  }

  purge(instanceId: string, options: PurgeOptions = {}): Promise<void> {
    const grpcOnly = options.force === true || options.recursive === false;
    return grpcOnly ? this.grpc.purge(instanceId, options) : this.http.purge(instanceId, options);
  }

  rerun(sourceInstanceId: string, options?: RerunOptions): Promise<string> {
    return this.grpc.rerun(sourceInstanceId, options);
  }

  listInstanceIds(options?: ListInstanceIdsOptions): Promise<InstanceIdPage> {
    return this.grpc.listInstanceIds(options);
  }

  instanceIds(options?: Omit<ListInstanceIdsOptions, "continuationToken">): AsyncGenerator<string[]> {
    return this.grpc.instanceIds(options);
  }

  getHistory(instanceId: string, options?: CallOptions): Promise<HistoryEvent[]> {
    return this.grpc.getHistory(instanceId, options);
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.http.close(), this.grpc.close()]);
  }
}
