/**
 * Opens the real ports of a target: its state store (any of Dapr's forms), its sidecar (purges go through Dapr's own
 * purge API) and its Scheduler (reminders of directly purged instances), with the adapters that turn them into the
 * purge's ports. Used by the purge Lambda (through its AdapterCache) and `housekeeper retention run`; tests open the
 * same ports against the harness's real servers.
 */

import { resolveEtcdSettings } from "../config/etcd.ts";
import type { Target } from "../config/target.ts";
import type { InstancePurger, InstanceRef, ReminderCleaner } from "../jobs/retention-purge.ts";
import type { TargetPorts } from "../jobs/retention-run.ts";
import { instanceReminderSelection } from "../scheduler/keys.ts";
import type { SchedulerStore, StoredEntry } from "../scheduler/store.ts";
import { MAX_TXN_OPS } from "../scheduler/store.ts";
import { isSidecarError } from "../sidecar/errors.ts";
import type { WorkflowSidecar } from "../sidecar/types.ts";
import type { StateBackend } from "../state-store/backend.ts";
import { openStateBackend } from "../state-store/open.ts";
import { WorkflowStateStore } from "../state-store/workflow-store.ts";
import { traced } from "../tracing.ts";
import { compareUtf8 } from "../util/compare-utf8.ts";
import type { SecretResolver } from "../util/secrets.ts";
import { sidecarTimeoutOptions } from "../util/timeouts.ts";
import { type AdapterCache, settingsKey } from "./adapter-cache.ts";

/** Dapr's purge API through a sidecar, with its typed errors turned into purge outcomes. */
export function sidecarPurger(sidecar: Pick<WorkflowSidecar, "purge">): InstancePurger {
  return {
    async purge(instanceId) {
      try {
        await sidecar.purge(instanceId);
        return "purged";
      } catch (error) {
        if (isSidecarError(error) && error.kind === "not-found") return "not-found";
        if (isSidecarError(error) && error.kind === "not-terminal") return "not-terminal";
        throw error;
      }
    },
  };
}

/** Prefix reads per etcd transaction: 6 per instance (3 actor types, job and counter), under etcd's 128 ops. */
const INSTANCES_PER_READ = 21;
/** Instances whose reminders are read as ranges in one transaction (6 ranges: 3 actor types, job and counter). */
const INSTANCES_PER_RANGE_READ = 500;
/**
 * Keys a range may hold per instance of its chunk before the chunk is read prefix by prefix instead: a range also
 * holds the reminders of the instances between the purged ones (running ones, kept ones), normally a few each.
 */
const RANGE_KEYS_PER_INSTANCE = 8;

interface Captured {
  jobs: StoredEntry[];
  counters: string[];
}

/**
 * Reminders of directly purged instances, in two steps around the state deletion: read before it, and after it
 * delete, for the instances it deleted, exactly the jobs that were read and are still unchanged (an etcd transaction
 * comparing values), with their counters. A reminder created or rewritten in between, such as a new run's under the
 * same instance ID, is left alone.
 *
 * Reading: the instances of a batch are neighbours in key order (a scan page), and so are their reminders, so each
 * app's chunk is read as six key ranges (first to last instance, per actor type, jobs and counters) in one
 * transaction, keeping the keys that belong to the chunk's instances; a chunk whose ranges hold far more than its
 * own reminders (many other instances' reminders between them) is read one prefix per instance instead.
 */
export function schedulerReminderCleaner(scheduler: SchedulerStore): ReminderCleaner {
  return {
    async capture(instances) {
      const captured = new Map<string, Captured>();
      let revision: string | undefined; // one point in time for the whole capture
      for (const group of groupByApp(instances)) {
        for (let i = 0; i < group.length; i += INSTANCES_PER_RANGE_READ) {
          const chunk = group.slice(i, i + INSTANCES_PER_RANGE_READ);
          const byRanges = await captureByRanges(scheduler, chunk, captured, revision);
          revision = byRanges.served
            ? byRanges.revision
            : await captureByPrefixes(scheduler, chunk, captured, byRanges.revision);
        }
      }
      return {
        async deleteFor(deleted) {
          const seen = new Set<string>();
          const found: Captured[] = [];
          for (const instance of deleted) {
            const id = instanceKey(instance);
            const entries = captured.get(id);
            if (entries && !seen.has(id)) found.push(entries);
            seen.add(id);
          }
          return deleteCaptured(scheduler, found);
        },
      };
    },
  };
}

/**
 * Deletes captured reminders, many instances' in one etcd transaction that compares every job (one round trip for a
 * batch, not one per instance). A transaction whose compare fails (some job was rewritten meanwhile) is redone
 * instance by instance, so only the changed instances' reminders stay, exactly as one transaction each would leave.
 */
