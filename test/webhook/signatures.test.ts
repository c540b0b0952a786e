/**
 * The signature verifiers against published vectors (GitHub's docs example; Standard Webhooks' library test vector)
 * and against signatures computed here with node:crypto directly (not with the module's own signers), plus every way
 * a request must be refused.
 */
import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  signGithub,
  signStandardWebhooks,
  signStripe,
  type VerifyInput,
  verifyBearer,
  verifyGithub,
  verifyRequest,
  verifyStandardWebhooks,
  verifyStripe,
} from "../../shared/webhook/signatures.ts";

const NOW = new Date("2026-03-01T12:00:00Z");
const NOW_S = Math.floor(NOW.getTime() / 1000);

function input(
  body: string | Buffer,
  headers: Record<string, string>,
  secrets: string[],
  tolerance = 300,
): VerifyInput {
  return {
    body: typeof body === "string" ? Buffer.from(body, "utf8") : body,
    headers,
    secrets,
    now: NOW,
    toleranceSeconds: tolerance,
  };
}

const hmacHex = (key: string | Buffer, content: string | Buffer) =>
  createHmac("sha256", key).update(content).digest("hex");

describe("GitHub (X-Hub-Signature-256)", () => {
  it('accepts GitHub\'s documented example (secret "It\'s a Secret to Everybody", body "Hello, World!")', () => {
    const header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    expect(
      verifyGithub(input("Hello, World!", { "x-hub-signature-256": header }, ["It's a Secret to Everybody"])),
    ).toEqual({ ok: true });
    expect(signGithub("Hello, World!", "It's a Secret to Everybody")).toBe(header);
  });

  it("verifies the raw bytes: invalid UTF-8 and a re-serialised body are told apart", () => {
    const raw = Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0xff, 0x7d]); // {"a":\xff}
    const header = `sha256=${hmacHex("s3", raw)}`;
    expect(verifyGithub(input(raw, { "x-hub-signature-256": header }, ["s3"])).ok).toBe(true);
    expect(verifyGithub(input(raw.toString("utf8"), { "x-hub-signature-256": header }, ["s3"])).ok).toBe(false);
    const pretty = '{ "a": 1 }';
    const compact = '{"a":1}';
    const signedPretty = `sha256=${hmacHex("s3", pretty)}`;
    expect(verifyGithub(input(compact, { "x-hub-signature-256": signedPretty }, ["s3"]))).toEqual({
      ok: false,
      reason: "no-match",
    });
  });

  it("accepts any of several secrets (rotation) and refuses others", () => {
    const header = `sha256=${hmacHex("new", "{}")}`;
    expect(verifyGithub(input("{}", { "x-hub-signature-256": header }, ["old", "new"])).ok).toBe(true);
    expect(verifyGithub(input("{}", { "x-hub-signature-256": header }, ["old"]))).toEqual({
      ok: false,
      reason: "no-match",
    });
  });

  it("refuses a missing, malformed, truncated or upper-case-prefixed header", () => {
    const good = hmacHex("k", "{}");
    expect(verifyGithub(input("{}", {}, ["k"]))).toEqual({ ok: false, reason: "missing-header" });
    expect(verifyGithub(input("{}", { "x-hub-signature-256": good }, ["k"]))).toEqual({
      ok: false,
      reason: "malformed-header",
    });
    expect(verifyGithub(input("{}", { "x-hub-signature-256": `sha256=${good.slice(0, 40)}` }, ["k"])).ok).toBe(false);
    expect(verifyGithub(input("{}", { "x-hub-signature-256": `SHA256=${good}` }, ["k"])).ok).toBe(false);
  });
});

