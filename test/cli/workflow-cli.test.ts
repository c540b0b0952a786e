/**
 * End to end: the real CLI (`node bin/housekeeper.mjs`) as a child process against a real PostgreSQL holding
 * Dapr-layout workflow state written by the test-data writer.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import sqlite from "node-sqlite3-wasm";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { parse as parseYaml } from "yaml";
import type { InstanceSpec, Scenario } from "../../shared/sample-data/instance-builder.ts";
import { EXPECTED_STATUS, SCENARIOS } from "../../shared/sample-data/instance-builder.ts";
import { writeInstances } from "../../shared/sample-data/writer.ts";
import { instanceKeyPrefix, METADATA_KEY } from "../../shared/state-store/keys.ts";
import { createPostgresDaprTable, openPostgresBackend } from "../../shared/state-store/postgresql.ts";
import { createSqliteDaprDatabase, openSqliteBackend } from "../../shared/state-store/sqlite.ts";
import { createPostgresDatabase, uniqueDatabaseName } from "../support/servers.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const BIN = join(ROOT, "bin/housekeeper.mjs");
const APP = "orderprocessing";
const DAPR_KEYS = [
  "namespace",
  "appID",
  "name",
  "instanceID",
  "created",
  "lastUpdate",
  "runtimeStatus",
  "customStatus",
  "failureMessage",
];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], options: { env?: Record<string, string>; cwd?: string } = {}): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env };
  if (!options.env?.HOUSEKEEPER_CONNECTION_STRING) delete env.HOUSEKEEPER_CONNECTION_STRING;
  delete env.HOUSEKEEPER_DEBUG;
  return new Promise((done) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd: options.cwd ?? ROOT, env, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        done({ code, stdout, stderr });
      },
    );
  });
}

function stderrLines(run: Run): string[] {
  return run.stderr.split("\n").filter((l) => l !== "");
}

interface WideRecord {
  namespace: string;
  appID: string;
  name: string;
  instanceID: string;
  created: string;
  lastUpdate: string;
  runtimeStatus: string;
  customStatus: string;
  failureMessage: string;
}

// Whole seconds, so expected RFC 3339 strings are exact; the newest instances are only minutes old.
const NOW_S = Math.floor(Date.now() / 1000);
const HOUR = 3_600_000;
const base = new Date((NOW_S - 10 * 24 * 3600) * 1000);

/** One instance per scenario, an hour apart, newest last; two extra sharing one created second (tie by ID). */
function specs(): InstanceSpec[] {
  const list: InstanceSpec[] = SCENARIOS.map((scenario, i) => ({
    instanceId: `wf-${scenario}`,
    scenario,
    name: `Wf_${scenario}`,
    createdAt: new Date(base.getTime() + i * HOUR),
    ...(i % 3 === 0 ? { customStatus: `{"step":${i}}` } : {}),
  }));
  const recent = new Date((NOW_S - 600) * 1000);
  list.push(
    { instanceId: "tie-b", scenario: "completed", name: "Recent", createdAt: new Date(recent.getTime() + 400) },
    { instanceId: "tie-a", scenario: "completed", name: "Recent", createdAt: new Date(recent.getTime() + 900) },
  );
  return list;
}

interface Expected {
  name: string;
  status: string;
  created: string;
  lastUpdate: string;
}

const iso = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
const ZERO = "0001-01-01T00:00:00Z";

function expectedInstances(): Map<string, Expected> {
  const expected = new Map<string, Expected>();
  for (const spec of specs()) {
    const start = spec.createdAt.getTime();
    const pending = spec.scenario === "pending";
    expected.set(spec.instanceId, {
      name: spec.name!,
      status: EXPECTED_STATUS[spec.scenario as Scenario],
      created: pending ? ZERO : iso(start),
      lastUpdate: pending ? ZERO : iso(start + 2000),
    });
    if (spec.scenario === "completed-with-children") {
      for (const c of [0, 1]) {
        expected.set(`${spec.instanceId}:000${c}`, {
          name: "ChildWorkflow",
          status: "COMPLETED",
          created: iso(start + 1000),
          lastUpdate: iso(start + 1500),
        });
      }
    }
  }
  return expected;
}

