/**
 * One app's instances in every stuck situation, with healthy twins beside them, and the Scheduler reminders a live
 * Dapr would hold for them (Dapr's key layout, values from the scheduler module's encoders). Shared by the job,
 * function and CLI tests. Times are relative to `now` (whole seconds), so the expected records are exact.
 *
 * Healthy (never reported):
 *   h-timer-future        RUNNING 3d, a timer due in 2h with its `timer-2-…` reminder (1.15–1.18 name)
 *   h-activity-recent     RUNNING 2h on an activity with its run-activity reminder
 *   h-running-new         RUNNING 20m on an activity with its reminder (too young to need a full read)
 *   h-event-recent        waiting 2h for event ManagerApproval (timeout in 22h), `timer-2` reminder (master name)
 *   h-completed           COMPLETED 5d ago (retention 30d)
 *   h-failed              FAILED 40d ago (retention 90d)
 *   h-suspended           SUSPENDED 2h
 *   h-pending             PENDING 10m with its start reminder
 *   h-pending-scheduled   PENDING for 3d but scheduled to start tomorrow, with its start reminder
 *   h-inbox               RUNNING 1h, its activity's result waits in the inbox, with a new-event reminder
 *   h-cancelled-timer     its event timer (due 4h ago, reminder deleted) was settled by the event; activity pending
 *   h-indefinite-recent   waiting 2h for event Approve without timeout (sentinel timer, no reminder needed)
 *   h-child               RUNNING 2h waiting for a child workflow (no reminder needed)
 *   h-activity-result     two activities: one's result in an `activity-result-…` reminder (1.18), one running
 * Stuck:
 *   s-idle-activity       RUNNING 3d on an activity (reminder present)                 idle-too-long
 *   s-idle-suspended      SUSPENDED 3d                                                  idle-too-long
 *   s-idle-stalled        STALLED 3d                                                    idle-too-long
 *   s-idle-pending        PENDING 3d with its start reminder                            idle-too-long
 *   s-no-reminder-timer   h-timer-future without its reminder                           no-reminder
 *   s-no-reminder-activity RUNNING 3h, no run-activity (decoys: other app, look-alike actors)  no-reminder
 *   s-no-reminder-inbox   terminate requested 3h ago, no new-event reminder             no-reminder
 *   s-no-reminder-pending PENDING 3h, no start reminder                                 no-reminder
 *   s-activity-result-other result reminder for task 0 only; task 1 has nothing        no-reminder
 *   s-overdue-with-reminder timer due 3h ago, reminder present                          timer-overdue
 *   s-overdue-no-reminder timer due 3h ago, no reminder                                 no-reminder, timer-overdue
 *   s-event-timeout       waiting 3d for ManagerApproval (timeout in 4d)                waiting-for-event
 *   s-event-forever-sentinel waiting 3d for PaymentReceived, no timeout (sentinel)      waiting-for-event
 *   s-event-forever-old-sdk RUNNING 3d with nothing pending (wait without timeout, unnamed)  waiting-for-event
 *   s-past-retention      COMPLETED 40d ago (retention 30d)                             past-retention
 */
import type { StuckReason } from "../../shared/jobs/stuck-report/model.ts";
import type { BuiltInstance, InstanceSpec } from "../../shared/sample-data/instance-builder.ts";
import { buildInstance, instanceEntries } from "../../shared/sample-data/instance-builder.ts";
import type { SeedJob } from "../../shared/sample-data/scheduler-jobs.ts";
import type { StateBackend } from "../../shared/state-store/backend.ts";
import type { AppRef } from "../../shared/state-store/keys.ts";
import type { HistoryEvent } from "../../shared/workflow/history-event.ts";
import { dateToTimestamp, encodeHistoryEvent } from "../../shared/workflow/history-event.ts";

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
const SENTINEL = new Date("9999-12-31T23:59:59.999Z");

export const RETENTION = { COMPLETED: 30 * DAY, FAILED: 90 * DAY };

