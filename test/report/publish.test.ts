/**
 * publishStuckReport end to end on real servers: PostgreSQL holding the fixture, the real etcd holding its reminders,
 * the filesystem object store, and SNS (the AWS SDK client against the local SNS Query API stand-in). The reports
 * land under a dated key, say the same as the job, and a failed upload leaves nothing behind.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SNSClient } from "@aws-sdk/client-sns";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { CSV_COLUMNS } from "../../shared/jobs/stuck-report/formats/csv.ts";
import { SnsNotifier } from "../../shared/jobs/stuck-report/notify.ts";
import type { PublishPorts } from "../../shared/jobs/stuck-report/publish.ts";
import { publishStuckReport } from "../../shared/jobs/stuck-report/publish.ts";
import { SchedulerReminderIndex } from "../../shared/jobs/stuck-report/reminders.ts";
import { runStuckReport } from "../../shared/jobs/stuck-report/scan.ts";
import type { FilesystemObjectStore } from "../../shared/object-store/filesystem.ts";
import { openFilesystemObjectStore } from "../../shared/object-store/filesystem.ts";
import type { ObjectStore } from "../../shared/object-store/object-store.ts";
import { readAll } from "../../shared/object-store/object-store.ts";
import { buildSeeds } from "../../shared/sample-data/scheduler-jobs.ts";
import { EtcdSchedulerStore } from "../../shared/scheduler/etcd-store.ts";
import { writeBatches } from "../../shared/scheduler/store.ts";
import type { StateBackend } from "../../shared/state-store/backend.ts";
import type { AppRef } from "../../shared/state-store/keys.ts";
import { WorkflowStateStore } from "../../shared/state-store/workflow-store.ts";
import { storeFactories } from "../support/stores.ts";
import { parseCsv } from "./samples.ts";
import { SnsStandIn } from "./sns-standin.ts";
import { EXPECTED, RETENTION, stuckFixture, writeFixture } from "./stuck-fixtures.ts";

const APP: AppRef = { appId: "publishshop", namespace: "default" };
const NOW = new Date("2026-06-15T12:00:00Z");
const BASE = "stuck-reports/default/publishshop/2026-06-15/20260615T120000.000Z";
const TOPIC = "arn:aws:sns:eu-west-1:123456789012:stuck-workflows";
const fixture = stuckFixture(NOW, APP);

let backend: StateBackend;
let scheduler: EtcdSchedulerStore;
let dir: string;
let objects: FilesystemObjectStore;
const sns = new SnsStandIn();
let snsClient: SNSClient;

beforeAll(async () => {
  backend = await storeFactories(9)[0]!.open();
  await writeFixture(backend, fixture);
  scheduler = new EtcdSchedulerStore({
    endpoints: [inject("etcdEndpoint")],
    root: `t-stuckpub-${randomBytes(5).toString("hex")}/dapr/`,
  });
  for (const batch of writeBatches(buildSeeds(fixture.reminders))) await scheduler.put(batch);
  await sns.start();
  sns.topics.add(TOPIC);
  snsClient = new SNSClient({
    region: "eu-west-1",
    endpoint: sns.endpoint,
    credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" },
    maxAttempts: 1,
  });
});

afterAll(async () => {
  await scheduler?.deletePrefixes(["dapr/"]).catch(() => undefined);
  await scheduler?.close();
  await backend?.close();
  snsClient?.destroy();
  await sns.stop();
});

async function freshObjects(): Promise<FilesystemObjectStore> {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = await mkdtemp(join(tmpdir(), "housekeeper-stuck-reports-"));
  objects = openFilesystemObjectStore({ root: dir });
  return objects;
}

async function text(store: ObjectStore, key: string): Promise<string> {
  const { body } = await store.get(key);
  return (await readAll(body)).toString("utf8");
}

async function keys(store: ObjectStore): Promise<string[]> {
  const out: string[] = [];
  for await (const o of store.list("")) out.push(o.key);
  return out;
}

function ports(objectStore: PublishPorts["objectStore"], app = APP): PublishPorts {
  return {
    store: new WorkflowStateStore(backend, app),
    reminders: new SchedulerReminderIndex(scheduler, app),
    objectStore,
    notifier: new SnsNotifier({ topicArn: TOPIC, client: snsClient }),
  };
}

describe("publishStuckReport", () => {
  it("writes JSON, CSV and HTML under a dated key with text and JSON summaries, and notifies SNS", async () => {
    const store = await freshObjects();
    const before = sns.published.length;
    const result = await publishStuckReport(ports(store), {
      now: NOW,
      retention: RETENTION,
      notifyThreshold: 5,
      sortRunSize: 4, // forces the sort to spill and merge
      pageSize: 7,
    });
    expect(result.reports).toEqual({
      json: `${BASE}.json`,
      csv: `${BASE}.csv`,
      html: `${BASE}.html`,
      summary: `${BASE}.summary.txt`,
      summaryJson: `${BASE}.summary.json`,
    });
    expect((await keys(store)).sort()).toEqual(Object.values(result.reports).sort());

    const reference = await runStuckReport(
      { store: new WorkflowStateStore(backend, APP), reminders: new SchedulerReminderIndex(scheduler, APP) },
      { now: NOW, retention: RETENTION },
    );
    const json = JSON.parse(await text(store, `${BASE}.json`));
    expect(json).toEqual(reference.records);
    expect(
      Object.fromEntries(json.map((r: { instanceID: string; reasons: string[] }) => [r.instanceID, r.reasons])),
    ).toEqual(EXPECTED);

    const csv = parseCsv(await text(store, `${BASE}.csv`));
    expect(csv[0]).toEqual([...CSV_COLUMNS]);
    expect(csv.slice(1).map((row) => row[CSV_COLUMNS.indexOf("instanceID")])).toEqual(
      json.map((r: { instanceID: string }) => r.instanceID),
    );

    const html = await text(store, `${BASE}.html`);
    expect(html).toContain(`data-stuck="${Object.keys(EXPECTED).length}" data-scanned="${fixture.instances.length}"`);
    expect(html.match(/<tr data-instance=/g)).toHaveLength(Object.keys(EXPECTED).length);

    expect(await text(store, `${BASE}.summary.txt`)).toBe(result.summaryText);
    expect(result.summaryText).toContain(`JSON report: ${store.location.replace(/\/+$/, "")}/${BASE}.json`);
    const summaryJson = JSON.parse(await text(store, `${BASE}.summary.json`));
    expect(summaryJson).toMatchObject({
      stuck: Object.keys(EXPECTED).length,
      reports: result.reports,
      isComplete: true,
    });
    expect((await store.head(`${BASE}.csv`))?.contentType).toBe("text/csv; charset=utf-8; header=present");

    expect(result.notified).toBe(true);
    const published = sns.published.slice(before);
    expect(published).toHaveLength(1);
    expect(published[0]).toMatchObject({
      topicArn: TOPIC,
      subject: `Dapr housekeeper: ${Object.keys(EXPECTED).length} of ${fixture.instances.length} instances look stuck in app publishshop (namespace default)`,
      message: result.summaryText,
      messageId: result.notificationId,
    });
  });

  it("does not notify below the threshold", async () => {
    const store = await freshObjects();
    const before = sns.published.length;
    const result = await publishStuckReport(ports(store), { now: NOW, notifyThreshold: 1000 });
    expect(result.notified).toBe(false);
    expect(sns.published.length).toBe(before);
  });

  it("writes a report when nothing is stuck: [] and a page that says so", async () => {
    const store = await freshObjects();
    const result = await publishStuckReport(ports(store, { appId: "emptyshop", namespace: "default" }), {
      now: NOW,
      formats: ["json", "html"],
    });
    expect(result.summary.stuck).toBe(0);
    expect(result.notified).toBe(false);
    expect(result.reports.csv).toBeUndefined();
    expect(await text(store, result.reports.json!)).toBe("[]\n");
    expect(await text(store, result.reports.html!)).toContain('<p id="none">No stuck instances.</p>');
  });

  it("leaves nothing behind when one upload fails", async () => {
    const store = await freshObjects();
    const failing: PublishPorts["objectStore"] = {
      location: store.location,
      async put(key, body, options) {
        if (!key.endsWith(".csv")) return store.put(key, body, options);
        for await (const _ of body as AsyncIterable<Uint8Array>) throw new Error("disk full");
        throw new Error("disk full");
      },
    };
    await expect(publishStuckReport(ports(failing), { now: NOW, retention: RETENTION })).rejects.toThrow("disk full");
    expect(await keys(store)).toEqual([]);
  });

  it("fails the run when SNS refuses, after the reports are written", async () => {
    const store = await freshObjects();
    sns.failNext({ status: 403, code: "AuthorizationError", message: "User is not authorized to publish" });
    await expect(publishStuckReport(ports(store), { now: NOW })).rejects.toMatchObject({ code: "unauthorized" });
    expect(await keys(store)).toContain(`${BASE}.json`);
  });
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});
