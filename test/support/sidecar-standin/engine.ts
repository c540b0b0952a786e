/**
 * The stand-in's workflow engine: Dapr's workflow actor reduced to what a sidecar test needs, keeping every byte it
 * persists in Dapr's layout in a real StateBackend (so WorkflowStateStore, list, report and purge see what a real
 * sidecar leaves behind). Facts from dapr master:
 *  - create (pkg/actors/targets/workflow/orchestrator/create.go): a new instance saves only `inbox-000000`
 *    (ExecutionStarted) + metadata {inboxLength 1, generation 1}; an existing non-terminal one fails with
 *    AlreadyExists "an active workflow with ID '…' already exists"; a terminal one is Reset (history and inbox
 *    deleted, generation + 1) and re-created;
 *  - events (add.go): appended to the inbox and saved, then a turn runs; a purged/missing instance gives
 *    api.ErrInstanceNotFound ("no such instance exists"); a completed instance drops them in its next turn
 *    (durabletask-go backend/orchestration.go "workflow already completed; dropping work item");
 *  - a turn (run.go + durabletask-go): WorkflowStarted, then the inbox events, then the workflow's actions (eventIds =
 *    the action sequence), moved to history in one save; the inbox is cleared; `customStatus` is written (an empty
 *    StringValue when none) whenever history changes and it changed or was never written (state.go GetSaveRequest);
 *  - purge (durabletask-go backend/backend.go purgeWorkflowState, recursive over ChildWorkflowInstanceCreated):
 *    missing *or never-run* (empty history) → ErrInstanceNotFound; not completed → ErrNotCompleted; else every key
 *    is deleted; `force` skips the completion check;
 *  - rerun (orchestrator/rerun.go, fork/fork.go): terminal top-level source, the target event must be a
 *    TaskScheduled/TimerCreated/ChildWorkflowInstanceCreated; history before it is copied, unfinished work re-queued.
 *
 * Simplifications (documented, not hidden): workflows are scripts (WorkflowScript), activities complete at once,
 * timers re-queued by a rerun fire at once, child workflows are never started, there is no stalling and no history
 * signing. Writes go as one setMany then one deleteMany (Dapr uses one transaction).
 */
import { randomUUID } from "node:crypto";
import type { StateBackend } from "../../../shared/state-store/backend.ts";
import type { AppRef } from "../../../shared/state-store/keys.ts";
import { CUSTOM_STATUS_KEY, instanceKeyPrefix, METADATA_KEY, multiEntryKey } from "../../../shared/state-store/keys.ts";
import { WorkflowStateStore } from "../../../shared/state-store/workflow-store.ts";
import type { FailureDetails, HistoryEvent } from "../../../shared/workflow/history-event.ts";
import {
  dateToTimestamp,
  encodeCustomStatus,
  encodeHistoryEvent,
  encodeMetadata,
  eventTypeOf,
  timestampToDate,
} from "../../../shared/workflow/history-event.ts";
import { statusToNumber } from "../../../shared/workflow/runtime-status.ts";

export interface ActivityScript {
  name: string;
  /** The activity's result (JSON-serialized); default: it echoes its input. */
  result?: unknown;
  /** Makes the activity fail with this message (and the workflow with it). */
  fail?: string;
}

/**
 * How a workflow of one name behaves: it runs its activities one after the other, then optionally waits for an
 * external event, then completes (output: `output`, else the event's payload, else the last activity result), fails
 * (`failure`), or keeps running (`outcome: "run"`).
 */
export interface WorkflowScript {
  activities?: ActivityScript[];
  waitForEvent?: string;
  outcome?: "complete" | "fail" | "run";
  output?: unknown;
  failure?: { errorType?: string; errorMessage: string; stackTrace?: string };
  /** Set as the custom status on every turn. */
  customStatus?: string;
}

/** What happens to a workflow name no script covers: a worker that does not know it fails it; no worker = PENDING. */
export type UnknownWorkflowBehaviour = "fail" | "pending";

export type EngineErrorKind =
  | "not-found"
  | "already-exists"
  | "not-completed"
  | "invalid-argument"
  | "rerun-not-found"
  | "rerun-already-exists";

