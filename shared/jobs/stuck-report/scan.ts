/**
 * The stuck-workflow report: streams an app's instances and reports the ones that have not finished and look stuck,
 * each with stable reason codes (analyze.ts has the rules):
 *   idle-too-long      RUNNING/PENDING/SUSPENDED/STALLED without progress longer than its status's threshold
 *                      (RUNNING: unless a timer is still to fire or it waits for an event);
 *   no-reminder        RUNNING/PENDING whose history waits on a timer, an activity or an inbox event that has no
 *                      reminder in the Scheduler — nothing will wake it (only with a ReminderIndex);
 *   timer-overdue      a pending durable timer whose fire time is long past;
 *   waiting-for-event  waiting for an external event (named when the history names it) longer than the threshold;
 *   past-retention     finished but still stored past the retention policy (only with a policy).
 * Healthy instances are never reported.
 *
 * Streaming and memory: instance summaries stream in pages (WorkflowStateStore.listInstances); most are decided from
 * the summary alone (finished ones, and everything updated too recently to be stuck). The rest (the candidates) are
 * classified from their history and inbox. Where the store range-scans (PostgreSQL, SQLite) the scan's rows already
 * hold them: the listing decodes the candidates' events for analysis in the same pass (ListOptions.withEvents), with
 * no second read. Other stores list by key pages, and the candidates are read whole, one page at a time in batches of
 * two round trips each. Only candidates that could lack a reminder are looked up in the Scheduler, once per page.
 * Memory is bounded by two pages of summaries and one page of candidate events whatever the app's size. Instances
 * reported no-reminder are re-checked: if their metadata changed since it was read (while their reminders were read),
 * they moved, and the no-reminder finding is dropped.
 *
 * publish.ts publishes the report (the Lambda), render.ts renders it (the Lambda and `housekeeper report stuck`).
 */
import pLimit from "p-limit";
import { errorMessage, HousekeeperError } from "../../errors.ts";
import { instanceKeyPrefix, METADATA_KEY } from "../../state-store/keys.ts";
import type {
  InstanceEvents,
  InstanceSummary,
  InstanceWithEvents,
  ListOptions,
  WorkflowStateStore,
} from "../../state-store/workflow-store.ts";
import { decodeMetadata } from "../../workflow/history-event.ts";
import type { RuntimeStatus } from "../../workflow/runtime-status.ts";
import type { Shard } from "../../workflow/shard.ts";
import type { AgeFrom } from "../retention-purge.ts";
import type { ClassifySettings, InstanceAnalysis } from "./analyze.ts";
import { analyzeInstance, classifyActive, classifyTerminal, idleSince, needsReminderCheck } from "./analyze.ts";
import type { StuckRecord, StuckSettingsEcho, StuckSummary, WatchedStatus } from "./model.ts";
import { compareByAge, StuckTally, WATCHED_STATUSES } from "./model.ts";
import type { ReadOutcome } from "./read.ts";
import { readInstances } from "./read.ts";
import type { InstanceReminder, ReminderIndex, ReminderQuery } from "./reminders.ts";

export interface StuckReportPorts {
  store: WorkflowStateStore;
  /** The Scheduler's reminders; without it there is no no-reminder check. */
  reminders?: ReminderIndex;
  /**
   * Reads candidates whole (default: their events from the scan where the store range-scans, else batched reads
   * from `store`). Given, it reads every candidate.
   */
  reader?: InstanceReader;
}

/** Reads instances whole (history and inbox), many at a time. */
export interface InstanceReader {
  readMany(instanceIds: readonly string[]): Promise<ReadOutcome[]>;
}

export interface StuckReportOptions {
  /** Idle threshold of every watched status, in ms (default 24h). */
  olderThanMs?: number;
  /** Per-status thresholds overriding `olderThanMs`. */
  thresholds?: Partial<Record<WatchedStatus, number>>;
  /** How long an instance may wait for an external event (default: the RUNNING threshold). */
  eventWaitThresholdMs?: number;
  /** How far past its fire time a pending timer is overdue (default 1h). */
  timerOverdueMs?: number;
  /** No-reminder only for instances untouched at least this long (default 5 min): Dapr writes state, then reminders. */
  reminderGraceMs?: number;
  /** Retention per terminal status, in ms (retention-purge's semantics); enables past-retention. */
  retention?: Partial<Record<RuntimeStatus, number>>;
  /** Measure retention age from completion (default) or from creation. */
  retentionAgeFrom?: AgeFrom;
  /** Instances per page (default 200: one round trip each where the store range-scans). */
  pageSize?: number;
  /** Only this shard of the app's instances (ListOptions.shard). */
  shard?: Shard | undefined;
  /** Candidates read whole per batch (default 100): two round trips per batch. */
  readBatchSize?: number;
  /** Batches read side by side (default 4, the PostgreSQL adapter's pool size). */
  readConcurrency?: number;
  /** Milliseconds left for this run (Lambda's getRemainingTimeInMillis); the scan stops below the margin. */
  timeLeftMs?: () => number;
  /** Default 30 s. */
  safetyMarginMs?: number;
  /** Called with every instance that could not be read (the count is in the summary). */
  onUnreadable?: (instance: { instanceID: string; key: string; reason: string }) => void;
  now?: Date;
}

