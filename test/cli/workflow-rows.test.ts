import { describe, expect, it } from "vitest";
import {
  goStableSort,
  historyRows,
  historyShortCells,
  historyWideCells,
  sortHistory,
  trimPayload,
} from "../../cli/workflow/history-rows.ts";
import type { ListedInstance } from "../../cli/workflow/list-rows.ts";
import { ageCell, compareCodePoints, compareListed, wideRecord } from "../../cli/workflow/list-rows.ts";
import { buildInstance } from "../../shared/sample-data/instance-builder.ts";
import type { HistoryEvent } from "../../shared/workflow/history-event.ts";
import { dateToTimestamp, decodeHistoryEvent, encodeHistoryEvent } from "../../shared/workflow/history-event.ts";

const T0 = new Date("2024-05-01T10:00:00Z");
const context = { namespace: "default", appId: "orders", nowMs: T0.getTime() + 3 * 3_600_000 };

/** Events as the store returns them: encoded and decoded again. */
function stored(events: HistoryEvent[]): HistoryEvent[] {
  return events.map((e) => decodeHistoryEvent(encodeHistoryEvent(e)));
}

describe("history rows (Dapr's HistoryWide/HistoryShort)", () => {
  it("derives a completed instance's rows", () => {
    const built = buildInstance({ instanceId: "order-1", scenario: "completed", name: "OrderWorkflow", createdAt: T0 });
    const rows = historyRows(stored(built.history), context);
    expect(rows.map(historyShortCells)).toEqual([
      ["WorkflowStarted", "-", "-", "Age:3.0h", "RUNNING", "replay"],
      ["ExecutionStarted", "OrderWorkflow", "-", "1.0ms", "RUNNING", "workflowStart"],
      ["TaskScheduled", "ValidateOrder", "0", "1.0ms", "RUNNING", "-"],
      ["WorkflowCompleted", "-", "-", "1.0ms", "RUNNING", "-"],
      ["WorkflowStarted", "-", "-", "998.0ms", "RUNNING", "replay"],
      ["TaskCompleted", "-", "-", "1.0ms", "RUNNING", "eventId=0"],
      ["TaskScheduled", "ReserveInventory", "1", "1.0ms", "RUNNING", "-"],
      ["WorkflowCompleted", "-", "-", "1.0ms", "RUNNING", "-"],
      ["WorkflowStarted", "-", "-", "994.0ms", "RUNNING", "replay"],
      ["TaskCompleted", "-", "-", "1.0ms", "RUNNING", "eventId=1"],
      ["ExecutionCompleted", "-", "2", "1.0ms", "COMPLETED", "execDuration=2.00s"],
      ["WorkflowCompleted", "-", "-", "1.0ms", "RUNNING", "-"],
    ]);
    expect(rows.map((r) => r.play)).toEqual([1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]);
    expect(rows[1]).toEqual({
      namespace: "default",
      appID: "orders",
      play: 1,
      type: "ExecutionStarted",
      name: "OrderWorkflow",
      eventId: undefined,
      timestamp: "2024-05-01T10:00:00Z",
      elapsed: "1.0ms",
      status: "RUNNING",
      details: "workflowStart",
      router: undefined,
      executionId: expect.stringMatching(/-exec$/),
      attrs: 'input={"orderId":"order-1","amount":42}',
    });
    expect(historyWideCells(rows[2]!)).toEqual([
      "1",
      "TaskScheduled",
      "ValidateOrder",
      "0",
      "2024-05-01T10:00:00Z",
      "1.0ms",
      "RUNNING",
      "",
      "",
      "order-1-task-0",
      'input={"orderId":"order-1","amount":42}',
    ]);
    expect(rows[5]!.attrs).toBe('scheduledId=0;output={"ok":0}');
    expect(rows[10]!.attrs).toBe('output={"status":"shipped"}');
  });

  it("derives a failed instance's TaskFailed and ExecutionCompleted rows", () => {
    const built = buildInstance({ instanceId: "pay-1", scenario: "failed", createdAt: T0 });
    const rows = historyRows(stored(built.history), context);
    const failed = rows.find((r) => r.type === "TaskFailed")!;
    expect(failed).toMatchObject({ status: "FAILED", name: null, details: null });
    expect(failed.attrs).toBe("scheduledId=1;errorType=ActivityFailedError;errorMsg=card declined");
    const completed = rows.find((r) => r.type === "ExecutionCompleted")!;
    expect(completed).toMatchObject({ status: "FAILED", eventId: 2, details: "execDuration=2.00s" });
    expect(completed.attrs).toBe(
      "failureType=ActivityFailedError;failureMessage=activity 'ChargePayment' failed: card declined",
    );
  });

  it("shows timers, child workflows, events, suspension and stalls as Dapr does", () => {
    const ts = (ms: number) => dateToTimestamp(new Date(T0.getTime() + ms));
    const events: HistoryEvent[] = [
      { eventId: -1, timestamp: ts(0), workflowStarted: { version: { name: "v2", patches: ["p1", "p2"] } } },
      {
        eventId: -1,
        timestamp: ts(0),
        executionStarted: {
          name: "Parent",
          input: { value: '"plain string"' },
          parentInstance: { workflowInstance: { instanceId: "grand" } },
          tags: { b: "2", a: "1" },
        },
        router: { sourceAppID: "app-a" },
      },
      {
        eventId: 0,
        timestamp: ts(1),
        // The oneof member itself must be set for the origin to be encoded (`origin` alone is only protobufjs's view).
        timerCreated: { fireAt: ts(60_000), name: "wait", createTimer: {} } as HistoryEvent["timerCreated"],
      },
      {
        eventId: 1,
        timestamp: ts(2),
        timerCreated: { fireAt: ts(120_000), externalEvent: { name: "Approved" }, origin: "externalEvent" },
      },
      { eventId: 2, timestamp: ts(3), childWorkflowInstanceCreated: { instanceId: "child-1", name: "Child" } },
      { eventId: 3, timestamp: ts(4), eventSent: { instanceId: "other", name: "Ping", input: { value: "{}" } } },
      {
        eventId: -1,
        timestamp: ts(5),
        router: { sourceAppID: "app-a", targetAppID: "app-b" },
        childWorkflowInstanceCompleted: { taskScheduledId: 2, result: { value: '"ok"' } },
      },
      { eventId: -1, timestamp: ts(6), timerFired: { timerId: 0, fireAt: ts(60_000) } },
      { eventId: -1, timestamp: ts(7), eventRaised: { name: "Approved", input: { value: '{"by":"bob"}' } } },
      { eventId: -1, timestamp: ts(8), executionSuspended: {} },
      { eventId: -1, timestamp: ts(9), executionResumed: {} },
      { eventId: -1, timestamp: ts(10), executionStalled: { reason: 1, description: "no v3" } },
      { eventId: -1, timestamp: ts(11), executionTerminated: {} },
    ];
    const rows = historyRows(stored(events), context);
    const byType = (type: string) => rows.filter((r) => r.type === type);
    expect(rows[0]!.attrs).toBe("versionName=v2;versionPatches=p1,p2");
    expect(rows[1]).toMatchObject({
      details: "workflowStart,parent=grand",
      router: "app-a",
      attrs: "input=plain string;tags=a=1,b=2",
    });
    const [timer, eventTimer] = byType("TimerCreated");
    expect(timer).toMatchObject({
      name: "wait",
      eventId: 0,
      details: "fireAt=2024-05-01T10:01:00Z,origin=createTimer",
      attrs: "timerName=wait;fireAt=2024-05-01T10:01:00Z;origin=createTimer",
    });
    // An event ID of 0 is shown only for TaskScheduled and TimerCreated.
    expect(historyShortCells(timer!)[2]).toBe("0");
    expect(historyShortCells(rows[0]!)[2]).toBe("-");
    expect(eventTimer).toMatchObject({
      name: null,
      eventId: 1,
      details: "fireAt=2024-05-01T10:02:00Z,origin=externalEvent(Approved)",
      attrs: "fireAt=2024-05-01T10:02:00Z;origin=externalEvent;eventName=Approved",
    });
    expect(byType("ChildWorkflowCreated")[0]).toMatchObject({ name: "Child", eventId: 2, details: null });
    expect(byType("EventSent")[0]).toMatchObject({
      name: "Ping",
      details: "event=Ping->other",
      attrs: "eventName=Ping;payload={};targetInstance=other",
    });
    expect(byType("ChildWorkflowCompleted")[0]).toMatchObject({
      router: "app-a->app-b",
      details: "eventId=2",
      attrs: "output=ok",
    });
    expect(byType("TimerFired")[0]!.attrs).toBe("timerId=0;fireAt=2024-05-01T10:01:00Z");
    expect(byType("EventRaised")[0]).toMatchObject({
      name: "Approved",
      details: "event=Approved",
      attrs: 'eventName=Approved;payload={"by":"bob"}',
    });
    expect(rows.slice(-4).map((r) => r.status)).toEqual(["SUSPENDED", "RESUMED", "STALLED", "TERMINATED"]);
    expect(byType("ExecutionStalled")[0]!.attrs).toBe("reason=VERSION_NOT_AVAILABLE;description=no v3");
    expect(rows.map((r) => r.elapsed).slice(1, 4)).toEqual(["", "1.0ms", "1.0ms"]);
  });

  it("trims payloads to the rune limit with an ellipsis after JSON-unquoting", () => {
    expect(trimPayload({ value: '"abc"' }, 120)).toBe("abc");
    expect(trimPayload({ value: "x".repeat(130) }, 120)).toBe(`${"x".repeat(120)}\u2026`);
    expect(trimPayload({ value: "é".repeat(100) }, 120)).toBe("é".repeat(100));
    expect(trimPayload(undefined, 120)).toBe("");
  });

  it("sorts by eventId when both are > 0, else by timestamp then eventId (Go stable sort)", () => {
    const ts = (s: number) => ({ seconds: s, nanos: 0 });
    const events: HistoryEvent[] = [
      { eventId: 3, timestamp: ts(10), taskScheduled: { name: "c" } },
      { eventId: 1, timestamp: ts(20), taskScheduled: { name: "a" } },
      { eventId: -1, timestamp: ts(5), workflowStarted: {} },
      { eventId: 2, timestamp: ts(30), taskScheduled: { name: "b" } },
    ];
    expect(sortHistory(events).map((e) => e.taskScheduled?.name ?? "ws")).toEqual(["ws", "a", "b", "c"]);
    // Not a strict weak order: an event without ID moves by time past events that compare by ID.
    const late: HistoryEvent[] = [
      { eventId: -1, timestamp: ts(50), workflowStarted: {} },
      { eventId: 1, timestamp: ts(10), taskScheduled: { name: "a" } },
      { eventId: 2, timestamp: ts(20), taskScheduled: { name: "b" } },
    ];
    expect(sortHistory(late).map((e) => e.taskScheduled?.name ?? "ws")).toEqual(["a", "b", "ws"]);
  });

  it("goStableSort is a correct stable sort for total orders (checked against Array.prototype.sort)", () => {
    let x = 42;
    const random = () => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return x;
    };
    for (const n of [0, 1, 2, 19, 20, 21, 40, 41, 97, 300]) {
      const data = Array.from({ length: n }, (_, i) => ({ key: random() % 7, i }));
      const expected = [...data].sort((a, b) => a.key - b.key);
      goStableSort(
        n,
        (i, j) => data[i]!.key < data[j]!.key,
        (i, j) => {
          [data[i], data[j]] = [data[j]!, data[i]!];
        },
      );
      expect(data).toEqual(expected);
    }
  });
});