/** An engine failure, with the Go error text Dapr would carry (callers add Dapr's API wrappers). */
export class EngineError extends Error {
  constructor(
    readonly kind: EngineErrorKind,
    message: string,
  ) {
    super(message);
  }
}

export const ERR_INSTANCE_NOT_FOUND = "no such instance exists";
export const ERR_NOT_COMPLETED = "orchestration has not yet completed";

interface InstanceState {
  id: string;
  generation: number;
  history: HistoryEvent[];
  inbox: HistoryEvent[];
  customStatus: string | undefined;
  customStatusPersisted: boolean;
  customStatusChanged: boolean;
  /** What the store holds, to write only new keys and delete the ones past the new lengths. */
  stored: { historyLength: number; inboxLength: number };
  /** History was reset (re-create): rewrite it from index 0. */
  historyRewritten: boolean;
  /** Inbox was cleared: new entries are written from index 0. */
  inboxRewritten: boolean;
}

export interface EngineOptions {
  backend: StateBackend;
  app: AppRef;
  scripts: Map<string, WorkflowScript>;
  unknownWorkflow: UnknownWorkflowBehaviour;
  /** "immediate": turns run before the call returns; "manual": only when runPending() is called. */
  turns: "immediate" | "manual";
  clock: () => Date;
}

/** api.WorkflowMetadataIsComplete: what rerun accepts as terminal. */
const TERMINAL_NUMBERS = new Set(
  (["COMPLETED", "FAILED", "TERMINATED", "CANCELED"] as const).map((status) => statusToNumber(status)),
);
const MAX_TURNS = 100;

export class StandinEngine {
  readonly store: WorkflowStateStore;
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(private readonly options: EngineOptions) {
    this.store = new WorkflowStateStore(options.backend, options.app);
  }

  get app(): AppRef {
    return this.options.app;
  }

  /** Creates (or re-creates a terminal) instance from its ExecutionStarted event. */
  async create(startEvent: HistoryEvent): Promise<void> {
    const id = startEvent.executionStarted?.workflowInstance?.instanceId ?? "";
    await this.locked(id, async () => {
      let state = await this.load(id);
      if (!state) {
        state = emptyState(id);
      } else {
        if (!isCompleted(state.history)) {
          throw new EngineError(
            "already-exists",
            `rpc error: code = AlreadyExists desc = an active workflow with ID '${id}' already exists`,
          );
        }
        reset(state);
      }
      state.inbox.push(startEvent);
      await this.save(state);
      this.armScheduledStart(id, startEvent);
      if (this.options.turns === "immediate") await this.runTurns(id);
    });
  }

  /** Adds an event (EventRaised, ExecutionTerminated/Suspended/Resumed) to the instance's inbox and runs it. */
  async addEvent(id: string, event: HistoryEvent): Promise<void> {
    await this.locked(id, async () => {
      const state = await this.load(id);
      if (!state) throw new EngineError("not-found", ERR_INSTANCE_NOT_FOUND);
      state.inbox.push(event);
      await this.save(state);
      if (this.options.turns === "immediate") await this.runTurns(id);
    });
  }

  /** durabletask-go purgeWorkflowState: returns how many instances were deleted. */
  async purge(id: string, options: { recursive: boolean; force: boolean }): Promise<number> {
    let deleted = 0;
    if (options.recursive) {
      const state = await this.load(id);
      if (!state || state.history.length === 0) {
        throw new EngineError("not-found", `failed to fetch workflow state: ${ERR_INSTANCE_NOT_FOUND}`);
      }
      if (!options.force && !isCompleted(state.history)) throw new EngineError("not-completed", ERR_NOT_COMPLETED);
      for (const child of childInstanceIds(state.history)) {
        try {
          deleted += await this.purge(child, options);
        } catch (error) {
          if (error instanceof EngineError && error.kind === "not-found") continue;
          const message = error instanceof Error ? error.message : String(error);
          throw new EngineError("not-completed", `failed to purge child workflow: ${message}`);
        }
      }
    }
    await this.locked(id, async () => {
      const state = await this.load(id);
      if (!state) throw new EngineError("not-found", ERR_INSTANCE_NOT_FOUND);
      if (!options.force && !isCompleted(state.history)) throw new EngineError("not-completed", ERR_NOT_COMPLETED);
      const record = await this.store.readInstance(id);
      if (record) await this.options.backend.deleteMany(this.store.instanceStateKeys(id, record.metadata));
    });
    return deleted + 1;
  }

