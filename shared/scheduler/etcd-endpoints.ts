/**
 * The etcd endpoint and PEM checks, apart from etcd-store.ts so that the CLI can validate its flags (and show the
 * default in `--help`) without loading etcd3 and gRPC.
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
import { HousekeeperError } from "../errors.ts";

export const DEFAULT_ETCD_ENDPOINT = "127.0.0.1:2379";

/** Why a PEM text is not a usable certificate (or key), or undefined when it is. */
export function pemProblem(pem: Buffer | string, kind: "certificate" | "key"): string | undefined {
  const text = pem.toString();
  try {
    if (kind === "key") createPrivateKey(text);
    else if (!text.includes("-----BEGIN CERTIFICATE-----"))
      return "holds no PEM certificate (-----BEGIN CERTIFICATE-----)";
    else new X509Certificate(text);
    return undefined;
  } catch (error) {
    return `is not a valid PEM ${kind}: ${(error as Error).message}`;
  }
}

interface Endpoints {
  hosts: string[];
  tls: boolean;
}

/** Validates and normalizes endpoints: `host:port`, with an optional http(s):// scheme (all the same scheme). */
export function parseEndpoints(endpoints: readonly string[]): Endpoints {
  const cleaned = endpoints.map((e) => e.trim()).filter((e) => e !== "");
  if (cleaned.length === 0) throw new HousekeeperError("bad-input", "no etcd endpoint given");
  const schemes = new Set<string>();
  const hosts = cleaned.map((endpoint) => {
    const match = /^(?:(https?):\/\/)?([^/\s]+?)\/?$/.exec(endpoint);
    const hostPort = match?.[2];
    if (!match || hostPort === undefined || !/^(\[[0-9a-fA-F:.]+\]|[^:[\]]+):\d{1,5}$/.test(hostPort)) {
      throw new HousekeeperError("bad-input", `invalid etcd endpoint "${endpoint}": expected host:port`);
    }
    const port = Number(hostPort.slice(hostPort.lastIndexOf(":") + 1));
    if (port < 1 || port > 65535)
      throw new HousekeeperError("bad-input", `invalid port in etcd endpoint "${endpoint}"`);
    schemes.add(match[1] ?? "");
    return hostPort;
  });
  if (schemes.has("http") && schemes.has("https")) {
    throw new HousekeeperError("bad-input", "etcd endpoints mix http:// and https://");
  }
  return { hosts, tls: schemes.has("https") };
}
