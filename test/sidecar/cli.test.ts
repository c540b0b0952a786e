/**
 * The workflow control commands end to end: a child process runs the real CLI (bin/housekeeper.mjs) against the
 * stand-in over a real PostgreSQL store, and the tests check stdout, stderr, the exit code and the
 * state the stand-in left in the store.
 */
import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StateBackend } from "../../shared/state-store/backend.ts";
import { type SidecarStandin, startSidecarStandin } from "../support/sidecar-standin.ts";
import { storeFactories } from "../support/stores.ts";
import { storedEvents } from "./helpers.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const ENTRY = ["bin/housekeeper.mjs"];

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function housekeeper(args: string[], env: Record<string, string> = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...ENTRY, ...args], {
      cwd: ROOT,
      env: { ...process.env, DAPR_API_TOKEN: "", DAPR_HTTP_ENDPOINT: "", DAPR_GRPC_ENDPOINT: "", ...env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

let backend: StateBackend;
let standin: SidecarStandin;
let guarded: SidecarStandin;
let sidecar: string[];

beforeAll(async () => {
  backend = await storeFactories(6)[1]!.open();
  const workflows = {
    Order: { activities: [{ name: "Reserve" }, { name: "Charge" }] },
    Approval: { waitForEvent: "Approved" },
    Forever: { outcome: "run" as const },
  };
  standin = await startSidecarStandin({ backend, workflows, appId: "cli-app" });
  guarded = await startSidecarStandin({ backend, workflows, appId: "cli-guarded", apiToken: "s3cret" });
  sidecar = ["--sidecar-url", standin.url, "--sidecar-grpc-address", standin.grpcAddress!];
});
afterAll(async () => {
  await standin?.close();
  await guarded?.close();
  await backend?.close();
});

describe("housekeeper workflow control commands (bin/housekeeper.mjs)", () => {
  it("run prints the Dapr CLI's line; the input reaches the workflow as the JSON given", async () => {
    const result = await housekeeper(["workflow", "run", "Order", "-i", "cli-1", "-x", '{"sku":"A1"}', ...sidecar]);
    expect(result).toEqual({ code: 0, stdout: "ℹ️  Workflow instance started successfully: cli-1\n", stderr: "" });
    expect(await standin.store.readInstance("cli-1")).toMatchObject({
      runtimeStatus: "COMPLETED",
      input: '{"sku":"A1"}',
    });
  });

  it("run without an instance ID prints the generated one", async () => {
    const result = await housekeeper(["workflow", "run", "Forever", ...sidecar]);
    const id = /successfully: (\S+)\n$/.exec(result.stdout)?.[1] ?? "";
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect((await standin.store.readInstance(id))?.runtimeStatus).toBe("RUNNING");
  });

  it("run --start-time schedules the start over gRPC: the instance stays PENDING", async () => {
    const result = await housekeeper(["workflow", "run", "Order", "-i", "cli-later", "-s", "2h", ...sidecar]);
    expect(result.code).toBe(0);
    expect(await standin.keysOf("cli-later")).toEqual(["inbox-000000", "metadata"]);
    const [start] = await storedEvents(backend, standin.app, "cli-later", "inbox");
    const due = (start?.executionStarted?.scheduledStartTimestamp?.seconds ?? 0) * 1000;
    expect(Math.abs(due - (Date.now() + 7_200_000))).toBeLessThan(120_000);
  });

  it("raise-event, suspend, resume and terminate print the Dapr CLI's lines", async () => {
    await housekeeper(["workflow", "run", "Approval", "-i", "cli-2", ...sidecar]);
    expect((await housekeeper(["workflow", "suspend", "cli-2", "-r", "lunch", ...sidecar])).stdout).toBe(
      "ℹ️  Workflow 'cli-2' suspended successfully\n",
    );
    expect((await standin.store.readInstance("cli-2"))?.runtimeStatus).toBe("SUSPENDED");
    expect((await housekeeper(["workflow", "resume", "cli-2", ...sidecar])).stdout).toBe(
      "ℹ️  Workflow 'cli-2' resumed successfully\n",
    );
    const raised = await housekeeper(["workflow", "raise-event", "cli-2/Approved", "-x", "true", ...sidecar]);
    expect(raised.stdout).toBe("ℹ️  Workflow 'cli-2' raised event 'Approved' successfully\n");
    expect(await standin.store.readInstance("cli-2")).toMatchObject({ runtimeStatus: "COMPLETED", output: "true" });
    const history = await storedEvents(backend, standin.app, "cli-2");
    expect(history.find((e) => e.executionSuspended)?.executionSuspended?.input?.value).toBe("lunch");

    await housekeeper(["workflow", "run", "Forever", "-i", "cli-3", ...sidecar]);
    const terminated = await housekeeper(["workflow", "terminate", "cli-3", "-o", '"stopped"', ...sidecar]);
    expect(terminated).toEqual({ code: 0, stdout: "ℹ️  Workflow 'cli-3' terminated successfully\n", stderr: "" });
    expect(await standin.store.readInstance("cli-3")).toMatchObject({
      runtimeStatus: "TERMINATED",
      output: '"stopped"',
    });
  });

  it("rerun prints the new instance ID", async () => {
    const result = await housekeeper([
      "workflow",
      "rerun",
      "cli-1",
      "-e",
      "1",
      "--new-instance-id",
      "cli-1-again",
      "-x",
      '"B2"',
      ...sidecar,
    ]);
    expect(result).toEqual({ code: 0, stdout: "ℹ️  Rerunning workflow instance: cli-1-again\n", stderr: "" });
    expect(await standin.store.readInstance("cli-1-again")).toMatchObject({ runtimeStatus: "COMPLETED" });
  });

  it("purge prints a line per instance and stops at the first failure", async () => {
    const ok = await housekeeper(["workflow", "purge", "cli-1", "cli-3", ...sidecar]);
    expect(ok).toEqual({
      code: 0,
      stdout:
        'ℹ️  Purging 2 workflow instance(s)\n✅  Purged workflow instance "cli-1"\n✅  Purged workflow instance "cli-3"\n',
      stderr: "",
    });
    expect(await standin.keysOf("cli-1")).toEqual([]);

    await housekeeper(["workflow", "run", "Forever", "-i", "cli-4", ...sidecar]);
    const failed = await housekeeper(["workflow", "purge", "cli-2", "cli-4", "cli-1-again", ...sidecar]);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toBe('ℹ️  Purging 3 workflow instance(s)\n✅  Purged workflow instance "cli-2"\n');
    expect(failed.stderr).toBe(
      "Error: cli-4: error purging workflow cli-4: failed to Purge workflow cli-4: failed to purge workflow state: " +
        "orchestration has not yet completed\n",
    );
    expect(await standin.store.readInstance("cli-1-again")).toBeDefined();

    const forced = await housekeeper(["workflow", "purge", "cli-4", "--force", ...sidecar]);
    expect(forced.code).toBe(0);
    expect(await standin.keysOf("cli-4")).toEqual([]);
  });

  it("takes the API token from --api-token or DAPR_API_TOKEN", async () => {
    const target = ["--sidecar-url", guarded.url, "--sidecar-grpc-address", guarded.grpcAddress!];
    const refused = await housekeeper(["workflow", "run", "Forever", "-i", "tok-1", ...target]);
    expect(refused).toMatchObject({ code: 1, stdout: "" });
    expect(refused.stderr).toBe(
      "Error: the Dapr sidecar refused the request (HTTP 401: invalid api token); check the API token\n",
    );
    expect(
      (await housekeeper(["workflow", "run", "Forever", "-i", "tok-1", "--api-token", "s3cret", ...target])).code,
    ).toBe(0);
    const fromEnv = await housekeeper(["workflow", "terminate", "tok-1", ...target], { DAPR_API_TOKEN: "s3cret" });
    expect(fromEnv.code).toBe(0);
  });

  it("bad input is one clear line and exit code 2, before any call", async () => {
    const mark = standin.requests.length;
    const cases: Array<[string[], string]> = [
      [["run", "Order", "-x", "{oops"], "Error: --input must be JSON"],
      [["run", "Order", "-i", "bad id!"], "Error: workflow instance ID 'bad id!' is invalid"],
      [["run", "Order", "-s", "tomorrow"], 'Error: invalid value "tomorrow" for --start-time'],
      [["raise-event", "no-slash"], "Error: the argument must be in the format '<instance-id>/<event-name>'"],
      [["rerun", "x", "-e", "-3"], 'Error: --event-id must be a whole number from 0 to 4294967295, got "-3"'],
      [["purge"], "Error: one or more workflow instance ID arguments are required when not using purge all flags"],
      [["terminate", "x", "-o", "not json"], "Error: --output must be JSON"],
    ];
    for (const [args, message] of cases) {
      const result = await housekeeper(["workflow", ...args, ...sidecar]);
      expect(result.code, args.join(" ")).toBe(2);
      expect(result.stdout).toBe("");
      expect(result.stderr.startsWith(message), result.stderr).toBe(true);
      expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
    }
    const badUrl = await housekeeper(["workflow", "resume", "x", "--sidecar-url", "localhost:3500"]);
    expect(badUrl).toMatchObject({
      code: 2,
      stderr: 'Error: --sidecar-url must be an http:// or https:// URL: "localhost:3500"\n',
    });
    expect(standin.requests.length).toBe(mark);
  });

  it("sidecar errors are one line too: unknown instance, sidecar down", async () => {
    const unknown = await housekeeper(["workflow", "terminate", "nope", ...sidecar]);
    expect(unknown).toMatchObject({
      code: 1,
      stderr: "Error: unable to find workflow with the provided instance ID: nope\n",
    });
    const down = await housekeeper(["workflow", "suspend", "x", "--sidecar-url", "http://127.0.0.1:1"]);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(
      /^Error: cannot reach the Dapr sidecar at http:\/\/127\.0\.0\.1:1: .*ECONNREFUSED.*\n$/,
    );
  });
});
