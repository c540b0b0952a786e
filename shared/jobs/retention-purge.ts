/**
 * The retention purge: streams an app's instances, selects the terminal ones past their status's retention, and
 * purges them through the sidecar (default) or directly in the store (for apps that are gone). Checkpointed by a
 * continuation token so a run cut off by its time budget or instance budget resumes where it stopped.
 *
 * Safety rules, enforced here and tested against real stores:
 *   - a non-terminal instance is never purged (direct mode re-reads each instance right before deleting it);
 *   - only the keys an instance owns (computed from its own metadata, under its own key prefix) are deleted;
 *   - one instance's failure is recorded and the run goes on.
 */
import pLimit from "p-limit";
import { errorMessage, HousekeeperError } from "../errors.ts";
import type { AppRef } from "../state-store/keys.ts";
import type {
  InstancePage,
  InstanceRecord,
  InstanceSummary,
  WorkflowStateStore,
} from "../state-store/workflow-store.ts";
import type { RuntimeStatus } from "../workflow/runtime-status.ts";

/** Purges one instance through the Dapr sidecar; "not found" and "not terminal" are outcomes, not errors. */
export interface InstancePurger {
  purge(instanceId: string): Promise<"purged" | "not-found" | "not-terminal">;
}

/** Deletes the Scheduler reminders (jobs and counters) of workflow instances and their activities. */
export interface ReminderCleaner {
  /** Returns how many reminder jobs were deleted. */
  deleteRemindersOf(app: AppRef, instanceIds: readonly string[]): Promise<number>;
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
  isComplete: boolean;
  continuationToken: string | undefined;
  stoppedBecause?: "time-budget" | "max-instances";
}

const DEFAULT_CONCURRENCY = 20;
const DIRECT_BATCH_SIZE = 100;
const DIRECT_PARALLEL_BATCHES = 4;
export const DEFAULT_SAFETY_MARGIN_MS = 30_000;

export async function runRetentionPurge(ports: RetentionPorts, options: RetentionOptions): Promise<RetentionResult> {
  const app = ports.store.app;
  const mode = options.mode ?? "sidecar";
  const dryRun = options.dryRun ?? false;
  if (mode === "sidecar" && !dryRun && !ports.purger) {
    throw new HousekeeperError("bad-input", "sidecar mode needs a sidecar to purge through (--sidecar-url)");
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
    isComplete: false,
    continuationToken: undefined,
  };
  const record = (decision: PurgeDecision) => {
    options.onDecision?.(decision);
    switch (decision.action) {
      case "purge":
        result.purged++;
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
  const purgeBatch = directPurgeBatch(ports, options, select);
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

  let pageStart = decodeToken(options.continuationToken, app);
  const pages = options.instanceIds
    ? pagesOf(ports.store, options.instanceIds, record)
    : ports.store.listInstances({ cursor: pageStart, pageSize: options.pageSize });
  let firstPage = true;
  for await (const page of pages) {
    // Checked per page too, not only per due instance: a dry run, or pages with nothing due, must also stop in time.
    // Never before the first page, so every invocation moves forward.
    if (!firstPage && outOfTime()) {
      result.stoppedBecause = "time-budget";
      result.continuationToken = encodeToken(pageStart, app);
      return result;
    }
    firstPage = false;
    for (const u of page.unreadable) result.unreadable.push({ instanceID: u.instanceId, key: u.key, reason: u.reason });
    result.scanned += page.instances.length;
    const tasks: Array<Promise<void>> = [];
    const batch: Selected[] = [];
    let stopped: RetentionResult["stoppedBecause"];
    // A child workflow whose parent still exists goes with its parent (Dapr's purge is recursive); only orphans
    // are purged on their own. This also keeps two tasks from ever deleting the same child.
    const parents = page.instances.flatMap((i) => (i.parentInstanceId ? [i.parentInstanceId] : []));
    const livingParents =
      recursive && !options.instanceIds && parents.length > 0
        ? await ports.store.existingInstanceIds(parents)
        : new Set();
    for (const instance of page.instances) {
      if (instance.parentInstanceId && livingParents.has(instance.parentInstanceId)) continue;
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
        batch.push(rule);
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
          try {
            for (const outcome of await purgeBatch(chunk)) account(outcome);
          } catch (error) {
            // The batch's reminder or delete transaction failed: none of its state was deleted.
            for (const rule of chunk) record({ ...rule, action: "fail", reason: errorMessage(error) });
          }
        }),
      );
    }
    await Promise.all(tasks);
    if (stopped) {
      // Resume at this page: what was purged is gone and will not be seen again; the rest is picked up.
      result.stoppedBecause = stopped;
      result.continuationToken = encodeToken(pageStart, app);
      return result;
    }
    pageStart = page.cursor;
  }
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

/**
 * Direct mode, one batch: re-read every instance right before deleting it (it may have been re-created or purged
 * since it was listed), keep only those still terminal and due whose children are all terminal, then delete their
 * reminders (one Scheduler transaction) and their state keys (one store transaction).
 */
