/**
 * The webhook Lambda handler invoked directly with API Gateway HTTP API v2 events (plain and base64-encoded bodies),
 * configured only through its environment, as the stack configures it (WEBHOOK_ROUTES, DAPR_HTTP_ENDPOINT,
 * DAPR_API_TOKEN as a secret reference, IDEMPOTENCY_TABLE: a DynamoDB table, here dynalite's, reached through
 * AWS_ENDPOINT_URL_DYNAMODB), against the sidecar stand-in over a real PostgreSQL store.
 */
import { randomUUID } from "node:crypto";
import { CreateTableCommand, DynamoDBClient, paginateScan, waitUntilTableExists } from "@aws-sdk/client-dynamodb";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import type { StateBackend } from "../../shared/state-store/backend.ts";
import { lambdaContext } from "../support/lambda.ts";
import { type SidecarStandin, startSidecarStandin } from "../support/sidecar-standin.ts";
import { storeFactories } from "../support/stores.ts";
import { githubHeaders, ROUTES, SECRETS, secretEnv, standardHeaders, stripeHeaders } from "../webhook/helpers.ts";

type HandlerModule = typeof import("../../functions/webhook/handler.ts");

const PREFIX = `test:lambda:${randomUUID()}:`;
const API_TOKEN = "dapr-token-for-the-lambda-test";
let backend: StateBackend;
let standin: SidecarStandin;
let dynamodb: DynamoDBClient;
let mod: HandlerModule;
const TABLE = `webhook-deliveries-${randomUUID()}`;

/** The delivery records in the table, by key. */
async function deliveryRecords(): Promise<Map<string, string>> {
  const records = new Map<string, string>();
  for await (const page of paginateScan({ client: dynamodb }, { TableName: TABLE, ConsistentRead: true })) {
    for (const item of page.Items ?? []) records.set(item.id!.S!, item.state!.S!);
  }
  return records;
}

beforeAll(async () => {
  backend = await storeFactories(8)[1]!.open();
  standin = await startSidecarStandin({
    backend,
    appId: "lambda-app",
    grpc: false,
    apiToken: API_TOKEN,
    workflows: { Triage: { outcome: "run" }, Order: { outcome: "run" } },
  });
  const aws = inject("dynamodb");
  dynamodb = new DynamoDBClient({
    endpoint: aws.endpoint,
    region: aws.region,
    credentials: { accessKeyId: aws.accessKeyId, secretAccessKey: aws.secretAccessKey },
  });
  await dynamodb.send(
    new CreateTableCommand({
      TableName: TABLE,
      AttributeDefinitions: [{ AttributeName: "id", AttributeType: "S" }],
      KeySchema: [{ AttributeName: "id", KeyType: "HASH" }],
      BillingMode: "PAY_PER_REQUEST",
    }),
  );
  await waitUntilTableExists({ client: dynamodb, maxWaitTime: 30 }, { TableName: TABLE });
  Object.assign(process.env, secretEnv(), {
    WEBHOOK_ROUTES: JSON.stringify({ ...ROUTES, idempotency: { keyPrefix: PREFIX } }),
    DAPR_HTTP_ENDPOINT: standin.url,
    DAPR_API_TOKEN: "env:TEST_DAPR_TOKEN",
    TEST_DAPR_TOKEN: API_TOKEN,
    IDEMPOTENCY_TABLE: TABLE,
    AWS_ENDPOINT_URL_DYNAMODB: aws.endpoint,
    AWS_REGION: aws.region,
    AWS_ACCESS_KEY_ID: aws.accessKeyId,
    AWS_SECRET_ACCESS_KEY: aws.secretAccessKey,
    POWERTOOLS_LOG_LEVEL: "SILENT",
  });
  mod = await import("../../functions/webhook/handler.ts");
});
afterAll(async () => {
  await mod?.dispose();
  dynamodb?.destroy();
  await standin?.close();
  await backend?.close();
});

const context = lambdaContext("webhook", () => 30_000);

/** An API Gateway HTTP API (payload 2.0) event, as a Function URL also sends it. */
function event(
  path: string,
  body: Buffer | string,
  headers: Record<string, string>,
  base64 = false,
): APIGatewayProxyEventV2 {
  const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : body;
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: path,
    rawQueryString: "",
    headers,
    requestContext: {
      accountId: "123456789012",
      apiId: "api",
      domainName: "abc.lambda-url.eu-west-1.on.aws",
      domainPrefix: "abc",
      http: { method: "POST", path, protocol: "HTTP/1.1", sourceIp: "203.0.113.9", userAgent: "test" },
      requestId: randomUUID(),
      routeKey: "$default",
      stage: "$default",
      time: "01/Mar/2026:12:00:00 +0000",
      timeEpoch: Date.now(),
    },
    body: base64 ? bytes.toString("base64") : bytes.toString("utf8"),
    isBase64Encoded: base64,
  };
}

