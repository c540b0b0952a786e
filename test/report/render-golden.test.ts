/**
 * One rendering for both doors: `housekeeper report stuck -o json|csv|html` and the stuck-report Lambda's
 * publishStuckReport, run on the same real PostgreSQL fixture with the same reminders (real etcd), thresholds and
 * clock, write byte-identical reports; the CLI's summary on stderr is the Lambda's summary text without the lines
 * that name the uploaded objects.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { reportCommand } from "../../cli/report/index.ts";
import { publishStuckReport } from "../../shared/jobs/stuck-report/publish.ts";
import { SchedulerReminderIndex } from "../../shared/jobs/stuck-report/reminders.ts";
import type { FilesystemObjectStore } from "../../shared/object-store/filesystem.ts";
import { openFilesystemObjectStore } from "../../shared/object-store/filesystem.ts";
import { readAll } from "../../shared/object-store/object-store.ts";
import { buildSeeds } from "../../shared/sample-data/scheduler-jobs.ts";
import { EtcdSchedulerStore } from "../../shared/scheduler/etcd-store.ts";
import { writeBatches } from "../../shared/scheduler/store.ts";
import type { StateBackend } from "../../shared/state-store/backend.ts";
import type { AppRef } from "../../shared/state-store/keys.ts";
import { openPostgresBackend } from "../../shared/state-store/postgresql.ts";
import { WorkflowStateStore } from "../../shared/state-store/workflow-store.ts";
import { Capture } from "../support/capture.ts";
import { createPostgresStateDatabase } from "../support/stores.ts";
import { RETENTION, stuckFixture, writeFixture } from "./stuck-fixtures.ts";

const APP: AppRef = { appId: "goldenshop", namespace: "default" };
const NOW = new Date("2026-06-15T12:00:00Z");
const fixture = stuckFixture(NOW, APP);

let url: string;
let backend: StateBackend;
let scheduler: EtcdSchedulerStore;
let dir: string;
let objects: FilesystemObjectStore;
let published: Awaited<ReturnType<typeof publishStuckReport>>;

beforeAll(async () => {
  url = await createPostgresStateDatabase("stuck_golden");
  backend = await openPostgresBackend({ connectionString: url, tableName: "state" });
  await writeFixture(backend, fixture);
  scheduler = new EtcdSchedulerStore({
    endpoints: [inject("etcdEndpoint")],
    root: `t-stuckgold-${randomBytes(5).toString("hex")}/dapr/`,
  });
  for (const batch of writeBatches(buildSeeds(fixture.reminders))) await scheduler.put(batch);
  dir = await mkdtemp(join(tmpdir(), "housekeeper-stuck-golden-"));
  objects = openFilesystemObjectStore({ root: dir });
  published = await publishStuckReport(
    {
      store: new WorkflowStateStore(backend, APP),
      reminders: new SchedulerReminderIndex(scheduler, APP),
      objectStore: objects,
    },
    { now: NOW, retention: RETENTION, sortRunSize: 4 },
  );
});

afterAll(async () => {
  await scheduler?.deletePrefixes(["dapr/"]).catch(() => undefined);
  await scheduler?.close();
  await backend?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function cli(...args: string[]): Promise<{ out: string; err: string }> {
  const stdout = new Capture();
  const stderr = new Capture();
  const program = new Command("housekeeper");
  program.addCommand(reportCommand({ stdout, stderr, now: () => NOW }));
  program.exitOverride();
  await program.parseAsync([
    "node",
    "housekeeper",
    "report",
    "stuck",
    ...["-a", APP.appId, "-c", url, "-t", "state"],
    ...["--etcd-endpoints", inject("etcdEndpoint"), "--etcd-root", scheduler.root],
    ...["--retention", "COMPLETED=30d,FAILED=2160h"],
    ...args,
  ]);
  return { out: stdout.text, err: stderr.text };
}

async function object(key: string): Promise<string> {
  return (await readAll((await objects.get(key)).body)).toString("utf8");
}

describe("report stuck renders what the stuck-report Lambda publishes", () => {
  it.each(["json", "csv", "html"] as const)("-o %s: byte-identical to the published object", async (format) => {
    const { out, err } = await cli("-o", format);
    expect(published.summary.stuck).toBeGreaterThan(0);
    expect(out).toBe(await object(published.reports[format]!));
    const withoutKeys = published.summaryText
      .split("\n")
      .filter((line) => !/^(JSON|CSV|HTML) report: /.test(line))
      .join("\n");
    expect(err).toBe(withoutKeys);
  });
});
