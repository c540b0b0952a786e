/**
 * The Dapr Scheduler's etcd key layout and the Dapr CLI's display names for it, in one place.
 *
 * Keys (dapr/dapr pkg/scheduler/server/internal/serialize; go-etcd-cron stores jobs and counters under
 * `<prefix>/jobs/` and `<prefix>/counters/`, Dapr's prefix being `dapr`):
 *   dapr/jobs/actorreminder||<namespace>||<actorType>||<actorID>||<reminderName>
 *   dapr/jobs/app||<namespace>||<appID>||<jobName>
 *   dapr/counters/…  the same names, holding the job's trigger counter.
 * Workflow actors are `dapr.internal.<namespace>.<appID>.workflow` (actor ID = instance ID), activity actors
 * `dapr.internal.<namespace>.<appID>.activity` (actor ID `<instanceID>::<taskID>`, before Dapr master
 * `<instanceID>::<taskID>::<generation>`; one reminder named `run-activity`).
 *
 * Display names (dapr/cli pkg/scheduler/scheduler.go parseJob / parseJobKey / pathsFromJobKey, deleteall.go):
 *   app/<appID>/<jobName>
 *   actor/<actorType>/<actorID>/<reminderName>
 *   workflow/<appID>/<instanceID>/<reminderName>
 *   activity/<appID>/<activityActorID>          (no reminder name: it is always `run-activity`)
 * The CLI derives a listed job's display name from its metadata (app ID, target actor type and ID) plus the text after
 * the key's last `||`; the reverse direction builds keys from the display name and the `--namespace` flag.
 *
 * All keys here are canonical (`dapr/…`), as Dapr writes them and as the export file holds them; a SchedulerStore maps
 * them onto its own root.
 */
import { HousekeeperError } from "../errors.ts";
import type { AppRef } from "../state-store/keys.ts";
import { activityActorType, retentionerActorType, workflowActorType } from "../state-store/keys.ts";
import { compareUtf8 } from "../util/compare-utf8.ts";
import type { JobMetadata } from "./schema.ts";

export const DAPR_ROOT = "dapr/";
export const JOBS_PREFIX = "dapr/jobs/";
export const COUNTERS_PREFIX = "dapr/counters/";
export const SEPARATOR = "||";
export const ACTOR_REMINDER = "actorreminder";
export const APP_JOB = "app";
/** The one reminder an activity actor has (dapr/dapr pkg/actors/targets/workflow/activity/reminder.go). */
export const ACTIVITY_REMINDER_NAME = "run-activity";

export const FILTER_KINDS = ["all", "app", "actor", "workflow", "activity"] as const;
export type FilterKind = (typeof FILTER_KINDS)[number];
/** What a job is, from its metadata; `unknown` when the metadata names no target (the CLI shows the bare name). */
export type JobKind = "app" | "actor" | "workflow" | "activity" | "unknown";

/** Key prefixes (canonical) of the jobs and of their counters, scanned or deleted together. */
export interface KeySelection {
  jobs: string[];
  counters: string[];
}

/** Everything under the Scheduler's roots, as `dapr scheduler export` reads it. */
export const ALL_KEYS: KeySelection = { jobs: [JOBS_PREFIX], counters: [COUNTERS_PREFIX] };

function isInternal(actorType: string, suffix: ".workflow" | ".activity"): boolean {
  return actorType.startsWith("dapr.internal.") && actorType.endsWith(suffix);
}

/** The job's kind as the CLI's `--filter` sees it. */
export function jobKind(meta: JobMetadata): JobKind {
  const target = meta.target;
  if (target === undefined) return "unknown";
  if ("job" in target) return "app";
  if (isInternal(target.actor.type, ".workflow")) return "workflow";
  if (isInternal(target.actor.type, ".activity")) return "activity";
  return "actor";
}

/** `--filter` semantics: a job without a target passes every filter (the CLI's type switch has no default arm). */
export function matchesFilter(kind: JobKind, filter: FilterKind): boolean {
  return filter === "all" || kind === "unknown" || kind === filter;
}

/** `strings.Split(actorType, ".")[3]`: the app ID inside `dapr.internal.<ns>.<app>.workflow`. */
function appIdOfInternalType(actorType: string): string {
  return actorType.split(".")[3] ?? "";
}

/** The Dapr CLI's display name of a stored job: from its metadata and the text after the key's last `||`. */
export function displayName(jobKey: string, meta: JobMetadata): string {
  const name = jobKey.slice(jobKey.lastIndexOf(SEPARATOR) + SEPARATOR.length);
  const target = meta.target;
  if (target === undefined) return name;
  if ("job" in target) return `app/${meta.appId}/${name}`;
  const { type, id } = target.actor;
  if (isInternal(type, ".workflow")) return `workflow/${appIdOfInternalType(type)}/${id}/${name}`;
  if (isInternal(type, ".activity")) return `activity/${appIdOfInternalType(type)}/${id}`;
  return `actor/${type}/${id}/${name}`;
}

