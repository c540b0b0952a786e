import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { writeInstances } from "../../shared/sample-data/writer.ts";
import type { StateBackend } from "../../shared/state-store/backend.ts";
import type { AppRef } from "../../shared/state-store/keys.ts";
import { createPostgresDaprTable, openPostgresBackend } from "../../shared/state-store/postgresql.ts";
import { WorkflowStateStore } from "../../shared/state-store/workflow-store.ts";
import { type CliRun, runHousekeeper } from "../support/cli.ts";
import { createPostgresDatabase, uniqueDatabaseName } from "../support/servers.ts";

const DAY = 86_400_000;

const housekeeper = runHousekeeper;

/** Exactly one line on stderr, `Error: …`, matching `message`; nothing on stdout; a failure exit. */
function expectRefused(run: CliRun, message: RegExp | string): void {
  expect(run.stdout).toBe("");
  expect(run.stderr.trimEnd().split("\n")).toHaveLength(1);
  if (typeof message === "string") expect(run.stderr).toBe(`Error: ${message}\n`);
  else expect(run.stderr).toMatch(message);
  expect(run.stderr).not.toMatch(/\n\s+at /);
  expect(run.code).not.toBe(0);
}

const app: AppRef = { appId: `refused-${randomUUID().slice(0, 8)}`, namespace: "default" };
let url: string;
let backend: StateBackend;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "housekeeper-refused-"));
  url = await createPostgresDatabase(inject("postgresUrl"), uniqueDatabaseName("refused"));
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await createPostgresDaprTable(admin, "state", "v1");
  await admin.end();
  backend = await openPostgresBackend({ connectionString: url, tableName: "state" });
  const now = Date.now();
  await writeInstances(backend, app, [
    { instanceId: "done-1", scenario: "completed", createdAt: new Date(now - 60 * DAY) },
    { instanceId: "running-1", scenario: "running-activity", createdAt: new Date(now - 60 * DAY) },
  ]);
});
afterAll(async () => {
  await backend?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("negative durations", () => {
  it("refuses --all-older-than -1h (it would select every terminal instance) and leaves everything", async () => {
    const run = await housekeeper(["workflow", "purge", "--all-older-than", "-1h", "-a", app.appId, "-c", url]);
    expectRefused(run, 'invalid value "-1h" for --all-older-than: an age must not be negative');
    expect(await new WorkflowStateStore(backend, app).readInstance("done-1")).toBeDefined();
  });

  it("refuses --all-older-than in the future, and --filter-max-age -30m", async () => {
    const future = await housekeeper([
      "workflow",
      "purge",
      "--all-older-than",
      "2999-01-01T00:00:00Z",
      "-a",
      app.appId,
      "-c",
      url,
      "--dry-run",
    ]);
    expectRefused(future, /^Error: --all-older-than 2999-01-01T00:00:00Z is in the future/);
    const list = await housekeeper(["workflow", "list", "--filter-max-age", "-30m", "-a", app.appId, "-c", url]);
    expectRefused(list, 'invalid value "-30m" for --filter-max-age: an age must not be negative');
  });
});

describe("connection strings", () => {
  const cases: Array<[string, string, RegExp]> = [
    ["SQL Server, empty Server=", "Server=;Database=dapr;User Id=sa;Password=secret1", /the Server value is empty/],
    ["SQL Server, Server= of spaces", "Server=  ;Database=dapr", /the Server value is empty/],
    ['SQL Server, unterminated "', 'Server="db1;Database=dapr;User Id=sa', /a "quoted" value is not terminated/],
    [
      "SQL Server, unterminated '",
      "Server='db1;Database=dapr;User Id=sa",
      /the server value's '-quote is not terminated/,
    ],
    [
      "PostgreSQL, control character in a host",
      "host=db\u0001.example user=u",
      /the host part contains a control character \(U\+0001\)/,
    ],
    [
      "PostgreSQL URL, %-escaped newline in a host",
      "postgres://u:p@db%0A.example/x",
      /the host contains a control character/,
    ],
    [
      "MySQL DSN, control character in a database",
      "u:p@tcp(db:3306)/dapr\u001b[2J",
      /the database name contains a control character/,
    ],
    ["Redis, %-escaped NUL in a password", "redis://u:pa%00ss@db:6379/0", /the password contains a control character/],
    [
      "MongoDB, control character in the URL",
      "mongodb://db\u0007:27017/x",
      /the url part contains a control character \(U\+0007\)/,
    ],
  ];
  for (const [name, connection, message] of cases) {
    it(`refuses ${name}`, async () => {
      const run = await housekeeper(["workflow", "list", "-a", "app", "-c", connection]);
      expectRefused(run, new RegExp(`^Error: bad connection string: ${message.source}`));
      expect(run.stderr).not.toContain("secret1");
    });
  }
});

describe("etcd TLS files", () => {
  it("refuses a garbage --etcd-cacert (a plain etcd is never switched to TLS by it)", async () => {
    const garbage = join(dir, "garbage.pem");
    writeFileSync(garbage, "not a certificate\n");
    const run = await housekeeper([
      "scheduler",
      "list",
      "--etcd-endpoints",
      inject("etcdEndpoint"),
      "--etcd-cacert",
      garbage,
    ]);
    expectRefused(run, `--etcd-cacert file ${garbage} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  });

  it("refuses a PEM-shaped --etcd-cacert that does not decode, and a garbage --etcd-key", async () => {
    const broken = join(dir, "broken.pem");
    writeFileSync(broken, "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n");
    const ca = await housekeeper([
      "scheduler",
      "list",
      "--etcd-endpoints",
      inject("etcdEndpoint"),
      "--etcd-cacert",
      broken,
    ]);
    expectRefused(ca, /^Error: --etcd-cacert file .*broken\.pem is not a valid PEM certificate: /);
    const key = await housekeeper([
      "scheduler",
      "list",
      "--etcd-endpoints",
      inject("etcdEndpoint"),
      "--etcd-cert",
      broken,
      "--etcd-key",
      broken,
    ]);
    expectRefused(key, /^Error: --etcd-cert file .*broken\.pem is not a valid PEM certificate: /);
  });
});

describe("webhook serve", () => {
  it("refuses a --receive-timeout that is not a positive duration", async () => {
    const run = await housekeeper([
      "webhook",
      "serve",
      "--config",
      "examples/webhook-routes.json",
      "--receive-timeout",
      "0s",
    ]);
    expectRefused(run, 'invalid --receive-timeout "0s": must be at least 1ms');
  });
});

describe("workflow purge --mode direct by ID", () => {
  const purgeById = (id: string) =>
    housekeeper([
      "workflow",
      "purge",
      id,
      "-a",
      app.appId,
      "-c",
      url,
      "--mode",
      "direct",
      "--etcd-endpoints",
      inject("etcdEndpoint"),
    ]);

  it("exits non-zero when the instance asked for is running, and leaves it", async () => {
    const run = await purgeById("running-1");
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('skipped "running-1"');
    expect(run.stderr).toMatch(/^Error: 1 of the 1 instance\(s\) asked for were not purged \(listed above\)$/m);
    expect(await new WorkflowStateStore(backend, app).readInstance("running-1")).toBeDefined();
  });

  it("exits non-zero when no instance asked for exists", async () => {
    const run = await purgeById("no-such-id");
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('failed to purge "no-such-id": no such instance exists');
    expect(run.stderr).toMatch(/^Error: 1 instance\(s\) could not be purged/m);
  });
});