  /** orchestrator/rerun.go forkWorkflowHistory + rerunWorkflowInstanceRequest; returns the new instance ID. */
  async rerun(request: {
    sourceInstanceId: string;
    eventId: number;
    newInstanceId?: string | undefined;
    input?: string | undefined;
    overwriteInput: boolean;
    newChildWorkflowInstanceId?: string | undefined;
  }): Promise<string> {
    const source = request.sourceInstanceId;
    if (source === "") throw new EngineError("invalid-argument", "rerun workflow source instance ID is required");
    const newId = request.newInstanceId ?? randomUUID();
    if (newId === source) {
      throw new EngineError(
        "invalid-argument",
        "rerun workflow instance ID must be different from the original instance ID",
      );
    }
    const forked = await this.locked(source, async () => {
      const state = await this.load(source);
      if (!state) throw new EngineError("rerun-not-found", `workflow instance does not exist with ID '${source}'`);
      const completed = completedEvent(state.history);
      const status = completed?.executionCompleted?.workflowStatus ?? statusToNumber("RUNNING");
      if (!completed || !TERMINAL_NUMBERS.has(status)) {
        throw new EngineError("invalid-argument", `'${source}' is not in a terminal state`);
      }
      if (startEventOf(state)?.executionStarted?.parentInstance?.workflowInstance?.instanceId) {
        throw new EngineError("invalid-argument", `'${source}': cannot rerun from child-workflows`);
      }
      return fork(state.history, { ...request, sourceInstanceId: source, newInstanceId: newId });
    });

    await this.locked(newId, async () => {
      if (await this.load(newId)) {
        throw new EngineError("rerun-already-exists", `workflow '${newId}' has already been created`);
      }
      const state = emptyState(newId);
      state.history = forked.history;
      const now = dateToTimestamp(this.options.clock());
      for (const event of forked.inbox) {
        event.timestamp = now;
        state.history.push(event);
        if (event.timerCreated) {
          // The re-created timer "fires" at once in the stand-in (Dapr arms a reminder for its due time).
          state.inbox.push({ eventId: -1, timestamp: now, timerFired: { timerId: event.eventId ?? 0 } });
        }
      }
      await this.save(state);
      this.dispatchActivities(state);
      if (state.inbox.length > 0) await this.save(state);
      if (this.options.turns === "immediate") await this.runTurns(newId);
    });
    return newId;
  }

