/**
 * etcd TLS material for the functions, which have no files to point at: one secret (Secrets Manager, or `env:NAME`
 * locally) holding JSON `{"ca": PEM, "cert": PEM, "key": PEM}`, each field optional, `cert` and `key` together.
 * The CLI takes the same material as files (`--etcd-cacert/--etcd-cert/--etcd-key`).
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { HousekeeperError } from "../errors.ts";
import { isSecretReference, type SecretResolver } from "../util/secrets.ts";
import { formatIssues } from "../util/zod-issues.ts";
import type { EtcdTlsOptions } from "./etcd-store.ts";

const pem = (what: string) =>
  z.string().refine((text) => /-----BEGIN [A-Z0-9 ]+-----/.test(text), `must be a PEM ${what} (-----BEGIN ...)`);

export const etcdTlsSecretSchema = z
  .object({
    ca: pem("CA certificate").optional(),
    cert: pem("client certificate").optional(),
    key: pem("private key").optional(),
  })
  .strict()
  .refine((s) => (s.cert === undefined) === (s.key === undefined), "cert and key must be given together")
  .refine((s) => s.ca !== undefined || s.cert !== undefined, "needs ca, or cert and key, or all three");

/** Parses the secret's text; the errors name the secret and the field, never the value. */
export function parseEtcdTlsSecret(text: string, secretName: string): EtcdTlsOptions {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new HousekeeperError(
      "bad-input",
      `etcd TLS secret ${secretName} is not JSON: expected {"ca": PEM, "cert": PEM, "key": PEM}`,
    );
  }
  const parsed = etcdTlsSecretSchema.safeParse(json);
  if (!parsed.success) {
    throw new HousekeeperError("bad-input", `etcd TLS secret ${secretName}: ${formatIssues(parsed.error)}`);
  }
  const { ca, cert, key } = parsed.data;
  return { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
}

export interface ResolvedEtcdTls {
  tls: EtcdTlsOptions;
  /** Changes when the material does (a rotated secret), without holding the material itself. */
  fingerprint: string;
}

/** Fetches and checks the TLS secret a reference names (ARN, `secretsmanager:<name>`, `env:NAME`). */
export async function resolveEtcdTls(reference: string, secrets: SecretResolver): Promise<ResolvedEtcdTls> {
  // Private keys belong in a secret, never inline in a configuration or an environment variable's value.
  if (!isSecretReference(reference)) {
    throw new HousekeeperError(
      "bad-input",
      "the etcd TLS secret must be a secret reference: a Secrets Manager ARN, secretsmanager:<name> or env:NAME",
    );
  }
  const text = await secrets.resolve(reference);
  const tls = parseEtcdTlsSecret(text, reference);
  return { tls, fingerprint: createHash("sha256").update(text).digest("hex") };
}