let url = "";
let tempCwd = "";

beforeAll(async () => {
  url = await createPostgresDatabase(inject("postgresUrl"), uniqueDatabaseName("cli_workflow"));
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await createPostgresDaprTable(client, "state", "v2");
    await createPostgresDaprTable(client, "custom_v1", "v1");
  } finally {
    await client.end();
  }
  const backend = await openPostgresBackend({ connectionString: url, tableName: "state" });
  try {
    await writeInstances(backend, { appId: APP, namespace: "default" }, specs());
    // Same IDs under another app and another namespace must not leak into the listing.
    await writeInstances(backend, { appId: "otherapp", namespace: "default" }, specs().slice(0, 3));
    await writeInstances(backend, { appId: APP, namespace: "prod" }, [
      { instanceId: "prod-1", scenario: "failed", createdAt: base },
    ]);
    // An instance whose metadata is not decodable.
    await writeInstances(backend, { appId: "brokenapp", namespace: "default" }, [
      { instanceId: "ok-1", scenario: "completed", createdAt: base },
    ]);
    const brokenKey = `${instanceKeyPrefix({ appId: "brokenapp", namespace: "default" }, "bad-1")}${METADATA_KEY}`;
    await backend.setMany([[brokenKey, Uint8Array.from([0xff, 0xff, 0xff, 0xff])]]);
  } finally {
    await backend.close();
  }
  const v1 = await openPostgresBackend({ connectionString: url, tableName: "custom_v1" });
  try {
    await writeInstances(v1, { appId: "legacyapp", namespace: "default" }, [
      { instanceId: "legacy-1", scenario: "completed", createdAt: base, legacyJson: true },
    ]);
  } finally {
    await v1.close();
  }
  tempCwd = mkdtempSync(join(tmpdir(), "housekeeper-cli-"));
});

afterAll(() => {
  if (tempCwd) rmSync(tempCwd, { recursive: true, force: true });
});

const list = (...args: string[]) => cli(["workflow", "list", "-a", APP, "-c", url, ...args]);
const history = (id: string, ...args: string[]) => cli(["workflow", "history", id, "-a", APP, "-c", url, ...args]);

function sortedIds(expected: Map<string, Expected>): string[] {
  return [...expected.entries()]
    .sort(([ida, a], [idb, b]) => {
      if (a.created !== b.created) {
        if (a.created === ZERO) return 1;
        if (b.created === ZERO) return -1;
        return a.created < b.created ? -1 : 1;
      }
      return ida < idb ? -1 : ida > idb ? 1 : 0;
    })
    .map(([id]) => id);
}

