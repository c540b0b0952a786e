/**
 * Builds workflow instances the way the Dapr runtime persists them (one HistoryEvent per `history-NNNNNN` key, turns
 * framed by WorkflowStarted/WorkflowCompleted, action events numbered by the orchestrator's sequence, pending work in
 * the inbox, metadata counting both). Used by the tests, the benchmarks and the embedded store's sample data, so
 * that everything reads the same bytes a real sidecar leaves behind.
 */
import type { AppRef } from "../state-store/keys.ts";
import { CUSTOM_STATUS_KEY, instanceKeyPrefix, METADATA_KEY, multiEntryKey } from "../state-store/keys.ts";
import type { FailureDetails, HistoryEvent } from "../workflow/history-event.ts";
import { dateToTimestamp, encodeCustomStatus, encodeHistoryEvent, encodeMetadata } from "../workflow/history-event.ts";
import { statusToNumber } from "../workflow/runtime-status.ts";

export const SCENARIOS = [
  "completed",
  "failed",
  "terminated",
  "canceled",
  "continued-as-new",
  "suspended",
  "running-timer",
  "running-activity",
  "waiting-event",
  "terminate-requested",
  "pending",
  "stalled",
  "completed-with-children",
] as const;
export type Scenario = (typeof SCENARIOS)[number];

export interface InstanceSpec {
  instanceId: string;
  scenario: Scenario;
  /** Workflow name; defaults to a name per scenario. */
  name?: string;
  /** When the instance started (ExecutionStarted timestamp). */
  createdAt: Date;
  /** Time from start to the last history event. Default 2 seconds. */
  durationMs?: number;
  customStatus?: string;
  input?: unknown;
  output?: unknown;
  parentInstanceId?: string;
  /** Number of activities the workflow ran before its final state (default 2). */
  activities?: number;
  /** Timer fire time for `running-timer`; default one hour after the last event. */
  timerFireAt?: Date;
  /** Event name for `waiting-event` (default `PaymentReceived`). */
  eventName?: string;
  /** Dapr 1.10–1.14 wrote metadata and customStatus as JSON; set to write that legacy form. */
  legacyJson?: boolean;
}

export interface BuiltInstance {
  instanceId: string;
  history: HistoryEvent[];
  inbox: HistoryEvent[];
  customStatus: string | undefined;
  generation: number;
  /** Child instances a `completed-with-children` parent created; write them too. */
  children: InstanceSpec[];
}

/** The status the runtime derives for each scenario: the assertion tests compare against. */
export const EXPECTED_STATUS: Record<Scenario, string> = {
  completed: "COMPLETED",
  failed: "FAILED",
  terminated: "TERMINATED",
  canceled: "CANCELED",
  "continued-as-new": "CONTINUED_AS_NEW",
  suspended: "SUSPENDED",
  "running-timer": "RUNNING",
  "running-activity": "RUNNING",
  "waiting-event": "RUNNING",
  "terminate-requested": "RUNNING",
  pending: "PENDING",
  stalled: "STALLED",
  "completed-with-children": "COMPLETED",
};

const DEFAULT_NAMES: Record<Scenario, string> = {
  completed: "OrderProcessingWorkflow",
  failed: "PaymentWorkflow",
  terminated: "OrderProcessingWorkflow",
  canceled: "InventoryWorkflow",
  "continued-as-new": "MonitorWorkflow",
  suspended: "ApprovalWorkflow",
  "running-timer": "ReminderWorkflow",
  "running-activity": "ShippingWorkflow",
  "waiting-event": "PaymentWorkflow",
  "terminate-requested": "OrderProcessingWorkflow",
  pending: "ScheduledReportWorkflow",
  stalled: "OrderProcessingWorkflow",
  "completed-with-children": "FanOutWorkflow",
};

const ACTIVITY_NAMES = ["ValidateOrder", "ReserveInventory", "ChargePayment", "ShipOrder", "NotifyCustomer"];

export function buildInstance(spec: InstanceSpec): BuiltInstance {
  const b = new HistoryBuilder(spec);
  return b.build();
}

class HistoryBuilder {
  private readonly history: HistoryEvent[] = [];
  private readonly inbox: HistoryEvent[] = [];
  private readonly children: InstanceSpec[] = [];
  private sequence = 0;
  private readonly start: number;
  private readonly end: number;

  constructor(private readonly spec: InstanceSpec) {
    this.start = spec.createdAt.getTime();
    this.end = this.start + (spec.durationMs ?? 2000);
  }

