/**
 * #12 item 8: in a sidecar-mode purge, a request the sidecar never answers holds up only itself. 1% of the instances
 * hang (the stand-in never answers their purge); the real CLI must finish near the time of a run without hangs, with
 * exactly those instances reported as failed (timed out, named) and a non-zero exit, the rest purged (the window kept
 * moving past them), the hung ones whole (checked in the store directly); a re-run once they answer converges.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StateBackend } from "../../shared/state-store/backend.ts";
import { openPostgresBackend } from "../../shared/state-store/postgresql.ts";
import { runHousekeeper } from "../support/cli.ts";
import {
  checkConverged,
  checkWholeOrGone,
  expectNamedFailure,
  expectSuccess,
  seedApp,
} from "../support/fault-suite.ts";
import { type SidecarStandin, startSidecarStandin } from "../support/sidecar-standin.ts";
import { createPostgresStateDatabase } from "../support/stores.ts";

const APP = { appId: "hang-app", namespace: "default" };
const COUNTS = { due: 1000, kept: 50 };
const REQUEST_TIMEOUT_MS = 2_000;

let url: string;
let backend: StateBackend;
let standin: SidecarStandin;

beforeAll(async () => {
  url = await createPostgresStateDatabase("sidecar_hang");
  backend = await openPostgresBackend({ connectionString: url, tableName: "state" });
  standin = await startSidecarStandin({ backend, appId: APP.appId });
});
afterAll(async () => {
  await standin?.close();
  await backend?.close();
});

async function purge() {
  const started = Date.now();
  const run = await runHousekeeper([
    "workflow",
    "purge",
    "-a",
    APP.appId,
    "-c",
    url,
    "--all-older-than",
    "720h",
    "--sidecar-url",
    standin.url,
    "--request-timeout",
    `${REQUEST_TIMEOUT_MS}ms`,
  ]);
  return { ...run, ms: Date.now() - started };
}

describe("sidecar-mode purge with hung requests", () => {
  it("finishes near the normal time, names the hung instances as timed out, and a re-run converges", async () => {
    const normal = await (async () => {
      await seedApp(backend, APP, { due: COUNTS.due, kept: 0 });
      const run = await purge();
      expectSuccess(run);
      return run.ms;
    })();

    const seeded = await seedApp(backend, APP, COUNTS);
    const hung = seeded.due.filter((_, i) => i % 100 === 37); // 1%, spread over every page
    for (const id of hung) standin.hangInstances.add(id);
    const run = await purge();

    expectNamedFailure(run, new RegExp(`${hung.length} instance\\(s\\) could not be purged`));
    const failed = [...run.stderr.matchAll(/^failed to purge "([^"]+)": (.*)$/gm)];
    expect(failed.map((m) => m[1]).sort()).toEqual(hung);
    for (const m of failed) expect(m[2]).toMatch(/Headers Timeout Error|timed? ?out/i);
    expect(run.stdout).toMatch(new RegExp(`Purged ${COUNTS.due - hung.length} workflow instance\\(s\\)`));
    // A hung request costs its own timeout, not its page's: bounded by the normal run plus a few timeouts (one page
    // waiting for each hang in turn would add 10 x 2 s; before the fix it was hours at the default 15 s).
    expect(run.ms).toBeLessThan(normal + 4 * REQUEST_TIMEOUT_MS + 5_000);
    const { left } = await checkWholeOrGone(backend, seeded);
    expect(left).toBe(hung.length);

    standin.hangInstances.clear();
    const again = await purge();
    expectSuccess(again);
    await checkConverged(backend, seeded);
  }, 180_000);
});
