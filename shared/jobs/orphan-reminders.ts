/**
 * Scheduler reminders no workflow will use: those of instances with no state left in the store (lost state, or state
 * deleted without its reminders; with the app's actors gone they retry for ever, dapr/dapr#9018) and those of
 * finished instances (leftover timers and new-event reminders, dapr/dapr#9651).
 *
 * Found by one streamed scan of the reminders on the app's workflow actors at one etcd revision, page by page, each
 * page checked against the state store in small batches, so memory stays at about a page. Only reminders due at
 * least a grace period ago count (default 5 minutes): a brand-new instance may have its start reminder before its
 * state (Dapr ≤1.16), and a reminder just re-created under an old name is not a leftover. Deleting re-reads each
 * instance first, and deletes a reminder (job and counter) only if its stored value is still exactly the one scanned,
 * in one etcd transaction.
 *
 * Dapr's retention reminders (actor type `dapr.internal.<ns>.<app>.retentioner`, one per finished instance, due when
 * its retention ends) are orphans only when their instance has no state: a finished instance is what they are for.
 * Such a leftover would purge a new run under the same ID when it fires, so it counts whenever it is due.
 *
 * Left alone: activity reminders (since Dapr 1.16 an app's activity actors may run activities of another app's
 * workflows, whose state is in that app's store, so "no such instance here" proves nothing for them), instances whose
 * state does not decode, CONTINUED_AS_NEW instances.
 */
import type { UnreadableKey } from "../scheduler/jobs.ts";
import { scanJobs } from "../scheduler/jobs.ts";
import { counterKeyOf, parseJobKey, workflowRemindersSelection } from "../scheduler/keys.ts";
import type { SchedulerStore } from "../scheduler/store.ts";
import { MAX_TXN_OPS } from "../scheduler/store.ts";
import { retentionerActorType, workflowActorType } from "../state-store/keys.ts";
import type { WorkflowStateStore } from "../state-store/workflow-store.ts";
import { timestampToDate } from "../workflow/history-event.ts";
import type { RuntimeStatus } from "../workflow/runtime-status.ts";
import { inShard, type Shard } from "../workflow/shard.ts";
import { FINISHED_STATUSES } from "../workflow/status-names.ts";

/** Reminders due less than this long ago are never orphans. */
export const DEFAULT_ORPHAN_GRACE_MS = 5 * 60_000;

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
  /** The job's stored value as scanned: the delete insists it is unchanged. */
  value: Uint8Array;
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

export interface OrphanScanOptions {
  pageSize?: number;
  /** Only reminders whose instance is in this shard: a reminder belongs to the shard of its instance ID. */
  shard?: Shard | undefined;
  /** Default DEFAULT_ORPHAN_GRACE_MS. */
  graceMs?: number;
  now?: Date;
}

/**
 * The instance a reminder on one of the app's workflow or retentioner actors belongs to, and which of the two it is;
 * undefined for any other key.
 */
export function reminderInstanceId(
  store: WorkflowStateStore,
  key: string,
): { instanceId: string; retention: boolean } | undefined {
  const parsed = parseJobKey(key);
  if (parsed?.type !== "actorreminder" || parsed.namespace !== store.app.namespace) return undefined;
  if (parsed.actorType === workflowActorType(store.app)) return { instanceId: parsed.actorId, retention: false };
  if (parsed.actorType === retentionerActorType(store.app)) return { instanceId: parsed.actorId, retention: true };
  return undefined;
}

interface InstanceState {
  status: "missing" | "unreadable" | RuntimeStatus;
  key?: string;
  reason?: string;
}

/** Reminders per etcd page. */
const SCAN_PAGE_SIZE = 500;
/** Instances per state-store read: a summary holds the whole history, and reminders belong to long-lived ones. */
const READ_BATCH = 50;

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

/** Whether a reminder is an orphan given its instance's state; a retention reminder only when the instance is gone. */
function classify(
  state: InstanceState,
  retention: boolean,
): Pick<OrphanReminder, "reason" | "runtimeStatus"> | undefined {
  if (state.status === "missing") return { reason: "no-instance" };
  if (state.status === "unreadable" || retention) return undefined;
  // CONTINUED_AS_NEW is not finished: its next generation may already have timers of its own.
  if (FINISHED_STATUSES.has(state.status)) return { reason: "instance-finished", runtimeStatus: state.status };
  return undefined;
}

