/**
 * The Scheduler reminders of workflow instances, for the no-reminder check (docs/dapr-state-store.md §1.6):
 *   workflow actor `dapr.internal.<ns>.<app>.workflow`, actor ID = the instance ID: `start-…`, `new-event-…`,
 *     `timer-<timerId>[-…]`, `activity-result-…` (1.18+), `new-event-janitor` (master);
 *   activity actor `dapr.internal.<ns>.<app>.activity`, actor ID `<instanceId>::<taskId>` (Dapr master,
 *     pkg/actors/targets/workflow/common/common.go ActivityActorID) or `<instanceId>::<taskId>::<generation>` (older):
 *     `run-activity` (for a cross-app activity, under the target app's activity actor type).
 *
 * The port answers for a batch of instances at a time, so the job can ask for one page of candidates and memory
 * stays bounded by that page whatever the size of the Scheduler. The implementation over the scheduler module reads
 * the instance's key prefixes (the ones `dapr scheduler delete-all workflow/<app>/<id>` removes) at one etcd
 * revision per batch; only reminder keys are parsed, values are decoded only for `activity-result-…` reminders
 * (their payload names the task whose result they carry).
 */
import pLimit from "p-limit";
import { decodeJobEntry } from "../../scheduler/jobs.ts";
import { displayNameFromKey, instanceReminderSelection, parseJobKey } from "../../scheduler/keys.ts";
import type { SchedulerStore } from "../../scheduler/store.ts";
import type { AppRef } from "../../state-store/keys.ts";
import { workflowActorType } from "../../state-store/keys.ts";
import type { WorkflowStateStore } from "../../state-store/workflow-store.ts";
import { decodeHistoryEvent } from "../../workflow/history-event.ts";
import type { OrphanCount } from "../orphan-reminders.ts";

export interface InstanceReminder {
  actor: "workflow" | "activity";
  /** The app whose actor type holds it. */
  appId: string;
  actorId: string;
  /** Reminder name (`timer-3`, `new-event-x1Yz`, `run-activity`, …). */
  name: string;
  /** The Dapr CLI's display name (`workflow/<app>/<id>/<name>`, `activity/<app>/<actorId>`). */
  displayName: string;
  /** Activity actors: the task (TaskScheduled event ID) the actor runs. */
  taskId?: number;
  /** `activity-result-…` reminders: the task whose result they deliver, when the payload says. */
  taskScheduledId?: number;
}

export interface ReminderQuery {
  instanceId: string;
  /** Other apps whose activity actors run some of this instance's activities (cross-app calls). */
  activityApps?: readonly AppRef[];
}

export interface ReminderIndex {
  /** The reminders of each queried instance (an instance with none maps to an empty list). */
  remindersOf(queries: readonly ReminderQuery[]): Promise<Map<string, InstanceReminder[]>>;
  /** Counts the app's orphan reminders (shared/jobs/orphan-reminders.ts), when this index can scan the Scheduler. */
  countOrphans?(store: WorkflowStateStore, options: { shouldStop: () => boolean; now: Date }): Promise<OrphanCount>;
}

/** Where ReminderIndexes come from: one connection to the Scheduler, an index per app. */
export interface ReminderSource {
  forApp(app: AppRef): ReminderIndex;
  close(): Promise<void>;
}

export interface SchedulerReminderIndexOptions {
  /** Instances looked up side by side (default 16). */
  concurrency?: number;
}

/** What follows `<instanceId>::` in an activity actor ID: `<taskId>` or `<taskId>::<generation>`. */
const ACTIVITY_ACTOR_ID_REST = /^(\d+)(?:::\d+)?$/;
const ACTIVITY_RESULT_PREFIX = "activity-result-";

/** ReminderIndex over the scheduler module's SchedulerStore (the Scheduler's etcd). */
export class SchedulerReminderIndex implements ReminderIndex {
  constructor(
    private readonly scheduler: SchedulerStore,
    private readonly app: AppRef,
    private readonly options: SchedulerReminderIndexOptions = {},
  ) {}

  async remindersOf(queries: readonly ReminderQuery[]): Promise<Map<string, InstanceReminder[]>> {
    const out = new Map<string, InstanceReminder[]>();
    if (queries.length === 0) return out;
    const snapshot = await this.scheduler.snapshot();
    const limit = pLimit(this.options.concurrency ?? 16);
    const workflowType = workflowActorType(this.app);
    await Promise.all(
      queries.map((query) =>
        limit(async () => {
          const prefixes = [...instanceReminderSelection(this.app, query.instanceId).jobs];
          for (const other of query.activityApps ?? []) {
            if (other.appId === this.app.appId && other.namespace === this.app.namespace) continue;
            prefixes.push(...instanceReminderSelection(other, query.instanceId).jobs.slice(1));
          }
          const found: InstanceReminder[] = [];
          for (const prefix of new Set(prefixes)) {
            for await (const page of snapshot.scan(prefix, { pageSize: 200 })) {
              for (const entry of page) {
                const reminder = toReminder(entry.key, entry.value, query.instanceId, workflowType);
                if (reminder) found.push(reminder);
              }
            }
          }
          out.set(query.instanceId, found);
        }),
      ),
    );
    return out;
  }
}

/** A reminder key (canonical) and value as one of `instanceId`'s reminders; undefined when it is not one. */
export function toReminder(
  key: string,
  value: Uint8Array,
  instanceId: string,
  workflowType: string,
): InstanceReminder | undefined {
  const parsed = parseJobKey(key);
  if (parsed?.type !== "actorreminder") return undefined;
  const appId = parsed.actorType.split(".")[3] ?? "";
  const displayName = displayNameFromKey(key) ?? key;
  if (parsed.actorType === workflowType) {
    if (parsed.actorId !== instanceId) return undefined;
    const reminder: InstanceReminder = {
      actor: "workflow",
      appId,
      actorId: parsed.actorId,
      name: parsed.name,
      displayName,
    };
    if (parsed.name.startsWith(ACTIVITY_RESULT_PREFIX)) {
      const taskScheduledId = deliveredTask(key, value);
      if (taskScheduledId !== undefined) reminder.taskScheduledId = taskScheduledId;
    }
    return reminder;
  }
  if (!parsed.actorType.endsWith(".activity")) return undefined;
  // `<instance>::<task>[::<generation>]`; the prefix `<instance>::` alone would also match instance `<instance>::x`.
  const prefix = `${instanceId}::`;
  const match = parsed.actorId.startsWith(prefix)
    ? ACTIVITY_ACTOR_ID_REST.exec(parsed.actorId.slice(prefix.length))
    : null;
  if (!match) return undefined;
  return {
    actor: "activity",
    appId,
    actorId: parsed.actorId,
    name: parsed.name,
    displayName,
    taskId: Number(match[1]),
  };
}

/** The TaskScheduled ID an `activity-result-…` reminder's payload (a HistoryEvent) answers; undefined if unknown. */
function deliveredTask(key: string, value: Uint8Array): number | undefined {
  try {
    const payload = decodeJobEntry(key, value).job.job?.payload;
    if (!payload?.typeUrl.endsWith("HistoryEvent")) return undefined;
    const event = decodeHistoryEvent(payload.value);
    return event.taskCompleted?.taskScheduledId ?? event.taskFailed?.taskScheduledId;
  } catch {
    return undefined;
  }
}
