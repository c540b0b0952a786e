import { describe, expect, it } from "vitest";
import { buildInstance, EXPECTED_STATUS, SCENARIOS } from "../../shared/sample-data/instance-builder.ts";
import type { HistoryEvent } from "../../shared/workflow/history-event.ts";
import { decodeCustomStatus, decodeHistoryEvent, decodeMetadata } from "../../shared/workflow/history-event.ts";
import { deriveState } from "../../shared/workflow/runtime-status.ts";

const at = (seconds: number) => ({ seconds });

describe("deriveState follows the durabletask runtime's rules", () => {
  it.each(SCENARIOS)("derives the runtime status of a %s instance", (scenario) => {
    const built = buildInstance({ instanceId: "i", scenario, createdAt: new Date("2026-05-01T00:00:00Z") });
    expect(deriveState(built.history, built.inbox).runtimeStatus).toBe(EXPECTED_STATUS[scenario]);
  });

  it("takes created from the ExecutionStarted event and last update from the last history event", () => {
    const history: HistoryEvent[] = [
      { timestamp: at(100), workflowStarted: {} },
      { timestamp: at(101), executionStarted: { name: "W", input: { value: "1" } } },
      { timestamp: at(150), workflowCompleted: {} },
    ];
    const state = deriveState(history);
    expect(state.createdAt?.toISOString()).toBe(new Date(101_000).toISOString());
    expect(state.lastUpdatedAt?.toISOString()).toBe(new Date(150_000).toISOString());
    expect(state.name).toBe("W");
    expect(state.input).toBe("1");
    expect(state.isTerminal).toBe(false);
  });

  it("is PENDING with no ExecutionStarted in history, naming the workflow from the inbox", () => {
    const state = deriveState([], [{ timestamp: at(5), executionStarted: { name: "Later" } }]);
    expect(state.runtimeStatus).toBe("PENDING");
    expect(state.name).toBe("Later");
    expect(state.createdAt).toBeUndefined();
  });

  it("treats a resumed instance as RUNNING and a stall followed by another event as no longer stalled", () => {
    const base: HistoryEvent[] = [{ timestamp: at(1), executionStarted: { name: "W" } }];
    expect(
      deriveState([...base, { timestamp: at(2), executionSuspended: {} }, { timestamp: at(3), executionResumed: {} }])
        .runtimeStatus,
    ).toBe("RUNNING");
    expect(deriveState([...base, { timestamp: at(2), executionStalled: { reason: 0 } }]).runtimeStatus).toBe("STALLED");
    expect(
      deriveState([...base, { timestamp: at(2), executionStalled: {} }, { timestamp: at(3), workflowStarted: {} }])
        .runtimeStatus,
    ).toBe("RUNNING");
  });

  it("keeps a terminate request still in the inbox RUNNING, as Dapr does", () => {
    const built = buildInstance({ instanceId: "t", scenario: "terminate-requested", createdAt: new Date(0) });
    expect(built.inbox.some((e) => e.executionTerminated)).toBe(true);
    expect(deriveState(built.history, built.inbox).runtimeStatus).toBe("RUNNING");
  });

  it("reports output and failure details from the ExecutionCompleted event", () => {
    const failed = buildInstance({ instanceId: "f", scenario: "failed", createdAt: new Date(0) });
    const state = deriveState(failed.history);
    expect(state.runtimeStatus).toBe("FAILED");
    expect(state.failureDetails?.errorMessage).toContain("card declined");
    expect(state.isTerminal).toBe(true);
    const done = buildInstance({ instanceId: "c", scenario: "completed", createdAt: new Date(0), output: { a: 1 } });
    expect(deriveState(done.history).output).toBe('{"a":1}');
  });
});

describe("decoding Dapr's values (test vectors from docs/dapr-state-store.md §2.5)", () => {
  const b64 = (s: string) => Buffer.from(s, "base64");

  it("decodes the metadata vectors", () => {
    expect(decodeMetadata(b64("EAwYAQ=="))).toMatchObject({ inboxLength: 0, historyLength: 12, generation: 1 });
    expect(decodeMetadata(b64("CAEYAQ=="))).toMatchObject({ inboxLength: 1, historyLength: 0, generation: 1 });
  });

  it("reads legacy JSON metadata of Dapr 1.10–1.14", () => {
    const legacy = Buffer.from('{"InboxLength":2,"HistoryLength":7,"Generation":3}');
    expect(decodeMetadata(legacy)).toMatchObject({ inboxLength: 2, historyLength: 7, generation: 3 });
  });

  it("decodes custom status as StringValue, legacy JSON string, or empty", () => {
    expect(decodeCustomStatus(b64("CgQib2si"))).toBe('"ok"');
    expect(decodeCustomStatus(Buffer.from('"legacy"'))).toBe("legacy");
    expect(decodeCustomStatus(new Uint8Array())).toBe("");
  });

  it("decodes the ExecutionStarted and FAILED ExecutionCompleted vectors", () => {
    const started = decodeHistoryEvent(
      b64("CP///////////wESDAilhNi7BhCAjI2eAhopCg1PcmRlcldvcmtmbG93GgoKCHsiaWQiOjF9IgwKBHdmLTESBAoCZTE="),
    );
    expect(started).toMatchObject({
      eventId: -1,
      timestamp: { seconds: 1_735_787_045, nanos: 600_000_000 },
      executionStarted: {
        name: "OrderWorkflow",
        input: { value: '{"id":1}' },
        workflowInstance: { instanceId: "wf-1" },
      },
    });
    const failed = decodeHistoryEvent(b64("CP///////////wESDAilhNi7BhCAjI2eAiIRCAMaDQoFRXJyb3ISBGJvb20="));
    expect(deriveState([started, failed])).toMatchObject({ runtimeStatus: "FAILED", name: "OrderWorkflow" });
    expect(deriveState([started, failed]).failureDetails?.errorMessage).toBe("boom");
  });

  it("names the problem when metadata is garbage", () => {
    expect(() => decodeMetadata(Buffer.from([0x0a, 0xff]))).toThrow(/metadata is neither protobuf nor legacy JSON/);
  });
});