  build(): BuiltInstance {
    const { spec } = this;
    const name = spec.name ?? DEFAULT_NAMES[spec.scenario];
    const input = JSON.stringify(spec.input ?? { orderId: spec.instanceId, amount: 42 });
    const startEvent: HistoryEvent = {
      eventId: -1,
      timestamp: dateToTimestamp(new Date(this.start)),
      executionStarted: {
        name,
        input: { value: input },
        workflowInstance: { instanceId: spec.instanceId, executionId: { value: executionId(spec.instanceId) } },
        ...(spec.parentInstanceId
          ? { parentInstance: { taskScheduledId: 0, workflowInstance: { instanceId: spec.parentInstanceId } } }
          : {}),
      },
    };
    if (spec.scenario === "pending") {
      // Scheduled or not yet started: only the ExecutionStarted waits in the inbox; history is empty.
      this.inbox.push(startEvent);
      return this.result();
    }

    const activities = spec.activities ?? 2;
    const children = spec.scenario === "completed-with-children" ? 2 : 0;

    this.turnStart();
    this.history.push(startEvent);
    let pendingActivity: number | undefined;
    for (let i = 0; i < activities; i++) {
      const id = this.action({
        taskScheduled: {
          name: ACTIVITY_NAMES[i % ACTIVITY_NAMES.length]!,
          input: { value: input },
          taskExecutionId: `${spec.instanceId}-task-${i}`,
        },
      });
      this.turnEnd();
      if (spec.scenario === "running-activity" && i === activities - 1) {
        pendingActivity = id;
        break;
      }
      this.turnStart();
      if (spec.scenario === "failed" && i === activities - 1) {
        this.push({ eventId: -1, taskFailed: { taskScheduledId: id, failureDetails: failure("card declined") } });
      } else {
        this.push({
          eventId: -1,
          taskCompleted: { taskScheduledId: id, result: { value: JSON.stringify({ ok: i }) } },
        });
      }
    }
    if (pendingActivity !== undefined) return this.result();

    for (let c = 0; c < children; c++) {
      const childId = `${spec.instanceId}:${c.toString(16).padStart(4, "0")}`;
      const id = this.action({
        childWorkflowInstanceCreated: { instanceId: childId, name: "ChildWorkflow", input: { value: input } },
      });
      this.children.push({
        instanceId: childId,
        scenario: "completed",
        name: "ChildWorkflow",
        createdAt: new Date(this.start + (this.end - this.start) / 2),
        durationMs: 500,
        parentInstanceId: spec.instanceId,
        activities: 1,
      });
      this.turnEnd();
      this.turnStart();
      this.push({
        eventId: -1,
        childWorkflowInstanceCompleted: { taskScheduledId: id, result: { value: '"child done"' } },
      });
    }

    switch (spec.scenario) {
      case "completed":
      case "completed-with-children":
        this.complete("COMPLETED", { result: { value: JSON.stringify(spec.output ?? { status: "shipped" }) } });
        break;
      case "failed":
        this.complete("FAILED", { failureDetails: failure("activity 'ChargePayment' failed: card declined") });
        break;
      case "canceled":
        this.complete("CANCELED", {});
        break;
      case "continued-as-new":
        this.push({ eventId: -1, continueAsNew: { input: { value: input } } });
        this.complete("CONTINUED_AS_NEW", { result: { value: input } });
        break;
      case "terminated":
        this.push({ eventId: -1, executionTerminated: { input: { value: '"terminated by operator"' } } });
        this.complete("TERMINATED", { result: { value: '"terminated by operator"' } });
        break;
      case "suspended":
        this.push({ eventId: -1, executionSuspended: { input: { value: "waiting for manual approval" } } });
        this.turnEnd();
        break;
      case "running-timer": {
        const fireAt = spec.timerFireAt ?? new Date(this.end + 3_600_000);
        this.action({ timerCreated: { fireAt: dateToTimestamp(fireAt), name: "retry-delay", createTimer: {} } });
        this.turnEnd();
        break;
      }
      case "waiting-event": {
        const eventName = spec.eventName ?? "PaymentReceived";
        const fireAt = new Date(this.end + 24 * 3_600_000);
        this.action({ timerCreated: { fireAt: dateToTimestamp(fireAt), externalEvent: { name: eventName } } });
        this.turnEnd();
        break;
      }
      case "terminate-requested":
        // Terminate was requested but the actor has not run yet: the ExecutionTerminated waits in the inbox.
        this.turnEnd();
        this.inbox.push({ eventId: -1, executionTerminated: { input: { value: '"stop"' } } });
        break;
      case "stalled":
        this.push({ eventId: -1, executionStalled: { reason: 0, description: "patch mismatch: v2 not registered" } });
        break;
      default:
        break;
    }
    return this.result();
  }

