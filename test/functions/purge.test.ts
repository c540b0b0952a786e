/**
 * The purge Lambda handler invoked directly with a scheduled event: a direct-mode policy against a real PostgreSQL
 * store, the connection string given as an `env:` secret reference, the run report written to S3 (s3rver), and a
 * tiny time budget that makes it stop early and hand back a continuation token.
 */
import { randomBytes } from "node:crypto";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";

vi.hoisted(() => {
  process.env.POWERTOOLS_LOG_LEVEL = "SILENT";
  process.env.POWERTOOLS_METRICS_DISABLED = "true";
});

import { handler, type MergeResponse, type PurgeResponse, ports } from "../../functions/purge/handler.ts";
import { readAll } from "../../shared/object-store/object-store.ts";
import { createS3Client, S3ObjectStore } from "../../shared/object-store/s3.ts";
import { writeInstances } from "../../shared/sample-data/writer.ts";
import { createPostgresDaprTable, openPostgresBackend } from "../../shared/state-store/postgresql.ts";
import { WorkflowStateStore } from "../../shared/state-store/workflow-store.ts";
import { lambdaContext } from "../support/lambda.ts";
import { createPostgresDatabase, uniqueDatabaseName } from "../support/servers.ts";

const DAY = 86_400_000;
const APP = { appId: "payments", namespace: "default" };

describe("purge Lambda handler", () => {
  let url: string;
  let bucket: S3ObjectStore;
  const policy = {
    retention: { COMPLETED: "30d", FAILED: "30d" },
    mode: "direct",
    targets: [
      {
        appId: APP.appId,
        stateStore: { connectionString: "env:TEST_PURGE_STATE_STORE" },
        // Direct mode needs the Scheduler for the instances' reminders (none seeded here; retention-reminders checks them).
        scheduler: { etcdEndpoints: [inject("etcdEndpoint")] },
      },
    ],
  };

  beforeAll(async () => {
    url = await createPostgresDatabase(inject("postgresUrl"), uniqueDatabaseName("fn_purge"));
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await createPostgresDaprTable(admin, "state", "v1");
    await admin.end();
    const backend = await openPostgresBackend({ connectionString: url, tableName: "state" });
    const old = new Date(Date.now() - 40 * DAY);
    await writeInstances(backend, APP, [
      ...Array.from({ length: 300 }, (_, i) => ({
        instanceId: `p-${i}`,
        scenario: "completed" as const,
        createdAt: old,
      })),
      { instanceId: "p-running", scenario: "running-activity" as const, createdAt: old },
    ]);
    await backend.close();

    const s3 = inject("s3");
    const name = `fn-purge-${randomBytes(5).toString("hex")}`;
    const credentials = { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey };
    const admin3 = createS3Client({ endpoint: s3.endpoint, region: s3.region, credentials });
    await admin3.send(new CreateBucketCommand({ Bucket: name }));
    admin3.destroy();
    bucket = new S3ObjectStore({ bucket: name, endpoint: s3.endpoint, region: s3.region, credentials });
    vi.stubEnv("TEST_PURGE_STATE_STORE", url);
    vi.stubEnv("REPORT_BUCKET", name);
    vi.stubEnv("REPORT_PREFIX", "reports/purge");
    vi.stubEnv("S3_ENDPOINT", s3.endpoint);
    vi.stubEnv("AWS_REGION", s3.region);
    vi.stubEnv("AWS_ACCESS_KEY_ID", s3.accessKeyId);
    vi.stubEnv("AWS_SECRET_ACCESS_KEY", s3.secretAccessKey);
    vi.stubEnv("SAFETY_MARGIN_MS", "1000");
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await ports.close();
    await bucket?.close();
  });

  it("stops before its time runs out, returns a token, and the next invocation finishes; reports land in S3", async () => {
    let calls = 0;
    // Plenty of time for the first few checks, then "almost out of time".
    const first = (await handler(
      { policy },
      lambdaContext("purge", () => (++calls > 2 ? 500 : 60_000)),
    )) as PurgeResponse;
    expect(first.isComplete).toBe(false);
    expect(first.continuationToken).toBeTruthy();
    expect(first.failed).toEqual([]);

    const second = (await handler(
      { policy, continuationToken: first.continuationToken },
      lambdaContext("purge", () => 600_000),
    )) as PurgeResponse;
    expect(second.isComplete).toBe(true);
    expect(first.purged + second.purged).toBe(300);

    const backend = await openPostgresBackend({ connectionString: url, tableName: "state" });
    const store = new WorkflowStateStore(backend, APP);
    const left: string[] = [];
    for await (const page of store.listInstances()) for (const i of page.instances) left.push(i.instanceId);
    await backend.close();
    expect(left).toEqual(["p-running"]);

    expect(second.reportKey).toMatch(/^reports\/purge\/\d{4}\/\d{2}\/\d{2}\/.+\.json$/);
    const report = JSON.parse((await readAll((await bucket.get(second.reportKey!)).body)).toString("utf8"));
    expect(report).toMatchObject({
      mode: "direct",
      purged: second.purged,
      isComplete: true,
      purgedByApp: { "default/payments": second.purged },
    });
    expect(JSON.stringify(report)).not.toContain(url); // no connection details in reports
  });

  it("the state machine's merge step stores one run report of the shards' summaries and names the failed ones", async () => {
    const items = [
      { target: 0, shard: { index: 1, count: 2 } },
      { target: 0, shard: { index: 2, count: 2 } },
    ];
    const results = [
      { ...items[0], ok: true, invocations: 3, purged: 40, wouldPurge: 0, skipped: 1, failed: 0, error: "" },
    ];
    const merged = (await handler(
      { policy, merge: { items, results } },
      lambdaContext("purge", () => 60_000),
    )) as MergeResponse;
    expect(merged).toMatchObject({
      ok: false,
      shards: 2,
      purged: 40,
      skipped: 1,
      failedShards: [
        {
          name: "default/payments shard 2/2",
          error: "no result: its child execution failed, timed out or was aborted",
        },
      ],
    });
    expect(merged.reportKey).toMatch(/^reports\/purge\/runs\/\d{4}\/\d{2}\/\d{2}\/.+\.json$/);
    const report = JSON.parse((await readAll((await bucket.get(merged.reportKey!)).body)).toString("utf8"));
    expect(report).toMatchObject({
      kind: "sharded-run",
      shards: 2,
      shardsReported: 1,
      purgedByApp: { "default/payments": 40 },
    });
  });

  it("rejects a bad policy with one clear error", async () => {
    await expect(
      handler(
        { policy: { retention: { COMPLETED: "soon" }, targets: [] } },
        lambdaContext("purge", () => 60_000),
      ),
    ).rejects.toThrow(/invalid retention policy: .*invalid duration "soon".*at least one target/);
  });
});
