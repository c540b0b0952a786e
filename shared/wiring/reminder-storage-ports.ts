/**
 * Opens the ports the reminder backup and restore run on (the Scheduler's etcd and the object store) from validated
 * settings, and keeps them for reuse (shared/wiring/adapter-cache.ts): a Lambda handler holds one at module scope, so
 * warm invocations reuse the etcd connection and the S3 client. Settings that change (another bucket, other
 * endpoints, rotated TLS material) replace the port they concern.
 */

import { type EtcdSettings, resolveEtcdSettings } from "../config/etcd.ts";
import type { ObjectStore } from "../object-store/object-store.ts";
import { openObjectStore } from "../object-store/open.ts";
import { openEtcdSchedulerStore } from "../scheduler/etcd-store.ts";
import type { SchedulerStore } from "../scheduler/store.ts";
import { traced } from "../tracing.ts";
import { createSecretResolver, type SecretResolver } from "../util/secrets.ts";
import { AdapterCache, settingsKey } from "./adapter-cache.ts";

export interface ReminderStoragePorts {
  scheduler: SchedulerStore;
  objectStore: ObjectStore;
}

export interface ReminderStorageSettings {
  etcd: EtcdSettings;
  objectStore: Parameters<typeof openObjectStore>[0];
}

export class ReminderPortsCache {
  private readonly adapters = new AdapterCache();
  private last: ReminderStoragePorts | undefined;

  /** Secrets stay cached across warm invocations, with a finite expiry (shared/util/secrets.ts). */
  constructor(private readonly secrets: SecretResolver = createSecretResolver()) {}

  /** The ports for these settings, reusing the open ones when the settings are the same as last time. */
  async get(settings: ReminderStorageSettings): Promise<ReminderStoragePorts> {
    // Its TLS secret may have rotated: the signature changes with it, and the connection is reopened.
    const etcd = await resolveEtcdSettings(settings.etcd, this.secrets);
    const scheduler = await this.adapters.get(
      "etcd",
      etcd.signature,
      () => traced("etcd", openEtcdSchedulerStore(etcd.options)),
      (s) => s.close(),
    );
    const objectStore = await this.adapters.get(
      "object-store",
      settingsKey(settings.objectStore),
      () => traced("s3", openObjectStore(settings.objectStore)),
      (s) => s.close(),
    );
    // The same ports object while both adapters stay the same.
    if (this.last?.scheduler !== scheduler || this.last.objectStore !== objectStore) {
      this.last = { scheduler, objectStore };
    }
    return this.last;
  }

  async close(): Promise<void> {
    this.last = undefined;
    await this.adapters.close();
  }
}
