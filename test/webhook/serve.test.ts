/**
 * `webhook serve` end to end, in-process (startWebhookServer, the factory the CLI uses): signed requests in each
 * style go through the real HTTP server and job to the sidecar stand-in, which writes Dapr's layout into a real
 * PostgreSQL store; delivery IDs are kept in a real Redis (DB 8). The tests read back what the stand-in left in the
 * store (WorkflowStateStore): the instance with its input, the EventRaised events in its history.
 */
import { randomUUID } from "node:crypto";
import { createServer } from "node:net";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { startWebhookServer, type WebhookServer } from "../../cli/webhook/server.ts";
import { writeInstances } from "../../shared/sample-data/writer.ts";
import type { StateBackend } from "../../shared/state-store/backend.ts";
import { createSecretResolver } from "../../shared/util/secrets.ts";
import { RedisIdempotencyStore } from "../../shared/webhook/redis-idempotency.ts";
import { compileWebhookConfig } from "../../shared/webhook/routes.ts";
import { type SidecarStandin, startSidecarStandin } from "../support/sidecar-standin.ts";
import { storeFactories } from "../support/stores.ts";
import {
  bearerHeaders,
  CREDENTIAL_HEADERS,
  capturingLogger,
  githubHeaders,
  post,
  ROUTES,
  SECRETS,
  secretEnv,
  secretValues,
  standardHeaders,
  stripeHeaders,
} from "./helpers.ts";

const PREFIX = `test:serve:${randomUUID()}:`;
let backend: StateBackend;
let standin: SidecarStandin;
let redis: Redis;
let server: WebhookServer;
const { records, logger } = capturingLogger();
/** Everything sent, to check no log ever repeats it. */
const sent: string[] = [];

