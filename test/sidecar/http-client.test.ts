/**
 * HttpSidecarClient against the stand-in over a real PostgreSQL store: every route, the typed errors, validation
 * before any call, the API token and User-Agent headers, retries (only where nothing can have taken effect) and
 * timeouts.
 */
import { createServer } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { SidecarError } from "../../shared/sidecar/errors.ts";
import { HttpSidecarClient, type HttpSidecarClientOptions } from "../../shared/sidecar/http-client.ts";
import type { StateBackend } from "../../shared/state-store/backend.ts";
import { sidecarPurger } from "../../shared/wiring/target-ports.ts";
import { type SidecarStandin, type SidecarStandinOptions, startSidecarStandin } from "../support/sidecar-standin.ts";
import { storeFactories } from "../support/stores.ts";
import { storedEvents, types } from "./helpers.ts";

const SCRIPTS: SidecarStandinOptions["workflows"] = {
  Quick: { output: { ok: true }, customStatus: "done" },
  Approval: { waitForEvent: "Approved" },
  Forever: { outcome: "run" },
};

let backend: StateBackend;
let standin: SidecarStandin;
const waits: number[] = [];
const clients: HttpSidecarClient[] = [];

/** A client with instant, recorded retry waits. */
function client(options: HttpSidecarClientOptions = {}): HttpSidecarClient {
  const c = new HttpSidecarClient({
    url: standin.url,
    sleep: async (ms) => {
      waits.push(ms);
    },
    ...options,
  });
  clients.push(c);
  return c;
}

async function expectSidecarError(promise: Promise<unknown>): Promise<SidecarError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SidecarError);
  return error as SidecarError;
}

beforeAll(async () => {
  backend = await storeFactories(6)[1]!.open(); // PostgreSQL (v2 table)
  standin = await startSidecarStandin({ backend, workflows: SCRIPTS, grpc: false });
});
afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
  await standin?.close();
  await backend?.close();
});
afterEach(() => {
  waits.length = 0;
  standin.latencyMs = 0;
  standin.clearFaults();
});

function requestsSince(mark: number) {
  return standin.requests.slice(mark).map((r) => `${r.method} ${r.path.split("?")[0]}`);
}