async function invoke(e: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2 & { json: unknown }> {
  const result = (await mod.handler(e, context)) as APIGatewayProxyStructuredResultV2;
  return { ...result, json: JSON.parse(String(result.body)) };
}

describe("webhook Lambda handler", () => {
  it("starts a workflow from a plain-text body (the API token comes from a secret reference)", async () => {
    const body = JSON.stringify({ issue: { number: 1 }, repository: { id: 500 } });
    const result = await invoke(event("/hooks/github", body, githubHeaders(body)));
    expect(result).toMatchObject({ statusCode: 202, json: { instanceID: "gh-500-1" } });
    expect(result.headers).toMatchObject({ "content-type": "application/json" });
    expect(await standin.store.readInstance("gh-500-1")).toMatchObject({ name: "Triage", input: body });
    expect(standin.requests.at(-1)?.headers["dapr-api-token"]).toBe(API_TOKEN);
  });

  it("verifies a base64-encoded body over its decoded bytes and forwards those bytes", async () => {
    const order = JSON.stringify({ type: "order.created", data: { orderId: "lambda-1", note: "crème brûlée" } });
    const started = await invoke(event("/hooks/orders", Buffer.from(order), standardHeaders(order), true));
    expect(started).toMatchObject({ statusCode: 202, json: { instanceID: "order-lambda-1" } });
    expect((await standin.store.readInstance("order-lambda-1"))?.input).toBe(order);

    const payment = JSON.stringify({
      id: "evt_lambda_1",
      data: { object: { amount: 9, metadata: { orderId: "lambda-1" } } },
    });
    const headers = stripeHeaders(payment);
    for (let i = 0; i < 2; i++) {
      const result = await invoke(event("/hooks/stripe", Buffer.from(payment), headers, true));
      expect(result).toMatchObject({ statusCode: 202, json: { instanceID: "order-lambda-1" } });
    }
    const history = (await standin.store.readInstance("order-lambda-1"))?.history ?? [];
    expect(history.filter((e) => e.eventRaised?.name === "PaymentReceived")).toHaveLength(1);
    // The delivery ID was recorded in the table, under the configured prefix, as done with its instance.
    const events = [...(await deliveryRecords())].filter(([key]) => key.startsWith(`${PREFIX}event:`));
    expect(events).toEqual([[expect.any(String), "done:order-lambda-1"]]);
  });

  it("a base64 body is measured decoded: 413 above the limit, accepted below it even if its base64 is longer", async () => {
    const tooBig = Buffer.alloc(5000, 0x20);
    const refused = await invoke(event("/hooks/github", tooBig, {}, true));
    expect(refused).toMatchObject({ statusCode: 413, json: { error: "payload too large" } });

    const body = JSON.stringify({ issue: { number: 2 }, repository: { id: 500 }, pad: "x".repeat(3900) });
    expect(Buffer.byteLength(body)).toBeLessThan(4096);
    const e = event("/hooks/github", body, githubHeaders(body), true);
    expect(e.body!.length).toBeGreaterThan(4096);
    expect(await invoke(e)).toMatchObject({ statusCode: 202, json: { instanceID: "gh-500-2" } });
  });

  it("401 with the one fixed body for a signature over other bytes; the answer holds no secret or signature", async () => {
    const body = JSON.stringify({ issue: { number: 3 }, repository: { id: 500 } });
    const headers = githubHeaders(`${body}\n`);
    const result = await invoke(event("/hooks/github", Buffer.from(body), headers, true));
    expect(result).toMatchObject({ statusCode: 401, body: '{"error":"unauthorized"}' });
    expect(JSON.stringify(result)).not.toContain(headers["x-hub-signature-256"].slice(7));
    expect(JSON.stringify(result)).not.toContain(SECRETS.GH_SECRET_NEW);
  });

  it("400 for bad JSON and for a schema mismatch, 404 for an unknown path", async () => {
    const bad = "{not json";
    expect(await invoke(event("/hooks/github", bad, githubHeaders(bad)))).toMatchObject({ statusCode: 400 });
    const mismatch = JSON.stringify({ issue: { number: "one" }, repository: { id: 500 } });
    expect(await invoke(event("/hooks/github", mismatch, githubHeaders(mismatch)))).toMatchObject({
      statusCode: 400,
      json: { issues: [{ path: "body.issue.number" }] },
    });
    expect(await invoke(event("/nowhere", "{}", {}))).toMatchObject({ statusCode: 404 });
  });

  it("503 with Retry-After when the sidecar answers 503; logs the outcome with the route and instance ID", async () => {
    const spy = vi.spyOn(mod.logger, "error");
    standin.failNext({ kind: "status", status: 503, retryAfter: "4" }, 3);
    const body = JSON.stringify({ issue: { number: 4 }, repository: { id: 500 } });
    const result = await invoke(event("/hooks/github", body, githubHeaders(body)));
    standin.clearFaults();
    expect(result).toMatchObject({ statusCode: 503, headers: { "retry-after": "4" } });
    expect(spy).toHaveBeenCalledWith(
      "webhook request",
      expect.objectContaining({
        route: "POST /hooks/github",
        instanceID: "gh-500-4",
        outcome: "unavailable",
        status: 503,
        durationMs: expect.any(Number),
      }),
    );
    spy.mockRestore();
  });
});