  /**
   * Stamps times as the runtime does, one time per turn (WorkflowStarted … WorkflowCompleted): the first turn (with
   * the ExecutionStarted) at `createdAt`, the last turn (with the ExecutionCompleted, if any) at
   * `createdAt + durationMs`, the turns between evenly spread; inbox events at the end.
   */
  private result(): BuiltInstance {
    const turnSizes: number[] = [];
    for (const event of this.history) {
      if (event.workflowStarted || turnSizes.length === 0) turnSizes.push(0);
      turnSizes[turnSizes.length - 1]!++;
    }
    const turns = turnSizes.length;
    let turn = -1;
    let inTurn = 0;
    for (const event of this.history) {
      if (event.workflowStarted || turn < 0) {
        turn++;
        inTurn = 0;
      }
      // Events of one turn are a millisecond apart; the ExecutionStarted (second event of the first turn) lands on
      // createdAt exactly and the last event on createdAt + durationMs exactly.
      let base: number;
      if (turn === 0) base = this.start - 1;
      else if (turn === turns - 1) base = this.end - (turnSizes[turn]! - 1);
      else base = this.start + ((this.end - this.start) * turn) / (turns - 1);
      event.timestamp = dateToTimestamp(new Date(Math.round(base) + inTurn));
      inTurn++;
    }
    for (const event of this.inbox) event.timestamp ??= dateToTimestamp(new Date(this.end));
    return {
      instanceId: this.spec.instanceId,
      history: this.history,
      inbox: this.inbox,
      customStatus: this.spec.customStatus,
      generation: 1,
      children: this.children,
    };
  }

  private complete(status: Parameters<typeof statusToNumber>[0], fields: Record<string, unknown>): void {
    this.history.push({
      eventId: this.sequence++,
      executionCompleted: { workflowStatus: statusToNumber(status), ...fields },
    });
    this.turnEnd();
  }

  private push(event: HistoryEvent): void {
    this.history.push(event);
  }

  private action(event: Omit<HistoryEvent, "eventId">): number {
    const id = this.sequence++;
    this.history.push({ ...event, eventId: id });
    return id;
  }

  private turnStart(): void {
    this.history.push({ eventId: -1, workflowStarted: {} });
  }

  private turnEnd(): void {
    this.history.push({ eventId: -1, workflowCompleted: {} });
  }
}

function failure(message: string): FailureDetails {
  return {
    errorType: "ActivityFailedError",
    errorMessage: message,
    stackTrace: { value: "at ChargePayment (payment.ts:42)" },
  };
}

function executionId(instanceId: string): string {
  let h = 0;
  for (const c of instanceId) h = (Math.imul(h, 31) + c.charCodeAt(0)) >>> 0;
  return `${h.toString(16).padStart(8, "0")}-exec`;
}

/** The key/value pairs Dapr would have saved for this instance, values in protobuf (or legacy JSON) encoding. */
export function instanceEntries(app: AppRef, built: BuiltInstance, legacyJson = false): Array<[string, Uint8Array]> {
  const prefix = instanceKeyPrefix(app, built.instanceId);
  const entries: Array<[string, Uint8Array]> = [];
  built.history.forEach((e, i) => {
    entries.push([prefix + multiEntryKey("history", i), encodeHistoryEvent(e)]);
  });
  built.inbox.forEach((e, i) => {
    entries.push([prefix + multiEntryKey("inbox", i), encodeHistoryEvent(e)]);
  });
  if (built.customStatus !== undefined) {
    const value = legacyJson
      ? Buffer.from(JSON.stringify(built.customStatus), "utf8")
      : encodeCustomStatus(built.customStatus);
    entries.push([prefix + CUSTOM_STATUS_KEY, value]);
  }
  const counts = { inboxLength: built.inbox.length, historyLength: built.history.length, generation: built.generation };
  const metadata = legacyJson
    ? Buffer.from(
        JSON.stringify({
          InboxLength: counts.inboxLength,
          HistoryLength: counts.historyLength,
          Generation: counts.generation,
        }),
        "utf8",
      )
    : encodeMetadata(counts);
  entries.push([prefix + METADATA_KEY, metadata]);
  return entries;
}
