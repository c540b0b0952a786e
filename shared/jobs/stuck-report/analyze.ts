/**
 * Why an instance looks stuck, decided from its history and inbox (and, for no-reminder, its Scheduler reminders).
 * Pure: no I/O, the clock is an argument.
 *
 * From the history (in order), as the durabletask runtime pairs events:
 *   - pending timers: TimerCreated (its event ID is the timer ID) without a TimerFired for it. An external-event
 *     timer (origin `externalEvent`, or a bare `name` without origin, the pre-origin form Dapr still honours) is
 *     also settled by an EventRaised of the same name (case-insensitive), the oldest such timer created before the
 *     event first — dapr orchestrator/timer.go deleteCancelledEventTimers deletes exactly those timers' reminders;
 *   - pending activities: TaskScheduled without TaskCompleted/TaskFailed (taskScheduledId = its event ID);
 *   - pending child workflows: ChildWorkflowInstanceCreated without ChildWorkflowInstanceCompleted/Failed;
 *   - events in the inbox have arrived but are not processed yet; a completion there settles its pending item.
 * An external-event wait is a pending external-event timer: with a timeout its fire time is the timeout; a wait
 * without timeout has the sentinel fire time 9999-12-31 (durabletask-go ≥ the timer-origin change) or, with older
 * SDKs, no history event at all — then a RUNNING instance with nothing pending and an empty inbox can only be
 * waiting for an event whose name the history does not record.
 *
 * Which reminders must exist (dapr pkg/actors/targets/workflow): every pending timer has `timer-<id>` (1.15–1.18:
 * `timer-<id>-<random>`) on the workflow actor, except the no-timeout sentinel; every pending activity has
 * `run-activity` on its activity actor `<instance>::<task>` (`::<generation>` before Dapr master) or, 1.18+, an
 * `activity-result-…` reminder on the workflow actor carrying its result; a non-empty inbox (including a PENDING instance's ExecutionStarted)
 * needs some workflow-actor reminder to run it (`new-event-…`, `start-…`; any of them runs the inbox). Child
 * workflows and waits for events need none: the child or the event's sender wakes the parent.
 */
import type { AppRef } from "../../state-store/keys.ts";
import type { InstanceSummary, InstanceWithEvents } from "../../state-store/workflow-store.ts";
import type { HistoryEvent } from "../../workflow/history-event.ts";
import { eventTypeOf, timestampToDate } from "../../workflow/history-event.ts";
import type { RuntimeStatus } from "../../workflow/runtime-status.ts";
import type {
  OverdueTimer,
  StuckDetails,
  StuckReason,
  StuckRecord,
  TimerOrigin,
  WaitingForEventDetail,
  WatchedStatus,
} from "./model.ts";
import { humanAge, rfc3339, STUCK_REASONS } from "./model.ts";
import type { InstanceReminder } from "./reminders.ts";

/** Fire times at or after this are durabletask-go's "wait without timeout" sentinel (9999-12-31T23:59:59.999999999Z). */
const INDEFINITE_FIRE_AT_MS = Date.UTC(9999, 0, 1);

export interface PendingTimer {
  timerId: number;
  name: string | undefined;
  origin: TimerOrigin;
  /** Set for external-event timers. */
  eventName: string | undefined;
  fireAt: Date | undefined;
  /** The timer of a wait without timeout: it never fires and needs no reminder. */
  indefinite: boolean;
  createdAt: Date | undefined;
}

export interface PendingActivity {
  taskId: number;
  name: string;
  scheduledAt: Date | undefined;
  /** Another app running it (cross-app activity), else undefined. */
  targetApp: AppRef | undefined;
}

export interface PendingChild {
  taskId: number;
  instanceId: string;
  name: string;
}

export interface EventWait {
  /** undefined: the history does not name the event (a wait without timeout, older SDKs). */
  eventName: string | undefined;
  since: Date | undefined;
  /** undefined: no timeout. */
  timeoutAt: Date | undefined;
}

