/**
 * The scheduler module against the harness's real etcd: listing (filters, namespaces, paging, counters, undecodable
 * values), snapshots, get, delete, delete-all prefix rules, export → import round trips, and refused imports.
 */
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { HousekeeperError } from "../../shared/errors.ts";
import { buildSeed } from "../../shared/sample-data/scheduler-jobs.ts";
import type { EtcdSchedulerStore } from "../../shared/scheduler/etcd-store.ts";
import {
  exportFileEntries,
  exportToFile,
  exportToSink,
  importEntries,
  validateExportFileAt,
} from "../../shared/scheduler/export.ts";
import { decodeExportFile } from "../../shared/scheduler/gob-decode.ts";
import { encodeExportFile } from "../../shared/scheduler/gob-encode.ts";
import type { JobRecord } from "../../shared/scheduler/jobs.ts";
import { deleteAllJobs, deleteJobs, deleteSelection, getJobs, listJobs } from "../../shared/scheduler/jobs.ts";
import type { FilterKind } from "../../shared/scheduler/keys.ts";
import { deleteAllSelection, displayNameFromKey, instanceReminderSelection } from "../../shared/scheduler/keys.ts";
import type { SchedulerStore, StoredEntry } from "../../shared/scheduler/store.ts";
import { DEFAULT_NAMES, dumpStore, SEED_ENTRIES, TestStores } from "./support.ts";

let stores: TestStores;
let dir: string;

beforeAll(async () => {
  stores = new TestStores(inject("etcdEndpoint"));
  dir = await mkdtemp(join(tmpdir(), "housekeeper-sched-"));
});

afterAll(async () => {
  await stores.cleanUp();
  await rm(dir, { recursive: true, force: true });
});

/** Validates an export file the way `scheduler import` does (from disk, streamed), then returns its entries. */
let fileCount = 0;
async function validatedEntries(bytes: Uint8Array): Promise<StoredEntry[]> {
  const path = join(dir, `import-${++fileCount}.bin`);
  await writeFile(path, bytes);
  await validateExportFileAt(path);
  const entries: StoredEntry[] = [];
  for await (const entry of exportFileEntries(path)) entries.push(entry);
  return entries;
}

async function listAll(
  store: SchedulerStore,
  options: { filter?: FilterKind; namespace?: string | undefined; pageSize?: number } = {},
): Promise<{ jobs: JobRecord[]; unreadable: Array<{ key: string; reason: string }> }> {
  const jobs: JobRecord[] = [];
  const unreadable: Array<{ key: string; reason: string }> = [];
  for await (const page of listJobs(store, options)) {
    jobs.push(...page.jobs);
    unreadable.push(...page.unreadable);
  }
  return { jobs, unreadable };
}

const names = (jobs: JobRecord[]) => jobs.map((j) => j.name).sort();

