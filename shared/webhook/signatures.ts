/**
 * Webhook authentication, over the raw body bytes, with constant-time comparison and several secrets at once (rotation:
 * any configured secret may match any signature sent). Each style follows its reference implementation exactly:
 *
 *  - GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`; the secret is used as UTF-8 bytes
 *    (docs.github.com "Validating webhook deliveries"). No timestamp: replays are caught by X-GitHub-Delivery.
 *  - Stripe: `Stripe-Signature: t=<unix s>,v1=<hex>[,v1=<hex>…][,v0=…]`, v1 = hex HMAC-SHA256(secret, `${t}.${body}`)
 *    with the whole `whsec_…` string as the UTF-8 key; any v1 may match; then the event is refused when it is older
 *    than the tolerance (default 300 s). As stripe-node (src/Webhooks.ts): the age check is one-sided (a timestamp in
 *    the future is not refused), and the last `t=` wins.
 *  - Standard Webhooks 1.0: headers `webhook-id`, `webhook-timestamp`, `webhook-signature` (space-separated
 *    `v1,<base64>` entries; other versions such as `v1a` are skipped); the key is the base64 secret after its
 *    optional `whsec_` prefix; content `${id}.${timestamp}.${body}`; the timestamp must lie within the tolerance
 *    (default 300 s) on both sides (spec/standard-webhooks.md and its JavaScript library).
 *  - Bearer: `Authorization: Bearer <key>`, compared as SHA-256 digests so the comparison is constant-time whatever
 *    the lengths.
 *
 * Why not the `standardwebhooks` npm package for the third style: it takes one secret per instance (no rotation list),
 * has a fixed 5-minute window and no injectable clock, and turns a Buffer body into a string before signing (invalid
 * UTF-8 would be altered). What it does is a dozen lines over node:crypto, checked here against its published test
 * vectors (test/webhook/signatures.test.ts).
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";

export type AuthScheme = "github" | "stripe" | "standard-webhooks" | "bearer";

/** Why a request was refused: logged for operators, never sent to the caller (every refusal answers the same 401). */
export type AuthFailure = "missing-header" | "malformed-header" | "stale-timestamp" | "no-match" | "no-secret";

export type VerifyResult = { ok: true } | { ok: false; reason: AuthFailure };

export interface VerifyInput {
  /** The raw body bytes, exactly as received. */
  body: Buffer;
  /** Lower-case header names. */
  headers: Readonly<Record<string, string | undefined>>;
  /** Every secret currently accepted (rotation: old and new). */
  secrets: readonly string[];
  now: Date;
  /** Stripe and Standard Webhooks: how old (and, for Standard Webhooks, how far ahead) a timestamp may be. */
  toleranceSeconds: number;
}

export const DEFAULT_TOLERANCE_SECONDS = 300;
/** A header with more signatures than this is malformed (bounds the work an unauthenticated caller can ask for). */
const MAX_SIGNATURES = 16;

export function verifyRequest(scheme: AuthScheme, input: VerifyInput): VerifyResult {
  if (input.secrets.length === 0) return fail("no-secret");
  switch (scheme) {
    case "github":
      return verifyGithub(input);
    case "stripe":
      return verifyStripe(input);
    case "standard-webhooks":
      return verifyStandardWebhooks(input);
    case "bearer":
      return verifyBearer(input);
  }
}

export function verifyGithub(input: VerifyInput): VerifyResult {
  const header = input.headers["x-hub-signature-256"];
  if (header === undefined || header === "") return fail("missing-header");
  if (!header.startsWith("sha256=")) return fail("malformed-header");
  const sent = Buffer.from(header.slice("sha256=".length), "utf8");
  for (const secret of input.secrets) {
    if (safeEqual(sent, Buffer.from(hmacHex(Buffer.from(secret, "utf8"), [input.body]), "utf8"))) return OK;
  }
  return fail("no-match");
}

export function verifyStripe(input: VerifyInput): VerifyResult {
  const header = input.headers["stripe-signature"];
  if (header === undefined || header === "") return fail("missing-header");
  let timestamp: string | undefined;
  const signatures: Buffer[] = [];
  for (const item of header.split(",")) {
    const at = item.indexOf("=");
    if (at < 0) continue;
    const key = item.slice(0, at).trim();
    const value = item.slice(at + 1).trim();
    if (key === "t") timestamp = value;
    else if (key === "v1") signatures.push(Buffer.from(value, "utf8"));
  }
  if (timestamp === undefined || !/^\d{1,15}$/.test(timestamp)) return fail("malformed-header");
  if (signatures.length === 0 || signatures.length > MAX_SIGNATURES) return fail("malformed-header");
  const t = Number(timestamp);
  const prefix = Buffer.from(`${t}.`, "utf8");
  let matched = false;
  for (const secret of input.secrets) {
    const expected = Buffer.from(hmacHex(Buffer.from(secret, "utf8"), [prefix, input.body]), "utf8");
    if (signatures.some((sent) => safeEqual(sent, expected))) {
      matched = true;
      break;
    }
  }
  if (!matched) return fail("no-match");
  const age = Math.floor(input.now.getTime() / 1000) - t;
  if (input.toleranceSeconds > 0 && age > input.toleranceSeconds) return fail("stale-timestamp");
  return OK;
}

