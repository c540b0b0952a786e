/**
 * Opens the real ports of a target: its state store (any of Dapr's forms), its sidecar (purges go through Dapr's own
 * purge API) and its Scheduler (reminders of directly purged instances). Used by the purge Lambda and
 * `housekeeper retention run`; tests open the same ports against the harness's real servers.
 */

import { resolveEtcdSettings } from "../config/etcd.ts";
import type { SecretResolver } from "../config/secrets.ts";
import type { Target } from "../config/target.ts";
import { sidecarTimeoutOptions } from "../config/timeouts.ts";
import { deleteSelection } from "../scheduler/jobs.ts";
import { instanceReminderSelection } from "../scheduler/keys.ts";
import type { SchedulerStore } from "../scheduler/store.ts";
import { isSidecarError } from "../sidecar/errors.ts";
import type { WorkflowSidecar } from "../sidecar/types.ts";
import type { AppRef } from "../state-store/keys.ts";
import { openStateBackend } from "../state-store/open.ts";
import { WorkflowStateStore } from "../state-store/workflow-store.ts";
import type { InstancePurger, ReminderCleaner } from "./retention-purge.ts";
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

/** Instances whose reminder prefixes go in one etcd transaction: 4 delete-range operations each, under 128. */
const INSTANCES_PER_TXN = 30;

/** Deletes instances' workflow and activity reminders (jobs and counters), a few dozen instances per transaction. */
export function schedulerReminderCleaner(scheduler: SchedulerStore): ReminderCleaner {
  return {
    async deleteRemindersOf(app: AppRef, instanceIds: readonly string[]) {
      let deleted = 0;
      for (let i = 0; i < instanceIds.length; i += INSTANCES_PER_TXN) {
        const selections = instanceIds.slice(i, i + INSTANCES_PER_TXN).map((id) => instanceReminderSelection(app, id));
        const result = await deleteSelection(scheduler, {
          jobs: selections.flatMap((s) => s.jobs),
          counters: selections.flatMap((s) => s.counters),
        });
        deleted += result.jobs.length;
      }
      return deleted;
    },
  };
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