describe("list", () => {
  let store: EtcdSchedulerStore;
  beforeAll(async () => {
    store = await stores.create(SEED_ENTRIES);
  });

  it.each([
    ["workflow", DEFAULT_NAMES.workflow],
    ["activity", DEFAULT_NAMES.activity],
    ["actor", DEFAULT_NAMES.actor],
    ["app", DEFAULT_NAMES.app],
    ["all", Object.values(DEFAULT_NAMES).flat()],
  ] as const)("--filter %s in namespace default", async (filter, expected) => {
    const { jobs, unreadable } = await listAll(store, { filter, namespace: "default" });
    expect(names(jobs)).toEqual([...expected].sort());
    expect(unreadable).toEqual([]);
    expect(jobs.every((j) => j.namespace === "default")).toBe(true);
  });

  it("other namespaces, and all of them", async () => {
    expect(names((await listAll(store, { namespace: "prod" })).jobs)).toEqual([
      "app/my-app/nightly",
      "workflow/my-app/inst-1/new-event-p",
    ]);
    expect((await listAll(store, { namespace: undefined })).jobs).toHaveLength(
      SEED_ENTRIES.filter((e) => e.key.startsWith("dapr/jobs/")).length,
    );
    expect((await listAll(store, { namespace: "nope" })).jobs).toEqual([]);
  });

  it("joins counters and decodes the job fields, in any page size", async () => {
    for (const pageSize of [1, 2, 3, 1000]) {
      const { jobs } = await listAll(store, { namespace: "default", pageSize });
      expect(jobs).toHaveLength(11);
      const byName = new Map(jobs.map((j) => [j.name, j]));
      const cart = byName.get("actor/Cart/c1/flush")!;
      expect(cart.counter).toEqual({
        jobPartitionId: "1234567890123456789",
        count: 7,
        attempts: 0,
        lastTrigger: { seconds: Date.parse("2026-01-01T11:59:00Z") / 1000, nanos: 0 },
      });
      expect(cart.job.begin).toEqual({
        kind: "start",
        time: { seconds: Date.parse("2026-01-01T00:00:00Z") / 1000, nanos: 0 },
      });
      expect(cart.job.job).toMatchObject({ schedule: "@every 1m", ttl: "24h", repeats: 10 });
      expect(cart.job.expiration?.seconds).toBe(Date.parse("2026-01-02T00:00:00Z") / 1000);
      expect(cart.kind).toBe("actor");
      expect(byName.get("activity/my-app/inst-1::0::1")!.counter?.count).toBe(3);
      expect(byName.get("workflow/my-app/inst-1/timer-0")!.counter).toBeUndefined();
      expect(byName.get("workflow/my-app/inst-1/new-event-aaa")!.key).toBe(
        "dapr/jobs/actorreminder||default||dapr.internal.default.my-app.workflow||inst-1||new-event-aaa",
      );
    }
  });

  it("reports a value that does not decode, naming the key, and lists the rest", async () => {
    const broken = await stores.create([
      ...SEED_ENTRIES,
      { key: "dapr/jobs/app||default||broken||job", value: Uint8Array.of(0x0a, 0xff, 0xff) },
      { key: "dapr/jobs/app||default||nometa||job", value: Uint8Array.of() },
      { key: "dapr/counters/app||default||billing||report", value: Uint8Array.of(0x10, 0xff) },
    ]);
    const { jobs, unreadable } = await listAll(broken, { namespace: "default", pageSize: 2 });
    expect(unreadable.map((u) => u.key)).toEqual([
      "dapr/counters/app||default||billing||report",
      "dapr/jobs/app||default||broken||job",
      "dapr/jobs/app||default||nometa||job",
    ]);
    expect(unreadable[0]!.reason).toMatch(/not a valid job counter/);
    expect(unreadable[1]!.reason).toMatch(/^job dapr\/jobs\/app\|\|default\|\|broken\|\|job: not a valid stored job/);
    expect(unreadable[2]!.reason).toMatch(/job has no metadata/);
    expect(jobs).toHaveLength(10);
  });

  it("reads at one revision: later writes are invisible to an earlier snapshot", async () => {
    const snapshot = await store.snapshot();
    expect(snapshot.revision).toMatch(/^\d+$/);
    const late = buildSeed({ target: { app: "late" }, name: "x" }).job;
    await store.put([late]);
    try {
      const fromSnapshot = [];
      for await (const page of listJobs(store, { namespace: "default", snapshot })) fromSnapshot.push(...page.jobs);
      expect(fromSnapshot.map((j) => j.name)).not.toContain("app/late/x");
      expect((await snapshot.get([late.key])).size).toBe(0);
      expect(names((await listAll(store, { namespace: "default" })).jobs)).toContain("app/late/x");
    } finally {
      await store.deleteKeys([late.key]);
    }
  });

  it("scans resume after a key", async () => {
    const snapshot = await store.snapshot();
    const keys: string[] = [];
    for await (const page of snapshot.scan("dapr/jobs/app||", { after: "dapr/jobs/app||default||billing||report" })) {
      keys.push(...page.map((e) => e.key));
    }
    expect(keys).toEqual(["dapr/jobs/app||default||my-app||nightly", "dapr/jobs/app||prod||my-app||nightly"]);
  });
});

