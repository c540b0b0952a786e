/**
 * Checks that an instance's rows agree with what its metadata says, where a disagreement would show the instance as
 * something it is not. Kept apart from the decoding (workflow-store.ts), which calls these where rows are grouped:
 *   - a history row at or past the metadata's count: Dapr saves the metadata, the history and the deletion of the
 *     entries past the new lengths in one transaction (dapr pkg/runtime/wfengine/state/state.go), so such a row means
 *     the count is wrong; read by its count, a FAILED instance with its last events cut off would be listed RUNNING;
 *   - a key that exists but cannot be read as Dapr state (a Redis key of another type) is named, never taken for
 *     absent (the instance would vanish from listings).
 */
import type { WorkflowStateMetadata } from "../workflow/history-event.ts";
import type { ReadResult, StateBackend } from "./backend.ts";
import { multiEntryKey } from "./keys.ts";

const HISTORY_KEY = /^history-(\d+)$/;

/** The key the first history entry past the count would have: it must not exist. */
export function keyPastHistory(prefix: string, historyLength: number): string {
  return prefix + multiEntryKey("history", historyLength);
}

/** Among an instance's keys (those under `prefix`), the lowest history key at or past the count, if any. */
export function historyKeyPastCount(prefix: string, historyLength: number, keys: Iterable<string>): string | undefined {
  let found: { key: string; index: number } | undefined;
  for (const key of keys) {
    if (!key.startsWith(prefix)) continue;
    const match = HISTORY_KEY.exec(key.slice(prefix.length));
    const index = match ? Number(match[1]) : -1;
    if (index >= historyLength && (!found || index < found.index)) found = { key, index };
  }
  return found?.key;
}

/** Why an instance with a history key past its count is unreadable. */
export function historyPastCountReason(historyLength: number): string {
  return `metadata counts ${historyLength} history events but more are stored: the count is wrong, so its status cannot be told`;
}

/** getMany that also names the keys present but unreadable, where the store can tell (Redis); elsewhere none. */
export async function readReporting(backend: StateBackend, keys: readonly string[]): Promise<ReadResult> {
  if (backend.getManyReporting) return backend.getManyReporting(keys);
  return { values: await backend.getMany(keys), unreadable: new Map() };
}

/**
 * What the rows read by key say against the metadata: a history entry past the count, or a key
 * of the instance present but unreadable. Undefined when they agree.
 */
export function storedCountsProblem(
  prefix: string,
  metadata: WorkflowStateMetadata,
  values: ReadonlyMap<string, Uint8Array>,
  unreadable: ReadonlyMap<string, string>,
): { key: string; reason: string } | undefined {
  const past = keyPastHistory(prefix, metadata.historyLength);
  if (values.has(past) || unreadable.has(past)) {
    return { key: past, reason: historyPastCountReason(metadata.historyLength) };
  }
  for (const [key, reason] of unreadable) if (key.startsWith(prefix)) return { key, reason };
  return undefined;
}
