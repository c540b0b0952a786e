/**
 * Scheduler reminders no workflow will use: those of instances with no state left in the store (lost state, or state
 * deleted without its reminders: they fire and retry for ever, dapr/dapr#9018) and those of finished instances, other
 * than Dapr's own `retention` reminder (leftover timers and activities that fire for nothing, dapr/dapr#9651).
 *
 * Found by one streamed scan of the reminders on the app's workflow actors at one etcd revision, page by page, each
 * page checked against the state store in one batch, so memory stays at about a page. Deleting re-reads each
 * instance first and deletes exact keys (the job and its counter), never a prefix.
 *
 * Activity reminders are left alone: since Dapr 1.16 an app's activity actors may run activities of another app's
 * workflows, whose state is in that app's store, so "no such instance here" proves nothing for them.
 */

import type { UnreadableKey } from "../scheduler/jobs.ts";
import { scanJobs } from "../scheduler/jobs.ts";
import { COUNTERS_PREFIX, counterKeyOf, JOBS_PREFIX, parseJobKey, SEPARATOR } from "../scheduler/keys.ts";
import type { SchedulerStore } from "../scheduler/store.ts";
import { MAX_TXN_OPS } from "../scheduler/store.ts";
import { workflowActorType } from "../state-store/keys.ts";
import type { WorkflowStateStore } from "../state-store/workflow-store.ts";
import type { RuntimeStatus } from "../workflow/runtime-status.ts";

/** The one reminder Dapr keeps on a finished instance on purpose: it purges the instance (stateRetentionPolicy). */
export const RETENTION_REMINDER_NAME = "retention";

/**
 * Finished for good. CONTINUED_AS_NEW is left out: the instance goes on as a new generation that may already have
 * timers of its own.
 */
const FINISHED: ReadonlySet<RuntimeStatus> = new Set(["COMPLETED", "FAILED", "TERMINATED", "CANCELED"]);

export type OrphanReason = "no-instance" | "instance-finished";

export interface OrphanReminder {
  /** The Dapr CLI's display name, `workflow/<app>/<instance>/<reminder>`. */
  name: string;
  /** Canonical job key. */
  key: string;
  instanceId: string;
  reason: OrphanReason;
  /** The instance's status, for `instance-finished`. */
  runtimeStatus?: RuntimeStatus;
  /** Times the reminder has fired (its counter), 0 if it never has. */
  count: number;
}

export interface OrphanScanPage {
  orphans: OrphanReminder[];
  /** Reminders looked at in this page. */
  scanned: number;
  /** Scheduler values that do not decode, and instances whose state does not: left alone, reported. */
  unreadable: UnreadableKey[];
}

export interface OrphanPorts {
  scheduler: SchedulerStore;
  /** The app's workflow state (its AppRef says which app's reminders are scanned). */
  store: WorkflowStateStore;
}

/** The instance a reminder on one of the app's workflow actors belongs to; undefined for any other key. */
export function reminderInstanceId(store: WorkflowStateStore, key: string): string | undefined {
  const parsed = parseJobKey(key);
  if (parsed?.type !== "actorreminder" || parsed.namespace !== store.app.namespace) return undefined;
  return parsed.actorType === workflowActorType(store.app) ? parsed.actorId : undefined;
}

interface InstanceState {
  status: "missing" | "unreadable" | RuntimeStatus;
  key?: string;
  reason?: string;
}

/** Reminders per etcd page: each page's instances are then read as summaries (histories included). */
const SCAN_PAGE_SIZE = 500;
/** Instances per state-store read, as `workflow list` pages them. */
const READ_BATCH = 200;

async function instanceStates(store: WorkflowStateStore, ids: readonly string[]): Promise<Map<string, InstanceState>> {
  const unique = [...new Set(ids)];
  const states = new Map<string, InstanceState>(unique.map((id) => [id, { status: "missing" }]));
  for (let i = 0; i < unique.length; i += READ_BATCH) {
    const { instances, unreadable } = await store.readSummaries(unique.slice(i, i + READ_BATCH));
    for (const instance of instances) states.set(instance.instanceId, { status: instance.runtimeStatus });
    for (const bad of unreadable) {
      states.set(bad.instanceId, { status: "unreadable", key: bad.key, reason: bad.reason });
    }
  }
  return states;
}

function classify(
  reminderName: string,
  state: InstanceState,
): Pick<OrphanReminder, "reason" | "runtimeStatus"> | undefined {
  if (state.status === "missing") return { reason: "no-instance" };
  if (state.status === "unreadable") return undefined;
  if (FINISHED.has(state.status) && reminderName !== RETENTION_REMINDER_NAME) {
    return { reason: "instance-finished", runtimeStatus: state.status };
  }
  return undefined;
}

