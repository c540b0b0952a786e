/**
 * The retention purge: streams an app's instances, selects the terminal ones past their status's retention, and
 * purges them through the sidecar (default) or directly in the store (for apps that are gone). Checkpointed by a
 * continuation token so a run cut off by its time budget or instance budget resumes where it stopped.
 *
 * Safety rules, enforced here and tested against real stores:
 *   - a non-terminal instance is never purged; direct mode deletes only if, in the deleting transaction and under
 *     lock, the instance is still exactly what the scan decided on (an instance that gained an event or was started
 *     again under the same ID since is skipped, one deleted by someone else meanwhile is "already gone");
 *   - only the keys an instance owns (computed from its own metadata, under its own key prefix) are deleted;
 *   - one instance's failure is recorded and the run goes on.
 */
import pLimit from "p-limit";
import { errorMessage, HousekeeperError } from "../errors.ts";
import type { AppRef } from "../state-store/keys.ts";
import type { InstancePage, InstanceSummary, WorkflowStateStore } from "../state-store/workflow-store.ts";
import { formatAge } from "../util/format-age.ts";
import type { RuntimeStatus } from "../workflow/runtime-status.ts";
import { effectiveShard, type Shard } from "../workflow/shard.ts";
import { type Chosen, directPurgeBatch, type Outcome, parentKey, parentsThatExist } from "./direct-purge.ts";
import { decodeToken, encodeToken } from "./purge-token.ts";

/** Purges one instance through the Dapr sidecar; "not found" and "not terminal" are outcomes, not errors. */
export interface InstancePurger {
  purge(instanceId: string): Promise<"purged" | "not-found" | "not-terminal">;
}

/** A workflow instance by app and ID (an InstanceSummary is one). */
export interface InstanceRef {
  appId: string;
  namespace: string;
  instanceId: string;
}

/** Deletes the Scheduler reminders (jobs and counters) of directly purged instances. */
export interface ReminderCleaner {
  /** Reads the instances' reminders now, before their state is deleted. */
  capture(instances: readonly InstanceRef[]): Promise<CapturedReminders>;
}

export interface CapturedReminders {
  /** Deletes the captured reminders of these instances that are still unchanged; returns how many jobs went. */
  deleteFor(instances: readonly InstanceRef[]): Promise<number>;
}

export interface RetentionPorts {
  store: WorkflowStateStore;
  /** Required in sidecar mode. */
  purger?: InstancePurger;
  /** Direct mode deletes reminders through it; without it, reminders are left for Dapr to discard. */
  reminders?: ReminderCleaner;
}

export type PurgeMode = "sidecar" | "direct";
export type AgeFrom = "completed" | "created";

export interface RetentionOptions {
  /** Retention per terminal status in milliseconds; statuses not listed are kept. */
  retention: Partial<Record<RuntimeStatus, number>>;
  /** Measure age from completion (last update, the default) or from creation (the Dapr CLI's behaviour). */
  ageFrom?: AgeFrom;
  mode?: PurgeMode;
  dryRun?: boolean;
  /** Stop after this many purge attempts; the token lets the next run continue. */
  maxInstances?: number;
  /** Instances purged side by side (default 20). */
  concurrency?: number;
  pageSize?: number;
  continuationToken?: string;
  /**
   * Only this shard of the app's instances (docs/scale.md): N runs with shards 1/N…N/N purge, together, what one
   * unsharded run purges, and may run at the same time. The continuation token is bound to the shard.
   */
  shard?: Shard | undefined;
  /** Milliseconds left for this run (e.g. Lambda's getRemainingTimeInMillis); new work stops below the margin. */
  timeLeftMs?: () => number;
  safetyMarginMs?: number;
  /** Direct mode: purge child workflows together with their parent (as Dapr's purge API does). Default true. */
  recursive?: boolean;
  /**
   * Purge exactly these instances (by ID) instead of scanning the app; each is still read and must be terminal and
   * match the retention. An ID that does not exist is reported as a failure ("no such instance"), as Dapr does.
   */
  instanceIds?: readonly string[];
  /** Called for every decision as it is made (a CLI prints them; a Lambda counts them). */
  onDecision?: (decision: PurgeDecision) => void;
  /** Called after each page is read, with the instances scanned so far (a CLI's progress line). */
  onScanned?: (scanned: number) => void;
  /** How many decisions of each kind the result lists keep (default 1000); the counts are always exact. */
  reportLimit?: number;
  now?: Date;
}

export interface PurgeDecision {
  instanceID: string;
  runtimeStatus: RuntimeStatus;
  action: "purge" | "would-purge" | "skip" | "fail" | "already-gone";
  /** The rule that selected it, e.g. "COMPLETED older than 720h0m0s (age 800h)", or why it was skipped/failed. */
  reason: string;
  ageMs?: number;
  /** Direct mode: the child workflows purged with it (`app/instance` when in another app). */
  children?: string[];
}

