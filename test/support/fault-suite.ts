/**
 * The fault-injection suite's shared parts (test/reliability/faults-*.test.ts): an app seeded with due and running
 * instances and their reminders, a checker that reads the store and etcd directly, and waits for "mid-run".
 *
 * The checker's rules, after any fault:
 *   - every instance is either exactly as seeded (every key, byte for byte) or entirely gone: nothing half-deleted;
 *   - no instance that is not due (running, or finished too recently) has lost anything;
 *   - the reminders of instances that are not due are untouched.
 * After a re-run: every due instance is gone, and (after `scheduler orphans --delete` where reminders were left) so
 * are their reminders.
 */
import { expect } from "vitest";
import { buildSeeds, type SeedJob } from "../../shared/sample-data/scheduler-jobs.ts";
import { writeInstances } from "../../shared/sample-data/writer.ts";
import type { SchedulerStore } from "../../shared/scheduler/store.ts";
import type { StateBackend } from "../../shared/state-store/backend.ts";
import { type AppRef, parseWorkflowKey, workflowKeyPrefix } from "../../shared/state-store/keys.ts";
import type { CliRun } from "./cli.ts";
import { runHousekeeper } from "./cli.ts";
import type { ProcessControl } from "./servers.ts";
import { dumpStore } from "./stores.ts";

const DAY = 86_400_000;

export interface SeededApp {
  app: AppRef;
  /** Finished 60 days ago: what `--all-older-than 720h` purges. */
  due: string[];
  /** Running, or finished an hour ago: never to be touched. */
  kept: string[];
  /** Every instance's keys and values (hex) as seeded. */
  before: Map<string, Map<string, string>>;
  /** The reminder keys of kept instances, and of due ones. */
  keptReminders: string[];
  dueReminders: string[];
}

/** Writes `due` old finished instances and `kept` running / recently finished ones, plus a reminder for every 10th. */
export async function seedApp(
  backend: StateBackend,
  app: AppRef,
  counts: { due: number; kept: number },
  scheduler?: SchedulerStore,
): Promise<SeededApp> {
  const old = new Date(Date.now() - 60 * DAY);
  const recent = new Date(Date.now() - 3_600_000);
  const due = Array.from({ length: counts.due }, (_, i) => `due-${String(i).padStart(5, "0")}`);
  const kept = Array.from({ length: counts.kept }, (_, i) => `kept-${String(i).padStart(5, "0")}`);
  await writeInstances(
    backend,
    app,
    [
      ...due.map((instanceId, i) => ({
        instanceId,
        scenario: i % 3 === 0 ? ("failed" as const) : ("completed" as const),
        createdAt: old,
      })),
      ...kept.map((instanceId, i) => ({
        instanceId,
        scenario: i % 2 === 0 ? ("running-timer" as const) : ("completed" as const),
        createdAt: i % 2 === 0 ? old : recent,
      })),
    ],
    { batchSize: 250 },
  );
  const reminder = (instanceId: string): SeedJob => ({
    target: { workflow: { appId: app.appId, instanceId } },
    name: "timer-0",
    namespace: app.namespace,
  });
  const keptSeeds = buildSeeds(kept.filter((_, i) => i % 10 === 0).map(reminder));
  const dueSeeds = buildSeeds(due.filter((_, i) => i % 10 === 0).map(reminder));
  const seeds = [...keptSeeds, ...dueSeeds];
  // etcd takes at most 128 operations a transaction.
  for (let i = 0; scheduler && i < seeds.length; i += 100) await scheduler.put(seeds.slice(i, i + 100));
  return {
    app,
    due,
    kept,
    before: await instancesOf(backend, app),
    keptReminders: scheduler ? keptSeeds.map((e) => e.key).sort() : [],
    dueReminders: scheduler ? dueSeeds.map((e) => e.key).sort() : [],
  };
}

/** Every key of the app, read directly from the store, grouped by instance. */
export async function instancesOf(backend: StateBackend, app: AppRef): Promise<Map<string, Map<string, string>>> {
  const byInstance = new Map<string, Map<string, string>>();
  for (const [key, value] of await dumpStore(backend, workflowKeyPrefix(app))) {
    const parsed = parseWorkflowKey(app, key);
    if (!parsed) continue;
    let keys = byInstance.get(parsed.instanceId);
    if (!keys) {
      keys = new Map();
      byInstance.set(parsed.instanceId, keys);
    }
    keys.set(key, value);
  }
  return byInstance;
}