describe("housekeeper workflow list", () => {
  it("lists every scenario with Dapr's keys, status, name, times and order (-o json)", async () => {
    const run = await list("-o", "json");
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const records = JSON.parse(run.stdout) as WideRecord[];
    const expected = expectedInstances();
    expect(records).toHaveLength(expected.size);
    for (const record of records) {
      expect(Object.keys(record)).toEqual(DAPR_KEYS);
      const want = expected.get(record.instanceID);
      expect(want, record.instanceID).toBeDefined();
      expect(record).toMatchObject({
        namespace: "default",
        appID: APP,
        name: want!.name,
        runtimeStatus: want!.status,
        created: want!.created,
        lastUpdate: want!.lastUpdate,
      });
    }
    expect(records.map((r) => r.instanceID)).toEqual(sortedIds(expected));
    // The two instances created in the same second are ordered by ID, not by their sub-second times.
    const ties = records.filter((r) => r.name === "Recent").map((r) => r.instanceID);
    expect(ties).toEqual(["tie-a", "tie-b"]);
    expect(records.at(-1)!.runtimeStatus).toBe("PENDING");
    const failed = records.find((r) => r.instanceID === "wf-failed")!;
    expect(failed.failureMessage).toBe("activity 'ChargePayment' failed: card declined");
    expect(records.find((r) => r.instanceID === "wf-completed")!.customStatus).toBe('{"step":0}');
    // Go json.MarshalIndent layout.
    expect(run.stdout.startsWith('[\n  {\n    "namespace": "default",\n')).toBe(true);
    // dapr/cli utils.PrintDetail writes json.MarshalIndent's bytes with no newline after them.
    expect(run.stdout.endsWith("\n  }\n]")).toBe(true);
  });

  it("prints the same records as YAML", async () => {
    const [json, yaml] = await Promise.all([list("-o", "json"), list("-o", "yaml")]);
    expect(yaml.code).toBe(0);
    expect(parseYaml(yaml.stdout)).toEqual(JSON.parse(json.stdout));
    expect(yaml.stdout.startsWith("- namespace: default\n  appID: orderprocessing\n")).toBe(true);
  });

  it("prints the short table: NAME, ID, STATUS, CUSTOM STATUS, AGE in the same order", async () => {
    const [short, json] = await Promise.all([list(), list("-o", "json")]);
    expect(short.code).toBe(0);
    const lines = short.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^NAME +ID +STATUS +CUSTOM STATUS +AGE$/);
    const ids = (JSON.parse(json.stdout) as WideRecord[]).map((r) => r.instanceID);
    expect(lines).toHaveLength(ids.length + 1);
    const idStart = lines[0]!.indexOf("ID");
    const ageStart = lines[0]!.indexOf("AGE");
    lines.slice(1).forEach((line, i) => {
      expect(line.slice(idStart).split(/\s+/)[0]).toBe(ids[i]);
    });
    const row = (id: string) => lines.find((l) => l.slice(idStart).startsWith(`${id} `))!;
    expect(row("wf-pending").slice(ageStart)).toBe("<scheduled>");
    expect(row("wf-completed").slice(ageStart)).toBe("10d");
    expect(row("tie-a").slice(ageStart)).toMatch(/^(9m5\d|10m)s?$/);
    expect(row("wf-stalled")).toMatch(/STALLED/);
    expect(row("wf-completed")).toContain('{"step":0}');
  });

  it("prints the wide table with every Dapr column", async () => {
    const run = await list("-o", "wide");
    expect(run.code).toBe(0);
    const [header, ...rows] = run.stdout.trimEnd().split("\n");
    expect(header).toMatch(
      /^NAMESPACE +APP ID +NAME +INSTANCE ID +CREATED +LAST UPDATE +STATUS +CUSTOM STATUS +FAILURE MESSAGE$/,
    );
    const failed = rows.find((r) => r.includes(" wf-failed "))!;
    expect(failed).toMatch(/^default +orderprocessing +Wf_failed +wf-failed +\S+Z +\S+Z +FAILED +.*card declined$/);
    expect(rows.find((r) => r.includes(" wf-pending "))).toContain(`${ZERO}  ${ZERO}  PENDING`);
  });

  it("filters by exact name (-w)", async () => {
    const run = await list("-w", "Recent", "-o", "json");
    expect((JSON.parse(run.stdout) as WideRecord[]).map((r) => r.instanceID)).toEqual(["tie-a", "tie-b"]);
    const none = await list("-w", "recent");
    expect(none.stdout).toBe("");
    expect(none.stderr).toBe(`\u274c  No workflow found in namespace "default" for app ID "${APP}"\n`);
    expect(none.code).toBe(0);
  });

  it("filters by status (-s), case-insensitive, STALLED included", async () => {
    const [stalled, running, completed] = await Promise.all([
      list("-s", "stalled", "-o", "json"),
      list("--filter-status", "RUNNING", "-o", "json"),
      list("-s", "Completed", "-o", "json"),
    ]);
    expect((JSON.parse(stalled.stdout) as WideRecord[]).map((r) => r.instanceID)).toEqual(["wf-stalled"]);
    const runningIds = (JSON.parse(running.stdout) as WideRecord[]).map((r) => r.instanceID).sort();
    expect(runningIds).toEqual([
      "wf-running-activity",
      "wf-running-timer",
      "wf-terminate-requested",
      "wf-waiting-event",
    ]);
    const completedRecords = JSON.parse(completed.stdout) as WideRecord[];
    expect(completedRecords.every((r) => r.runtimeStatus === "COMPLETED")).toBe(true);
    expect(completedRecords).toHaveLength(6); // completed, completed-with-children + 2 children, tie-a, tie-b
  });

  it("filters by max age (-m) as a duration or an RFC 3339 timestamp, dropping PENDING", async () => {
    const [hour, days, since] = await Promise.all([
      list("-m", "1h", "-o", "json"),
      list("-m", "216h", "-o", "json"), // 9 days: drops the scenarios created ~10 days ago
      list("-m", iso(base.getTime() + 11.5 * HOUR), "-o", "json"),
    ]);
    expect((JSON.parse(hour.stdout) as WideRecord[]).map((r) => r.instanceID)).toEqual(["tie-a", "tie-b"]);
    expect((JSON.parse(days.stdout) as WideRecord[]).map((r) => r.instanceID)).toEqual(["tie-a", "tie-b"]);
    const sinceIds = (JSON.parse(since.stdout) as WideRecord[]).map((r) => r.instanceID);
    // Scenarios 12 (completed-with-children, at +12h) and its children, plus the recent ones; never PENDING.
    expect(sinceIds).toEqual([
      "wf-completed-with-children",
      "wf-completed-with-children:0000",
      "wf-completed-with-children:0001",
      "tie-a",
      "tie-b",
    ]);
  });

  it("combines filters", async () => {
    const run = await list("-w", "Wf_failed", "-s", "FAILED", "-m", "720h", "-o", "json");
    expect((JSON.parse(run.stdout) as WideRecord[]).map((r) => r.instanceID)).toEqual(["wf-failed"]);
  });

  it("keeps apps and namespaces apart", async () => {
    const [prod, other] = await Promise.all([
      cli(["workflow", "list", "-a", APP, "-n", "prod", "-c", url, "-o", "json"]),
      cli(["workflow", "list", "-a", "otherapp", "-c", url, "-o", "json"]),
    ]);
    expect((JSON.parse(prod.stdout) as WideRecord[]).map((r) => [r.namespace, r.instanceID])).toEqual([
      ["prod", "prod-1"],
    ]);
    expect(JSON.parse(other.stdout)).toHaveLength(3);
  });

  it("says so on stderr and exits 0 when nothing matches", async () => {
    const run = await cli(["workflow", "list", "-a", "nobody", "-n", "staging", "-c", url]);
    expect(run).toMatchObject({
      code: 0,
      stdout: "",
      // Dapr's line exactly, then our hint naming the apps the store holds (cli/output/app-hint.ts).
      stderr: expect.stringMatching(
        /^\u274c {2}No workflow found in namespace "staging" for app ID "nobody"\nhint: [^\n]+\n$/,
      ),
    });
  });

  it("warns about unreadable instances, lists the rest, and exits 0", async () => {
    const run = await cli(["workflow", "list", "-a", "brokenapp", "-c", url, "-o", "json"]);
    expect(run.code).toBe(0);
    expect((JSON.parse(run.stdout) as WideRecord[]).map((r) => r.instanceID)).toEqual(["ok-1"]);
    const lines = stderrLines(run);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^warning: skipped instance bad-1: .+ \(key brokenapp\|\|.+\|\|bad-1\|\|metadata\)$/);
    expect(lines[1]).toBe("warning: 1 instance could not be read and was skipped");
  });

  it("gives the same output when the sort spills to disk", async () => {
    const [memory, spilled] = await Promise.all([
      list("-o", "json"),
      cli(["workflow", "list", "-a", APP, "-c", url, "-o", "json"], { env: { HOUSEKEEPER_LIST_SORT_RUN_SIZE: "3" } }),
    ]);
    expect(spilled.code).toBe(0);
    expect(spilled.stdout).toBe(memory.stdout);
  });

  it("reads --table-name and the connection string from HOUSEKEEPER_CONNECTION_STRING", async () => {
    const run = await cli(["workflow", "list", "-a", "legacyapp", "-t", "custom_v1", "-o", "json"], {
      env: { HOUSEKEEPER_CONNECTION_STRING: url },
    });
    expect(run.stderr).toBe("");
    expect((JSON.parse(run.stdout) as WideRecord[]).map((r) => [r.instanceID, r.runtimeStatus])).toEqual([
      ["legacy-1", "COMPLETED"],
    ]);
  });

  it("uses the embedded store when no connection string is given", async () => {
    const run = await cli(["workflow", "list", "-a", "orderprocessing", "-o", "json"], { cwd: tempCwd });
    // The first run says on stderr why it pauses; stdout holds only the records.
    expect(run.stderr).toMatch(
      /^using the embedded sample store in \.\/\.housekeeper\/ \(app orderprocessing\); -c or HOUSEKEEPER_CONNECTION_STRING names a real store\ncreating the embedded sample store in .*\.housekeeper.* \(first use\)\n$/,
    );
    expect(run.code).toBe(0);
    expect((JSON.parse(run.stdout) as WideRecord[]).length).toBeGreaterThan(0);
    expect(existsSync(join(tempCwd, ".housekeeper"))).toBe(true);
    const again = await cli(["workflow", "list", "-a", "orderprocessing", "-o", "json"], { cwd: tempCwd });
    expect(again.stderr).toMatch(/^using the embedded sample store in \.\/\.housekeeper\/ .*\n$/);
    expect(again.stdout).toBe(run.stdout);
    // `-c embedded` names the same store.
    const named = await cli(["workflow", "list", "-a", "orderprocessing", "-o", "json", "-c", "embedded"], {
      cwd: tempCwd,
    });
    expect(named.stdout).toBe(run.stdout);
  });

  it("reads a Dapr SQLite state store file given with -c (path or file: URI), and purges it when named", async () => {
    const file = join(tempCwd, "dapr-state.db");
    createSqliteDaprDatabase(file);
    const backend = await openSqliteBackend({ path: file });
    try {
      await writeInstances(backend, { appId: "sqliteapp", namespace: "default" }, [
        { instanceId: "done-1", scenario: "completed", createdAt: new Date(Date.now() - 40 * 24 * HOUR) },
        { instanceId: "run-1", scenario: "running-timer", createdAt: new Date() },
      ]);
    } finally {
      await backend.close();
    }
    for (const connection of [file, `file:${file}`, "./dapr-state.db"]) {
      const run = await cli(["workflow", "list", "-a", "sqliteapp", "-c", connection, "-o", "ids"], { cwd: tempCwd });
      expect({ code: run.code, stderr: run.stderr, ids: run.stdout.split("\n").sort() }).toEqual({
        code: 0,
        stderr: "",
        ids: ["", "done-1", "run-1"],
      });
    }
    const purge = await cli(
      ["workflow", "purge", "-a", "sqliteapp", "-c", file, "--all-older-than", "720h", "--mode", "direct"],
      { cwd: tempCwd, env: { HOUSEKEEPER_ETCD_ENDPOINTS: inject("etcdEndpoint") } },
    );
    expect(purge.code, purge.stderr).toBe(0);
    const after = await cli(["workflow", "list", "-a", "sqliteapp", "-c", file, "-o", "ids"], { cwd: tempCwd });
    expect(after.stdout.trim()).toBe("run-1");
  });

  it("refuses a missing SQLite file (never creating one) and a file that is not a Dapr store, in one line", async () => {
    const missing = join(tempCwd, "typo.db");
    const run = await cli(["workflow", "list", "-a", APP, "-c", missing], { cwd: tempCwd });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toBe(`Error: SQLite database ${missing} does not exist (check the path; it is never created)\n`);
    expect(existsSync(missing)).toBe(false);
    const other = join(tempCwd, "other.db");
    const db = new sqlite.Database(other);
    db.exec("CREATE TABLE notes (id INTEGER)");
    db.close();
    const wrong = await cli(["workflow", "list", "-a", APP, "-c", other], { cwd: tempCwd });
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/^Error: .*other\.db has no table "state": not a Dapr SQLite state store .*\n$/);
  });

  it("refuses a purge of the sample store unless it is named, and touches nothing", async () => {
    const before = await cli(["workflow", "list", "-a", "orderprocessing", "-o", "ids"], { cwd: tempCwd });
    for (const mode of ["sidecar", "direct"]) {
      const run = await cli(
        [
          "workflow",
          "purge",
          "-a",
          "orderprocessing",
          "--all-older-than",
          "1h",
          "--mode",
          mode,
          "--etcd-endpoints",
          "127.0.0.1:1",
        ],
        { cwd: tempCwd },
      );
      expect(run.code).not.toBe(0);
      expect(run.stdout).toBe("");
      expect(run.stderr).toBe(
        "Error: workflow purge (without --dry-run) needs the state store named: give -c <connection string> (or HOUSEKEEPER_CONNECTION_STRING); -c embedded for the sample store\n",
      );
    }
    const dryRun = await cli(["workflow", "purge", "-a", "orderprocessing", "--all-older-than", "720h", "--dry-run"], {
      cwd: tempCwd,
    });
    expect(dryRun.code).toBe(0);
    expect(dryRun.stdout).toMatch(/would be purged/);
    const after = await cli(["workflow", "list", "-a", "orderprocessing", "-o", "ids"], { cwd: tempCwd });
    expect(after.stdout).toBe(before.stdout);
  });
});