export const EXPECTED: Record<string, StuckReason[]> = {
  "s-idle-activity": ["idle-too-long"],
  "s-idle-suspended": ["idle-too-long"],
  "s-idle-stalled": ["idle-too-long"],
  "s-idle-pending": ["idle-too-long"],
  "s-no-reminder-timer": ["no-reminder"],
  "s-no-reminder-activity": ["no-reminder"],
  "s-no-reminder-inbox": ["no-reminder"],
  "s-no-reminder-pending": ["no-reminder"],
  "s-activity-result-other": ["no-reminder"],
  "s-overdue-with-reminder": ["timer-overdue"],
  "s-overdue-no-reminder": ["no-reminder", "timer-overdue"],
  "s-event-timeout": ["waiting-for-event"],
  "s-event-forever-sentinel": ["waiting-for-event"],
  "s-event-forever-old-sdk": ["waiting-for-event"],
  "s-past-retention": ["past-retention"],
};

export const HEALTHY = [
  "h-timer-future",
  "h-activity-recent",
  "h-running-new",
  "h-event-recent",
  "h-completed",
  "h-failed",
  "h-suspended",
  "h-pending",
  "h-pending-scheduled",
  "h-inbox",
  "h-cancelled-timer",
  "h-indefinite-recent",
  "h-child",
  "h-activity-result",
];

/** What is expected without a Scheduler: no no-reminder, and instances stuck only for that are healthy. */
export function expectedWithoutScheduler(): Record<string, StuckReason[]> {
  const out: Record<string, StuckReason[]> = {};
  for (const [id, reasons] of Object.entries(EXPECTED)) {
    const rest = reasons.filter((r) => r !== "no-reminder");
    if (rest.length > 0) out[id] = rest;
  }
  return out;
}

/** `now` rounded down to a whole second (expected RFC 3339 strings are then exact). */
export function wholeSecond(date = new Date()): Date {
  return new Date(Math.floor(date.getTime() / 1000) * 1000);
}

export interface StuckFixture {
  now: Date;
  app: AppRef;
  instances: BuiltInstance[];
  reminders: SeedJob[];
}

function turn(at: Date, events: HistoryEvent[]): HistoryEvent[] {
  const all: HistoryEvent[] = [{ eventId: -1, workflowStarted: {} }, ...events, { eventId: -1, workflowCompleted: {} }];
  return all.map((e, i) => ({ ...e, timestamp: dateToTimestamp(new Date(at.getTime() + i)) }));
}

function started(instanceId: string, name: string, extra: Partial<NonNullable<HistoryEvent["executionStarted"]>> = {}) {
  return {
    eventId: -1,
    executionStarted: {
      name,
      input: { value: "{}" },
      workflowInstance: { instanceId, executionId: { value: `${instanceId}-exec` } },
      ...extra,
    },
  } satisfies HistoryEvent;
}

function custom(instanceId: string, history: HistoryEvent[], inbox: HistoryEvent[] = []): BuiltInstance {
  return { instanceId, history, inbox, customStatus: undefined, generation: 1, children: [] };
}

function at(event: HistoryEvent, date: Date): HistoryEvent {
  return { ...event, timestamp: dateToTimestamp(date) };
}

