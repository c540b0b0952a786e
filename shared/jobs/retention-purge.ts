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
import { effectiveShard, formatShard, type Shard } from "../workflow/shard.ts";

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
  // Direct mode works in batches (one read, one reminder transaction and one delete transaction per batch); a few
  // batches run side by side, bounded by the store's connection pool anyway.
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
    for (const u of page.unreadable) result.unreadable.push({ instanceID: u.instanceId, key: u.key, reason: u.reason });
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
      tasks.push(
        runBatch(async () => {
          // After a store-level failure the next batches would each wait out the same timeout: leave them.
          if (storeFailure) {
            result.deferred += chunk.length;
            return;
          }
          try {
            for (const outcome of await purgeBatch(chunk)) account(outcome);
          } catch (error) {
            // The batch's delete transaction failed: rolled back, or (a lost acknowledgement) committed unseen. Either
            // way its reminders are kept; a re-run skips what is gone and `scheduler orphans` finds those reminders.
            storeFailure ??= { error };
            for (const { rule } of chunk) record({ ...rule, action: "fail", reason: errorMessage(error) });
          }
        }),
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

type Selected = Omit<PurgeDecision, "action">;

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

interface Outcome {
  decision: PurgeDecision;
  keysDeleted?: number;
  remindersDeleted?: number;
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

/** A due instance as the scan read it, with the rule that selected it. */
interface Chosen {
  rule: Selected;
  instance: InstanceSummary;
}

/**
 * Direct mode, one batch, decided from the scan without reading the instances again: each instance with the child
 * workflows that go with it (all terminal, else it is skipped) is deleted in one store transaction that re-checks,
 * under lock, that every member is still what was read. Reminders are read before that transaction and deleted after
 * it, only for the families it deleted and only where unchanged.
 */
function directPurgeBatch(ports: RetentionPorts, options: RetentionOptions) {
  const { store } = ports;
  const recursive = options.recursive ?? true;
  return async (chosen: readonly Chosen[]): Promise<Outcome[]> => {
    const outcomes: Outcome[] = [];
    const families: Array<{ rule: Selected; members: InstanceSummary[] }> = [];
    const appHasState = new Map<string, Promise<boolean>>();
    for (const { rule, instance } of chosen) {
      const children = recursive
        ? await collectChildren(store, instance, appHasState)
        : { members: [], blocker: undefined };
      if (children.blocker) {
        outcomes.push({ decision: { ...rule, action: "skip", reason: children.blocker } });
        continue;
      }
      families.push({ rule, members: [instance, ...children.members] });
    }
    if (families.length === 0) return outcomes;
    const captured = ports.reminders ? await ports.reminders.capture(families.flatMap((f) => f.members)) : undefined;
    const deletion = await store.deleteFamilies(families.map((f) => f.members));
    const deleted = families.filter((_, i) => deletion.outcomes[i] === "deleted");
    let remindersDeleted = 0;
    let reminderFailure: string | undefined;
    if (captured && deleted.length > 0) {
      try {
        remindersDeleted = await captured.deleteFor(deleted.flatMap((f) => f.members));
      } catch (error) {
        reminderFailure = errorMessage(error);
      }
    }
    families.forEach(({ rule, members }, i) => {
      // Batch totals go with the first outcome so the run's sums stay exact.
      const totals = i === 0 ? { keysDeleted: deletion.keysDeleted, remindersDeleted } : {};
      switch (deletion.outcomes[i]) {
        case "gone":
          outcomes.push({ decision: { ...rule, action: "already-gone", reason: "already purged" }, ...totals });
          return;
        case "changed":
          outcomes.push({
            decision: { ...rule, action: "skip", reason: "changed since it was selected (a new event or a new run)" },
            ...totals,
          });
          return;
      }
      const children = members
        .slice(1)
        .map((c) => (c.appId === store.app.appId ? c.instanceId : `${c.appId}/${c.instanceId}`));
      const decision: PurgeDecision = reminderFailure
        ? {
            ...rule,
            action: "fail",
            reason: `its state was purged but its Scheduler reminders were not (${reminderFailure}); \`housekeeper scheduler orphans --delete\` removes them`,
          }
        : { ...rule, action: "purge" };
      if (children.length > 0) decision.children = children;
      outcomes.push({ decision, ...totals });
    });
    return outcomes;
  };
}

/**
 * The child workflows that go with an instance (depth first, children before their own children's parents), each
 * terminal; else the reason not to purge it. As Dapr's recursive purge: a child that no longer exists is fine, one
 * that is not finished stops the purge, and a cross-app child is looked for in its own app (dapr
 * pkg/actors/targets/workflow/orchestrator/recursivepurge.go). When that app has no state at all in this store, its
 * state lives elsewhere and the child cannot be checked: the parent is skipped.
 */
async function collectChildren(
  store: WorkflowStateStore,
  parent: InstanceSummary,
  appHasState: Map<string, Promise<boolean>>,
  depth = 0,
): Promise<{ members: InstanceSummary[]; blocker: string | undefined }> {
  if (parent.childWorkflows.length === 0) return { members: [], blocker: undefined };
  if (depth >= 32) return { members: [], blocker: "child workflows nest deeper than 32 levels" };
  const members: InstanceSummary[] = [];
  const byApp = groupBy(parent.childWorkflows, (child) => child.appId);
  for (const [appId, refs] of byApp) {
    const childStore = store.forApp({ appId, namespace: parent.namespace });
    const read = await childStore.readSummaries(refs.map((r) => r.instanceId));
    const elsewhere = appId !== parent.appId ? ` (app ${appId})` : "";
    const unreadable = read.unreadable[0];
    if (unreadable) {
      return {
        members,
        blocker: `child workflow ${unreadable.instanceId}${elsewhere} cannot be read: ${unreadable.reason}`,
      };
    }
    if (elsewhere && read.instances.length < refs.length) {
      if (!appHasState.has(appId)) appHasState.set(appId, childStore.hasAnyInstance());
      if (!(await appHasState.get(appId))) {
        const missing = refs.find((r) => !read.instances.some((i) => i.instanceId === r.instanceId))!;
        return {
          members,
          blocker: `child workflow ${missing.instanceId} runs in app ${appId}, whose state is not in this store`,
        };
      }
    }
    for (const child of read.instances) {
      if (!child.isTerminal) {
        return { members, blocker: `child workflow ${child.instanceId}${elsewhere} is ${child.runtimeStatus}` };
      }
      const grandchildren = await collectChildren(store, child, appHasState, depth + 1);
      if (grandchildren.blocker) return grandchildren;
      members.push(child, ...grandchildren.members);
    }
  }
  return { members, blocker: undefined };
}

/** `app||instance` of each instance's parent that still exists (same app or, for a cross-app child, the parent's). */
async function parentsThatExist(
  store: WorkflowStateStore,
  instances: readonly InstanceSummary[],
): Promise<Set<string>> {
  const living = new Set<string>();
  const withParent = instances.filter((i) => i.parentInstanceId);
  const byApp = groupBy(withParent, (i) => i.parentAppId ?? i.appId);
  for (const [appId, children] of byApp) {
    const parentStore = store.forApp({ appId, namespace: store.app.namespace });
    for (const id of await parentStore.existingInstanceIds(children.map((c) => c.parentInstanceId!))) {
      living.add(`${appId}||${id}`);
    }
  }
  return living;
}

/** Map.groupBy, which Node 20 lacks. */
function groupBy<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  return groups;
}

function parentKey(instance: InstanceSummary): string {
  return `${instance.parentAppId ?? instance.appId}||${instance.parentInstanceId}`;
}

/**
 * Continuation tokens are opaque to callers: the store cursor, bound to the app and the shard it belongs to (a
 * sharded listing's cursor means nothing to another shard or shard count). Unsharded tokens carry no shard.
 */
function encodeToken(cursor: string | undefined, app: AppRef, shard: Shard | undefined): string {
  const token: Record<string, unknown> = { v: 1, app: app.appId, ns: app.namespace, cursor: cursor ?? null };
  if (shard) token.shard = formatShard(shard);
  return Buffer.from(JSON.stringify(token)).toString("base64url");
}

function decodeToken(token: string | undefined, app: AppRef, shard: Shard | undefined): string | undefined {
  if (token === undefined || token === "") return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as {
      v?: number;
      app?: string;
      ns?: string;
      cursor?: string | null;
      shard?: unknown;
    };
    if (parsed.v !== 1 || typeof parsed.app !== "string") throw new Error("unknown token version");
    if (parsed.app !== app.appId || parsed.ns !== app.namespace) {
      throw new HousekeeperError(
        "bad-input",
        `continuation token belongs to app "${parsed.app}" in namespace "${parsed.ns}", not "${app.appId}" in "${app.namespace}"`,
      );
    }
    const expected = shard ? formatShard(shard) : undefined;
    if ((parsed.shard ?? undefined) !== expected) {
      const was = typeof parsed.shard === "string" ? `shard ${parsed.shard}` : "an unsharded run";
      throw new HousekeeperError(
        "bad-input",
        `continuation token belongs to ${was}, not ${expected ? `shard ${expected}` : "an unsharded run"}`,
      );
    }
    return parsed.cursor ?? undefined;
  } catch (error) {
    if (error instanceof HousekeeperError) throw error;
    throw new HousekeeperError("bad-input", "continuation token is not one this tool issued");
  }
}

export { formatAge } from "../util/format-age.ts";
