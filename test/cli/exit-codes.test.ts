/**
 * The documented exit codes (cli/exit-codes.ts), through the real CLI in a child process: 0 ok, 1 failure, 2 usage
 * error or refused input, 3 stuck instances found with `report stuck --fail-on-stuck`. Every non-zero exit but 3
 * says why in one `Error:` line on stderr; 3 says it in the report's summary. State lives in a real PostgreSQL.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { AppRef } from "../../shared/state-store/keys.ts";
import { createPostgresDaprTable, openPostgresBackend } from "../../shared/state-store/postgresql.ts";
import { stuckFixture, writeFixture } from "../report/stuck-fixtures.ts";
import { runHousekeeper } from "../support/cli.ts";
import { createPostgresDatabase, uniqueDatabaseName } from "../support/servers.ts";

const APP: AppRef = { appId: "exitshop", namespace: "default" };
let url: string;
let dir: string;

beforeAll(async () => {
  url = await createPostgresDatabase(inject("postgresUrl"), uniqueDatabaseName("exit_codes"));
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await createPostgresDaprTable(admin, "state", "v2");
  await admin.end();
  const backend = await openPostgresBackend({ connectionString: url, tableName: "state" });
  await writeFixture(backend, stuckFixture(new Date(), APP));
  await backend.close();
  dir = await mkdtemp(join(tmpdir(), "housekeeper-exit-codes-"));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const store = (app = APP.appId) => ["-a", app, "-c", url];
const oneErrorLine = (stderr: string) => expect(stderr).toMatch(/^Error: [^\n]+\n$/);

describe("exit codes", () => {
  it("0: the command did what it was asked", async () => {
    expect((await runHousekeeper(["version"])).code).toBe(0);
    expect((await runHousekeeper(["report", "stuck", "--help"])).code).toBe(0);
    const none = await runHousekeeper(["report", "stuck", ...store("nobody"), "--fail-on-stuck"]);
    expect(none.code, none.stderr).toBe(0);
    expect(none.stderr).toContain('No stuck workflow found in namespace "default" for app ID "nobody"');
  });

  it("1: a failure (here an instance the store does not hold)", async () => {
    const run = await runHousekeeper(["workflow", "history", ...store(), "no-such-instance"]);
    expect(run.code).toBe(1);
    oneErrorLine(run.stderr);
  });

  it.each([
    ["an unknown command", ["workflow", "lst"]],
    ["an unknown flag", ["report", "stuck", ...store(), "--no-such-flag"]],
    ["a value not among the choices", ["report", "stuck", ...store(), "-o", "xml"]],
    ["a missing required flag", ["report", "stuck", "-c", "embedded"]],
    ["a missing argument", ["workflow", "history", ...store()]],
    ["a command group without its subcommand", ["report"]],
    ["-o and its alias --format together", ["report", "stuck", ...store(), "-o", "json", "--format", "csv"]],
    ["a refused duration", ["report", "stuck", ...store(), "--older-than", "7days"]],
    ["a malformed connection string", ["workflow", "list", "-a", "x", "-c", "postgres://u:p@[::1/db"]],
    ["a destructive command on the sample store it was not told to use", ["workflow", "purge", "--all", "-a", "x"]],
    ["orphans without a named store", ["scheduler", "orphans", "-a", "x"]],
  ])("2: usage error or refused input: %s", async (_what, args) => {
    const run = await runHousekeeper(args);
    expect(run.code, run.stderr).toBe(2);
    expect(run.stdout).toBe("");
    // A group without its subcommand shows the group's help instead of an error line.
    if (args.join(" ") === "report") expect(run.stderr).toContain("Usage: housekeeper report");
    else oneErrorLine(run.stderr);
  });

  it("3: report stuck --fail-on-stuck found stuck instances (and still wrote the report)", async () => {
    const run = await runHousekeeper(["report", "stuck", ...store(), "-o", "json", "--fail-on-stuck"]);
    expect(run.code, run.stderr).toBe(3);
    expect((JSON.parse(run.stdout) as unknown[]).length).toBeGreaterThan(0);
    expect(run.stderr).toMatch(/instances look stuck in app exitshop/);
    expect(run.stderr).not.toMatch(/^Error:/m);
    // Without the flag the same finding is a success.
    expect((await runHousekeeper(["report", "stuck", ...store(), "-o", "json"])).code).toBe(0);
  });
});