describe("Stripe (Stripe-Signature)", () => {
  const body = '{"id":"evt_1","object":"event"}';
  const secret = "whsec_test_secret";
  const sig = (t: number, key = secret) => hmacHex(key, `${t}.${body}`);

  it("accepts v1 = hex HMAC(secret as UTF-8, `t.body`); the whsec_ string itself is the key", () => {
    const header = `t=${NOW_S},v1=${sig(NOW_S)}`;
    expect(verifyStripe(input(body, { "stripe-signature": header }, [secret]))).toEqual({ ok: true });
    expect(signStripe(body, secret, NOW_S)).toBe(header);
  });

  it("accepts when any of several v1 signatures matches (Stripe signs with old and new secret while rolling)", () => {
    const header = `t=${NOW_S},v1=${sig(NOW_S, "whsec_other")},v1=${sig(NOW_S)},v0=${"0".repeat(64)}`;
    expect(verifyStripe(input(body, { "stripe-signature": header }, [secret])).ok).toBe(true);
    expect(verifyStripe(input(body, { "stripe-signature": header }, ["whsec_unknown", secret])).ok).toBe(true);
  });

  it("refuses an event older than the tolerance, accepts one just inside it; the future is not checked", () => {
    const old = NOW_S - 301;
    expect(verifyStripe(input(body, { "stripe-signature": `t=${old},v1=${sig(old)}` }, [secret]))).toEqual({
      ok: false,
      reason: "stale-timestamp",
    });
    const edge = NOW_S - 300;
    expect(verifyStripe(input(body, { "stripe-signature": `t=${edge},v1=${sig(edge)}` }, [secret])).ok).toBe(true);
    const ahead = NOW_S + 3600;
    expect(verifyStripe(input(body, { "stripe-signature": `t=${ahead},v1=${sig(ahead)}` }, [secret])).ok).toBe(true);
    // A longer tolerance lets the old one through.
    expect(verifyStripe(input(body, { "stripe-signature": `t=${old},v1=${sig(old)}` }, [secret], 600)).ok).toBe(true);
  });

  it("refuses a signature made for another timestamp, and headers without t or v1", () => {
    expect(verifyStripe(input(body, { "stripe-signature": `t=${NOW_S},v1=${sig(NOW_S - 1)}` }, [secret]))).toEqual({
      ok: false,
      reason: "no-match",
    });
    expect(verifyStripe(input(body, { "stripe-signature": `v1=${sig(NOW_S)}` }, [secret]))).toEqual({
      ok: false,
      reason: "malformed-header",
    });
    expect(verifyStripe(input(body, { "stripe-signature": `t=${NOW_S},v0=${sig(NOW_S)}` }, [secret]))).toEqual({
      ok: false,
      reason: "malformed-header",
    });
    expect(verifyStripe(input(body, { "stripe-signature": `t=abc,v1=${sig(NOW_S)}` }, [secret])).ok).toBe(false);
    expect(verifyStripe(input(body, {}, [secret]))).toEqual({ ok: false, reason: "missing-header" });
  });
});

