/**
 * The reminder backup Lambda handler invoked directly with EventBridge Scheduler events, configured through the
 * environment, against the harness's etcd (an isolated key root) and s3rver (its own bucket).
 */
import { randomBytes } from "node:crypto";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { handler, metrics, ports } from "../../functions/reminder-backup/handler.ts";
import { HousekeeperError } from "../../shared/errors.ts";
import type { ReminderBackupResult } from "../../shared/jobs/reminder-backup.ts";
import { readAll } from "../../shared/object-store/object-store.ts";
import { createS3Client, S3ObjectStore } from "../../shared/object-store/s3.ts";
import type { EtcdSchedulerStore } from "../../shared/scheduler/etcd-store.ts";
import { decodeExportFile } from "../../shared/scheduler/gob-decode.ts";
import { ReminderPortsCache } from "../../shared/wiring/reminder-storage-ports.ts";
import { SEED_ENTRIES, TestStores } from "../scheduler/support.ts";
import { lambdaContext } from "../support/lambda.ts";

// Before the handler module is imported (its logger and metrics read these at construction): quiet test output.
vi.hoisted(() => {
  process.env.POWERTOOLS_LOG_LEVEL = "SILENT";
  process.env.POWERTOOLS_METRICS_DISABLED = "true";
});

let stores: TestStores;
let source: EtcdSchedulerStore;
let bucket: S3ObjectStore;
const invoke = (event: unknown) => handler(event, lambdaContext("reminder-backup")) as Promise<ReminderBackupResult>;

beforeAll(async () => {
  stores = new TestStores(inject("etcdEndpoint"));
  source = await stores.create(SEED_ENTRIES);
  const s3 = inject("s3");
  const name = `fn-backup-${randomBytes(5).toString("hex")}`;
  const admin = createS3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
  await admin.send(new CreateBucketCommand({ Bucket: name }));
  admin.destroy();
  bucket = new S3ObjectStore({
    bucket: name,
    endpoint: s3.endpoint,
    region: s3.region,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
  vi.stubEnv("ETCD_ENDPOINTS", inject("etcdEndpoint"));
  vi.stubEnv("ETCD_KEY_ROOT", source.root);
  vi.stubEnv("BACKUP_BUCKET", name);
  vi.stubEnv("BACKUP_PREFIX", "reminders");
  vi.stubEnv("SCHEDULER_NAMESPACE", "dapr-system");
  vi.stubEnv("RETENTION_KEEP_LAST", "2");
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

describe("reminder-backup handler", () => {
  it("backs up on a scheduled event and emits metrics: jobs exported, bytes, duration, backups deleted", async () => {
    const addMetric = vi.spyOn(metrics, "addMetric");
    const result = await invoke({});

    expect(result.key).toMatch(/^reminders\/dapr-system\/\d{8}T\d{6}\.\d{3}Z\.bin$/);
    const decoded = decodeExportFile(await readAll((await bucket.get(result.key)).body));
    expect(decoded.jobs.size + decoded.counters.size).toBe(SEED_ENTRIES.length);
    const recorded = Object.fromEntries(addMetric.mock.calls.map(([name, , value]) => [name, value]));
    expect(recorded).toMatchObject({
      JobsExported: result.jobs,
      CountersExported: result.counters,
      BackupBytes: result.bytes,
      BackupsDeleted: 0,
    });
    expect(recorded.BackupDuration).toBeGreaterThanOrEqual(0);
    addMetric.mockRestore();
  });

  it("takes the schedule's input: a prefix and retention override the environment", async () => {
    await invoke({});
    const result = await invoke({ prefix: "workflow/my-app", keepLast: 1 });
    expect(result.prefix).toBe("workflow/my-app");
    expect(result.jobs).toBeLessThan(SEED_ENTRIES.length);
    expect(result.deletedBackups.length).toBeGreaterThanOrEqual(2);
    const bins: string[] = [];
    for await (const o of bucket.list("reminders/dapr-system/")) if (o.key.endsWith(".bin")) bins.push(o.key);
    expect(bins).toEqual([result.key]);
  });

  it("also accepts a legacy EventBridge rule event, with the input in detail", async () => {
    const result = await invoke({ "detail-type": "Scheduled Event", source: "aws.events", detail: {} });
    expect(result.jobs).toBeGreaterThan(0);
  });

  it("fails with a clear bad-input error for an invalid event or environment", async () => {
    await expect(invoke({ keepLast: -1 })).rejects.toMatchObject({ code: "bad-input", message: /event keepLast/ });
    await expect(invoke({ prefix: "bogus/x" })).rejects.toMatchObject({ code: "bad-input", message: /event prefix/ });
    await expect(invoke({ typo: true })).rejects.toBeInstanceOf(HousekeeperError);
    vi.stubEnv("RETENTION_KEEP_WITHIN", "a week");
    await expect(invoke({})).rejects.toMatchObject({ code: "bad-input", message: /RETENTION_KEEP_WITHIN/ });
    vi.stubEnv("RETENTION_KEEP_WITHIN", "7d");
    const endpoints = process.env.ETCD_ENDPOINTS!;
    vi.stubEnv("ETCD_ENDPOINTS", "");
    await expect(invoke({})).rejects.toMatchObject({ code: "bad-input", message: /ETCD_ENDPOINTS/ });
    vi.stubEnv("ETCD_ENDPOINTS", endpoints);
  });

  it("reuses its clients across warm invocations while the configuration stays the same", async () => {
    const cache = new ReminderPortsCache();
    const settings = {
      etcd: { endpoints: [inject("etcdEndpoint")], root: source.root },
      objectStore: { kind: "filesystem" as const, root: "/tmp/unused" },
    };
    const first = await cache.get(settings);
    expect(await cache.get({ ...settings })).toBe(first);
    const other = await cache.get({ ...settings, etcd: { ...settings.etcd, root: "t-other/dapr/" } });
    expect(other).not.toBe(first);
    await cache.close();
  });
});
