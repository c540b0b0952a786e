/**
 * The stuck-report Lambda handler invoked directly with EventBridge Scheduler events, configured through the
 * environment, against real servers: PostgreSQL holding the fixture, the harness's etcd (an isolated key root) with
 * its reminders, s3rver (its own bucket) for the reports, and the local SNS Query API stand-in. Metrics are read from
 * the Embedded Metric Format lines Powertools prints.
 */
import { randomBytes } from "node:crypto";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";

vi.hoisted(() => {
  process.env.POWERTOOLS_LOG_LEVEL = "SILENT";
  process.env.POWERTOOLS_METRICS_NAMESPACE = "DaprHousekeeperTest";
});

import type { StuckReportResponse } from "../../functions/stuck-report/handler.ts";
import { handler, ports } from "../../functions/stuck-report/handler.ts";
import { HousekeeperError } from "../../shared/errors.ts";
import { STUCK_REASONS } from "../../shared/jobs/stuck-report/model.ts";
import { readAll } from "../../shared/object-store/object-store.ts";
import { createS3Client, S3ObjectStore } from "../../shared/object-store/s3.ts";
import { buildSeeds, type SeedJob } from "../../shared/sample-data/scheduler-jobs.ts";
import { EtcdSchedulerStore } from "../../shared/scheduler/etcd-store.ts";
import { writeBatches } from "../../shared/scheduler/store.ts";
import type { AppRef } from "../../shared/state-store/keys.ts";
import { createPostgresDaprTable, openPostgresBackend } from "../../shared/state-store/postgresql.ts";
import { SnsStandIn } from "../report/sns-standin.ts";
import { EXPECTED, stuckFixture, wholeSecond, writeFixture } from "../report/stuck-fixtures.ts";
import { lambdaContext } from "../support/lambda.ts";
import { createPostgresDatabase, uniqueDatabaseName } from "../support/servers.ts";

const APP: AppRef = { appId: "fnshop", namespace: "default" };
const TOPIC = "arn:aws:sns:us-east-1:123456789012:stuck-workflows";
const KEY =
  /^stuck-reports\/default\/fnshop\/\d{4}-\d{2}-\d{2}\/\d{8}T\d{6}\.\d{3}Z\.(json|csv|html|summary\.txt|summary\.json)$/;

interface Emf {
  _aws: { CloudWatchMetrics: Array<{ Namespace: string; Dimensions: string[][]; Metrics: Array<{ Name: string }> }> };
  [key: string]: unknown;
}

