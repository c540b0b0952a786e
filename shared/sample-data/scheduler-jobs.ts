/**
 * Builds Scheduler jobs and counters the way Dapr stores them (keys from the metadata, values in the stored
 * protobuf shapes), for tests, benchmarks and local seeding. Shapes follow what daprd submits: workflow and activity
 * reminders are one-shot with a due time and a retry-forever constant failure policy; actor reminders and app jobs may
 * carry a schedule, TTL and repeats.
 */

import { ACTIVITY_REMINDER_NAME, actorReminderKey, appJobKey, counterKeyOf } from "../scheduler/keys.ts";
import type { AnyValue, JobMetadata, JobSpec, StoredJob } from "../scheduler/schema.ts";
import { encodeJobMetadata, encodeStoredCounter, encodeStoredJob } from "../scheduler/schema.ts";
import type { StoredEntry } from "../scheduler/store.ts";
import { activityActorType, workflowActorType } from "../state-store/keys.ts";

export type SeedTarget =
  | { app: string }
  | { workflow: { appId: string; instanceId: string } }
  | { activity: { appId: string; activityId: string } }
  | { actor: { type: string; id: string } };

export interface SeedJob {
  target: SeedTarget;
  /** Default "default". */
  namespace?: string;
  /** Reminder or job name; activities always use `run-activity`. Default "reminder". */
  name?: string;
  /** When the job's clock starts (stored `begin`); default 2026-01-01T00:00:00Z. */
  begin?: Date;
  /** `dueTime`: fires at begin (default); `start`: the schedule starts counting at begin. */
  beginKind?: "dueTime" | "start";
  expiration?: Date;
  schedule?: string;
  dueTime?: string;
  ttl?: string;
  repeats?: number;
  payload?: AnyValue;
  partitionId?: string;
  /** Adds a counter: how often it fired and when last. */
  counter?: { count: number; lastTrigger?: Date; attempts?: number };
}

function ts(date: Date): { seconds: number; nanos: number } {
  const ms = date.getTime();
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: (ms - seconds * 1000) * 1_000_000 };
}

/** The canonical job key and metadata a target gets (Dapr's serializer). */
export function seedKeyAndMetadata(seed: SeedJob): { key: string; metadata: JobMetadata } {
  const namespace = seed.namespace ?? "default";
  const name = seed.name ?? "reminder";
  const t = seed.target;
  if ("app" in t) {
    return {
      key: appJobKey(namespace, t.app, name),
      metadata: { appId: t.app, namespace, target: { job: {} } },
    };
  }
  if ("workflow" in t) {
    const type = workflowActorType({ appId: t.workflow.appId, namespace });
    return {
      key: actorReminderKey(namespace, type, t.workflow.instanceId, name),
      metadata: { appId: t.workflow.appId, namespace, target: { actor: { type, id: t.workflow.instanceId } } },
    };
  }
  if ("activity" in t) {
    const type = activityActorType({ appId: t.activity.appId, namespace });
    return {
      key: actorReminderKey(namespace, type, t.activity.activityId, ACTIVITY_REMINDER_NAME),
      metadata: { appId: t.activity.appId, namespace, target: { actor: { type, id: t.activity.activityId } } },
    };
  }
  return {
    key: actorReminderKey(namespace, t.actor.type, t.actor.id, name),
    metadata: { appId: "", namespace, target: { actor: { type: t.actor.type, id: t.actor.id } } },
  };
}

const RETRY_FOREVER = { constant: { interval: { seconds: 5, nanos: 0 } } };

/** The job entry (and counter entry, when `counter` is given) for one seed. */
export function buildSeed(seed: SeedJob): { job: StoredEntry; counter?: StoredEntry } {
  const { key, metadata } = seedKeyAndMetadata(seed);
  const internal = "workflow" in seed.target || "activity" in seed.target;
  const begin = seed.begin ?? new Date("2026-01-01T00:00:00Z");
  const spec: JobSpec = {
    metadata: encodeJobMetadata(metadata),
    payload: seed.payload ?? {
      typeUrl: internal
        ? "type.googleapis.com/durabletask.protos.backend.v1.HistoryEvent"
        : "type.googleapis.com/google.protobuf.BytesValue",
      value: Buffer.from(`payload of ${key}`),
    },
  };
  if (seed.schedule !== undefined) spec.schedule = seed.schedule;
  spec.dueTime = seed.dueTime ?? begin.toISOString();
  if (seed.ttl !== undefined) spec.ttl = seed.ttl;
  if (seed.repeats !== undefined) spec.repeats = seed.repeats;
  if (internal) spec.failurePolicy = RETRY_FOREVER;
  const partitionId = seed.partitionId ?? "1234567890123456789";
  const job: StoredJob = {
    partitionId,
    begin: { kind: seed.beginKind ?? "dueTime", time: ts(begin) },
    job: spec,
  };
  if (seed.expiration) job.expiration = ts(seed.expiration);
  const out: { job: StoredEntry; counter?: StoredEntry } = { job: { key, value: encodeStoredJob(job) } };
  if (seed.counter) {
    out.counter = {
      key: counterKeyOf(key),
      value: encodeStoredCounter({
        jobPartitionId: partitionId,
        count: seed.counter.count,
        attempts: seed.counter.attempts ?? 0,
        ...(seed.counter.lastTrigger ? { lastTrigger: ts(seed.counter.lastTrigger) } : {}),
      }),
    };
  }
  return out;
}

/** All entries (jobs and counters) of several seeds. */
export function buildSeeds(seeds: readonly SeedJob[]): StoredEntry[] {
  return seeds.flatMap((s) => {
    const built = buildSeed(s);
    return built.counter ? [built.job, built.counter] : [built.job];
  });
}

/**
 * The i-th of a varied population of jobs for benchmarks: actor reminders, app jobs, activity and workflow reminders
 * across 20 apps, a counter for every other one.
 */
export function variedSeedJob(i: number): SeedJob {
  const begin = new Date(Date.UTC(2026, 0, 1) + (i % 86_400) * 1000);
  const counter = i % 2 === 0 ? { count: i % 7, lastTrigger: begin } : undefined;
  const app = `app-${i % 20}`;
  const base = { begin, ...(counter ? { counter } : {}) };
  switch (i % 20) {
    case 0:
      return { ...base, target: { actor: { type: "Cart", id: `cart-${i}` } }, name: "flush", schedule: "@every 1m" };
    case 1:
      return { ...base, target: { app }, name: `job-${i}`, schedule: "0 0 3 * * *", ttl: "720h" };
    case 2:
    case 3:
    case 4:
    case 5:
      return { ...base, target: { activity: { appId: app, activityId: `inst-${i}::${i % 5}::1` } } };
    default:
      return {
        ...base,
        target: { workflow: { appId: app, instanceId: `inst-${i}` } },
        name: `new-event-${i.toString(36)}`,
      };
  }
}
