/**
 * The reminder restore job against the harness's real etcd and s3rver: backups are taken from one isolated etcd root
 * and restored into another, with the real AWS SDK in between.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { HousekeeperError } from "../../shared/errors.ts";
import { runReminderBackup } from "../../shared/jobs/reminder-backup.ts";
import { manifestKeyOf, type ReminderBackupManifest } from "../../shared/jobs/reminder-backup-layout.ts";
import { type ReminderRestoreResult, runReminderRestore } from "../../shared/jobs/reminder-restore.ts";
import { type ObjectStore, readAll } from "../../shared/object-store/object-store.ts";
import { createS3Client, S3ObjectStore } from "../../shared/object-store/s3.ts";
import { buildSeed } from "../../shared/sample-data/scheduler-jobs.ts";
import type { EtcdSchedulerStore } from "../../shared/scheduler/etcd-store.ts";
import { encodeExportFile } from "../../shared/scheduler/gob-encode.ts";
import { counterKeyOf, deleteAllSelection } from "../../shared/scheduler/keys.ts";
import type { PutOptions, SchedulerStore, StoredEntry } from "../../shared/scheduler/store.ts";
import { dumpStore, SEED_ENTRIES, TestStores } from "../scheduler/support.ts";

let stores: TestStores;
const objectStores: ObjectStore[] = [];

beforeAll(() => {
  stores = new TestStores(inject("etcdEndpoint"));
});

afterAll(async () => {
  await stores.cleanUp();
  for (const store of objectStores) await store.close();
});

async function freshBucket(): Promise<S3ObjectStore> {
  const s3 = inject("s3");
  const options = {
    endpoint: s3.endpoint,
    region: s3.region,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  };
  const bucket = `restore-${randomBytes(5).toString("hex")}`;
  const admin = createS3Client(options);
  await admin.send(new CreateBucketCommand({ Bucket: bucket }));
  admin.destroy();
  const store = new S3ObjectStore({ bucket, ...options });
  objectStores.push(store);
  return store;
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
const asMap = (entries: readonly StoredEntry[]) => new Map(entries.map((e) => [e.key, hex(e.value)]));
const keysOf = (entries: readonly StoredEntry[]) => entries.map((e) => e.key).sort();
const sorted = (keys: readonly string[]) => [...keys].sort();
const JOB_KEY = SEED_ENTRIES.find((e) => e.key.includes("my-app.workflow||inst-1||new-event-aaa"))!.key;
const COUNTER_KEY = counterKeyOf(JOB_KEY);
const JOBS = SEED_ENTRIES.filter((e) => e.key.startsWith("dapr/jobs/")).length;
const COUNTERS = SEED_ENTRIES.length - JOBS;

/** A bucket holding one backup of SEED_ENTRIES (taken from its own etcd root). */
async function backupOfSeeds(): Promise<{ objectStore: S3ObjectStore; key: string; source: EtcdSchedulerStore }> {
  const source = await stores.create(SEED_ENTRIES);
  const objectStore = await freshBucket();
  const { key } = await runReminderBackup({ scheduler: source, objectStore }, {});
  return { objectStore, key, source };
}

async function readObject(store: ObjectStore, key: string): Promise<Buffer> {
  return readAll((await store.get(key)).body);
}

async function writeBackup(
  store: ObjectStore,
  key: string,
  bytes: Uint8Array,
  manifest: Partial<ReminderBackupManifest> & Pick<ReminderBackupManifest, "counts">,
): Promise<void> {
  await store.put(key, bytes);
  const full: ReminderBackupManifest = {
    format: "dapr-housekeeper/reminder-backup-manifest@1",
    backupKey: key,
    createdAt: "2026-01-01T00:00:00.000Z",
    tool: { name: "dapr-housekeeper", version: "0.0.0" },
    schedulerNamespace: "dapr-system",
    daprNamespace: "default",
    prefix: null,
    revision: "1",
    bytes: bytes.length,
    sha256: createHash("sha256").update(bytes).digest("hex"),
    ...manifest,
  };
  await store.put(manifestKeyOf(key), JSON.stringify(full));
}