export interface RetentionResult {
  app: AppRef;
  mode: PurgeMode;
  dryRun: boolean;
  scanned: number;
  matched: number;
  purged: number;
  alreadyGone: number;
  /** Exact counts; the lists below them stop at reportLimit. */
  skippedCount: number;
  failedCount: number;
  skipped: Array<{ instanceID: string; reason: string }>;
  failed: Array<{ instanceID: string; error: string }>;
  /**
   * Due instances this run saw but left for the next one (it stopped at the time budget or maxInstances): a lower
   * bound of the backlog, since the rest of the store is not scanned to count it.
   */
  deferred: number;
  /** Dry run: what would be purged (up to reportLimit). */
  wouldPurge: PurgeDecision[];
  purgedByStatus: Partial<Record<RuntimeStatus, number>>;
  /** Instances that could not be read at all (key + reason); never purged. */
  unreadable: Array<{ instanceID: string; key: string; reason: string }>;
  keysDeleted: number;
  remindersDeleted: number;
  /** Direct mode: child workflows purged together with their parents (not counted in `purged`). */
  childrenPurged: number;
  isComplete: boolean;
  continuationToken: string | undefined;
  stoppedBecause?: "time-budget" | "max-instances";
}

const DEFAULT_CONCURRENCY = 20;
const DIRECT_BATCH_SIZE = 100;
const DIRECT_PARALLEL_BATCHES = 4;
/** Direct mode: batches that may be outstanding at once (running or waiting for one of the parallel slots). */
const DIRECT_WINDOW_BATCHES = 2 * DIRECT_PARALLEL_BATCHES;
/** Sidecar mode: pages of purges that may be outstanding at once. */
const SIDECAR_WINDOW_PAGES = 2;
export const DEFAULT_SAFETY_MARGIN_MS = 30_000;

