/**
 * One page of a range scan turned into instances: the rows arrive in key order, grouped by instance, each instance's
 * history, inbox and custom status before its metadata; the page is cut before the first instance still waiting for
 * its metadata row.
 */
import { errorMessage } from "../errors.ts";
import { compareUtf8 } from "../util/compare-utf8.ts";
import type { EntryPage } from "./backend.ts";
import {
  buildRecord,
  decodeBoundedMetadata,
  decodeInstance,
  KeyedDecodeError,
  oddInstanceId,
} from "./instance-decode.ts";
import type { AppRef } from "./keys.ts";
import { instanceKeyPrefix, METADATA_KEY, splitInstanceKey, workflowKeyPrefix } from "./keys.ts";
import { historyKeyPastCount, historyPastCountReason } from "./stored-counts.ts";
import type {
  InstanceEvents,
  InstancePage,
  InstanceSummary,
  ListOptions,
  UnreadableInstance,
} from "./workflow-store.ts";

/** A page never grows past this many rows: an instance with more is reported as unreadable, not held in memory. */
const MAX_ROWS_PER_PAGE = 200_000;
/** State keys a summary needs: history, inbox, custom status, metadata (signatures and the like are skipped). */
const LISTED_STATE_KEY = /^(?:history-\d+|inbox-\d+|customStatus|metadata)$/;

export function instancesFromRows(
  app: AppRef,
  page: EntryPage,
  after: string | undefined,
  rowsPerPage: number,
  withEvents: ListOptions["withEvents"],
): InstancePage | "too-small" {
  // Rows in scan order; unreadable ones (no value) are merged back in where they belong.
  const rows = mergeUnreadable(page);
  const groups = new Map<
    string,
    { rows: Map<string, Uint8Array>; first: number; bad?: { key: string; reason: string } }
  >();
  const completed: Array<{ id: string; at: number }> = [];
  const prefixLength = workflowKeyPrefix(app).length; // every row of the scan starts with it
  const oddIds: Array<UnreadableInstance & { at: number }> = [];
  rows.forEach((row, at) => {
    const parsed = splitInstanceKey(row.key, prefixLength);
    const odd = parsed ? undefined : oddInstanceId(app, row.key);
    if (odd) {
      oddIds.push({ ...odd, at });
      return;
    }
    if (!parsed || !LISTED_STATE_KEY.test(parsed.stateKey)) return;
    let group = groups.get(parsed.instanceId);
    if (!group) {
      group = { rows: new Map(), first: at };
      groups.set(parsed.instanceId, group);
    }
    if (row.value) group.rows.set(row.key, row.value);
    if (row.bad) group.bad ??= { key: row.key, reason: row.bad };
    if (parsed.stateKey === METADATA_KEY) completed.push({ id: parsed.instanceId, at });
  });
  // Cut before the first row of the first instance still waiting for its metadata; the next page starts there.
  let cut = rows.length;
  if (!page.done) {
    const done = new Set(completed.map((c) => c.id));
    for (const [id, group] of groups) if (!done.has(id)) cut = Math.min(cut, group.first);
    // A finished instance whose rows straddle the cut goes to the next page whole (in a store's case-insensitive
    // order, IDs that are not byte-prefix-related can still interleave).
    for (let moved = true; moved; ) {
      moved = false;
      for (const { id, at } of completed) {
        const first = groups.get(id)!.first;
        if (first < cut && at >= cut) {
          cut = first;
          moved = true;
        }
      }
    }
    if (cut === 0) {
      if (rowsPerPage < MAX_ROWS_PER_PAGE) return "too-small";
      cut = rows.length; // an instance beyond any page: skip past it; its metadata row will show it unreadable
    }
  }
  const instances: InstanceSummary[] = [];
  const unreadable: UnreadableInstance[] = [];
  const events = withEvents ? new Map<string, InstanceEvents>() : undefined;
  for (const odd of oddIds) {
    if (odd.at < cut) unreadable.push({ instanceId: odd.instanceId, key: odd.key, reason: odd.reason });
  }
  for (const { id, at } of completed) {
    if (at >= cut) continue;
    const group = groups.get(id)!;
    const metaKey = instanceKeyPrefix(app, id) + METADATA_KEY;
    if (group.bad) {
      unreadable.push({ instanceId: id, key: group.bad.key, reason: group.bad.reason });
      continue;
    }
    try {
      const metadataBytes = group.rows.get(metaKey)!;
      const metadata = decodeBoundedMetadata(metadataBytes);
      const prefix = instanceKeyPrefix(app, id);
      const past = historyKeyPastCount(prefix, metadata.historyLength, group.rows.keys());
      if (past) {
        unreadable.push({ instanceId: id, key: past, reason: historyPastCountReason(metadata.historyLength) });
        continue;
      }
      if (withEvents) {
        // One decode of each row serves the summary and, for the chosen few, the analysis.
        const decoded = decodeInstance(app, id, metadata, metadataBytes, group.rows, "analysis");
        instances.push(decoded.summary);
        if (withEvents(decoded.summary)) events!.set(id, { history: decoded.history, inbox: decoded.inbox });
      } else {
        instances.push(buildRecord(app, id, metadata, metadataBytes, group.rows, "summary"));
      }
    } catch (error) {
      const key = error instanceof KeyedDecodeError ? error.key : metaKey;
      unreadable.push({ instanceId: id, key, reason: errorMessage(error) });
    }
  }
  const finished = page.done && cut === rows.length;
  const cursor = finished ? undefined : cut > 0 ? rows[cut - 1]!.key : after;
  return events ? { instances, unreadable, cursor, events } : { instances, unreadable, cursor };
}

/** Byte order of UTF-8 strings (the order of `COLLATE "C"`). */
/** A page's rows in scan order: its unreadable rows (no value) at their place (their `index`, else byte order). */
function mergeUnreadable(page: EntryPage): Array<{ key: string; value?: Uint8Array; bad?: string }> {
  const rows: Array<{ key: string; value?: Uint8Array; bad?: string }> = page.entries.map(([key, value]) => ({
    key,
    value,
  }));
  const unreadable = page.unreadable ?? [];
  if (unreadable.length === 0) return rows;
  if (unreadable.every((u) => u.index !== undefined)) {
    // From the last, so earlier indexes still count entries only.
    for (const u of [...unreadable].reverse()) rows.splice(u.index!, 0, { key: u.key, bad: u.reason });
    return rows;
  }
  rows.push(...unreadable.map((u) => ({ key: u.key, bad: u.reason })));
  return rows.sort((a, b) => compareUtf8(a.key, b.key));
}