export function verifyStandardWebhooks(input: VerifyInput): VerifyResult {
  const id = input.headers["webhook-id"];
  const timestamp = input.headers["webhook-timestamp"];
  const header = input.headers["webhook-signature"];
  if (!id || !timestamp || !header) return fail("missing-header");
  if (!/^\d{1,15}$/.test(timestamp)) return fail("malformed-header");
  const t = Number(timestamp);
  const now = Math.floor(input.now.getTime() / 1000);
  if (now - t > input.toleranceSeconds || t > now + input.toleranceSeconds) return fail("stale-timestamp");
  const entries = header.split(" ").filter((e) => e !== "");
  if (entries.length > MAX_SIGNATURES) return fail("malformed-header");
  const signatures: Buffer[] = [];
  for (const entry of entries) {
    const comma = entry.indexOf(",");
    if (comma < 0 || entry.slice(0, comma) !== "v1") continue;
    signatures.push(Buffer.from(entry.slice(comma + 1), "utf8"));
  }
  if (signatures.length === 0) return fail("no-match");
  const prefix = Buffer.from(`${id}.${t}.`, "utf8");
  for (const secret of input.secrets) {
    const key = standardWebhooksKey(secret);
    if (key.length === 0) continue;
    const expected = Buffer.from(hmac(key, [prefix, input.body]).toString("base64"), "utf8");
    if (signatures.some((sent) => safeEqual(sent, expected))) return OK;
  }
  return fail("no-match");
}

export function verifyBearer(input: VerifyInput): VerifyResult {
  const header = input.headers.authorization;
  if (header === undefined || header === "") return fail("missing-header");
  const match = /^bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  if (!match) return fail("malformed-header");
  const sent = sha256(match[1]!);
  let matched = false;
  // Every key is compared (no early exit): the time taken says nothing about which key matched.
  for (const key of input.secrets) matched = timingSafeEqual(sent, sha256(key)) || matched;
  return matched ? OK : fail("no-match");
}

/** Standard Webhooks: the signing key is the base64 text after the optional `whsec_` prefix. */
export function standardWebhooksKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith("whsec_") ? secret.slice("whsec_".length) : secret, "base64");
}

// ---- signing (for senders in tests, benchmarks and docs; the verifiers above never call these) ----------------------

/** The `X-Hub-Signature-256` value GitHub sends for this body. */
export function signGithub(body: Buffer | string, secret: string): string {
  return `sha256=${hmacHex(Buffer.from(secret, "utf8"), [toBuffer(body)])}`;
}

/** A `Stripe-Signature` value: `t=<unix s>` then one `v1=` per secret (Stripe sends several during rotation). */
export function signStripe(body: Buffer | string, secrets: string | readonly string[], timestamp: number): string {
  const list = typeof secrets === "string" ? [secrets] : secrets;
  const content = [Buffer.from(`${timestamp}.`, "utf8"), toBuffer(body)];
  return [`t=${timestamp}`, ...list.map((s) => `v1=${hmacHex(Buffer.from(s, "utf8"), content)}`)].join(",");
}

/** A `webhook-signature` value: one `v1,<base64>` per secret, space-separated. */
export function signStandardWebhooks(
  id: string,
  timestamp: number,
  body: Buffer | string,
  secrets: string | readonly string[],
): string {
  const list = typeof secrets === "string" ? [secrets] : secrets;
  const content = [Buffer.from(`${id}.${timestamp}.`, "utf8"), toBuffer(body)];
  return list.map((s) => `v1,${hmac(standardWebhooksKey(s), content).toString("base64")}`).join(" ");
}

// ---- helpers --------------------------------------------------------------------------------------------------------

const OK: VerifyResult = { ok: true };

function fail(reason: AuthFailure): VerifyResult {
  return { ok: false, reason };
}

function hmac(key: Buffer, parts: Buffer[]): Buffer {
  const mac = createHmac("sha256", key);
  for (const part of parts) mac.update(part);
  return mac.digest();
}

function hmacHex(key: Buffer, parts: Buffer[]): string {
  return hmac(key, parts).toString("hex");
}

function sha256(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

/** Constant-time for equal lengths; a length difference is not secret (every valid signature has a fixed length). */
function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function toBuffer(body: Buffer | string): Buffer {
  return typeof body === "string" ? Buffer.from(body, "utf8") : body;
}
