/**
 * Opens (and keeps) the clients the stuck-report function needs, so warm Lambda invocations reuse connections: the
 * state backend, the Scheduler's etcd (EtcdReminders), the object store and the SNS client. A client is replaced when its settings
 * change; `close` releases everything (tests, shutdown).
 */

import type { StuckReportSettings } from "../../../functions/stuck-report/settings.ts";
import { resolveEtcdSettings } from "../../config/etcd.ts";
import { createSecretResolver } from "../../config/secrets.ts";
import type { ObjectStore } from "../../object-store/object-store.ts";
import { openObjectStore } from "../../object-store/open.ts";
import type { StateBackend } from "../../state-store/backend.ts";
import type { AppRef } from "../../state-store/keys.ts";
import { openStateBackend } from "../../state-store/open.ts";
import { WorkflowStateStore } from "../../state-store/workflow-store.ts";
import { traced } from "../../tracing.ts";
import type { PublishPorts } from "../stuck-report.ts";
import type { EtcdReminders } from "./etcd-reminders.ts";
import type { SnsNotifier } from "./notify.ts";

interface Slot<T> {
  key: string;
  value: T;
  close: () => Promise<void> | void;
}

export class StuckReportPortsCache {
  /** Secrets stay cached across warm invocations, with a finite expiry (shared/config/secrets.ts). */
  private readonly secrets = createSecretResolver();
  private backend: Slot<StateBackend> | undefined;
  private scheduler: Slot<EtcdReminders> | undefined;
  private objectStore: Slot<ObjectStore> | undefined;
  private notifier: Slot<SnsNotifier> | undefined;

  private async slot<T>(
    current: Slot<T> | undefined,
    key: string,
    open: () => Promise<Slot<T>["value"]> | T,
    close: (value: T) => Promise<void> | void,
  ): Promise<Slot<T>> {
    if (current?.key === key) return current;
    if (current) await Promise.resolve(current.close()).catch(() => {});
    const value = await open();
    return { key, value, close: () => close(value) };
  }

  /** The ports for one app under these settings. */
  async get(settings: StuckReportSettings, app: AppRef): Promise<PublishPorts> {
    this.backend = await this.slot(
      this.backend,
      JSON.stringify(settings.connection),
      // The connection string may be a secret reference (secretsmanager:<name>, an ARN, env:NAME).
      async () =>
        traced(
          "store",
          await openStateBackend(await this.secrets.resolve(settings.connection.connectionString), {
            tableName: settings.connection.tableName,
          }),
        ),
      (b) => b.close(),
    );
    this.objectStore = await this.slot(
      this.objectStore,
      JSON.stringify(settings.objectStore),
      () => traced("s3", openObjectStore(settings.objectStore)),
      (s) => s.close(),
    );
    const ports: PublishPorts = {
      store: new WorkflowStateStore(this.backend.value, app),
      objectStore: this.objectStore.value,
    };
    if (settings.etcd) {
      // Its TLS secret may have rotated: the signature changes with it, and the connection is reopened.
      const etcd = await resolveEtcdSettings(settings.etcd, this.secrets);
      this.scheduler = await this.slot(
        this.scheduler,
        etcd.signature,
        // Imported when configured: a function without etcd (or SNS) never loads etcd3/gRPC (or the SNS client).
        async () => new (await import("./etcd-reminders.ts")).EtcdReminders(etcd.options),
        (s) => s.close(),
      );
      ports.reminders = traced("etcd", this.scheduler.value.forApp(app));
    }
    if (settings.sns) {
      const sns = settings.sns;
      this.notifier = await this.slot(
        this.notifier,
        JSON.stringify(sns),
        async () => traced("sns", new (await import("./notify.ts")).SnsNotifier(sns)),
        (n) => n.close(),
      );
      ports.notifier = this.notifier.value;
    }
    return ports;
  }

  async close(): Promise<void> {
    for (const slot of [this.backend, this.scheduler, this.objectStore, this.notifier]) {
      await Promise.resolve(slot?.close()).catch(() => {});
    }
    this.backend = undefined;
    this.scheduler = undefined;
    this.objectStore = undefined;
    this.notifier = undefined;
  }
}