export const DEFAULT_OLDER_THAN_MS = 24 * 3_600_000;
export const DEFAULT_TIMER_OVERDUE_MS = 3_600_000;
export const DEFAULT_REMINDER_GRACE_MS = 5 * 60_000;
const DEFAULT_READ_CONCURRENCY = 4;
/**
 * Pages of 1000 were 9–17% faster on bench/stuck-scan.ts but took the CLI's peak RSS at 1M instances to 277 MiB
 * (goal ≤ 256 MB): the memory goal wins.
 */
const DEFAULT_PAGE_SIZE = 200;
const DEFAULT_READ_BATCH = 100;
const DEFAULT_SAFETY_MARGIN_MS = 30_000;

export function resolveSettings(options: StuckReportOptions): ClassifySettings {
  const base = options.olderThanMs ?? DEFAULT_OLDER_THAN_MS;
  const thresholds = Object.fromEntries(WATCHED_STATUSES.map((s) => [s, options.thresholds?.[s] ?? base])) as Record<
    WatchedStatus,
    number
  >;
  for (const [what, value] of Object.entries({
    ...thresholds,
    eventWait: options.eventWaitThresholdMs,
    timerOverdue: options.timerOverdueMs,
    reminderGrace: options.reminderGraceMs,
    ...options.retention,
  })) {
    if (value !== undefined && (!Number.isFinite(value) || value < 0)) {
      throw new HousekeeperError("bad-input", `${what} threshold must be a duration of 0 or more, got ${value}`);
    }
  }
  return {
    thresholds,
    eventWaitThresholdMs: options.eventWaitThresholdMs ?? thresholds.RUNNING,
    timerOverdueMs: options.timerOverdueMs ?? DEFAULT_TIMER_OVERDUE_MS,
    reminderGraceMs: options.reminderGraceMs ?? DEFAULT_REMINDER_GRACE_MS,
    retention: options.retention && Object.keys(options.retention).length > 0 ? options.retention : undefined,
    retentionAgeFrom: options.retentionAgeFrom ?? "completed",
  };
}

function echo(settings: ClassifySettings): StuckSettingsEcho {
  return {
    thresholdsMs: settings.thresholds,
    eventWaitThresholdMs: settings.eventWaitThresholdMs,
    timerOverdueMs: settings.timerOverdueMs,
    reminderGraceMs: settings.reminderGraceMs,
    retentionMs: settings.retention ?? null,
  };
}

/** A tally for a scan of `store` with these options (what scanStuckInstances fills in). */
export function newTally(ports: StuckReportPorts, options: StuckReportOptions): StuckTally {
  return new StuckTally(
    ports.store.app,
    options.now ?? new Date(),
    echo(resolveSettings(options)),
    ports.reminders !== undefined,
  );
}

/**
 * The stuck instances of the store's app, in store order, as they are found; `tally` is filled in as the scan goes
 * (complete when the generator is done).
 */
