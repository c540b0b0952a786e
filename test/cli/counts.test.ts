/**
 * Thousands separators in counts people read (text summaries, the orphans table's COUNT), through the real CLI on a
 * Dapr SQLite state store with 1,200 instances; JSON keeps plain numbers.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeInstances } from "../../shared/sample-data/writer.ts";
import { openSqliteBackend } from "../../shared/state-store/sqlite.ts";
import { count } from "../../shared/util/count.ts";
import { runHousekeeper } from "../support/cli.ts";
import { createSqliteStateFile } from "../support/stores.ts";

const DAY = 86_400_000;
const N = 1200;

describe("count", () => {
  it("groups thousands the same on every machine", () => {
    expect([0, 999, 1000, 1_234_567].map(count)).toEqual(["0", "999", "1,000", "1,234,567"]);
  });
});

describe("the CLI's counts", () => {
  let file: string;
  beforeAll(async () => {
    file = createSqliteStateFile();
    const backend = await openSqliteBackend({ path: file });
    try {
      const old = new Date(Date.now() - 40 * DAY);
      await writeInstances(
        backend,
        { appId: "bulk", namespace: "default" },
        Array.from({ length: N }, (_, i) => ({ instanceId: `i-${i}`, scenario: "completed" as const, createdAt: old })),
      );
    } finally {
      await backend.close();
    }
  }, 120_000);
  afterAll(() => undefined);

  it("workflow purge --dry-run: the summary with separators", async () => {
    const run = await runHousekeeper(["workflow", "purge", "-a", "bulk", "-c", file, "--all", "--dry-run"]);
    expect(run.code).toBe(0);
    expect(run.stdout.trimEnd().split("\n").at(-1)).toBe(
      "\u2139\ufe0f  1,200 workflow instance(s) would be purged (scanned 1,200)",
    );
  });

  it("report stuck: the text line with separators, JSON with plain numbers", async () => {
    const text = await runHousekeeper(["report", "stuck", "-a", "bulk", "-c", file]);
    expect(text.stderr).toContain('No stuck workflow found in namespace "default" for app ID "bulk" (1,200 scanned)\n');
    const json = await runHousekeeper([
      "report",
      "stuck",
      "-a",
      "bulk",
      "-c",
      file,
      "-o",
      "json",
      "--retention",
      "COMPLETED=30d",
    ]);
    expect(json.code).toBe(0);
    expect(json.stderr).toMatch(/^1,200 of 1,200 instances look stuck in app bulk/m);
    const records = JSON.parse(json.stdout) as unknown[];
    expect(records).toHaveLength(N);
  });
});
