/**
 * The reminder backup job against the harness's real etcd (each store under its own random root) and s3rver (each
 * test group in its own bucket), with the real AWS SDK.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { HousekeeperError } from "../../shared/errors.ts";
import { type Clock, runReminderBackup } from "../../shared/jobs/reminder-backup.ts";
import {
  type ReminderBackupManifest,
  reminderBackupManifestSchema,
  toolVersion,
} from "../../shared/jobs/reminder-backup-layout.ts";
import { FilesystemObjectStore } from "../../shared/object-store/filesystem.ts";
import type { ObjectStore } from "../../shared/object-store/object-store.ts";
import { readAll } from "../../shared/object-store/object-store.ts";
import { createS3Client, S3ObjectStore } from "../../shared/object-store/s3.ts";
import { buildSeed, type SeedJob } from "../../shared/sample-data/scheduler-jobs.ts";
import { decodeExportFile } from "../../shared/scheduler/gob-decode.ts";
import { deleteAllSelection } from "../../shared/scheduler/keys.ts";
import type { SchedulerSnapshot, SchedulerStore } from "../../shared/scheduler/store.ts";
import { dumpStore, SEED_ENTRIES, SEEDS, TestStores } from "../scheduler/support.ts";

let stores: TestStores;
let dir: string;
const objectStores: ObjectStore[] = [];

beforeAll(async () => {
  stores = new TestStores(inject("etcdEndpoint"));
  dir = await mkdtemp(join(tmpdir(), "housekeeper-backup-"));
});

afterAll(async () => {
  await stores.cleanUp();
  for (const store of objectStores) await store.close();
  await rm(dir, { recursive: true, force: true });
});

async function freshBucket(): Promise<S3ObjectStore> {
  const s3 = inject("s3");
  const options = {
    endpoint: s3.endpoint,
    region: s3.region,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  };
  const bucket = `backup-${randomBytes(5).toString("hex")}`;
  const admin = createS3Client(options);
  await admin.send(new CreateBucketCommand({ Bucket: bucket }));
  admin.destroy();
  const store = new S3ObjectStore({ bucket, ...options });
  objectStores.push(store);
  return store;
}

const fixedClock = (iso: string): Clock => ({ now: () => new Date(iso) });
const DAY = 86_400_000;

async function getBytes(store: ObjectStore, key: string): Promise<Buffer> {
  return readAll((await store.get(key)).body);
}

async function getManifest(store: ObjectStore, key: string): Promise<ReminderBackupManifest> {
  return reminderBackupManifestSchema.parse(JSON.parse((await getBytes(store, key)).toString("utf8")));
}

async function listKeys(store: ObjectStore, prefix = ""): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of store.list(prefix)) keys.push(o.key);
  return keys;
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
const kindOf = (seed: SeedJob) => Object.keys(seed.target)[0] as "app" | "workflow" | "activity" | "actor";

describe("runReminderBackup", () => {
  it("writes every job and counter as a Dapr export file, with a manifest that matches it", async () => {
    const scheduler = await stores.create(SEED_ENTRIES);
    const objectStore = await freshBucket();
    const revisionBefore = Number((await scheduler.snapshot()).revision);

    const result = await runReminderBackup(
      { scheduler, objectStore, clock: fixedClock("2026-01-25T09:30:15.123Z") },
      { schedulerNamespace: "dapr-system" },
    );

    expect(result.key).toBe("reminders/dapr-system/20260125T093015.123Z.bin");
    expect(result.manifestKey).toBe("reminders/dapr-system/20260125T093015.123Z.manifest.json");
    const bytes = await getBytes(objectStore, result.key);
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    const jobs = SEED_ENTRIES.filter((e) => e.key.startsWith("dapr/jobs/"));
    const counters = SEED_ENTRIES.filter((e) => e.key.startsWith("dapr/counters/"));

    // The file is the Dapr CLI's export format holding exactly what etcd holds.
    const decoded = decodeExportFile(bytes);
    expect(new Map([...decoded.jobs].map(([k, v]) => [k, hex(v)]))).toEqual(
      new Map(jobs.map((e) => [e.key, hex(e.value)])),
    );
    expect(new Map([...decoded.counters].map(([k, v]) => [k, hex(v)]))).toEqual(
      new Map(counters.map((e) => [e.key, hex(e.value)])),
    );

    const manifest = await getManifest(objectStore, result.manifestKey);
    const expectedByKind = { workflow: 0, activity: 0, actor: 0, app: 0, unknown: 0 };
    const expectedByApp: Record<string, number> = {};
    for (const seed of SEEDS) {
      expectedByKind[kindOf(seed)]++;
      const t = seed.target;
      const app =
        "app" in t
          ? t.app
          : "workflow" in t
            ? t.workflow.appId
            : "activity" in t
              ? t.activity.appId
              : /* actors carry no app ID in seeded metadata */ "";
      expectedByApp[app] = (expectedByApp[app] ?? 0) + 1;
    }
    expect(manifest).toEqual({
      format: "dapr-housekeeper/reminder-backup-manifest@1",
      backupKey: result.key,
      createdAt: "2026-01-25T09:30:15.123Z",
      tool: { name: "dapr-housekeeper", version: toolVersion() },
      schedulerNamespace: "dapr-system",
      daprNamespace: "default",
      prefix: null,
      revision: result.revision,
      bytes: bytes.length,
      sha256,
      counts: { jobs: jobs.length, counters: counters.length, byKind: expectedByKind, byApp: expectedByApp },
    });
    expect(toolVersion()).toMatch(/^\d+\.\d+\.\d+/);
    expect(Number(result.revision)).toBeGreaterThanOrEqual(revisionBefore);
    expect(result).toMatchObject({
      jobs: jobs.length,
      counters: counters.length,
      bytes: bytes.length,
      sha256,
      byKind: expectedByKind,
      deletedBackups: [],
      keptBackups: 1,
    });
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
    const head = await objectStore.head(result.key);
    expect(head).toMatchObject({ contentType: "application/x-gob", metadata: { "etcd-revision": result.revision } });
  });

  it("reads etcd at one revision: a job written after the snapshot is not in the backup", async () => {
    const scheduler = await stores.create(SEED_ENTRIES);
    const objectStore = await freshBucket();
    const late = buildSeed({ target: { app: "late" }, name: "written-during-backup" }).job;
    // The snapshot is pinned first; the new job lands before any page is read.
    const racing: SchedulerStore = Object.create(scheduler, {
      snapshot: {
        value: async (): Promise<SchedulerSnapshot> => {
          const snapshot = await scheduler.snapshot();
          await scheduler.put([late]);
          return snapshot;
        },
      },
    });

    const result = await runReminderBackup({ scheduler: racing, objectStore }, { pageSize: 2 });

    const decoded = decodeExportFile(await getBytes(objectStore, result.key));
    expect(decoded.jobs.has(late.key)).toBe(false);
    expect(decoded.jobs.size).toBe(SEED_ENTRIES.filter((e) => e.key.startsWith("dapr/jobs/")).length);
    expect((await dumpStore(scheduler)).has(late.key)).toBe(true);
    const manifest = await getManifest(objectStore, result.manifestKey);
    expect(BigInt(manifest.revision)).toBeLessThan(BigInt((await scheduler.snapshot()).revision));
  });

  it("backs up only the jobs under a display-name prefix, with the Dapr CLI's prefix rules", async () => {
    const scheduler = await stores.create(SEED_ENTRIES);
    const objectStore = await freshBucket();

    const result = await runReminderBackup(
      { scheduler, objectStore },
      { prefix: "workflow/my-app", keyPrefix: "backups/eu/", schedulerNamespace: "dapr-prod" },
    );

    expect(result.key).toMatch(/^backups\/eu\/dapr-prod\/\d{8}T\d{6}\.\d{3}Z\.bin$/);
    const selection = deleteAllSelection("workflow/my-app", "default");
    const under = (key: string) => [...selection.jobs, ...selection.counters].some((p) => key.startsWith(p));
    const expected = SEED_ENTRIES.filter((e) => under(e.key));
    const decoded = decodeExportFile(await getBytes(objectStore, result.key));
    expect([...decoded.jobs.keys(), ...decoded.counters.keys()].sort()).toEqual(expected.map((e) => e.key).sort());
    // my-app's workflow and activity reminders in `default`; not my-app2's, not prod's.
    expect([...decoded.jobs.keys()].every((k) => k.includes("||dapr.internal.default.my-app."))).toBe(true);
    const expectedJobs = expected.filter((e) => e.key.startsWith("dapr/jobs/"));
    const workflowJobs = expectedJobs.filter((e) => e.key.includes(".workflow||")).length;
    expect(result.jobs).toBe(expectedJobs.length);
    expect(result.counters).toBe(expected.length - expectedJobs.length);
    expect(result.byKind).toEqual({
      workflow: workflowJobs,
      activity: expectedJobs.length - workflowJobs,
      actor: 0,
      app: 0,
      unknown: 0,
    });
    expect(result.byApp).toEqual({ "my-app": expectedJobs.length });
    expect(result.prefix).toBe("workflow/my-app");
    expect((await getManifest(objectStore, result.manifestKey)).prefix).toBe("workflow/my-app");

    const one = await runReminderBackup({ scheduler, objectStore }, { prefix: "workflow/my-app/inst-1" });
    const decodedOne = decodeExportFile(await getBytes(objectStore, one.key));
    expect([...decodedOne.jobs.keys()].sort()).toEqual(
      [
        "dapr/jobs/actorreminder||default||dapr.internal.default.my-app.activity||inst-1::0::1||run-activity",
        "dapr/jobs/actorreminder||default||dapr.internal.default.my-app.workflow||inst-1||new-event-aaa",
        "dapr/jobs/actorreminder||default||dapr.internal.default.my-app.workflow||inst-1||timer-0",
      ].sort(),
    );
    await expect(runReminderBackup({ scheduler, objectStore }, { prefix: "bogus/x" })).rejects.toMatchObject({
      code: "bad-input",
    });
  });

  it("writes an empty export when nothing matches", async () => {
    const scheduler = await stores.create([]);
    const objectStore = await freshBucket();
    const result = await runReminderBackup({ scheduler, objectStore }, {});
    expect(result).toMatchObject({ jobs: 0, counters: 0 });
    const decoded = decodeExportFile(await getBytes(objectStore, result.key));
    expect(decoded.jobs.size + decoded.counters.size).toBe(0);
  });

  it("keeps the newest N backups and those younger than D, deleting each .bin with its manifest", async () => {
    const scheduler = await stores.create(SEED_ENTRIES.slice(0, 4));
    const objectStore = await freshBucket();
    const t0 = new Date("2026-03-01T00:00:00.000Z").getTime();
    const at = (daysAgo: number): Clock => ({ now: () => new Date(t0 - daysAgo * DAY) });
    const keys: Record<number, string> = {};
    for (const daysAgo of [10, 8, 5, 2, 1]) {
      keys[daysAgo] = (await runReminderBackup({ scheduler, objectStore, clock: at(daysAgo) }, {})).key;
    }
    // Not backups, or not this namespace's: never touched.
    await objectStore.put("reminders/dapr-system/README.txt", "notes");
    await objectStore.put("reminders/other-ns/20200101T000000.000Z.bin", "old");
    // An orphan manifest of a backup whose .bin is gone.
    await objectStore.put("reminders/dapr-system/20200101T000000.000Z.manifest.json", "{}");

    const result = await runReminderBackup(
      { scheduler, objectStore, clock: at(0) },
      { retention: { keepLast: 2, keepWithinMs: 3 * DAY } },
    );

    // Newest 2: today's and 1 day ago; younger than 3 days: also 2 days ago.
    expect(result.deletedBackups).toEqual([
      keys[5],
      keys[8],
      keys[10],
      "reminders/dapr-system/20200101T000000.000Z.bin",
    ]);
    expect(result.keptBackups).toBe(3);
    const stem = (k: string) => k.slice(0, -".bin".length);
    expect(await listKeys(objectStore)).toEqual(
      [
        "reminders/dapr-system/README.txt",
        "reminders/other-ns/20200101T000000.000Z.bin",
        ...[result.key, keys[1]!, keys[2]!].flatMap((k) => [k, `${stem(k)}.manifest.json`]),
      ].sort(),
    );

    // Count only: the newest 3 stay, whatever their age.
    const second = await runReminderBackup(
      { scheduler, objectStore, clock: { now: () => new Date(t0 + 30 * DAY) } },
      { retention: { keepLast: 3 } },
    );
    expect(second.deletedBackups).toEqual([keys[2]]);

    // Even "keep nothing" keeps the backup just written.
    const third = await runReminderBackup(
      { scheduler, objectStore, clock: { now: () => new Date(t0 + 31 * DAY) } },
      { retention: { keepLast: 0, keepWithinMs: 0 } },
    );
    expect(third.deletedBackups).toEqual([second.key, result.key, keys[1]]);
    expect((await listKeys(objectStore, "reminders/dapr-system/")).filter((k) => k.endsWith(".bin"))).toEqual([
      third.key,
    ]);
  });

  it("refuses to overwrite a backup of the same instant", async () => {
    const scheduler = await stores.create(SEED_ENTRIES.slice(0, 2));
    const objectStore = await freshBucket();
    const clock = fixedClock("2026-02-02T02:02:02.002Z");
    await runReminderBackup({ scheduler, objectStore, clock }, {});
    await expect(runReminderBackup({ scheduler, objectStore, clock }, {})).rejects.toMatchObject({
      code: "already-exists",
    });
  });

  it("leaves no object behind when etcd fails midway through the export", async () => {
    const scheduler = await stores.create(SEED_ENTRIES);
    const objectStore = await freshBucket();
    const failing: SchedulerStore = Object.create(scheduler, {
      snapshot: {
        value: async (): Promise<SchedulerSnapshot> => {
          const snapshot = await scheduler.snapshot();
          let jobScans = 0;
          return {
            revision: snapshot.revision,
            get: (keys) => snapshot.get(keys),
            async *scan(prefix, options) {
              // Pass 1 reads every page; the second scan of the jobs (pass 2) fails after its first page.
              const failAfterFirstPage = prefix.startsWith("dapr/jobs/") && ++jobScans === 2;
              let pages = 0;
              for await (const page of snapshot.scan(prefix, options)) {
                if (failAfterFirstPage && ++pages > 1) throw new HousekeeperError("unavailable", "etcd went away");
                yield page;
              }
            },
          };
        },
      },
    });
    await expect(runReminderBackup({ scheduler: failing, objectStore }, { pageSize: 2 })).rejects.toThrow(
      "etcd went away",
    );
    expect(await listKeys(objectStore)).toEqual([]);
  });

  it("stops the export when the upload fails, and reports the upload's error", async () => {
    const scheduler = await stores.create(SEED_ENTRIES);
    const objectStore = await freshBucket();
    const broken: ObjectStore = Object.create(objectStore, {
      put: {
        value: async (key: string, body: AsyncIterable<Uint8Array>) => {
          for await (const _ of body) throw new HousekeeperError("unavailable", `S3 dropped the upload of ${key}`);
          return { key, size: 0 };
        },
      },
    });
    await expect(runReminderBackup({ scheduler, objectStore: broken }, { pageSize: 1 })).rejects.toMatchObject({
      code: "unavailable",
      message: expect.stringContaining("S3 dropped the upload"),
    });
    expect(await listKeys(objectStore)).toEqual([]);
  });

  it("writes to the local filesystem store just the same", async () => {
    const scheduler = await stores.create(SEED_ENTRIES);
    const objectStore = new FilesystemObjectStore({ root: join(dir, "fs-backups") });
    const result = await runReminderBackup({ scheduler, objectStore }, { retention: { keepLast: 1 } });
    const bytes = await getBytes(objectStore, result.key);
    expect(createHash("sha256").update(bytes).digest("hex")).toBe(result.sha256);
    expect(decodeExportFile(bytes).jobs.size).toBe(result.jobs);
    expect((await getManifest(objectStore, result.manifestKey)).sha256).toBe(result.sha256);
  });
});
