/**
 * Shared fixtures for the scheduler tests against the harness's real etcd: every store lives under its own random
 * root (`t-<random>/dapr/`) standing for Dapr's `dapr/`, so test files (and tests) never see each other's keys, and
 * the keys below the root are exactly Dapr's layout.
 */
import { randomBytes } from "node:crypto";
import type { SeedJob } from "../../shared/sample-data/scheduler-jobs.ts";
import { buildSeeds } from "../../shared/sample-data/scheduler-jobs.ts";
import { EtcdSchedulerStore } from "../../shared/scheduler/etcd-store.ts";
import type { StoredEntry } from "../../shared/scheduler/store.ts";
import { writeBatches } from "../../shared/scheduler/store.ts";

export function uniqueRoot(): string {
  return `t-${randomBytes(5).toString("hex")}/dapr/`;
}

export class TestStores {
  private readonly opened: EtcdSchedulerStore[] = [];

  constructor(private readonly endpoint: string) {}

  /** A store under a fresh root, seeded with `entries`. */
  async create(entries: readonly StoredEntry[] = []): Promise<EtcdSchedulerStore> {
    const store = new EtcdSchedulerStore({ endpoints: [this.endpoint], root: uniqueRoot() });
    this.opened.push(store);
    for (const batch of writeBatches(entries)) await store.put(batch);
    return store;
  }

  /** Removes every key of every store created here, and closes them. */
  async cleanUp(): Promise<void> {
    for (const store of this.opened) {
      await store.deletePrefixes(["dapr/"]).catch(() => undefined);
      await store.close();
    }
  }
}

/** Every key and value under a store's root, as hex, for byte comparisons. */
export async function dumpStore(store: EtcdSchedulerStore): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const snapshot = await store.snapshot();
  for await (const page of snapshot.scan("dapr/")) {
    for (const e of page) out.set(e.key, Buffer.from(e.value).toString("hex"));
  }
  return out;
}

const T = (iso: string) => new Date(iso);

/**
 * Two namespaces of realistic jobs. Names chosen to catch prefix mistakes: `inst-1` vs `inst-10`, `my-app` vs
 * `my-app2`, the same IDs in `default` and `prod`.
 */
export const SEEDS: SeedJob[] = [
  {
    target: { workflow: { appId: "my-app", instanceId: "inst-1" } },
    name: "new-event-aaa",
    begin: T("2026-01-01T11:00:00Z"),
    dueTime: "0s",
    counter: { count: 1, lastTrigger: T("2026-01-01T11:30:00Z") },
  },
  {
    target: { workflow: { appId: "my-app", instanceId: "inst-1" } },
    name: "timer-0",
    begin: T("2026-01-01T13:30:00Z"),
  },
  {
    target: { activity: { appId: "my-app", activityId: "inst-1::0::1" } },
    begin: T("2026-01-01T11:59:50Z"),
    counter: { count: 3, lastTrigger: T("2026-01-01T11:59:57Z"), attempts: 2 },
  },
  {
    target: { workflow: { appId: "my-app", instanceId: "inst-10" } },
    name: "new-event-b",
    begin: T("2026-01-01T10:00:00Z"),
  },
  { target: { activity: { appId: "my-app", activityId: "inst-10::2::1" } }, begin: T("2026-01-01T10:00:00Z") },
  {
    target: { workflow: { appId: "my-app2", instanceId: "inst-1" } },
    name: "new-event-c",
    begin: T("2026-01-01T09:00:00Z"),
  },
  { target: { activity: { appId: "my-app2", activityId: "inst-1::0::1" } }, begin: T("2026-01-01T09:00:00Z") },
  {
    target: { actor: { type: "Cart", id: "c1" } },
    name: "flush",
    begin: T("2026-01-01T00:00:00Z"),
    beginKind: "start",
    schedule: "@every 1m",
    ttl: "24h",
    repeats: 10,
    expiration: T("2026-01-02T00:00:00Z"),
    counter: { count: 7, lastTrigger: T("2026-01-01T11:59:00Z") },
  },
  { target: { actor: { type: "Cart", id: "c2" } }, name: "flush", begin: T("2026-01-01T00:00:00Z") },
  { target: { app: "my-app" }, name: "nightly", begin: T("2026-01-02T03:00:00Z"), schedule: "0 0 3 * * *" },
  { target: { app: "billing" }, name: "report", begin: T("2026-01-01T08:00:00Z") },
  {
    target: { workflow: { appId: "my-app", instanceId: "inst-1" } },
    namespace: "prod",
    name: "new-event-p",
    begin: T("2026-01-01T11:00:00Z"),
    counter: { count: 2 },
  },
  { target: { app: "my-app" }, namespace: "prod", name: "nightly", begin: T("2026-01-02T03:00:00Z") },
];

export const SEED_ENTRIES = buildSeeds(SEEDS);

export const DEFAULT_NAMES = {
  workflow: [
    "workflow/my-app/inst-1/new-event-aaa",
    "workflow/my-app/inst-1/timer-0",
    "workflow/my-app/inst-10/new-event-b",
    "workflow/my-app2/inst-1/new-event-c",
  ],
  activity: ["activity/my-app/inst-1::0::1", "activity/my-app/inst-10::2::1", "activity/my-app2/inst-1::0::1"],
  actor: ["actor/Cart/c1/flush", "actor/Cart/c2/flush"],
  app: ["app/billing/report", "app/my-app/nightly"],
};