/** Which reminder keys (jobs and counters) exist, of those given. */
export async function existingReminders(scheduler: SchedulerStore, keys: readonly string[]): Promise<string[]> {
  const wanted = new Set(keys);
  const found: string[] = [];
  for await (const page of (await scheduler.snapshot()).scan("dapr/"))
    for (const e of page) if (wanted.has(e.key)) found.push(e.key);
  return found.sort();
}

/**
 * The checker: every instance whole or gone, nothing not due touched. Returns how many due instances are gone.
 * `reminders` also checks that the kept instances' reminders are all there.
 */
export async function checkWholeOrGone(
  backend: StateBackend,
  seeded: SeededApp,
  scheduler?: SchedulerStore,
): Promise<{ gone: number; left: number }> {
  const now = await instancesOf(backend, seeded.app);
  const halfDeleted: string[] = [];
  for (const [id, keys] of now) {
    const before = seeded.before.get(id);
    if (!before || before.size !== keys.size || [...before].some(([k, v]) => keys.get(k) !== v)) halfDeleted.push(id);
  }
  expect(halfDeleted, "instances neither whole nor gone").toEqual([]);
  expect(
    seeded.kept.filter((id) => !now.has(id)),
    "instances deleted that were not due",
  ).toEqual([]);
  if (scheduler) expect(await existingReminders(scheduler, seeded.keptReminders)).toEqual(seeded.keptReminders);
  const gone = seeded.due.filter((id) => !now.has(id)).length;
  return { gone, left: seeded.due.length - gone };
}

/** After the re-run: every due instance gone, every kept one whole (and its reminders). */
export async function checkConverged(
  backend: StateBackend,
  seeded: SeededApp,
  scheduler?: SchedulerStore,
): Promise<void> {
  const { left } = await checkWholeOrGone(backend, seeded, scheduler);
  expect(left, "due instances left after the re-run").toBe(0);
  if (scheduler) expect(await existingReminders(scheduler, seeded.dueReminders)).toEqual([]);
}

/** How many of the app's instances have a metadata key, counted directly in the store. */
export async function countInstances(backend: StateBackend, app: AppRef): Promise<number> {
  let count = 0;
  let cursor: string | undefined;
  do {
    const page = await backend.scanKeys({
      prefix: workflowKeyPrefix(app),
      suffix: "||metadata",
      pageSize: 5000,
      cursor,
    });
    count += page.keys.length;
    cursor = page.cursor;
  } while (cursor);
  return count;
}

/** Polls `condition` every 50 ms until it holds; fails after `timeoutMs`. */
export async function waitFor(what: string, condition: () => Promise<boolean> | boolean, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export interface TimedRun extends CliRun {
  ms: number;
}

/**
 * The real CLI, timed; `fault` runs once the child has started (it decides when "mid-run" is, and acts). A run that
 * ends before the fault happened is returned as it is (the caller's assertions then fail on its success).
 */
export async function runWithFault(args: string[], fault: () => Promise<void>): Promise<TimedRun> {
  const started = Date.now();
  const running = runHousekeeper(args);
  let finished = false;
  const done = running.then(() => {
    finished = true;
  });
  await Promise.race([
    fault().catch((error: unknown) => {
      if (!finished) throw error;
    }),
    done,
  ]);
  const run = await running;
  return { ...run, ms: Date.now() - started };
}

/** A failed run: non-zero exit, its last stderr line one `Error:` naming the failure, no stack trace. */
export function expectNamedFailure(run: CliRun, name: RegExp): void {
  expect(run.code, run.stderr).not.toBe(0);
  const lines = run.stderr.trimEnd().split("\n");
  expect(lines.at(-1), `${run.signal ? `ended by ${run.signal}; ` : ""}stderr:\n${run.stderr}`).toMatch(/^Error: /);
  expect(lines.at(-1)).toMatch(name);
  expect(run.stderr).not.toMatch(/^\s+at /m);
}

/** A run that succeeded: exit 0 and no error line. */
export function expectSuccess(run: CliRun): void {
  expect(run.code, run.stderr).toBe(0);
  expect(run.stderr).not.toMatch(/^Error: /m);
}

/** One state store under test: a server of its own (so it may be killed), reached directly or through a proxy. */
export interface StoreUnderFault {
  /** e.g. "PostgreSQL": what the CLI's error line must name. */
  name: string;
  /** Where the store is: its process control, and host/port. */
  server: { host: string; port: number; control: ProcessControl };
  /** The CLI's connection string for the store at this address. */
  connectionString(address: { host: string; port: number }): string;
  /** A backend opened directly (not through the proxy), for seeding and checking. */
  openBackend(): Promise<StateBackend>;
}