export async function* scanStuckInstances(
  ports: StuckReportPorts,
  options: StuckReportOptions = {},
  tally: StuckTally = newTally(ports, options),
): AsyncGenerator<StuckRecord, StuckTally, undefined> {
  const { store, reminders } = ports;
  const settings = resolveSettings(options);
  const now = tally.generatedAt;
  const nowMs = now.getTime();
  const run = pLimit(options.readConcurrency ?? DEFAULT_READ_CONCURRENCY);
  const margin = options.safetyMarginMs ?? DEFAULT_SAFETY_MARGIN_MS;
  // Nothing can be stuck for a reason that needs a full read before this long without an update.
  const quickest = Math.min(
    ...Object.values(settings.thresholds),
    settings.eventWaitThresholdMs,
    settings.timerOverdueMs,
    reminders ? settings.reminderGraceMs : Number.POSITIVE_INFINITY,
  );

  // Candidates' events come with the scan where the store can (no second read); a reader of its own reads them all.
  const withEvents = ports.reader
    ? undefined
    : (instance: InstanceSummary) => !instance.isTerminal && isCandidate(instance, settings, nowMs, quickest);
  const listOptions: ListOptions = {
    pageSize: options.pageSize ?? DEFAULT_PAGE_SIZE,
    shard: options.shard,
    ...(withEvents ? { withEvents } : {}),
  };
  for await (const page of store.listInstances(listOptions)) {
    for (const u of page.unreadable) {
      tally.unreadable++;
      options.onUnreadable?.({ instanceID: u.instanceId, key: u.key, reason: u.reason });
    }
    tally.scanned += page.instances.length;
    const candidates: Array<{ summary: InstanceSummary; events: InstanceEvents | undefined }> = [];
    for (const instance of page.instances) {
      if (instance.isTerminal) {
        const record = classifyTerminal(instance, now, settings);
        if (record) {
          tally.add(record);
          yield record;
        }
        continue;
      }
      if (isCandidate(instance, settings, nowMs, quickest)) {
        candidates.push({ summary: instance, events: page.events?.get(instance.instanceId) });
      }
    }
    for (const record of await classifyCandidates(ports, candidates, settings, now, run, tally, options)) {
      tally.add(record);
      yield record;
    }
    if (options.timeLeftMs !== undefined && options.timeLeftMs() < margin) {
      tally.stoppedBecause = "time-budget";
      return tally;
    }
  }
  // The other side of lost reminders: reminders whose instance is gone or finished (they fire for nothing).
  // A side finding: if it fails (etcd or the store gone meanwhile), the report still stands and says so.
  if (reminders?.countOrphans) {
    const outOfTime = () => options.timeLeftMs !== undefined && options.timeLeftMs() < margin;
    try {
      tally.orphanReminders = outOfTime()
        ? { error: "not counted: out of time" }
        : await reminders.countOrphans(store, { shouldStop: outOfTime, now });
    } catch (error) {
      tally.orphanReminders = { error: `not counted: ${errorMessage(error)}` };
    }
  }
  tally.isComplete = true;
  return tally;
}

function isCandidate(instance: InstanceSummary, settings: ClassifySettings, nowMs: number, quickest: number): boolean {
  switch (instance.runtimeStatus) {
    case "PENDING":
      return true; // its idle time counts from the inbox's ExecutionStarted, which only the full read has
    case "SUSPENDED":
    case "STALLED": {
      const since = idleSince(instance, undefined);
      return since === undefined || nowMs - since.getTime() >= settings.thresholds[instance.runtimeStatus];
    }
    case "RUNNING": {
      // Timers fire no earlier than they were created, so an instance created within `quickest` cannot be overdue.
      const since = instance.createdAt;
      return since === undefined || nowMs - since.getTime() >= quickest;
    }
    default:
      return false;
  }
}

interface Candidate {
  record: InstanceWithEvents;
  analysis: InstanceAnalysis;
}

async function classifyCandidates(
  ports: StuckReportPorts,
  listed: ReadonlyArray<{ summary: InstanceSummary; events: InstanceEvents | undefined }>,
  settings: ClassifySettings,
  now: Date,
  run: ReturnType<typeof pLimit>,
  tally: StuckTally,
  options: StuckReportOptions,
): Promise<StuckRecord[]> {
  if (listed.length === 0) return [];
  const { store } = ports;
  const scanned: Candidate[] = [];
  const ids: string[] = [];
  for (const { summary, events } of listed) {
    if (events) {
      // Classified from the rows already scanned: the summary and the events come from the same read.
      const record: InstanceWithEvents = { ...summary, history: events.history, inbox: events.inbox };
      tally.read++;
      scanned.push({ record, analysis: analyzeInstance(record, store.app) });
    } else {
      ids.push(summary.instanceId);
    }
  }
  const reader = ports.reader ?? { readMany: (batch: readonly string[]) => readInstances(store, batch) };
  const size = Math.max(1, options.readBatchSize ?? DEFAULT_READ_BATCH);
  const batches: string[][] = [];
  for (let i = 0; i < ids.length; i += size) batches.push(ids.slice(i, i + size));
  const outcomes = (await Promise.all(batches.map((batch) => run(() => reader.readMany(batch))))).flat();
  const read: Array<Candidate | undefined> = outcomes.map((outcome) => {
    if ("record" in outcome) {
      const record = outcome.record;
      if (record.isTerminal) return undefined; // finished since it was listed
      tally.read++;
      return { record, analysis: analyzeInstance(record, store.app) };
    }
    if ("reason" in outcome) {
      tally.unreadable++;
      options.onUnreadable?.({ instanceID: outcome.instanceId, key: outcome.key, reason: outcome.reason });
    }
    return undefined; // purged since it was listed
  });
  const candidates = [...scanned, ...read.filter((c): c is Candidate => c !== undefined)];

  let reminders: Map<string, InstanceReminder[]> | undefined;
  if (ports.reminders) {
    const queries: ReminderQuery[] = candidates
      .filter((c) => needsReminderCheck(c.record, c.analysis, now, settings.reminderGraceMs))
      .map((c) => {
        const apps = c.analysis.activities.flatMap((a) => (a.targetApp ? [a.targetApp] : []));
        return apps.length > 0
          ? { instanceId: c.record.instanceId, activityApps: apps }
          : { instanceId: c.record.instanceId };
      });
    reminders = await ports.reminders.remindersOf(queries);
  }

  const records: StuckRecord[] = [];
  const flagged: Array<{ candidate: Candidate; index: number }> = [];
  for (const candidate of candidates) {
    const record = classifyActive({
      record: candidate.record,
      analysis: candidate.analysis,
      now,
      settings,
      reminders: reminders ? (reminders.get(candidate.record.instanceId) ?? []) : undefined,
    });
    if (!record) continue;
    if (record.reasons.includes("no-reminder")) flagged.push({ candidate, index: records.length });
    records.push(record);
  }
  if (flagged.length > 0) await dropIfMoved(store, flagged, records, settings, now);
  return records.filter((r) => r.reasons.length > 0);
}

