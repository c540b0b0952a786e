/**
 * Pins the sidecar stand-in to Dapr's workflow HTTP API (dapr master pkg/api/http/workflow.go,
 * pkg/api/universal/workflow.go, pkg/messages/predefined.go; docs/dapr-state-store.md §1.3, §3.1, §5.2) with raw
 * HTTP calls: status codes, error codes and messages, state transitions, and the exact keys it leaves in a real
 * state store after each step.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { writeInstances } from "../../shared/sample-data/writer.ts";
import type { StateBackend } from "../../shared/state-store/backend.ts";
import { CUSTOM_STATUS_KEY, instanceKeyPrefix } from "../../shared/state-store/keys.ts";
import { decodeCustomStatus } from "../../shared/workflow/history-event.ts";
import { type SidecarStandin, type SidecarStandinOptions, startSidecarStandin } from "../support/sidecar-standin.ts";
import { storeFactories } from "../support/stores.ts";
import { call, historyKeys, storedEvents, storedMetadata, types } from "./helpers.ts";

const WF = "/v1.0/workflows/dapr";
const SCRIPTS: SidecarStandinOptions["workflows"] = {
  Quick: { output: { ok: true } },
  TwoSteps: { activities: [{ name: "Reserve" }, { name: "Charge", result: { charged: 42 } }] },
  Approval: { waitForEvent: "Approved" },
  Broken: { outcome: "fail", failure: { errorType: "Boom", errorMessage: "it broke", stackTrace: "at x" } },
  Forever: { outcome: "run", customStatus: "working" },
  BadActivity: { activities: [{ name: "Charge", fail: "card declined" }] },
};

// Redis logical DB 6 belongs to the sidecar tests; only this file uses Redis.
const factories = storeFactories(6);

for (const factory of factories) {
  describe(`stand-in state in Dapr's layout on ${factory.name}`, () => {
    let backend: StateBackend;
    let standin: SidecarStandin;
    beforeAll(async () => {
      backend = await factory.open();
      standin = await startSidecarStandin({ backend, workflows: SCRIPTS, turns: "manual", grpc: false });
    });
    afterAll(async () => {
      await standin?.close();
      await backend?.close();
    });

    it("start saves only inbox-000000 + metadata; a turn moves it to history; purge deletes every key", async () => {
      const started = await call(standin.url, "POST", `${WF}/TwoSteps/start?instanceID=layout-1`, {
        body: '{"order":7}',
      });
      expect(started.status).toBe(202);
      expect(started.json).toEqual({ instanceID: "layout-1" });
      expect(await standin.keysOf("layout-1")).toEqual(["inbox-000000", "metadata"]);
      expect(await storedMetadata(backend, standin.app, "layout-1")).toMatchObject({
        inboxLength: 1,
        historyLength: 0,
        generation: 1,
      });
      const [start] = await storedEvents(backend, standin.app, "layout-1", "inbox");
      expect(start?.executionStarted).toMatchObject({
        name: "TwoSteps",
        input: { value: '{"order":7}' },
        workflowInstance: { instanceId: "layout-1" },
      });
      expect(start?.eventId).toBe(-1);

      await standin.runPending("layout-1");
      const history = await storedEvents(backend, standin.app, "layout-1");
      expect(types(history)).toEqual([
        "workflowStarted",
        "executionStarted",
        "taskScheduled",
        "workflowStarted",
        "taskCompleted",
        "taskScheduled",
        "workflowStarted",
        "taskCompleted",
        "executionCompleted",
      ]);
      expect(history.map((e) => e.eventId ?? 0)).toEqual([-1, -1, 0, -1, -1, 1, -1, -1, 2]);
      // Go's proto.Marshal leaves out zero scalars: taskScheduledId 0 is absent on the wire, as from a real sidecar.
      expect(history[4]?.taskCompleted).toEqual({
        result: { value: '{"order":7}' },
        taskExecutionId: history[2]?.taskScheduled?.taskExecutionId,
      });
      expect(history[8]?.executionCompleted).toMatchObject({ workflowStatus: 1, result: { value: '{"charged":42}' } });
      expect(history[1]?.router).toEqual({ sourceAppID: standin.app.appId });
      expect(await standin.keysOf("layout-1")).toEqual(["customStatus", ...historyKeys(9), "metadata"]);
      const csKey = instanceKeyPrefix(standin.app, "layout-1") + CUSTOM_STATUS_KEY;
      const cs = (await backend.getMany([csKey])).get(csKey);
      expect(cs?.length).toBe(0); // an empty StringValue, as Dapr writes when no custom status was set
      expect(decodeCustomStatus(cs!)).toBe("");

      const record = await standin.store.readInstance("layout-1");
      expect(record).toMatchObject({ runtimeStatus: "COMPLETED", name: "TwoSteps", output: '{"charged":42}' });

      expect((await call(standin.url, "POST", `${WF}/layout-1/purge`)).status).toBe(202);
      expect(await standin.keysOf("layout-1")).toEqual([]);
      expect(await standin.store.readInstance("layout-1")).toBeUndefined();
    });

    it("an event on a running instance lands in the inbox, then in history; list sees each status", async () => {
      await call(standin.url, "POST", `${WF}/Approval/start?instanceID=layout-2`);
      await standin.runPending();
      expect(await standin.keysOf("layout-2")).toEqual(["customStatus", ...historyKeys(2), "metadata"]);
      const raised = await call(standin.url, "POST", `${WF}/layout-2/raiseEvent/Approved`, { body: '"yes"' });
      expect(raised.status).toBe(202);
      expect(await standin.keysOf("layout-2")).toEqual(["customStatus", ...historyKeys(2), "inbox-000000", "metadata"]);
      await standin.runPending();
      const history = await storedEvents(backend, standin.app, "layout-2");
      expect(types(history).slice(2)).toEqual(["workflowStarted", "eventRaised", "executionCompleted"]);
      expect(history[4]?.executionCompleted?.result?.value).toBe('"yes"');
      expect(await standin.keysOf("layout-2")).toEqual(["customStatus", ...historyKeys(5), "metadata"]);

      await call(standin.url, "POST", `${WF}/Forever/start?instanceID=layout-3`);
      await call(standin.url, "POST", `${WF}/Forever/start?instanceID=layout-4`);
      await standin.runPending("layout-4");
      const statuses: Record<string, string> = {};
      for await (const page of standin.store.listInstances()) {
        for (const i of page.instances) statuses[i.instanceId] = i.runtimeStatus;
      }
      expect(statuses).toEqual({ "layout-2": "COMPLETED", "layout-3": "PENDING", "layout-4": "RUNNING" });
    });
  });
}

describe("stand-in HTTP API (PostgreSQL)", () => {
  let backend: StateBackend;
  let standin: SidecarStandin;
  beforeAll(async () => {
    backend = await factories[0]!.open();
    standin = await startSidecarStandin({ backend, workflows: SCRIPTS, grpc: false });
  });
  afterAll(async () => {
    await standin?.close();
    await backend?.close();
  });
  afterEach(() => {
    standin.latencyMs = 0;
  });

  const notFoundBody = (id: string) => ({
    errorCode: "ERR_INSTANCE_ID_NOT_FOUND",
    message: `unable to find workflow with the provided instance ID: ${id}`,
  });

  it("GET of a missing instance: 404 ERR_INSTANCE_ID_NOT_FOUND (Dapr ≥1.16, tests/integration getnotfound.go)", async () => {
    const answer = await call(standin.url, "GET", "/v1.0-beta1/workflows/dapr/not-found");
    expect(answer.status).toBe(404);
    expect(answer.contentType).toBe("application/json");
    expect(answer.json).toEqual(notFoundBody("not-found"));
  });

  it("start answers 202 {instanceID}; the instance runs and GET shows its metadata", async () => {
    const started = await call(standin.url, "POST", `${WF}/Quick/start?instanceID=q-1`, { body: '{"a":1}' });
    expect(started).toMatchObject({ status: 202, json: { instanceID: "q-1" } });
    const got = await call(standin.url, "GET", `${WF}/q-1`);
    expect(got.status).toBe(200);
    const body = got.json as Record<string, unknown>;
    expect(Object.keys(body)).toEqual([
      "instanceID",
      "workflowName",
      "createdAt",
      "lastUpdatedAt",
      "runtimeStatus",
      "properties",
    ]);
    expect(body).toMatchObject({
      instanceID: "q-1",
      workflowName: "Quick",
      runtimeStatus: "COMPLETED",
      properties: {
        "dapr.workflow.input": '{"a":1}',
        "dapr.workflow.output": '{"ok":true}',
        "dapr.workflow.custom_status": "",
      },
    });
    expect(body.createdAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3}|\.\d{6}|\.\d{9})?Z$/);
  });

  it("start without instanceID picks a UUID; an empty body is an empty input", async () => {
    const started = await call(standin.url, "POST", `${WF}/Quick/start`);
    const id = (started.json as { instanceID: string }).instanceID;
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const got = await call(standin.url, "GET", `${WF}/${id}`);
    expect((got.json as { properties: Record<string, string> }).properties["dapr.workflow.input"]).toBe("");
  });

  it("validates instance IDs on start exactly like validateInstanceID", async () => {
    const bad = await call(standin.url, "POST", `${WF}/Quick/start?instanceID=${encodeURIComponent("bad id!")}`);
    expect(bad.status).toBe(400);
    expect(bad.json).toEqual({
      errorCode: "ERR_INSTANCE_ID_INVALID",
      message: "workflow instance ID 'bad id!' is invalid: only alphanumeric and underscore characters are allowed",
    });
    const long = await call(standin.url, "POST", `${WF}/Quick/start?instanceID=${"x".repeat(65)}`);
    expect(long.json).toEqual({
      errorCode: "ERR_INSTANCE_ID_TOO_LONG",
      message: "workflow instance ID exceeds the max length of 64 characters",
    });
    // 64 bytes is the limit, counted in UTF-8 bytes; letters and digits are Unicode ones.
    const unicode = `${"ü".repeat(32)}`;
    expect(
      (await call(standin.url, "POST", `${WF}/Quick/start?instanceID=${encodeURIComponent(unicode)}`)).status,
    ).toBe(202);
    const tooLong = `${"ü".repeat(32)}a`;
    expect(
      (await call(standin.url, "POST", `${WF}/Quick/start?instanceID=${encodeURIComponent(tooLong)}`)).json,
    ).toMatchObject({ errorCode: "ERR_INSTANCE_ID_TOO_LONG" });
    // Other operations only require a non-empty ID: `a:b` is a valid (gRPC-created) ID.
    expect((await call(standin.url, "GET", `${WF}/${encodeURIComponent("a:b")}`)).status).toBe(404);
  });

  it("an invalid appID is 400 ERR_WORKFLOW_APP_ID_INVALID; the own app ID is local", async () => {
    const bad = await call(standin.url, "GET", `${WF}/q-1?appID=a.b`);
    expect(bad).toMatchObject({ status: 400, json: { errorCode: "ERR_WORKFLOW_APP_ID_INVALID" } });
    expect((await call(standin.url, "GET", `${WF}/q-1?appID=${standin.app.appId}`)).status).toBe(200);
  });

  it("start with the ID of an active instance is ERR_START_WORKFLOW; of a finished one re-creates it (generation 2)", async () => {
    await call(standin.url, "POST", `${WF}/Forever/start?instanceID=dup-1`);
    const again = await call(standin.url, "POST", `${WF}/Forever/start?instanceID=dup-1`);
    expect(again.status).toBe(500);
    expect(again.json).toEqual({
      errorCode: "ERR_START_WORKFLOW",
      message:
        "error starting workflow 'Forever': unable to start workflow: failed to start workflow: rpc error: " +
        "code = AlreadyExists desc = an active workflow with ID 'dup-1' already exists",
    });

    await call(standin.url, "POST", `${WF}/TwoSteps/start?instanceID=dup-2`);
    expect(await storedMetadata(backend, standin.app, "dup-2")).toMatchObject({ historyLength: 9, generation: 1 });
    const recreated = await call(standin.url, "POST", `${WF}/Quick/start?instanceID=dup-2`);
    expect(recreated.status).toBe(202);
    expect(await storedMetadata(backend, standin.app, "dup-2")).toMatchObject({
      historyLength: 3,
      inboxLength: 0,
      generation: 2,
    });
    expect(await standin.keysOf("dup-2")).toEqual(["customStatus", ...historyKeys(3), "metadata"]);
    expect((await call(standin.url, "GET", `${WF}/dup-2`)).json).toMatchObject({ workflowName: "Quick" });
  });

  it("raise-event completes a waiting workflow; a wrong event name does not", async () => {
    await call(standin.url, "POST", `${WF}/Approval/start?instanceID=ev-1`);
    expect((await call(standin.url, "GET", `${WF}/ev-1`)).json).toMatchObject({ runtimeStatus: "RUNNING" });
    expect((await call(standin.url, "POST", `${WF}/ev-1/raiseEvent/Other`, { body: "1" })).status).toBe(202);
    expect((await call(standin.url, "GET", `${WF}/ev-1`)).json).toMatchObject({ runtimeStatus: "RUNNING" });
    const raised = await call(standin.url, "POST", `${WF}/ev-1/raiseEvent/approved`, { body: '{"by":"ann"}' });
    expect(raised).toMatchObject({ status: 202, json: {} });
    expect((await call(standin.url, "GET", `${WF}/ev-1`)).json).toMatchObject({
      runtimeStatus: "COMPLETED",
      properties: { "dapr.workflow.output": '{"by":"ann"}' },
    });
  });

  it("raise-event: unknown instance → 500 ERR_RAISE_EVENT_WORKFLOW; finished instance → 202 and dropped", async () => {
    const unknown = await call(standin.url, "POST", `${WF}/nope/raiseEvent/E`);
    expect(unknown.status).toBe(500);
    expect(unknown.json).toEqual({
      errorCode: "ERR_RAISE_EVENT_WORKFLOW",
      message:
        "error raising event on workflow 'nope': failed to raise event E on workflow nope: failed to raise event: " +
        "no such instance exists",
    });
    const before = await storedMetadata(backend, standin.app, "q-1");
    expect((await call(standin.url, "POST", `${WF}/q-1/raiseEvent/E`, { body: "1" })).status).toBe(202);
    expect(await storedMetadata(backend, standin.app, "q-1")).toEqual(before);
  });

  it("pause → SUSPENDED (events wait), resume → RUNNING and the waiting event is processed", async () => {
    await call(standin.url, "POST", `${WF}/Approval/start?instanceID=ps-1`);
    expect((await call(standin.url, "POST", `${WF}/ps-1/pause`)).status).toBe(202);
    expect((await call(standin.url, "GET", `${WF}/ps-1`)).json).toMatchObject({ runtimeStatus: "SUSPENDED" });
    await call(standin.url, "POST", `${WF}/ps-1/raiseEvent/Approved`, { body: "true" });
    expect((await call(standin.url, "GET", `${WF}/ps-1`)).json).toMatchObject({ runtimeStatus: "SUSPENDED" });
    expect((await call(standin.url, "POST", `${WF}/ps-1/resume`)).status).toBe(202);
    expect((await call(standin.url, "GET", `${WF}/ps-1`)).json).toMatchObject({ runtimeStatus: "COMPLETED" });
    const history = await storedEvents(backend, standin.app, "ps-1");
    expect(types(history)).toEqual([
      "workflowStarted",
      "executionStarted",
      "workflowStarted",
      "executionSuspended",
      "workflowStarted",
      "eventRaised",
      "workflowStarted",
      "executionResumed",
      "executionCompleted",
    ]);
  });

  it("pause/resume of an unknown instance: 500 ERR_PAUSE_WORKFLOW / ERR_RESUME_WORKFLOW", async () => {
    expect((await call(standin.url, "POST", `${WF}/nope/pause`)).json).toEqual({
      errorCode: "ERR_PAUSE_WORKFLOW",
      message:
        "error pausing workflow nope: failed to pause workflow nope: failed to suspend workflow: no such instance exists",
    });
    const resumed = await call(standin.url, "POST", `${WF}/nope/resume`);
    expect(resumed.status).toBe(500);
    expect(resumed.json).toMatchObject({ errorCode: "ERR_RESUME_WORKFLOW" });
  });

  it("terminate → TERMINATED; again on the finished instance → 202, nothing changes; unknown → 404", async () => {
    await call(standin.url, "POST", `${WF}/Forever/start?instanceID=t-1`);
    expect((await call(standin.url, "POST", `${WF}/t-1/terminate`)).status).toBe(202);
    expect((await call(standin.url, "GET", `${WF}/t-1`)).json).toMatchObject({ runtimeStatus: "TERMINATED" });
    const history = await storedEvents(backend, standin.app, "t-1");
    expect(types(history).slice(-3)).toEqual(["workflowStarted", "executionTerminated", "executionCompleted"]);
    expect(history.at(-1)?.executionCompleted?.workflowStatus).toBe(5);
    const before = await storedMetadata(backend, standin.app, "t-1");
    expect((await call(standin.url, "POST", `${WF}/t-1/terminate`)).status).toBe(202);
    expect(await storedMetadata(backend, standin.app, "t-1")).toEqual(before);
    const unknown = await call(standin.url, "POST", `${WF}/nope/terminate`);
    expect(unknown).toMatchObject({ status: 404, json: notFoundBody("nope") });
  });

  it("purge: non-terminal → 500 ERR_PURGE_WORKFLOW; never run (PENDING) or unknown → 404; terminal → 202", async () => {
    await call(standin.url, "POST", `${WF}/Forever/start?instanceID=p-1`);
    const running = await call(standin.url, "POST", `${WF}/p-1/purge`);
    expect(running.status).toBe(500);
    expect(running.json).toEqual({
      errorCode: "ERR_PURGE_WORKFLOW",
      message:
        "error purging workflow p-1: failed to Purge workflow p-1: failed to purge workflow state: orchestration has not yet completed",
    });
    expect((await call(standin.url, "POST", `${WF}/nope/purge`)).json).toEqual(notFoundBody("nope"));
    await call(standin.url, "POST", `${WF}/p-1/terminate`);
    expect((await call(standin.url, "POST", `${WF}/p-1/purge`)).status).toBe(202);
    expect(await standin.keysOf("p-1")).toEqual([]);
    expect((await call(standin.url, "GET", `${WF}/p-1`)).status).toBe(404);
  });

  it("a failing workflow reports failure properties and no output", async () => {
    await call(standin.url, "POST", `${WF}/Broken/start?instanceID=f-1`);
    expect((await call(standin.url, "GET", `${WF}/f-1`)).json).toMatchObject({
      runtimeStatus: "FAILED",
      properties: {
        "dapr.workflow.failure.error_type": "Boom",
        "dapr.workflow.failure.error_message": "it broke",
        "dapr.workflow.failure.stack_trace": "at x",
      },
    });
    await call(standin.url, "POST", `${WF}/BadActivity/start?instanceID=f-2`);
    const body = (await call(standin.url, "GET", `${WF}/f-2`)).json as { properties: Record<string, string> };
    expect(body.properties["dapr.workflow.failure.error_message"]).toBe("activity 'Charge' failed: card declined");
    expect(body.properties["dapr.workflow.output"]).toBeUndefined();
    await call(standin.url, "POST", `${WF}/NoSuchWorkflow/start?instanceID=f-3`);
    expect((await call(standin.url, "GET", `${WF}/f-3`)).json).toMatchObject({
      runtimeStatus: "FAILED",
      properties: { "dapr.workflow.failure.error_message": "workflow named 'NoSuchWorkflow' is not registered" },
    });
  });

  it("reports instances written by the test-data writer as Dapr would (name from history, STALLED → UNKNOWN)", async () => {
    const createdAt = new Date("2026-01-02T03:04:05.600Z");
    await writeInstances(backend, standin.app, [
      { instanceId: "w-failed", scenario: "failed", createdAt },
      { instanceId: "w-pending", scenario: "pending", createdAt },
      { instanceId: "w-stalled", scenario: "stalled", createdAt },
    ]);
    const failed = (await call(standin.url, "GET", `${WF}/w-failed`)).json as Record<string, unknown>;
    expect(failed).toMatchObject({ runtimeStatus: "FAILED", createdAt: "2026-01-02T03:04:05.600Z" });
    expect((failed.properties as Record<string, string>)["dapr.workflow.output"]).toBeUndefined();
    expect((await call(standin.url, "GET", `${WF}/w-pending`)).json).toEqual({
      instanceID: "w-pending",
      createdAt: "0001-01-01T00:00:00Z",
      lastUpdatedAt: "0001-01-01T00:00:00Z",
      runtimeStatus: "PENDING",
    });
    expect((await call(standin.url, "GET", `${WF}/w-stalled`)).json).toMatchObject({ runtimeStatus: "UNKNOWN" });
    // A never-run instance cannot be purged over HTTP: the recursive purge reads history only → not found.
    expect((await call(standin.url, "POST", `${WF}/w-pending/purge`)).status).toBe(404);
  });

  it("serves v1.0, v1.0-beta1 and v1.0-alpha1; master ignores the component name", async () => {
    for (const version of ["v1.0", "v1.0-beta1", "v1.0-alpha1"]) {
      expect((await call(standin.url, "GET", `/${version}/workflows/dapr/q-1`)).status).toBe(200);
    }
    expect((await call(standin.url, "GET", "/v1.0/workflows/other/q-1")).status).toBe(200);
  });

  it("unknown routes are chi's 404 text; a known route with the wrong method is 405", async () => {
    const missing = await call(standin.url, "GET", "/v1.0/workflows");
    expect(missing).toMatchObject({ status: 404, text: "404 page not found\n" });
    expect((await call(standin.url, "POST", `${WF}/q-1`)).status).toBe(405);
    expect((await call(standin.url, "GET", `${WF}/q-1/terminate`)).status).toBe(405);
  });

  it("injects faults on demand: a status with Retry-After, a reset, a hang, latency", async () => {
    standin.failNext({ kind: "status", status: 503, retryAfter: "2" });
    const fault = await fetch(`${standin.url}${WF}/q-1`);
    expect(fault.status).toBe(503);
    expect(fault.headers.get("retry-after")).toBe("2");
    await fault.text();
    expect((await call(standin.url, "GET", `${WF}/q-1`)).status).toBe(200);

    standin.failNext({ kind: "reset" });
    await expect(fetch(`${standin.url}${WF}/q-1`)).rejects.toThrow();

    standin.failNext({ kind: "hang" });
    await expect(fetch(`${standin.url}${WF}/q-1`, { signal: AbortSignal.timeout(200) })).rejects.toThrow();

    standin.latencyMs = 150;
    const t0 = Date.now();
    await call(standin.url, "GET", `${WF}/q-1`);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
  });

  it("a status fault `after` processing lets the call take effect, then answers the fault", async () => {
    standin.failNext({ kind: "status", status: 503, when: "after" });
    expect((await call(standin.url, "POST", `${WF}/Forever/start?instanceID=after-1`)).status).toBe(503);
    expect((await call(standin.url, "GET", `${WF}/after-1`)).json).toMatchObject({ runtimeStatus: "RUNNING" });
  });
});

describe("stand-in options", () => {
  let backend: StateBackend;
  beforeAll(async () => {
    backend = await factories[1]!.open();
  });
  afterAll(async () => {
    await backend?.close();
  });

  it("requires the API token like Dapr: 401 text/plain 'invalid api token'; healthz is exempt", async () => {
    const standin = await startSidecarStandin({ backend, apiToken: "s3cret", grpc: false, workflows: SCRIPTS });
    try {
      const missing = await call(standin.url, "GET", `${WF}/x`);
      expect(missing).toMatchObject({ status: 401, text: "invalid api token\n" });
      expect(missing.contentType).toBe("text/plain; charset=utf-8");
      const wrong = await call(standin.url, "GET", `${WF}/x`, { headers: { "dapr-api-token": "nope" } });
      expect(wrong.status).toBe(401);
      const right = await call(standin.url, "GET", `${WF}/x`, { headers: { "dapr-api-token": "s3cret" } });
      expect(right.status).toBe(404);
      expect((await call(standin.url, "GET", "/v1.0/healthz")).status).toBe(204);
    } finally {
      await standin.close();
    }
  });

  it("rejectUnknownComponent gives Dapr ≤1.14's ERR_WORKFLOW_COMPONENT_NOT_FOUND", async () => {
    const standin = await startSidecarStandin({ backend, rejectUnknownComponent: true, grpc: false });
    try {
      const answer = await call(standin.url, "GET", "/v1.0-beta1/workflows/temporal/x");
      expect(answer).toMatchObject({
        status: 400,
        json: {
          errorCode: "ERR_WORKFLOW_COMPONENT_NOT_FOUND",
          message: "workflow component 'temporal' does not exist",
        },
      });
    } finally {
      await standin.close();
    }
  });

  it("unknownWorkflow 'pending' keeps unscripted instances PENDING (no worker connected)", async () => {
    const standin = await startSidecarStandin({ backend, unknownWorkflow: "pending", grpc: false, appId: "other-app" });
    try {
      await call(standin.url, "POST", `${WF}/Unscripted/start?instanceID=u-1`);
      expect((await call(standin.url, "GET", `${WF}/u-1`)).json).toMatchObject({ runtimeStatus: "PENDING" });
      expect(await standin.keysOf("u-1")).toEqual(["inbox-000000", "metadata"]);
    } finally {
      await standin.close();
    }
  });
});