describe("get and delete", () => {
  it("gets jobs by display name, with counters (missing counter = count 0)", async () => {
    const store = await stores.create(SEED_ENTRIES);
    const [wf, act, timer] = await getJobs(
      store,
      ["workflow/my-app/inst-1/new-event-aaa", "activity/my-app/inst-1::0::1", "workflow/my-app/inst-1/timer-0"],
      "default",
    );
    expect(wf!.name).toBe("workflow/my-app/inst-1/new-event-aaa");
    expect(wf!.counter?.count).toBe(1);
    expect(act!.counter?.attempts).toBe(2);
    expect(timer!.counter).toEqual({ jobPartitionId: "0", count: 0, attempts: 0 });
    const [prod] = await getJobs(store, ["workflow/my-app/inst-1/new-event-p"], "prod");
    expect(prod!.namespace).toBe("prod");
    await expect(getJobs(store, ["workflow/my-app/inst-1/new-event-p"], "default")).rejects.toThrow(
      "job 'workflow/my-app/inst-1/new-event-p' not found",
    );
    await expect(getJobs(store, ["workflow/my-app/inst-1"], "default")).rejects.toThrow(/expecting workflow key/);
  });

  it("deletes jobs and their counters; a missing job stops with the CLI's message", async () => {
    const store = await stores.create(SEED_ENTRIES);
    const deleted: string[] = [];
    await deleteJobs(store, ["actor/Cart/c1/flush", "activity/my-app/inst-1::0::1"], "default", (n) => {
      deleted.push(n);
    });
    expect(deleted).toEqual(["actor/Cart/c1/flush", "activity/my-app/inst-1::0::1"]);
    const left = await dumpStore(store);
    expect([...left.keys()].filter((k) => k.includes("Cart||c1") || k.includes("inst-1::0::1"))).toEqual([
      "dapr/jobs/actorreminder||default||dapr.internal.default.my-app2.activity||inst-1::0::1||run-activity",
    ]);
    const error = await deleteJobs(
      store,
      ["app/billing/report", "actor/Cart/c1/flush", "app/my-app/nightly"],
      "default",
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HousekeeperError);
    expect((error as HousekeeperError).code).toBe("not-found");
    expect((error as Error).message).toBe("no job with key 'actor/Cart/c1/flush' found in namespace 'default'");
    const after = await dumpStore(store);
    expect(after.has("dapr/jobs/app||default||billing||report")).toBe(false); // deleted before the failure
    expect(after.has("dapr/jobs/app||default||my-app||nightly")).toBe(true); // never reached
  });
});

