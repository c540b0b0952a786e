/**
 * The etcd TLS secret of the functions: JSON {"ca", "cert", "key"} of PEM text, read through a secret reference.
 * Bad material is refused with an error naming the secret and the field, never showing the value.
 */
import { describe, expect, it } from "vitest";
import { reminderBackupSettings } from "../../functions/reminder-backup/settings.ts";
import { stuckReportSettings } from "../../functions/stuck-report/settings.ts";
import { resolveEtcdSettings } from "../../shared/config/etcd.ts";
import { targetSchema } from "../../shared/config/target.ts";
import { HousekeeperError } from "../../shared/errors.ts";
import { parseEtcdTlsSecret, resolveEtcdTls } from "../../shared/scheduler/etcd-tls-secret.ts";
import { createSecretResolver } from "../../shared/util/secrets.ts";

const CA = "-----BEGIN CERTIFICATE-----\nMIIBca\n-----END CERTIFICATE-----\n";
const CERT = "-----BEGIN CERTIFICATE-----\nMIIBcert\n-----END CERTIFICATE-----\n";
const KEY = "-----BEGIN PRIVATE KEY-----\nMIIEsecretkeymaterial\n-----END PRIVATE KEY-----\n";

const failure = (fn: () => unknown): HousekeeperError => {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(HousekeeperError);
    return error as HousekeeperError;
  }
  throw new Error("expected an error");
};

describe("parseEtcdTlsSecret", () => {
  it("takes a CA alone, a client certificate with its key, or all three", () => {
    expect(parseEtcdTlsSecret(JSON.stringify({ ca: CA }), "s")).toEqual({ ca: CA });
    expect(parseEtcdTlsSecret(JSON.stringify({ cert: CERT, key: KEY }), "s")).toEqual({ cert: CERT, key: KEY });
    expect(parseEtcdTlsSecret(JSON.stringify({ ca: CA, cert: CERT, key: KEY }), "s")).toEqual({
      ca: CA,
      cert: CERT,
      key: KEY,
    });
  });

  it.each([
    ["not JSON", "-----BEGIN CERTIFICATE-----", /etcd TLS secret my\/secret is not JSON/],
    ["a key without its certificate", JSON.stringify({ ca: CA, key: KEY }), /cert and key must be given together/],
    ["nothing in it", "{}", /needs ca, or cert and key, or all three/],
    ["a field that is not PEM", JSON.stringify({ ca: "MIIBca" }), /ca: must be a PEM CA certificate/],
    ["an unknown field", JSON.stringify({ ca: CA, passphrase: "x" }), /Unrecognized key.*passphrase/],
  ])("refuses %s, naming the secret", (_what, text, message) => {
    const error = failure(() => parseEtcdTlsSecret(text, "my/secret"));
    expect(error.code).toBe("bad-input");
    expect(error.message).toMatch(message);
    expect(error.message).toContain("my/secret");
    expect(error.message).not.toContain("secretkeymaterial");
  });
});

describe("resolveEtcdTls", () => {
  const env = { TLS: JSON.stringify({ ca: CA, cert: CERT, key: KEY }) };
  const secrets = createSecretResolver({ env });

  it("reads the material through a reference; the fingerprint follows the material, not the reference", async () => {
    const first = await resolveEtcdTls("env:TLS", secrets);
    expect(first.tls).toEqual({ ca: CA, cert: CERT, key: KEY });
    expect(first.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(first.fingerprint).not.toContain("secretkeymaterial");
    const rotated = await resolveEtcdTls("env:TLS", createSecretResolver({ env: { TLS: JSON.stringify({ ca: CA }) } }));
    expect(rotated.fingerprint).not.toBe(first.fingerprint);
  });

  it("refuses PEM inline in the configuration: a private key belongs in a secret", async () => {
    const error = await resolveEtcdTls(JSON.stringify({ ca: CA }), secrets).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HousekeeperError);
    expect((error as Error).message).toMatch(/must be a secret reference/);
  });

  it("a reference to nothing says which", async () => {
    await expect(resolveEtcdTls("env:MISSING", secrets)).rejects.toThrow(/environment variable MISSING is not set/);
  });

  it("resolveEtcdSettings turns the settings into store options with the material in them", async () => {
    const resolved = await resolveEtcdSettings(
      { endpoints: ["https://10.0.0.1:2379"], root: "dapr/", tlsSecret: "env:TLS" },
      secrets,
    );
    expect(resolved.options).toEqual({
      endpoints: ["https://10.0.0.1:2379"],
      root: "dapr/",
      tls: { ca: CA, cert: CERT, key: KEY },
    });
    const plain = await resolveEtcdSettings({ endpoints: ["10.0.0.1:2379"] }, secrets);
    expect(plain.options).toEqual({ endpoints: ["10.0.0.1:2379"] });
    expect(plain.signature).not.toBe(resolved.signature);
  });
});

describe("where the functions take the reference from", () => {
  it("ETCD_TLS_SECRET for the backup, the restore and the stuck report; scheduler.tlsSecret for a purge target", () => {
    const arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:etcd-tls-AbCdEf";
    expect(reminderBackupSettings({ ETCD_ENDPOINTS: "h:2379", ETCD_TLS_SECRET: arn }, {}).etcd).toEqual({
      endpoints: ["h:2379"],
      tlsSecret: arn,
    });
    const stuck = stuckReportSettings(
      {
        STATE_STORE_CONNECTION_STRING: "redis://127.0.0.1:6379",
        APP_IDS: "a",
        ETCD_ENDPOINTS: "h:2379",
        ETCD_TLS_SECRET: arn,
      },
      {},
    );
    expect(stuck.etcd).toEqual({ endpoints: ["h:2379"], tlsSecret: arn });
    const target = targetSchema.parse({
      appId: "a",
      stateStore: { connectionString: "redis://127.0.0.1:6379" },
      scheduler: { etcdEndpoints: ["h:2379"], tlsSecret: arn },
    });
    expect(target.scheduler).toEqual({ etcdEndpoints: ["h:2379"], tlsSecret: arn });
  });
});
