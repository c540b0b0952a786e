/**
 * The sidecar port: what the rest of the tool (CLI, webhook, jobs) asks of a Dapr sidecar's workflow API, whatever
 * the transport. HttpSidecarClient serves it over the Dapr HTTP API; GrpcSidecarClient over the durabletask gRPC
 * `TaskHubSidecarService`, which also offers what HTTP lacks (WorkflowSidecarAdmin: rerun, listing, history, force
 * purge); DualSidecarClient routes each call to the transport that can serve it.
 */
import type { HistoryEvent } from "../workflow/history-event.ts";
import type { RuntimeStatus } from "../workflow/runtime-status.ts";

/** Options every call takes. */
export interface CallOptions {
  /** Aborts the call (and any retry wait). */
  signal?: AbortSignal | undefined;
  /**
   * The app that hosts the instance, when it is not the sidecar's own app (Dapr ≥1.18 cross-app calls; sent as the
   * `appID` query parameter over HTTP). Defaults to the client's `appId` option. Not supported over gRPC.
   */
  appId?: string | undefined;
}

/** A workflow payload: `input` is JSON-serialized by the client; `rawInput` is sent byte for byte (e.g. JSON text). */
export interface PayloadOptions {
  input?: unknown;
  rawInput?: string | undefined;
}

export interface StartOptions extends CallOptions, PayloadOptions {
  /** Defaults to a random UUID chosen by the client (Dapr would choose one too; choosing it here makes retries safe). */
  instanceId?: string | undefined;
  /** Schedules the start (the instance stays PENDING until then). gRPC only: the HTTP start API has no such field. */
  startTime?: Date | undefined;
}

export interface TerminateOptions extends CallOptions {
  /** Output recorded on the terminated instance (JSON-serialized). gRPC only. */
  output?: unknown;
  /** Output sent byte for byte. gRPC only. */
  rawOutput?: string | undefined;
  /** Also terminate child workflows (default true, like Dapr's HTTP API and clients). */
  recursive?: boolean | undefined;
}

export interface ReasonOptions extends CallOptions {
  /** Recorded on the ExecutionSuspended/ExecutionResumed event. gRPC only (the HTTP API always sends none). */
  reason?: string | undefined;
}

export interface PurgeOptions extends CallOptions {
  /** Purge whatever the state (Dapr ≥1.17, gRPC only). Can corrupt an instance that is being processed. */
  force?: boolean | undefined;
  /**
   * Also purge child workflows. Default: true, like Dapr's HTTP API — except with `force`, where the default is
   * false like `dapr workflow purge --force`: a recursive purge first loads the instance's history
   * (durabletask-go backend.go purgeWorkflowState) and so reports a never-run (PENDING) instance as not found.
   */
  recursive?: boolean | undefined;
}

/** RuntimeStatus as the sidecar reports it; the HTTP API reports STALLED as UNKNOWN (its status map stops at 7). */
export type SidecarRuntimeStatus = RuntimeStatus | "UNKNOWN";

export interface WorkflowFailure {
  errorType: string;
  errorMessage: string;
  stackTrace?: string | undefined;
}

/** What the sidecar says about one instance (HTTP GET /workflows/dapr/{id}, or gRPC GetInstance). */
export interface WorkflowInstanceMetadata {
  instanceId: string;
  /** Empty for a PENDING instance: Dapr reads the name from history only. */
  workflowName: string;
  runtimeStatus: SidecarRuntimeStatus;
  /** Undefined where Dapr reports its zero time (0001-01-01T00:00:00Z), e.g. for a PENDING instance. */
  createdAt: Date | undefined;
  lastUpdatedAt: Date | undefined;
  /** Raw JSON text, as stored. */
  input?: string | undefined;
  output?: string | undefined;
  customStatus?: string | undefined;
  failure?: WorkflowFailure | undefined;
  /** The HTTP API's `properties` map as returned (empty over gRPC). */
  properties: Record<string, string>;
}

export interface WorkflowSidecar {
  /** Starts (schedules) a workflow instance; resolves to its instance ID. */
  start(workflowName: string, options?: StartOptions): Promise<string>;
  /** The instance's metadata, or undefined when no such instance exists. */
  get(instanceId: string, options?: CallOptions): Promise<WorkflowInstanceMetadata | undefined>;
  raiseEvent(instanceId: string, eventName: string, options?: CallOptions & PayloadOptions): Promise<void>;
  terminate(instanceId: string, options?: TerminateOptions): Promise<void>;
  suspend(instanceId: string, options?: ReasonOptions): Promise<void>;
  resume(instanceId: string, options?: ReasonOptions): Promise<void>;
  /** Deletes a terminal instance's state (Dapr refuses non-terminal ones unless `force`). */
  purge(instanceId: string, options?: PurgeOptions): Promise<void>;
  close(): Promise<void>;
}

export interface RerunOptions extends CallOptions, PayloadOptions {
  /** The eventId of a TaskScheduled, TimerCreated or ChildWorkflowInstanceCreated event (default 0). */
  eventId?: number | undefined;
  /** Defaults to a random UUID chosen by the runtime. */
  newInstanceId?: string | undefined;
  /** ID for the re-created child workflow when rerunning from a ChildWorkflowInstanceCreated event. */
  newChildWorkflowInstanceId?: string | undefined;
}

export interface InstanceIdPage {
  instanceIds: string[];
  /** Pass back to get the next page; undefined when the listing is complete. */
  continuationToken: string | undefined;
}

export interface ListInstanceIdsOptions extends CallOptions {
  pageSize?: number | undefined;
  continuationToken?: string | undefined;
}

/** What only the durabletask gRPC API offers (Dapr ≥1.16 for rerun, ≥1.17 for listing and history). */
export interface WorkflowSidecarAdmin {
  /** Re-runs a terminal top-level instance from an event; resolves to the new instance's ID. */
  rerun(sourceInstanceId: string, options?: RerunOptions): Promise<string>;
  listInstanceIds(options?: ListInstanceIdsOptions): Promise<InstanceIdPage>;
  /** All instance IDs of the sidecar's app, page by page. */
  instanceIds(options?: Omit<ListInstanceIdsOptions, "continuationToken">): AsyncGenerator<string[]>;
  /** The instance's committed history (not the inbox), decoded. */
  getHistory(instanceId: string, options?: CallOptions): Promise<HistoryEvent[]>;
}