function expectOutcome(result: ReminderRestoreResult, outcome: Partial<Record<string, readonly string[]>>): void {
  for (const name of ["created", "overwritten", "unchanged", "skipped"] as const) {
    expect(sorted(result[name]), name).toEqual(sorted(outcome[name] ?? []));
    expect(result.counts[name], name).toBe((outcome[name] ?? []).length);
  }
}

describe("runReminderRestore", () => {
  it("dry run: reports what would be created, overwritten or left unchanged, and writes nothing", async () => {
    const { objectStore, key } = await backupOfSeeds();
    const target = await stores.create();
    const identical = SEED_ENTRIES.find((e) => e.key.includes("||Cart||c1||"))!;
    const changed = { key: JOB_KEY, value: Buffer.from("something else entirely") };
    await target.put([identical, changed]);
    const before = await dumpStore(target);
    const others = SEED_ENTRIES.filter((e) => e.key !== identical.key && e.key !== JOB_KEY && e.key !== COUNTER_KEY);

    const skip = await runReminderRestore({ scheduler: target, objectStore }, { backupKey: key, dryRun: true });
    expect(skip).toMatchObject({
      backupKey: key,
      dryRun: true,
      conflictPolicy: "skip-existing",
      verified: true,
      isComplete: true,
      transactions: 0,
      inBackup: { jobs: JOBS, counters: COUNTERS },
      selected: { jobs: JOBS, counters: COUNTERS },
    });
    // The changed job is kept, and with it its counter (the backup's would not belong to that job).
    expectOutcome(skip, { created: keysOf(others), unchanged: [identical.key], skipped: [JOB_KEY, COUNTER_KEY] });

    const overwrite = await runReminderRestore(
      { scheduler: target, objectStore },
      { backupKey: key, dryRun: true, conflictPolicy: "overwrite" },
    );
    expectOutcome(overwrite, {
      created: [...keysOf(others), COUNTER_KEY],
      unchanged: [identical.key],
      overwritten: [JOB_KEY],
    });
    expect(await dumpStore(target)).toEqual(before);
  });

  it("restores everything into an empty etcd, byte for byte", async () => {
    const { objectStore, key } = await backupOfSeeds();
    const target = await stores.create();
    const result = await runReminderRestore({ scheduler: target, objectStore }, { backupKey: key });
    expectOutcome(result, { created: keysOf(SEED_ENTRIES) });
    expect(result.transactions).toBe(1);
    expect(await dumpStore(target)).toEqual(asMap(SEED_ENTRIES));

    // Idempotent: a second run finds everything identical.
    const again = await runReminderRestore({ scheduler: target, objectStore }, { backupKey: key });
    expectOutcome(again, { unchanged: keysOf(SEED_ENTRIES) });
    expect(again.transactions).toBe(0);
  });

  it("skip-existing never overwrites a key that exists with other bytes", async () => {
    const { objectStore, key } = await backupOfSeeds();
    const target = await stores.create();
    const theirs = { key: JOB_KEY, value: Buffer.from("a newer job the app created since the backup") };
    await target.put([theirs]);

    const result = await runReminderRestore({ scheduler: target, objectStore }, { backupKey: key });

    const rest = SEED_ENTRIES.filter((e) => e.key !== JOB_KEY && e.key !== COUNTER_KEY);
    expectOutcome(result, { created: keysOf(rest), skipped: [JOB_KEY, COUNTER_KEY] });
    expect(await dumpStore(target)).toEqual(asMap([...rest, theirs]));
  });

  it("overwrite replaces keys that differ and leaves identical ones alone", async () => {
    const { objectStore, key } = await backupOfSeeds();
    const target = await stores.create();
    await target.put([
      { key: JOB_KEY, value: Buffer.from("stale") },
      { key: COUNTER_KEY, value: Buffer.from("x") },
    ]);
    const untouched = buildSeed({ target: { app: "not-in-backup" }, name: "keep-me" }).job;
    await target.put([untouched]);

    const result = await runReminderRestore(
      { scheduler: target, objectStore },
      { backupKey: key, conflictPolicy: "overwrite", maxTxnOps: 5 },
    );

    const rest = SEED_ENTRIES.filter((e) => e.key !== JOB_KEY && e.key !== COUNTER_KEY);
    expectOutcome(result, { created: keysOf(rest), overwritten: [JOB_KEY, COUNTER_KEY] });
    expect(result.transactions).toBeGreaterThan(3);
    expect(await dumpStore(target)).toEqual(asMap([...SEED_ENTRIES, untouched]));
  });

  it.each([
    ["workflow/my-app", "default"],
    ["workflow/my-app/inst-1", "default"],
    ["workflow/my-app", "prod"],
    ["actor/Cart/c1", "default"],
    ["app/billing", "default"],
  ])("restores only %s (namespace %s)", async (prefix, namespace) => {
    const { objectStore, key } = await backupOfSeeds();
    const target = await stores.create();
    const selection = deleteAllSelection(prefix, namespace);
    const expected = SEED_ENTRIES.filter((e) =>
      [...selection.jobs, ...selection.counters].some((p) => e.key.startsWith(p)),
    );
    expect(expected.length).toBeGreaterThan(0);

    const result = await runReminderRestore(
      { scheduler: target, objectStore },
      { backupKey: key, prefix, daprNamespace: namespace },
    );

    expectOutcome(result, { created: keysOf(expected) });
    expect(result.prefix).toBe(prefix);
    expect(result.selected.jobs + result.selected.counters).toBe(expected.length);
    expect(await dumpStore(target)).toEqual(asMap(expected));
  });

  it("one instance: its workflow reminders and its activities', not inst-10's", async () => {
    const { objectStore, key } = await backupOfSeeds();
    const target = await stores.create();
    const result = await runReminderRestore(
      { scheduler: target, objectStore },
      { backupKey: key, prefix: "workflow/my-app/inst-1" },
    );
    expect(sorted(result.created)).toEqual(
      sorted([
        "dapr/jobs/actorreminder||default||dapr.internal.default.my-app.activity||inst-1::0::1||run-activity",
        "dapr/counters/actorreminder||default||dapr.internal.default.my-app.activity||inst-1::0::1||run-activity",
        "dapr/jobs/actorreminder||default||dapr.internal.default.my-app.workflow||inst-1||new-event-aaa",
        "dapr/counters/actorreminder||default||dapr.internal.default.my-app.workflow||inst-1||new-event-aaa",
        "dapr/jobs/actorreminder||default||dapr.internal.default.my-app.workflow||inst-1||timer-0",
      ]),
    );
  });

  it("a restore interrupted after its first transaction reports what it wrote, and a re-run completes it", async () => {
    const { objectStore, key } = await backupOfSeeds();
    const target = await stores.create();
    let puts = 0;
    const flaky: SchedulerStore = Object.create(target, {
      put: {
        value: (entries: readonly StoredEntry[], options?: PutOptions) => {
          if (++puts === 2) throw new HousekeeperError("unavailable", "etcd leader lost");
          return target.put(entries, options);
        },
      },
    });

    const first = await runReminderRestore({ scheduler: flaky, objectStore }, { backupKey: key, maxTxnOps: 4 });

    expect(first.isComplete).toBe(false);
    expect(first.failure).toMatchObject({ code: "unavailable", message: expect.stringContaining("etcd leader lost") });
    expect(first.transactions).toBe(1);
    expect(first.created.length).toBeGreaterThan(0);
    expect(first.created.length).toBeLessThanOrEqual(4);
    // Exactly the reported keys are in etcd, with the backup's bytes.
    const written = await dumpStore(target);
    expect(sorted([...written.keys()])).toEqual(sorted(first.created));
    const seeds = asMap(SEED_ENTRIES);
    for (const [k, v] of written) expect(v).toBe(seeds.get(k));
    // A job and its counter travel in the same transaction.
    for (const k of first.created.filter((k) => k.startsWith("dapr/jobs/"))) {
      if (seeds.has(counterKeyOf(k))) expect(first.created).toContain(counterKeyOf(k));
    }

    const second = await runReminderRestore({ scheduler: target, objectStore }, { backupKey: key, maxTxnOps: 4 });

    expect(second.isComplete).toBe(true);
    expectOutcome(second, {
      unchanged: first.created,
      created: keysOf(SEED_ENTRIES).filter((k) => !first.created.includes(k)),
    });
    expect(await dumpStore(target)).toEqual(asMap(SEED_ENTRIES));
  });

  it("skip-existing does not overwrite a key created between its read and its write", async () => {
    const { objectStore, key } = await backupOfSeeds();
    const target = await stores.create();
    const concurrent = { key: JOB_KEY, value: Buffer.from("created by the Scheduler meanwhile") };
    let raced = false;
    const racing: SchedulerStore = Object.create(target, {
      get: {
        value: async (keys: readonly string[]) => {
          const current = await target.get(keys);
          if (!raced && keys.includes(JOB_KEY)) {
            raced = true;
            await target.put([concurrent]);
          }
          return current;
        },
      },
    });

    const result = await runReminderRestore({ scheduler: racing, objectStore }, { backupKey: key });

    expect(raced).toBe(true);
    expect(result.isComplete).toBe(true);
    expect(result.skipped).toEqual([JOB_KEY, COUNTER_KEY]);
    const rest = SEED_ENTRIES.filter((e) => e.key !== JOB_KEY && e.key !== COUNTER_KEY);
    expect(await dumpStore(target)).toEqual(asMap([...rest, concurrent]));
  });

  it('"latest" picks the newest complete backup of the namespace', async () => {
    const source = await stores.create(SEED_ENTRIES);
    const objectStore = await freshBucket();
    const older = await runReminderBackup(
      { scheduler: source, objectStore, clock: { now: () => new Date("2026-01-01T00:00:00Z") } },
      { prefix: "app" },
    );
    const newer = await runReminderBackup(
      { scheduler: source, objectStore, clock: { now: () => new Date("2026-01-02T00:00:00Z") } },
      { prefix: "actor/Cart" },
    );
    // A newer .bin without manifest (a failed backup) is not "latest".
    await objectStore.put("reminders/dapr-system/20260103T000000.000Z.bin", "junk");
    const target = await stores.create();

    const result = await runReminderRestore({ scheduler: target, objectStore }, { backupKey: "latest", dryRun: true });

    expect(result.backupKey).toBe(newer.key);
    expect(result.backupKey).not.toBe(older.key);
    expect(result.created.every((k) => k.includes("||Cart||"))).toBe(true);
  });

  it("spools the backup to local disk while it works, and leaves nothing there", async () => {
    const { objectStore, key } = await backupOfSeeds();
    const target = await stores.create();
    const spoolDir = mkdtempSync(join(tmpdir(), "restore-spool-test-"));
    try {
      const result = await runReminderRestore({ scheduler: target, objectStore, spoolDir }, { backupKey: key });
      expect(result.counts.created).toBe(SEED_ENTRIES.length);
      expect(readdirSync(spoolDir)).toEqual([]);
      // And after a refusal.
      await objectStore.put(key, Buffer.from("not an export file"));
      await expect(
        runReminderRestore({ scheduler: target, objectStore, spoolDir }, { backupKey: key }),
      ).rejects.toMatchObject({ code: "corrupt-data" });
      expect(readdirSync(spoolDir)).toEqual([]);
    } finally {
      rmSync(spoolDir, { recursive: true, force: true });
    }
  });

  it("a valid file whose keys are out of order (not an export's) is restored the same, pairs and all", async () => {
    const objectStore = await freshBucket();
    const jobs = SEED_ENTRIES.filter((e) => e.key.startsWith("dapr/jobs/")).reverse();
    const counters = SEED_ENTRIES.filter((e) => e.key.startsWith("dapr/counters/")).reverse();
    const bytes = encodeExportFile(
      { jobs: jobs.map((e) => [e.key, e.value] as const), counters: counters.map((e) => [e.key, e.value] as const) },
      { sortKeys: false },
    );
    const key = "reminders/dapr-system/20260101T000000.000Z.bin";
    await writeBackup(objectStore, key, bytes, { counts: { jobs: JOBS, counters: COUNTERS, byKind: {}, byApp: {} } });
    const target = await stores.create();
    // A changed job under skip-existing: its counter must still be recognised as its pair and skipped with it.
    await target.put([{ key: JOB_KEY, value: Buffer.from("something else entirely") }]);

    const result = await runReminderRestore({ scheduler: target, objectStore }, { backupKey: key });
    const others = SEED_ENTRIES.filter((e) => e.key !== JOB_KEY && e.key !== COUNTER_KEY);
    expectOutcome(result, { created: keysOf(others), skipped: [JOB_KEY, COUNTER_KEY] });
  });

  describe("refuses a damaged backup and writes nothing", () => {
    it("a duplicate key that only an out-of-order file can hide", async () => {
      const objectStore = await freshBucket();
      const value = SEED_ENTRIES.find((e) => e.key === JOB_KEY)!.value;
      const first = "dapr/jobs/app||default||my-app||b-job";
      // b-job, a-job, b-jox: out of order at a-job; then b-jox is patched into a second b-job.
      const bytes = Buffer.from(
        encodeExportFile(
          {
            jobs: [
              [first, value],
              ["dapr/jobs/app||default||my-app||a-job", value],
              ["dapr/jobs/app||default||my-app||b-jox", value],
            ],
            counters: [],
          },
          { sortKeys: false },
        ),
      );
      const at = bytes.lastIndexOf(Buffer.from("b-jox"));
      bytes.write("b-job", at);
      const key = "reminders/dapr-system/20260101T000000.000Z.bin";
      await writeBackup(objectStore, key, bytes, { counts: { jobs: 3, counters: 0, byKind: {}, byApp: {} } });
      const target = await stores.create();

      await expect(runReminderRestore({ scheduler: target, objectStore }, { backupKey: key })).rejects.toMatchObject({
        code: "corrupt-data",
        message: expect.stringContaining(`duplicate Jobs key "${first}"`),
      });
      expect((await dumpStore(target)).size).toBe(0);
    });

    it("a flipped byte: checksum mismatch", async () => {
      const { objectStore, key } = await backupOfSeeds();
      const bytes = await readObject(objectStore, key);
      const flipped = Buffer.from(bytes);
      flipped[Math.floor(flipped.length / 2)]! ^= 0x01;
      await objectStore.put(key, flipped);
      const target = await stores.create();

      const error = await runReminderRestore({ scheduler: target, objectStore }, { backupKey: key }).catch(
        (e: unknown) => e,
      );

      expect(error).toBeInstanceOf(HousekeeperError);
      expect(error).toMatchObject({
        code: "corrupt-data",
        message: expect.stringContaining("does not match its manifest"),
      });
      expect((await dumpStore(target)).size).toBe(0);
    });

    it("a truncated file with a manifest forged to match: decode error", async () => {
      const { objectStore, key, source } = await backupOfSeeds();
      const bytes = await readObject(objectStore, key);
      const truncated = bytes.subarray(0, bytes.length - 40);
      await writeBackup(objectStore, key, truncated, {
        counts: { jobs: JOBS, counters: COUNTERS, byKind: {}, byApp: {} },
      });
      const target = await stores.create();

      const error = await runReminderRestore({ scheduler: target, objectStore }, { backupKey: key }).catch(
        (e: unknown) => e,
      );

      expect(error).toMatchObject({ code: "corrupt-data", message: expect.stringContaining("cannot be restored") });
      expect((error as Error).message).toMatch(/ends inside|byte/);
      expect((await dumpStore(target)).size).toBe(0);
      expect((await dumpStore(source)).size).toBe(SEED_ENTRIES.length);
    });

    it("a value that is not a stored job: named, nothing written", async () => {
      const objectStore = await freshBucket();
      const good = SEED_ENTRIES.filter((e) => e.key.startsWith("dapr/jobs/"));
      const badKey = "dapr/jobs/app||default||my-app||broken";
      const bytes = encodeExportFile({
        jobs: new Map([...good.map((e) => [e.key, e.value] as const), [badKey, Uint8Array.of(0xff, 0xff, 0xff)]]),
        counters: new Map(),
      });
      const key = "reminders/dapr-system/20260101T000000.000Z.bin";
      await writeBackup(objectStore, key, bytes, {
        counts: { jobs: good.length + 1, counters: 0, byKind: {}, byApp: {} },
      });
      const target = await stores.create();

      await expect(runReminderRestore({ scheduler: target, objectStore }, { backupKey: key })).rejects.toMatchObject({
        code: "corrupt-data",
        message: expect.stringContaining(badKey),
      });
      expect((await dumpStore(target)).size).toBe(0);
    });

    it("counts that disagree with the manifest", async () => {
      const { objectStore, key } = await backupOfSeeds();
      const bytes = await readObject(objectStore, key);
      await writeBackup(objectStore, key, bytes, {
        counts: { jobs: JOBS - 1, counters: COUNTERS, byKind: {}, byApp: {} },
      });
      const target = await stores.create();
      await expect(runReminderRestore({ scheduler: target, objectStore }, { backupKey: key })).rejects.toMatchObject({
        code: "corrupt-data",
        message: expect.stringContaining(`its manifest says ${JOBS - 1}`),
      });
      expect((await dumpStore(target)).size).toBe(0);
    });

    it("a missing manifest, unless allowMissingManifest", async () => {
      const { objectStore, key } = await backupOfSeeds();
      await objectStore.deleteMany([manifestKeyOf(key)]);
      const target = await stores.create();

      await expect(runReminderRestore({ scheduler: target, objectStore }, { backupKey: key })).rejects.toMatchObject({
        code: "not-found",
        message: expect.stringContaining("allowMissingManifest"),
      });
      expect((await dumpStore(target)).size).toBe(0);

      const result = await runReminderRestore(
        { scheduler: target, objectStore },
        { backupKey: key, allowMissingManifest: true },
      );
      expect(result.verified).toBe(false);
      expect(await dumpStore(target)).toEqual(asMap(SEED_ENTRIES));
    });

    it("a manifest that is not one", async () => {
      const { objectStore, key } = await backupOfSeeds();
      await objectStore.put(manifestKeyOf(key), '{"format":"something else"}');
      const target = await stores.create();
      await expect(runReminderRestore({ scheduler: target, objectStore }, { backupKey: key })).rejects.toMatchObject({
        code: "corrupt-data",
      });
    });

    it("a backup that does not exist", async () => {
      const objectStore = await freshBucket();
      const target = await stores.create();
      await expect(
        runReminderRestore({ scheduler: target, objectStore }, { backupKey: "reminders/x/20200101T000000.000Z.bin" }),
      ).rejects.toMatchObject({ code: "not-found", message: expect.stringContaining("no backup") });
      await expect(
        runReminderRestore({ scheduler: target, objectStore }, { backupKey: "latest" }),
      ).rejects.toMatchObject({ code: "not-found" });
    });
  });
});