describe("routes", () => {
  it("start + get: the instance ID, the typed metadata, the raw JSON input", async () => {
    const sidecar = client();
    const id = await sidecar.start("Quick", { instanceId: "h-1", input: { order: 7 } });
    expect(id).toBe("h-1");
    const meta = await sidecar.get("h-1");
    expect(meta).toMatchObject({
      instanceId: "h-1",
      workflowName: "Quick",
      runtimeStatus: "COMPLETED",
      input: '{"order":7}',
      output: '{"ok":true}',
      customStatus: "done",
      failure: undefined,
    });
    expect(meta?.createdAt).toBeInstanceOf(Date);
    expect(Math.abs(meta!.createdAt!.getTime() - Date.now())).toBeLessThan(60_000);
    expect(meta?.properties["dapr.workflow.input"]).toBe('{"order":7}');
  });

  it("rawInput is sent byte for byte; no instance ID means a client-side UUID in ?instanceID=", async () => {
    const sidecar = client();
    const mark = standin.requests.length;
    const id = await sidecar.start("Quick", { rawInput: '{ "spaced" : [1, 2] }' });
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(standin.requests[mark]?.path).toBe(`/v1.0/workflows/dapr/Quick/start?instanceID=${id}`);
    expect(standin.requests[mark]?.body).toBe('{ "spaced" : [1, 2] }');
    expect(standin.requests[mark]?.headers["content-type"]).toBe("application/json");
    expect((await sidecar.get(id))?.input).toBe('{ "spaced" : [1, 2] }');
  });

  it("get of a missing instance is undefined", async () => {
    expect(await client().get("missing-1")).toBeUndefined();
  });

  it("raiseEvent delivers the JSON payload; suspend/resume/terminate change the status", async () => {
    const sidecar = client();
    await sidecar.start("Approval", { instanceId: "h-2" });
    await sidecar.suspend("h-2");
    expect((await sidecar.get("h-2"))?.runtimeStatus).toBe("SUSPENDED");
    await sidecar.resume("h-2");
    expect((await sidecar.get("h-2"))?.runtimeStatus).toBe("RUNNING");
    await sidecar.raiseEvent("h-2", "Approved", { input: { by: "ann" } });
    expect(await sidecar.get("h-2")).toMatchObject({ runtimeStatus: "COMPLETED", output: '{"by":"ann"}' });

    await sidecar.start("Forever", { instanceId: "h-3" });
    await sidecar.terminate("h-3");
    expect((await sidecar.get("h-3"))?.runtimeStatus).toBe("TERMINATED");
    const history = await storedEvents(backend, standin.app, "h-3");
    expect(types(history)).toContain("executionTerminated");
  });

  it("purge deletes a terminal instance", async () => {
    const sidecar = client();
    await sidecar.start("Quick", { instanceId: "h-4" });
    await sidecar.purge("h-4");
    expect(await sidecar.get("h-4")).toBeUndefined();
    expect(await standin.keysOf("h-4")).toEqual([]);
  });

  it("uses the configured API version, component path and appID", async () => {
    const sidecar = client({ apiVersion: "v1.0-beta1", appId: standin.app.appId });
    const mark = standin.requests.length;
    await sidecar.get("h-1");
    expect(standin.requests[mark]?.path).toBe(`/v1.0-beta1/workflows/dapr/h-1?appID=${standin.app.appId}`);
  });

  it("percent-encodes path segments (IDs created over gRPC may hold ':' or '/')", async () => {
    const mark = standin.requests.length;
    expect(await client().get("a/b:c")).toBeUndefined();
    expect(standin.requests[mark]?.path).toBe("/v1.0/workflows/dapr/a%2Fb%3Ac");
  });
});

