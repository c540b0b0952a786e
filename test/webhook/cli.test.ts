/**
 * `housekeeper webhook serve` through the real CLI (bin/housekeeper.mjs) as a child process: it loads a routes file,
 * serves signed requests into the sidecar stand-in (real PostgreSQL store underneath), logs JSON lines on stdout, and
 * on SIGTERM lets a request in progress finish before it exits 0.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateTableCommand, DynamoDBClient, waitUntilTableExists } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { StateBackend } from "../../shared/state-store/backend.ts";
import { type SidecarStandin, startSidecarStandin } from "../support/sidecar-standin.ts";
import { storeFactories } from "../support/stores.ts";
import { githubHeaders, post, ROUTES, secretEnv, standardHeaders } from "./helpers.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const ENTRY = "bin/housekeeper.mjs";

let backend: StateBackend;
let standin: SidecarStandin;
let dir: string;
let configFile: string;

beforeAll(async () => {
  backend = await storeFactories(8)[1]!.open();
  standin = await startSidecarStandin({
    backend,
    appId: "cli-webhook-app",
    grpc: false,
    workflows: { Triage: { outcome: "run" }, Order: { outcome: "run" } },
  });
  dir = mkdtempSync(join(tmpdir(), "webhook-cli-"));
  configFile = join(dir, "routes.json");
  writeFileSync(configFile, JSON.stringify(ROUTES, null, 2));
});
afterAll(async () => {
  await standin?.close();
  await backend?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Running {
  child: ChildProcessWithoutNullStreams;
  url: string;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number | null>;
}

const cliEnv = (extra: Record<string, string> = {}) => ({
  ...process.env,
  ...secretEnv(),
  DAPR_API_TOKEN: "",
  DAPR_HTTP_ENDPOINT: "",
  IDEMPOTENCY_REDIS_URL: "",
  IDEMPOTENCY_TABLE: "",
  ...extra,
});

/** The environment that points the AWS SDK's DynamoDB client at the test's dynalite. */
function dynamoDbEnv(): Record<string, string> {
  const aws = inject("dynamodb");
  return {
    AWS_ENDPOINT_URL_DYNAMODB: aws.endpoint,
    AWS_REGION: aws.region,
    AWS_ACCESS_KEY_ID: aws.accessKeyId,
    AWS_SECRET_ACCESS_KEY: aws.secretAccessKey,
  };
}

/** Runs the CLI to its end: exit code and stderr. */
async function runToExit(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [ENTRY, ...args], { cwd: ROOT, env: cliEnv(env) });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  return { code, stderr };
}

function serve(args: string[], env: Record<string, string> = {}): Promise<Running> {
  const child = spawn(process.execPath, [ENTRY, "webhook", "serve", ...args], { cwd: ROOT, env: cliEnv(env) });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  const exit = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`webhook serve did not start: ${stderr}`));
    }, 30_000);
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      const url = /listening on (http:\/\/\S+)/.exec(stderr)?.[1];
      if (url) {
        clearTimeout(timer);
        resolve({ child, url, stdout: () => stdout, stderr: () => stderr, exit });
      }
    });
    void exit.then((code) => {
      clearTimeout(timer);
      reject(new Error(`webhook serve exited (${code}) before listening: ${stderr}`));
    });
  });
}