describe("delete-all prefix rules", () => {
  const remainingNames = async (store: EtcdSchedulerStore) => {
    const keys = [...(await dumpStore(store)).keys()];
    const jobs = keys.filter((k) => k.startsWith("dapr/jobs/"));
    const counters = keys.filter((k) => k.startsWith("dapr/counters/"));
    // No counter outlives its job.
    for (const c of counters) expect(jobs).toContain(c.replace("dapr/counters/", "dapr/jobs/"));
    return jobs.map((k) => `${k.split("||")[1]}:${displayNameFromKey(k)}`).sort();
  };
  const all = () =>
    SEED_ENTRIES.filter((e) => e.key.startsWith("dapr/jobs/"))
      .map((e) => `${e.key.split("||")[1]}:${displayNameFromKey(e.key)}`)
      .sort();
  const without = (...gone: string[]) => all().filter((n) => !gone.includes(n));

  it.each([
    [
      "workflow/my-app/inst-1",
      [
        "default:workflow/my-app/inst-1/new-event-aaa",
        "default:workflow/my-app/inst-1/timer-0",
        "default:activity/my-app/inst-1::0::1",
      ],
    ],
    [
      "workflow/my-app",
      [
        "default:workflow/my-app/inst-1/new-event-aaa",
        "default:workflow/my-app/inst-1/timer-0",
        "default:activity/my-app/inst-1::0::1",
        "default:workflow/my-app/inst-10/new-event-b",
        "default:activity/my-app/inst-10::2::1",
      ],
    ],
    ["workflow", [...DEFAULT_NAMES.workflow, ...DEFAULT_NAMES.activity].map((n) => `default:${n}`)],
    ["actor/Cart/c1", ["default:actor/Cart/c1/flush"]],
    ["actor/Cart", ["default:actor/Cart/c1/flush", "default:actor/Cart/c2/flush"]],
    ["app/my-app", ["default:app/my-app/nightly"]],
    ["app", ["default:app/my-app/nightly", "default:app/billing/report"]],
    [
      "all",
      Object.values(DEFAULT_NAMES)
        .flat()
        .map((n) => `default:${n}`),
    ],
  ])("delete-all %s", async (prefix, gone) => {
    const store = await stores.create(SEED_ENTRIES);
    const deleted = await deleteAllJobs(store, prefix, "default");
    expect(deleted.jobs.map((k) => `default:${displayNameFromKey(k)}`).sort()).toEqual([...gone].sort());
    expect(deleted.counters.every((k) => k.startsWith("dapr/counters/"))).toBe(true);
    expect(await remainingNames(store)).toEqual(without(...gone));
  });

  it("refuses bad prefixes before touching the store", async () => {
    const store = await stores.create(SEED_ENTRIES);
    await expect(deleteAllJobs(store, "workflow/a/b/c", "default")).rejects.toThrow(
      "invalid key format: workflow/a/b/c",
    );
    expect((await dumpStore(store)).size).toBe(SEED_ENTRIES.length);
  });

  it("one instance's reminders for the purge job (instance IDs with `/` too)", async () => {
    const odd = buildSeed({
      target: { workflow: { appId: "my-app", instanceId: "a/b" } },
      name: "timer-1",
      counter: { count: 1 },
    });
    const store = await stores.create([...SEED_ENTRIES, odd.job, odd.counter!]);
    const sel = instanceReminderSelection({ appId: "my-app", namespace: "default" }, "a/b");
    expect(await deleteSelection(store, sel)).toEqual({ jobs: [odd.job.key], counters: [odd.counter!.key] });
    const inst1 = await deleteSelection(
      store,
      instanceReminderSelection({ appId: "my-app", namespace: "default" }, "inst-1"),
    );
    expect(inst1.jobs.map(displayNameFromKey).sort()).toEqual([
      "activity/my-app/inst-1::0::1",
      "workflow/my-app/inst-1/new-event-aaa",
      "workflow/my-app/inst-1/timer-0",
    ]);
    expect(inst1.counters).toHaveLength(2);
  });
});

