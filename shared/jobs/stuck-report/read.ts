/**
 * Reads many instances whole (history and inbox) in two round trips — all their metadata, then all their events —
 * where WorkflowStateStore.readInstance takes two per instance. Decoding and status derivation are the workflow
 * module's own (decodeMetadata, decodeHistoryEvent, deriveState), so the records equal readInstance's except for
 * `customStatus`, which the stuck report does not use and does not read.
 */
import { errorMessage } from "../../errors.ts";
import { instanceKeyPrefix, METADATA_KEY, multiEntryKey } from "../../state-store/keys.ts";
import type { InstanceRecord, WorkflowStateStore } from "../../state-store/workflow-store.ts";
import type { HistoryEvent, WorkflowStateMetadata } from "../../workflow/history-event.ts";
import { decodeHistoryEvent, decodeMetadata } from "../../workflow/history-event.ts";
import { deriveState } from "../../workflow/runtime-status.ts";

export type ReadOutcome =
  | { instanceId: string; record: InstanceRecord }
  | { instanceId: string; missing: true }
  | { instanceId: string; key: string; reason: string };

export async function readInstances(store: WorkflowStateStore, ids: readonly string[]): Promise<ReadOutcome[]> {
  const { app, backend } = store;
  const metaKeys = ids.map((id) => instanceKeyPrefix(app, id) + METADATA_KEY);
  const metas = await backend.getMany(metaKeys);
  const planned: Array<{ id: string; metadata: WorkflowStateMetadata; history: string[]; inbox: string[] }> = [];
  const outcomes = new Map<string, ReadOutcome>();
  ids.forEach((id, i) => {
    const bytes = metas.get(metaKeys[i]!);
    if (!bytes) {
      outcomes.set(id, { instanceId: id, missing: true }); // purged since it was listed
      return;
    }
    try {
      const metadata = decodeMetadata(bytes);
      const prefix = instanceKeyPrefix(app, id);
      const keys = (kind: "history" | "inbox", n: number) =>
        Array.from({ length: n }, (_, j) => prefix + multiEntryKey(kind, j));
      planned.push({
        id,
        metadata,
        history: keys("history", metadata.historyLength),
        inbox: keys("inbox", metadata.inboxLength),
      });
    } catch (error) {
      outcomes.set(id, { instanceId: id, key: metaKeys[i]!, reason: errorMessage(error) });
    }
  });

  const values = await backend.getMany(planned.flatMap((p) => [...p.history, ...p.inbox]));
  for (const plan of planned) {
    let failedKey = "";
    try {
      const decode = (keys: string[], required: boolean): HistoryEvent[] => {
        const events: HistoryEvent[] = [];
        for (const key of keys) {
          failedKey = key;
          const bytes = values.get(key);
          if (!bytes) {
            if (required) throw new Error(`metadata counts ${keys.length} history events but this key is missing`);
            continue;
          }
          events.push(decodeHistoryEvent(bytes));
        }
        return events;
      };
      const history = decode(plan.history, true);
      const inbox = decode(plan.inbox, false);
      const derived = deriveState(history, inbox);
      outcomes.set(plan.id, {
        instanceId: plan.id,
        record: {
          namespace: app.namespace,
          appId: app.appId,
          instanceId: plan.id,
          name: derived.name,
          runtimeStatus: derived.runtimeStatus,
          createdAt: derived.createdAt,
          lastUpdatedAt: derived.lastUpdatedAt,
          completedAt: derived.completedAt,
          customStatus: undefined,
          failureMessage: derived.failureDetails?.errorMessage,
          parentInstanceId: derived.parentInstanceId,
          isTerminal: derived.isTerminal,
          metadata: plan.metadata,
          input: derived.input,
          output: derived.output,
          failureDetails: derived.failureDetails,
          history,
          inbox,
        },
      });
    } catch (error) {
      outcomes.set(plan.id, { instanceId: plan.id, key: failedKey, reason: errorMessage(error) });
    }
  }
  return ids.map((id) => outcomes.get(id)!);
}
