/**
 * What the stuck-workflow report says about an instance: stable reason codes, one record per stuck instance (the
 * JSON/CSV/HTML reports and `housekeeper report stuck` all render this shape), and the running tallies a report's
 * summary is made of. Pure data; no I/O.
 */

import type { AppRef } from "../../state-store/keys.ts";
import { formatAge } from "../../util/format-age.ts";
import type { RuntimeStatus } from "../../workflow/runtime-status.ts";
import type { OrphanCount } from "../orphan-reminders.ts";

/** Stable reason codes (they appear in JSON, CSV, metrics and alerts; never rename one). */
export const STUCK_REASONS = [
  "idle-too-long",
  "no-reminder",
  "timer-overdue",
  "waiting-for-event",
  "past-retention",
] as const;
export type StuckReason = (typeof STUCK_REASONS)[number];

/** The not-finished statuses the idle check watches. */
export const WATCHED_STATUSES = ["RUNNING", "PENDING", "SUSPENDED", "STALLED"] as const;
export type WatchedStatus = (typeof WATCHED_STATUSES)[number];

export interface IdleDetail {
  /** When the instance last changed (PENDING: when it was enqueued, or its scheduled start if later). */
  since: string;
  idleMs: number;
  thresholdMs: number;
}

export interface NoReminderDetail {
  /** The reminders this instance's history says must exist and that the Scheduler does not have. */
  missing: string[];
  /** The instance's reminders the Scheduler does have (Dapr CLI display names). */
  found: string[];
}

export interface OverdueTimer {
  timerId: number;
  /** The timer's name, or the event name for an external-event timeout. */
  name: string | null;
  origin: TimerOrigin;
  fireAt: string;
  overdueMs: number;
}

export interface TimerOverdueDetail {
  timers: OverdueTimer[];
  graceMs: number;
}

export interface WaitingForEventDetail {
  /** The first awaited event name; null when the history does not record it (a wait without timeout, older SDKs). */
  eventName: string | null;
  eventNames: string[];
  since: string;
  waitingMs: number;
  thresholdMs: number;
  /** When the wait times out; null for a wait without timeout. */
  timeoutAt: string | null;
}

export interface PastRetentionDetail {
  /** Completion time (or creation time with ageFrom "created"). */
  since: string;
  ageMs: number;
  retentionMs: number;
  ageFrom: "completed" | "created";
}

export interface StuckDetails {
  "idle-too-long"?: IdleDetail;
  "no-reminder"?: NoReminderDetail;
  "timer-overdue"?: TimerOverdueDetail;
  "waiting-for-event"?: WaitingForEventDetail;
  "past-retention"?: PastRetentionDetail;
}

export type TimerOrigin = "createTimer" | "externalEvent" | "activityRetry" | "childWorkflowRetry" | "unknown";

/** One stuck instance. Field names follow `dapr workflow list -o json` where they overlap. */
export interface StuckRecord {
  namespace: string;
  appID: string;
  instanceID: string;
  name: string;
  runtimeStatus: RuntimeStatus;
  /** RFC 3339 (UTC, seconds); null when Dapr has none (PENDING). */
  created: string | null;
  lastUpdate: string | null;
  /** What the report sorts by: time since the last update (PENDING: since enqueued; terminal: since completion). */
  ageMs: number;
  age: string;
  ageFromCreationMs: number | null;
  ageFromCreation: string | null;
  reasons: StuckReason[];
  /** What the instance waits for, in words (`activity ChargePayment (task 3)`, `event PaymentReceived`, …). */
  waitingFor: string[];
  /** One line saying why it is reported. */
  summary: string;
  details: StuckDetails;
}

/** Fixed age buckets of the report's chart (fixed, so the chart can be drawn while the records stream). */
export const AGE_BUCKETS: ReadonlyArray<{ label: string; upToMs: number }> = [
  { label: "< 1h", upToMs: 3_600_000 },
  { label: "1–6h", upToMs: 6 * 3_600_000 },
  { label: "6–24h", upToMs: 24 * 3_600_000 },
  { label: "1–3d", upToMs: 3 * 86_400_000 },
  { label: "3–7d", upToMs: 7 * 86_400_000 },
  { label: "7–30d", upToMs: 30 * 86_400_000 },
  { label: "30–90d", upToMs: 90 * 86_400_000 },
  { label: "≥ 90d", upToMs: Number.POSITIVE_INFINITY },
];