export interface InstanceAnalysis {
  timers: PendingTimer[];
  activities: PendingActivity[];
  children: PendingChild[];
  /** Event types waiting in the inbox, in order. */
  inboxTypes: string[];
  eventWaits: EventWait[];
  /** Newest timestamp of any history or inbox event: when the instance's state was last written. */
  lastWriteAt: Date | undefined;
  /** PENDING: when the ExecutionStarted was enqueued, and the scheduled start if one was requested. */
  enqueuedAt: Date | undefined;
  scheduledStartAt: Date | undefined;
  stallDescription: string | undefined;
  suspendReason: string | undefined;
}

function timerOrigin(tc: NonNullable<HistoryEvent["timerCreated"]>): TimerOrigin {
  if (tc.externalEvent) return "externalEvent";
  if (tc.createTimer) return "createTimer";
  // The history-event typing names only some origin members; the decoder also sets `origin` to the member's name.
  const other = tc as { origin?: string; activityRetry?: unknown; childWorkflowRetry?: unknown };
  if (other.activityRetry || other.origin === "activityRetry") return "activityRetry";
  if (other.childWorkflowRetry || other.origin === "childWorkflowRetry") return "childWorkflowRetry";
  return "unknown";
}

/** dapr orchestrator/timer.go eventTimerName: the event an external-event timer guards, else undefined. */
function eventTimerName(tc: NonNullable<HistoryEvent["timerCreated"]>, origin: TimerOrigin): string | undefined {
  if (tc.externalEvent) return tc.externalEvent.name ?? "";
  if (origin === "unknown" && tc.name !== undefined && tc.name !== "") return tc.name;
  return undefined;
}

function later(a: Date | undefined, b: Date | undefined): Date | undefined {
  if (!a) return b;
  if (!b) return a;
  return b.getTime() > a.getTime() ? b : a;
}

