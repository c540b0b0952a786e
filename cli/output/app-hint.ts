/**
 * When `-a X` finds no instance, which apps the store does hold: a mistyped app ID or namespace then says what to
 * type instead of a bare "No workflow found". Keys only, and bounded (a few pages of `…||metadata` keys), so the hint
 * costs little even on a large store; it can then miss apps, and says so.
 * Key layout: `<appID>||dapr.internal.<namespace>.<appID>.workflow||<instanceID>||metadata`
 * (dapr/dapr pkg/actors/state/state.go, pkg/runtime/wfengine/state/state.go; see shared/state-store/keys.ts).
 */

import type { StateBackend } from "../../shared/state-store/backend.ts";
import type { AppRef } from "../../shared/state-store/keys.ts";
import { KEY_SEPARATOR, METADATA_KEY } from "../../shared/state-store/keys.ts";
import { count } from "../../shared/util/count.ts";

const PAGE_SIZE = 1000;
const MAX_PAGES = 5;
/** Apps named in the hint; more are counted, not named. */
const MAX_NAMED = 10;

export interface KnownApps {
  /** Distinct apps seen, in the order found, with how many instances each has among the keys read. */
  apps: Array<AppRef & { instances: number }>;
  /** False when the bound stopped the scan: other apps may exist. */
  complete: boolean;
  keysRead: number;
}

/** The apps whose workflow instances are among the first few thousand `metadata` keys of the store. */
export async function knownApps(backend: StateBackend): Promise<KnownApps> {
  const found = new Map<string, AppRef & { instances: number }>();
  let cursor: string | undefined;
  let pages = 0;
  let keysRead = 0;
  do {
    const page = await backend.scanKeys({
      prefix: "",
      suffix: `${KEY_SEPARATOR}${METADATA_KEY}`,
      pageSize: PAGE_SIZE,
      cursor,
    });
    pages++;
    keysRead += page.keys.length;
    for (const key of page.keys) {
      const app = workflowAppOf(key);
      if (!app) continue;
      const id = `${app.namespace}\u0000${app.appId}`;
      const seen = found.get(id);
      if (seen) seen.instances++;
      else found.set(id, { ...app, instances: 1 });
    }
    cursor = page.cursor;
  } while (cursor !== undefined && pages < MAX_PAGES);
  return { apps: [...found.values()], complete: cursor === undefined, keysRead };
}

/** The app of a workflow instance's metadata key, or undefined for any other key (actors, plain state). */
export function workflowAppOf(key: string): AppRef | undefined {
  const parts = key.split(KEY_SEPARATOR);
  if (parts.length !== 4 || parts[3] !== METADATA_KEY || parts[2] === "") return undefined;
  const [appId, actorType] = parts as [string, string];
  const head = "dapr.internal.";
  const tail = `.${appId}.workflow`;
  if (appId === "" || !actorType.startsWith(head) || !actorType.endsWith(tail)) return undefined;
  const namespace = actorType.slice(head.length, actorType.length - tail.length);
  return namespace === "" ? undefined : { appId, namespace };
}

/** One line for stderr: what the store holds instead of the app asked for. */
export function appHintLine(asked: AppRef, known: KnownApps): string {
  const others = known.apps.filter((a) => a.appId !== asked.appId || a.namespace !== asked.namespace);
  if (others.length === 0) {
    return known.complete
      ? "hint: this store holds no workflow instances of another app; check --connection-string and --table-name\n"
      : `hint: no workflow instances of another app among the first ${count(known.keysRead)} metadata keys of this store; check --connection-string and --table-name\n`;
  }
  // In name order, whatever order the store listed them in (Redis has none).
  others.sort((a, b) => (a.appId === b.appId ? cmp(a.namespace, b.namespace) : cmp(a.appId, b.appId)));
  const named = others
    .slice(0, MAX_NAMED)
    .map(
      (a) =>
        `${a.appId} (namespace ${a.namespace}${known.complete ? `, ${count(a.instances)} instance${a.instances === 1 ? "" : "s"}` : ""})`,
    )
    .join(", ");
  const more = others.length > MAX_NAMED ? ` and ${others.length - MAX_NAMED} more` : "";
  const partial = known.complete ? "" : ` (from the first ${count(known.keysRead)} instances; there may be others)`;
  return `hint: app ID "${asked.appId}" in namespace "${asked.namespace}" has no workflow instances here; this store holds ${named}${more}${partial}; pass one with -a (and -n)\n`;
}

/** Names as people sort them: app-2 before app-10. */
const cmp = new Intl.Collator("en", { numeric: true }).compare;

/** Writes the hint for an app that matched nothing; a failure to list is no reason to fail the command. */
export async function writeAppHint(
  backend: StateBackend,
  asked: AppRef,
  stderr: { write(text: string): unknown },
): Promise<void> {
  try {
    stderr.write(appHintLine(asked, await knownApps(backend)));
  } catch {
    // The hint is a courtesy: the command's own result stands.
  }
}
