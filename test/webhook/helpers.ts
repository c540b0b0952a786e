/**
 * What a webhook sender does, written here with node:crypto directly (independent of shared/webhook/signatures.ts):
 * sign a body in each style and post it. Plus a logger that keeps what the job logs, and the routes config the
 * end-to-end tests share.
 */
import { createHmac, randomUUID } from "node:crypto";
import type { WebhookConfigInput } from "../../shared/webhook/routes.ts";

export const SECRETS = {
  GH_SECRET_NEW: "gh-new-secret-0123456789",
  GH_SECRET_OLD: "gh-old-secret-9876543210",
  STRIPE_SECRET: "whsec_stripe_test_secret_abc",
  // Standard Webhooks: whsec_ + base64 of the key bytes; this one secret holds two (rotation inside one secret).
  SW_SECRET_NEW: `whsec_${Buffer.from("standard-webhooks key #2 (24+ bytes)").toString("base64")}`,
  SW_SECRET_OLD: `whsec_${Buffer.from("standard-webhooks key #1 (24+ bytes)").toString("base64")}`,
  APPROVAL_KEY: "approval-bearer-key-xyz",
} as const;

export function secretEnv(): Record<string, string> {
  return {
    GH_SECRET_NEW: SECRETS.GH_SECRET_NEW,
    GH_SECRET_OLD: SECRETS.GH_SECRET_OLD,
    STRIPE_SECRET: SECRETS.STRIPE_SECRET,
    SW_SECRETS: JSON.stringify([SECRETS.SW_SECRET_NEW, SECRETS.SW_SECRET_OLD]),
    APPROVAL_KEY: SECRETS.APPROVAL_KEY,
  };
}

export const ROUTES: WebhookConfigInput = {
  maxBodyBytes: 4096,
  routes: [
    {
      path: "/hooks/github",
      action: { type: "start", workflow: "Triage" },
      instanceId: "gh-{body.repository.id}-{body.issue.number}",
      payload: {
        type: "object",
        required: ["issue", "repository"],
        properties: { issue: { type: "object", required: ["number"], properties: { number: { type: "integer" } } } },
      },
      auth: { scheme: "github", secrets: ["env:GH_SECRET_NEW", "env:GH_SECRET_OLD"] },
    },
    {
      path: "/hooks/stripe",
      action: { type: "raise-event", event: "PaymentReceived" },
      instanceId: "order-{body.data.object.metadata.orderId}",
      input: "body.data.object",
      auth: { scheme: "stripe", secrets: ["env:STRIPE_SECRET"], toleranceSeconds: 300 },
    },
    {
      path: "/hooks/orders",
      action: { type: "start", workflow: "Order" },
      instanceId: "order-{body.data.orderId}",
      payload: {
        type: "object",
        required: ["type", "data"],
        properties: {
          type: { const: "order.created" },
          data: { type: "object", required: ["orderId"], properties: { orderId: { type: "string" } } },
        },
      },
      auth: { scheme: "standard-webhooks", secrets: ["env:SW_SECRETS"] },
    },
    {
      path: "/hooks/approvals",
      action: { type: "raise-event", event: "Approved" },
      instanceId: "{body.instanceId}",
      deliveryId: "{headers.x-request-id}",
      payload: {
        type: "object",
        additionalProperties: false,
        required: ["instanceId", "approved"],
        properties: { instanceId: { type: "string" }, approved: { type: "boolean" } },
      },
      auth: { scheme: "bearer", secrets: ["env:APPROVAL_KEY"] },
    },
    {
      path: "/hooks/shipments",
      action: { type: "raise-or-start", event: "Shipped", workflow: "Order" },
      instanceId: "ship-{body.orderId}",
      deliveryId: "{headers.x-request-id}",
      auth: { scheme: "bearer", secrets: ["env:APPROVAL_KEY"] },
    },
  ],
};

const hmac = (key: string | Buffer, content: string) => createHmac("sha256", key).update(content, "utf8");

export function githubHeaders(body: string, secret: string = SECRETS.GH_SECRET_NEW, delivery = randomUUID()) {
  return {
    "content-type": "application/json",
    "x-github-event": "issues",
    "x-github-delivery": delivery,
    "x-hub-signature-256": `sha256=${hmac(secret, body).digest("hex")}`,
  };
}

export function stripeHeaders(
  body: string,
  timestamp = Math.floor(Date.now() / 1000),
  secret: string = SECRETS.STRIPE_SECRET,
) {
  return {
    "content-type": "application/json",
    "stripe-signature": `t=${timestamp},v1=${hmac(secret, `${timestamp}.${body}`).digest("hex")}`,
  };
}

export function standardHeaders(
  body: string,
  secret: string = SECRETS.SW_SECRET_NEW,
  id = `msg_${randomUUID()}`,
  timestamp = Math.floor(Date.now() / 1000),
) {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  return {
    "content-type": "application/json",
    "webhook-id": id,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": `v1,${hmac(key, `${id}.${timestamp}.${body}`).digest("base64")}`,
  };
}

/** `requestId: null` sends no X-Request-Id. */
export function bearerHeaders(key: string = SECRETS.APPROVAL_KEY, requestId: string | null = randomUUID()) {
  return {
    "content-type": "application/json",
    authorization: `Bearer ${key}`,
    ...(requestId === null ? {} : { "x-request-id": requestId }),
  };
}

/** The headers that carry a signature or a key: their values must never be logged or echoed. */
export const CREDENTIAL_HEADERS = ["x-hub-signature-256", "stripe-signature", "webhook-signature", "authorization"];

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: Record<string, unknown> | undefined;
}

export async function post(
  baseUrl: string,
  path: string,
  body: string,
  headers: Record<string, string>,
  method = "POST",
): Promise<Answer> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers,
    body,
    signal: AbortSignal.timeout(20_000),
  });
  const text = await response.text();
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

export interface LogRecord {
  level: "info" | "warn" | "error";
  message: string;
  attributes: Record<string, unknown>;
}

export function capturingLogger() {
  const records: LogRecord[] = [];
  const push = (level: LogRecord["level"]) => (message: string, attributes: Record<string, unknown>) => {
    records.push({ level, message, attributes });
  };
  return { records, logger: { info: push("info"), warn: push("warn"), error: push("error") } };
}

/** Every value a log must never contain: the secrets, and whatever the test passes (bodies, signatures). */
export function secretValues(): string[] {
  return [...Object.values(SECRETS), ...Object.values(SECRETS).map((s) => s.replace(/^whsec_/, ""))];
}
