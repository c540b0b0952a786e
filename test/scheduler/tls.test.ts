/**
 * The etcd TLS flags against a real etcd started here with TLS and client-certificate auth (certificates made with
 * openssl in a temp dir): `--etcd-cacert/--etcd-cert/--etcd-key` with an https:// endpoint work (for `scheduler` and
 * for `workflow purge --mode direct`), and a client without a certificate is refused with one clear error. The
 * functions take the same material from a secret (ETCD_TLS_SECRET, a purge target's scheduler.tlsSecret).
 */
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { Command } from "commander";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { schedulerCommand } from "../../cli/scheduler/index.ts";
import { reminderBackupSettings } from "../../functions/reminder-backup/settings.ts";
import { targetSchema } from "../../shared/config/target.ts";
import { HousekeeperError } from "../../shared/errors.ts";
import { runReminderBackup } from "../../shared/jobs/reminder-backup.ts";
import { buildSeed, buildSeeds } from "../../shared/sample-data/scheduler-jobs.ts";
import { writeInstances } from "../../shared/sample-data/writer.ts";
import { EtcdSchedulerStore } from "../../shared/scheduler/etcd-store.ts";
import { createPostgresDaprTable, openPostgresBackend } from "../../shared/state-store/postgresql.ts";
import { WorkflowStateStore } from "../../shared/state-store/workflow-store.ts";
import { createSecretResolver } from "../../shared/util/secrets.ts";
import { ReminderPortsCache } from "../../shared/wiring/reminder-storage-ports.ts";
import { targetPortsOpener } from "../../shared/wiring/target-ports.ts";
import { createPostgresDatabase, freePort, uniqueDatabaseName } from "../support/servers.ts";

function has(binary: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${binary}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

const AVAILABLE = has("openssl") && has("etcd");

let dir = "";
let etcd: ChildProcess | undefined;
let endpoint = "";
const file = (name: string) => join(dir, name);
const pem = (name: string) => execFileSync("cat", [file(name)]).toString();

async function makeCertificates(): Promise<void> {
  const ssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  ssl(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca-key.pem",
    "-out",
    "ca.pem",
    "-days",
    "2",
    "-subj",
    "/CN=housekeeper-test-ca",
  );
  for (const [name, usage, san] of [
    ["server", "serverAuth", "subjectAltName=IP:127.0.0.1\n"],
    ["client", "clientAuth", ""],
  ] as const) {
    await writeFile(file(`${name}.ext`), `${san}extendedKeyUsage=${usage}\n`);
    ssl(
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      `${name}-key.pem`,
      "-out",
      `${name}.csr`,
      "-subj",
      `/CN=${name}`,
    );
    ssl(
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca-key.pem",
      "-CAcreateserial",
      "-out",
      `${name}.pem`,
      "-days",
      "2",
      "-extfile",
      `${name}.ext`,
    );
  }
}

function store(withClientCert: boolean): EtcdSchedulerStore {
  return new EtcdSchedulerStore({
    endpoints: [endpoint],
    timeoutMs: 5_000,
    tls: withClientCert
      ? {
          ca: execFileSync("cat", [file("ca.pem")]),
          cert: execFileSync("cat", [file("client.pem")]),
          key: execFileSync("cat", [file("client-key.pem")]),
        }
      : { ca: execFileSync("cat", [file("ca.pem")]) },
  });
}

beforeAll(async () => {
  if (!AVAILABLE) return;
  dir = await mkdtemp(join(tmpdir(), "housekeeper-etcd-tls-"));
  await makeCertificates();
  const port = await freePort();
  const peer = await freePort();
  endpoint = `https://127.0.0.1:${port}`;
  etcd = spawn(
    "etcd",
    [
      "--name",
      "tls",
      "--data-dir",
      file("data"),
      "--listen-client-urls",
      endpoint,
      "--advertise-client-urls",
      endpoint,
      "--listen-peer-urls",
      `http://127.0.0.1:${peer}`,
      "--initial-advertise-peer-urls",
      `http://127.0.0.1:${peer}`,
      "--initial-cluster",
      `tls=http://127.0.0.1:${peer}`,
      "--cert-file",
      file("server.pem"),
      "--key-file",
      file("server-key.pem"),
      "--trusted-ca-file",
      file("ca.pem"),
      "--client-cert-auth",
    ],
    { stdio: "ignore", env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("ETCD_"))) },
  );
  const deadline = Date.now() + 30_000;
  for (;;) {
    const probe = store(true);
    try {
      await probe.snapshot();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      await probe.close();
    }
  }
}, 60_000);