/** Walks history then inbox and says what the instance is waiting for. */
export function analyzeInstance(record: InstanceWithEvents, app: AppRef): InstanceAnalysis {
  const timers = new Map<number, PendingTimer>();
  const eventTimerQueues = new Map<string, number[]>();
  const activities = new Map<number, PendingActivity>();
  const children = new Map<number, PendingChild>();
  let lastWriteAt: Date | undefined;
  let stallDescription: string | undefined;
  let suspendReason: string | undefined;

  const settleTimer = (timerId: number | undefined) => {
    if (timerId === undefined) return;
    const timer = timers.get(timerId);
    timers.delete(timerId);
    if (timer?.eventName !== undefined) {
      const queue = eventTimerQueues.get(timer.eventName.toUpperCase());
      const at = queue?.indexOf(timerId) ?? -1;
      if (queue && at >= 0) queue.splice(at, 1);
    }
  };
  const raiseEvent = (name: string | undefined) => {
    const queue = eventTimerQueues.get((name ?? "").toUpperCase());
    const timerId = queue?.shift();
    if (timerId !== undefined) timers.delete(timerId);
  };
  const settle = (event: HistoryEvent, type: string | undefined) => {
    switch (type) {
      case "timerFired":
        settleTimer(event.timerFired?.timerId);
        break;
      case "eventRaised":
        raiseEvent(event.eventRaised?.name);
        break;
      case "taskCompleted":
        activities.delete(event.taskCompleted?.taskScheduledId ?? -1);
        break;
      case "taskFailed":
        activities.delete(event.taskFailed?.taskScheduledId ?? -1);
        break;
      case "childWorkflowInstanceCompleted":
        children.delete(event.childWorkflowInstanceCompleted?.taskScheduledId ?? -1);
        break;
      case "childWorkflowInstanceFailed":
        children.delete(event.childWorkflowInstanceFailed?.taskScheduledId ?? -1);
        break;
      default:
        break;
    }
  };

  for (const event of record.history) {
    const type = eventTypeOf(event);
    lastWriteAt = later(lastWriteAt, timestampToDate(event.timestamp));
    switch (type) {
      case "timerCreated": {
        const tc = event.timerCreated!;
        const timerId = event.eventId ?? -1;
        const origin = timerOrigin(tc);
        const eventName = eventTimerName(tc, origin);
        const fireAt = timestampToDate(tc.fireAt);
        timers.set(timerId, {
          timerId,
          name: tc.name,
          origin,
          eventName,
          fireAt,
          indefinite: fireAt !== undefined && fireAt.getTime() >= INDEFINITE_FIRE_AT_MS,
          createdAt: timestampToDate(event.timestamp),
        });
        if (eventName !== undefined) {
          const key = eventName.toUpperCase();
          const queue = eventTimerQueues.get(key) ?? [];
          queue.push(timerId);
          eventTimerQueues.set(key, queue);
        }
        break;
      }
      case "taskScheduled": {
        const taskId = event.eventId ?? -1;
        const target = event.router?.targetAppID;
        activities.set(taskId, {
          taskId,
          name: event.taskScheduled?.name ?? "",
          scheduledAt: timestampToDate(event.timestamp),
          targetApp:
            target && target !== app.appId
              ? { appId: target, namespace: event.router?.targetAppNamespace || app.namespace }
              : undefined,
        });
        break;
      }
      case "childWorkflowInstanceCreated":
        children.set(event.eventId ?? -1, {
          taskId: event.eventId ?? -1,
          instanceId: event.childWorkflowInstanceCreated?.instanceId ?? "",
          name: event.childWorkflowInstanceCreated?.name ?? "",
        });
        break;
      case "executionStalled":
        stallDescription = event.executionStalled?.description;
        break;
      case "executionSuspended":
        suspendReason = event.executionSuspended?.input?.value;
        break;
      default:
        settle(event, type);
    }
  }

  const inboxTypes: string[] = [];
  let enqueuedAt: Date | undefined;
  let scheduledStartAt: Date | undefined;
  for (const event of record.inbox) {
    const type = eventTypeOf(event);
    inboxTypes.push(type ?? "unknown");
    lastWriteAt = later(lastWriteAt, timestampToDate(event.timestamp));
    if (type === "executionStarted" && enqueuedAt === undefined) {
      enqueuedAt = timestampToDate(event.timestamp);
      scheduledStartAt = timestampToDate(event.executionStarted?.scheduledStartTimestamp);
    }
    settle(event, type);
  }

  const pendingTimers = [...timers.values()];
  const eventWaits: EventWait[] = pendingTimers
    .filter((t) => t.eventName !== undefined)
    .map((t) => ({ eventName: t.eventName, since: t.createdAt, timeoutAt: t.indefinite ? undefined : t.fireAt }));
  if (
    record.runtimeStatus === "RUNNING" &&
    pendingTimers.length === 0 &&
    activities.size === 0 &&
    children.size === 0 &&
    inboxTypes.length === 0
  ) {
    eventWaits.push({ eventName: undefined, since: record.lastUpdatedAt, timeoutAt: undefined });
  }

  return {
    timers: pendingTimers,
    activities: [...activities.values()],
    children: [...children.values()],
    inboxTypes,
    eventWaits,
    lastWriteAt,
    enqueuedAt,
    scheduledStartAt,
    stallDescription,
    suspendReason,
  };
}

/** A reminder the history says must exist, and how to recognise it. */
export interface ExpectedReminder {
  /** In words, for the report (`timer-3 (timer "retry-delay" due 2026-01-02T00:00:00Z)`). */
  what: string;
  satisfiedBy(reminders: readonly InstanceReminder[]): boolean;
}

