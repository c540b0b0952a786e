/**
 * Lean decoding (what listings use) against the independent encoder of protobuf-crosscheck.test.ts: the
 * google-protobuf classes @dapr/durabletask-js generates from the durabletask .proto. For every event type it must
 * agree with the full decoder on type, ID and timestamp, keep in full the members a summary derives from, and refuse
 * what the full decoder refuses at the top level.
 */
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { decodeHistoryEvent } from "../../shared/workflow/history-event.ts";
import { decodeAnalysisHistoryEvent, decodeLeanHistoryEvent } from "../../shared/workflow/lean-event.ts";

const require = createRequire(import.meta.url);
// biome-ignore lint/suspicious/noExplicitAny: generated jspb module without usable ESM types
const pb: any = require("@dapr/durabletask-js/proto/orchestrator_service_pb.js");
// biome-ignore lint/suspicious/noExplicitAny: same
const wrappers: any = require("@dapr/durabletask-js/node_modules/google-protobuf/google/protobuf/wrappers_pb.js");
// biome-ignore lint/suspicious/noExplicitAny: same
const tspb: any = require("@dapr/durabletask-js/node_modules/google-protobuf/google/protobuf/timestamp_pb.js");

const sv = (value: string) => new wrappers.StringValue().setValue(value);
const ts = (seconds: number, nanos = 0) => new tspb.Timestamp().setSeconds(seconds).setNanos(nanos);
// biome-ignore lint/suspicious/noExplicitAny: jspb builder
const event = (set: (e: any) => any, eventId = 2, seconds = 1_735_787_045) =>
  set(new pb.HistoryEvent().setEventid(eventId).setTimestamp(ts(seconds, 250_000_000))).serializeBinary() as Uint8Array;

const failure = new pb.TaskFailureDetails().setErrortype("Error").setErrormessage("boom").setStacktrace(sv("at x"));
const VECTORS: Array<[string, Uint8Array]> = [
  [
    "executionStarted",
    event((e) =>
      e.setExecutionstarted(
        new pb.ExecutionStartedEvent()
          .setName("OrderWorkflow")
          .setInput(sv('{"id":1}'))
          .setOrchestrationinstance(new pb.OrchestrationInstance().setInstanceid("wf-1"))
          .setParentinstance(
            new pb.ParentInstanceInfo()
              .setTaskscheduledid(3)
              .setOrchestrationinstance(new pb.OrchestrationInstance().setInstanceid("parent-1")),
          ),
      ),
    ),
  ],
  [
    "executionCompleted",
    event((e) =>
      e.setExecutioncompleted(
        new pb.ExecutionCompletedEvent()
          .setOrchestrationstatus(pb.OrchestrationStatus.ORCHESTRATION_STATUS_FAILED)
          .setFailuredetails(failure),
      ),
    ),
  ],
  [
    "childWorkflowInstanceCreated",
    event((e) =>
      e.setSuborchestrationinstancecreated(
        new pb.SubOrchestrationInstanceCreatedEvent().setInstanceid("wf-1:0001").setName("Child").setInput(sv("{}")),
      ),
    ),
  ],
  [
    "taskScheduled",
    event((e) => e.setTaskscheduled(new pb.TaskScheduledEvent().setName("Charge").setInput(sv('"x"')))),
  ],
  [
    "taskCompleted",
    event((e) => e.setTaskcompleted(new pb.TaskCompletedEvent().setTaskscheduledid(2).setResult(sv("1")))),
  ],
  [
    "taskFailed",
    event((e) => e.setTaskfailed(new pb.TaskFailedEvent().setTaskscheduledid(2).setFailuredetails(failure))),
  ],
  ["timerCreated", event((e) => e.setTimercreated(new pb.TimerCreatedEvent().setFireat(ts(99))))],
  ["timerFired", event((e) => e.setTimerfired(new pb.TimerFiredEvent().setFireat(ts(99)).setTimerid(5)))],
  ["workflowStarted", event((e) => e.setOrchestratorstarted(new pb.OrchestratorStartedEvent()))],
  ["eventRaised", event((e) => e.setEventraised(new pb.EventRaisedEvent().setName("Paid").setInput(sv("{}"))))],
  ["executionSuspended", event((e) => e.setExecutionsuspended(new pb.ExecutionSuspendedEvent().setInput(sv("why"))))],
  [
    "executionTerminated",
    event((e) => e.setExecutionterminated(new pb.ExecutionTerminatedEvent().setInput(sv("bye")))),
  ],
  // Before 1970 and a negative event ID: int64 / int32 as ten-byte varints.
  ["workflowCompleted", event((e) => e.setOrchestratorcompleted(new pb.OrchestratorCompletedEvent()), -1, -86_400)],
];

