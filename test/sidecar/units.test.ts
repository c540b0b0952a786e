/** The sidecar client's pure parts: Dapr's ID rule, error classification, backoff and Retry-After. */
import { describe, expect, it } from "vitest";
import { dateFromProtoJson, metadataFromHttpBody } from "../../shared/sidecar/codec.ts";
import { grpcErrorKind, httpErrorKind } from "../../shared/sidecar/errors.ts";
import { backoffDelay, DEFAULT_RETRY_POLICY, parseRetryAfter, withRetries } from "../../shared/sidecar/retry.ts";
import { instanceIdProblem, isValidAppId } from "../../shared/sidecar/validation.ts";

describe("instanceIdProblem (dapr pkg/api/universal/workflow.go validateInstanceID)", () => {
  it("accepts letters, digits, _ and - in any script, up to 64 UTF-8 bytes, on start", () => {
    for (const id of ["a", "order-1_A", "x".repeat(64), "Ünïcødé-٣", "订单-42", "ü".repeat(32)]) {
      expect(instanceIdProblem(id, true), id).toBeUndefined();
    }
  });
  it("rejects, on start, other characters and more than 64 bytes (length is checked first)", () => {
    for (const id of ["a b", "a:b", "a.b", "a/b", "emoji😀", "tab\t"]) {
      expect(instanceIdProblem(id, true)?.errorCode, id).toBe("ERR_INSTANCE_ID_INVALID");
    }
    expect(instanceIdProblem("x".repeat(65), true)?.errorCode).toBe("ERR_INSTANCE_ID_TOO_LONG");
    expect(instanceIdProblem(`${"ü".repeat(32)}!`, true)?.errorCode).toBe("ERR_INSTANCE_ID_TOO_LONG");
  });
  it("only requires a non-empty ID for the other operations", () => {
    expect(instanceIdProblem("a:b/c d", false)).toBeUndefined();
    expect(instanceIdProblem("", false)?.errorCode).toBe("ERR_INSTANCE_ID_PROVIDED_MISSING");
    expect(instanceIdProblem("", true)?.message).toBe("no instance ID was provided");
  });
  it("app IDs follow common.ValidAppID (no dots: they would smuggle actor-type segments)", () => {
    expect(isValidAppId("my-app_2")).toBe(true);
    expect(isValidAppId("")).toBe(true);
    expect(isValidAppId("a.b")).toBe(false);
  });
});

describe("error classification", () => {
  it("HTTP: by status, then by Dapr's errorCode and message", () => {
    expect(httpErrorKind(404, "ERR_INSTANCE_ID_NOT_FOUND", "")).toBe("not-found");
    expect(httpErrorKind(500, "ERR_START_WORKFLOW", "… an active workflow with ID 'x' already exists")).toBe(
      "already-exists",
    );
    expect(httpErrorKind(500, "ERR_PURGE_WORKFLOW", "… orchestration has not yet completed")).toBe("not-terminal");
    expect(httpErrorKind(500, "ERR_PAUSE_WORKFLOW", "… no such instance exists")).toBe("not-found");
    expect(httpErrorKind(500, "ERR_START_WORKFLOW", "actor runtime not ready")).toBe("internal");
    expect(httpErrorKind(400, "ERR_INSTANCE_ID_INVALID", "")).toBe("bad-request");
    expect(httpErrorKind(401, undefined, "invalid api token")).toBe("unauthorized");
    expect(httpErrorKind(403, "ERR_PERMISSION_DENIED", "")).toBe("unauthorized");
    for (const status of [429, 502, 503, 504]) expect(httpErrorKind(status, undefined, "")).toBe("unavailable");
  });
  it("gRPC: by code, UNKNOWN and INVALID_ARGUMENT by Dapr's words", () => {
    expect(grpcErrorKind(5, "")).toBe("not-found");
    expect(grpcErrorKind(6, "")).toBe("already-exists");
    expect(grpcErrorKind(16, "Unauthorized")).toBe("unauthorized");
    expect(grpcErrorKind(14, "")).toBe("unavailable");
    expect(grpcErrorKind(3, "'x' is not in a terminal state")).toBe("not-terminal");
    expect(grpcErrorKind(3, "cannot write input to timer event '1'")).toBe("bad-request");
    expect(grpcErrorKind(2, "no such instance exists")).toBe("not-found");
    expect(grpcErrorKind(2, "failed to purge workflow state: orchestration has not yet completed")).toBe(
      "not-terminal",
    );
    expect(grpcErrorKind(2, "boom")).toBe("internal");
  });
});

describe("retry arithmetic", () => {
  it("full jitter: random(0, min(cap, base·2^(n-1)))", () => {
    expect(backoffDelay(DEFAULT_RETRY_POLICY, 1, () => 0.999)).toBe(99);
    expect(backoffDelay(DEFAULT_RETRY_POLICY, 3, () => 0.5)).toBe(200);
    expect(backoffDelay(DEFAULT_RETRY_POLICY, 10, () => 0.999)).toBe(1998);
    expect(backoffDelay(DEFAULT_RETRY_POLICY, 4, () => 0)).toBe(0);
  });
  it("Retry-After: delay-seconds or an HTTP-date", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(parseRetryAfter("3", now)).toBe(3000);
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:10 GMT", now)).toBe(10_000);
    expect(parseRetryAfter("Wed, 31 Dec 2025 00:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
  it("stops at maxAttempts and never starts a wait that would cross maxElapsedMs", async () => {
    let clock = 0;
    let attempts = 0;
    const run = withRetries(
      {
        policy: { maxAttempts: 10, baseDelayMs: 100, maxDelayMs: 1000, maxElapsedMs: 2500 },
        decide: () => ({ retry: true, retryAfterMs: 1000 }),
        now: () => clock,
        sleep: async (ms) => {
          clock += ms;
        },
      },
      async () => {
        attempts++;
        throw new Error(`attempt ${attempts}`);
      },
    );
    await expect(run).rejects.toThrow("attempt 3");
    expect(clock).toBe(2000);
  });
});

describe("HTTP GET body", () => {
  it("reads Dapr's zero time as no time, and the ≤1.15 not-found answer (only instanceID) as not found", () => {
    expect(dateFromProtoJson("0001-01-01T00:00:00Z")).toBeUndefined();
    expect(dateFromProtoJson("2026-01-02T03:04:05.123456789Z")?.toISOString()).toBe("2026-01-02T03:04:05.123Z");
    expect(metadataFromHttpBody({ instanceID: "x" }, "x")).toBeUndefined();
    expect(
      metadataFromHttpBody(
        {
          instanceID: "x",
          runtimeStatus: "FAILED",
          properties: {
            "dapr.workflow.failure.error_type": "E",
            "dapr.workflow.failure.error_message": "m",
          },
        },
        "x",
      ),
    ).toMatchObject({ runtimeStatus: "FAILED", workflowName: "", failure: { errorType: "E", errorMessage: "m" } });
    expect(metadataFromHttpBody({ instanceID: "x", runtimeStatus: "UNKNOWN" }, "x")?.runtimeStatus).toBe("UNKNOWN");
  });
});