describe("typed errors", () => {
  it("already-exists: start with the ID of an active instance", async () => {
    const sidecar = client();
    await sidecar.start("Forever", { instanceId: "e-1" });
    const error = await expectSidecarError(sidecar.start("Forever", { instanceId: "e-1" }));
    expect(error).toMatchObject({ kind: "already-exists", code: "already-exists", errorCode: "ERR_START_WORKFLOW" });
    expect(error.status).toBe(500);
    expect(error.message).toContain("an active workflow with ID 'e-1' already exists");
  });

  it("not-found: raise-event, suspend, resume (500s) and terminate, purge (404s) of a missing instance", async () => {
    const sidecar = client();
    const cases: Array<[Promise<unknown>, string, number]> = [
      [sidecar.raiseEvent("nope", "E"), "ERR_RAISE_EVENT_WORKFLOW", 500],
      [sidecar.suspend("nope"), "ERR_PAUSE_WORKFLOW", 500],
      [sidecar.resume("nope"), "ERR_RESUME_WORKFLOW", 500],
      [sidecar.terminate("nope"), "ERR_INSTANCE_ID_NOT_FOUND", 404],
      [sidecar.purge("nope"), "ERR_INSTANCE_ID_NOT_FOUND", 404],
    ];
    for (const [promise, errorCode, status] of cases) {
      const error = await expectSidecarError(promise);
      expect(error).toMatchObject({ kind: "not-found", code: "not-found", errorCode, status });
    }
  });

  it("not-terminal: purge of a running instance", async () => {
    const sidecar = client();
    await sidecar.start("Forever", { instanceId: "e-2" });
    const error = await expectSidecarError(sidecar.purge("e-2"));
    expect(error).toMatchObject({ kind: "not-terminal", errorCode: "ERR_PURGE_WORKFLOW", status: 500 });
  });

  it("a purge Dapr answers 'workflow is stalled' (api.ErrStalled) is a not-terminal skip, not a failure", async () => {
    // dapr pkg/messages/predefined.go ErrPurgeWorkflow: 500, "error purging workflow %s: %s".
    const body = JSON.stringify({
      errorCode: "ERR_PURGE_WORKFLOW",
      message: "error purging workflow h-stalled: workflow is stalled",
    });
    standin.failNext({ kind: "status", status: 500, body, contentType: "application/json" });
    expect(await sidecarPurger(client()).purge("h-stalled")).toBe("not-terminal");
  });

  it("bad-request: Dapr's instance ID rules are checked before any call", async () => {
    const sidecar = client();
    const mark = standin.requests.length;
    const invalid = await expectSidecarError(sidecar.start("Quick", { instanceId: "bad id!" }));
    expect(invalid).toMatchObject({ kind: "bad-request", code: "bad-input", errorCode: "ERR_INSTANCE_ID_INVALID" });
    expect(invalid.message).toBe(
      "workflow instance ID 'bad id!' is invalid: only alphanumeric and underscore characters are allowed",
    );
    expect(await expectSidecarError(sidecar.start("Quick", { instanceId: "x".repeat(65) }))).toMatchObject({
      errorCode: "ERR_INSTANCE_ID_TOO_LONG",
    });
    expect(await expectSidecarError(sidecar.start("Quick", { instanceId: `${"é".repeat(32)}x` }))).toMatchObject({
      errorCode: "ERR_INSTANCE_ID_TOO_LONG",
    });
    expect(await expectSidecarError(sidecar.get(""))).toMatchObject({ errorCode: "ERR_INSTANCE_ID_PROVIDED_MISSING" });
    expect(await expectSidecarError(sidecar.start(""))).toMatchObject({ errorCode: "ERR_WORKFLOW_NAME_MISSING" });
    expect(await expectSidecarError(sidecar.raiseEvent("x", ""))).toMatchObject({
      errorCode: "ERR_WORKFLOW_EVENT_NAME_MISSING",
    });
    expect(await expectSidecarError(sidecar.get("x", { appId: "a.b" }))).toMatchObject({
      errorCode: "ERR_WORKFLOW_APP_ID_INVALID",
    });
    expect(await expectSidecarError(sidecar.start("Quick", { input: 1, rawInput: "1" }))).toMatchObject({
      kind: "bad-request",
    });
    expect(standin.requests.length).toBe(mark);
  });

  it("bad-request: what the HTTP API cannot carry (start time, output, reason, force)", async () => {
    const sidecar = client();
    const cases = [
      sidecar.start("Quick", { startTime: new Date() }),
      sidecar.terminate("x", { output: "done" }),
      sidecar.suspend("x", { reason: "why" }),
      sidecar.purge("x", { force: true }),
    ];
    for (const promise of cases) {
      expect(await expectSidecarError(promise)).toMatchObject({
        kind: "bad-request",
        errorCode: "UNSUPPORTED_OVER_HTTP",
      });
    }
  });

  it("bad-request: a 400 from the sidecar keeps Dapr's errorCode and status", async () => {
    standin.failNext({
      kind: "status",
      status: 400,
      body: '{"errorCode":"ERR_MALFORMED_REQUEST","message":"failed deserializing HTTP body"}',
    });
    const error = await expectSidecarError(client().get("h-1"));
    expect(error).toMatchObject({ kind: "bad-request", errorCode: "ERR_MALFORMED_REQUEST", status: 400 });
    expect(error.message).toBe("failed deserializing HTTP body");
  });

  it("internal: another 5xx; a body that is not Dapr's JSON still gives a readable message", async () => {
    standin.failNext({ kind: "status", status: 500, body: "upstream exploded", contentType: "text/plain" });
    const error = await expectSidecarError(client().get("h-1"));
    expect(error).toMatchObject({ kind: "internal", code: "store-error", status: 500, errorCode: undefined });
    expect(error.message).toBe("the Dapr sidecar answered HTTP 500: upstream exploded");
  });
});