/** Invokes the handler and collects the EMF documents Powertools writes to stdout meanwhile. */
async function invoke(event: unknown): Promise<{ response: StuckReportResponse; emf: Emf[] }> {
  const emf: Emf[] = [];
  const write = process.stdout.write.bind(process.stdout);
  const spy = vi.spyOn(process.stdout, "write").mockImplementation(((
    chunk: string | Uint8Array,
    ...rest: unknown[]
  ) => {
    const text = typeof chunk === "string" ? chunk : Buffer.from(chunk).toString();
    for (const line of text.split("\n")) if (line.includes('"_aws"')) emf.push(JSON.parse(line) as Emf);
    return text.includes('"_aws"') ? true : (write as (...a: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stdout.write);
  try {
    const response = (await handler(
      event,
      lambdaContext("stuck-report", () => 600_000),
    )) as StuckReportResponse;
    return { response, emf };
  } finally {
    spy.mockRestore();
  }
}

let scheduler: EtcdSchedulerStore;
let bucket: S3ObjectStore;
const sns = new SnsStandIn();
const fixture = stuckFixture(wholeSecond(), APP);

beforeAll(async () => {
  const url = await createPostgresDatabase(inject("postgresUrl"), uniqueDatabaseName("stuck_fn"));
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await createPostgresDaprTable(admin, "state", "v2");
  await admin.end();
  const backend = await openPostgresBackend({ connectionString: url, tableName: "state" });
  await writeFixture(backend, fixture);
  await backend.close();

  scheduler = new EtcdSchedulerStore({
    endpoints: [inject("etcdEndpoint")],
    root: `t-stuckfn-${randomBytes(5).toString("hex")}/dapr/`,
  });
  // Plus one orphan: a reminder, due long ago, of an instance that has no state.
  const ghost: SeedJob = {
    target: { workflow: { appId: APP.appId, instanceId: "ghost-1" } },
    name: "new-event-x",
    begin: new Date(fixture.now.getTime() - 86_400_000),
  };
  for (const batch of writeBatches(buildSeeds([...fixture.reminders, ghost]))) await scheduler.put(batch);

  const s3 = inject("s3");
  const name = `fn-stuck-${randomBytes(5).toString("hex")}`;
  const credentials = { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey };
  const s3Admin = createS3Client({ endpoint: s3.endpoint, region: s3.region, credentials });
  await s3Admin.send(new CreateBucketCommand({ Bucket: name }));
  s3Admin.destroy();
  bucket = new S3ObjectStore({ bucket: name, endpoint: s3.endpoint, region: s3.region, credentials });

  await sns.start();
  sns.topics.add(TOPIC);

  vi.stubEnv("STATE_STORE_CONNECTION_STRING", url);
  vi.stubEnv("STATE_STORE_TABLE", "state");
  vi.stubEnv("APP_IDS", APP.appId);
  vi.stubEnv("ETCD_ENDPOINTS", inject("etcdEndpoint"));
  vi.stubEnv("ETCD_KEY_ROOT", scheduler.root);
  vi.stubEnv("RETENTION", "COMPLETED=30d,FAILED=2160h");
  vi.stubEnv("REPORT_BUCKET", name);
  vi.stubEnv("S3_ENDPOINT", s3.endpoint);
  vi.stubEnv("AWS_REGION", s3.region);
  vi.stubEnv("AWS_ACCESS_KEY_ID", s3.accessKeyId);
  vi.stubEnv("AWS_SECRET_ACCESS_KEY", s3.secretAccessKey);
  vi.stubEnv("SNS_TOPIC_ARN", TOPIC);
  vi.stubEnv("SNS_ENDPOINT", sns.endpoint);
  vi.stubEnv("NOTIFY_THRESHOLD", "3");
});

afterAll(async () => {
  vi.unstubAllEnvs();
  await ports.close();
  await bucket?.close();
  await scheduler?.deletePrefixes(["dapr/"]).catch(() => undefined);
  await scheduler?.close();
  await sns.stop();
});

async function objectText(key: string): Promise<string> {
  return (await readAll((await bucket.get(key)).body)).toString("utf8");
}

function expectedCounts(expected: Record<string, string[]>): Record<string, number> {
  const counts = Object.fromEntries(STUCK_REASONS.map((r) => [r, 0]));
  for (const reasons of Object.values(expected)) for (const r of reasons) counts[r]!++;
  return counts;
}

describe("stuck-report handler", () => {
  it("writes the reports to S3 under a dated key, notifies SNS, and emits metrics per reason", async () => {
    const before = sns.published.length;
    const { response, emf } = await invoke({});
    expect(response.apps).toHaveLength(1);
    const app = response.apps[0]!;
    expect(app).toMatchObject({
      appId: "fnshop",
      namespace: "default",
      scanned: fixture.instances.length,
      stuck: Object.keys(EXPECTED).length,
      byReason: expectedCounts(EXPECTED),
      notified: true,
      isComplete: true,
    });
    for (const key of Object.values(app.reports)) expect(key).toMatch(KEY);
    const json = JSON.parse(await objectText(app.reports.json!)) as Array<{ instanceID: string; reasons: string[] }>;
    expect(Object.fromEntries(json.map((r) => [r.instanceID, r.reasons]))).toEqual(EXPECTED);
    expect(await objectText(app.reports.html!)).toContain("<!DOCTYPE html>");
    expect((await objectText(app.reports.csv!)).split("\r\n")).toHaveLength(Object.keys(EXPECTED).length + 2);
    expect(await objectText(app.reports.summary!)).toContain(`s3://${bucket.location.replace(/^s3:\/\//, "")}`);

    const published = sns.published.slice(before);
    expect(published).toHaveLength(1);
    expect(published[0]!.message).toBe(await objectText(app.reports.summary!));
    expect(published[0]!.signed).toBe(true);

    // One EMF document per (App, Reason) with StuckInstances = that reason's count; one per app with the total.
    const perReason = emf.filter((d) => d._aws.CloudWatchMetrics[0]!.Dimensions[0]!.includes("Reason"));
    expect(Object.fromEntries(perReason.map((d) => [d.Reason, d.StuckInstances]))).toEqual(expectedCounts(EXPECTED));
    expect(
      perReason.every(
        (d) => d.App === "default/fnshop" && d._aws.CloudWatchMetrics[0]!.Namespace === "DaprHousekeeperTest",
      ),
    ).toBe(true);
    const total = emf.find((d) => d.App === "default/fnshop" && d.Reason === undefined && "StuckInstances" in d);
    expect(total?.StuckInstances).toBe(Object.keys(EXPECTED).length);
    // The ghost's reminder: one orphan, in the summary and as a metric.
    expect(emf.find((d) => "OrphanReminders" in d)).toMatchObject({ App: "default/fnshop", OrphanReminders: 1 });
    expect(await objectText(app.reports.summary!)).toContain("Orphan reminders: 1 (no-instance 1);");
    const flushed = emf.find((d) => "InstancesScanned" in d);
    expect(flushed).toMatchObject({ InstancesScanned: fixture.instances.length, UnreadableInstances: 0 });
  });

  it("takes the schedule's input over the environment: apps, thresholds, formats, notify threshold", async () => {
    const before = sns.published.length;
    const { response } = await invoke({
      apps: [{ appId: "fnshop", namespace: "default" }],
      thresholds: { SUSPENDED: "1h" },
      formats: ["json"],
      notifyThreshold: 100,
    });
    const app = response.apps[0]!;
    expect(Object.keys(app.reports).sort()).toEqual(["json", "summary", "summaryJson"]);
    const json = JSON.parse(await objectText(app.reports.json!)) as Array<{ instanceID: string; reasons: string[] }>;
    expect(Object.fromEntries(json.map((r) => [r.instanceID, r.reasons]))).toEqual({
      ...EXPECTED,
      "h-suspended": ["idle-too-long"],
    });
    expect(app.notified).toBe(false);
    expect(sns.published.length).toBe(before);
  });

  it("checks no reminders without ETCD_ENDPOINTS, and accepts a legacy EventBridge rule event", async () => {
    vi.stubEnv("ETCD_ENDPOINTS", "");
    try {
      const { response } = await invoke({ "detail-type": "Scheduled Event", source: "aws.events", detail: {} });
      expect(response.apps[0]!.byReason["no-reminder"]).toBe(0);
      expect(response.apps[0]!.stuck).toBe(
        Object.values(EXPECTED).filter((r) => r.some((x) => x !== "no-reminder")).length,
      );
    } finally {
      vi.stubEnv("ETCD_ENDPOINTS", inject("etcdEndpoint"));
    }
  });

  it("fails with a bad-input error naming every problem, and counts the failure", async () => {
    vi.stubEnv("OLDER_THAN", "7 days");
    try {
      const failure = invoke({ apps: ["fnshop"], colour: "blue" });
      await expect(failure).rejects.toBeInstanceOf(HousekeeperError);
      await expect(failure).rejects.toMatchObject({
        code: "bad-input",
        message: expect.stringMatching(/environment OLDER_THAN: invalid duration "7 days"/),
      });
    } finally {
      vi.stubEnv("OLDER_THAN", "");
    }
    await expect(invoke({ colour: "blue" })).rejects.toThrow(/event: Unrecognized key: "colour"/);
  });
});
