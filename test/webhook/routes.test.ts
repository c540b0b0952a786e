/** The routes config (zod, at start-up), the payload-shape subset, instance-ID templates and route matching. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { webhookFunctionSettings } from "../../functions/webhook/settings.ts";
import { HousekeeperError } from "../../shared/errors.ts";
import { decodedBodyLength, rawBody, type WebhookHttpEvent } from "../../shared/webhook/http-event.ts";
import { expandSecret } from "../../shared/webhook/job.ts";
import { type PayloadSchema, payloadSchemaSchema, payloadValidator } from "../../shared/webhook/payload-schema.ts";
import { compileWebhookConfig, parseWebhookConfig, RouteTable } from "../../shared/webhook/routes.ts";
import { parseTemplate, renderTemplate } from "../../shared/webhook/template.ts";

const route = (overrides: Record<string, unknown> = {}) => ({
  path: "/hooks/a",
  action: { type: "start", workflow: "W" },
  instanceId: "order-{body.id}",
  auth: { scheme: "github", secrets: ["env:X"] },
  ...overrides,
});

function configError(raw: unknown): string {
  try {
    compileWebhookConfig(raw);
  } catch (error) {
    expect(error).toBeInstanceOf(HousekeeperError);
    return (error as Error).message;
  }
  throw new Error("expected a config error");
}

describe("routes config", () => {
  it("compiles the documented example (examples/webhook-routes.json)", () => {
    const text = readFileSync(new URL("../../examples/webhook-routes.json", import.meta.url), "utf8");
    const config = parseWebhookConfig(text);
    expect(config.routes.map((r) => [r.name, r.method, r.path, r.action.type, r.deliveryId?.text])).toEqual([
      ["stripe-order-paid", "POST", "/hooks/stripe", "raise-event", "{body.id}"],
      ["github-issue-opened", "POST", "/hooks/github", "start", "{headers.x-github-delivery}"],
      ["orders-created", "POST", "/hooks/orders", "start", "{headers.webhook-id}"],
      ["approval", "POST", "/hooks/approvals", "raise-event", "{headers.x-request-id}"],
    ]);
    expect(config.routes[0]?.inputPath).toEqual(["data", "object"]);
  });

  it("fills the defaults: POST, 256 KiB, 7-day records, 60 s in-flight markers, 300 s tolerance", () => {
    const config = compileWebhookConfig({ routes: [route({ auth: { scheme: "stripe", secrets: ["s"] } })] });
    expect(config.maxBodyBytes).toBe(262_144);
    expect(config.idempotency).toEqual({ ttlSeconds: 604_800, inFlightSeconds: 60, keyPrefix: "housekeeper:webhook:" });
    expect(config.routes[0]).toMatchObject({ method: "POST", name: "POST /hooks/a", auth: { toleranceSeconds: 300 } });
  });

  it("lists every problem in one bad-input error", () => {
    const message = configError({
      routes: [
        route({ method: "GET", auth: { scheme: "hmac", secrets: ["s"] } }),
        route({ instanceId: "{body.id" }),
        route({ instanceId: "fixed" }),
        route({ path: "/hooks/a", unknownKey: 1 }),
      ],
    });
    expect(message).toContain("routes.0.method");
    expect(message).toContain("routes.0.auth");
    expect(message).toContain("routes.1.instanceId: unbalanced brace");
    expect(message).toContain('routes.2.instanceId: template "fixed" has no placeholder');
    expect(message).toContain('Unrecognized key: "unknownKey"');
  });

  it("refuses duplicate routes, empty secret lists, and bearer event routes without a delivery ID", () => {
    expect(configError({ routes: [route(), route()] })).toContain("POST /hooks/a is defined twice");
    expect(configError({ routes: [route({ auth: { scheme: "github", secrets: [] } })] })).toContain(
      "give at least one secret",
    );
    const bearerEvent = route({
      action: { type: "raise-event", event: "E" },
      auth: { scheme: "bearer", secrets: ["env:K"] },
    });
    expect(configError({ routes: [bearerEvent] })).toContain("needs a deliveryId template");
    expect(() =>
      compileWebhookConfig({ routes: [{ ...bearerEvent, deliveryId: "{headers.x-request-id}" }] }),
    ).not.toThrow();
    // raise-or-start raises too: the same rule; and it names the workflow to start.
    const raiseOrStart = { ...bearerEvent, action: { type: "raise-or-start", event: "E", workflow: "W" } };
    expect(configError({ routes: [raiseOrStart] })).toContain("needs a deliveryId template");
    expect(configError({ routes: [{ ...raiseOrStart, action: { type: "raise-or-start", event: "E" } }] })).toMatch(
      /routes\.0\.action\.workflow/,
    );
  });

  it("says when the file is not JSON", () => {
    expect(() => parseWebhookConfig("{routes:")).toThrow(/not valid JSON/);
  });
});

describe("payload shapes (JSON-schema subset → zod)", () => {
  const check = (schema: PayloadSchema, value: unknown) => {
    const result = payloadValidator(payloadSchemaSchema.parse(schema)).safeParse(value);
    return result.success ? "ok" : result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
  };

  it("checks required fields, types, nested objects and arrays", () => {
    const schema: PayloadSchema = {
      type: "object",
      required: ["orderId", "items"],
      properties: {
        orderId: { type: "string", minLength: 1 },
        total: { type: "number", minimum: 0 },
        items: { type: "array", minItems: 1, items: { type: "object", required: ["sku"] } },
        priority: { type: "integer", enum: [1, 2, 3] },
      },
    };
    expect(check(schema, { orderId: "o1", items: [{ sku: "A" }], extra: true })).toBe("ok");
    expect(check(schema, { orderId: "", items: [] })).toMatch(/orderId: .*>=1.*; items: .*>=1/);
    expect(check(schema, { orderId: "o1", items: [{}] })).toContain("items.0.sku");
    expect(check(schema, { orderId: "o1", items: [{ sku: 1 }], total: -1 })).toContain("total");
    expect(check(schema, { orderId: "o1", items: [{ sku: 1 }], priority: 1.5 })).toContain("priority");
    expect(check(schema, { orderId: "o1", items: [{ sku: 1 }], priority: 4 })).toContain("priority");
    expect(check(schema, [])).toContain("expected object");
  });

  it("additionalProperties false rejects unknown keys; const, pattern and untyped enums work", () => {
    const schema: PayloadSchema = {
      type: "object",
      additionalProperties: false,
      properties: { kind: { const: "order.created" }, code: { type: "string", pattern: "^[A-Z]{3}$" } },
    };
    expect(check(schema, { kind: "order.created", code: "ABC" })).toBe("ok");
    expect(check(schema, { kind: "order.created", code: "abc" })).toContain("code");
    expect(check(schema, { kind: "order.deleted" })).toContain("kind");
    expect(check(schema, { other: 1 })).toContain("Unrecognized key");
    expect(check({ enum: ["a", 1, null] }, null)).toBe("ok");
    expect(check({ enum: ["a", 1, null] }, true)).not.toBe("ok");
  });

  it("refuses keywords outside the subset, misplaced keywords and bad regular expressions", () => {
    expect(payloadSchemaSchema.safeParse({ type: "string", format: "email" }).success).toBe(false);
    expect(payloadSchemaSchema.safeParse({ type: "string", minimum: 1 }).success).toBe(false);
    expect(payloadSchemaSchema.safeParse({ type: "string", pattern: "([" }).success).toBe(false);
    expect(payloadSchemaSchema.safeParse({ type: "date" }).success).toBe(false);
  });
});

describe("instance-ID templates", () => {
  const input = {
    body: { orderId: "A-1", n: 42, nested: { list: [{ id: "x" }] }, empty: "", flag: true, nul: null },
    headers: { "x-request-id": "req-9" },
    query: new URLSearchParams("tenant=t1"),
  };
  const render = (text: string) => renderTemplate(parseTemplate(text), input);

  it("renders body fields (nested, array indexes), headers (case-insensitive) and query parameters", () => {
    expect(render("order-{body.orderId}")).toEqual({ ok: true, value: "order-A-1" });
    expect(render("{body.n}_{body.nested.list.0.id}")).toEqual({ ok: true, value: "42_x" });
    expect(render("{headers.X-Request-ID}")).toEqual({ ok: true, value: "req-9" });
    expect(render("{query.tenant}-{body.orderId}")).toEqual({ ok: true, value: "t1-A-1" });
  });

  it("refuses missing, empty, boolean, null and object values", () => {
    for (const text of [
      "{body.missing}",
      "{body.empty}",
      "{body.flag}",
      "{body.nul}",
      "{body.nested}",
      "{headers.x}",
    ]) {
      expect(render(text)).toMatchObject({ ok: false });
    }
    expect(render("x-{body.missing}")).toEqual({
      ok: false,
      placeholder: "{body.missing}",
      message: "{body.missing} has no string or number value",
    });
  });

  it("refuses malformed templates at parse time", () => {
    expect(() => parseTemplate("order-{body.id")).toThrow(/unbalanced/);
    expect(() => parseTemplate("order-}{body.id}")).toThrow(/unbalanced/);
    expect(() => parseTemplate("{cookies.a}")).toThrow(/body, headers or query/);
    expect(() => parseTemplate("{body}")).toThrow(/name a field/);
    expect(() => parseTemplate("{headers.a.b}")).toThrow(/one name/);
  });
});

describe("route table and request bodies", () => {
  const config = compileWebhookConfig({
    basePath: "/prod",
    routes: [route(), route({ method: "put" }), route({ path: "/hooks/b" })],
  });

  it("matches exact paths under the base path, then the method (405 lists the allowed ones)", () => {
    const table = new RouteTable(config.routes, config.basePath);
    expect(table.match("POST", "/prod/hooks/a")).toMatchObject({ kind: "route", route: { method: "POST" } });
    expect(table.match("put", "/prod/hooks/a")).toMatchObject({ kind: "route", route: { method: "PUT" } });
    expect(table.match("DELETE", "/prod/hooks/a")).toEqual({ kind: "method-not-allowed", allow: ["POST", "PUT"] });
    expect(table.match("POST", "/hooks/a")).toEqual({ kind: "not-found" });
    expect(table.match("POST", "/prod/hooks/a/")).toEqual({ kind: "not-found" });
    expect(table.match("POST", "/production/hooks/a")).toEqual({ kind: "not-found" });
  });

  it("knows a base64 body's decoded size without decoding it, and decodes it byte for byte", () => {
    for (const size of [0, 1, 2, 3, 4, 5, 1000, 1001, 1002]) {
      const bytes = Buffer.alloc(size, 0xfe);
      const event: Pick<WebhookHttpEvent, "body" | "isBase64Encoded"> = {
        body: bytes.toString("base64"),
        isBase64Encoded: true,
      };
      expect(decodedBodyLength(event)).toBe(size);
      expect(rawBody(event).equals(bytes)).toBe(true);
    }
    expect(decodedBodyLength({ body: "é", isBase64Encoded: false })).toBe(2);
  });

  it("reads a JSON array of strings in one secret as several secrets (rotation inside one secret)", () => {
    expect(expandSecret('["new","old"]')).toEqual(["new", "old"]);
    expect(expandSecret("[not json")).toEqual(["[not json"]);
    expect(expandSecret("plain")).toEqual(["plain"]);
    expect(expandSecret("[1,2]")).toEqual(["[1,2]"]);
  });
});

describe("webhook function settings (environment)", () => {
  const examples = new URL("../../examples/", import.meta.url).pathname;

  it("reads the routes from WEBHOOK_ROUTES_FILE relative to LAMBDA_TASK_ROOT, with the documented defaults", () => {
    const settings = webhookFunctionSettings({
      WEBHOOK_ROUTES_FILE: "webhook-routes.json",
      LAMBDA_TASK_ROOT: examples,
    });
    expect(settings.config.routes).toHaveLength(4);
    expect(settings).toMatchObject({
      sidecarUrl: "http://127.0.0.1:3500",
      apiToken: undefined,
      idempotency: { kind: "memory" },
      secretMaxAgeSeconds: 300,
    });
  });

  it("reads WEBHOOK_ROUTES (JSON) and the other variables", () => {
    const settings = webhookFunctionSettings({
      WEBHOOK_ROUTES: JSON.stringify({ routes: [route()] }),
      DAPR_HTTP_ENDPOINT: "http://10.0.0.5:3500",
      DAPR_API_TOKEN: "secretsmanager:dapr-token",
      IDEMPOTENCY_REDIS_URL: "env:REDIS_URL",
      WEBHOOK_SECRET_MAX_AGE_SECONDS: "60",
    });
    expect(settings).toMatchObject({
      sidecarUrl: "http://10.0.0.5:3500",
      apiToken: "secretsmanager:dapr-token",
      idempotency: { kind: "redis", url: "env:REDIS_URL" },
      secretMaxAgeSeconds: 60,
    });
  });

  it("keeps delivery IDs in the DynamoDB table IDEMPOTENCY_TABLE names; refuses a bad name and two stores at once", () => {
    const routes = JSON.stringify({ routes: [route()] });
    expect(
      webhookFunctionSettings({ WEBHOOK_ROUTES: routes, IDEMPOTENCY_TABLE: "hk-webhook-deliveries" }),
    ).toMatchObject({
      idempotency: { kind: "dynamodb", tableName: "hk-webhook-deliveries" },
    });
    expect(() => webhookFunctionSettings({ WEBHOOK_ROUTES: routes, IDEMPOTENCY_TABLE: "a b" })).toThrow(
      /"a b" is not a DynamoDB table name/,
    );
    expect(() =>
      webhookFunctionSettings({
        WEBHOOK_ROUTES: routes,
        IDEMPOTENCY_TABLE: "deliveries",
        IDEMPOTENCY_REDIS_URL: "redis://x",
      }),
    ).toThrow(/either the DynamoDB table or the Redis URL, not both/);
  });

  it("refuses both or neither routes variable, a bad URL, a missing file", () => {
    expect(() => webhookFunctionSettings({})).toThrow(/exactly one of WEBHOOK_ROUTES/);
    expect(() => webhookFunctionSettings({ WEBHOOK_ROUTES: "{}", WEBHOOK_ROUTES_FILE: "x.json" })).toThrow(
      /exactly one of WEBHOOK_ROUTES/,
    );
    expect(() =>
      webhookFunctionSettings({ WEBHOOK_ROUTES: JSON.stringify({ routes: [route()] }), DAPR_HTTP_ENDPOINT: "nope" }),
    ).toThrow(/DAPR_HTTP_ENDPOINT/);
    expect(() => webhookFunctionSettings({ WEBHOOK_ROUTES_FILE: "/nonexistent/routes.json" })).toThrow(
      /cannot read the webhook routes file/,
    );
  });
});