describe("housekeeper errors: one line on stderr, exit code 1", () => {
  it.each([
    ["an unknown flag", ["workflow", "list", "-a", APP, "--bogus"], /^Error: unknown option '--bogus'$/],
    ["an unknown command", ["workflow", "lsit"], /^Error: unknown command 'lsit'/],
    ["a missing app ID", ["workflow", "list"], /^Error: required option '-a, --app-id <id>' not specified$/],
    ["a bad output format", ["workflow", "list", "-a", APP, "-o", "xml"], /^Error: .*'xml' is invalid.*short, wide/],
    ["a bad status", ["workflow", "list", "-a", APP, "-s", "DONE"], /^Error: invalid value "DONE" for --filter-status/],
    [
      "a malformed max age",
      ["workflow", "list", "-a", APP, "-m", "3 days"],
      /^Error: invalid value "3 days" for --filter-max-age: expected a Go duration .* RFC 3339 timestamp/,
    ],
    ["a bad connection string", ["workflow", "list", "-a", APP, "-c", "nonsense"], /^Error: .*connection string/i],
    [
      "an unreachable store",
      ["workflow", "list", "-a", APP, "-c", "postgres://postgres@127.0.0.1:1/none?connect_timeout=5"],
      /^Error: .*(ECONNREFUSED|connect)/,
    ],
    ["a missing instance ID", ["workflow", "history", "-a", APP], /^Error: missing required argument 'instance-id'$/],
  ])("%s", async (what, args, message) => {
    const run = await cli(args);
    // 2: usage error or refused input; 1: a failure (cli/exit-codes.ts).
    expect(run.code).toBe(what === "an unreachable store" ? 1 : 2);
    expect(run.stdout).toBe("");
    const lines = stderrLines(run);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
  });
});