function directPurgeBatch(ports: RetentionPorts, options: RetentionOptions, select: ReturnType<typeof selector>) {
  const { store } = ports;
  const recursive = options.recursive ?? true;
  return async (rules: Selected[]): Promise<Outcome[]> => {
    const outcomes: Outcome[] = [];
    const records = await store.readInstances(rules.map((r) => r.instanceID));
    const doomed: Array<{ rule: Selected; family: InstanceRecord[] }> = [];
    for (const rule of rules) {
      const current = records.get(rule.instanceID);
      if (current instanceof Error) {
        outcomes.push({ decision: { ...rule, action: "fail", reason: `cannot read it: ${current.message}` } });
        continue;
      }
      if (!current) {
        outcomes.push({ decision: { ...rule, action: "already-gone", reason: "already purged" } });
        continue;
      }
      const stillDue = select(current);
      if (!current.isTerminal || !stillDue) {
        const reason = `now ${current.runtimeStatus}, no longer due`;
        outcomes.push({ decision: { ...rule, runtimeStatus: current.runtimeStatus, action: "skip", reason } });
        continue;
      }
      const children = recursive ? await collectChildren(store, current) : { records: [], blocker: undefined };
      if (children.blocker) {
        outcomes.push({ decision: { ...stillDue, action: "skip", reason: children.blocker } });
        continue;
      }
      // Children first, then the parent: an interrupted purge never leaves children without a parent to find them.
      doomed.push({ rule: stillDue, family: [...children.records, current] });
    }
    if (doomed.length === 0) return outcomes;
    const instances = doomed.flatMap((d) => d.family);
    // Reminders before state: if the Scheduler cannot be reached, nothing is deleted and the failure is the truth;
    // a terminal instance's reminders are never needed again, so deleting them first loses nothing.
    const remindersDeleted = ports.reminders
      ? await ports.reminders.deleteRemindersOf(
          store.app,
          instances.map((i) => i.instanceId),
        )
      : 0;
    const keysDeleted = await store.backend.deleteMany(
      instances.flatMap((i) => store.instanceStateKeys(i.instanceId, i.metadata)),
    );
    doomed.forEach((d, i) => {
      // Totals are per batch; they are attributed to its first decision so the sums stay exact.
      outcomes.push({
        decision: { ...d.rule, action: "purge" },
        keysDeleted: i === 0 ? keysDeleted : 0,
        remindersDeleted: i === 0 ? remindersDeleted : 0,
      });
    });
    return outcomes;
  };
}

/** The child workflows an instance created (depth first), all terminal; else the reason not to purge. */
async function collectChildren(
  store: WorkflowStateStore,
  parent: InstanceRecord,
  depth = 0,
): Promise<{ records: InstanceRecord[]; blocker: string | undefined }> {
  if (depth > 32) return { records: [], blocker: "child workflows nest deeper than 32 levels" };
  const records: InstanceRecord[] = [];
  for (const event of parent.history) {
    const childId = event.childWorkflowInstanceCreated?.instanceId;
    if (!childId) continue;
    const child = await store.readInstance(childId);
    if (!child) continue; // already purged, or hosted by another app
    if (!child.isTerminal) return { records, blocker: `child workflow ${childId} is ${child.runtimeStatus}` };
    const grandchildren = await collectChildren(store, child, depth + 1);
    if (grandchildren.blocker) return grandchildren;
    records.push(...grandchildren.records, child);
  }
  return { records, blocker: undefined };
}

/** Continuation tokens are opaque to callers: the store cursor, bound to the app it belongs to. */
function encodeToken(cursor: string | undefined, app: AppRef): string {
  return Buffer.from(JSON.stringify({ v: 1, app: app.appId, ns: app.namespace, cursor: cursor ?? null })).toString(
    "base64url",
  );
}

function decodeToken(token: string | undefined, app: AppRef): string | undefined {
  if (token === undefined || token === "") return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as {
      v?: number;
      app?: string;
      ns?: string;
      cursor?: string | null;
    };
    if (parsed.v !== 1 || typeof parsed.app !== "string") throw new Error("unknown token version");
    if (parsed.app !== app.appId || parsed.ns !== app.namespace) {
      throw new HousekeeperError(
        "bad-input",
        `continuation token belongs to app "${parsed.app}" in namespace "${parsed.ns}", not "${app.appId}" in "${app.namespace}"`,
      );
    }
    return parsed.cursor ?? undefined;
  } catch (error) {
    if (error instanceof HousekeeperError) throw error;
    throw new HousekeeperError("bad-input", "continuation token is not one this tool issued");
  }
}

/** `36h`, `30d`, `30d4h`: short, human ages for reports. */
export function formatAge(ms: number): string {
  const hours = Math.floor(ms / 3_600_000);
  if (hours < 1) return `${Math.max(0, Math.floor(ms / 60_000))}m`;
  if (hours < 48) return `${hours}h`;
  const days = Math.floor(hours / 24);
  const rest = hours % 24;
  return rest === 0 ? `${days}d` : `${days}d${rest}h`;
}
