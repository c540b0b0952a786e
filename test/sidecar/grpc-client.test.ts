/**
 * GrpcSidecarClient (durabletask TaskHubSidecarService) and DualSidecarClient against the stand-in's gRPC port over
 * a real PostgreSQL store: the methods @dapr/durabletask-js covers, the ones we add (rerun, ListInstanceIDs,
 * GetInstanceHistory, terminate/purge with recursive and force), typed errors, the token and retries.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { DualSidecarClient } from "../../shared/sidecar/dual-client.ts";
import { SidecarError } from "../../shared/sidecar/errors.ts";
import { GrpcSidecarClient, type GrpcSidecarClientOptions } from "../../shared/sidecar/grpc-client.ts";
import type { StateBackend } from "../../shared/state-store/backend.ts";
import { sidecarPurger } from "../../shared/wiring/target-ports.ts";
import { type SidecarStandin, type SidecarStandinOptions, startSidecarStandin } from "../support/sidecar-standin.ts";
import { storeFactories } from "../support/stores.ts";
import { storedEvents, types } from "./helpers.ts";

const SCRIPTS: SidecarStandinOptions["workflows"] = {
  Quick: { output: "done" },
  TwoSteps: { activities: [{ name: "Reserve" }, { name: "Charge" }] },
  Approval: { waitForEvent: "Approved" },
  Forever: { outcome: "run" },
};

let backend: StateBackend;
let standin: SidecarStandin;
const clients: Array<{ close(): Promise<void> }> = [];

function grpcClient(options: GrpcSidecarClientOptions = {}): GrpcSidecarClient {
  const c = new GrpcSidecarClient({ address: standin.grpcAddress, sleep: async () => {}, ...options });
  clients.push(c);
  return c;
}

async function sidecarError(promise: Promise<unknown>): Promise<SidecarError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SidecarError);
  return error as SidecarError;
}

beforeAll(async () => {
  backend = await storeFactories(6)[0]!.open(); // PostgreSQL (v1 table)
  standin = await startSidecarStandin({ backend, workflows: SCRIPTS, appId: "grpc-app" });
});
afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
  await standin?.close();
  await backend?.close();
});
afterEach(() => {
  standin.clearFaults();
});

describe("GrpcSidecarClient", () => {
  it("start/get over durabletask-js' generated client; the wire carries the API token and user agent", async () => {
    const sidecar = grpcClient({ apiToken: "tok" });
    const mark = standin.requests.length;
    expect(await sidecar.start("Quick", { instanceId: "g-1", input: { n: 1 } })).toBe("g-1");
    const meta = await sidecar.get("g-1");
    expect(meta).toMatchObject({
      instanceId: "g-1",
      workflowName: "Quick",
      runtimeStatus: "COMPLETED",
      input: '{"n":1}',
      output: '"done"',
      customStatus: "",
    });
    expect(meta?.createdAt).toBeInstanceOf(Date);
    expect(await sidecar.get("g-missing")).toBeUndefined();
    expect(standin.requests[mark]).toMatchObject({ transport: "grpc", method: "StartInstance" });
    expect(standin.requests[mark]?.headers["dapr-api-token"]).toBe("tok");
  });

  it("accepts instance IDs the HTTP API would reject (the gRPC API does not validate them)", async () => {
    expect(await grpcClient().start("Quick", { instanceId: "parent:0001" })).toBe("parent:0001");
  });

  it("a scheduled start stays PENDING with only inbox-000000 + metadata", async () => {
    const sidecar = grpcClient();
    await sidecar.start("Quick", { instanceId: "g-later", startTime: new Date(Date.now() + 3_600_000) });
    expect((await sidecar.get("g-later"))?.runtimeStatus).toBe("PENDING");
    expect(await standin.keysOf("g-later")).toEqual(["inbox-000000", "metadata"]);
    const [start] = await storedEvents(backend, standin.app, "g-later", "inbox");
    expect(start?.executionStarted?.scheduledStartTimestamp?.seconds).toBeGreaterThan(Date.now() / 1000);
  });

  it("suspend/resume carry the reason; terminate carries the output; raise-event the payload", async () => {
    const sidecar = grpcClient();
    await sidecar.start("Approval", { instanceId: "g-2" });
    await sidecar.suspend("g-2", { reason: "maintenance" });
    expect((await sidecar.get("g-2"))?.runtimeStatus).toBe("SUSPENDED");
    await sidecar.resume("g-2", { reason: "done" });
    await sidecar.raiseEvent("g-2", "Other", { input: [1, 2] });
    await sidecar.terminate("g-2", { output: { stoppedBy: "ops" } });
    const meta = await sidecar.get("g-2");
    expect(meta).toMatchObject({ runtimeStatus: "TERMINATED", output: '{"stoppedBy":"ops"}' });
    const history = await storedEvents(backend, standin.app, "g-2");
    expect(history.find((e) => e.executionSuspended)?.executionSuspended?.input?.value).toBe("maintenance");
    expect(history.find((e) => e.executionResumed)?.executionResumed?.input?.value).toBe("done");
    expect(history.find((e) => e.eventRaised)?.eventRaised?.input?.value).toBe("[1,2]");
    expect(history.find((e) => e.executionTerminated)?.executionTerminated).toEqual({
      input: { value: '{"stoppedBy":"ops"}' },
      recurse: true,
    });
  });

  it("purge: refuses a running instance unless forced; force deletes it anyway", async () => {
    const sidecar = grpcClient();
    await sidecar.start("Forever", { instanceId: "g-3" });
    expect(await sidecarError(sidecar.purge("g-3"))).toMatchObject({ kind: "not-terminal", errorCode: "UNKNOWN" });
    await sidecar.purge("g-3", { force: true });
    expect(await standin.keysOf("g-3")).toEqual([]);
    expect(await sidecarError(sidecar.purge("g-3"))).toMatchObject({ kind: "not-found" });
  });

  it("getHistory decodes the committed history (not the inbox)", async () => {
    const sidecar = grpcClient();
    await sidecar.start("TwoSteps", { instanceId: "g-4", input: "x" });
    const history = await sidecar.getHistory("g-4");
    expect(types(history)).toEqual(types(await storedEvents(backend, standin.app, "g-4")));
    expect(history[1]?.executionStarted?.name).toBe("TwoSteps");
    expect(await sidecarError(sidecar.getHistory("g-none"))).toMatchObject({
      kind: "not-found",
      errorCode: "NOT_FOUND",
      message: "workflow instance 'g-none' not found",
    });
  });

  it("listInstanceIds pages with the store's continuation token; instanceIds() walks every page", async () => {
    const sidecar = grpcClient();
    const all: string[] = [];
    for await (const page of sidecar.instanceIds({ pageSize: 2 })) {
      expect(page.length).toBeLessThanOrEqual(2);
      all.push(...page);
    }
    const expected: string[] = [];
    for await (const page of standin.store.listInstances()) expected.push(...page.instances.map((i) => i.instanceId));
    expect(all.sort()).toEqual(expected.sort());
    expect(all.length).toBeGreaterThan(3);
    const first = await sidecar.listInstanceIds({ pageSize: 1 });
    expect(first.instanceIds).toHaveLength(1);
    expect(first.continuationToken).toBeDefined();
  });

  it("rerun from an activity event: a new instance with the copied history and the new input", async () => {
    const sidecar = grpcClient();
    await sidecar.start("TwoSteps", { instanceId: "src-1", input: "first" });
    const newId = await sidecar.rerun("src-1", { eventId: 1, newInstanceId: "rerun-1", input: "second" });
    expect(newId).toBe("rerun-1");
    const meta = await sidecar.get("rerun-1");
    expect(meta).toMatchObject({ runtimeStatus: "COMPLETED", workflowName: "TwoSteps", output: '"second"' });
    const history = await storedEvents(backend, standin.app, "rerun-1");
    const rerunFrom = history.find((e) => e.eventId === 1 && e.taskScheduled);
    expect(rerunFrom?.taskScheduled).toMatchObject({
      name: "Charge",
      input: { value: '"second"' },
      rerunParentInstanceInfo: { instanceID: "src-1" },
    });
    // The first activity and its result were copied, not re-run.
    expect(history.filter((e) => e.taskScheduled?.name === "Reserve")).toHaveLength(1);
    const generated = await sidecar.rerun("src-1");
    expect(generated).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("rerun errors keep Dapr's codes and words", async () => {
    const sidecar = grpcClient();
    await sidecar.start("Forever", { instanceId: "src-2" });
    expect(await sidecarError(sidecar.rerun("src-2"))).toMatchObject({
      kind: "not-terminal",
      errorCode: "INVALID_ARGUMENT",
      message: "'src-2' is not in a terminal state",
    });
    expect(await sidecarError(sidecar.rerun("src-none"))).toMatchObject({
      kind: "not-found",
      message: "workflow instance does not exist with ID 'src-none'",
    });
    expect(await sidecarError(sidecar.rerun("src-1", { eventId: 99 }))).toMatchObject({
      kind: "not-found",
      message: "does not have history event with ID '99'",
    });
    expect(await sidecarError(sidecar.rerun("src-1", { newInstanceId: "src-1" }))).toMatchObject({
      kind: "bad-request",
      message: "rerun workflow instance ID must be different from the original instance ID",
    });
    expect(await sidecarError(sidecar.rerun("src-1", { newInstanceId: "rerun-1" }))).toMatchObject({
      kind: "already-exists",
      message: "workflow 'rerun-1' has already been created",
    });
    expect(await sidecarError(sidecar.rerun("src-1", { eventId: -1 }))).toMatchObject({ kind: "bad-request" });
  });

  it("typed errors: already-exists on start, not-found on raise-event of a missing instance", async () => {
    const sidecar = grpcClient();
    await sidecar.start("Forever", { instanceId: "g-5" });
    const duplicate = await sidecarError(sidecar.start("Forever", { instanceId: "g-5" }));
    expect(duplicate).toMatchObject({ kind: "already-exists", errorCode: "ALREADY_EXISTS", grpcCode: 6 });
    expect(duplicate.message).toContain("an active workflow with ID 'g-5' already exists");
    expect(await sidecarError(sidecar.raiseEvent("g-none", "E"))).toMatchObject({
      kind: "not-found",
      message: "no such instance exists",
    });
  });

  it("unauthorized: UNAUTHENTICATED for a wrong or missing token", async () => {
    const guarded = await startSidecarStandin({ backend, apiToken: "right", appId: "guarded" });
    try {
      const error = await sidecarError(grpcClient({ address: guarded.grpcAddress }).get("x"));
      expect(error).toMatchObject({ kind: "unauthorized", code: "unauthorized", grpcCode: 16 });
      expect(error.message).toContain("Unauthorized");
      expect(await grpcClient({ address: guarded.grpcAddress, apiToken: "right" }).get("x")).toBeUndefined();
    } finally {
      await guarded.close();
    }
  });

  it("retries reads on UNAVAILABLE, never a write that reached the server", async () => {
    const sidecar = grpcClient();
    standin.failNextGrpc({ kind: "status", code: 14, message: "try later" });
    expect((await sidecar.get("g-1"))?.runtimeStatus).toBe("COMPLETED");
    standin.failNextGrpc({ kind: "status", code: 14, message: "try later" });
    const mark = standin.requests.length;
    expect(await sidecarError(sidecar.raiseEvent("g-5", "E"))).toMatchObject({ kind: "unavailable", grpcCode: 14 });
    expect(standin.requests.length - mark).toBe(1);
  });

  it("a purge Dapr answers 'workflow is stalled' (api.ErrStalled) is a not-terminal skip, not a failure", async () => {
    // durabletask-go backend/executor.go PurgeInstances wraps the error as plain text: gRPC UNKNOWN.
    standin.failNextGrpc({ kind: "status", code: 2, message: "failed to purge workflow state: workflow is stalled" });
    expect(await sidecarPurger(grpcClient()).purge("g-stalled")).toBe("not-terminal");
    // Only a purge: the same words from another call stay what they were.
    standin.failNextGrpc({ kind: "status", code: 2, message: "workflow is stalled" });
    expect(await sidecarError(grpcClient().raiseEvent("g-stalled", "E"))).toMatchObject({ kind: "internal" });
  });

  it("no sidecar listening: `unavailable` after the bounded retries", async () => {
    const sidecar = grpcClient({ address: "127.0.0.1:1", retry: { maxAttempts: 2 }, deadlineMs: 2_000 });
    expect(await sidecarError(sidecar.start("Quick"))).toMatchObject({ kind: "unavailable" });
  });
});

describe("DualSidecarClient", () => {
  it("routes to HTTP by default and to gRPC only for what HTTP cannot carry", async () => {
    const sidecar = new DualSidecarClient({
      http: { url: standin.url },
      grpc: { address: standin.grpcAddress },
    });
    clients.push(sidecar);
    const mark = standin.requests.length;
    await sidecar.start("Forever", { instanceId: "d-1" });
    await sidecar.suspend("d-1");
    await sidecar.resume("d-1", { reason: "why not" });
    await sidecar.terminate("d-1", { output: 1 });
    await sidecar.purge("d-1");
    await sidecar.start("Forever", { instanceId: "d-2", startTime: new Date(Date.now() + 60_000) });
    await sidecar.purge("d-2", { force: true });
    const log = standin.requests
      .slice(mark)
      .map((r) => `${r.transport} ${r.transport === "grpc" ? r.method : r.method}`);
    expect(log).toEqual([
      "http POST",
      "http POST",
      "grpc ResumeInstance",
      "grpc TerminateInstance",
      "http POST",
      "grpc StartInstance",
      "grpc PurgeInstances",
    ]);
  });
});
