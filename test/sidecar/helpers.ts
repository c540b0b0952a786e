/** Shared bits of the sidecar tests: raw HTTP calls to the stand-in and decoding what it left in the store. */
import type { StateBackend } from "../../shared/state-store/backend.ts";
import type { AppRef } from "../../shared/state-store/keys.ts";
import { instanceKeyPrefix, METADATA_KEY, multiEntryKey } from "../../shared/state-store/keys.ts";
import type { HistoryEvent, WorkflowStateMetadata } from "../../shared/workflow/history-event.ts";
import { decodeHistoryEvent, decodeMetadata, eventTypeOf } from "../../shared/workflow/history-event.ts";

export interface RawAnswer {
  status: number;
  contentType: string | null;
  text: string;
  json: unknown;
}

/** One plain HTTP call (global fetch), the answer read whole. */
export async function call(
  baseUrl: string,
  method: string,
  path: string,
  options: { body?: string; headers?: Record<string, string> } = {},
): Promise<RawAnswer> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: options.headers,
    body: options.body,
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = text === "" ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, contentType: response.headers.get("content-type"), text, json };
}

export async function storedMetadata(
  backend: StateBackend,
  app: AppRef,
  instanceId: string,
): Promise<WorkflowStateMetadata | undefined> {
  const key = instanceKeyPrefix(app, instanceId) + METADATA_KEY;
  const bytes = (await backend.getMany([key])).get(key);
  return bytes ? decodeMetadata(bytes) : undefined;
}

/** The decoded `history-*` (or `inbox-*`) events, by index from the metadata counts. */
export async function storedEvents(
  backend: StateBackend,
  app: AppRef,
  instanceId: string,
  kind: "history" | "inbox" = "history",
): Promise<HistoryEvent[]> {
  const metadata = await storedMetadata(backend, app, instanceId);
  if (!metadata) return [];
  const count = kind === "history" ? metadata.historyLength : metadata.inboxLength;
  const prefix = instanceKeyPrefix(app, instanceId);
  const keys = Array.from({ length: count }, (_, i) => prefix + multiEntryKey(kind, i));
  const values = await backend.getMany(keys);
  return keys.map((key) => decodeHistoryEvent(values.get(key)!));
}

export function types(events: HistoryEvent[]): string[] {
  return events.map((e) => eventTypeOf(e) ?? "unknown");
}

/** `history-000000` … `history-<n-1>`. */
export function historyKeys(count: number, kind: "history" | "inbox" = "history"): string[] {
  return Array.from({ length: count }, (_, i) => multiEntryKey(kind, i));
}