export async function runRetentionPurge(ports: RetentionPorts, options: RetentionOptions): Promise<RetentionResult> {
  const app = ports.store.app;
  const mode = options.mode ?? "sidecar";
  const dryRun = options.dryRun ?? false;
  if (mode === "sidecar" && !dryRun && !ports.purger) {
    throw new HousekeeperError("bad-input", "sidecar mode needs a sidecar to purge through (--sidecar-url)");
  }
  const shard = effectiveShard(options.shard);
  if (shard && options.instanceIds) {
    throw new HousekeeperError("bad-input", "a shard splits a scan of the app; it cannot go with instance IDs");
  }
  const now = options.now ?? new Date();
  const limit = options.reportLimit ?? 1000;
  const result: RetentionResult = {
    app,
    mode,
    dryRun,
    scanned: 0,
    matched: 0,
    purged: 0,
    alreadyGone: 0,
    skippedCount: 0,
    failedCount: 0,
    skipped: [],
    failed: [],
    deferred: 0,
    wouldPurge: [],
    purgedByStatus: {},
    unreadable: [],
    keysDeleted: 0,
    remindersDeleted: 0,
    childrenPurged: 0,
    isComplete: false,
    continuationToken: undefined,
  };
  const record = (decision: PurgeDecision) => {
    options.onDecision?.(decision);
    switch (decision.action) {
      case "purge":
        result.purged++;
        result.childrenPurged += decision.children?.length ?? 0;
        result.purgedByStatus[decision.runtimeStatus] = (result.purgedByStatus[decision.runtimeStatus] ?? 0) + 1;
        break;
      case "would-purge":
        if (result.wouldPurge.length < limit) result.wouldPurge.push(decision);
        break;
      case "already-gone":
        result.alreadyGone++;
        break;
      case "skip":
        result.skippedCount++;
        if (result.skipped.length < limit)
          result.skipped.push({ instanceID: decision.instanceID, reason: decision.reason });
        break;
      case "fail":
        result.failedCount++;
        if (result.failed.length < limit)
          result.failed.push({ instanceID: decision.instanceID, error: decision.reason });
        break;
    }
  };

  const select = selector(options.retention, options.ageFrom ?? "completed", now);
  const recursive = options.recursive ?? true;
  const purgeOne = sidecarPurge(ports);
  const purgeBatch = directPurgeBatch(ports, options);
  const run = pLimit(options.concurrency ?? DEFAULT_CONCURRENCY);
  // Direct mode works in batches (a Scheduler read, one delete statement or transaction in the store and one Scheduler
  // transaction per batch); a few batches' store deletes run side by side, bounded by the store's pool anyway.
  const runBatch = pLimit(Math.min(options.concurrency ?? DEFAULT_CONCURRENCY, DIRECT_PARALLEL_BATCHES));
  const account = (outcome: Outcome) => {
    result.keysDeleted += outcome.keysDeleted ?? 0;
    result.remindersDeleted += outcome.remindersDeleted ?? 0;
    record(outcome.decision);
  };
  const margin = options.safetyMarginMs ?? DEFAULT_SAFETY_MARGIN_MS;
  const outOfTime = () => options.timeLeftMs !== undefined && options.timeLeftMs() < margin;
  let attempts = 0;

  // Sidecar purges slide across pages: the next page is decided while the last one's purges are still in flight, so
  // the concurrency never drains at a page boundary and one slow request holds up nothing but itself. At most
  // SIDECAR_WINDOW_PAGES pages' worth stay outstanding; a stop waits for all of them before it returns its token.
  // Direct batches slide the same way (the next page is read and decided while this one's batches delete), at most
  // DIRECT_WINDOW_BATCHES of them outstanding.
  const inFlight = new Set<Promise<void>>();
  let slotFreed: (() => void) | undefined;
  const windowSize =
    mode === "direct" ? DIRECT_WINDOW_BATCHES : Math.max(1, (options.pageSize ?? 200) * SIDECAR_WINDOW_PAGES);
  // The first delete that failed as a whole (wrapped: a thrown value may itself be undefined).
  let storeFailure: { error: unknown } | undefined;
  /** Waits for everything in flight; then a store that failed a whole delete stops the run. */
  const settleAll = async () => {
    await Promise.all(inFlight);
    if (storeFailure) {
      // A store that failed a whole delete is not asked again in this run (each batch would wait out the same
      // timeout); the failed batches were reported one by one. A re-run resumes from the listing.
      // Adapters name their store; a bare driver error gets the store's location so the line still says where.
      const failure = storeFailure.error;
      const named = failure instanceof HousekeeperError ? failure : undefined;
      const message = named ? named.message : `${ports.store.backend.location}: ${errorMessage(failure)}`;
      throw new HousekeeperError(
        named?.code ?? "store-error",
        `${message} (the purge stopped there: ${result.purged} purged in this run, ${result.failedCount} not purged, the rest left for the next run)`,
        { cause: failure },
      );
    }
  };
  let pageStart = decodeToken(options.continuationToken, app, shard);
  const pages = options.instanceIds
    ? pagesOf(ports.store, options.instanceIds, record)
    : ports.store.listInstances({ cursor: pageStart, pageSize: options.pageSize, shard });
  let firstPage = true;
  try {
    for await (const page of pages) {
      // Checked per page too, not only per due instance: a dry run, or pages with nothing due, must also stop in time.
      // Never before the first page, so every invocation moves forward.
      if (!firstPage && outOfTime()) {
        await settleAll();
        result.stoppedBecause = "time-budget";
        result.continuationToken = encodeToken(pageStart, app, shard);
        return result;
      }
      firstPage = false;
      for (const u of page.unreadable)
        result.unreadable.push({ instanceID: u.instanceId, key: u.key, reason: u.reason });
      result.scanned += page.instances.length;
      options.onScanned?.(result.scanned);
      const tasks: Array<Promise<void>> = [];
      const batch: Chosen[] = [];
      let stopped: RetentionResult["stoppedBecause"];
      // A child workflow whose parent still exists goes with its parent (Dapr's purge is recursive); only orphans
      // are purged on their own. This also keeps two tasks from ever deleting the same child.
      // A parent deleted by a batch still in flight must be seen as gone, as it was when pages did not overlap.
      if (mode === "direct" && page.instances.some((i) => i.parentInstanceId)) await settleAll();
      const livingParents =
        recursive && !options.instanceIds ? await parentsThatExist(ports.store, page.instances) : new Set<string>();
      for (const instance of page.instances) {
        if (instance.parentInstanceId && livingParents.has(parentKey(instance))) continue;
        const rule = select(instance);
        if (!rule) {
          if (options.instanceIds && !stopped) {
            const reason = instance.isTerminal
              ? `${instance.runtimeStatus} is younger than its retention`
              : `${instance.runtimeStatus} is not a terminal status`;
            record({ instanceID: instance.instanceId, runtimeStatus: instance.runtimeStatus, action: "skip", reason });
          }
          continue;
        }
        if (stopped) {
          // Left for the next run, which resumes at this page: only counted, for the backlog figure.
          result.deferred++;
          continue;
        }
        result.matched++;
        if (dryRun) {
          record({ ...rule, action: "would-purge" });
          continue;
        }
        if (options.maxInstances !== undefined && attempts >= options.maxInstances) {
          stopped = "max-instances";
          result.deferred++;
          continue;
        }
        if (outOfTime()) {
          stopped = "time-budget";
          result.deferred++;
          continue;
        }
        attempts++;
        if (mode === "direct") {
          batch.push({ rule, instance });
          continue;
        }
        tasks.push(
          run(async () => {
            try {
              account(await purgeOne(rule));
            } catch (error) {
              record({ ...rule, action: "fail", reason: errorMessage(error) });
            }
          }),
        );
      }
      for (let i = 0; i < batch.length; i += DIRECT_BATCH_SIZE) {
        const chunk = batch.slice(i, i + DIRECT_BATCH_SIZE);
        // Only the store's delete takes one of the parallel slots: the Scheduler reads and deletes around it overlap
        // with other batches' deletes.
        const inSlot = <T>(work: () => Promise<T>) =>
          runBatch(async () => {
            // After a store-level failure the next batches would each wait out the same timeout: leave them.
            if (storeFailure) return undefined;
            return work();
          });
        tasks.push(
          (async () => {
            if (storeFailure) {
              result.deferred += chunk.length;
              return;
            }
            try {
              const outcomes = await purgeBatch(chunk, inSlot, (error) => {
                storeFailure ??= { error };
              });
              if (!outcomes) result.deferred += chunk.length;
              else for (const outcome of outcomes) account(outcome);
            } catch (error) {
              // The batch's delete transaction failed: rolled back, or (a lost acknowledgement) committed unseen. Either
              // way its reminders are kept; a re-run skips what is gone and `scheduler orphans` finds those reminders.
              storeFailure ??= { error };
              for (const { rule } of chunk) record({ ...rule, action: "fail", reason: errorMessage(error) });
            }
          })(),
        );
      }
      for (const task of tasks) {
        inFlight.add(task);
        void task.finally(() => {
          inFlight.delete(task);
          slotFreed?.();
        });
      }
      // Woken by each settled task (a Promise.race over the whole window would cost O(window) per wake-up).
      while (inFlight.size > windowSize) await new Promise<void>((resolve) => (slotFreed = resolve));
      if (storeFailure) await settleAll();
      if (stopped) {
        await settleAll();
        // Resume at this page: what was purged is gone and will not be seen again; the rest is picked up.
        result.stoppedBecause = stopped;
        result.continuationToken = encodeToken(pageStart, app, shard);
        return result;
      }
      pageStart = page.cursor;
    }
  } catch (error) {
    // A listing that failed while batches were still deleting: they finish (and report) first, and a failed delete's
    // error, where the purge stopped, is the one the run ends with.
    await Promise.all(inFlight);
    if (storeFailure) await settleAll();
    throw error;
  }
  await settleAll();
  result.isComplete = true;
  return result;
}

