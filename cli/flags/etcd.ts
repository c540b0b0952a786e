/**
 * The etcd flags every `housekeeper scheduler` command shares, and the one place that opens the Scheduler's store
 * and always closes it again.
 */
import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { Option } from "commander";
import { HousekeeperError } from "../../shared/errors.ts";
import { DEFAULT_ETCD_ENDPOINT, parseEndpoints, pemProblem } from "../../shared/scheduler/etcd-endpoints.ts";
import type { EtcdStoreOptions, EtcdTlsOptions } from "../../shared/scheduler/etcd-store.ts";
import { DAPR_ROOT } from "../../shared/scheduler/keys.ts";
import type { SchedulerStore } from "../../shared/scheduler/store.ts";

export const ETCD_ENDPOINTS_ENV = "HOUSEKEEPER_ETCD_ENDPOINTS";

export interface EtcdFlags {
  endpoints: string[];
  caCert?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
  root: string;
}

/**
 * Adds `--etcd-endpoints`, `--etcd-cacert`, `--etcd-cert`, `--etcd-key` (and the hidden `--etcd-root`).
 * `defaultEndpoint: false` leaves `--etcd-endpoints` unset unless given (flag or environment), for a command that
 * must not guess where the Scheduler is; it then checks for the endpoints itself before calling etcdFlags.
 */
export function addEtcdOptions<C extends Command>(
  command: C,
  {
    defaultEndpoint = true,
    endpointsHelp = "the Scheduler's etcd: comma-separated host:port (or http(s)://host:port)",
  }: { defaultEndpoint?: boolean; endpointsHelp?: string } = {},
): C {
  const endpoints = new Option("--etcd-endpoints <endpoints>", endpointsHelp).env(ETCD_ENDPOINTS_ENV);
  command.addOption(defaultEndpoint ? endpoints.default(DEFAULT_ETCD_ENDPOINT) : endpoints);
  command.addOption(new Option("--etcd-cacert <file>", "PEM CA certificate to verify etcd's TLS certificate"));
  command.addOption(new Option("--etcd-cert <file>", "PEM client certificate for etcd (with --etcd-key)"));
  command.addOption(new Option("--etcd-key <file>", "PEM client key for etcd (with --etcd-cert)"));
  // Where Dapr's `dapr/` root lives; only tests and odd setups change it.
  command.addOption(
    new Option("--etcd-root <prefix>", "key prefix standing for Dapr's dapr/").default(DAPR_ROOT).hideHelp(),
  );
  return command;
}

/** Adds `-n/--namespace` (default `default`), as the Dapr CLI's scheduler commands have it. */
export function addNamespaceOption<C extends Command>(command: C): C {
  command.addOption(new Option("-n, --namespace <ns>", "namespace of the Dapr application").default("default"));
  return command;
}

export function etcdFlags(command: Command): EtcdFlags {
  const opts = command.opts<{
    etcdEndpoints: string;
    etcdCacert?: string;
    etcdCert?: string;
    etcdKey?: string;
    etcdRoot: string;
  }>();
  const endpoints = opts.etcdEndpoints.split(",");
  parseEndpoints(endpoints); // validate before anything else happens
  if ((opts.etcdCert === undefined) !== (opts.etcdKey === undefined)) {
    throw new HousekeeperError("bad-input", "--etcd-cert and --etcd-key must be given together");
  }
  if (!opts.etcdRoot.endsWith("/")) throw new HousekeeperError("bad-input", "--etcd-root must end in /");
  return { endpoints, caCert: opts.etcdCacert, cert: opts.etcdCert, key: opts.etcdKey, root: opts.etcdRoot };
}

/**
 * The etcd flags of a command whose Scheduler is optional (options added with `defaultEndpoint: false`): undefined
 * when no endpoints are given; TLS files without endpoints are refused.
 */
export function optionalEtcdFlags(command: Command): EtcdFlags | undefined {
  const opts = command.opts<{ etcdEndpoints?: string; etcdCacert?: string; etcdCert?: string; etcdKey?: string }>();
  if (opts.etcdEndpoints === undefined || opts.etcdEndpoints.trim() === "") {
    if (opts.etcdCacert || opts.etcdCert || opts.etcdKey) {
      throw new HousekeeperError("bad-input", "--etcd-cacert/--etcd-cert/--etcd-key need --etcd-endpoints");
    }
    return undefined;
  }
  return etcdFlags(command);
}

export function namespaceFlag(command: Command): string {
  const namespace = command.opts<{ namespace: string }>().namespace;
  if (namespace.trim() === "") throw new HousekeeperError("bad-input", "--namespace must not be empty");
  return namespace;
}

/** Reads a PEM file and checks it holds what the flag says, so a wrong file is named here, not in a TLS error. */
async function readPem(
  flag: string,
  path: string | undefined,
  kind: "certificate" | "key",
): Promise<Buffer | undefined> {
  if (path === undefined) return undefined;
  let pem: Buffer;
  try {
    pem = await readFile(path);
  } catch (error) {
    throw new HousekeeperError("bad-input", `cannot read ${flag} file ${path}: ${(error as Error).message}`);
  }
  const problem = pemProblem(pem, kind);
  if (problem) throw new HousekeeperError("bad-input", `${flag} file ${path} ${problem}`);
  return pem;
}

export async function etcdStoreOptions(flags: EtcdFlags): Promise<EtcdStoreOptions> {
  const tls: EtcdTlsOptions = {};
  const ca = await readPem("--etcd-cacert", flags.caCert, "certificate");
  const cert = await readPem("--etcd-cert", flags.cert, "certificate");
  const key = await readPem("--etcd-key", flags.key, "key");
  if (ca) tls.ca = ca;
  if (cert) tls.cert = cert;
  if (key) tls.key = key;
  return { endpoints: flags.endpoints, root: flags.root, ...(ca || cert || key ? { tls } : {}) };
}

export type StoreOpener = (flags: EtcdFlags) => Promise<SchedulerStore>;

export const openStoreFromFlags: StoreOpener = async (flags) => {
  // Imported lazily: `--help` and argument errors stay fast.
  const { openEtcdSchedulerStore } = await import("../../shared/scheduler/etcd-store.ts");
  return openEtcdSchedulerStore(await etcdStoreOptions(flags));
};

/** Runs `fn` with the Scheduler store the flags name; the store is closed afterwards, whatever happens. */
export async function withSchedulerStore<T>(
  flags: EtcdFlags,
  fn: (store: SchedulerStore) => Promise<T>,
  opener: StoreOpener = openStoreFromFlags,
): Promise<T> {
  const store = await opener(flags);
  try {
    return await fn(store);
  } finally {
    await store.close().catch(() => {
      // Closing is best effort: the command's own result or error is what the user needs to see.
    });
  }
}
