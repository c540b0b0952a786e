/**
 * Opens the ports the reminder backup and restore run on (the Scheduler's etcd and the object store) from validated
 * settings, and keeps them for reuse: a Lambda handler holds one cache at module scope, so warm invocations reuse the
 * etcd connection and the S3 client. Settings that change (another bucket, other endpoints, rotated TLS material)
 * replace the ports.
 */

import { type EtcdSettings, resolveEtcdSettings } from "../config/etcd.ts";
import type { ObjectStore } from "../object-store/object-store.ts";
import { openObjectStore } from "../object-store/open.ts";
import { openEtcdSchedulerStore } from "../scheduler/etcd-store.ts";
import type { SchedulerStore } from "../scheduler/store.ts";
import { traced } from "../tracing.ts";
import { createSecretResolver, type SecretResolver } from "../util/secrets.ts";

export interface ReminderStoragePorts {
  scheduler: SchedulerStore;
  objectStore: ObjectStore;
}

export interface ReminderStorageSettings {
  etcd: EtcdSettings;
  objectStore: Parameters<typeof openObjectStore>[0];
}

export class ReminderPortsCache {
  private current: { signature: string; ports: ReminderStoragePorts } | undefined;

  /** Secrets stay cached across warm invocations, with a finite expiry (shared/util/secrets.ts). */
  constructor(private readonly secrets: SecretResolver = createSecretResolver()) {}

  /** The ports for these settings, reusing the open ones when the settings are the same as last time. */
  async get(settings: ReminderStorageSettings): Promise<ReminderStoragePorts> {
    const etcd = await resolveEtcdSettings(settings.etcd, this.secrets);
    const signature = JSON.stringify([etcd.signature, settings.objectStore]);
    if (this.current?.signature === signature) return this.current.ports;
    await this.close();
    const scheduler = traced("etcd", openEtcdSchedulerStore(etcd.options));
    const ports = { scheduler, objectStore: traced("s3", openObjectStore(settings.objectStore)) };
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