export function ageBucketIndex(ageMs: number): number {
  const i = AGE_BUCKETS.findIndex((b) => ageMs < b.upToMs);
  return i < 0 ? AGE_BUCKETS.length - 1 : i;
}

/** The settings a report was made with, echoed in its summary so a reader knows what "stuck" meant. */
export interface StuckSettingsEcho {
  thresholdsMs: Record<WatchedStatus, number>;
  eventWaitThresholdMs: number;
  timerOverdueMs: number;
  reminderGraceMs: number;
  retentionMs: Partial<Record<RuntimeStatus, number>> | null;
}

/** Everything a report's summary shows; counts are exact however many records were kept. */
export interface StuckSummary {
  app: AppRef;
  generatedAt: string;
  scanned: number;
  /** Instances whose full history was read (the candidates). */
  read: number;
  stuck: number;
  byReason: Record<StuckReason, number>;
  byStatus: Partial<Record<RuntimeStatus, number>>;
  ageBuckets: Array<{ label: string; count: number }>;
  oldest: { instanceID: string; ageMs: number; age: string } | null;
  /** Whether the Scheduler's reminders were checked (no-reminder needs them). */
  reminderChecks: boolean;
  /** Reminders on the app's workflow actors that no workflow will use, when the Scheduler was scanned for them. */
  orphanReminders?: OrphanCount | { error: string };
  /** Instances that could not be decoded (never reported as stuck; listed separately). */
  unreadable: number;
  isComplete: boolean;
  stoppedBecause?: "time-budget";
  settings: StuckSettingsEcho;
}

/** Counts records as they stream by. */
export class StuckTally {
  scanned = 0;
  read = 0;
  stuck = 0;
  unreadable = 0;
  isComplete = false;
  stoppedBecause: "time-budget" | undefined;
  readonly byReason = Object.fromEntries(STUCK_REASONS.map((r) => [r, 0])) as Record<StuckReason, number>;
  readonly byStatus: Partial<Record<RuntimeStatus, number>> = {};
  readonly buckets = AGE_BUCKETS.map(() => 0);
  oldest: StuckRecord | undefined;
  orphanReminders: OrphanCount | { error: string } | undefined;

  constructor(
    readonly app: AppRef,
    readonly generatedAt: Date,
    readonly settings: StuckSettingsEcho,
    readonly reminderChecks: boolean,
  ) {}

  add(record: StuckRecord): void {
    this.stuck++;
    for (const reason of record.reasons) this.byReason[reason]++;
    this.byStatus[record.runtimeStatus] = (this.byStatus[record.runtimeStatus] ?? 0) + 1;
    this.buckets[ageBucketIndex(record.ageMs)]!++;
    if (!this.oldest || compareByAge(record, this.oldest) < 0) this.oldest = record;
  }

  summary(): StuckSummary {
    const out: StuckSummary = {
      app: this.app,
      generatedAt: this.generatedAt.toISOString(),
      scanned: this.scanned,
      read: this.read,
      stuck: this.stuck,
      byReason: { ...this.byReason },
      byStatus: { ...this.byStatus },
      ageBuckets: AGE_BUCKETS.map((b, i) => ({ label: b.label, count: this.buckets[i]! })),
      oldest: this.oldest
        ? { instanceID: this.oldest.instanceID, ageMs: this.oldest.ageMs, age: this.oldest.age }
        : null,
      reminderChecks: this.reminderChecks,
      unreadable: this.unreadable,
      isComplete: this.isComplete,
      settings: this.settings,
    };
    if (this.orphanReminders) out.orphanReminders = this.orphanReminders;
    if (this.stoppedBecause) out.stoppedBecause = this.stoppedBecause;
    return out;
  }
}

/** Report order: oldest first, then by instance ID. */
export function compareByAge(a: StuckRecord, b: StuckRecord): number {
  return b.ageMs - a.ageMs || (a.instanceID < b.instanceID ? -1 : a.instanceID > b.instanceID ? 1 : 0);
}

/** RFC 3339 in UTC with whole seconds (`2026-01-02T15:04:05Z`), as `dapr workflow list -o json` prints times. */
export function rfc3339(date: Date | undefined): string | null {
  if (!date) return null;
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** A duration for people: formatAge (`36h`, `30d4h`) with a sign for the future. */
export function humanAge(ms: number): string {
  return ms < 0 ? `-${formatAge(-ms)}` : formatAge(ms);
}
