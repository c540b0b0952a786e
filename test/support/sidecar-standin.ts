/**
 * A stand-in for the Dapr sidecar's workflow APIs, for tests: the HTTP API (dapr master pkg/api/http/workflow.go)
 * on 127.0.0.1 and, on a second port, the durabletask gRPC methods the tools use (start, get, raise, terminate,
 * suspend, resume, purge with force, rerun, ListInstanceIDs, GetInstanceHistory). State is written and deleted in
 * Dapr's layout in the real StateBackend the test passes in (sidecar-standin/engine.ts), so anything that reads the
 * store sees what a real sidecar leaves behind. It is the yardstick for everything that talks to the sidecar.
 *
 * HTTP answers, as dapr master gives them (verified in its source; tests/integration/suite/daprd/workflow/*):
 *  - routes under `v1.0`, `v1.0-beta1` and `v1.0-alpha1`; any component name is accepted, because master no longer
 *    looks at it (ERR_WORKFLOW_COMPONENT_NOT_FOUND, 400, was Dapr ≤1.14: set `rejectUnknownComponent`);
 *  - start 202 `{"instanceID"}`; get 200 protojson; raiseEvent/terminate/pause/resume/purge 202 `{}`;
 *  - GET of a missing instance: 404 ERR_INSTANCE_ID_NOT_FOUND "unable to find workflow with the provided instance
 *    ID: <id>" (since 1.16; ≤1.15 answered 200 with only `instanceID`, which is what the gRPC API still does);
 *  - terminate/purge of a missing instance: 404 ERR_INSTANCE_ID_NOT_FOUND; purge of a PENDING (never run) instance:
 *    404 too (the recursive purge loads history only); purge of a non-terminal one: 500 ERR_PURGE_WORKFLOW
 *    "…orchestration has not yet completed";
 *  - raiseEvent/pause/resume of a missing instance: 500 ERR_RAISE_EVENT_WORKFLOW / ERR_PAUSE_WORKFLOW /
 *    ERR_RESUME_WORKFLOW "…no such instance exists"; on a *finished* instance they are accepted (202) and dropped;
 *  - start with the ID of an active instance: 500 ERR_START_WORKFLOW "…an active workflow with ID '<id>' already
 *    exists"; of a finished one: re-created with generation + 1 (202);
 *  - instance IDs: empty → 400 ERR_INSTANCE_ID_PROVIDED_MISSING; start only: > 64 bytes → 400
 *    ERR_INSTANCE_ID_TOO_LONG, other than letters/digits/_/- → 400 ERR_INSTANCE_ID_INVALID;
 *  - `appID` query parameter not valid → 400 ERR_WORKFLOW_APP_ID_INVALID (another valid app: the stand-in hosts
 *    one app and answers the operation's 500);
 *  - API token configured and header wrong/missing: 401, `text/plain` body "invalid api token" (http.Error;
 *    pkg/api/http/middlewares.go) — not JSON. gRPC: UNAUTHENTICATED "Unauthorized" (pkg/api/grpc/auth.go).
 *
 * Fault injection: failNext() (HTTP) and failNextGrpc() queue faults for the next requests (a status with optional
 * Retry-After, answered before or after the request was processed; a connection reset; a hang; a delay),
 * `latencyMs` delays every request, and an HTTP request naming an instance in `hangInstances` is never answered.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import * as grpc from "@grpc/grpc-js";
import { goJsonString } from "../../cli/output/go-format.ts";
import { instanceIdProblem, isValidAppId } from "../../shared/sidecar/validation.ts";
import type { StateBackend } from "../../shared/state-store/backend.ts";
import type { AppRef } from "../../shared/state-store/keys.ts";
import { instanceKeyPrefix, KEY_SEPARATOR, METADATA_KEY, workflowKeyPrefix } from "../../shared/state-store/keys.ts";
import type { WorkflowStateStore } from "../../shared/state-store/workflow-store.ts";
import type { HistoryEvent, Timestamp } from "../../shared/workflow/history-event.ts";
import { dateToTimestamp, encodeHistoryEvent } from "../../shared/workflow/history-event.ts";
import {
  EngineError,
  StandinEngine,
  type UnknownWorkflowBehaviour,
  type WorkflowScript,
} from "./sidecar-standin/engine.ts";
import { type Plain, TASKHUB_SERVICE, type TaskHubMethod } from "./sidecar-standin/taskhub-proto.ts";
import { GO_ZERO_TIMESTAMP, httpGetBody, workflowMetadata } from "./sidecar-standin/views.ts";

export type { ActivityScript, UnknownWorkflowBehaviour, WorkflowScript } from "./sidecar-standin/engine.ts";

export interface SidecarStandinOptions {
  /** The real state store the stand-in writes to (Dapr's layout). Not closed by the stand-in. */
  backend: StateBackend;
  appId?: string;
  namespace?: string;
  /** Scripted behaviour per workflow name. */
  workflows?: Record<string, WorkflowScript>;
  /** A name without a script: "fail" (a worker that does not know it; default) or "pending" (no worker at all). */
  unknownWorkflow?: UnknownWorkflowBehaviour;
  /** "immediate" (default): the workflow runs before the call returns; "manual": only on runPending(). */
  turns?: "immediate" | "manual";
  /** Require this `dapr-api-token`. */
  apiToken?: string;
  /** Serve the durabletask gRPC API on a second port (default true). */
  grpc?: boolean;
  /** Dapr ≤1.14: a component other than `dapr` is ERR_WORKFLOW_COMPONENT_NOT_FOUND. */
  rejectUnknownComponent?: boolean;
  port?: number;
  grpcPort?: number;
  clock?: () => Date;
}

