/**
 * The reminder backup against an S3 endpoint that accepts TCP and never answers (#12 item 5): the invocation fails
 * within the configured timeouts (HOUSEKEEPER_CONNECT_TIMEOUT / HOUSEKEEPER_REQUEST_TIMEOUT, the function's
 * settings) instead of hanging until the Lambda's own timeout, and the failure is logged with its code and counted
 * (BackupFailed).
 */
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";

vi.hoisted(() => {
  process.env.POWERTOOLS_LOG_LEVEL = "SILENT";
  process.env.POWERTOOLS_METRICS_DISABLED = "true";
});

import { handler, logger, metrics, ports } from "../../functions/reminder-backup/handler.ts";
import type { EtcdSchedulerStore } from "../../shared/scheduler/etcd-store.ts";
import { SEED_ENTRIES, TestStores } from "../scheduler/support.ts";
import { type FaultyPeer, startSilentServer } from "../support/faulty-peer.ts";
import { lambdaContext } from "../support/lambda.ts";

let stores: TestStores;
let source: EtcdSchedulerStore;
let silent: FaultyPeer;

beforeAll(async () => {
  stores = new TestStores(inject("etcdEndpoint"));
  source = await stores.create(SEED_ENTRIES);
  silent = await startSilentServer();
  vi.stubEnv("ETCD_ENDPOINTS", inject("etcdEndpoint"));
  vi.stubEnv("ETCD_KEY_ROOT", source.root);
  vi.stubEnv("BACKUP_BUCKET", "frozen-bucket");
  vi.stubEnv("S3_ENDPOINT", `http://${silent.address}`);
  vi.stubEnv("AWS_REGION", "us-east-1");
  vi.stubEnv("AWS_ACCESS_KEY_ID", "test");
  vi.stubEnv("AWS_SECRET_ACCESS_KEY", "test");
  vi.stubEnv("HOUSEKEEPER_CONNECT_TIMEOUT", "1s");
  vi.stubEnv("HOUSEKEEPER_REQUEST_TIMEOUT", "1s");
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await ports.close();
  await silent?.stop();
  await stores?.cleanUp();
});

describe("reminder-backup handler, S3 frozen", () => {
  it("fails within the timeouts, logs the failure with its code and counts it", async () => {
    const addMetric = vi.spyOn(metrics, "addMetric");
    const logError = vi.spyOn(logger, "error");
    const started = Date.now();
    await expect(handler({}, lambdaContext("reminder-backup"))).rejects.toThrow(/frozen-bucket/);
    // The SDK makes 3 attempts, each cut after 1 s, with short backoffs between them.
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(silent.accepted()).toBeGreaterThan(0);
    expect(addMetric).toHaveBeenCalledWith("BackupFailed", "Count", 1);
    expect(logError).toHaveBeenCalledWith(
      "reminder backup failed",
      expect.objectContaining({ code: "unavailable", reason: expect.stringMatching(/frozen-bucket/) }),
    );
  });
});
