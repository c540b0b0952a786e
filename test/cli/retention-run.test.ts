/**
 * `housekeeper retention run` through the real CLI over a real PostgreSQL store: a direct-mode policy without the
 * Scheduler is one line of bad input; piped output carries no progress line (byte-for-byte what it was), and on a
 * terminal (stderr a pty, made with util-linux `script`) a progress line is drawn and erased again.
 */
import { execFile, execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { buildSeeds } from "../../shared/sample-data/scheduler-jobs.ts";
import { writeInstances } from "../../shared/sample-data/writer.ts";
import { openEtcdSchedulerStore } from "../../shared/scheduler/etcd-store.ts";
import { createPostgresDaprTable, openPostgresBackend } from "../../shared/state-store/postgresql.ts";
import { createPostgresDatabase, uniqueDatabaseName } from "../support/servers.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const DAY = 86_400_000;

function has(binary: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${binary}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], env: Record<string, string>): Promise<Run> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  delete childEnv.HOUSEKEEPER_DEBUG;
  return new Promise((done) => {
    execFile(file, args, { cwd: ROOT, env: childEnv }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

describe("housekeeper retention run", () => {
  const appId = `rr-${randomUUID().slice(0, 8)}`;
  let dir: string;
  let env: Record<string, string>;
  const policyFile = (name: string, policy: unknown) => {
    const path = join(dir, name);
    writeFileSync(path, JSON.stringify(policy));
    return path;
  };
  const target = { appId, stateStore: { connectionString: "env:RR_STATE_STORE" } };
  const policy = (scheduler: boolean) => ({
    retention: { COMPLETED: "30d" },
    mode: "direct",
    targets: [scheduler ? { ...target, scheduler: { etcdEndpoints: [inject("etcdEndpoint")] } } : target],
  });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "housekeeper-retention-run-"));
    const url = await createPostgresDatabase(inject("postgresUrl"), uniqueDatabaseName("retention_run"));
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await createPostgresDaprTable(admin, "state", "v1");
    await admin.end();
    const backend = await openPostgresBackend({ connectionString: url, tableName: "state" });
    const now = Date.now();
    await writeInstances(backend, { appId, namespace: "default" }, [
      ...Array.from({ length: 3 }, (_, i) => ({
        instanceId: `old-${i}`,
        scenario: "completed" as const,
        createdAt: new Date(now - 60 * DAY),
      })),
      { instanceId: "recent", scenario: "completed", createdAt: new Date(now - DAY) },
    ]);
    await backend.close();
    env = { RR_STATE_STORE: url };
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("refuses a direct-mode policy without the target's Scheduler in one line", async () => {
    const result = await run(
      process.execPath,
      ["bin/housekeeper.mjs", "retention", "run", "--policy", policyFile("no-scheduler.json", policy(false))],
      env,
    );
    expect(result).toEqual({
      code: 2, // refused input (cli/exit-codes.ts)
      stdout: "",
      stderr:
        `Error: invalid retention policy: targets.0.scheduler: direct mode needs the Scheduler of target default/${appId} ` +
        "(scheduler.etcdEndpoints), to delete its purged instances' reminders\n",
    });
  });

  it("piped, prints its lines and no progress line", async () => {
    const result = await run(
      process.execPath,
      ["bin/housekeeper.mjs", "retention", "run", "--policy", policyFile("direct.json", policy(true)), "--dry-run"],
      env,
    );
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split("\n");
    // (The reason's wording belongs to the job; what matters here is which instances, and that nothing else is printed.)
    expect(
      lines
        .slice(0, 3)
        .map((l) => /^would purge (\S+ "[^"]+") \(COMPLETED.*\)$/.exec(l)?.[1])
        .sort(),
    ).toEqual([0, 1, 2].map((i) => `default/${appId} "old-${i}"`));
    expect(lines[3]).toMatch(/^3 would be purged, skipped 0, failed 0 in [\d.]+ s$/);
    expect(lines).toHaveLength(4);
  });

  it('with orphanReminders "delete", a dry run also says how many orphan reminders would go', async () => {
    // Under the Scheduler's real `dapr/` root (a target names no other), for this test's own app ID only.
    const scheduler = openEtcdSchedulerStore({ endpoints: [inject("etcdEndpoint")] });
    const ghost = buildSeeds([{ target: { workflow: { appId, instanceId: "ghost-1" } }, name: "new-event-x" }]);
    try {
      await scheduler.put(ghost);
      const file = policyFile("orphans.json", { ...policy(true), orphanReminders: "delete" });
      const result = await run(
        process.execPath,
        ["bin/housekeeper.mjs", "retention", "run", "--policy", file, "--dry-run"],
        env,
      );
      expect(result.stderr).toBe("");
      expect(result.stdout).toContain(`\ndefault/${appId}: 1 orphan reminder(s) would be deleted\n`);
      expect((await scheduler.get(ghost.map((e) => e.key))).size).toBe(1);
    } finally {
      await scheduler.deleteKeys(ghost.map((e) => e.key));
      await scheduler.close();
    }
  });

  it.skipIf(!has("script"))("on a terminal, draws a progress line on stderr and erases it", async () => {
    const out = join(dir, "stdout.txt");
    const command = [process.execPath, "bin/housekeeper.mjs", "retention", "run", "--dry-run", "--policy"]
      .map(quote)
      .concat(quote(policyFile("tty.json", policy(true))), ">", quote(out))
      .join(" ");
    // `script` runs the command on a pty and copies what it writes there (here: stderr only) to its stdout.
    const result = await run("script", ["-q", "-e", "-c", command, "/dev/null"], env);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout.replaceAll("\x1b[K", "<EL>")).toMatch(
      /\r<EL>retention run: \d+ instances scanned, [0-3] would be purged · /,
    );
    expect(result.stdout.endsWith("\r\x1b[K")).toBe(true); // erased before the summary
    expect(readFileSync(out, "utf8")).toMatch(/^(would purge .*\n){3}3 would be purged, skipped 0, failed 0 in /);
  });
});