export type HttpFault =
  /** Answer with this status (and body) — before processing (like a proxy) or after (the call took effect). */
  | {
      kind: "status";
      status: number;
      retryAfter?: string;
      body?: string;
      contentType?: string;
      when?: "before" | "after";
    }
  /** Destroy the connection once the request has arrived (the client sees a reset after sending). */
  | { kind: "reset" }
  /** Never answer (until the client gives up or the stand-in closes). */
  | { kind: "hang" }
  /** Answer normally, this much later. */
  | { kind: "delay"; ms: number };

export type GrpcFault =
  | { kind: "status"; code: grpc.status; message?: string; when?: "before" | "after" }
  | { kind: "delay"; ms: number };

export interface RecordedRequest {
  transport: "http" | "grpc";
  /** HTTP method, or the gRPC method name. */
  method: string;
  /** HTTP path with query; empty for gRPC. */
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** HTTP status answered (undefined for a reset or hang), or the gRPC status code. */
  status?: number | undefined;
}

export interface SidecarStandin {
  /** http://127.0.0.1:PORT */
  url: string;
  /** 127.0.0.1:PORT, or undefined without gRPC. */
  grpcAddress: string | undefined;
  app: AppRef;
  store: WorkflowStateStore;
  requests: RecordedRequest[];
  /** Added to every request. */
  latencyMs: number;
  /** HTTP requests about these instance IDs are never answered (until the client gives up or the stand-in closes). */
  hangInstances: Set<string>;
  failNext(fault: HttpFault, count?: number): void;
  failNextGrpc(fault: GrpcFault, count?: number): void;
  /** Drops the faults still queued (HTTP and gRPC). */
  clearFaults(): void;
  /** Sets or replaces the script of a workflow name. */
  setWorkflow(name: string, script: WorkflowScript): void;
  /** Runs due turns (all instances, or one); what "manual" mode waits for. */
  runPending(instanceId?: string): Promise<void>;
  /** Every state key the instance has in the store right now, without the instance prefix, sorted. */
  keysOf(instanceId: string): Promise<string[]>;
  close(): Promise<void>;
}

const API_VERSIONS = new Set(["v1.0", "v1.0-beta1", "v1.0-alpha1"]);
const INSTANCE_ACTIONS = new Set(["terminate", "pause", "resume", "purge"]);

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string,
  ) {
    super(message);
  }
}