beforeAll(async () => {
  backend = await storeFactories(8)[1]!.open(); // PostgreSQL (v2 table)
  standin = await startSidecarStandin({
    backend,
    appId: "webhook-app",
    grpc: false,
    workflows: { Triage: { outcome: "run" }, Order: { outcome: "run" } },
  });
  redis = new Redis(`${inject("redisUrl")}/8`);
  server = await startWebhookServer({
    config: compileWebhookConfig({ ...ROUTES, idempotency: { keyPrefix: PREFIX } }),
    sidecarUrl: standin.url,
    idempotency: new RedisIdempotencyStore(redis, { ownsClient: false }),
    secrets: createSecretResolver({ env: secretEnv() }),
    logger,
    port: 0,
  });
});
afterAll(async () => {
  await server?.close();
  const keys = await redis.keys(`${PREFIX}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis?.disconnect();
  await standin?.close();
  await backend?.close();
});
afterEach(() => {
  standin.clearFaults();
  standin.latencyMs = 0;
});

async function send(path: string, body: string, headers: Record<string, string>, method = "POST") {
  sent.push(body, ...CREDENTIAL_HEADERS.flatMap((name) => (headers[name] ? [headers[name]] : [])));
  return post(server.url, path, body, headers, method);
}

function startCalls(workflow: string, instanceId: string): number {
  return standin.requests.filter((r) => r.path === `/v1.0/workflows/dapr/${workflow}/start?instanceID=${instanceId}`)
    .length;
}

async function raised(instanceId: string, event: string) {
  const record = await standin.store.readInstance(instanceId);
  return [...(record?.history ?? []), ...(record?.inbox ?? [])]
    .filter((e) => e.eventRaised?.name === event)
    .map((e) => e.eventRaised?.input?.value);
}

const issueBody = (repo: number, issue: number) =>
  JSON.stringify({ action: "opened", issue: { number: issue, title: "crash" }, repository: { id: repo } });
const orderBody = (orderId: string) => JSON.stringify({ type: "order.created", data: { orderId, total: 12.5 } });
const paymentBody = (eventId: string, orderId: string) =>
  JSON.stringify({
    id: eventId,
    type: "payment_intent.succeeded",
    data: { object: { id: "pi_1", amount: 1250, metadata: { orderId } } },
  });

describe("GitHub style: start a workflow", () => {
  it("202 {instanceID}; the instance exists in the store with the body, byte for byte, as its input", async () => {
    const body = `{"action":"opened",  "issue":{"number":5},"repository":{"id":77}}`; // odd spacing on purpose
    const answer = await send("/hooks/github", body, githubHeaders(body));
    expect(answer.status).toBe(202);
    expect(answer.json).toEqual({ instanceID: "gh-77-5" });
    const record = await standin.store.readInstance("gh-77-5");
    expect(record).toMatchObject({ name: "Triage", runtimeStatus: "RUNNING", input: body });
  });

  it("accepts the previous secret too (rotation)", async () => {
    const body = issueBody(77, 6);
    const answer = await send("/hooks/github", body, githubHeaders(body, SECRETS.GH_SECRET_OLD));
    expect(answer.status).toBe(202);
    expect((await standin.store.readInstance("gh-77-6"))?.input).toBe(body);
  });

  it("a redelivered start answers 202 with the same ID and starts nothing new", async () => {
    const body = issueBody(77, 7);
    const headers = githubHeaders(body);
    const first = await send("/hooks/github", body, headers);
    const again = await send("/hooks/github", body, headers);
    const otherDelivery = await send("/hooks/github", body, githubHeaders(body));
    for (const answer of [first, again, otherDelivery])
      expect(answer).toMatchObject({ status: 202, json: { instanceID: "gh-77-7" } });
    expect(startCalls("Triage", "gh-77-7")).toBe(1);
  });

  it("with the record gone (expired), the sidecar's 'already exists' still makes a redelivery a 202", async () => {
    const body = issueBody(77, 8);
    const headers = githubHeaders(body);
    expect((await send("/hooks/github", body, headers)).status).toBe(202);
    await redis.del(...(await redis.keys(`${PREFIX}start:*gh-77-8`)));
    const again = await send("/hooks/github", body, headers);
    expect(again).toMatchObject({ status: 202, json: { instanceID: "gh-77-8" } });
    expect(startCalls("Triage", "gh-77-8")).toBe(2);
    const record = await standin.store.readInstance("gh-77-8");
    expect(record?.history.filter((e) => e.executionStarted).length).toBe(1);
  });
});

describe("Standard Webhooks style + Stripe style: start, then raise an event once", () => {
  it("starts with a secret from a rotation list inside one secret (JSON array), old and new", async () => {
    for (const [orderId, secret] of [
      ["sw-1", SECRETS.SW_SECRET_NEW],
      ["sw-2", SECRETS.SW_SECRET_OLD],
    ] as const) {
      const body = orderBody(orderId);
      const answer = await send("/hooks/orders", body, standardHeaders(body, secret));
      expect(answer).toMatchObject({ status: 202, json: { instanceID: `order-${orderId}` } });
      expect(await standin.store.readInstance(`order-${orderId}`)).toMatchObject({ name: "Order", input: body });
    }
  });

  it("raises the event with the selected input; a redelivery (same event ID) is raised once", async () => {
    const order = orderBody("42");
    expect((await send("/hooks/orders", order, standardHeaders(order))).status).toBe(202);
    const body = paymentBody("evt_100", "42");
    const first = await send("/hooks/stripe", body, stripeHeaders(body));
    expect(first).toMatchObject({ status: 202, json: { instanceID: "order-42" } });
    // Stripe retries with a new timestamp and signature: same event ID.
    const retry = await send("/hooks/stripe", body, stripeHeaders(body, Math.floor(Date.now() / 1000) + 1));
    expect(retry).toMatchObject({ status: 202, json: { instanceID: "order-42" } });
    const payload = JSON.stringify({ id: "pi_1", amount: 1250, metadata: { orderId: "42" } });
    expect(await raised("order-42", "PaymentReceived")).toEqual([payload]);
    // Another event for the same instance is raised.
    const second = paymentBody("evt_101", "42");
    expect((await send("/hooks/stripe", second, stripeHeaders(second))).status).toBe(202);
    expect(await raised("order-42", "PaymentReceived")).toEqual([payload, payload]);
  });

  it("concurrent duplicates of one event: raised once; the others are told to retry (409) or see it done", async () => {
    const order = orderBody("43");
    expect((await send("/hooks/orders", order, standardHeaders(order))).status).toBe(202);
    standin.latencyMs = 300;
    const body = paymentBody("evt_200", "43");
    const headers = stripeHeaders(body);
    const answers = await Promise.all(Array.from({ length: 5 }, () => send("/hooks/stripe", body, headers)));
    standin.latencyMs = 0;
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses.filter((s) => s === 202).length).toBeGreaterThanOrEqual(1);
    expect(statuses.every((s) => s === 202 || s === 409)).toBe(true);
    const conflict = answers.find((a) => a.status === 409);
    if (conflict) expect(conflict.headers.get("retry-after")).toBe("1");
    expect(await raised("order-43", "PaymentReceived")).toHaveLength(1);
    expect(standin.requests.filter((r) => r.path.includes("/order-43/raiseEvent/")).length).toBe(1);
  });

  it("an event for an instance that does not exist: 404 naming the instance, and nothing is recorded", async () => {
    const body = paymentBody("evt_300", "nope");
    const answer = await send("/hooks/stripe", body, stripeHeaders(body));
    expect(answer).toMatchObject({
      status: 404,
      json: { error: "workflow instance not found", instanceID: "order-nope" },
    });
    expect(await redis.keys(`${PREFIX}event:*`)).not.toHaveLength(0); // other events' records…
    const again = await send("/hooks/stripe", body, stripeHeaders(body));
    expect(again.status).toBe(404); // …but not this one's: the redelivery tried again
  });
});

describe("bearer key: raise an event with a configured delivery-ID header", () => {
  it("raises once per X-Request-Id", async () => {
    const order = orderBody("50");
    expect((await send("/hooks/orders", order, standardHeaders(order))).status).toBe(202);
    const body = JSON.stringify({ instanceId: "order-50", approved: true });
    const headers = bearerHeaders(SECRETS.APPROVAL_KEY, "req-1");
    expect((await send("/hooks/approvals", body, headers)).status).toBe(202);
    expect((await send("/hooks/approvals", body, headers)).status).toBe(202);
    expect(await raised("order-50", "Approved")).toEqual([body]);
  });

  it("400 without the delivery-ID header; 401 with a wrong key", async () => {
    const body = JSON.stringify({ instanceId: "order-50", approved: false });
    const missing = await send("/hooks/approvals", body, bearerHeaders(SECRETS.APPROVAL_KEY, null));
    expect(missing.status).toBe(400);
    expect(missing.json?.issues).toEqual([
      { path: "deliveryID", message: "delivery ID template: {headers.x-request-id} has no string or number value" },
    ]);
    expect((await send("/hooks/approvals", body, bearerHeaders("wrong-key"))).status).toBe(401);
  });
});

describe("raise-or-start: the app owns the ID, the workflow begins with its first event", () => {
  it("starts the workflow (no input) and raises the event; later events only raise; a redelivery raises once", async () => {
    const first = JSON.stringify({ orderId: "70", carrier: "DHL" });
    const answer = await send("/hooks/shipments", first, bearerHeaders(SECRETS.APPROVAL_KEY, "ship-req-1"));
    expect(answer).toMatchObject({ status: 202, json: { instanceID: "ship-70" } });
    expect(startCalls("Order", "ship-70")).toBe(1);
    const record = await standin.store.readInstance("ship-70");
    expect(record?.name).toBe("Order");
    expect(record?.input).toBeUndefined();
    expect(await raised("ship-70", "Shipped")).toEqual([first]);

    const again = await send("/hooks/shipments", first, bearerHeaders(SECRETS.APPROVAL_KEY, "ship-req-1"));
    expect(again.status).toBe(202);
    const second = JSON.stringify({ orderId: "70", carrier: "UPS" });
    expect((await send("/hooks/shipments", second, bearerHeaders(SECRETS.APPROVAL_KEY, "ship-req-2"))).status).toBe(
      202,
    );
    expect(startCalls("Order", "ship-70")).toBe(1); // it exists now: only raised
    expect(await raised("ship-70", "Shipped")).toEqual([first, second]);
    const outcomes = records.filter((r) => r.attributes.instanceID === "ship-70").map((r) => r.attributes.outcome);
    expect(outcomes).toEqual(["started-and-raised", "duplicate", "raised"]);
  });

  it("never restarts a finished instance of that ID (Dapr's start would reset it): the event is only raised", async () => {
    await writeInstances(backend, { appId: "webhook-app", namespace: "default" }, [
      { instanceId: "ship-71", scenario: "completed", createdAt: new Date(Date.now() - 3_600_000) },
    ]);
    const before = await standin.store.readInstance("ship-71");
    const body = JSON.stringify({ orderId: "71", carrier: "DHL" });
    const answer = await send("/hooks/shipments", body, bearerHeaders(SECRETS.APPROVAL_KEY, "ship-req-71"));
    expect(answer).toMatchObject({ status: 202, json: { instanceID: "ship-71" } });
    expect(startCalls("Order", "ship-71")).toBe(0);
    const after = await standin.store.readInstance("ship-71");
    expect(after?.runtimeStatus).toBe("COMPLETED");
    expect(after?.createdAt).toEqual(before?.createdAt);
    expect(after?.history.slice(0, before!.history.length)).toEqual(before?.history);
  });
});

describe("refusals", () => {
  const UNAUTHORIZED = '{"error":"unauthorized"}';

  it("401, always the same body, for a wrong signature, a stale timestamp, a missing header, a wrong secret", async () => {
    const body = paymentBody("evt_400", "42");
    const t = Math.floor(Date.now() / 1000);
    const order = orderBody("60");
    const cases: Array<[string, string, Record<string, string>]> = [
      ["/hooks/stripe", body, stripeHeaders(body, t, "whsec_wrong")],
      ["/hooks/stripe", body, stripeHeaders(body, t - 301)],
      ["/hooks/stripe", body, { "content-type": "application/json" }],
      ["/hooks/stripe", body, stripeHeaders(`${body} `, t)],
      ["/hooks/github", issueBody(1, 1), githubHeaders(issueBody(1, 2))],
      ["/hooks/orders", order, standardHeaders(order, SECRETS.SW_SECRET_NEW, "msg_1", t - 301)],
      ["/hooks/orders", order, standardHeaders(order, `whsec_${Buffer.from("another key").toString("base64")}`)],
    ];
    for (const [path, payload, headers] of cases) {
      const answer = await send(path, payload, headers);
      expect(answer.status, `${path} ${JSON.stringify(headers)}`).toBe(401);
      expect(answer.text).toBe(UNAUTHORIZED);
    }
    expect(await standin.store.readInstance("order-60")).toBeUndefined();
  });

  it("413 above the body limit, before the signature is looked at", async () => {
    const body = JSON.stringify({ pad: "x".repeat(5000) });
    const answer = await send("/hooks/github", body, { "content-type": "application/json" });
    expect(answer).toMatchObject({ status: 413, json: { error: "payload too large" } });
  });

  it("400 for a body that is not JSON, with the issue named", async () => {
    const body = '{"issue": {"number": 5}, "repository": ';
    const answer = await send("/hooks/github", body, githubHeaders(body));
    expect(answer).toMatchObject({
      status: 400,
      json: { error: "bad request", issues: [{ path: "body", message: "the body is not valid UTF-8 JSON" }] },
    });
  });

  it("400 with the validation issues for a payload that does not match", async () => {
    const body = JSON.stringify({ type: "order.updated", data: { orderId: 7 } });
    const answer = await send("/hooks/orders", body, standardHeaders(body));
    expect(answer.status).toBe(400);
    expect(issuePaths(answer).sort()).toEqual(["body.data.orderId", "body.type"]);
  });

  it("400 when the instance ID breaks Dapr's rule (only letters, digits, _ and -; 64 bytes)", async () => {
    for (const orderId of ["a b", "a/b", "x".repeat(60)]) {
      const body = orderBody(orderId);
      const answer = await send("/hooks/orders", body, standardHeaders(body));
      expect(answer.status).toBe(400);
      expect(issuePaths(answer)[0]).toBe("instanceID");
    }
  });

  it("404 for an unknown route, 405 (with Allow) for a wrong method", async () => {
    expect(await send("/hooks/unknown", "{}", {})).toMatchObject({ status: 404, json: { error: "not found" } });
    const wrong = await send("/hooks/github", "{}", {}, "PUT");
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get("allow")).toBe("POST");
  });
});

describe("the sidecar is down", () => {
  it("503 with the sidecar's Retry-After; nothing recorded, so the redelivery starts the workflow", async () => {
    const body = issueBody(88, 1);
    const headers = githubHeaders(body);
    standin.failNext({ kind: "status", status: 503, retryAfter: "7" }, 3);
    const down = await send("/hooks/github", body, headers);
    expect(down).toMatchObject({ status: 503, json: { error: "service unavailable" } });
    expect(down.headers.get("retry-after")).toBe("7");
    expect(await standin.store.readInstance("gh-88-1")).toBeUndefined();
    standin.clearFaults();
    expect(await send("/hooks/github", body, headers)).toMatchObject({ status: 202, json: { instanceID: "gh-88-1" } });
    expect(await standin.store.readInstance("gh-88-1")).toMatchObject({ name: "Triage", input: body });
  });

  it("503 with the configured Retry-After when nothing listens at the sidecar's address", async () => {
    const port = await freePort();
    const offline = await startWebhookServer({
      config: compileWebhookConfig({ ...ROUTES, retryAfterSeconds: 9 }),
      sidecarUrl: `http://127.0.0.1:${port}`,
      secrets: createSecretResolver({ env: secretEnv() }),
      logger,
      port: 0,
    });
    try {
      const body = issueBody(89, 1);
      const answer = await post(offline.url, "/hooks/github", body, githubHeaders(body));
      expect(answer.status).toBe(503);
      expect(answer.headers.get("retry-after")).toBe("9");
    } finally {
      await offline.close();
    }
  });
});

describe("logs", () => {
  it("one record per request with route, instance ID, outcome, status and duration; never a body or a secret", () => {
    const started = records.find((r) => r.attributes.outcome === "started");
    expect(started?.attributes).toMatchObject({
      route: "POST /hooks/github",
      instanceID: expect.any(String),
      status: 202,
      durationMs: expect.any(Number),
    });
    expect(records.some((r) => r.attributes.outcome === "duplicate")).toBe(true);
    const unauthorized = records.filter((r) => r.attributes.outcome === "unauthorized");
    expect(new Set(unauthorized.map((r) => r.attributes.authFailure))).toEqual(
      new Set(["no-match", "stale-timestamp", "missing-header"]),
    );
    const text = JSON.stringify(records);
    for (const value of [...secretValues(), ...sent.filter((s) => s.length > 20)]) {
      expect(text.includes(value), `a log contains ${value.slice(0, 30)}…`).toBe(false);
    }
  });
});

function issuePaths(answer: { json: Record<string, unknown> | undefined }): string[] {
  return ((answer.json?.issues ?? []) as Array<{ path: string }>).map((i) => i.path);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}