  /** Runs the turns of every instance (or one) whose inbox has due work; used in "manual" mode. */
  async runPending(instanceId?: string): Promise<void> {
    if (instanceId !== undefined) {
      await this.locked(instanceId, () => this.runTurns(instanceId));
      return;
    }
    for await (const page of this.store.listInstances({ pageSize: 500 })) {
      for (const instance of page.instances) {
        if (instance.metadata.inboxLength > 0) {
          await this.locked(instance.instanceId, () => this.runTurns(instance.instanceId));
        }
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await Promise.allSettled([...this.locks.values()]);
  }

  setScript(name: string, script: WorkflowScript): void {
    this.options.scripts.set(name, script);
  }

  private async runTurns(id: string): Promise<void> {
    for (let i = 0; i < MAX_TURNS; i++) {
      const state = await this.load(id);
      if (!state || state.inbox.length === 0) return;
      if (!this.turn(state)) return;
      await this.save(state);
      if (state.inbox.length === 0) return;
    }
  }

  /** One turn; false when nothing could run (not yet due, no worker for the name). */
  private turn(state: InstanceState): boolean {
    const now = dateToTimestamp(this.options.clock());
    if (isCompleted(state.history)) {
      clearInbox(state);
      return true;
    }
    const start = startEventOf(state);
    if (!start) {
      clearInbox(state);
      return true;
    }
    if (state.history.length === 0) {
      const due = timestampToDate(start.executionStarted?.scheduledStartTimestamp);
      if (due && due.getTime() > this.options.clock().getTime()) return false;
    }
    const name = start.executionStarted?.name ?? "";
    const script = this.options.scripts.get(name);
    if (!script && this.options.unknownWorkflow === "pending") return false;

    const router = { sourceAppID: this.options.app.appId };
    const started = state.history.some((e) => e.executionStarted);
    state.history.push({ eventId: -1, timestamp: now, workflowStarted: {} });
    for (const event of state.inbox) {
      if (event.executionStarted) {
        if (started) continue; // a duplicate start is dropped (runtimestate dedup)
        event.router ??= router;
      }
      state.history.push(event);
    }
    clearInbox(state);
    if (script?.customStatus !== undefined && script.customStatus !== state.customStatus) {
      state.customStatus = script.customStatus;
      state.customStatusChanged = true;
    }
    for (const action of decide(state.history, script, name)) {
      state.history.push({ ...action, timestamp: now, router });
    }
    this.dispatchActivities(state);
    return true;
  }

  /** The activity actor: every TaskScheduled without a result gets its TaskCompleted/TaskFailed in the inbox. */
  private dispatchActivities(state: InstanceState): void {
    const start = startEventOf(state);
    const script = this.options.scripts.get(start?.executionStarted?.name ?? "");
    if (isCompleted(state.history)) return;
    const done = new Set<number>();
    for (const e of [...state.history, ...state.inbox]) {
      if (e.taskCompleted) done.add(e.taskCompleted.taskScheduledId ?? 0);
      if (e.taskFailed) done.add(e.taskFailed.taskScheduledId ?? 0);
    }
    const now = dateToTimestamp(this.options.clock());
    for (const e of state.history) {
      if (!e.taskScheduled) continue;
      const id = e.eventId ?? 0;
      if (done.has(id)) continue;
      const activity = script?.activities?.[id];
      const taskExecutionId = e.taskScheduled.taskExecutionId;
      if (activity?.fail !== undefined) {
        state.inbox.push({
          eventId: -1,
          timestamp: now,
          taskFailed: {
            taskScheduledId: id,
            failureDetails: { errorType: "ActivityError", errorMessage: activity.fail },
            ...(taskExecutionId ? { taskExecutionId } : {}),
          },
        });
      } else {
        const result =
          activity?.result !== undefined ? { value: JSON.stringify(activity.result) } : e.taskScheduled.input;
        state.inbox.push({
          eventId: -1,
          timestamp: now,
          taskCompleted: {
            taskScheduledId: id,
            ...(result ? { result } : {}),
            ...(taskExecutionId ? { taskExecutionId } : {}),
          },
        });
      }
      done.add(id);
    }
  }

  private armScheduledStart(id: string, startEvent: HistoryEvent): void {
    const due = timestampToDate(startEvent.executionStarted?.scheduledStartTimestamp);
    if (!due || this.options.turns !== "immediate") return;
    const delay = due.getTime() - this.options.clock().getTime();
    if (delay <= 0) return;
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        if (this.closed) return;
        void this.locked(id, () => this.runTurns(id)).catch(() => {});
      },
      Math.min(delay, 2 ** 31 - 1),
    );
    timer.unref();
    this.timers.add(timer);
  }

  private async load(id: string): Promise<InstanceState | undefined> {
    const record = await this.store.readInstance(id);
    if (!record) return undefined;
    return {
      id,
      generation: record.metadata.generation,
      history: record.history.map(stripVirtual),
      inbox: record.inbox.map(stripVirtual),
      customStatus: record.customStatus,
      customStatusPersisted: record.customStatus !== undefined,
      customStatusChanged: false,
      stored: { historyLength: record.metadata.historyLength, inboxLength: record.metadata.inboxLength },
      historyRewritten: false,
      inboxRewritten: false,
    };
  }

