/**
 * The reminder restore Lambda handler invoked directly with on-demand payloads, configured through the environment,
 * restoring a backup (taken by the job from another etcd root) into an isolated etcd root, via s3rver.
 */
import { randomBytes } from "node:crypto";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";

// Before the handler module is imported (its logger and metrics read these at construction): quiet test output.
vi.hoisted(() => {
  process.env.POWERTOOLS_LOG_LEVEL = "SILENT";
  process.env.POWERTOOLS_METRICS_DISABLED = "true";
});

import { handler, metrics, ports, type ReminderRestoreResponse } from "../../functions/reminder-restore/handler.ts";
import { runReminderBackup } from "../../shared/jobs/reminder-backup.ts";
import { createS3Client, S3ObjectStore } from "../../shared/object-store/s3.ts";
import type { EtcdSchedulerStore } from "../../shared/scheduler/etcd-store.ts";
import { dumpStore, SEED_ENTRIES, TestStores } from "../scheduler/support.ts";
import { lambdaContext } from "../support/lambda.ts";

let stores: TestStores;
let target: EtcdSchedulerStore;
let bucket: S3ObjectStore;
let backupKey: string;
const invoke = (event: unknown) =>
  handler(event, lambdaContext("reminder-restore")) as Promise<ReminderRestoreResponse>;

beforeAll(async () => {
  stores = new TestStores(inject("etcdEndpoint"));
  const source = await stores.create(SEED_ENTRIES);
  target = await stores.create();
  const s3 = inject("s3");
  const name = `fn-restore-${randomBytes(5).toString("hex")}`;
  const options = {
    endpoint: s3.endpoint,
    region: s3.region,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  };
  const admin = createS3Client(options);
  await admin.send(new CreateBucketCommand({ Bucket: name }));
  admin.destroy();
  bucket = new S3ObjectStore({ bucket: name, ...options });
  backupKey = (await runReminderBackup({ scheduler: source, objectStore: bucket }, { keyPrefix: "bk" })).key;
  vi.stubEnv("ETCD_ENDPOINTS", inject("etcdEndpoint"));
  vi.stubEnv("ETCD_KEY_ROOT", target.root);
  vi.stubEnv("BACKUP_BUCKET", name);
  vi.stubEnv("BACKUP_PREFIX", "bk");
  vi.stubEnv("S3_ENDPOINT", s3.endpoint);
  vi.stubEnv("AWS_REGION", s3.region);
  vi.stubEnv("AWS_ACCESS_KEY_ID", s3.accessKeyId);
  vi.stubEnv("AWS_SECRET_ACCESS_KEY", s3.secretAccessKey);
});

afterAll(async () => {
  vi.unstubAllEnvs();
  await ports.close();
  await bucket.close();
  await stores.cleanUp();
});

describe("reminder-restore handler", () => {
  it("dry run of the latest backup: what would happen, nothing written", async () => {
    const response = await invoke({ backupKey: "latest", dryRun: true });
    expect(response.ok).toBe(true);
    if (!response.ok) return;
    expect(response.result).toMatchObject({ backupKey, dryRun: true, verified: true, isComplete: true });
    expect(response.result.counts.created).toBe(SEED_ENTRIES.length);
    expect((await dumpStore(target)).size).toBe(0);
  });

  it("restores one app's workflows, then the rest, and reports it; metrics count the keys", async () => {
    const addMetric = vi.spyOn(metrics, "addMetric");
    const first = await invoke({ backupKey, prefix: "workflow/my-app", conflictPolicy: "skip-existing" });
    expect(first.ok && first.result.counts.created).toBeGreaterThan(0);
    const created = first.ok ? first.result.counts.created : 0;
    expect((await dumpStore(target)).size).toBe(created);
    expect(addMetric).toHaveBeenCalledWith("KeysCreated", "Count", created);

    const second = await invoke({ backupKey, conflictPolicy: "overwrite" });
    expect(second.ok && second.result.counts).toEqual({
      created: SEED_ENTRIES.length - created,
      overwritten: 0,
      unchanged: created,
      skipped: 0,
    });
    expect((await dumpStore(target)).size).toBe(SEED_ENTRIES.length);
    addMetric.mockRestore();
  });

  it.each([
    [{}, /backupKey is required/],
    [{ backupKey: 42 }, /backupKey/],
    [{ backupKey: "x.txt" }, /must end in \.bin/],
    [{ backupKey: "latest", conflictPolicy: "clobber" }, /conflictPolicy/],
    [{ backupKey: "latest", dryRun: "yes" }, /dryRun/],
    [{ backupKey: "latest", prefix: "nope" }, /prefix/],
    [{ backupKey: "latest", surprise: 1 }, /surprise/],
    [null, /backupKey is required/],
  ])("answers bad input %j with a clear error result", async (event, message) => {
    const response = await invoke(event);
    expect(response).toEqual({ ok: false, error: { code: "bad-input", message: expect.stringMatching(message) } });
    expect(JSON.stringify(response)).not.toMatch(/\n\s+at /);
  });

  it("answers a missing backup with a not-found error result", async () => {
    const response = await invoke({ backupKey: "bk/dapr-system/20200101T000000.000Z.bin" });
    expect(response).toMatchObject({ ok: false, error: { code: "not-found" } });
  });
});