/** Streams the app's orphan reminders, a page at a time. */
export async function* scanOrphanReminders(
  ports: OrphanPorts,
  options: { pageSize?: number } = {},
): AsyncGenerator<OrphanScanPage> {
  const { scheduler, store } = ports;
  const snapshot = await scheduler.snapshot();
  const actors = `actorreminder${SEPARATOR}${store.app.namespace}${SEPARATOR}${workflowActorType(store.app)}${SEPARATOR}`;
  const selection = { jobs: [JOBS_PREFIX + actors], counters: [COUNTERS_PREFIX + actors] };
  for await (const page of scanJobs(snapshot, selection, {
    namespace: store.app.namespace,
    pageSize: options.pageSize ?? SCAN_PAGE_SIZE,
  })) {
    const reminders = page.jobs.flatMap((job) => {
      const instanceId = reminderInstanceId(store, job.key);
      const reminderName = parseJobKey(job.key)?.name ?? "";
      return instanceId === undefined ? [] : [{ job, instanceId, reminderName }];
    });
    const states = await instanceStates(
      store,
      reminders.map((r) => r.instanceId),
    );
    const out: OrphanScanPage = { orphans: [], scanned: page.jobs.length, unreadable: [...page.unreadable] };
    const reportedUnreadable = new Set<string>();
    for (const { job, instanceId, reminderName } of reminders) {
      const state = states.get(instanceId)!;
      if (state.status === "unreadable" && !reportedUnreadable.has(instanceId)) {
        reportedUnreadable.add(instanceId);
        out.unreadable.push({ key: state.key!, reason: `${state.reason} (its reminders are left alone)` });
      }
      const verdict = classify(reminderName, state);
      if (verdict) {
        out.orphans.push({ name: job.name, key: job.key, instanceId, ...verdict, count: job.counter?.count ?? 0 });
      }
    }
    yield out;
  }
}

/**
 * Whether the store holds any instance of the app at all. A store with none (the wrong database, table or namespace
 * given) makes every reminder look orphaned: callers refuse to delete then unless told the state is really gone.
 */
export async function appHasInstances(store: WorkflowStateStore): Promise<boolean> {
  for await (const page of store.listInstances({ pageSize: 10 })) {
    if (page.instances.length > 0 || page.unreadable.length > 0) return true;
  }
  return false;
}

export interface OrphanCount {
  total: number;
  byReason: Record<OrphanReason, number>;
  /** False when `shouldStop` ended the scan early: the counts are a lower bound. */
  isComplete: boolean;
}

/** Counts the app's orphan reminders (the stuck report's summary); `shouldStop` is asked after each page. */
export async function countOrphanReminders(
  ports: OrphanPorts,
  options: { shouldStop?: () => boolean } = {},
): Promise<OrphanCount> {
  const count: OrphanCount = { total: 0, byReason: { "no-instance": 0, "instance-finished": 0 }, isComplete: true };
  for await (const page of scanOrphanReminders(ports)) {
    for (const orphan of page.orphans) count.byReason[orphan.reason]++;
    count.total += page.orphans.length;
    if (options.shouldStop?.()) {
      count.isComplete = false;
      break;
    }
  }
  return count;
}

export interface OrphanCleanup {
  /** Orphans found (in a dry run: what would be deleted). */
  found: number;
  deleted: number;
  /** Found but kept: the instance changed since the scan, or the reminder was already gone. */
  kept: number;
  /** False when `shouldStop` ended the scan early; the next run finds the rest. */
  isComplete: boolean;
  /** Set when nothing was done on purpose. */
  skipped?: string;
}

/**
 * Finds and deletes the app's orphan reminders, page by page, for an unattended run (the purge function). Never with
 * a store that holds no instance of the app: there, a wrong connection would make every reminder look orphaned.
 */
export async function cleanOrphanReminders(
  ports: OrphanPorts,
  options: { dryRun?: boolean; shouldStop?: () => boolean } = {},
): Promise<OrphanCleanup> {
  const result: OrphanCleanup = { found: 0, deleted: 0, kept: 0, isComplete: true };
  if (!(await appHasInstances(ports.store))) {
    return { ...result, skipped: "the state store holds no instance of the app" };
  }
  for await (const page of scanOrphanReminders(ports)) {
    result.found += page.orphans.length;
    if (!options.dryRun && page.orphans.length > 0) {
      const { deleted, kept } = await deleteOrphanReminders(ports, page.orphans);
      result.deleted += deleted.length;
      result.kept += kept.length;
    }
    if (options.shouldStop?.()) {
      result.isComplete = false;
      break;
    }
  }
  return result;
}

export interface OrphanDeleteResult {
  deleted: OrphanReminder[];
  /** Orphans whose instance changed since the scan (it came back, or started again), or that were already gone. */
  kept: OrphanReminder[];
}

/**
 * Deletes these orphans after reading their instances again: only those still orphaned for a reason (an instance
 * that is back, or running again under the same ID, keeps its reminders). Exact keys, job and counter together.
 */
export async function deleteOrphanReminders(
  ports: OrphanPorts,
  orphans: readonly OrphanReminder[],
): Promise<OrphanDeleteResult> {
  const result: OrphanDeleteResult = { deleted: [], kept: [] };
  const perTxn = Math.floor(MAX_TXN_OPS / 2);
  for (let i = 0; i < orphans.length; i += perTxn) {
    const batch = orphans.slice(i, i + perTxn);
    const states = await instanceStates(
      ports.store,
      batch.map((o) => o.instanceId),
    );
    const still = batch.filter((orphan) => {
      const verdict = classify(parseJobKey(orphan.key)?.name ?? "", states.get(orphan.instanceId)!);
      if (verdict && reminderInstanceId(ports.store, orphan.key) === orphan.instanceId) return true;
      result.kept.push(orphan);
      return false;
    });
    if (still.length === 0) continue;
    const existed = new Set(await ports.scheduler.deleteKeys(still.flatMap((o) => [o.key, counterKeyOf(o.key)])));
    for (const orphan of still) (existed.has(orphan.key) ? result.deleted : result.kept).push(orphan);
  }
  return result;
}
