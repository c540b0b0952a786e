/**
 * The request and answer shapes the webhook job works on: the fields it reads of an API Gateway HTTP API (payload
 * format 2.0) event — which is also what a Lambda Function URL delivers — and the structured result both return.
 * `housekeeper webhook serve` builds the same event from a Node request (body base64-encoded, so the raw bytes
 * survive), so every door runs the same code.
 */

export interface WebhookHttpEvent {
  rawPath: string;
  rawQueryString?: string | undefined;
  /** API Gateway sends lower-case names and joins repeated headers with commas. */
  headers?: Record<string, string | undefined> | undefined;
  requestContext: { http: { method: string }; requestId?: string | undefined };
  body?: string | undefined;
  isBase64Encoded?: boolean | undefined;
}

export interface WebhookHttpResult {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

/** The body's size in bytes once decoded, computed without decoding it (so an oversized body costs nothing). */
export function decodedBodyLength(event: Pick<WebhookHttpEvent, "body" | "isBase64Encoded">): number {
  const body = event.body ?? "";
  if (!event.isBase64Encoded) return Buffer.byteLength(body, "utf8");
  let end = body.length;
  while (end > 0 && body.charCodeAt(end - 1) === 61 /* = */ && body.length - end < 2) end--;
  return Math.floor((end * 3) / 4);
}

/** The raw body bytes, exactly as the sender signed them. */
export function rawBody(event: Pick<WebhookHttpEvent, "body" | "isBase64Encoded">): Buffer {
  const body = event.body ?? "";
  return event.isBase64Encoded ? Buffer.from(body, "base64") : Buffer.from(body, "utf8");
}

/** Header names in lower case (API Gateway already sends them so; other sources may not). */
export function lowerCaseHeaders(headers: WebhookHttpEvent["headers"]): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const key = name.toLowerCase();
    out[key] = out[key] === undefined ? value : `${out[key]},${value}`;
  }
  return out;
}