/** Streams the app's orphan reminders, a page at a time. */
export async function* scanOrphanReminders(
  ports: OrphanPorts,
  options: OrphanScanOptions = {},
): AsyncGenerator<OrphanScanPage> {
  const { scheduler, store } = ports;
  const dueBefore = (options.now ?? new Date()).getTime() - (options.graceMs ?? DEFAULT_ORPHAN_GRACE_MS);
  const snapshot = await scheduler.snapshot();
  for await (const page of scanJobs(snapshot, workflowRemindersSelection(store.app), {
    namespace: store.app.namespace,
    pageSize: options.pageSize ?? SCAN_PAGE_SIZE,
  })) {
    const reminders = page.jobs.flatMap((job) => {
      const owner = reminderInstanceId(store, job.key);
      if (!owner || !inShard(owner.instanceId, options.shard)) return [];
      const due = timestampToDate(job.job.begin?.time)?.getTime(); // when it was due; none: never an orphan
      if (!owner.retention && (due === undefined || due > dueBefore)) return [];
      return [{ job, instanceId: owner.instanceId, retention: owner.retention }];
    });
    const states = await instanceStates(
      store,
      reminders.map((r) => r.instanceId),
    );
    // A shard counts only its own instances' reminders, so the refusal's ratio (orphanDeleteRefusal) is the shard's.
    const scanned = options.shard
      ? page.jobs.filter((job) => {
          const owner = reminderInstanceId(store, job.key);
          return owner !== undefined && inShard(owner.instanceId, options.shard);
        }).length
      : page.jobs.length;
    const out: OrphanScanPage = { orphans: [], scanned, unreadable: [...page.unreadable] };
    const reportedUnreadable = new Set<string>();
    for (const { job, instanceId, retention } of reminders) {
      const state = states.get(instanceId)!;
      if (state.status === "unreadable" && !reportedUnreadable.has(instanceId)) {
        reportedUnreadable.add(instanceId);
        out.unreadable.push({ key: state.key!, reason: `${state.reason} (its reminders are left alone)` });
      }
      const verdict = classify(state, retention);
      if (verdict) {
        out.orphans.push({
          name: job.name,
          key: job.key,
          instanceId,
          ...verdict,
          count: job.counter?.count ?? 0,
          value: job.value,
        });
      }
    }
    yield out;
  }
}

/** The verdict of a first pass: how many reminders were looked at and how many are orphans, by reason. */
export interface OrphanCount {
  /** Reminders on the app's workflow actors looked at. */
  scanned: number;
  total: number;
  byReason: Record<OrphanReason, number>;
  /** False when `shouldStop` ended the scan early: the counts are a lower bound. */
  isComplete: boolean;
}

/** Counts the app's orphan reminders; `onPage` is told the count so far and `shouldStop` asked after each page. */
export async function countOrphanReminders(
  ports: OrphanPorts,
  options: OrphanScanOptions & { shouldStop?: () => boolean; onPage?: (count: Readonly<OrphanCount>) => void } = {},
): Promise<OrphanCount> {
  const count: OrphanCount = {
    scanned: 0,
    total: 0,
    byReason: { "no-instance": 0, "instance-finished": 0 },
    isComplete: true,
  };
  for await (const page of scanOrphanReminders(ports, options)) {
    count.scanned += page.scanned;
    for (const orphan of page.orphans) count.byReason[orphan.reason]++;
    count.total += page.orphans.length;
    options.onPage?.(count);
    if (options.shouldStop?.()) {
      count.isComplete = false;
      break;
    }
  }
  return count;
}

/** Below this many, a majority of reminders without an instance is no sign of the wrong store. */
const SUSPICIOUS_MIN = 10;

/**
 * Why deleting would be unsafe, if it would: a store that holds no instance of the app, or one where most reminders
 * have no instance (the wrong database, table or namespace makes every live reminder look orphaned). A real loss of
 * state looks the same: then an operator says so (`--force`); an unattended run never deletes.
 */