describe("housekeeper webhook serve (bin/housekeeper.mjs)", () => {
  it("serves signed requests end to end and stops gracefully on SIGTERM", async () => {
    const running = await serve(["--config", configFile, "--port", "0", "--sidecar-url", standin.url]);
    try {
      expect(running.stderr()).toContain("(5 route(s)");
      const body = JSON.stringify({ issue: { number: 9 }, repository: { id: 31 } });
      const headers = githubHeaders(body);
      expect(await post(running.url, "/hooks/github", body, headers)).toMatchObject({
        status: 202,
        json: { instanceID: "gh-31-9" },
      });
      expect(await post(running.url, "/hooks/github", body, headers)).toMatchObject({ status: 202 });
      expect(await standin.store.readInstance("gh-31-9")).toMatchObject({ name: "Triage", input: body });
      expect(standin.requests.filter((r) => r.path.includes("instanceID=gh-31-9")).length).toBe(1);

      // A request in progress when SIGTERM arrives still gets its answer.
      standin.latencyMs = 600;
      const order = JSON.stringify({ type: "order.created", data: { orderId: "cli-1" } });
      const pending = post(running.url, "/hooks/orders", order, standardHeaders(order));
      await new Promise((r) => setTimeout(r, 200));
      running.child.kill("SIGTERM");
      expect(await pending).toMatchObject({ status: 202, json: { instanceID: "order-cli-1" } });
      expect(await running.exit).toBe(0);
      expect(running.stderr()).toContain("Received SIGTERM: shutting down");
      expect(running.stderr()).toContain("Webhook server stopped");
      expect(await standin.store.readInstance("order-cli-1")).toMatchObject({ name: "Order", input: order });

      const logs = running
        .stdout()
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(logs.map((l) => l.outcome)).toEqual(["started", "duplicate", "started"]);
      expect(logs[0]).toMatchObject({ service: "webhook", route: "POST /hooks/github", instanceID: "gh-31-9" });
      expect(running.stdout()).not.toContain(body);
      expect(running.stdout()).not.toContain(headers["x-hub-signature-256"]);
    } finally {
      standin.latencyMs = 0;
      running.child.kill("SIGKILL");
    }
  });

  it("keeps delivery IDs in a DynamoDB table with --idempotency-table", async () => {
    const aws = inject("dynamodb");
    const table = `cli-deliveries-${Date.now()}`;
    const client = new DynamoDBClient({
      endpoint: aws.endpoint,
      region: aws.region,
      credentials: { accessKeyId: aws.accessKeyId, secretAccessKey: aws.secretAccessKey },
    });
    await client.send(
      new CreateTableCommand({
        TableName: table,
        AttributeDefinitions: [{ AttributeName: "id", AttributeType: "S" }],
        KeySchema: [{ AttributeName: "id", KeyType: "HASH" }],
        BillingMode: "PAY_PER_REQUEST",
      }),
    );
    await waitUntilTableExists({ client, maxWaitTime: 30 }, { TableName: table });
    client.destroy();
    const running = await serve(
      ["--config", configFile, "--port", "0", "--sidecar-url", standin.url, "--idempotency-table", table],
      dynamoDbEnv(),
    );
    try {
      expect(running.stderr()).toContain(`delivery IDs in DynamoDB table ${table}`);
      const body = JSON.stringify({ issue: { number: 10 }, repository: { id: 31 } });
      const headers = githubHeaders(body);
      for (let i = 0; i < 2; i++) {
        expect(await post(running.url, "/hooks/github", body, headers)).toMatchObject({
          status: 202,
          json: { instanceID: "gh-31-10" },
        });
      }
      expect(standin.requests.filter((r) => r.path.includes("instanceID=gh-31-10")).length).toBe(1);
    } finally {
      running.child.kill("SIGKILL");
    }
  });

  it("refuses to start on a missing DynamoDB table, and on two delivery-ID stores at once", async () => {
    const missing = await runToExit(
      ["webhook", "serve", "--config", configFile, "--port", "0", "--idempotency-table", "no-such-table"],
      dynamoDbEnv(),
    );
    expect(missing.code).not.toBe(0);
    // One Error line (on Node 20 the AWS SDK may add its own deprecation notice about Node versions above it).
    const errorLines = missing.stderr.split("\n").filter((line) => line.startsWith("Error:"));
    expect(errorLines).toEqual([
      expect.stringMatching(/^Error: the idempotency store \(DynamoDB table no-such-table\) failed: ResourceNotFound/),
    ]);
    expect(missing.stderr).not.toMatch(/^\s+at /m);

    const both = await runToExit([
      "webhook",
      "serve",
      "--config",
      configFile,
      "--idempotency-table",
      "deliveries",
      "--idempotency-redis-url",
      "redis://127.0.0.1:1",
    ]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/either the DynamoDB table or the Redis URL, not both/);
  });

  it("refuses a routes file that does not validate: one Error line, exit code 2", async () => {
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ routes: [{ path: "/x", action: { type: "start" } }] }));
    const { code, stderr } = await runToExit(["webhook", "serve", "--config", bad, "--port", "0"]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^Error: the webhook routes in .*bad\.json are not valid: routes\.0\.action\.workflow/);
    expect(stderr.trim().split("\n")).toHaveLength(1);
  });
});