export function expectedReminders(record: InstanceWithEvents, analysis: InstanceAnalysis): ExpectedReminder[] {
  const expected: ExpectedReminder[] = [];
  for (const timer of analysis.timers) {
    if (timer.indefinite) continue;
    const name = `timer-${timer.timerId}`;
    expected.push({
      what: `${name} (${timerLabel(timer)} due ${rfc3339(timer.fireAt) ?? "?"})`,
      satisfiedBy: (rs) => rs.some((r) => r.actor === "workflow" && (r.name === name || r.name.startsWith(`${name}-`))),
    });
  }
  for (const activity of analysis.activities) {
    expected.push({
      what: `run-activity of activity actor ${record.instanceId}::${activity.taskId} (${activity.name}, task ${activity.taskId})`,
      satisfiedBy: (rs) =>
        rs.some(
          (r) =>
            (r.actor === "activity" && r.taskId === activity.taskId) ||
            (r.actor === "workflow" &&
              r.name.startsWith("activity-result-") &&
              (r.taskScheduledId === undefined || r.taskScheduledId === activity.taskId)),
        ),
    });
  }
  if (analysis.inboxTypes.length > 0) {
    expected.push({
      what: `a workflow reminder (new-event-…/start-…) to run ${plural(analysis.inboxTypes.length, "inbox event")} (${[...new Set(analysis.inboxTypes)].join(", ")})`,
      satisfiedBy: (rs) => rs.some((r) => r.actor === "workflow"),
    });
  }
  return expected;
}