async function deleteCaptured(scheduler: SchedulerStore, found: readonly Captured[]): Promise<number> {
  let jobsDeleted = 0;
  let chunk: Captured[] = [];
  let ops = 0;
  const flush = async () => {
    if (chunk.length === 0) return;
    // A key can belong to two instances of the chunk (one ID a prefix of another's reminder key): sent once.
    const jobs = [...new Map(chunk.flatMap((c) => c.jobs).map((job) => [job.key, job])).values()];
    const jobKeys = new Set(jobs.map((job) => job.key));
    const counters = [...new Set(chunk.flatMap((c) => c.counters))].filter((key) => !jobKeys.has(key));
    if (jobs.length === 0) await scheduler.deleteKeys(counters);
    else if (await scheduler.deleteIfUnchanged(jobs, counters)) jobsDeleted += jobs.length;
    else for (const one of chunk) jobsDeleted += await deleteOne(scheduler, one);
    chunk = [];
    ops = 0;
  };
  for (const one of found) {
    const size = one.jobs.length + one.counters.length;
    if (size > MAX_TXN_OPS) {
      jobsDeleted += await deleteOne(scheduler, one);
      continue;
    }
    if (ops + size > MAX_TXN_OPS) await flush();
    chunk.push(one);
    ops += size;
  }
  await flush();
  return jobsDeleted;
}

/** One instance's reminders, in transactions of up to MAX_TXN_OPS keys; returns how many jobs went. */
async function deleteOne(scheduler: SchedulerStore, found: Captured): Promise<number> {
  let jobsDeleted = 0;
  for (let i = 0; i < Math.max(found.jobs.length, found.counters.length); i += MAX_TXN_OPS / 2) {
    const jobs = found.jobs.slice(i, i + MAX_TXN_OPS / 2);
    const counters = found.counters.slice(i, i + MAX_TXN_OPS / 2);
    if (jobs.length === 0) await scheduler.deleteKeys(counters);
    else if (await scheduler.deleteIfUnchanged(jobs, counters)) jobsDeleted += jobs.length;
  }
  return jobsDeleted;
}

/**
 * Reads one app's chunk as six ranges. Not served when a range held more keys than the limit: then nothing is
 * recorded and the caller reads the chunk prefix by prefix (at the same revision).
 */
async function captureByRanges(
  scheduler: SchedulerStore,
  chunk: readonly InstanceRef[],
  captured: Map<string, Captured>,
  revision: string | undefined,
): Promise<{ served: boolean; revision: string }> {
  const selections = chunk.map((instance) => instanceReminderSelection(instance, instance.instanceId));
  // Slot k: the k-th prefix of every instance (jobs then counters, one per actor type), each ending in its separator.
  const slots: Array<{ kind: "job" | "counter"; prefixes: string[] }> = [
    ...selections[0]!.jobs.map((_, k) => ({ kind: "job" as const, prefixes: selections.map((s) => s.jobs[k]!) })),
    ...selections[0]!.counters.map((_, k) => ({
      kind: "counter" as const,
      prefixes: selections.map((s) => s.counters[k]!),
    })),
  ];
  const ranges = slots.map(({ prefixes }) => {
    // The first and last in byte order: one pass, not a sort.
    let from = prefixes[0]!;
    let through = from;
    for (const prefix of prefixes) {
      if (compareUtf8(prefix, from) < 0) from = prefix;
      else if (compareUtf8(prefix, through) > 0) through = prefix;
    }
    return { from, through };
  });
  const limit = chunk.length * RANGE_KEYS_PER_INSTANCE + 100;
  const read = await scheduler.readRanges(ranges, { limit, ...(revision ? { revision } : {}) });
  if (read.truncated.some(Boolean)) return { served: false, revision: read.revision };
  const found = new Map<string, Captured>();
  slots.forEach(({ kind, prefixes }, k) => {
    const owner = new Map(prefixes.map((prefix, n) => [prefix, chunk[n]!]));
    const separator = prefixes[0]!.slice(-2); // "||" after a workflow or retentioner actor ID, "::" after an activity's
    for (const entry of read.entries[k]!) {
      // The key belongs to every chunk instance whose prefix it starts with (as a prefix read would find it).
      for (let at = entry.key.indexOf(separator); at >= 0; at = entry.key.indexOf(separator, at + 1)) {
        const instance = owner.get(entry.key.slice(0, at + separator.length));
        if (!instance) continue;
        const id = instanceKey(instance);
        const into = found.get(id) ?? { jobs: [], counters: [] };
        found.set(id, into);
        if (kind === "job") into.jobs.push(entry);
        else into.counters.push(entry.key);
      }
    }
  });
  for (const [id, entries] of found) captured.set(id, entries);
  return { served: true, revision: read.revision };
}