export async function startSidecarStandin(options: SidecarStandinOptions): Promise<SidecarStandin> {
  const app: AppRef = { appId: options.appId ?? "standin-app", namespace: options.namespace ?? "default" };
  const clock = options.clock ?? (() => new Date());
  const engine = new StandinEngine({
    backend: options.backend,
    app,
    scripts: new Map(Object.entries(options.workflows ?? {})),
    unknownWorkflow: options.unknownWorkflow ?? "fail",
    turns: options.turns ?? "immediate",
    clock,
  });
  const requests: RecordedRequest[] = [];
  const httpFaults: HttpFault[] = [];
  const grpcFaults: GrpcFault[] = [];
  const sockets = new Set<Socket>();
  const state = { latencyMs: 0 };
  const hangInstances = new Set<string>();

  const now = (): Timestamp => dateToTimestamp(clock());

  // ---- HTTP -------------------------------------------------------------------------------------------------------

  const server: Server = createServer((req, res) => {
    void handleHttp(req, res).catch((error: unknown) => {
      if (!res.headersSent) {
        const message = error instanceof Error ? error.message : String(error);
        writeJson(res, 500, { errorCode: "ERR_STANDIN_INTERNAL", message: `stand-in failure: ${message}` });
      }
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });

  async function handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const record: RecordedRequest = {
      transport: "http",
      method: req.method ?? "",
      path: req.url ?? "",
      headers: { ...req.headers },
      body,
    };
    requests.push(record);
    res.on("finish", () => {
      record.status = res.statusCode;
    });
    if (state.latencyMs > 0) await delay(state.latencyMs);
    if (hangInstances.size > 0 && hangInstances.has(instanceIdOf(req.url))) return;

    const fault = httpFaults.shift();
    if (fault?.kind === "reset") {
      req.socket.destroy();
      return;
    }
    if (fault?.kind === "hang") return;
    if (fault?.kind === "delay") await delay(fault.ms);
    if (fault?.kind === "status" && fault.when !== "after") {
      writeFault(res, fault);
      return;
    }
    if (fault?.kind === "status") {
      await route(req, body, new ServerResponseSink());
      writeFault(res, fault);
      return;
    }
    await route(req, body, res);
  }

  async function route(req: IncomingMessage, body: string, res: ServerResponse | ServerResponseSink): Promise<void> {
    const url = new URL(req.url ?? "/", "http://standin");
    const raw = url.pathname.split("/").slice(1);
    let segments: string[];
    try {
      segments = raw.map((s) => decodeURIComponent(s));
    } catch {
      notFound(res);
      return;
    }
    const method = req.method ?? "GET";

    if (segments.length === 2 && segments[0] === "v1.0" && segments[1] === "healthz") {
      if (method !== "GET") return methodNotAllowed(res);
      res.writeHead(204).end();
      return;
    }

    if (options.apiToken !== undefined && req.headers["dapr-api-token"] !== options.apiToken) {
      res.writeHead(401, { "content-type": "text/plain; charset=utf-8", "x-content-type-options": "nosniff" });
      res.end("invalid api token\n");
      return;
    }

    const [version, group, component, a, b, c] = segments;
    if (!API_VERSIONS.has(version ?? "") || group !== "workflows" || segments.length < 4 || segments.length > 6) {
      notFound(res);
      return;
    }
    const appIdParam = url.searchParams.get("appID") ?? "";
    let handler: (() => Promise<{ status: number; body: unknown }>) | undefined;
    if (segments.length === 4) {
      if (method !== "GET") return methodNotAllowed(res);
      handler = () => httpGet(a!, appIdParam);
    } else if (segments.length === 5 && b === "start") {
      if (method !== "POST") return methodNotAllowed(res);
      handler = () => httpStart(a!, url.searchParams.get("instanceID") ?? "", body, appIdParam);
    } else if (segments.length === 5 && INSTANCE_ACTIONS.has(b!)) {
      if (method !== "POST") return methodNotAllowed(res);
      handler = () => httpInstanceAction(b!, a!, appIdParam);
    } else if (segments.length === 6 && b === "raiseEvent") {
      if (method !== "POST") return methodNotAllowed(res);
      handler = () => httpRaiseEvent(a!, c!, body, appIdParam);
    }
    if (!handler) {
      notFound(res);
      return;
    }
    try {
      if (options.rejectUnknownComponent && component !== "dapr") {
        throw new ApiError(400, "ERR_WORKFLOW_COMPONENT_NOT_FOUND", `workflow component '${component}' does not exist`);
      }
      const answer = await handler();
      writeJson(res, answer.status, answer.body);
    } catch (error) {
      if (error instanceof ApiError) {
        writeJson(res, error.status, { errorCode: error.errorCode, message: error.message });
        return;
      }
      throw error;
    }
  }

  function checkInstanceId(id: string, isCreate: boolean): void {
    const problem = instanceIdProblem(id, isCreate);
    if (problem) throw new ApiError(400, problem.errorCode, problem.message);
  }

  /** universal.targetAppID: "" or our own app → local; invalid → 400; another app → `remote(appId)` error. */
  function checkAppId(appId: string, remote: (appId: string) => ApiError): void {
    if (appId === "" || appId === app.appId) return;
    if (!isValidAppId(appId)) {
      throw new ApiError(
        400,
        "ERR_WORKFLOW_APP_ID_INVALID",
        `workflow app ID '${appId}' is invalid: only alphanumeric, dash and underscore characters are allowed`,
      );
    }
    throw remote(appId);
  }

  const notHosted = (appId: string) => `the stand-in hosts only app '${app.appId}', not '${appId}'`;

  async function httpGet(id: string, appIdParam: string) {
    checkInstanceId(id, false);
    checkAppId(
      appIdParam,
      (other) =>
        new ApiError(
          500,
          "ERR_GET_WORKFLOW",
          `error while getting workflow info on instance '${id}': failed to get workflow metadata for '${id}': ${notHosted(other)}`,
        ),
    );
    const record = await engine.store.readInstance(id);
    if (!record) {
      throw new ApiError(
        404,
        "ERR_INSTANCE_ID_NOT_FOUND",
        `unable to find workflow with the provided instance ID: ${id}`,
      );
    }
    return { status: 200, body: httpGetBody(workflowMetadata(record)) };
  }

  async function httpStart(name: string, instanceIdParam: string, input: string, appIdParam: string) {
    const id = instanceIdParam === "" ? randomUUID() : instanceIdParam;
    checkInstanceId(id, true);
    if (name === "") throw new ApiError(400, "ERR_WORKFLOW_NAME_MISSING", "workflow name is not configured");
    const startError = (cause: string) =>
      new ApiError(
        500,
        "ERR_START_WORKFLOW",
        `error starting workflow '${name}': unable to start workflow: failed to start workflow: ${cause}`,
      );
    checkAppId(appIdParam, (other) => startError(notHosted(other)));
    try {
      await engine.create(startEvent(id, name, { value: input }, undefined));
    } catch (error) {
      if (error instanceof EngineError) throw startError(error.message);
      throw error;
    }
    return { status: 202, body: { instanceID: id } };
  }

  async function httpRaiseEvent(id: string, eventName: string, payload: string, appIdParam: string) {
    checkInstanceId(id, false);
    if (eventName === "") throw new ApiError(400, "ERR_WORKFLOW_EVENT_NAME_MISSING", "missing workflow event name");
    const raiseError = (cause: string) =>
      new ApiError(
        500,
        "ERR_RAISE_EVENT_WORKFLOW",
        `error raising event on workflow '${id}': failed to raise event ${eventName} on workflow ${id}: failed to raise event: ${cause}`,
      );
    checkAppId(appIdParam, (other) => raiseError(notHosted(other)));
    try {
      await engine.addEvent(id, {
        eventId: -1,
        timestamp: now(),
        eventRaised: { name: eventName, input: { value: payload } },
      });
    } catch (error) {
      if (error instanceof EngineError) throw raiseError(error.message);
      throw error;
    }
    return { status: 202, body: {} };
  }

  async function httpInstanceAction(action: string, id: string, appIdParam: string) {
    checkInstanceId(id, false);
    const notFoundError = () =>
      new ApiError(404, "ERR_INSTANCE_ID_NOT_FOUND", `unable to find workflow with the provided instance ID: ${id}`);
    const wrap: Record<string, (cause: string) => ApiError> = {
      terminate: (cause) =>
        new ApiError(
          500,
          "ERR_TERMINATE_WORKFLOW",
          `error terminating workflow '${id}': failed to terminate workflow ${id}: failed to submit termination request:: ${cause}`,
        ),
      pause: (cause) =>
        new ApiError(
          500,
          "ERR_PAUSE_WORKFLOW",
          `error pausing workflow ${id}: failed to pause workflow ${id}: failed to suspend workflow: ${cause}`,
        ),
      resume: (cause) =>
        new ApiError(
          500,
          "ERR_RESUME_WORKFLOW",
          `error resuming workflow ${id}: failed to resume workflow ${id}: failed to resume workflow: ${cause}`,
        ),
      purge: (cause) =>
        new ApiError(
          500,
          "ERR_PURGE_WORKFLOW",
          `error purging workflow ${id}: failed to Purge workflow ${id}: failed to purge workflow state: ${cause}`,
        ),
    };
    const toApiError = wrap[action]!;
    checkAppId(appIdParam, (other) => toApiError(notHosted(other)));
    try {
      switch (action) {
        case "terminate":
          await engine.addEvent(id, { eventId: -1, timestamp: now(), executionTerminated: { recurse: true } });
          break;
        case "pause":
          await engine.addEvent(id, { eventId: -1, timestamp: now(), executionSuspended: {} });
          break;
        case "resume":
          await engine.addEvent(id, { eventId: -1, timestamp: now(), executionResumed: {} });
          break;
        default:
          await engine.purge(id, { recursive: true, force: false });
      }
    } catch (error) {
      if (!(error instanceof EngineError)) throw error;
      // Only terminate and purge map api.ErrInstanceNotFound to 404 (universal/workflow.go).
      if (error.kind === "not-found" && (action === "terminate" || action === "purge")) throw notFoundError();
      throw toApiError(error.message);
    }
    return { status: 202, body: {} };
  }

  function startEvent(
    id: string,
    name: string,
    input: { value: string } | undefined,
    scheduled: Timestamp | undefined,
  ): HistoryEvent {
    return {
      eventId: -1,
      timestamp: now(),
      executionStarted: {
        name,
        ...(input ? { input } : {}),
        workflowInstance: { instanceId: id, executionId: { value: randomUUID() } },
        ...(scheduled ? { scheduledStartTimestamp: scheduled } : {}),
      },
    };
  }

  // ---- gRPC -------------------------------------------------------------------------------------------------------

  let grpcServer: grpc.Server | undefined;
  let grpcAddress: string | undefined;
  if (options.grpc !== false) {
    grpcServer = new grpc.Server();
    const implementation: grpc.UntypedServiceImplementation = {};
    for (const name of Object.keys(TASKHUB_SERVICE) as TaskHubMethod[]) {
      implementation[name] = (call: grpc.ServerUnaryCall<Plain, Plain>, callback: grpc.sendUnaryData<Plain>) => {
        void handleGrpc(name, call).then(
          (response) => callback(null, response),
          (error: unknown) => callback(toGrpcError(error)),
        );
      };
    }
    grpcServer.addService(TASKHUB_SERVICE as unknown as grpc.ServiceDefinition, implementation);
    const port = await new Promise<number>((resolve, reject) => {
      grpcServer!.bindAsync(`127.0.0.1:${options.grpcPort ?? 0}`, grpc.ServerCredentials.createInsecure(), (e, p) =>
        e ? reject(e) : resolve(p),
      );
    });
    grpcAddress = `127.0.0.1:${port}`;
  }

  class GrpcError extends Error {
    constructor(
      readonly code: grpc.status,
      message: string,
    ) {
      super(message);
    }
  }

  function toGrpcError(error: unknown): Partial<grpc.StatusObject> {
    if (error instanceof GrpcError) return { code: error.code, details: error.message };
    if (error instanceof EngineError) {
      const code =
        error.kind === "rerun-not-found"
          ? grpc.status.NOT_FOUND
          : error.kind === "rerun-already-exists"
            ? grpc.status.ALREADY_EXISTS
            : error.kind === "invalid-argument"
              ? grpc.status.INVALID_ARGUMENT
              : error.kind === "already-exists"
                ? grpc.status.ALREADY_EXISTS
                : grpc.status.UNKNOWN;
      return { code, details: error.message };
    }
    return { code: grpc.status.INTERNAL, details: error instanceof Error ? error.message : String(error) };
  }

  async function handleGrpc(name: TaskHubMethod, call: grpc.ServerUnaryCall<Plain, Plain>): Promise<Plain> {
    const request = call.request;
    const token = call.metadata.get("dapr-api-token");
    const record: RecordedRequest = {
      transport: "grpc",
      method: name,
      path: "",
      headers: { "dapr-api-token": token.length > 0 ? String(token[0]) : undefined },
      body: JSON.stringify(request),
    };
    requests.push(record);
    try {
      const response = await grpcDispatch(name, request, token);
      record.status = grpc.status.OK;
      return response;
    } catch (error) {
      record.status = toGrpcError(error).code;
      throw error;
    }
  }

  async function grpcDispatch(name: TaskHubMethod, request: Plain, token: grpc.MetadataValue[]): Promise<Plain> {
    if (state.latencyMs > 0) await delay(state.latencyMs);
    const fault = grpcFaults.shift();
    if (fault?.kind === "delay") await delay(fault.ms);
    if (fault?.kind === "status" && fault.when !== "after") {
      throw new GrpcError(fault.code, fault.message ?? "injected fault");
    }
    if (options.apiToken !== undefined) {
      if (token.length === 0 || String(token[0]) !== options.apiToken) {
        throw new GrpcError(grpc.status.UNAUTHENTICATED, "Unauthorized");
      }
    }
    const response = await grpcOperation(name, request);
    if (fault?.kind === "status") throw new GrpcError(fault.code, fault.message ?? "injected fault");
    return response;
  }

  async function grpcOperation(name: TaskHubMethod, request: Plain): Promise<Plain> {
    const id = String(request.instanceId ?? "");
    switch (name) {
      case "StartInstance": {
        const instanceId = id === "" ? randomUUID() : id;
        const event = startEvent(
          instanceId,
          String(request.name ?? ""),
          request.input,
          request.scheduledStartTimestamp,
        );
        try {
          await engine.create(event);
        } catch (error) {
          if (error instanceof EngineError && error.kind === "already-exists") {
            throw new GrpcError(grpc.status.ALREADY_EXISTS, `failed to create workflow instance: ${error.message}`);
          }
          throw error;
        }
        return { instanceId };
      }
      case "GetInstance": {
        const record = await engine.store.readInstance(id);
        if (!record) return { exists: false };
        const meta = workflowMetadata(record);
        const state: Plain = {
          instanceId: id,
          name: meta.name,
          workflowStatus: meta.status,
          createdTimestamp: meta.createdAt ?? GO_ZERO_TIMESTAMP,
          lastUpdatedTimestamp: meta.lastUpdatedAt,
        };
        if (request.getInputsAndOutputs) {
          if (meta.input) state.input = meta.input;
          if (meta.output) state.output = meta.output;
          if (meta.customStatus) state.customStatus = meta.customStatus;
          if (meta.failureDetails) state.failureDetails = meta.failureDetails;
        }
        return { exists: true, workflowState: state };
      }
      case "RaiseEvent":
        await engine.addEvent(id, {
          eventId: -1,
          timestamp: now(),
          eventRaised: { name: String(request.name ?? ""), ...(request.input ? { input: request.input } : {}) },
        });
        return {};
      case "TerminateInstance":
        try {
          await engine.addEvent(id, {
            eventId: -1,
            timestamp: now(),
            executionTerminated: { ...(request.output ? { input: request.output } : {}), recurse: !!request.recursive },
          });
        } catch (error) {
          if (error instanceof EngineError)
            throw new EngineError(error.kind, `failed to submit termination request: ${error.message}`);
          throw error;
        }
        return {};
      case "SuspendInstance":
      case "ResumeInstance": {
        const reason = request.reason?.value ? { input: { value: String(request.reason.value) } } : {};
        await engine.addEvent(
          id,
          name === "SuspendInstance"
            ? { eventId: -1, timestamp: now(), executionSuspended: reason }
            : { eventId: -1, timestamp: now(), executionResumed: reason },
        );
        return {};
      }
      case "PurgeInstances": {
        if (request.purgeInstanceFilter) throw new Error("multi-instance purge is not implemented");
        try {
          const count = await engine.purge(id, { recursive: !!request.recursive, force: !!request.force });
          return { deletedInstanceCount: count };
        } catch (error) {
          if (error instanceof EngineError)
            throw new EngineError(error.kind, `failed to purge workflow state: ${error.message}`);
          throw error;
        }
      }
      case "RerunWorkflowFromEvent": {
        const newInstanceID = await engine.rerun({
          sourceInstanceId: String(request.sourceInstanceID ?? ""),
          eventId: Number(request.eventID ?? 0),
          newInstanceId: request.newInstanceID,
          input: request.input?.value ?? (request.input ? "" : undefined),
          overwriteInput: !!request.overwriteInput,
          newChildWorkflowInstanceId: request.newChildWorkflowInstanceID,
        });
        return { newInstanceID };
      }
      case "ListInstanceIDs": {
        // list.go: KeysLike over `{app}||dapr.internal.{ns}.{app}.workflow||%||metadata`; no page size = everything.
        const pageSize = request.pageSize ? Number(request.pageSize) : 1_000_000;
        const page = await options.backend.scanKeys({
          prefix: workflowKeyPrefix(app),
          suffix: `${KEY_SEPARATOR}${METADATA_KEY}`,
          pageSize,
          cursor: request.continuationToken,
        });
        const prefix = workflowKeyPrefix(app);
        const ids = page.keys.map((k) => k.slice(prefix.length, k.length - KEY_SEPARATOR.length - METADATA_KEY.length));
        return { instanceIds: ids, ...(page.cursor !== undefined ? { continuationToken: page.cursor } : {}) };
      }
      case "GetInstanceHistory": {
        const record = await engine.store.readInstance(id);
        if (!record) throw new GrpcError(grpc.status.NOT_FOUND, `workflow instance '${id}' not found`);
        return { events: record.history.map((e) => Buffer.from(encodeHistoryEvent(e))) };
      }
    }
  }

  // ---- lifecycle --------------------------------------------------------------------------------------------------

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;

  return {
    url: `http://127.0.0.1:${port}`,
    grpcAddress,
    app,
    store: engine.store,
    requests,
    get latencyMs() {
      return state.latencyMs;
    },
    set latencyMs(ms: number) {
      state.latencyMs = ms;
    },
    hangInstances,
    failNext(fault, count = 1) {
      for (let i = 0; i < count; i++) httpFaults.push(fault);
    },
    failNextGrpc(fault, count = 1) {
      for (let i = 0; i < count; i++) grpcFaults.push(fault);
    },
    clearFaults() {
      httpFaults.length = 0;
      grpcFaults.length = 0;
    },
    setWorkflow(name, script) {
      engine.setScript(name, script);
    },
    runPending(instanceId) {
      return engine.runPending(instanceId);
    },
    async keysOf(instanceId) {
      const prefix = instanceKeyPrefix(app, instanceId);
      const keys: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await options.backend.scanKeys({ prefix, suffix: "", pageSize: 1000, cursor });
        keys.push(...page.keys.map((k) => k.slice(prefix.length)));
        cursor = page.cursor;
      } while (cursor !== undefined);
      return [...new Set(keys)].sort();
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (grpcServer) grpcServer.forceShutdown();
      await engine.close();
    },
  };
}