const KEPT_IN_FULL = new Set(["executionStarted", "executionCompleted", "childWorkflowInstanceCreated"]);

describe("lean HistoryEvent decoding", () => {
  it.each(VECTORS)("agrees with the full decoder on %s", (type, bytes) => {
    const full = decodeHistoryEvent(bytes);
    const lean = decodeLeanHistoryEvent(bytes);

    expect(lean.eventType).toBe(type);
    expect(lean.eventId).toBe(full.eventId);
    expect(lean.timestamp).toEqual(full.timestamp);
    const member = type as keyof typeof full;
    if (KEPT_IN_FULL.has(type)) expect(lean[member]).toEqual(full[member]);
    else expect(lean[member]).toBeUndefined(); // skipped on the wire: no input or result strings are made
  });

  it("keeps the router (field 30), which names a cross-app child's app", () => {
    // The generated (older) schema has no router: append field 30 { targetAppID = 2 } by hand.
    const base = VECTORS[2]![1];
    const router = Uint8Array.from([0xf2, 0x01, 0x06, 0x12, 0x04, ...Buffer.from("blue")]);
    const bytes = Uint8Array.from([...base, ...router]);
    expect(decodeLeanHistoryEvent(bytes).router).toEqual(decodeHistoryEvent(bytes).router);
    expect(decodeLeanHistoryEvent(bytes).router?.targetAppID).toBe("blue");
  });

  it("refuses a truncated message the way the full decoder does", () => {
    for (const [, bytes] of VECTORS) {
      const cut = bytes.subarray(0, bytes.length - 1);
      expect(() => decodeHistoryEvent(cut)).toThrow(/not a protobuf HistoryEvent/);
      expect(() => decodeLeanHistoryEvent(cut)).toThrow(/not a protobuf HistoryEvent/);
    }
  });

  it("skips a member it does not know (a newer Dapr's event type) like the full decoder", () => {
    const unknown = Uint8Array.from([0x08, 0x02, 0xca, 0x03, 0x02, 0x08, 0x01]); // eventId 2, field 57 { 1: 1 }
    expect(decodeLeanHistoryEvent(unknown)).toEqual({ eventId: 2 });
    expect(decodeHistoryEvent(unknown).eventType).toBeUndefined();
  });
});

/** What the stuck report's analysis decoding keeps of each member: all of it, or these fields (never inputs/results). */
const ANALYSED: Record<string, "all" | string[]> = {
  executionStarted: ["name", "parentInstance", "scheduledStartTimestamp"],
  executionCompleted: ["workflowStatus", "failureDetails"],
  childWorkflowInstanceCreated: ["instanceId", "name"],
  taskScheduled: ["name"],
  taskCompleted: ["taskScheduledId"],
  taskFailed: ["taskScheduledId"],
  timerCreated: "all",
  timerFired: "all",
  eventRaised: ["name"],
  executionSuspended: "all",
};

describe("analysis HistoryEvent decoding (the stuck report's scan)", () => {
  it.each(VECTORS)("keeps what the analysis reads of %s, as the full decoder reads it", (type, bytes) => {
    const full = decodeHistoryEvent(bytes);
    const lean = decodeAnalysisHistoryEvent(bytes);
    expect(lean.eventType).toBe(type);
    expect(lean.eventId).toBe(full.eventId);
    expect(lean.timestamp).toEqual(full.timestamp);
    const member = type as keyof typeof full;
    const kept = ANALYSED[type];
    const fullMember = full[member] as Record<string, unknown> | undefined;
    if (kept === undefined) expect(lean[member]).toBeUndefined();
    else if (kept === "all") expect(lean[member]).toEqual(fullMember);
    else {
      const picked = Object.fromEntries(Object.entries(fullMember ?? {}).filter(([k]) => kept.includes(k)));
      expect(lean[member]).toEqual(picked);
      expect(Object.keys(picked).length).toBeGreaterThan(0); // the vector sets what is kept
    }
  });

  it("refuses a truncated message, and a member whose kept field overruns it", () => {
    for (const [, bytes] of VECTORS) {
      expect(() => decodeAnalysisHistoryEvent(bytes.subarray(0, bytes.length - 1))).toThrow(
        /not a protobuf HistoryEvent/,
      );
    }
    // taskScheduled (field 6) of 3 bytes whose name (field 1) claims 9.
    const overrun = Uint8Array.from([0x32, 0x03, 0x0a, 0x09, 0x41]);
    expect(() => decodeHistoryEvent(overrun)).toThrow(/not a protobuf HistoryEvent/);
    expect(() => decodeAnalysisHistoryEvent(overrun)).toThrow(/not a protobuf HistoryEvent/);
  });
});
