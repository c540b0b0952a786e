/**
 * Goal 7 of #13: the README's webhook and retention examples run as written. Each command line is taken from
 * README.md itself (so an edit there is what runs here) and run by `sh`, with `npx housekeeper` standing for this
 * checkout's bin/housekeeper.mjs. The retention policy runs as a dry run on the embedded sample store (in a scratch
 * directory); the webhook server runs with no sidecar (a closed port: 503) and with the tests' sidecar stand-in
 * (202), and a wrong key gets 401.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openSqliteBackend } from "../../shared/state-store/sqlite.ts";
import { type SidecarStandin, startSidecarStandin } from "../support/sidecar-standin.ts";
import { createSqliteStateFile } from "../support/stores.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const README = readFileSync(join(ROOT, "README.md"), "utf8");
/** `npx housekeeper …` in the README runs this checkout's CLI. */
const NPX = `npx() { [ "$1" = housekeeper ] || exit 99; shift; exec "${process.execPath}" "${join(ROOT, "bin/housekeeper.mjs")}" "$@"; }`;

/** The README line that starts with `start`, exactly as written there. */
function readmeLine(start: string): string {
  const line = README.split("\n").find((l) => l.startsWith(start));
  if (line === undefined) throw new Error(`README.md has no line starting with ${JSON.stringify(start)}`);
  return line;
}

function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  for (const name of ["HOUSEKEEPER_CONNECTION_STRING", "HOUSEKEEPER_ETCD_ENDPOINTS", "HOUSEKEEPER_DEBUG"]) {
    delete env[name];
  }
  return env;
}

function sh(
  cwd: string,
  script: string,
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile("sh", ["-c", script], { cwd, env: cleanEnv(env), timeout: 120_000 }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

let scratch: string;
beforeAll(() => {
  // A fresh clone's view: the examples in place, no sample store yet.
  scratch = mkdtempSync(join(tmpdir(), "hk-readme-"));
  symlinkSync(join(ROOT, "examples"), join(scratch, "examples"));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("the retention example", () => {
  it("runs as a dry run on the sample store and lists what a 30-day retention would purge", async () => {
    const command = readmeLine("ORDERS_STATE_STORE=embedded npx housekeeper retention run");
    const run = await sh(scratch, `${NPX}; ${command}`, {});
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trimEnd().split("\n");
    expect(lines.length).toBeGreaterThan(1);
    for (const line of lines.slice(0, -1)) {
      expect(line).toMatch(/^would purge default\/orderprocessing "[^"]+" \((COMPLETED|FAILED|TERMINATED) finished /);
    }
    expect(lines.at(-1)).toMatch(new RegExp(`^${lines.length - 1} would be purged, skipped 0, failed 0 in [\\d.]+ s$`));
    expect(run.stderr).toMatch(/using the embedded sample store/);
  }, 120_000);
});

describe("the webhook example", () => {
  const secrets = { GITHUB_WEBHOOK_SECRET: "dev-github-secret", APPROVALS_API_KEY: "dev-approvals-key" };
  const serve = readmeLine("npx housekeeper webhook serve --config examples/webhook-local.json");
  const curlApproval = readmeLine("curl -si http://127.0.0.1:8080/hooks/approvals");
  const signedGithub = [
    readmeLine("body='"),
    readmeLine("sig=$(printf %s"),
    readmeLine("curl -si http://127.0.0.1:8080/hooks/github"),
  ];
  let server: ChildProcess | undefined;
  let standin: SidecarStandin | undefined;
  const backend = openSqliteBackend({ path: createSqliteStateFile() });

  afterAll(async () => {
    await stopServer();
    await standin?.close();
    await (await backend).close();
  });

  async function stopServer(): Promise<void> {
    const child = server;
    server = undefined;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once("exit", () => resolve());
      child.kill("SIGTERM"); // our own child, by its handle
    });
  }

  /** Starts the README's serve line (on a free port instead of 8080) and returns the port it listens on. */
  async function startServer(sidecarUrl: string): Promise<string> {
    const command = serve.replace("--port 8080", "--port 0");
    // The function execs node: the child is the server itself, stopped below by its own handle.
    const child = spawn("sh", ["-c", `${NPX}; ${command}`], {
      cwd: scratch,
      env: cleanEnv({ ...secrets, DAPR_HTTP_ENDPOINT: sidecarUrl }),
      stdio: ["ignore", "pipe", "pipe"],
    });
    server = child;
    child.stdout.resume();
    return new Promise((resolve, reject) => {
      let stderr = "";
      child.stderr.on("data", (chunk: Buffer) => {
        stderr += chunk.toString();
        const match = /Webhook server listening on http:\/\/127\.0\.0\.1:(\d+) \(2 route\(s\)/.exec(stderr);
        if (match) resolve(match[1]!);
      });
      child.once("exit", (code) => reject(new Error(`webhook serve exited ${code}: ${stderr}`)));
    });
  }

  const curl = (port: string, lines: string[]) =>
    sh(scratch, lines.map((l) => l.replaceAll("127.0.0.1:8080", `127.0.0.1:${port}`)).join("\n"), secrets);

  it("with no sidecar: 503 with Retry-After for both routes", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const closedPort = (closed.address() as { port: number }).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const port = await startServer(`http://127.0.0.1:${closedPort}`);
    try {
      for (const lines of [[curlApproval], signedGithub]) {
        const answer = await curl(port, lines);
        expect(answer.code).toBe(0);
        expect(answer.stdout).toMatch(/^HTTP\/1\.1 503 /);
        expect(answer.stdout).toMatch(/\r\nretry-after: 5\r\n/i);
        expect(answer.stdout.endsWith('{"error":"service unavailable"}')).toBe(true);
      }
    } finally {
      await stopServer();
    }
  }, 120_000);

  it("with a sidecar: the signed GitHub delivery starts IssueTriage (202); a wrong key gets 401", async () => {
    standin = await startSidecarStandin({ backend: await backend, unknownWorkflow: "pending" });
    const port = await startServer(standin.url);
    try {
      const started = await curl(port, signedGithub);
      expect(started.stdout).toMatch(/^HTTP\/1\.1 202 /);
      expect(started.stdout.endsWith('{"instanceID":"gh-42-7"}')).toBe(true);
      const wrongKey = await curl(port, [curlApproval.replace("$APPROVALS_API_KEY", "not-the-key")]);
      expect(wrongKey.stdout).toMatch(/^HTTP\/1\.1 401 /);
    } finally {
      await stopServer();
    }
  }, 120_000);
});
