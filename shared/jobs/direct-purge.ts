/**
 * Direct mode's batches: each due instance with the child workflows that go with it, deleted in the store by one
 * guarded deletion that re-checks what the scan read, with its Scheduler reminders read before and deleted after.
 */
import { errorMessage } from "../errors.ts";
import type { InstanceSummary, WorkflowStateStore } from "../state-store/workflow-store.ts";
import type { PurgeDecision, RetentionOptions, RetentionPorts, Selected } from "./retention-purge.ts";

export interface Outcome {
  decision: PurgeDecision;
  keysDeleted?: number;
  remindersDeleted?: number;
}

/** A due instance as the scan read it, with the rule that selected it. */
export interface Chosen {
  rule: Selected;
  instance: InstanceSummary;
}

/**
 * Direct mode, one batch, decided from the scan without reading the instances again: each instance with the child
 * workflows that go with it (all terminal, else it is skipped) is deleted in one store transaction that re-checks,
 * under lock, that every member is still what was read. Reminders are read before that transaction and deleted after
 * it, only for the families it deleted and only where unchanged.
 */
export function directPurgeBatch(ports: RetentionPorts, options: RetentionOptions) {
  const { store } = ports;
  const recursive = options.recursive ?? true;
  /** `inSlot` runs the store's delete in one of the parallel slots; undefined: not run, the batch is left. */
  return async (
    chosen: readonly Chosen[],
    inSlot: <T>(work: () => Promise<T>) => Promise<T | undefined>,
    schedulerFailed: (error: unknown) => void,
  ): Promise<Outcome[] | undefined> => {
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
    const deletion = await inSlot(() => store.deleteFamilies(families.map((f) => f.members)));
    if (!deletion) return undefined;
    const deleted = families.filter((_, i) => deletion.outcomes[i] === "deleted");
    let remindersDeleted = 0;
    let reminderFailure: string | undefined;
    if (captured && deleted.length > 0) {
      try {
        remindersDeleted = await captured.deleteFor(deleted.flatMap((f) => f.members));
      } catch (error) {
        reminderFailure = errorMessage(error);
        // The next batches' Scheduler reads and deletes would each wait out the same failure: the run stops there.
        schedulerFailed(error);
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
export async function parentsThatExist(
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

export function parentKey(instance: InstanceSummary): string {
  return `${instance.parentAppId ?? instance.appId}||${instance.parentInstanceId}`;
}
