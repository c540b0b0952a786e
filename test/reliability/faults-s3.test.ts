/**
 * The fault-injection suite against S3: the reminder-backup function uploads through a loopback proxy in front of
 * s3rver, and S3 stops answering mid-upload. The invocation fails within the configured timeouts, logged with its
 * code and counted (BackupFailed); the bucket, read directly, holds no complete backup (no manifest: S3 may have
 * stored the whole .bin before its answer was lost, and then nobody can delete it; such a .bin without a manifest is
 * never restored); the next invocation writes one complete backup that decodes to every job, and its retention
 * removes the leftover.
 */
import { randomBytes } from "node:crypto";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";

vi.hoisted(() => {
  process.env.POWERTOOLS_LOG_LEVEL = "SILENT";
  process.env.POWERTOOLS_METRICS_DISABLED = "true";
});

import { handler, logger, metrics, ports } from "../../functions/reminder-backup/handler.ts";
import type { ReminderBackupResult } from "../../shared/jobs/reminder-backup.ts";
import { readAll } from "../../shared/object-store/object-store.ts";
import { createS3Client, S3ObjectStore } from "../../shared/object-store/s3.ts";
import { buildSeeds } from "../../shared/sample-data/scheduler-jobs.ts";
import { decodeExportFile } from "../../shared/scheduler/gob-decode.ts";
import { TestStores } from "../scheduler/support.ts";
import { type FreezingProxy, startFreezingProxy } from "../support/faulty-peer.ts";
import { lambdaContext } from "../support/lambda.ts";

const JOBS = 3000;

let stores: TestStores;
let bucket: S3ObjectStore;
let proxy: FreezingProxy;
let s3Endpoint: string;

beforeAll(async () => {
  stores = new TestStores(inject("etcdEndpoint"));
  const seeds = buildSeeds(
    Array.from({ length: JOBS }, (_, i) => ({
      target: { workflow: { appId: "s3-faults", instanceId: `wf-${i}` } },
      name: "timer",
    })),
  );
  const source = await stores.create(seeds);
  const s3 = inject("s3");
  s3Endpoint = s3.endpoint;
  const name = `faults-${randomBytes(5).toString("hex")}`;
  const credentials = { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey };
  const admin = createS3Client({ endpoint: s3.endpoint, region: s3.region, credentials });
  await admin.send(new CreateBucketCommand({ Bucket: name }));
  admin.destroy();
  bucket = new S3ObjectStore({ bucket: name, endpoint: s3.endpoint, region: s3.region, credentials });
  const url = new URL(s3.endpoint);
  proxy = await startFreezingProxy({ host: url.hostname, port: Number(url.port) });
  vi.stubEnv("ETCD_ENDPOINTS", inject("etcdEndpoint"));
  vi.stubEnv("ETCD_KEY_ROOT", source.root);
  vi.stubEnv("BACKUP_BUCKET", name);
  vi.stubEnv("BACKUP_PREFIX", "reminders");
  vi.stubEnv("SCHEDULER_NAMESPACE", "dapr-system");
  vi.stubEnv("RETENTION_KEEP_LAST", "1");
  vi.stubEnv("S3_ENDPOINT", `http://${proxy.address}`);
  vi.stubEnv("AWS_REGION", s3.region);
  vi.stubEnv("AWS_ACCESS_KEY_ID", s3.accessKeyId);
  vi.stubEnv("AWS_SECRET_ACCESS_KEY", s3.secretAccessKey);
  vi.stubEnv("HOUSEKEEPER_CONNECT_TIMEOUT", "1s");
  vi.stubEnv("HOUSEKEEPER_REQUEST_TIMEOUT", "2s");
}, 60_000);
afterAll(async () => {
  vi.unstubAllEnvs();
  await ports.close();
  await proxy?.stop();
  await bucket?.close();
  await stores?.cleanUp();
});

async function objectsInBucket(): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of bucket.list("")) keys.push(object.key);
  return keys.sort();
}

describe("reminder backup, S3 frozen mid-upload", () => {
  it("fails within the timeouts, named and counted, leaves no complete backup, and the next run writes one", async () => {
    const addMetric = vi.spyOn(metrics, "addMetric");
    const logError = vi.spyOn(logger, "error");
    const started = Date.now();
    const invocation = handler({}, lambdaContext("reminder-backup")) as Promise<ReminderBackupResult>;
    const outcome = invocation.then(
      () => undefined,
      (error: unknown) => error,
    );
    // The upload is under way: freeze S3 (a server that stopped answering, as under SIGSTOP).
    await Promise.race([proxy.afterBytesFromClients(20_000), outcome]);
    proxy.freeze();
    const error = await outcome;
    expect(error).toBeInstanceOf(Error);
    expect(String(error)).not.toMatch(/\n\s+at /);
    expect(Date.now() - started).toBeLessThan(30_000); // a few 2 s attempts, not a hang
    expect(addMetric).toHaveBeenCalledWith("BackupFailed", "Count", 1);
    expect(logError).toHaveBeenCalledWith(
      "reminder backup failed",
      expect.objectContaining({ code: expect.any(String) }),
    );
    const left = await objectsInBucket();
    expect(
      left.filter((key) => !key.endsWith(".bin")),
      "no manifest of a failed backup",
    ).toEqual([]);
    expect(left.length).toBeLessThanOrEqual(1);

    // S3 answers again: the next invocation writes one complete backup.
    await ports.close();
    vi.stubEnv("S3_ENDPOINT", s3Endpoint);
    const result = (await handler({}, lambdaContext("reminder-backup"))) as ReminderBackupResult;
    expect(await objectsInBucket()).toEqual([result.key, result.manifestKey].sort());
    const decoded = decodeExportFile(await readAll((await bucket.get(result.key)).body));
    expect(decoded.jobs.size).toBe(JOBS);
  }, 120_000);
});