export async function orphanDeleteRefusal(store: WorkflowStateStore, count: OrphanCount): Promise<string | undefined> {
  if (!(await store.hasAnyInstance())) return "the state store holds no instance of the app";
  const missing = count.byReason["no-instance"];
  if (missing >= SUSPICIOUS_MIN && missing * 2 > count.scanned) {
    return `${missing} of the ${count.scanned} reminders have no instance in this state store`;
  }
  return undefined;
}

export interface OrphanCleanup {
  /** Orphans found (in a dry run: what would be deleted). */
  found: number;
  deleted: number;
  /** Found but kept: changed since the scan (instance or reminder), or already gone. */
  kept: number;
  /** False when `shouldStop` ended the run early; the next run finds the rest. */
  isComplete: boolean;
  /** Set when nothing was deleted on purpose, saying why. */
  skipped?: string;
  /** Set when the cleanup failed (the target's purge still stands). */
  error?: string;
}

/**
 * Finds and deletes the app's orphan reminders, for an unattended run (the purge function): a counting pass, the
 * refusal check (orphanDeleteRefusal), then a deleting pass. `shouldStop` is asked before each pass and after each
 * page.
 */
export async function cleanOrphanReminders(
  ports: OrphanPorts,
  options: OrphanScanOptions & { dryRun?: boolean; shouldStop?: () => boolean } = {},
): Promise<OrphanCleanup> {
  const result: OrphanCleanup = { found: 0, deleted: 0, kept: 0, isComplete: false };
  if (options.shouldStop?.()) return result;
  const count = await countOrphanReminders(ports, options);
  result.found = count.total;
  if (options.dryRun || count.total === 0) return { ...result, isComplete: count.isComplete };
  const refusal = await orphanDeleteRefusal(ports.store, count);
  if (refusal) return { ...result, isComplete: count.isComplete, skipped: refusal };
  if (options.shouldStop?.()) return result;
  result.found = 0;
  for await (const page of scanOrphanReminders(ports, options)) {
    result.found += page.orphans.length;
    if (page.orphans.length > 0) {
      const { deleted, kept } = await deleteOrphanReminders(ports, page.orphans);
      result.deleted += deleted.length;
      result.kept += kept.length;
    }
    if (options.shouldStop?.()) return result;
  }
  result.isComplete = true;
  return result;
}

export interface OrphanDeleteResult {
  deleted: OrphanReminder[];
  /** Orphans whose instance or reminder changed since the scan, or that were already gone. */
  kept: OrphanReminder[];
}

/**
 * Deletes these orphans after reading their instances again: only those still orphaned (an instance that is back, or
 * running again under the same ID, keeps its reminders), and only if each job's value is still the one scanned (one
 * etcd transaction comparing every value; when one changed, each is retried alone). Job and counter together.
 */
export async function deleteOrphanReminders(
  ports: OrphanPorts,
  orphans: readonly OrphanReminder[],
): Promise<OrphanDeleteResult> {
  const result: OrphanDeleteResult = { deleted: [], kept: [] };
  const perTxn = Math.floor(MAX_TXN_OPS / 2);
  const remove = (batch: readonly OrphanReminder[]) =>
    ports.scheduler.deleteIfUnchanged(
      batch.map((o) => ({ key: o.key, value: o.value })),
      batch.map((o) => counterKeyOf(o.key)),
    );
  for (let i = 0; i < orphans.length; i += perTxn) {
    const batch = orphans.slice(i, i + perTxn);
    const states = await instanceStates(
      ports.store,
      batch.map((o) => o.instanceId),
    );
    const still = batch.filter((orphan) => {
      const owner = reminderInstanceId(ports.store, orphan.key);
      if (owner?.instanceId === orphan.instanceId && classify(states.get(orphan.instanceId)!, owner.retention))
        return true;
      result.kept.push(orphan);
      return false;
    });
    if (still.length === 0) continue;
    if (await remove(still)) {
      result.deleted.push(...still);
      continue;
    }
    for (const orphan of still) ((await remove([orphan])) ? result.deleted : result.kept).push(orphan);
  }
  return result;
}
