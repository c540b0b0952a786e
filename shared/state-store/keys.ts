/**
 * Dapr's actor-state key layout for workflow instances, in one place.
 * Facts from dapr/dapr pkg/actors/state/state.go and pkg/runtime/wfengine/state/state.go:
 *   `<appID>||<actorType>||<actorID>||<stateKey>`, workflow actor type `dapr.internal.<ns>.<appID>.workflow`.
 */
export const KEY_SEPARATOR = "||";

export interface AppRef {
  appId: string;
  namespace: string;
}

export function workflowActorType({ appId, namespace }: AppRef): string {
  return `dapr.internal.${namespace}.${appId}.workflow`;
}

export function activityActorType({ appId, namespace }: AppRef): string {
  return `dapr.internal.${namespace}.${appId}.activity`;
}

/**
 * The actor that holds a finished instance's `retention` reminder (Dapr ≥ 1.17 workflow state retention policies):
 * dapr pkg/runtime/wfengine/backends/actors/actors.go (retentionerActorType). Actor ID = the instance ID.
 */
export function retentionerActorType({ appId, namespace }: AppRef): string {
  return `dapr.internal.${namespace}.${appId}.retentioner`;
}

/** Every state key of one app's workflow instances starts with this. */
export function workflowKeyPrefix(app: AppRef): string {
  return `${app.appId}${KEY_SEPARATOR}${workflowActorType(app)}${KEY_SEPARATOR}`;
}

/** Every state key of one instance starts with this, and no key of another instance does. */
export function instanceKeyPrefix(app: AppRef, instanceId: string): string {
  return `${workflowKeyPrefix(app)}${instanceId}${KEY_SEPARATOR}`;
}

export const METADATA_KEY = "metadata";
export const CUSTOM_STATUS_KEY = "customStatus";
export const PROPAGATED_HISTORY_KEY = "propagated-history";

export type MultiEntryKind = "history" | "inbox" | "signature" | "sigcert" | "ext-sigcert";

/** `history-000012`: index zero-padded to six digits, simply longer past 999999 (Dapr's getMultiEntryKeyName). */
export function multiEntryKey(kind: MultiEntryKind, index: number): string {
  return `${kind}-${String(index).padStart(6, "0")}`;
}

/**
 * Splits a full workflow state key into its instance ID and state key, or returns undefined when the key is not
 * exactly four `||`-separated parts under this app's prefix (Dapr rejects such keys the same way).
 */
export function parseWorkflowKey(app: AppRef, fullKey: string): { instanceId: string; stateKey: string } | undefined {
  const prefix = workflowKeyPrefix(app);
  return fullKey.startsWith(prefix) ? splitInstanceKey(fullKey, prefix.length) : undefined;
}

/**
 * `<prefix><instance>||<state key>` taken apart after a prefix the caller already checked: exactly one separator,
 * both parts non-empty (an instance ID with `||` in it cannot be told apart from another instance's keys).
 */
export function splitInstanceKey(
  key: string,
  prefixLength: number,
): { instanceId: string; stateKey: string } | undefined {
  const separator = key.indexOf(KEY_SEPARATOR, prefixLength);
  if (separator <= prefixLength || separator + KEY_SEPARATOR.length >= key.length) return undefined;
  if (key.indexOf(KEY_SEPARATOR, separator + KEY_SEPARATOR.length) !== -1) return undefined;
  return { instanceId: key.slice(prefixLength, separator), stateKey: key.slice(separator + KEY_SEPARATOR.length) };
}
