/**
 * Opens (and keeps, shared/wiring/adapter-cache.ts) the clients the stuck-report function needs, so warm Lambda
 * invocations reuse connections: the state backend, the Scheduler's etcd (EtcdReminders), the object store and the
 * SNS client. A client is replaced when its settings change; `close` releases everything (tests, shutdown).
 */
import { type EtcdSettings, resolveEtcdSettings } from "../config/etcd.ts";
import type { PublishPorts } from "../jobs/stuck-report/publish.ts";
import type { ObjectStoreConfig } from "../object-store/open.ts";
import { openObjectStore } from "../object-store/open.ts";
import type { AppRef } from "../state-store/keys.ts";
import { openStateBackend } from "../state-store/open.ts";
import { WorkflowStateStore } from "../state-store/workflow-store.ts";
import { traced } from "../tracing.ts";
import { createSecretResolver } from "../util/secrets.ts";
import { AdapterCache, settingsKey } from "./adapter-cache.ts";

/** Where the stuck report's adapters are (functions/stuck-report/settings.ts builds these from the environment). */
export interface StuckReportPortSettings {
  connection: { connectionString: string; tableName?: string };
  /** Present: check reminders in this etcd. */
  etcd?: EtcdSettings;
  objectStore: ObjectStoreConfig;
  sns?: { topicArn: string; endpoint?: string; region?: string };
}

export class StuckReportPortsCache {
  /** Secrets stay cached across warm invocations, with a finite expiry (shared/config/secrets.ts). */
  private readonly secrets = createSecretResolver();
  private readonly adapters = new AdapterCache();

  /** The ports for one app under these settings. */
  async get(settings: StuckReportPortSettings, app: AppRef): Promise<PublishPorts> {
    const backend = await this.adapters.get(
      "store",
      settingsKey(settings.connection),
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
    const objectStore = await this.adapters.get(
      "object-store",
      settingsKey(settings.objectStore),
      () => traced("s3", openObjectStore(settings.objectStore)),
      (s) => s.close(),
    );
    const ports: PublishPorts = { store: new WorkflowStateStore(backend, app), objectStore };
    if (settings.etcd) {
      // Its TLS secret may have rotated: the signature changes with it, and the connection is reopened.
      const etcd = await resolveEtcdSettings(settings.etcd, this.secrets);
      const scheduler = await this.adapters.get(
        "etcd",
        etcd.signature,
        // Imported when configured: a function without etcd (or SNS) never loads etcd3/gRPC (or the SNS client).
        async () => new (await import("../jobs/stuck-report/etcd-reminders.ts")).EtcdReminders(etcd.options),
        (s) => s.close(),
      );
      ports.reminders = traced("etcd", scheduler.forApp(app));
    }
    if (settings.sns) {
      const sns = settings.sns;
      ports.notifier = await this.adapters.get(
        "sns",
        settingsKey(sns),
        async () => traced("sns", new (await import("../jobs/stuck-report/notify.ts")).SnsNotifier(sns)),
        (n) => n.close(),
      );
    }
    return ports;
  }

  async close(): Promise<void> {
    await this.adapters.close();
  }
}