export function stuckFixture(now: Date, app: AppRef): StuckFixture {
  const ago = (ms: number) => new Date(now.getTime() - ms);
  const ahead = (ms: number) => new Date(now.getTime() + ms);
  const spec = (
    instanceId: string,
    scenario: InstanceSpec["scenario"],
    createdAt: Date,
    extra: Partial<InstanceSpec> = {},
  ) => buildInstance({ instanceId, scenario, createdAt, durationMs: 60_000, ...extra });

  const instances: BuiltInstance[] = [
    spec("h-timer-future", "running-timer", ago(3 * DAY), { timerFireAt: ahead(2 * HOUR) }),
    spec("s-no-reminder-timer", "running-timer", ago(3 * DAY), { timerFireAt: ahead(2 * HOUR) }),
    spec("h-activity-recent", "running-activity", ago(2 * HOUR)),
    spec("h-running-new", "running-activity", ago(20 * MINUTE)),
    spec("h-event-recent", "waiting-event", ago(2 * HOUR), { eventName: "ManagerApproval" }),
    spec("h-completed", "completed", ago(5 * DAY)),
    spec("h-failed", "failed", ago(40 * DAY)),
    spec("h-suspended", "suspended", ago(2 * HOUR)),
    spec("h-pending", "pending", ago(10 * MINUTE)),
    spec("s-idle-activity", "running-activity", ago(3 * DAY)),
    spec("s-idle-suspended", "suspended", ago(3 * DAY)),
    spec("s-idle-stalled", "stalled", ago(3 * DAY)),
    spec("s-idle-pending", "pending", ago(3 * DAY)),
    spec("s-no-reminder-activity", "running-activity", ago(3 * HOUR)),
    spec("s-no-reminder-inbox", "terminate-requested", ago(3 * HOUR)),
    spec("s-no-reminder-pending", "pending", ago(3 * HOUR)),
    spec("s-overdue-with-reminder", "running-timer", ago(4 * HOUR), { timerFireAt: ago(3 * HOUR) }),
    spec("s-overdue-no-reminder", "running-timer", ago(4 * HOUR), { timerFireAt: ago(3 * HOUR) }),
    spec("s-past-retention", "completed", ago(40 * DAY)),
  ];

  // PENDING since 3 days, but asked to start tomorrow.
  const scheduled = spec("h-pending-scheduled", "pending", ago(3 * DAY));
  scheduled.inbox[0]!.executionStarted!.scheduledStartTimestamp = dateToTimestamp(ahead(DAY));
  instances.push(scheduled);

  // Waiting 3 days for an event with a 7-day timeout.
  const timeout = spec("s-event-timeout", "waiting-event", ago(3 * DAY), { eventName: "ManagerApproval" });
  timeout.history.find((e) => e.timerCreated)!.timerCreated!.fireAt = dateToTimestamp(ahead(4 * DAY));
  instances.push(timeout);

  // Waiting 3 days for an event without timeout (durabletask-go's sentinel fire time).
  const sentinel = spec("s-event-forever-sentinel", "waiting-event", ago(3 * DAY), { eventName: "PaymentReceived" });
  sentinel.history.find((e) => e.timerCreated)!.timerCreated!.fireAt = dateToTimestamp(SENTINEL);
  instances.push(sentinel);

  {
    const id = "h-inbox";
    const t0 = ago(HOUR);
    instances.push(
      custom(id, turn(t0, [started(id, "ShippingWorkflow"), { eventId: 0, taskScheduled: { name: "ShipOrder" } }]), [
        at({ eventId: -1, taskCompleted: { taskScheduledId: 0, result: { value: '"ok"' } } }, ago(30 * MINUTE)),
      ]),
    );
  }
  {
    // Event timer (timeout 1h, so due 4h ago) settled by the event ("go" matches "Go"); then an activity.
    const id = "h-cancelled-timer";
    const t0 = ago(5 * HOUR);
    instances.push(
      custom(id, [
        ...turn(t0, [
          started(id, "ApprovalWorkflow"),
          {
            eventId: 0,
            timerCreated: { fireAt: dateToTimestamp(ago(4 * HOUR)), name: "Go", externalEvent: { name: "Go" } },
          },
        ]),
        ...turn(ago(4 * HOUR + 50 * MINUTE), [
          { eventId: -1, eventRaised: { name: "go", input: { value: "true" } } },
          { eventId: 1, taskScheduled: { name: "ShipOrder" } },
        ]),
      ]),
    );
  }
  {
    const id = "h-indefinite-recent";
    instances.push(
      custom(
        id,
        turn(ago(2 * HOUR), [
          started(id, "ApprovalWorkflow"),
          { eventId: 0, timerCreated: { fireAt: dateToTimestamp(SENTINEL), externalEvent: { name: "Approve" } } },
        ]),
      ),
    );
  }
  {
    const id = "h-child";
    instances.push(
      custom(
        id,
        turn(ago(2 * HOUR), [
          started(id, "FanOutWorkflow"),
          { eventId: 0, childWorkflowInstanceCreated: { instanceId: `${id}:0000`, name: "ChildWorkflow" } },
        ]),
      ),
    );
  }
  for (const id of ["h-activity-result", "s-activity-result-other"]) {
    instances.push(
      custom(
        id,
        turn(ago(3 * HOUR), [
          started(id, "ParallelWorkflow"),
          { eventId: 0, taskScheduled: { name: "ReserveInventory" } },
          { eventId: 1, taskScheduled: { name: "ChargePayment" } },
        ]),
      ),
    );
  }
  {
    // An activity finished 3 days ago, then the workflow awaited an event without timeout (older SDKs: no timer).
    const id = "s-event-forever-old-sdk";
    instances.push(
      custom(id, [
        ...turn(ago(4 * DAY), [started(id, "ApprovalWorkflow"), { eventId: 0, taskScheduled: { name: "Notify" } }]),
        ...turn(ago(3 * DAY), [{ eventId: -1, taskCompleted: { taskScheduledId: 0, result: { value: "null" } } }]),
      ]),
    );
  }

  const ns = app.namespace;
  const workflow = (instanceId: string, name: string): SeedJob => ({
    target: { workflow: { appId: app.appId, instanceId } },
    namespace: ns,
    name,
    begin: now,
  });
  const activity = (activityId: string, appId = app.appId): SeedJob => ({
    target: { activity: { appId, activityId } },
    namespace: ns,
    begin: now,
  });
  const result = (instanceId: string, taskScheduledId: number): SeedJob => ({
    ...workflow(instanceId, `activity-result-r${taskScheduledId}Xy`),
    payload: {
      typeUrl: "type.googleapis.com/HistoryEvent",
      value: encodeHistoryEvent({ eventId: -1, taskCompleted: { taskScheduledId, result: { value: "1" } } }),
    },
  });
  const reminders: SeedJob[] = [
    workflow("h-timer-future", "timer-2-Qw3eRt"),
    activity("h-activity-recent::1::1"),
    activity("h-running-new::1::1"),
    workflow("h-event-recent", "timer-2"),
    workflow("h-pending", "start-es-1"),
    workflow("h-pending-scheduled", "start-Ab12Cd"),
    workflow("h-inbox", "new-event-zz9Y"),
    activity("h-cancelled-timer::1::1"),
    result("h-activity-result", 0),
    activity("h-activity-result::1::1"),
    result("s-activity-result-other", 0),
    activity("s-idle-activity::1::1"),
    workflow("s-idle-pending", "start-Zz00"),
    workflow("s-overdue-with-reminder", "timer-2-LateLate"),
    workflow("s-event-timeout", "timer-2-Ev3ntT"),
    // Decoys that must not count for s-no-reminder-activity / s-no-reminder-timer: another app, look-alike actors.
    activity("s-no-reminder-activity::1::1", `${app.appId}2`),
    activity("s-no-reminder-activity-x::1::1"),
    activity("s-no-reminder-activity::x::1::1"),
    workflow("s-no-reminder-timer-x", "timer-2"),
    { ...workflow("s-no-reminder-timer", "timer-2"), namespace: `${ns}-other` },
  ];
  return { now, app, instances, reminders };
}

/** Writes the fixture's instances into a backend (Dapr's layout). */
export async function writeFixture(backend: StateBackend, fixture: StuckFixture): Promise<void> {
  await backend.setMany(fixture.instances.flatMap((built) => instanceEntries(fixture.app, built)));
}

/** The created / lastUpdate strings the report must show for an instance. */
export function expectedTimes(
  fixture: StuckFixture,
  instanceId: string,
): { created: string | null; lastUpdate: string | null } {
  const built = fixture.instances.find((b) => b.instanceId === instanceId)!;
  const iso = (ts: HistoryEvent["timestamp"]) =>
    ts ? new Date((ts.seconds ?? 0) * 1000).toISOString().replace(/\.\d{3}Z$/, "Z") : null;
  const start = built.history.find((e) => e.executionStarted);
  return {
    created: start ? iso(start.timestamp) : null,
    lastUpdate: built.history.length ? iso(built.history.at(-1)!.timestamp) : null,
  };
}