afterAll(async () => {
  if (etcd?.pid !== undefined && etcd.exitCode === null) {
    const exited = new Promise((r) => etcd!.once("exit", r));
    etcd.kill("SIGTERM");
    await exited;
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.skipIf(!AVAILABLE)("etcd over TLS with client certificates", () => {
  it("the CLI's TLS flags reach it; the store reads and writes", async () => {
    const s = store(true);
    try {
      await s.put([buildSeed({ target: { app: "secure" }, name: "job" }).job]);
    } finally {
      await s.close();
    }
    let out = "";
    const stdout = new Writable({
      write(chunk, _enc, done) {
        out += chunk.toString();
        done();
      },
    });
    const program = new Command("housekeeper").exitOverride();
    program.addCommand(schedulerCommand({ stdout, stderr: stdout }));
    await program.parseAsync([
      "node",
      "housekeeper",
      "scheduler",
      "list",
      "--etcd-endpoints",
      endpoint,
      "--etcd-cacert",
      file("ca.pem"),
      "--etcd-cert",
      file("client.pem"),
      "--etcd-key",
      file("client-key.pem"),
    ]);
    expect(out).toMatch(/^NAME\s+BEGIN\s+COUNT\napp\/secure\/job\s+-[\d.]+h\s+0\n$/); // LAST TRIGGER: blank, so dropped
  });

  it("without a client certificate the connection is refused with one clear error", async () => {
    const s = store(false);
    try {
      const error = await s.snapshot().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(HousekeeperError);
      expect((error as Error).message).toMatch(
        /^cannot reach etcd at 127\.0\.0\.1:\d+ while reading the current revision/,
      );
    } finally {
      await s.close();
    }
  });

  it("workflow purge --mode direct takes the same TLS flags: the purged instance's reminders go", async () => {
    const app = { appId: "secure-purge", namespace: "default" };
    const url = await createPostgresDatabase(inject("postgresUrl"), uniqueDatabaseName("tls_purge"));
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await createPostgresDaprTable(admin, "state", "v1");
    await admin.end();
    const backend = await openPostgresBackend({ connectionString: url, tableName: "state" });
    const s = store(true);
    try {
      await writeInstances(backend, app, [
        { instanceId: "old-1", scenario: "completed", createdAt: new Date(Date.now() - 60 * 86_400_000) },
      ]);
      const reminder = { target: { workflow: { appId: app.appId, instanceId: "old-1" } }, name: "timer-0" };
      const keys = buildSeeds([reminder]).map((e) => e.key);
      await s.put(buildSeeds([reminder]));
      expect((await (await s.snapshot()).get(keys)).size).toBe(1);
      const run = await new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
        execFile(
          process.execPath,
          [
            "bin/housekeeper.mjs",
            "workflow",
            "purge",
            "-a",
            app.appId,
            "-c",
            url,
            "--all-older-than",
            "720h",
            "--mode",
            "direct",
            "--etcd-endpoints",
            endpoint,
            "--etcd-cacert",
            file("ca.pem"),
            "--etcd-cert",
            file("client.pem"),
            "--etcd-key",
            file("client-key.pem"),
          ],
          { cwd: new URL("../../", import.meta.url).pathname },
          (error, stdout, stderr) => done({ code: error ? 1 : 0, stdout, stderr }),
        );
      });
      // (stderr may hold Node's DEP0123 warning: grpc sets the TLS server name to the IP address)
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).not.toMatch(/Error/);
      expect(run.stdout).toContain('Purged workflow instance "old-1"');
      expect(await new WorkflowStateStore(backend, app).readInstance("old-1")).toBeUndefined();
      expect((await (await s.snapshot()).get(keys)).size).toBe(0);
    } finally {
      await s.close();
      await backend.close();
    }
  });

  it("a missing certificate file is bad input", async () => {
    const program = new Command("housekeeper").exitOverride();
    program.addCommand(schedulerCommand());
    await expect(
      program.parseAsync([
        "node",
        "housekeeper",
        "scheduler",
        "list",
        "--etcd-endpoints",
        endpoint,
        "--etcd-cacert",
        file("nope.pem"),
      ]),
    ).rejects.toThrow(/cannot read --etcd-cacert file .*nope\.pem/);
  });

  it("the backup function reads the TLS material from its secret, and reconnects when the secret rotates", async () => {
    const env: NodeJS.ProcessEnv = {
      ETCD_TLS: JSON.stringify({ ca: pem("ca.pem"), cert: pem("client.pem"), key: pem("client-key.pem") }),
    };
    const backupDir = await mkdtemp(join(tmpdir(), "housekeeper-tls-backup-"));
    const cache = new ReminderPortsCache(createSecretResolver({ env, maxAgeSeconds: 0 }));
    const settings = reminderBackupSettings(
      { ETCD_ENDPOINTS: endpoint, ETCD_TLS_SECRET: "env:ETCD_TLS", BACKUP_DIR: backupDir },
      {},
    );
    try {
      const s = store(true);
      await s.put([buildSeed({ target: { app: "secret-tls" }, name: "job" }).job]).finally(() => s.close());
      const result = await runReminderBackup(await cache.get(settings), {});
      expect(result.jobs).toBeGreaterThanOrEqual(1);

      // Rotated to material without the client certificate: the cached connection is replaced, and refused.
      env.ETCD_TLS = JSON.stringify({ ca: pem("ca.pem") });
      const error = await cache
        .get(settings)
        .then((ports) => runReminderBackup(ports, {}))
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(HousekeeperError);
      expect((error as Error).message).toMatch(/^cannot reach etcd at 127\.0\.0\.1:\d+/);
    } finally {
      await cache.close();
      await rm(backupDir, { recursive: true, force: true });
    }
  });

  it("a purge target's scheduler.tlsSecret reaches the Scheduler that holds the purged instances' reminders", async () => {
    const url = await createPostgresDatabase(inject("postgresUrl"), uniqueDatabaseName("tls_target"));
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await createPostgresDaprTable(admin, "state", "v1");
    await admin.end();
    const app = { appId: "secure-target", namespace: "default" };
    const reminder = { target: { workflow: { appId: app.appId, instanceId: "done-1" } }, name: "timer-0" };
    const s = store(true);
    try {
      await s.put(buildSeeds([reminder]));
      const secrets = createSecretResolver({
        env: { ETCD_TLS: JSON.stringify({ ca: pem("ca.pem"), cert: pem("client.pem"), key: pem("client-key.pem") }) },
      });
      const target = targetSchema.parse({
        appId: app.appId,
        stateStore: { connectionString: url },
        scheduler: { etcdEndpoints: [endpoint], tlsSecret: "env:ETCD_TLS" },
      });
      const ports = await targetPortsOpener(secrets)(target, { sidecar: false });
      try {
        const done = [{ ...app, instanceId: "done-1" }];
        expect(await (await ports.reminders!.capture(done)).deleteFor(done)).toBe(1);
      } finally {
        await ports.close();
      }
      const keys = buildSeeds([reminder]).map((e) => e.key);
      expect((await (await s.snapshot()).get(keys)).size).toBe(0);
    } finally {
      await s.close();
    }
  });
});