describe("housekeeper workflow history", () => {
  it("prints a completed instance's history as Dapr's short table", async () => {
    const run = await history("wf-completed");
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^TYPE +NAME +EVENTID +ELAPSED +STATUS +DETAILS$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual([
      "WorkflowStarted",
      "ExecutionStarted",
      "TaskScheduled",
      "WorkflowCompleted",
      "WorkflowStarted",
      "TaskCompleted",
      "TaskScheduled",
      "WorkflowCompleted",
      "WorkflowStarted",
      "TaskCompleted",
      "ExecutionCompleted",
      "WorkflowCompleted",
    ]);
    expect(lines[1]).toMatch(/^WorkflowStarted +- +- +Age:240\.\dh +RUNNING +replay$/);
    expect(lines[2]).toMatch(/^ExecutionStarted +Wf_completed +- +1\.0ms +RUNNING +workflowStart$/);
    expect(lines[3]).toMatch(/^TaskScheduled +ValidateOrder +0 +1\.0ms +RUNNING +-$/);
    expect(lines[11]).toMatch(/^ExecutionCompleted +- +2 +1\.0ms +COMPLETED +execDuration=2\.00s$/);
  });

  it("prints the wide table with PLAY, TIMESTAMP, EXECUTION ID and ATTRS", async () => {
    const run = await history("wf-failed", "-o", "wide");
    expect(run.code).toBe(0);
    const [header, ...rows] = run.stdout.trimEnd().split("\n");
    // ROUTER is dropped: no event has a router, and Dapr drops all-blank columns.
    expect(header).toMatch(/^PLAY +TYPE +NAME +EVENTID +TIMESTAMP +ELAPSED +STATUS +DETAILS +EXECUTION ID +ATTRS$/);
    expect(rows).toHaveLength(12);
    expect(rows[9]).toMatch(/^3 +TaskFailed +\S+Z +1\.0ms +FAILED +scheduledId=1;errorType=ActivityFailedError/);
  });

  it("prints a failed instance's history as JSON and YAML records with Dapr's keys", async () => {
    const [json, yaml] = await Promise.all([history("wf-failed", "-o", "json"), history("wf-failed", "-o", "yaml")]);
    expect(json.code).toBe(0);
    const rows = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
    expect(parseYaml(yaml.stdout)).toEqual(rows);
    expect(rows).toHaveLength(12);
    expect(Object.keys(rows[0]!)).toEqual([
      "namespace",
      "appID",
      "play",
      "type",
      "name",
      "timestamp",
      "elapsed",
      "status",
      "details",
    ]);
    expect(rows[0]).toMatchObject({ namespace: "default", appID: APP, play: 1, name: null, details: "replay" });
    // The first turn's WorkflowStarted is stamped 1 ms before the ExecutionStarted (createdAt), as in a real history.
    expect(rows[0]!.timestamp).toBe(iso(base.getTime() + HOUR - 1));
    const taskFailed = rows.find((r) => r.type === "TaskFailed")!;
    expect(taskFailed).toMatchObject({ status: "FAILED", play: 3, name: null, details: null });
    expect(taskFailed.attrs).toBe("scheduledId=1;errorType=ActivityFailedError;errorMsg=card declined");
    const completed = rows.find((r) => r.type === "ExecutionCompleted")!;
    expect(completed).toMatchObject({ status: "FAILED", eventId: 2, details: "execDuration=2.00s" });
    expect(completed.attrs).toBe(
      "failureType=ActivityFailedError;failureMessage=activity 'ChargePayment' failed: card declined",
    );
    const scheduled = rows.find((r) => r.type === "TaskScheduled")!;
    expect(scheduled).toMatchObject({ eventId: 0, executionId: "wf-failed-task-0" });
  });

  it("reports an unknown instance on one line with exit code 1", async () => {
    const run = await history("no-such-instance");
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toBe(
      `Error: workflow instance "no-such-instance" not found for app ID "${APP}" in namespace "default"\n`,
    );
  });
});