  private async save(state: InstanceState): Promise<void> {
    const prefix = instanceKeyPrefix(this.options.app, state.id);
    const entries: Array<[string, Uint8Array]> = [];
    const deletes: string[] = [];
    const historyFrom = state.historyRewritten ? 0 : state.stored.historyLength;
    for (let i = historyFrom; i < state.history.length; i++) {
      entries.push([prefix + multiEntryKey("history", i), encodeGoLike(state.history[i]!)]);
    }
    const inboxFrom = state.inboxRewritten ? 0 : state.stored.inboxLength;
    for (let i = inboxFrom; i < state.inbox.length; i++) {
      entries.push([prefix + multiEntryKey("inbox", i), encodeGoLike(state.inbox[i]!)]);
    }
    for (let i = state.history.length; i < state.stored.historyLength; i++) {
      deletes.push(prefix + multiEntryKey("history", i));
    }
    for (let i = state.inbox.length; i < state.stored.inboxLength; i++)
      deletes.push(prefix + multiEntryKey("inbox", i));
    const historyChanged =
      state.historyRewritten || historyFrom < state.history.length || state.history.length < state.stored.historyLength;
    if (historyChanged && (state.customStatusChanged || !state.customStatusPersisted)) {
      // proto.Marshal of an empty StringValue is zero bytes (protobufjs would write the empty field).
      const status = state.customStatus ?? "";
      entries.push([prefix + CUSTOM_STATUS_KEY, status === "" ? new Uint8Array(0) : encodeCustomStatus(status)]);
      state.customStatusPersisted = true;
      state.customStatusChanged = false;
    }
    entries.push([
      prefix + METADATA_KEY,
      encodeMetadata({
        inboxLength: state.inbox.length,
        historyLength: state.history.length,
        generation: state.generation,
      }),
    ]);
    await this.options.backend.setMany(entries);
    if (deletes.length > 0) await this.options.backend.deleteMany(deletes);
    state.stored = { historyLength: state.history.length, inboxLength: state.inbox.length };
    state.historyRewritten = false;
    state.inboxRewritten = false;
  }

  /** Actor turn-based concurrency: one call at a time per instance. */
  private locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(id) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(fn);
    const settled = next.catch(() => {});
    this.locks.set(id, settled);
    void settled.then(() => {
      if (this.locks.get(id) === settled) this.locks.delete(id);
    });
    return next;
  }
}

/**
 * Encodes as Go's proto.Marshal does: proto3 scalars at their default ("" / 0 / false) are left out (protobufjs
 * writes any field that is set). Message fields stay, even when empty: their presence is meaningful.
 */
export function encodeGoLike(event: HistoryEvent): Uint8Array {
  return encodeHistoryEvent(withoutDefaults(event) as HistoryEvent);
}

function withoutDefaults(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutDefaults);
  if (typeof value !== "object" || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    if (field === undefined || field === "" || field === 0 || field === false) continue;
    out[key] = withoutDefaults(field);
  }
  return out;
}

function emptyState(id: string): InstanceState {
  return {
    id,
    generation: 1,
    history: [],
    inbox: [],
    customStatus: undefined,
    customStatusPersisted: false,
    customStatusChanged: false,
    stored: { historyLength: 0, inboxLength: 0 },
    historyRewritten: false,
    inboxRewritten: false,
  };
}

/** wfenginestate.State.Reset: everything goes, generation + 1. */
function reset(state: InstanceState): void {
  state.history = [];
  state.inbox = [];
  state.historyRewritten = true;
  state.inboxRewritten = true;
  if (state.customStatus) state.customStatusChanged = true;
  state.customStatus = undefined;
  state.generation++;
}

function clearInbox(state: InstanceState): void {
  state.inbox = [];
  state.inboxRewritten = true;
}

function stripVirtual(event: HistoryEvent): HistoryEvent {
  const { eventType: _virtual, ...rest } = event;
  return rest;
}

function completedEvent(history: readonly HistoryEvent[]): HistoryEvent | undefined {
  return history.find((e) => e.executionCompleted);
}

export function isCompleted(history: readonly HistoryEvent[]): boolean {
  return completedEvent(history) !== undefined;
}

function startEventOf(state: InstanceState): HistoryEvent | undefined {
  return state.history.find((e) => e.executionStarted) ?? state.inbox.find((e) => e.executionStarted);
}

function childInstanceIds(history: readonly HistoryEvent[]): string[] {
  return history.flatMap((e) => {
    const id = e.childWorkflowInstanceCreated?.instanceId;
    return id ? [id] : [];
  });
}