/** The parts of a canonical job or counter key, when it has exactly Dapr's shape; undefined otherwise. */
export type ParsedJobKey =
  | { section: "jobs" | "counters"; type: "app"; namespace: string; appId: string; name: string }
  | {
      section: "jobs" | "counters";
      type: "actorreminder";
      namespace: string;
      actorType: string;
      actorId: string;
      name: string;
    };

export function parseJobKey(key: string): ParsedJobKey | undefined {
  let section: "jobs" | "counters";
  let rest: string;
  if (key.startsWith(JOBS_PREFIX)) {
    section = "jobs";
    rest = key.slice(JOBS_PREFIX.length);
  } else if (key.startsWith(COUNTERS_PREFIX)) {
    section = "counters";
    rest = key.slice(COUNTERS_PREFIX.length);
  } else return undefined;
  const parts = rest.split(SEPARATOR);
  if (parts[0] === APP_JOB && parts.length === 4) {
    return { section, type: "app", namespace: parts[1]!, appId: parts[2]!, name: parts[3]! };
  }
  if (parts[0] === ACTOR_REMINDER && parts.length === 5) {
    return {
      section,
      type: "actorreminder",
      namespace: parts[1]!,
      actorType: parts[2]!,
      actorId: parts[3]!,
      name: parts[4]!,
    };
  }
  return undefined;
}

/**
 * Display name from the key alone (no value needed), for keys of exactly Dapr's shape: what `displayName` gives for a
 * job Dapr wrote, since Dapr builds the key from the same metadata. Undefined for other keys.
 */
export function displayNameFromKey(key: string): string | undefined {
  const parsed = parseJobKey(key);
  if (parsed === undefined) return undefined;
  if (parsed.type === "app") {
    return displayName(key, { appId: parsed.appId, namespace: parsed.namespace, target: { job: {} } });
  }
  return displayName(key, {
    appId: "",
    namespace: parsed.namespace,
    target: { actor: { type: parsed.actorType, id: parsed.actorId } },
  });
}

/** The job key's matching counter key (and back): the same name under the other root. */
export function counterKeyOf(jobKey: string): string {
  if (!jobKey.startsWith(JOBS_PREFIX)) throw new HousekeeperError("bad-input", `not a job key: "${jobKey}"`);
  return COUNTERS_PREFIX + jobKey.slice(JOBS_PREFIX.length);
}

export function jobKeyOf(counterKey: string): string {
  if (!counterKey.startsWith(COUNTERS_PREFIX)) {
    throw new HousekeeperError("bad-input", `not a counter key: "${counterKey}"`);
  }
  return JOBS_PREFIX + counterKey.slice(COUNTERS_PREFIX.length);
}

export function appJobKey(namespace: string, appId: string, name: string): string {
  return `${JOBS_PREFIX}${APP_JOB}||${namespace}||${appId}||${name}`;
}

export function actorReminderKey(namespace: string, actorType: string, actorId: string, name: string): string {
  return `${JOBS_PREFIX}${ACTOR_REMINDER}||${namespace}||${actorType}||${actorId}||${name}`;
}

/** A display name taken apart (the CLI's jobKey). */
export type DisplayName =
  | { kind: "app"; appId: string; name: string }
  | { kind: "actor"; actorType: string; actorId: string; name: string }
  | { kind: "workflow"; appId: string; instanceId: string; name: string }
  | { kind: "activity"; appId: string; activityId: string };

/** Parses `app/…`, `actor/…`, `workflow/…`, `activity/…` with the Dapr CLI's rules and messages. */
export function parseDisplayName(name: string): DisplayName {
  const split = name.split("/");
  const bad = (message: string) => new HousekeeperError("bad-input", message);
  if (split.length < 2) {
    throw bad(`failed to parse job key, expecting '{target type}/{identifier}', got '${name}'`);
  }
  switch (split[0]) {
    case "app":
      if (split.length !== 3) throw bad(`expecting job key to be in format 'app/{app ID}/{job name}', got '${name}'`);
      return { kind: "app", appId: split[1]!, name: split[2]! };
    case "actor":
      if (split.length !== 4) {
        throw bad(`expecting actor reminder key to be in format 'actor/{actor type}/{actor id}/{name}', got '${name}'`);
      }
      return { kind: "actor", actorType: split[1]!, actorId: split[2]!, name: split[3]! };
    case "workflow":
      if (split.length !== 4) {
        throw bad(`expecting workflow key to be in format 'workflow/{app ID}/{instance ID}/{name}', got '${name}'`);
      }
      return { kind: "workflow", appId: split[1]!, instanceId: split[2]!, name: split[3]! };
    case "activity":
      if (split.length !== 3) {
        throw bad(`expecting activity key to be in format 'activity/{app ID}/{activity ID}', got '${name}'`);
      }
      return { kind: "activity", appId: split[1]!, activityId: split[2]! };
    default:
      throw bad(`unsupported job type '${split[0]}', accepts 'app', 'actor', 'workflow', or 'activity'`);
  }
}