describe("export and import", () => {
  it("round-trips everything into an empty root, byte for byte; the file is canonical and Dapr-shaped", async () => {
    const source = await stores.create(SEED_ENTRIES);
    const path = join(dir, "round-trip.bin");
    const seen: string[] = [];
    const summary = await exportToFile(source, path, {
      pageSize: 3,
      onEntry: (section, key) => seen.push(`${section}:${key}`),
    });
    const jobCount = SEED_ENTRIES.filter((e) => e.key.startsWith("dapr/jobs/")).length;
    expect(summary).toMatchObject({ jobs: jobCount, counters: SEED_ENTRIES.length - jobCount });
    expect(seen).toHaveLength(SEED_ENTRIES.length);
    const file = await readFile(path);
    expect(summary.bytes).toBe(file.length);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await readdir(dir)).filter((f) => f.includes("round-trip"))).toEqual(["round-trip.bin"]);

    // Canonical keys (Dapr's `dapr/…`, not the test root), sorted, exactly the stored bytes.
    const decoded = decodeExportFile(file);
    const expected = new Map(SEED_ENTRIES.map((e) => [e.key, Buffer.from(e.value).toString("hex")]));
    for (const section of ["jobs", "counters"] as const) {
      for (const [key, value] of decoded[section]) expect(Buffer.from(value).toString("hex")).toBe(expected.get(key));
    }
    expect(Buffer.compare(file, Buffer.from(encodeExportFile(decoded)))).toBe(0);

    const target = await stores.create();
    const writes: number[] = [];
    const { written } = await importEntries(target, await validatedEntries(file), {
      onProgress: (n) => writes.push(n),
    });
    expect(written).toBe(SEED_ENTRIES.length);
    expect(await dumpStore(target)).toEqual(await dumpStore(source));
    expect(names((await listAll(target, { namespace: undefined })).jobs)).toEqual(
      names((await listAll(source, { namespace: undefined })).jobs),
    );
  });

  it("the streaming exports (two-pass and spooled) write the same bytes as the file export at one snapshot", async () => {
    const source = await stores.create(SEED_ENTRIES);
    const snapshot = await source.snapshot();
    const path = join(dir, "same.bin");
    const fromFile = await exportToFile(source, path, { snapshot });
    const chunks: Uint8Array[] = [];
    const fromSink = await exportToSink(
      source,
      (c) => {
        chunks.push(c);
      },
      { snapshot, pageSize: 2 },
    );
    expect(fromSink).toEqual(fromFile);
    expect(Buffer.compare(Buffer.concat(chunks), await readFile(path))).toBe(0);
    expect(fromFile.revision).toBe(snapshot.revision);

    const spoolDir = await mkdtemp(join(dir, "spool-"));
    const spooledChunks: Uint8Array[] = [];
    const spooled = await exportToSink(source, (c) => void spooledChunks.push(c), { snapshot, spoolDir });
    expect(spooled).toEqual(fromFile);
    expect(Buffer.compare(Buffer.concat(spooledChunks), await readFile(path))).toBe(0);
    expect(await readdir(spoolDir)).toEqual([]);
  });

  it("exports a selection (one app's workflows) and an empty store", async () => {
    const source = await stores.create(SEED_ENTRIES);
    const chunks: Uint8Array[] = [];
    const summary = await exportToSink(source, (c) => void chunks.push(c), {
      selection: deleteAllSelection("workflow/my-app", "default"),
    });
    expect(summary).toMatchObject({ jobs: 5, counters: 2 });
    const decoded = decodeExportFile(Buffer.concat(chunks));
    expect([...decoded.jobs.keys()].map(displayNameFromKey).sort()).toEqual(
      [
        "activity/my-app/inst-1::0::1",
        "activity/my-app/inst-10::2::1",
        "workflow/my-app/inst-1/new-event-aaa",
        "workflow/my-app/inst-1/timer-0",
        "workflow/my-app/inst-10/new-event-b",
      ].sort(),
    );
    const empty = await stores.create();
    const path = join(dir, "empty.bin");
    expect(await exportToFile(empty, path)).toMatchObject({ jobs: 0, counters: 0 });
    expect(await validatedEntries(await readFile(path))).toEqual([]);
  });

  it("refuses to overwrite, and leaves nothing behind when the store fails", async () => {
    const source = await stores.create(SEED_ENTRIES);
    const path = join(dir, "exists.bin");
    await writeFile(path, "keep me");
    await expect(exportToFile(source, path)).rejects.toThrow(`file '${path}' already exists`);
    expect(await readFile(path, "utf8")).toBe("keep me");

    const failing: SchedulerStore = {
      ...source,
      root: source.root,
      snapshot: async () => {
        const real = await source.snapshot();
        return {
          revision: real.revision,
          get: (keys) => real.get(keys),
          async *scan(prefix, options) {
            yield* real.scan(prefix, options);
            if (prefix.startsWith("dapr/counters/")) throw new HousekeeperError("unavailable", "etcd went away");
          },
        };
      },
    } as SchedulerStore;
    const failedPath = join(dir, "failed.bin");
    await expect(exportToFile(failing, failedPath)).rejects.toThrow("etcd went away");
    expect((await readdir(dir)).filter((f) => f.includes("failed"))).toEqual([]);
  });

  it("import writes in transactions of at most 128 operations", async () => {
    const entries: StoredEntry[] = [];
    for (let i = 0; i < 300; i++) entries.push(buildSeed({ target: { app: "bulk" }, name: `job-${i}` }).job);
    const target = await stores.create();
    const sizes: number[] = [];
    const spy: SchedulerStore = {
      root: target.root,
      snapshot: () => target.snapshot(),
      get: (k) => target.get(k),
      deleteKeys: (k) => target.deleteKeys(k),
      deleteIfUnchanged: (e, k) => target.deleteIfUnchanged(e, k),
      readPrefixes: (p, o) => target.readPrefixes(p, o),
      readRanges: (r, o) => target.readRanges(r, o),
      deletePrefixes: (p) => target.deletePrefixes(p),
      put: (batch, o) => {
        sizes.push(batch.length);
        return target.put(batch, o);
      },
      close: () => Promise.resolve(),
    };
    const file = encodeExportFile({ jobs: entries.map((e) => [e.key, e.value]), counters: [] });
    expect((await importEntries(spy, await validatedEntries(file))).written).toBe(300);
    expect(sizes).toEqual([128, 128, 44]);
    expect((await dumpStore(target)).size).toBe(300);
  });

  it("refuses a truncated, corrupt or wrong-valued file before writing anything", async () => {
    const source = await stores.create(SEED_ENTRIES);
    const path = join(dir, "to-damage.bin");
    await exportToFile(source, path);
    const good = await readFile(path);
    const target = await stores.create();

    const truncated = good.subarray(0, good.length - 7);
    const damaged = Buffer.from(good);
    // type definitions (84 bytes), value length (3), type id (2), Jobs delta and count: the first key's length byte
    damaged[84 + 3 + 2 + 1 + 1] = 0xf5;
    const badValue = encodeExportFile({
      jobs: [
        [SEED_ENTRIES[0]!.key, SEED_ENTRIES[0]!.value],
        ["dapr/jobs/app||default||x||y", Uint8Array.of(0x2a, 0x10, 0x01)], // field 5 claims 16 bytes, has 1
      ],
      counters: [],
    });
    const badRoot = encodeExportFile({ jobs: [["other/jobs/x", SEED_ENTRIES[0]!.value]], counters: [] });
    const swapped = encodeExportFile({ jobs: [], counters: [[SEED_ENTRIES[0]!.key, SEED_ENTRIES[0]!.value]] });

    for (const [bytes, message] of [
      [truncated, /corrupt export file at byte \d+: the file ends inside/],
      [damaged, /corrupt export file at byte 91: invalid unsigned integer \(length byte 0xf5\)/],
      [badValue, /export file: job dapr\/jobs\/app\|\|default\|\|x\|\|y: not a valid stored job/],
      [badRoot, /job key "other\/jobs\/x" is not under dapr\/jobs\//],
      [swapped, /counter key "dapr\/jobs\/.*" is not under dapr\/counters\//],
    ] as const) {
      let error: unknown;
      try {
        await importEntries(target, await validatedEntries(bytes));
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(HousekeeperError);
      expect((error as HousekeeperError).code).toBe("corrupt-data");
      expect((error as Error).message).toMatch(message);
      expect((await dumpStore(target)).size).toBe(0);
    }
  });

  it("put ifAbsent writes nothing when any key exists", async () => {
    const store = await stores.create(SEED_ENTRIES.slice(0, 1));
    const fresh = buildSeed({ target: { app: "new" }, name: "n" }).job;
    expect(await store.put([fresh, SEED_ENTRIES[0]!], { ifAbsent: true })).toBe(false);
    expect((await store.get([fresh.key])).size).toBe(0);
    expect(await store.put([fresh], { ifAbsent: true })).toBe(true);
    expect((await store.get([fresh.key])).size).toBe(1);
  });
});