/** The script replayed over the history: the actions of this turn (eventIds = the action sequence). */
function decide(history: readonly HistoryEvent[], script: WorkflowScript | undefined, name: string): HistoryEvent[] {
  let nextId = 0;
  let suspended = false;
  let terminated: HistoryEvent | undefined;
  const scheduled = new Map<number, HistoryEvent>();
  const results = new Map<number, HistoryEvent>();
  const raised: HistoryEvent[] = [];
  let input: { value?: string } | undefined;
  for (const e of history) {
    const type = eventTypeOf(e);
    if (type === "executionCompleted") return [];
    if (type === "taskScheduled" || type === "timerCreated" || type === "childWorkflowInstanceCreated") {
      nextId = Math.max(nextId, (e.eventId ?? 0) + 1);
      if (type === "taskScheduled") scheduled.set(e.eventId ?? 0, e);
    }
    if (type === "taskCompleted") results.set(e.taskCompleted?.taskScheduledId ?? 0, e);
    if (type === "taskFailed") results.set(e.taskFailed?.taskScheduledId ?? 0, e);
    if (type === "executionSuspended") suspended = true;
    if (type === "executionResumed") suspended = false;
    if (type === "executionTerminated") terminated ??= e;
    if (type === "eventRaised") raised.push(e);
    if (type === "executionStarted") input ??= e.executionStarted?.input;
  }
  const complete = (
    workflowStatus: number,
    fields: { result?: { value: string }; failureDetails?: FailureDetails },
  ) => [{ eventId: nextId, executionCompleted: { workflowStatus, ...fields } }];
  if (terminated) {
    const output = terminated.executionTerminated?.input;
    return complete(statusToNumber("TERMINATED"), output ? { result: { value: output.value ?? "" } } : {});
  }
  if (suspended) return [];
  if (!script) {
    return complete(statusToNumber("FAILED"), {
      failureDetails: {
        errorType: "WorkflowNotRegistered",
        errorMessage: `workflow named '${name}' is not registered`,
      },
    });
  }
  let lastResult: string | undefined;
  for (const [i, activity] of (script.activities ?? []).entries()) {
    if (!scheduled.has(i)) {
      return [
        {
          eventId: i,
          taskScheduled: {
            name: activity.name,
            ...(input ? { input: { value: input.value ?? "" } } : {}),
            taskExecutionId: randomUUID(),
          },
        },
      ];
    }
    const result = results.get(i);
    if (!result) return [];
    if (result.taskFailed) {
      const message = result.taskFailed.failureDetails?.errorMessage ?? "";
      return complete(statusToNumber("FAILED"), {
        failureDetails: {
          errorType: "TaskFailedError",
          errorMessage: `activity '${activity.name}' failed: ${message}`,
        },
      });
    }
    lastResult = result.taskCompleted?.result?.value;
  }
  let payload: string | undefined;
  if (script.waitForEvent !== undefined) {
    const wanted = script.waitForEvent.toLowerCase(); // durabletask event names are case-insensitive
    const event = raised.find((e) => (e.eventRaised?.name ?? "").toLowerCase() === wanted);
    if (!event) return [];
    payload = event.eventRaised?.input?.value;
  }
  switch (script.outcome ?? "complete") {
    case "run":
      return [];
    case "fail": {
      const failure = script.failure ?? { errorMessage: "workflow failed" };
      return complete(statusToNumber("FAILED"), {
        failureDetails: {
          errorType: failure.errorType ?? "Error",
          errorMessage: failure.errorMessage,
          ...(failure.stackTrace !== undefined ? { stackTrace: { value: failure.stackTrace } } : {}),
        },
      });
    }
    default: {
      const output = script.output !== undefined ? JSON.stringify(script.output) : (payload ?? lastResult);
      return complete(statusToNumber("COMPLETED"), output !== undefined ? { result: { value: output } } : {});
    }
  }
}