describe("headers", () => {
  it("sends User-Agent dapr-housekeeper/<version> and, when configured, dapr-api-token", async () => {
    const mark = standin.requests.length;
    await client({ apiToken: "t0k3n" }).get("h-1");
    await client().get("h-1");
    expect(standin.requests[mark]?.headers["user-agent"]).toBe("dapr-housekeeper/0.1.0");
    expect(standin.requests[mark]?.headers["dapr-api-token"]).toBe("t0k3n");
    expect(standin.requests[mark + 1]?.headers["dapr-api-token"]).toBeUndefined();
  });

  it("unauthorized: Dapr's plain-text 401 for a wrong or missing token", async () => {
    const guarded = await startSidecarStandin({ backend, workflows: SCRIPTS, grpc: false, apiToken: "right" });
    try {
      const wrong = await expectSidecarError(client({ url: guarded.url, apiToken: "wrong" }).get("x"));
      expect(wrong).toMatchObject({ kind: "unauthorized", code: "unauthorized", status: 401 });
      expect(wrong.message).toBe(
        "the Dapr sidecar refused the request (HTTP 401: invalid api token); check the API token",
      );
      await expectSidecarError(client({ url: guarded.url }).start("Quick"));
      expect(await client({ url: guarded.url, apiToken: "right" }).get("x")).toBeUndefined();
    } finally {
      await guarded.close();
    }
  });
});