describe("Standard Webhooks (webhook-id / webhook-timestamp / webhook-signature)", () => {
  // The vector of standard-webhooks' JavaScript library (libraries/javascript/src/webhook.test.ts, "sign function").
  const VECTOR = {
    secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
    timestamp: 1614265330,
    body: '{"test": 2432232314}',
    signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
  };
  const at = new Date(VECTOR.timestamp * 1000);
  const headers = (signature: string, id = VECTOR.id, timestamp = String(VECTOR.timestamp)) => ({
    "webhook-id": id,
    "webhook-timestamp": timestamp,
    "webhook-signature": signature,
  });

  it("accepts the published vector, with and without the whsec_ prefix", () => {
    for (const secret of [VECTOR.secret, VECTOR.secret.slice("whsec_".length)]) {
      expect(verifyStandardWebhooks({ ...input(VECTOR.body, headers(VECTOR.signature), [secret]), now: at })).toEqual({
        ok: true,
      });
    }
    expect(signStandardWebhooks(VECTOR.id, VECTOR.timestamp, VECTOR.body, VECTOR.secret)).toBe(VECTOR.signature);
  });

  it("accepts a space-separated list where any v1 matches, skipping other versions (v1a, v2)", () => {
    const bogus = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=";
    const list = [bogus, "v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=", VECTOR.signature, "v1a,abc"].join(" ");
    expect(verifyStandardWebhooks({ ...input(VECTOR.body, headers(list), [VECTOR.secret]), now: at }).ok).toBe(true);
    expect(verifyStandardWebhooks({ ...input(VECTOR.body, headers(bogus), [VECTOR.secret]), now: at }).ok).toBe(false);
  });

  it("accepts any of several secrets; the key is the base64-decoded secret", () => {
    const key = Buffer.from("a fresh secret of 24 bytes!!", "utf8");
    const secret = `whsec_${key.toString("base64")}`;
    const t = NOW_S;
    const signature = `v1,${createHmac("sha256", key).update(`msg_2.${t}.{"a":1}`).digest("base64")}`;
    const result = verifyStandardWebhooks(
      input('{"a":1}', headers(signature, "msg_2", String(t)), [VECTOR.secret, secret]),
    );
    expect(result).toEqual({ ok: true });
  });

  it("refuses timestamps outside the tolerance on both sides (5 minutes by default)", () => {
    for (const offset of [-301, 301]) {
      const t = NOW_S + offset;
      const signature = signStandardWebhooks("msg_3", t, "{}", VECTOR.secret);
      expect(verifyStandardWebhooks(input("{}", headers(signature, "msg_3", String(t)), [VECTOR.secret]))).toEqual({
        ok: false,
        reason: "stale-timestamp",
      });
    }
    const t = NOW_S - 299;
    const signature = signStandardWebhooks("msg_3", t, "{}", VECTOR.secret);
    expect(verifyStandardWebhooks(input("{}", headers(signature, "msg_3", String(t)), [VECTOR.secret])).ok).toBe(true);
  });

  it("binds the id and the timestamp: changing either breaks the signature", () => {
    expect(
      verifyStandardWebhooks({
        ...input(VECTOR.body, headers(VECTOR.signature, "msg_other"), [VECTOR.secret]),
        now: at,
      }).ok,
    ).toBe(false);
    const later = String(VECTOR.timestamp + 1);
    expect(
      verifyStandardWebhooks({
        ...input(VECTOR.body, headers(VECTOR.signature, VECTOR.id, later), [VECTOR.secret]),
        now: at,
      }).ok,
    ).toBe(false);
  });

  it("refuses missing headers, a non-numeric timestamp, partial signatures", () => {
    const base = { ...input(VECTOR.body, headers(VECTOR.signature), [VECTOR.secret]), now: at };
    for (const name of ["webhook-id", "webhook-timestamp", "webhook-signature"]) {
      const h: Record<string, string> = { ...headers(VECTOR.signature) };
      delete h[name];
      expect(verifyStandardWebhooks({ ...base, headers: h })).toEqual({ ok: false, reason: "missing-header" });
    }
    expect(verifyStandardWebhooks({ ...base, headers: headers(VECTOR.signature, VECTOR.id, "hello") })).toEqual({
      ok: false,
      reason: "malformed-header",
    });
    expect(verifyStandardWebhooks({ ...base, headers: headers(VECTOR.signature.slice(0, 8)) }).ok).toBe(false);
    expect(verifyStandardWebhooks({ ...base, headers: headers("v1,") }).ok).toBe(false);
  });
});

describe("bearer key (Authorization: Bearer)", () => {
  it("accepts any configured key, case-insensitive scheme; refuses others and other schemes", () => {
    expect(verifyBearer(input("", { authorization: "Bearer key-2" }, ["key-1", "key-2"]))).toEqual({ ok: true });
    expect(verifyBearer(input("", { authorization: "bearer key-1" }, ["key-1"])).ok).toBe(true);
    expect(verifyBearer(input("", { authorization: "Bearer key-3" }, ["key-1", "key-2"]))).toEqual({
      ok: false,
      reason: "no-match",
    });
    expect(verifyBearer(input("", { authorization: "Basic a2V5LTE=" }, ["key-1"]))).toEqual({
      ok: false,
      reason: "malformed-header",
    });
    expect(verifyBearer(input("", {}, ["key-1"]))).toEqual({ ok: false, reason: "missing-header" });
    expect(verifyBearer(input("", { authorization: "Bearer key-1x" }, ["key-1"])).ok).toBe(false);
  });
});

describe("verifyRequest", () => {
  it("refuses everything when no secret is configured (e.g. an empty secret list after resolution)", () => {
    expect(verifyRequest("bearer", input("", { authorization: "Bearer " }, []))).toEqual({
      ok: false,
      reason: "no-secret",
    });
  });
});
