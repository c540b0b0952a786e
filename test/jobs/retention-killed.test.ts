/**
 * A purge killed midway (SIGKILL, no chance to clean up) and run again finishes the job: every due instance is gone,
 * nothing else changed, and the second run does not trip over what the first one already deleted.
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { InstanceSpec } from "../../shared/sample-data/instance-builder.ts";
import { writeInstances } from "../../shared/sample-data/writer.ts";
import type { StateBackend } from "../../shared/state-store/backend.ts";
import type { AppRef } from "../../shared/state-store/keys.ts";
import { workflowKeyPrefix } from "../../shared/state-store/keys.ts";
import { createPostgresDaprTable, openPostgresBackend } from "../../shared/state-store/postgresql.ts";
import { WorkflowStateStore } from "../../shared/state-store/workflow-store.ts";
import { createPostgresDatabase, uniqueDatabaseName } from "../support/servers.ts";
import { dumpStore } from "../support/stores.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const DAY = 86_400_000;

function purge(url: string, app: AppRef, killAfterPurged?: number): Promise<{ code: number | null; purged: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
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
        "--concurrency",
        "1",
        "--etcd-endpoints",
        inject("etcdEndpoint"),
      ],
      { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
    );
    let purged = 0;
    let buffer = "";
    child.stdout.on("data", (chunk: Buffer) => {
      buffer += chunk.toString();
      const lines = buffer.split("\n");
      buffer = lines.pop() ?? "";
      for (const line of lines) if (line.includes("Purged workflow instance")) purged++;
      if (killAfterPurged !== undefined && purged >= killAfterPurged) child.kill("SIGKILL");
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, purged }));
  });
}

describe("a direct purge killed midway", () => {
  const app: AppRef = { appId: `killed-${randomUUID().slice(0, 8)}`, namespace: "default" };
  let url: string;
  let backend: StateBackend;
  const now = Date.now();
  const due: InstanceSpec[] = Array.from({ length: 1200 }, (_, i) => ({
    instanceId: `done-${i}`,
    scenario: "completed",
    createdAt: new Date(now - 60 * DAY),
  }));
  const running: InstanceSpec[] = Array.from({ length: 100 }, (_, i) => ({
    instanceId: `live-${i}`,
    scenario: i % 2 ? "running-timer" : "suspended",
    createdAt: new Date(now - 90 * DAY),
  }));

  beforeAll(async () => {
    url = await createPostgresDatabase(inject("postgresUrl"), uniqueDatabaseName("killed"));
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await createPostgresDaprTable(admin, "state", "v1");
    await admin.end();
    backend = await openPostgresBackend({ connectionString: url, tableName: "state" });
    await writeInstances(backend, app, [...due, ...running]);
  });
  afterAll(async () => {
    await backend?.close();
  });

  it("resumes on the next run and finishes with nothing missed and nothing else touched", async () => {
    const before = await dumpStore(backend, workflowKeyPrefix(app));
    const store = new WorkflowStateStore(backend, app);

    const first = await purge(url, app, 150);
    expect(first.code).not.toBe(0); // killed
    const left: string[] = [];
    for await (const page of store.listInstances()) for (const i of page.instances) left.push(i.instanceId);
    const dueLeft = left.filter((id) => id.startsWith("done-")).length;
    expect(dueLeft).toBeGreaterThan(0);
    expect(dueLeft).toBeLessThan(due.length);

    const second = await purge(url, app);
    expect(second.code).toBe(0);
    expect(second.purged).toBe(dueLeft);

    const after = await dumpStore(backend, workflowKeyPrefix(app));
    const expected = new Map([...before].filter(([key]) => !key.includes("||done-")));
    expect(after).toEqual(expected);
  });
});
