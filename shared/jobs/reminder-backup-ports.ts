/**
 * Opens the ports the reminder backup and restore run on (the Scheduler's etcd and the object store) from validated
 * settings, and keeps them for reuse: a Lambda handler holds one cache at module scope, so warm invocations reuse the
 * etcd connection and the S3 client. Settings that change (another bucket, other endpoints) replace the ports.
 */

import type { ObjectStore } from "../object-store/object-store.ts";
import { openObjectStore } from "../object-store/open.ts";
import { openEtcdSchedulerStore } from "../scheduler/etcd-store.ts";
import type { SchedulerStore } from "../scheduler/store.ts";

export interface ReminderStoragePorts {
  scheduler: SchedulerStore;
  objectStore: ObjectStore;
}

export interface ReminderStorageSettings {
  etcd: { endpoints: string[]; root?: string };
  objectStore: Parameters<typeof openObjectStore>[0];
}

export function openReminderPorts(settings: ReminderStorageSettings): ReminderStoragePorts {
  const scheduler = openEtcdSchedulerStore({
    endpoints: settings.etcd.endpoints,
    ...(settings.etcd.root ? { root: settings.etcd.root } : {}),
  });
  return { scheduler, objectStore: openObjectStore(settings.objectStore) };
}

export class ReminderPortsCache {
  private current: { signature: string; ports: ReminderStoragePorts } | undefined;

  /** The ports for these settings, reusing the open ones when the settings are the same as last time. */
  async get(settings: ReminderStorageSettings): Promise<ReminderStoragePorts> {
    const signature = JSON.stringify(settings);
    if (this.current?.signature === signature) return this.current.ports;
    await this.close();
    const ports = openReminderPorts(settings);
    this.current = { signature, ports };
    return ports;
  }

  async close(): Promise<void> {
    const previous = this.current;
    this.current = undefined;
    if (previous) {
      await Promise.allSettled([previous.ports.scheduler.close(), previous.ports.objectStore.close()]);
    }
  }
}