describe("retries", () => {
  it("503 then success: a GET is retried after a full-jitter wait", async () => {
    standin.failNext({ kind: "status", status: 503 });
    const mark = standin.requests.length;
    expect((await client({ random: () => 0.5 }).get("h-1"))?.runtimeStatus).toBe("COMPLETED");
    expect(requestsSince(mark)).toEqual(["GET /v1.0/workflows/dapr/h-1", "GET /v1.0/workflows/dapr/h-1"]);
    expect(waits).toEqual([50]); // random 0.5 × min(cap, base 100 × 2^0)
  });

  it("429 with Retry-After: waits at least that long, then retries", async () => {
    standin.failNext({ kind: "status", status: 429, retryAfter: "2" });
    await client().raiseEvent("h-1", "late");
    expect(waits).toEqual([2000]);
  });

  it("Retry-After beyond the time budget: gives up at once with the server's advice on the error", async () => {
    standin.failNext({ kind: "status", status: 503, retryAfter: "30" });
    const error = await expectSidecarError(client({ retry: { maxElapsedMs: 5_000 } }).get("h-1"));
    expect(error).toMatchObject({ kind: "unavailable", status: 503, retryAfterMs: 30_000 });
    expect(waits).toEqual([]);
  });

  it("attempts are bounded: persistent 503s end in `unavailable` after maxAttempts", async () => {
    standin.failNext({ kind: "status", status: 503 }, 10);
    const mark = standin.requests.length;
    const error = await expectSidecarError(client({ retry: { maxAttempts: 3 } }).suspend("h-1"));
    expect(error).toMatchObject({ kind: "unavailable", status: 503 });
    expect(standin.requests.length - mark).toBe(3);
    expect(waits.length).toBe(2);
  });

  it("503 on raise-event (answered before processing) is retried; the event is raised once", async () => {
    const sidecar = client();
    await sidecar.start("Approval", { instanceId: "r-1" });
    standin.failNext({ kind: "status", status: 503 });
    await sidecar.raiseEvent("r-1", "Approved", { input: 1 });
    const history = await storedEvents(backend, standin.app, "r-1");
    expect(types(history).filter((t) => t === "eventRaised")).toHaveLength(1);
  });

  it("a reset after the request was sent: GET is retried, a POST is not", async () => {
    standin.failNext({ kind: "reset" });
    let mark = standin.requests.length;
    expect((await client().get("h-1"))?.instanceId).toBe("h-1");
    expect(standin.requests.length - mark).toBe(2);

    standin.failNext({ kind: "reset" });
    mark = standin.requests.length;
    const error = await expectSidecarError(client().raiseEvent("h-1", "x"));
    expect(error).toMatchObject({ kind: "unavailable", status: undefined });
    expect(error.message).toContain("cannot reach the Dapr sidecar at");
    expect(standin.requests.length - mark).toBe(1);
  });

  it("start on 503: checks with GET that the instance does not exist, then starts again", async () => {
    standin.failNext({ kind: "status", status: 503 });
    const mark = standin.requests.length;
    expect(await client().start("Quick", { instanceId: "s-1" })).toBe("s-1");
    expect(requestsSince(mark)).toEqual([
      "POST /v1.0/workflows/dapr/Quick/start",
      "GET /v1.0/workflows/dapr/s-1",
      "POST /v1.0/workflows/dapr/Quick/start",
    ]);
  });

  it("never a second start on a 5xx after the request was sent: the instance exists, so no retry", async () => {
    standin.failNext({ kind: "status", status: 503, when: "after" });
    const mark = standin.requests.length;
    const error = await expectSidecarError(client().start("Forever", { instanceId: "s-2" }));
    expect(error).toMatchObject({ kind: "unavailable", status: 503 });
    expect(error.message).toContain('instance "s-2" exists now');
    expect(requestsSince(mark)).toEqual(["POST /v1.0/workflows/dapr/Forever/start", "GET /v1.0/workflows/dapr/s-2"]);

    standin.failNext({ kind: "status", status: 500, when: "after" });
    const before = standin.requests.length;
    await expectSidecarError(client().start("Forever", { instanceId: "s-3" }));
    expect(standin.requests.length - before).toBe(1);
  });

  it("connection refused: retried (nothing was sent), then `unavailable` with ECONNREFUSED", async () => {
    const port = await freePort();
    const error = await expectSidecarError(
      client({ url: `http://127.0.0.1:${port}`, retry: { maxAttempts: 3 } }).start("Quick"),
    );
    expect(error).toMatchObject({ kind: "unavailable", errorCode: "ECONNREFUSED", status: undefined });
    expect(waits.length).toBe(2);
  });

  it("connection refused while the sidecar starts up: the start succeeds once it listens", async () => {
    const port = await freePort();
    const late = new HttpSidecarClient({
      url: `http://127.0.0.1:${port}`,
      retry: { baseDelayMs: 100, maxDelayMs: 200, maxAttempts: 30, maxElapsedMs: 10_000 },
    });
    clients.push(late);
    const pending = late.start("Quick", { instanceId: "late-1" });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const second = await startSidecarStandin({ backend, workflows: SCRIPTS, grpc: false, port });
    try {
      expect(await pending).toBe("late-1");
      expect(second.requests.filter((r) => r.method === "POST")).toHaveLength(1);
    } finally {
      await second.close();
    }
  });
});

describe("timeouts and cancellation", () => {
  it("a hung POST times out as `unavailable` and is not retried", async () => {
    standin.failNext({ kind: "hang" });
    const mark = standin.requests.length;
    const t0 = Date.now();
    const error = await expectSidecarError(client({ requestTimeoutMs: 300 }).terminate("h-1"));
    expect(error).toMatchObject({ kind: "unavailable", errorCode: "UND_ERR_HEADERS_TIMEOUT" });
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(standin.requests.length - mark).toBe(1);
  });

  it("a hung GET times out and is retried", async () => {
    standin.failNext({ kind: "hang" });
    const mark = standin.requests.length;
    expect((await client({ requestTimeoutMs: 300 }).get("h-1"))?.runtimeStatus).toBe("COMPLETED");
    expect(standin.requests.length - mark).toBe(2);
  });

  it("an aborted call rejects with the abort reason and is not retried", async () => {
    standin.latencyMs = 500;
    const controller = new AbortController();
    const pending = client().get("h-1", { signal: controller.signal });
    setTimeout(() => controller.abort(new Error("caller gave up")), 50);
    await expect(pending).rejects.toThrow("caller gave up");
  });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