describe("list rows", () => {
  const rec = (id: string, created: number | null): ListedInstance => ({
    id,
    name: "W",
    status: "RUNNING",
    created,
    lastUpdate: created,
    customStatus: "",
    failureMessage: "",
  });

  it("sorts by created (whole seconds), unknown last, ties by instance ID", () => {
    const records = [rec("d", null), rec("b", 1_999), rec("c", 1_000), rec("a", 5_000), rec("a0", null)];
    expect(records.sort(compareListed).map((r) => r.id)).toEqual(["b", "c", "a", "a0", "d"]);
  });

  it("compares IDs in code point order like Go", () => {
    expect(compareCodePoints("\uff5e", "\u{1f600}")).toBeLessThan(0); // "<" on UTF-16 would say the opposite
    expect(compareCodePoints("a", "ab")).toBeLessThan(0);
    expect(compareCodePoints("b", "a")).toBeGreaterThan(0);
  });

  it("AGE uses the created time truncated to seconds; <scheduled> when unknown", () => {
    expect(ageCell(rec("a", 10_900), 10_000 + 125_000)).toBe("2m5s");
    expect(ageCell(rec("a", null), 0)).toBe("<scheduled>");
  });

  it("the JSON record has Dapr's keys and the Go zero time for unknown times", () => {
    const record = wideRecord(rec("p", null), { namespace: "ns", appId: "app" });
    expect(Object.keys(record)).toEqual([
      "namespace",
      "appID",
      "name",
      "instanceID",
      "created",
      "lastUpdate",
      "runtimeStatus",
      "customStatus",
      "failureMessage",
    ]);
    expect(record.created).toBe("0001-01-01T00:00:00Z");
  });
});
