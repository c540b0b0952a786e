/** The Scheduler etcd settings the functions share, from their ETCD_* environment variables. */
import type { EtcdStoreOptions } from "../scheduler/etcd-store.ts";
import { resolveEtcdTls } from "../scheduler/etcd-tls-secret.ts";
import type { SecretResolver } from "../util/secrets.ts";

/** Where the Scheduler's etcd is; `tlsSecret` is a secret reference, resolved when the connection is opened. */
export interface EtcdSettings {
  endpoints: string[];
  root?: string;
  tlsSecret?: string;
}

/** The etcd settings of the ETCD_* environment variables. */
export function etcdSettingsFromEnv(env: {
  ETCD_ENDPOINTS: string[];
  ETCD_KEY_ROOT?: string | undefined;
  ETCD_TLS_SECRET?: string | undefined;
}): EtcdSettings {
  return {
    endpoints: env.ETCD_ENDPOINTS,
    ...(env.ETCD_KEY_ROOT ? { root: env.ETCD_KEY_ROOT } : {}),
    ...(env.ETCD_TLS_SECRET ? { tlsSecret: env.ETCD_TLS_SECRET } : {}),
  };
}

/** What opening a connection takes: the store options with the TLS secret fetched, and a signature for caching. */
export interface ResolvedEtcdSettings {
  options: EtcdStoreOptions;
  /** Equal for equal settings and TLS material, so a cached connection is replaced when the secret rotates. */
  signature: string;
}

export async function resolveEtcdSettings(
  settings: EtcdSettings,
  secrets: SecretResolver,
): Promise<ResolvedEtcdSettings> {
  const resolved = settings.tlsSecret ? await resolveEtcdTls(settings.tlsSecret, secrets) : undefined;
  return {
    options: {
      endpoints: settings.endpoints,
      ...(settings.root ? { root: settings.root } : {}),
      ...(resolved ? { tls: resolved.tls } : {}),
    },
    signature: JSON.stringify([settings.endpoints, settings.root ?? null, resolved?.fingerprint ?? null]),
  };
}