/**
 * Re-reads the metadata of instances reported no-reminder: if it changed since the full read, the instance moved
 * while its reminders were being read (a reminder fired and was consumed), so the finding is stale and dropped.
 */
async function dropIfMoved(
  store: WorkflowStateStore,
  flagged: Array<{ candidate: Candidate; index: number }>,
  records: StuckRecord[],
  settings: ClassifySettings,
  now: Date,
): Promise<void> {
  const keys = flagged.map((f) => instanceKeyPrefix(store.app, f.candidate.record.instanceId) + METADATA_KEY);
  const values = await store.backend.getMany(keys);
  flagged.forEach((f, i) => {
    const bytes = values.get(keys[i]!);
    const before = f.candidate.record.metadata;
    let moved = bytes === undefined;
    if (bytes) {
      try {
        const after = decodeMetadata(bytes);
        moved =
          after.generation !== before.generation ||
          after.historyLength !== before.historyLength ||
          after.inboxLength !== before.inboxLength;
      } catch {
        moved = true;
      }
    }
    if (!moved) return;
    // Reclassify without the reminder check: the other findings still hold for the state that was read.
    const again = classifyActive({
      record: f.candidate.record,
      analysis: f.candidate.analysis,
      now,
      settings,
      reminders: undefined,
    });
    records[f.index] = again ?? { ...records[f.index]!, reasons: [] };
  });
}

export interface StuckReportResult {
  summary: StuckSummary;
  /** The stuck instances, oldest first, up to `recordLimit`. */
  records: StuckRecord[];
  /** True when more were stuck than `records` holds (counts in the summary are exact). */
  truncated: boolean;
  unreadable: Array<{ instanceID: string; key: string; reason: string }>;
  durationMs: number;
}

export interface RunOptions extends StuckReportOptions {
  /** Records kept in the result (default 1000). */
  recordLimit?: number;
  /** How many unreadable instances the result lists (default 100; the count is exact). */
  unreadableLimit?: number;
  /** Every stuck instance as it is found (store order). */
  onRecord?: (record: StuckRecord) => void | Promise<void>;
}

/** Runs the scan and returns the summary and the oldest stuck instances. */
export async function runStuckReport(ports: StuckReportPorts, options: RunOptions = {}): Promise<StuckReportResult> {
  const started = Date.now();
  const limit = options.recordLimit ?? 1000;
  const unreadable: StuckReportResult["unreadable"] = [];
  const tally = newTally(ports, options);
  const scanOptions: StuckReportOptions = {
    ...options,
    now: tally.generatedAt,
    onUnreadable: (u) => {
      if (unreadable.length < (options.unreadableLimit ?? 100)) unreadable.push(u);
      options.onUnreadable?.(u);
    },
  };
  let kept: StuckRecord[] = [];
  for await (const record of scanStuckInstances(ports, scanOptions, tally)) {
    await options.onRecord?.(record);
    kept.push(record);
    // Keep the `limit` oldest: trim in batches so this stays O(n log limit)-ish and bounded.
    if (kept.length >= limit * 2 + 64) kept = kept.sort(compareByAge).slice(0, limit);
  }
  kept.sort(compareByAge);
  return {
    summary: tally.summary(),
    records: kept.slice(0, limit),
    truncated: kept.length > limit || tally.stuck > limit,
    unreadable,
    durationMs: Date.now() - started,
  };
}
