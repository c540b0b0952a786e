/**
 * `housekeeper report stuck` end to end, in process (the command group as reportCommand builds it), against a
 * real PostgreSQL holding the stuck-report fixture and the real etcd holding its reminders (an isolated key root via
 * the hidden --etcd-root flag): every format, --out, the thresholds, and one-line errors for bad flags.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command, CommanderError } from "commander";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { renderTable } from "../../cli/output/table.ts";
import { reportCommand } from "../../cli/report/index.ts";
import { TABLE_HEADERS, tableCells } from "../../cli/report/stuck.ts";
import { HousekeeperError } from "../../shared/errors.ts";
import { CSV_COLUMNS } from "../../shared/jobs/stuck-report/formats/csv.ts";
import type { StuckRecord } from "../../shared/jobs/stuck-report/model.ts";
import { buildSeeds } from "../../shared/sample-data/scheduler-jobs.ts";
import { EtcdSchedulerStore } from "../../shared/scheduler/etcd-store.ts";
import { writeBatches } from "../../shared/scheduler/store.ts";
import type { AppRef } from "../../shared/state-store/keys.ts";
import { createPostgresDaprTable, openPostgresBackend } from "../../shared/state-store/postgresql.ts";
import { parseCsv } from "../report/samples.ts";
import { EXPECTED, expectedWithoutScheduler, stuckFixture, writeFixture } from "../report/stuck-fixtures.ts";
import { Capture } from "../support/capture.ts";
import { createPostgresDatabase, uniqueDatabaseName } from "../support/servers.ts";

const APP: AppRef = { appId: "clishop", namespace: "default" };
const NOW = new Date("2026-06-15T12:00:00Z");
const fixture = stuckFixture(NOW, APP);

let url: string;
let scheduler: EtcdSchedulerStore;
let dir: string;

beforeAll(async () => {
  url = await createPostgresDatabase(inject("postgresUrl"), uniqueDatabaseName("stuck_cli"));
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await createPostgresDaprTable(admin, "state", "v1");
  await admin.end();
  const backend = await openPostgresBackend({ connectionString: url, tableName: "state" });
  await writeFixture(backend, fixture);
  await backend.close();
  scheduler = new EtcdSchedulerStore({
    endpoints: [inject("etcdEndpoint")],
    root: `t-stuckcli-${randomBytes(5).toString("hex")}/dapr/`,
  });
  for (const batch of writeBatches(buildSeeds(fixture.reminders))) await scheduler.put(batch);
  dir = await mkdtemp(join(tmpdir(), "housekeeper-report-cli-"));
});

afterAll(async () => {
  await scheduler?.deletePrefixes(["dapr/"]).catch(() => undefined);
  await scheduler?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function cli(...args: string[]): Promise<{ out: string; err: string }> {
  const stdout = new Capture();
  const stderr = new Capture();
  const program = new Command("housekeeper");
  program.addCommand(reportCommand({ stdout, stderr, now: () => NOW }));
  const configure = (command: Command) => {
    command.exitOverride().configureOutput({
      writeOut: (t) => stdout.write(t),
      writeErr: (t) => stderr.write(t),
    });
    for (const sub of command.commands) configure(sub);
  };
  configure(program);
  await program.parseAsync(["node", "housekeeper", "report", "stuck", ...args]);
  return { out: stdout.text, err: stderr.text };
}

const store = (app = APP.appId) => ["-a", app, "-c", url, "-t", "state"];
const etcd = () => ["--etcd-endpoints", inject("etcdEndpoint"), "--etcd-root", scheduler.root];
const RETENTION = ["--retention", "COMPLETED=30d,FAILED=2160h"];

function reasons(records: StuckRecord[]): Record<string, string[]> {
  return Object.fromEntries(records.map((r) => [r.instanceID, r.reasons]));
}

describe("housekeeper report stuck", () => {
  it("--format json: one record per stuck instance, oldest first, with the Scheduler checked", async () => {
    const { out, err } = await cli(...store(), ...etcd(), ...RETENTION, "--format", "json");
    const records = JSON.parse(out) as StuckRecord[];
    expect(reasons(records)).toEqual(EXPECTED);
    for (const r of records) {
      expect(Object.keys(r)).toEqual(
        expect.arrayContaining(["instanceID", "name", "runtimeStatus", "created", "lastUpdate", "reasons", "details"]),
      );
    }
    expect(records.map((r) => r.ageMs)).toEqual(records.map((r) => r.ageMs).sort((a, b) => b - a));
    expect(err).toContain(`${records.length} of ${fixture.instances.length} instances look stuck in app clishop`);
    expect(err).toContain(
      "By reason: idle-too-long 4, no-reminder 6, timer-overdue 2, waiting-for-event 3, past-retention 1.",
    );
  });

  it("table (default): the Dapr CLI's table layout, oldest first; without etcd no reminder check", async () => {
    const { out, err } = await cli(...store());
    const json = JSON.parse((await cli(...store(), "--format", "json")).out) as StuckRecord[];
    const expected = expectedWithoutScheduler();
    delete expected["s-past-retention"]; // no --retention
    expect(reasons(json)).toEqual(expected);
    expect(out).toBe(renderTable(TABLE_HEADERS, json.map(tableCells)));
    expect(out.split("\n")[0]).toMatch(/^INSTANCE ID +NAME +STATUS +AGE +CREATED +REASONS +WAITING FOR$/);
    expect(err).toContain("Scheduler reminders were not checked.");
  });

  it("--format csv --out FILE writes RFC 4180 CSV to the file, not stdout", async () => {
    const file = join(dir, "stuck.csv");
    const { out, err } = await cli(...store(), ...etcd(), "--format", "csv", "--out", file);
    expect(out).toBe("");
    const rows = parseCsv(await readFile(file, "utf8"));
    expect(rows[0]).toEqual([...CSV_COLUMNS]);
    const id = CSV_COLUMNS.indexOf("instanceID");
    const expected = { ...EXPECTED };
    delete expected["s-past-retention"]; // no --retention this time
    expect(
      rows
        .slice(1)
        .map((r) => r[id])
        .sort(),
    ).toEqual(Object.keys(expected).sort());
    expect(err).toContain(`CSV report: ${file}`);
    expect((await readdir(dir)).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("--format html --out FILE writes the self-contained page", async () => {
    const file = join(dir, "stuck.html");
    await cli(...store(), ...etcd(), ...RETENTION, "--format", "html", "--out", file, "--html-rows", "5");
    const html = await readFile(file, "utf8");
    expect(html).toContain(`data-stuck="${Object.keys(EXPECTED).length}"`);
    expect(html.match(/<tr data-instance=/g)).toHaveLength(5);
    expect(html).toContain(`${Object.keys(EXPECTED).length - 5} more stuck instances are not shown here`);
  });

  it("-o/--output and --output-file, the grammar of the other commands; --format and --out are the same flags", async () => {
    const byOutput = await cli(...store(), "-o", "json");
    const byFormat = await cli(...store(), "--format", "json");
    expect(byOutput.out).toBe(byFormat.out);
    expect(JSON.parse(byOutput.out)).not.toEqual([]);
    const file = join(dir, "stuck-o.csv");
    const { out, err } = await cli(...store(), "--output", "csv", "--output-file", file);
    expect(out).toBe("");
    expect(err).toContain(`CSV report: ${file}`);
    expect(parseCsv(await readFile(file, "utf8"))[0]).toEqual([...CSV_COLUMNS]);
    await expect(cli(...store(), "-o", "json", "--format", "csv")).rejects.toThrow(/cannot be used with option/);
    await expect(cli(...store(), "--output-file", file, "--out", file)).rejects.toThrow(/cannot be used with option/);
    const help = await cli("--help").catch((error: unknown) => error);
    expect(help).toBeInstanceOf(CommanderError);
  });

  it("--fail-on-stuck ends with exit status 3 when something is stuck, after writing the report", async () => {
    const error = await cli(...store(), "-o", "json", "--fail-on-stuck").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommanderError);
    expect((error as CommanderError).exitCode).toBe(3);
    await expect(cli(...store("nobody"), "--fail-on-stuck")).resolves.toMatchObject({ out: "" });
  });

  it("honours --older-than, --threshold, --event-wait and --timer-overdue", async () => {
    const { out } = await cli(
      ...store(),
      ...etcd(),
      "--format",
      "json",
      "--older-than",
      "4d",
      "--threshold",
      "suspended=1h,PENDING=2h",
      "--event-wait",
      "5d",
      "--timer-overdue",
      "4h",
    );
    const got = reasons(JSON.parse(out) as StuckRecord[]);
    expect(got["h-suspended"]).toEqual(["idle-too-long"]);
    expect(got["s-no-reminder-pending"]).toEqual(["idle-too-long", "no-reminder"]);
    expect(got["s-idle-activity"]).toBeUndefined();
    expect(got["s-event-timeout"]).toBeUndefined();
    expect(got["s-overdue-no-reminder"]).toEqual(["no-reminder"]);
  });

  it("says so when nothing is stuck; json prints []", async () => {
    const table = await cli(...store("nobody"));
    expect(table.out).toBe("");
    expect(table.err).toContain('No stuck workflow found in namespace "default" for app ID "nobody" (0 scanned)');
    expect((await cli(...store("nobody"), "--format", "json")).out).toBe("[]\n");
  });

  it("rejects bad flags before touching a store, with one clear message", async () => {
    const bad = async (args: string[], pattern: RegExp) => {
      const error = await cli(...store(), ...args).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(HousekeeperError);
      expect((error as HousekeeperError).code).toBe("bad-input");
      expect((error as Error).message).toMatch(pattern);
    };
    await bad(["--older-than", "7days"], /invalid value for --older-than "7days"/);
    await bad(["--threshold", "RUNNING"], /invalid --threshold "RUNNING": expected STATUS=duration/);
    await bad(["--threshold", "COMPLETED=1h"], /"COMPLETED" is not one of RUNNING, PENDING, SUSPENDED, STALLED/);
    await bad(["--retention", "RUNNING=1h"], /"RUNNING" is not one of COMPLETED/);
    await bad(["--html-rows", "0"], /--html-rows/);
    await bad(["--etcd-endpoints", "nohostport"], /invalid etcd endpoint/);
    await bad(["--etcd-cert", "/x"], /need --etcd-endpoints/);
    await expect(cli(...store(), "--format", "xml")).rejects.toBeInstanceOf(CommanderError);
    await expect(cli("-c", url)).rejects.toThrow(/required option '-a, --app-id <id>'/);
  });
});