/** fork.go Build: the new instance's history (copied prefix) and inbox (unfinished work + the target event). */
function fork(
  history: readonly HistoryEvent[],
  request: {
    sourceInstanceId: string;
    eventId: number;
    newInstanceId: string;
    input?: string | undefined;
    overwriteInput: boolean;
    newChildWorkflowInstanceId?: string | undefined;
  },
): { history: HistoryEvent[]; inbox: HistoryEvent[] } {
  const copy = (e: HistoryEvent): HistoryEvent => structuredClone(stripVirtual(e));
  const out: HistoryEvent[] = [];
  const activities = new Map<number, HistoryEvent>();
  const timers = new Map<number, HistoryEvent>();
  const children = new Map<number, HistoryEvent>();
  let found: HistoryEvent | undefined;
  const rerunParent = { instanceID: request.sourceInstanceId };
  for (const original of history) {
    const e = copy(original);
    if ((e.eventId ?? 0) !== request.eventId) {
      const pair = (map: Map<number, HistoryEvent>, id: number | undefined) => {
        const opened = map.get(id ?? 0);
        if (opened) out.push(opened);
        out.push(e);
        map.delete(id ?? 0);
      };
      if (e.taskScheduled) activities.set(e.eventId ?? 0, e);
      else if (e.taskCompleted) pair(activities, e.taskCompleted.taskScheduledId);
      else if (e.taskFailed) pair(activities, e.taskFailed.taskScheduledId);
      else if (e.timerCreated) timers.set(e.eventId ?? 0, e);
      else if (e.childWorkflowInstanceCreated) children.set(e.eventId ?? 0, e);
      else if (e.childWorkflowInstanceCompleted) pair(children, e.childWorkflowInstanceCompleted.taskScheduledId);
      else if (e.childWorkflowInstanceFailed) pair(children, e.childWorkflowInstanceFailed.taskScheduledId);
      else out.push(e);
      continue;
    }
    const type = eventTypeOf(e);
    if (type === "taskScheduled") {
      (e.taskScheduled as Record<string, unknown>).rerunParentInstanceInfo = rerunParent;
      if (request.overwriteInput)
        e.taskScheduled!.input = request.input === undefined ? undefined : { value: request.input };
      if (request.newChildWorkflowInstanceId !== undefined) {
        throw new EngineError(
          "invalid-argument",
          `cannot set new child workflow instance ID on activity event '${request.eventId}'`,
        );
      }
    } else if (type === "timerCreated") {
      (e.timerCreated as Record<string, unknown>).rerunParentInstanceInfo = rerunParent;
      if (request.overwriteInput) {
        throw new EngineError("invalid-argument", `cannot write input to timer event '${request.eventId}'`);
      }
      if (request.newChildWorkflowInstanceId !== undefined) {
        throw new EngineError(
          "invalid-argument",
          `cannot set new child workflow instance ID on timer event '${request.eventId}'`,
        );
      }
    } else if (type === "childWorkflowInstanceCreated") {
      const child = e.childWorkflowInstanceCreated as Record<string, unknown>;
      child.rerunParentInstanceInfo = rerunParent;
      child.instanceId = request.newChildWorkflowInstanceId ?? childId(request.newInstanceId, e.eventId ?? 0);
      if (request.overwriteInput) child.input = request.input === undefined ? undefined : { value: request.input };
    } else if (type === "detachedWorkflowInstanceCreated") {
      throw new EngineError(
        "invalid-argument",
        `event '${request.eventId}' is a detached workflow spawn and cannot be rerun: detached spawns are ` +
          "fire-and-forget and have no replayable continuation in the caller",
      );
    } else {
      throw new EngineError(
        "rerun-not-found",
        `target event '*protos.HistoryEvent_${goTypeName(type)}' with ID '${request.eventId}' is not an event that can be rerun`,
      );
    }
    found = e;
    break;
  }
  if (!found) {
    throw new EngineError("rerun-not-found", `does not have history event with ID '${request.eventId}'`);
  }
  const inbox = [...activities.values(), ...timers.values()];
  for (const child of children.values()) {
    (child.childWorkflowInstanceCreated as Record<string, unknown>).instanceId = childId(
      request.newInstanceId,
      child.eventId ?? 0,
    );
    inbox.push(child);
  }
  inbox.push(found);
  return { history: out, inbox };
}

function childId(parent: string, eventId: number): string {
  return `${parent}:${eventId.toString(16).padStart(4, "0")}`;
}

function goTypeName(type: string | undefined): string {
  if (!type) return "Unknown";
  return type.charAt(0).toUpperCase() + type.slice(1);
}