/** A response that goes nowhere: the request is processed, then a fault answer replaces the real one. */
class ServerResponseSink {
  headersSent = false;
  statusCode = 200;
  writeHead(status: number, _headers?: Record<string, string>): this {
    this.statusCode = status;
    return this;
  }
  setHeader(): this {
    return this;
  }
  end(_body?: string): this {
    return this;
  }
}

function writeJson(res: ServerResponse | ServerResponseSink, status: number, body: unknown): void {
  // Dapr's error bodies come from Go's encoding/json, which escapes <, > and & (goJsonString does the same).
  const error = body as { errorCode?: unknown; message?: unknown };
  const text =
    typeof error.errorCode === "string"
      ? `{"errorCode":${goJsonString(error.errorCode)},"message":${goJsonString(String(error.message))}}`
      : JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json" });
  res.end(text);
}

function writeFault(res: ServerResponse, fault: Extract<HttpFault, { kind: "status" }>): void {
  const headers: Record<string, string> = { "content-type": fault.contentType ?? "application/json" };
  if (fault.retryAfter !== undefined) headers["retry-after"] = fault.retryAfter;
  res.writeHead(fault.status, headers);
  res.end(fault.body ?? `{"errorCode":"ERR_INJECTED","message":"injected fault: HTTP ${fault.status}"}`);
}

function notFound(res: ServerResponse | ServerResponseSink): void {
  res.writeHead(404, { "content-type": "text/plain; charset=utf-8", "x-content-type-options": "nosniff" });
  res.end("404 page not found\n");
}

function methodNotAllowed(res: ServerResponse | ServerResponseSink): void {
  res.writeHead(405);
  res.end();
}

/** The instance ID an HTTP workflow path names (`/v1.0/workflows/<component>/<id>[/…]`), or "". */
function instanceIdOf(url: string | undefined): string {
  const segment = new URL(url ?? "/", "http://standin").pathname.split("/")[4] ?? "";
  try {
    return decodeURIComponent(segment);
  } catch {
    return "";
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
