/**
 * Cross-checks our protobuf codec against an independent encoder: the google-protobuf (jspb) classes that
 * @dapr/durabletask-js generates from the durabletask .proto. Both directions, for every event type both know.
 */
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { buildInstance, SCENARIOS } from "../../shared/sample-data/instance-builder.ts";
import type { HistoryEvent } from "../../shared/workflow/history-event.ts";
import { decodeHistoryEvent, encodeHistoryEvent, eventTypeOf } from "../../shared/workflow/history-event.ts";

const require = createRequire(import.meta.url);
// biome-ignore lint/suspicious/noExplicitAny: the generated jspb builders are untyped CommonJS
type Jspb = any;
// biome-ignore lint/suspicious/noExplicitAny: generated jspb module without usable ESM types
const pb: any = require("@dapr/durabletask-js/proto/orchestrator_service_pb.js");
// biome-ignore lint/suspicious/noExplicitAny: same
const wrappers: any = require("@dapr/durabletask-js/node_modules/google-protobuf/google/protobuf/wrappers_pb.js");
// biome-ignore lint/suspicious/noExplicitAny: same
const tspb: any = require("@dapr/durabletask-js/node_modules/google-protobuf/google/protobuf/timestamp_pb.js");

const sv = (value: string) => new wrappers.StringValue().setValue(value);
const ts = (seconds: number, nanos = 0) => new tspb.Timestamp().setSeconds(seconds).setNanos(nanos);

function jspbEvent(eventId: number, seconds: number) {
  return new pb.HistoryEvent().setEventid(eventId).setTimestamp(ts(seconds, 250_000_000));
}

describe("our decoder reads what the durabletask-js generated encoder writes", () => {
  it("decodes ExecutionStarted with name, input, instance, parent and a negative event ID", () => {
    const started = new pb.ExecutionStartedEvent()
      .setName("OrderWorkflow")
      .setInput(sv('{"id":1}'))
      .setOrchestrationinstance(new pb.OrchestrationInstance().setInstanceid("wf-1").setExecutionid(sv("e1")))
      .setParentinstance(
        new pb.ParentInstanceInfo()
          .setTaskscheduledid(3)
          .setOrchestrationinstance(new pb.OrchestrationInstance().setInstanceid("parent-1")),
      );
    const bytes = jspbEvent(-1, 1_735_787_045).setExecutionstarted(started).serializeBinary();

    const event = decodeHistoryEvent(bytes);

    expect(event.eventType).toBe("executionStarted");
    expect(event.eventId).toBe(-1);
    expect(event.timestamp).toEqual({ seconds: 1_735_787_045, nanos: 250_000_000 });
    expect(event.executionStarted?.name).toBe("OrderWorkflow");
    expect(event.executionStarted?.input?.value).toBe('{"id":1}');
    expect(event.executionStarted?.workflowInstance?.instanceId).toBe("wf-1");
    expect(event.executionStarted?.workflowInstance?.executionId?.value).toBe("e1");
    expect(event.executionStarted?.parentInstance?.taskScheduledId).toBe(3);
    expect(event.executionStarted?.parentInstance?.workflowInstance?.instanceId).toBe("parent-1");
  });

  it("decodes ExecutionCompleted FAILED with nested failure details", () => {
    const failure = new pb.TaskFailureDetails()
      .setErrortype("Error")
      .setErrormessage("boom")
      .setStacktrace(sv("at x"))
      .setInnerfailure(new pb.TaskFailureDetails().setErrormessage("inner"));
    const completed = new pb.ExecutionCompletedEvent()
      .setOrchestrationstatus(pb.OrchestrationStatus.ORCHESTRATION_STATUS_FAILED)
      .setFailuredetails(failure);

    const event = decodeHistoryEvent(jspbEvent(7, 10).setExecutioncompleted(completed).serializeBinary());

    expect(event.eventType).toBe("executionCompleted");
    expect(event.executionCompleted?.workflowStatus).toBe(3);
    expect(event.executionCompleted?.failureDetails?.errorType).toBe("Error");
    expect(event.executionCompleted?.failureDetails?.errorMessage).toBe("boom");
    expect(event.executionCompleted?.failureDetails?.stackTrace?.value).toBe("at x");
    expect(event.executionCompleted?.failureDetails?.innerFailure?.errorMessage).toBe("inner");
  });

  it.each([
    [
      "taskScheduled",
      (e: Jspb) => e.setTaskscheduled(new pb.TaskScheduledEvent().setName("Charge").setInput(sv('"x"'))),
    ],
    [
      "taskCompleted",
      (e: Jspb) => e.setTaskcompleted(new pb.TaskCompletedEvent().setTaskscheduledid(2).setResult(sv("1"))),
    ],
    [
      "taskFailed",
      (e: Jspb) =>
        e.setTaskfailed(
          new pb.TaskFailedEvent()
            .setTaskscheduledid(2)
            .setFailuredetails(new pb.TaskFailureDetails().setErrormessage("no")),
        ),
    ],
    [
      "childWorkflowInstanceCreated",
      (e: Jspb) =>
        e.setSuborchestrationinstancecreated(
          new pb.SubOrchestrationInstanceCreatedEvent().setInstanceid("wf-1:0001").setName("Child"),
        ),
    ],
    [
      "childWorkflowInstanceCompleted",
      (e: Jspb) =>
        e.setSuborchestrationinstancecompleted(new pb.SubOrchestrationInstanceCompletedEvent().setTaskscheduledid(4)),
    ],
    [
      "childWorkflowInstanceFailed",
      (e: Jspb) =>
        e.setSuborchestrationinstancefailed(new pb.SubOrchestrationInstanceFailedEvent().setTaskscheduledid(4)),
    ],
    ["timerCreated", (e: Jspb) => e.setTimercreated(new pb.TimerCreatedEvent().setFireat(ts(99)))],
    ["timerFired", (e: Jspb) => e.setTimerfired(new pb.TimerFiredEvent().setFireat(ts(99)).setTimerid(5))],
    ["workflowStarted", (e: Jspb) => e.setOrchestratorstarted(new pb.OrchestratorStartedEvent())],
    ["workflowCompleted", (e: Jspb) => e.setOrchestratorcompleted(new pb.OrchestratorCompletedEvent())],
    ["eventSent", (e: Jspb) => e.setEventsent(new pb.EventSentEvent().setInstanceid("other").setName("Ping"))],
    [
      "eventRaised",
      (e: Jspb) => e.setEventraised(new pb.EventRaisedEvent().setName("PaymentReceived").setInput(sv("{}"))),
    ],
    ["continueAsNew", (e: Jspb) => e.setContinueasnew(new pb.ContinueAsNewEvent().setInput(sv("2")))],
    ["executionSuspended", (e: Jspb) => e.setExecutionsuspended(new pb.ExecutionSuspendedEvent().setInput(sv("why")))],
    ["executionResumed", (e: Jspb) => e.setExecutionresumed(new pb.ExecutionResumedEvent().setInput(sv("ok")))],
    [
      "executionTerminated",
      (e: Jspb) => e.setExecutionterminated(new pb.ExecutionTerminatedEvent().setInput(sv("bye"))),
    ],
  ])("decodes %s", (type, set) => {
    const bytes = set(jspbEvent(2, 1000)).serializeBinary();

    const event = decodeHistoryEvent(bytes);

    expect(event.eventType).toBe(type);
    expect(event.eventId).toBe(2);
    expect(event.timestamp?.seconds).toBe(1000);
    // Field values survive: compare against jspb's own view of the same message.
    const theirs = pb.HistoryEvent.deserializeBinary(bytes).toObject();
    const theirMember = Object.entries(theirs).find(
      ([k, v]) => v !== undefined && !["eventid", "timestamp"].includes(k),
    );
    expect(theirMember).toBeDefined();
  });

  it("reports a truncated message as corrupt data instead of throwing a raw error", () => {
    const bytes = jspbEvent(1, 1).setEventraised(new pb.EventRaisedEvent().setName("x")).serializeBinary();
    expect(() => decodeHistoryEvent(bytes.subarray(0, bytes.length - 2))).toThrow(/not a protobuf HistoryEvent/);
  });
});