/** The job key and counter key a display name stands for in `namespace` (the CLI's pathsFromJobKey). */
export function keysForDisplayName(name: string, namespace: string): { job: string; counter: string } {
  const parsed = parseDisplayName(name);
  const app: AppRef = { appId: "appId" in parsed ? parsed.appId : "", namespace };
  let job: string;
  switch (parsed.kind) {
    case "app":
      job = appJobKey(namespace, parsed.appId, parsed.name);
      break;
    case "actor":
      job = actorReminderKey(namespace, parsed.actorType, parsed.actorId, parsed.name);
      break;
    case "workflow":
      job = actorReminderKey(namespace, workflowActorType(app), parsed.instanceId, parsed.name);
      break;
    case "activity":
      job = actorReminderKey(namespace, activityActorType(app), parsed.activityId, ACTIVITY_REMINDER_NAME);
      break;
  }
  return { job, counter: counterKeyOf(job) };
}

function selection(namePrefixes: string[]): KeySelection {
  return {
    jobs: namePrefixes.map((p) => JOBS_PREFIX + p),
    counters: namePrefixes.map((p) => COUNTERS_PREFIX + p),
  };
}

/**
 * `dapr scheduler delete-all <prefix>` key prefixes in `namespace`, with the CLI's rules and messages:
 *   all                        every app job and actor reminder
 *   app | app/<app>            app jobs (of one app)
 *   actor/<type> | actor/<type>/<id>
 *   workflow                   every `dapr.internal.<ns>.` actor (workflows and activities of all apps)
 *   workflow/<app>             that app's workflow and activity reminders (`…<app>.workflow||`, so not `<app>2`)
 *   workflow/<app>/<instance>  one instance: workflow reminders of actor `<instance>`, activity reminders of actors
 *                              `<instance>::…`
 * Jobs come first in each list, in the CLI's order; counters mirror them.
 */
export function deleteAllSelection(prefix: string, namespace: string): KeySelection {
  const split = prefix.split("/");
  const invalid = () => new HousekeeperError("bad-input", `invalid key format: ${prefix}`);
  const ns = namespace;
  const internal = `dapr.internal.${ns}.`;
  switch (split[0]) {
    case "all":
      if (split.length !== 1) throw invalid();
      return selection([`app||${ns}||`, `actorreminder||${ns}||`]);
    case "app":
      if (split.length === 1) return selection([`app||${ns}||`]);
      if (split.length === 2) return selection([`app||${ns}||${split[1]}||`]);
      throw invalid();
    case "actor":
      if (split.length === 2) return selection([`actorreminder||${ns}||${split[1]}||`]);
      if (split.length === 3) return selection([`actorreminder||${ns}||${split[1]}||${split[2]}||`]);
      throw invalid();
    case "workflow":
      if (split.length === 1) return selection([`actorreminder||${ns}||${internal}`]);
      if (split.length === 2) {
        return selection([
          `actorreminder||${ns}||${internal}${split[1]}.workflow||`,
          `actorreminder||${ns}||${internal}${split[1]}.activity||`,
        ]);
      }
      if (split.length === 3) {
        return selection([
          `actorreminder||${ns}||${internal}${split[1]}.workflow||${split[2]}||`,
          `actorreminder||${ns}||${internal}${split[1]}.activity||${split[2]}::`,
        ]);
      }
      throw invalid();
    default:
      throw new HousekeeperError("bad-input", `unknown key prefix: ${split[0]}`);
  }
}

/**
 * The reminders on an app's workflow actors and on its retentioner actors (Dapr's `retention` reminder, one per
 * finished instance, actor ID = instance ID), of every instance; not its activities'.
 */
export function workflowRemindersSelection(app: AppRef): KeySelection {
  return selection([
    `actorreminder||${app.namespace}||${workflowActorType(app)}||`,
    `actorreminder||${app.namespace}||${retentionerActorType(app)}||`,
  ]);
}

/**
 * One workflow instance's reminders, the three actor types Dapr's purge clears (dapr
 * pkg/actors/targets/workflow/orchestrator/state.go cleanupWorkflowStateInternal): the workflow actor's (actor ID
 * exactly the instance ID), its activities' (actor IDs starting `<instance>::`) and the retentioner's (actor ID the
 * instance ID, reminder `retention`: left behind, it would later purge a new run under the same ID). Built from the
 * parts, so an instance ID containing `/` is fine here.
 */
export function instanceReminderSelection(app: AppRef, instanceId: string): KeySelection {
  return selection([
    `actorreminder||${app.namespace}||${workflowActorType(app)}||${instanceId}||`,
    `actorreminder||${app.namespace}||${activityActorType(app)}||${instanceId}::`,
    `actorreminder||${app.namespace}||${retentionerActorType(app)}||${instanceId}||`,
  ]);
}

/**
 * Drops prefixes covered by another one and sorts them by UTF-8 bytes (etcd's order), so scanning them one after
 * the other visits every key once, in key order.
 */
export function normalizePrefixes(prefixes: readonly string[]): string[] {
  const sorted = [...new Set(prefixes)].sort(compareUtf8);
  const out: string[] = [];
  for (const p of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && p.startsWith(last)) continue;
    out.push(p);
  }
  return out;
}