/** Pages of the named instances, read one by one; missing ones are reported as failures right away. */
async function* pagesOf(
  store: WorkflowStateStore,
  instanceIds: readonly string[],
  record: (decision: PurgeDecision) => void,
): AsyncGenerator<InstancePage> {
  const instances: InstanceSummary[] = [];
  for (const id of instanceIds) {
    const instance = await store.readInstance(id);
    if (instance) instances.push(instance);
    else record({ instanceID: id, runtimeStatus: "PENDING", action: "fail", reason: "no such instance exists" });
  }
  yield { instances, unreadable: [], cursor: undefined };
}

export type Selected = Omit<PurgeDecision, "action">;

/** Decides whether an instance is due, and says by which rule. */
function selector(retention: RetentionOptions["retention"], ageFrom: AgeFrom, now: Date) {
  return (instance: InstanceSummary): Selected | undefined => {
    if (!instance.isTerminal) return undefined;
    const keepFor = retention[instance.runtimeStatus];
    if (keepFor === undefined) return undefined;
    const since = ageFrom === "created" ? instance.createdAt : (instance.completedAt ?? instance.lastUpdatedAt);
    if (!since) return undefined;
    const ageMs = now.getTime() - since.getTime();
    if (ageMs < keepFor) return undefined;
    return {
      instanceID: instance.instanceId,
      runtimeStatus: instance.runtimeStatus,
      ageMs,
      reason: `${instance.runtimeStatus} ${ageFrom === "created" ? "created" : "finished"} ${formatAge(ageMs)} ago, retention ${formatAge(keepFor)}`,
    };
  };
}

function sidecarPurge(ports: RetentionPorts) {
  return async (rule: Selected): Promise<Outcome> => {
    const outcome = await ports.purger!.purge(rule.instanceID);
    if (outcome === "not-found") return { decision: { ...rule, action: "already-gone", reason: "already purged" } };
    if (outcome === "not-terminal") {
      return { decision: { ...rule, action: "skip", reason: "the sidecar says it is not terminal" } };
    }
    return { decision: { ...rule, action: "purge" } };
  };
}

export { formatAge } from "../util/format-age.ts";