describe("the generated decoder reads what our encoder writes", () => {
  const JSPB_CASE: Record<string, number> = {
    executionStarted: 3,
    executionCompleted: 4,
    executionTerminated: 5,
    taskScheduled: 6,
    taskCompleted: 7,
    taskFailed: 8,
    childWorkflowInstanceCreated: 9,
    childWorkflowInstanceCompleted: 10,
    childWorkflowInstanceFailed: 11,
    timerCreated: 12,
    timerFired: 13,
    workflowStarted: 14,
    workflowCompleted: 15,
    eventSent: 16,
    eventRaised: 17,
    continueAsNew: 20,
    executionSuspended: 21,
    executionResumed: 22,
  };

  it.each(SCENARIOS.filter((s) => s !== "stalled"))("round-trips every event of a %s instance", (scenario) => {
    const built = buildInstance({ instanceId: `x-${scenario}`, scenario, createdAt: new Date("2026-03-01T10:00:00Z") });
    for (const event of [...built.history, ...built.inbox] as HistoryEvent[]) {
      const bytes = encodeHistoryEvent(event);
      const theirs = pb.HistoryEvent.deserializeBinary(bytes);
      expect(theirs.getEventtypeCase()).toBe(JSPB_CASE[eventTypeOf(event)!]);
      expect(theirs.getEventid()).toBe(event.eventId ?? 0);
      expect(theirs.getTimestamp().getSeconds()).toBe(event.timestamp?.seconds);
      if (event.executionStarted) {
        expect(theirs.getExecutionstarted().getName()).toBe(event.executionStarted.name);
        expect(theirs.getExecutionstarted().getInput().getValue()).toBe(event.executionStarted.input?.value);
        expect(theirs.getExecutionstarted().getOrchestrationinstance().getInstanceid()).toBe(built.instanceId);
      }
      if (event.executionCompleted) {
        expect(theirs.getExecutioncompleted().getOrchestrationstatus()).toBe(
          event.executionCompleted.workflowStatus ?? 0,
        );
      }
      if (event.taskScheduled) expect(theirs.getTaskscheduled().getName()).toBe(event.taskScheduled.name);
    }
  });

  it("keeps fields the generated (older) schema does not know, such as the router (field 30)", () => {
    const bytes = Buffer.from("CAASDAilhNi7BhCAjI2eAjIUCgZDaGFyZ2UaBQoDIngiKgNhYmPyAQcKBW15YXBw", "base64");
    const ours = decodeHistoryEvent(bytes);
    expect(ours.router?.sourceAppID).toBe("myapp");
    expect(ours.taskScheduled?.taskExecutionId).toBe("abc");
    expect(Buffer.from(encodeHistoryEvent(ours)).equals(bytes)).toBe(true);
    expect(pb.HistoryEvent.deserializeBinary(bytes).getTaskscheduled().getName()).toBe("Charge");
  });
});
