/**
 * Reads many instances whole (history and inbox) in two round trips, through WorkflowStateStore.readInstances, and
 * shapes the answer per instance for the stuck report.
 */
import type { InstanceRecord, WorkflowStateStore } from "../../state-store/workflow-store.ts";

export type ReadOutcome =
  | { instanceId: string; record: InstanceRecord }
  | { instanceId: string; missing: true }
  | { instanceId: string; key: string; reason: string };

export async function readInstances(store: WorkflowStateStore, ids: readonly string[]): Promise<ReadOutcome[]> {
  const read = await store.readInstances(ids);
  return ids.map((instanceId): ReadOutcome => {
    const result = read.get(instanceId);
    if (result === undefined) return { instanceId, missing: true }; // purged since it was listed
    if (result instanceof Error) return { instanceId, key: result.key, reason: result.reason };
    return { instanceId, record: result };
  });
}
