/**
 * Opens the real ports of a target: its state store (any of Dapr's forms), its sidecar (purges go through Dapr's own
 * purge API) and its Scheduler (reminders of directly purged instances). Used by the purge Lambda and
 * `housekeeper retention run`; tests open the same ports against the harness's real servers.
 */

import { resolveEtcdSettings } from "../config/etcd.ts";
import type { SecretResolver } from "../config/secrets.ts";
import type { Target } from "../config/target.ts";
import { sidecarTimeoutOptions } from "../config/timeouts.ts";
import { instanceReminderSelection } from "../scheduler/keys.ts";
import type { SchedulerStore, StoredEntry } from "../scheduler/store.ts";
import { MAX_TXN_OPS } from "../scheduler/store.ts";
import { isSidecarError } from "../sidecar/errors.ts";
import type { WorkflowSidecar } from "../sidecar/types.ts";
import { openStateBackend } from "../state-store/open.ts";
import { WorkflowStateStore } from "../state-store/workflow-store.ts";
import type { InstancePurger, InstanceRef, ReminderCleaner } from "./retention-purge.ts";
import type { TargetPorts } from "./retention-run.ts";

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

/**
 * Reminders of directly purged instances, in two steps around the state deletion: read before it, and after it
 * delete, for the instances it deleted, exactly the jobs that were read and are still unchanged (an etcd transaction
 * comparing values), with their counters. A reminder created or rewritten in between, such as a new run's under the
 * same instance ID, is left alone.
 */
export function schedulerReminderCleaner(scheduler: SchedulerStore): ReminderCleaner {
  return {
    async capture(instances) {
      const captured = new Map<string, { jobs: StoredEntry[]; counters: string[] }>();
      let revision: string | undefined;
      for (let i = 0; i < instances.length; i += INSTANCES_PER_READ) {
        const chunk = instances.slice(i, i + INSTANCES_PER_READ);
        const selections = chunk.map((instance) => instanceReminderSelection(instance, instance.instanceId));
        const read = await scheduler.readPrefixes(
          selections.flatMap((s) => [...s.jobs, ...s.counters]),
          revision ? { revision } : {},
        );
        revision = read.revision; // one point in time for the whole capture
        let at = 0;
        chunk.forEach((instance, n) => {
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
      return {
        async deleteFor(deleted) {
          let jobsDeleted = 0;
          for (const instance of deleted) {
            const found = captured.get(instanceKey(instance));
            if (!found) continue;
            for (let i = 0; i < Math.max(found.jobs.length, found.counters.length); i += MAX_TXN_OPS / 2) {
              const jobs = found.jobs.slice(i, i + MAX_TXN_OPS / 2);
              const counters = found.counters.slice(i, i + MAX_TXN_OPS / 2);
              if (jobs.length === 0) await scheduler.deleteKeys(counters);
              else if (await scheduler.deleteIfUnchanged(jobs, counters)) jobsDeleted += jobs.length;
            }
          }
          return jobsDeleted;
        },
      };
    },
  };
}

function instanceKey(instance: InstanceRef): string {
  return `${instance.namespace}||${instance.appId}||${instance.instanceId}`;
}

export function targetPortsOpener(secrets: SecretResolver) {
  return async (target: Target, needs: { sidecar: boolean }): Promise<TargetPorts> => {
    const closers: Array<() => Promise<void>> = [];
    const close = async () => {
      for (const c of closers.reverse()) await c().catch(() => {});
    };
    try {
      const connectionString = await secrets.resolve(target.stateStore.connectionString);
      const backend = await openStateBackend(connectionString, { tableName: target.stateStore.tableName });
      closers.push(() => backend.close());
      const store = new WorkflowStateStore(backend, { appId: target.appId, namespace: target.namespace });
      const ports: TargetPorts = { store, close };
      if (needs.sidecar && target.sidecar) {
        const { HttpSidecarClient } = await import("../sidecar/http-client.ts");
        const apiToken = target.sidecar.apiToken ? await secrets.resolve(target.sidecar.apiToken) : undefined;
        const sidecar = new HttpSidecarClient({ ...sidecarTimeoutOptions().http, url: target.sidecar.url, apiToken });
        closers.push(() => sidecar.close());
        ports.purger = sidecarPurger(sidecar);
      }
      if (target.scheduler) {
        const { openEtcdSchedulerStore } = await import("../scheduler/etcd-store.ts");
        const { etcdEndpoints, tlsSecret } = target.scheduler;
        const etcd = await resolveEtcdSettings(
          { endpoints: etcdEndpoints, ...(tlsSecret ? { tlsSecret } : {}) },
          secrets,
        );
        const scheduler = openEtcdSchedulerStore(etcd.options);
        closers.push(() => scheduler.close());
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