/** The classification settings, resolved (all in milliseconds). */
export interface ClassifySettings {
  thresholds: Record<WatchedStatus, number>;
  eventWaitThresholdMs: number;
  timerOverdueMs: number;
  reminderGraceMs: number;
  retention: Partial<Record<RuntimeStatus, number>> | undefined;
  retentionAgeFrom: "completed" | "created";
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function timerLabel(timer: PendingTimer): string {
  return `timer ${timer.timerId}${timer.name ? ` "${timer.name}"` : ""}`;
}

function ms(now: Date, since: Date | undefined): number | null {
  return since ? now.getTime() - since.getTime() : null;
}

function baseRecord(
  instance: InstanceSummary,
  now: Date,
  ageMs: number,
): Omit<StuckRecord, "reasons" | "waitingFor" | "summary" | "details"> {
  const fromCreation = ms(now, instance.createdAt);
  return {
    namespace: instance.namespace,
    appID: instance.appId,
    instanceID: instance.instanceId,
    name: instance.name,
    runtimeStatus: instance.runtimeStatus,
    created: rfc3339(instance.createdAt),
    lastUpdate: rfc3339(instance.lastUpdatedAt),
    ageMs,
    age: humanAge(ageMs),
    ageFromCreationMs: fromCreation,
    ageFromCreation: fromCreation === null ? null : humanAge(fromCreation),
  };
}

function ordered(reasons: Set<StuckReason>): StuckReason[] {
  return STUCK_REASONS.filter((r) => reasons.has(r));
}

/** past-retention, from the summary alone (retention-purge's semantics: per terminal status, age from completion). */
export function classifyTerminal(
  instance: InstanceSummary,
  now: Date,
  settings: ClassifySettings,
): StuckRecord | undefined {
  if (!instance.isTerminal || !settings.retention) return undefined;
  const keepFor = settings.retention[instance.runtimeStatus];
  if (keepFor === undefined) return undefined;
  const since =
    settings.retentionAgeFrom === "created" ? instance.createdAt : (instance.completedAt ?? instance.lastUpdatedAt);
  if (!since) return undefined;
  const ageMs = now.getTime() - since.getTime();
  if (ageMs < keepFor) return undefined;
  const finished = instance.completedAt ?? instance.lastUpdatedAt;
  return {
    ...baseRecord(instance, now, finished ? now.getTime() - finished.getTime() : ageMs),
    reasons: ["past-retention"],
    waitingFor: [],
    summary: `${instance.runtimeStatus} ${settings.retentionAgeFrom === "created" ? "created" : "finished"} ${humanAge(ageMs)} ago and still stored; retention ${humanAge(keepFor)}`,
    details: {
      "past-retention": {
        since: rfc3339(since)!,
        ageMs,
        retentionMs: keepFor,
        ageFrom: settings.retentionAgeFrom,
      },
    },
  };
}

/** When a not-finished instance last moved, as the idle check measures it. */
export function idleSince(record: InstanceSummary, analysis: InstanceAnalysis | undefined): Date | undefined {
  if (record.runtimeStatus === "PENDING" && analysis) return later(analysis.enqueuedAt, analysis.scheduledStartAt);
  return record.lastUpdatedAt ?? record.createdAt;
}

export interface ActiveInput {
  record: InstanceWithEvents;
  analysis: InstanceAnalysis;
  now: Date;
  settings: ClassifySettings;
  /** The instance's reminders; undefined when the Scheduler is not checked. */
  reminders: readonly InstanceReminder[] | undefined;
}

/** Whether the no-reminder check applies (status and quiet time); the caller fetches reminders only for these. */
export function needsReminderCheck(record: InstanceWithEvents, analysis: InstanceAnalysis, now: Date, graceMs: number) {
  if (record.runtimeStatus !== "RUNNING" && record.runtimeStatus !== "PENDING") return false;
  const quietMs = ms(now, analysis.lastWriteAt) ?? Number.POSITIVE_INFINITY;
  return quietMs >= graceMs && expectedReminders(record, analysis).length > 0;
}

/** idle-too-long, no-reminder, timer-overdue and waiting-for-event for a RUNNING/PENDING/SUSPENDED/STALLED one. */
export function classifyActive(input: ActiveInput): StuckRecord | undefined {
  const { record, analysis, now, settings } = input;
  const status = record.runtimeStatus as WatchedStatus;
  const threshold = settings.thresholds[status];
  if (threshold === undefined) return undefined;
  const since = idleSince(record, analysis);
  const idleMs = ms(now, since) ?? 0;
  const reasons = new Set<StuckReason>();
  const details: StuckDetails = {};
  const notes: string[] = [];
  const waitingFor = describeWaits(record, analysis);

  if (status === "RUNNING") {
    const overdue: OverdueTimer[] = analysis.timers
      .filter((t) => !t.indefinite && t.fireAt && now.getTime() - t.fireAt.getTime() >= settings.timerOverdueMs)
      .map((t) => ({
        timerId: t.timerId,
        name: t.eventName ?? t.name ?? null,
        origin: t.origin,
        fireAt: rfc3339(t.fireAt)!,
        overdueMs: now.getTime() - t.fireAt!.getTime(),
      }));
    if (overdue.length > 0) {
      reasons.add("timer-overdue");
      details["timer-overdue"] = { timers: overdue, graceMs: settings.timerOverdueMs };
      notes.push(
        overdue.map((t) => `timer ${t.timerId} was due ${humanAge(t.overdueMs)} ago and has not fired`).join("; "),
      );
    }

    const waits = analysis.eventWaits;
    if (waits.length > 0) {
      const oldest = waits.reduce((a, b) => ((b.since?.getTime() ?? 0) < (a.since?.getTime() ?? 0) ? b : a));
      const waitingMs = ms(now, oldest.since) ?? 0;
      if (waitingMs >= settings.eventWaitThresholdMs) {
        reasons.add("waiting-for-event");
        const names = waits.flatMap((w) => (w.eventName === undefined ? [] : [w.eventName]));
        const detail: WaitingForEventDetail = {
          eventName: oldest.eventName ?? null,
          eventNames: [...new Set(names)],
          since: rfc3339(oldest.since) ?? rfc3339(since) ?? "",
          waitingMs,
          thresholdMs: settings.eventWaitThresholdMs,
          timeoutAt: rfc3339(oldest.timeoutAt),
        };
        details["waiting-for-event"] = detail;
        notes.push(
          `waiting ${humanAge(waitingMs)} for ${oldest.eventName === undefined ? "an external event (name not recorded: a wait without timeout)" : `event "${oldest.eventName}"`}${oldest.timeoutAt ? ` (times out ${rfc3339(oldest.timeoutAt)})` : ""}`,
        );
      }
    }

    // A wake-up is already scheduled (a timer not yet due), or the instance waits for an event: not idle, however
    // long ago it last moved.
    const scheduled = analysis.timers.some((t) => !t.indefinite && t.fireAt && t.fireAt.getTime() > now.getTime());
    if (idleMs >= threshold && !scheduled && waits.length === 0) reasons.add("idle-too-long");
  } else if (idleMs >= threshold) {
    reasons.add("idle-too-long");
  }
  if (reasons.has("idle-too-long")) {
    details["idle-too-long"] = { since: rfc3339(since) ?? "", idleMs, thresholdMs: threshold };
    notes.unshift(`${status} without progress for ${humanAge(idleMs)} (threshold ${humanAge(threshold)})`);
  }

  if (input.reminders !== undefined && needsReminderCheck(record, analysis, now, settings.reminderGraceMs)) {
    const missing = expectedReminders(record, analysis).filter((e) => !e.satisfiedBy(input.reminders!));
    if (missing.length > 0) {
      reasons.add("no-reminder");
      details["no-reminder"] = {
        missing: missing.map((m) => m.what),
        found: input.reminders.map((r) => r.displayName).sort(),
      };
      notes.unshift(`no reminder in the Scheduler for ${missing.map((m) => m.what).join("; ")}`);
    }
  }

  if (reasons.size === 0) return undefined;
  const base = baseRecord(record, now, idleMs);
  if (status === "PENDING" && analysis.enqueuedAt) {
    // Dapr shows no created time for a PENDING instance; its age from creation is the time since it was enqueued.
    base.ageFromCreationMs = now.getTime() - analysis.enqueuedAt.getTime();
    base.ageFromCreation = humanAge(base.ageFromCreationMs);
  }
  return {
    ...base,
    reasons: ordered(reasons),
    waitingFor,
    summary: notes.join("; "),
    details: orderedDetails(details),
  };
}

function orderedDetails(details: StuckDetails): StuckDetails {
  const out: StuckDetails = {};
  for (const reason of STUCK_REASONS) {
    if (details[reason] !== undefined) (out as Record<string, unknown>)[reason] = details[reason];
  }
  return out;
}

function describeWaits(record: InstanceWithEvents, analysis: InstanceAnalysis): string[] {
  const out: string[] = [];
  switch (record.runtimeStatus) {
    case "PENDING":
      out.push(
        analysis.scheduledStartAt ? `its start, scheduled for ${rfc3339(analysis.scheduledStartAt)}` : "its start",
      );
      return out;
    case "SUSPENDED":
      out.push(`a resume${analysis.suspendReason ? ` (suspended: ${analysis.suspendReason})` : ""}`);
      return out;
    case "STALLED":
      out.push(`a fix for the stall${analysis.stallDescription ? `: ${analysis.stallDescription}` : ""}`);
      return out;
    default:
      break;
  }
  for (const wait of analysis.eventWaits) {
    out.push(
      wait.eventName === undefined
        ? "an external event (name not recorded)"
        : `event "${wait.eventName}"${wait.timeoutAt ? ` until ${rfc3339(wait.timeoutAt)}` : " (no timeout)"}`,
    );
  }
  for (const timer of analysis.timers) {
    if (timer.eventName !== undefined) continue;
    out.push(`${timerLabel(timer)} due ${rfc3339(timer.fireAt) ?? "?"}`);
  }
  for (const activity of analysis.activities) {
    out.push(
      `activity ${activity.name} (task ${activity.taskId}${activity.targetApp ? `, app ${activity.targetApp.appId}` : ""})`,
    );
  }
  for (const child of analysis.children) out.push(`child workflow ${child.instanceId} (${child.name})`);
  if (analysis.inboxTypes.length > 0) {
    out.push(`${plural(analysis.inboxTypes.length, "unprocessed inbox event")} (${analysis.inboxTypes.join(", ")})`);
  }
  return out;
}
