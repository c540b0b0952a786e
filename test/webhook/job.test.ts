/**
 * The job's answers to what the end-to-end tests cannot easily provoke: a sidecar that refuses (bad request,
 * unauthorized), an idempotency store that is down before or after the sidecar call, secrets that cannot be read.
 * Pure: a scripted sidecar and store, no server.
 */
import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { HousekeeperError } from "../../shared/errors.ts";
import { SidecarError } from "../../shared/sidecar/errors.ts";
import { createSecretResolver, type SecretResolver } from "../../shared/util/secrets.ts";
import type { WebhookHttpEvent } from "../../shared/webhook/http-event.ts";
import { type IdempotencyStore, MemoryIdempotencyStore } from "../../shared/webhook/idempotency.ts";
import { createWebhookJob } from "../../shared/webhook/job.ts";
import { compileWebhookConfig } from "../../shared/webhook/routes.ts";
import type { WebhookSidecar } from "../../shared/webhook/sidecar.ts";
import { capturingLogger } from "./helpers.ts";

const config = compileWebhookConfig({
  routes: [
    {
      path: "/start",
      action: { type: "start", workflow: "W" },
      instanceId: "o-{body.id}",
      auth: { scheme: "github", secrets: ["env:K"] },
    },
  ],
});
const secrets = createSecretResolver({ env: { K: "key" } });

function event(body: string): WebhookHttpEvent {
  return {
    rawPath: "/start",
    headers: {
      "x-github-delivery": "d-1",
      "x-hub-signature-256": `sha256=${createHmac("sha256", "key").update(body).digest("hex")}`,
    },
    requestContext: { http: { method: "POST" } },
    body,
  };
}

function sidecar(start: WebhookSidecar["start"]): WebhookSidecar & { calls: number } {
  const fake = {
    calls: 0,
    start: async (...args: Parameters<WebhookSidecar["start"]>) => {
      fake.calls++;
      return start(...args);
    },
    raiseEvent: async () => {},
    get: async () => undefined,
  };
  return fake;
}

function job(
  s: WebhookSidecar,
  idempotency: IdempotencyStore = new MemoryIdempotencyStore(),
  resolver: SecretResolver = secrets,
) {
  const { records, logger } = capturingLogger();
  return { job: createWebhookJob({ config, sidecar: s, secrets: resolver, idempotency, logger }), records };
}

describe("webhook job", () => {
  it("a sidecar client given directly is used; its answer's instance ID is returned", async () => {
    const { job: j } = job(sidecar(async () => "o-1"));
    expect(await j.handle(event('{"id":1}'))).toMatchObject({ statusCode: 202, body: '{"instanceID":"o-1"}' });
  });

  it("a sidecar bad request is a 400 naming the sidecar; unauthorized (our token) is a 502; the claim is released", async () => {
    let kind: "bad-request" | "unauthorized" = "bad-request";
    const s = sidecar(async () => {
      throw new SidecarError(kind, "workflow name is not configured", { operation: "start", status: 400 });
    });
    const { job: j } = job(s);
    const bad = await j.handle(event('{"id":2}'));
    expect(bad.statusCode).toBe(400);
    expect(JSON.parse(bad.body)).toEqual({
      error: "bad request",
      issues: [{ path: "sidecar", message: "workflow name is not configured" }],
    });
    kind = "unauthorized";
    const refused = await j.handle(event('{"id":2}'));
    expect(refused).toMatchObject({ statusCode: 502, body: '{"error":"the Dapr sidecar refused the request"}' });
    expect(s.calls).toBe(2); // the first failure released its claim
  });

  it("an idempotency store that is down: 503 before any sidecar call", async () => {
    const down: IdempotencyStore = {
      claim: async () => {
        throw new HousekeeperError("unavailable", "the idempotency store (Redis) failed: ECONNREFUSED");
      },
      complete: async () => {},
      release: async () => {},
      close: async () => {},
    };
    const s = sidecar(async () => "o-3");
    const { job: j } = job(s, down);
    const answer = await j.handle(event('{"id":3}'));
    expect(answer).toMatchObject({ statusCode: 503, headers: { "retry-after": "5" } });
    expect(s.calls).toBe(0);
  });

  it("a record that cannot be written after the sidecar accepted: still 202, and the log says so", async () => {
    const store = new MemoryIdempotencyStore();
    store.complete = async () => {
      throw new Error("READONLY You can't write against a read only replica");
    };
    const { job: j, records } = job(
      sidecar(async () => "o-4"),
      store,
    );
    expect((await j.handle(event('{"id":4}'))).statusCode).toBe(202);
    expect(records.at(-1)?.attributes).toMatchObject({
      outcome: "started",
      recordError: expect.stringMatching(/READONLY/),
    });
  });

  it("secrets: Secrets Manager out of reach is a 503, an unusable reference a 500; neither calls the sidecar", async () => {
    const s = sidecar(async () => "o-5");
    const unreachable: SecretResolver = {
      resolve: async () => {
        throw new HousekeeperError("unavailable", "cannot read secret k: timeout");
      },
    };
    expect((await job(s, undefined, unreachable).job.handle(event('{"id":5}'))).statusCode).toBe(503);
    const unset = createSecretResolver({ env: {} });
    expect((await job(s, undefined, unset).job.handle(event('{"id":5}'))).statusCode).toBe(500);
    expect(s.calls).toBe(0);
  });
});
