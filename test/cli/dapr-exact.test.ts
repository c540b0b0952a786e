/**
 * The real CLI against state written byte for byte as Dapr writes it: history events encoded with the google-protobuf
 * classes generated from the upstream durabletask .proto (@dapr/durabletask-js), metadata as hand-made protobuf
 * bytes of BackendWorkflowStateMetadata (inboxLength = 1, historyLength = 2, generation = 3). Nothing here goes
 * through our own encoders.
 */
import { execFile } from "node:child_process";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import pg from "pg";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { createPostgresDaprTable, openPostgresBackend } from "../../shared/state-store/postgresql.ts";
import { createPostgresDatabase, uniqueDatabaseName } from "../support/servers.ts";

const require = createRequire(import.meta.url);
// biome-ignore lint/suspicious/noExplicitAny: generated jspb module without usable ESM types
const pb: any = require("@dapr/durabletask-js/proto/orchestrator_service_pb.js");
// biome-ignore lint/suspicious/noExplicitAny: same
const tspb: any = require("@dapr/durabletask-js/node_modules/google-protobuf/google/protobuf/timestamp_pb.js");

const ROOT = resolve(import.meta.dirname, "../..");
const BIN = join(ROOT, "bin/housekeeper.mjs");
const APP = "exactapp";
const T0 = 1_767_225_600; // 2026-01-01T00:00:00Z

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[]): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.HOUSEKEEPER_CONNECTION_STRING;
  delete env.HOUSEKEEPER_DEBUG;
  return new Promise((done) => {
    execFile(process.execPath, [BIN, ...args], { cwd: ROOT, env }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

// biome-ignore lint/suspicious/noExplicitAny: jspb builder
type Jspb = any;
const event = (seconds: number, set: (e: Jspb) => Jspb): Uint8Array =>
  set(new pb.HistoryEvent().setEventid(-1).setTimestamp(new tspb.Timestamp().setSeconds(seconds))).serializeBinary();
const started = (seconds: number, name: string) =>
  event(seconds, (e) => e.setExecutionstarted(new pb.ExecutionStartedEvent().setName(name)));
const completed = (seconds: number, status: number) =>
  event(seconds, (e) => e.setExecutioncompleted(new pb.ExecutionCompletedEvent().setOrchestrationstatus(status)));
/**
 * The generated classes predate ExecutionStalledEvent, so its field is appended by hand from durabletask-go
 * api/protos/history_events.pb.go: HistoryEvent field 31 (bytes), ExecutionStalledEvent.description field 2.
 */
function stalled(seconds: number): Uint8Array {
  const description = Buffer.from("patch mismatch");
  const inner = Buffer.concat([Uint8Array.of(0x12, description.length), description]);
  const head = new pb.HistoryEvent().setEventid(-1).setTimestamp(new tspb.Timestamp().setSeconds(seconds));
  return Buffer.concat([head.serializeBinary(), Uint8Array.of(0xfa, 0x01, inner.length), inner]);
}

/** BackendWorkflowStateMetadata, hand-encoded: fields 1..3 as varints. */
const metadata = (inbox: number, history: number) => Uint8Array.of(0x08, inbox, 0x10, history, 0x18, 1);

let url = "";

beforeAll(async () => {
  url = await createPostgresDatabase(inject("postgresUrl"), uniqueDatabaseName("cli_dapr_exact"));
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await createPostgresDaprTable(client, "state", "v2");
  } finally {
    await client.end();
  }
  const instances: Record<string, { history: Uint8Array[]; inbox?: Uint8Array[] }> = {
    // An ExecutionCompleted whose status number this release does not know (a newer Dapr's).
    "unknown-status": { history: [started(T0, "Wf"), completed(T0 + 60, 42)] },
    // Dapr 1.18 can store a lone ExecutionStalled before the start event is processed.
    "stalled-only": { history: [stalled(T0 + 120)] },
    // Not started yet: no history, the start event waits in the inbox.
    pending: { history: [], inbox: [started(T0 + 180, "Later")] },
    done: { history: [started(T0 + 240, "Wf"), completed(T0 + 300, 1)] },
  };
  const entries: Array<[string, Uint8Array]> = [];
  for (const [id, { history, inbox = [] }] of Object.entries(instances)) {
    const prefix = `${APP}||dapr.internal.default.${APP}.workflow||${id}||`;
    entries.push([`${prefix}metadata`, metadata(inbox.length, history.length)]);
    for (const [i, bytes] of history.entries()) entries.push([`${prefix}history-${String(i).padStart(6, "0")}`, bytes]);
    for (const [i, bytes] of inbox.entries()) entries.push([`${prefix}inbox-${String(i).padStart(6, "0")}`, bytes]);
  }
  const backend = await openPostgresBackend({ connectionString: url, tableName: "state" });
  try {
    await backend.setMany(entries);
  } finally {
    await backend.close();
  }
});

const list = (...args: string[]) => cli(["workflow", "list", "-a", APP, "-c", url, ...args]);

describe("statuses and times as Dapr derives them", () => {
  it('shows an unknown ExecutionCompleted status as "" (durabletask-go workflow/state.go) and never purges it', async () => {
    const run = await list("-o", "json");
    expect(run.code).toBe(0);
    const records = JSON.parse(run.stdout) as Array<{ instanceID: string; runtimeStatus: string; lastUpdate: string }>;
    expect(records.find((r) => r.instanceID === "unknown-status")?.runtimeStatus).toBe("");
    const purge = await cli(["workflow", "purge", "--all", "--dry-run", "-a", APP, "-c", url]);
    expect(purge.code).toBe(0);
    expect(purge.stdout).toContain('"done"');
    expect(purge.stdout).not.toContain("unknown-status");
  });

  it("gives a history of only ExecutionStalled the zero LAST UPDATE (runtimestate.go LastUpdatedTime)", async () => {
    const records = JSON.parse((await list("-o", "json")).stdout) as Array<Record<string, string>>;
    expect(records.find((r) => r.instanceID === "stalled-only")).toMatchObject({
      runtimeStatus: "STALLED",
      created: "0001-01-01T00:00:00Z",
      lastUpdate: "0001-01-01T00:00:00Z",
    });
  });
});

describe("output bytes as the Dapr CLI writes them", () => {
  it("prints JSON with no newline after it, and an empty history as null (utils.PrintDetail)", async () => {
    const run = await list("-o", "json");
    expect(run.stdout.endsWith("\n  }\n]")).toBe(true);
    const history = await cli(["workflow", "history", "pending", "-a", APP, "-c", url, "-o", "json"]);
    expect(history).toEqual({ code: 0, stdout: "null", stderr: "" });
    const done = await cli(["workflow", "history", "done", "-a", APP, "-c", url, "-o", "json"]);
    expect(done.stdout.endsWith("\n  }\n]")).toBe(true);
  });

  it("writes YAML as gopkg.in/yaml.v2 does: time.Time fields plain, YAML 1.1 look-alike strings quoted", async () => {
    const run = await list("-o", "yaml");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(
      "- namespace: default\n  appID: exactapp\n  name: Wf\n  instanceID: unknown-status\n" +
        '  created: 2026-01-01T00:00:00Z\n  lastUpdate: 2026-01-01T00:01:00Z\n  runtimeStatus: ""\n',
    );
    // The zero time of an instance that never started is a time.Time too: plain.
    const ids = await cli(["workflow", "list", "-a", APP, "-c", url, "-o", "yaml", "-s", "STALLED"]);
    expect(ids.stdout).toContain("  instanceID: stalled-only\n  created: 0001-01-01T00:00:00Z\n");
  });

  it("prefixes 'No workflow found' with the failure emoji (pkg/print FailureStatusEvent)", async () => {
    const run = await cli(["workflow", "list", "-a", "nobody", "-c", url, "-o", "json"]);
    expect(run).toMatchObject({
      code: 0,
      stdout: "",
      // Dapr's line exactly, then our hint naming the apps the store holds (cli/output/app-hint.ts).
      stderr: expect.stringMatching(
        /^\u274c {2}No workflow found in namespace "default" for app ID "nobody"\nhint: [^\n]+\n$/,
      ),
    });
  });
});

describe("workflow list -o ids (dapr/cli cmd/workflow/list.go)", () => {
  it("prints one instance ID per line, every instance with metadata", async () => {
    const run = await list("-o", "ids");
    expect(run.code).toBe(0);
    expect(run.stdout.split("\n").filter(Boolean).sort()).toEqual([
      "done",
      "pending",
      "stalled-only",
      "unknown-status",
    ]);
    expect(run.stdout.endsWith("\n")).toBe(true);
  });

  it("refuses filters, as the Dapr CLI does", async () => {
    for (const filter of [
      ["-w", "Wf"],
      ["-s", "COMPLETED"],
      ["-m", "1h"],
    ]) {
      const run = await list("-o", "ids", ...filter);
      expect(run.code).toBe(2); // refused input (cli/exit-codes.ts)
      expect(run.stderr).toMatch(/filters cannot be combined with --output=ids/);
    }
  });

  it("says so when there is none", async () => {
    const run = await cli(["workflow", "list", "-a", "nobody", "-c", url, "-o", "ids"]);
    expect(run).toMatchObject({
      code: 0,
      stdout: "",
      // Dapr's line exactly, then our hint naming the apps the store holds (cli/output/app-hint.ts).
      stderr: expect.stringMatching(
        /^\u274c {2}No workflow found in namespace "default" for app ID "nobody"\nhint: [^\n]+\n$/,
      ),
    });
  });
});