/** Reads a chunk one prefix per instance and actor type (INSTANCES_PER_READ instances a transaction). */
async function captureByPrefixes(
  scheduler: SchedulerStore,
  chunk: readonly InstanceRef[],
  captured: Map<string, Captured>,
  revision: string | undefined,
): Promise<string | undefined> {
  for (let i = 0; i < chunk.length; i += INSTANCES_PER_READ) {
    const part = chunk.slice(i, i + INSTANCES_PER_READ);
    const selections = part.map((instance) => instanceReminderSelection(instance, instance.instanceId));
    const read = await scheduler.readPrefixes(
      selections.flatMap((s) => [...s.jobs, ...s.counters]),
      revision ? { revision } : {},
    );
    revision = read.revision;
    let at = 0;
    part.forEach((instance, n) => {
      const selection = selections[n]!;
      const jobs = read.entries.slice(at, at + selection.jobs.length).flat();
      at += selection.jobs.length;
      const counters = read.entries.slice(at, at + selection.counters.length).flat();
      at += selection.counters.length;
      if (jobs.length + counters.length > 0) {
        captured.set(instanceKey(instance), { jobs, counters: counters.map((c) => c.key) });
      }
    });
  }
  return revision;
}

function groupByApp(instances: readonly InstanceRef[]): InstanceRef[][] {
  const groups = new Map<string, InstanceRef[]>();
  for (const instance of instances) {
    const app = `${instance.namespace}||${instance.appId}`;
    const group = groups.get(app) ?? [];
    groups.set(app, group);
    group.push(instance);
  }
  return [...groups.values()];
}

function instanceKey(instance: InstanceRef): string {
  return `${instance.namespace}||${instance.appId}||${instance.instanceId}`;
}

/** Opens a state store from its (resolved) connection string; the CLI adds its embedded sample store. */
export type BackendOpener = (
  connectionString: string,
  options: { tableName?: string | undefined },
) => Promise<StateBackend>;

/**
 * Opens a target's ports. With an AdapterCache (the purge Lambda holds one at module scope), the connections stay
 * open for the next target and the next warm invocation, keyed by their resolved settings, and the ports' `close`
 * leaves them open; without one (the CLI), `close` closes them.
 */
export function targetPortsOpener(
  secrets: SecretResolver,
  openBackend: BackendOpener = openStateBackend,
  cache?: AdapterCache,
) {
  return async (target: Target, needs: { sidecar: boolean }): Promise<TargetPorts> => {
    const closers: Array<() => Promise<void>> = [];
    const close = async () => {
      for (const c of closers.reverse()) await c().catch(() => {});
    };
    /** Opens an adapter, from the cache when there is one (one slot per target and kind), else to close with the ports. */
    const open = async <T extends { close(): Promise<void> }>(
      kind: string,
      key: unknown,
      opener: () => Promise<T> | T,
    ) => {
      if (cache) {
        return cache.get(`${kind} ${target.namespace}/${target.appId}`, settingsKey(key), opener, (a) => a.close());
      }
      const adapter = await opener();
      closers.push(() => adapter.close());
      return adapter;
    };
    try {
      const connectionString = await secrets.resolve(target.stateStore.connectionString);
      const tableName = target.stateStore.tableName;
      const backend = await open("store", [connectionString, tableName ?? null], async () =>
        traced("store", await openBackend(connectionString, { tableName })),
      );
      const store = new WorkflowStateStore(backend, { appId: target.appId, namespace: target.namespace });
      const ports: TargetPorts = { store, close };
      if (needs.sidecar && target.sidecar) {
        const { HttpSidecarClient } = await import("../sidecar/http-client.ts");
        const url = target.sidecar.url;
        const apiToken = target.sidecar.apiToken ? await secrets.resolve(target.sidecar.apiToken) : undefined;
        const timeouts = sidecarTimeoutOptions().http;
        const sidecar = await open("sidecar", [url, apiToken ?? null, timeouts], () =>
          traced("sidecar", new HttpSidecarClient({ ...timeouts, url, apiToken })),
        );
        ports.purger = sidecarPurger(sidecar);
      }
      if (target.scheduler) {
        const { openEtcdSchedulerStore } = await import("../scheduler/etcd-store.ts");
        const { etcdEndpoints, tlsSecret } = target.scheduler;
        const etcd = await resolveEtcdSettings(
          { endpoints: etcdEndpoints, ...(tlsSecret ? { tlsSecret } : {}) },
          secrets,
        );
        const scheduler = await open("etcd", etcd.signature, () =>
          traced("etcd", openEtcdSchedulerStore(etcd.options)),
        );
        ports.reminders = schedulerReminderCleaner(scheduler);
        ports.scheduler = scheduler;
      }
      return ports;
    } catch (error) {
      await close();
      throw error;
    }
  };
}
