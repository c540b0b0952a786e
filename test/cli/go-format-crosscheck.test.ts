/**
 * Cross-checks Go-formatted values against Go itself: builds scripts/go-format-reference (standard library only,
 * GO111MODULE=off, private GOCACHE/GOPATH, offline) and compares its output with ours. Needs Go; without it the
 * tests fail with a clear message, unless HOUSEKEEPER_SKIP_GO=1.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { humanizeDuration } from "../../cli/output/go-format.ts";
import { offlineGoEnv } from "../support/go.ts";

const SKIP = process.env.HOUSEKEEPER_SKIP_GO === "1";
const SOURCE = new URL("../../scripts/go-format-reference/main.go", import.meta.url).pathname;

let dir = "";
let binary = "";
let env: NodeJS.ProcessEnv = {};

function run(file: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { env, cwd: dir || undefined, maxBuffer: 1 << 26, timeout: 180_000 },
      (error, stdout, stderr) =>
        error ? reject(new Error(`${file} ${args.join(" ")}: ${error.message}\n${stderr}`)) : resolve(stdout),
    );
    child.stdin?.end(input ?? "");
  });
}

beforeAll(async () => {
  if (SKIP) return;
  dir = await mkdtemp(join(tmpdir(), "housekeeper-gofmt-"));
  env = offlineGoEnv(dir);
  try {
    await run("go", ["version"]);
  } catch {
    throw new Error(
      "Go is not installed (needed to build scripts/go-format-reference): apt-get install golang-go, " +
        "or set HOUSEKEEPER_SKIP_GO=1 to skip this test",
    );
  }
  binary = join(dir, "go-format-reference");
  await run("go", ["build", "-o", binary, SOURCE]);
}, 200_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Durations around every rounding tie of each unit, plus a spread of others, some past 2^53 ns. */
function durations(): bigint[] {
  const values: bigint[] = [0n, 999n, 1_250n, 1_350n, 1_250_000n, 2_250_000n, -90_000_000_000n];
  const S = 1_000_000_000n;
  for (let s = 0n; s < 60n; s++) {
    for (let c = 0n; c < 100n; c++) values.push(s * S + c * 10_000_000n + 5_000_000n); // x.xx5 s
  }
  for (let m = 1n; m < 60n; m++) {
    for (let k = 1n; k < 20n; k += 2n) values.push(m * 60n * S + k * 3n * S); // x.x5 min
  }
  for (let h = 1n; h < 24n * 400n; h += 7n) {
    for (let k = 1n; k < 20n; k += 2n) values.push(h * 3600n * S + k * 180n * S); // x.x5 h
  }
  let seed = 12345n;
  for (let i = 0; i < 5000; i++) {
    seed = (seed * 6364136223846793005n + 1442695040888963407n) % 2n ** 63n;
    values.push(seed % (1n << BigInt(10 + (i % 50))));
  }
  return values;
}

describe.skipIf(SKIP)("humanizeDuration against Go (dapr/cli utils.HumanizeDuration)", () => {
  it("formats every value as Go's fmt and time.Duration.Seconds/Minutes/Hours do", async () => {
    const values = durations();
    const go = (await run(binary, ["humanize"], `${values.join("\n")}\n`)).split("\n").slice(0, -1);
    expect(go).toHaveLength(values.length);
    const differing = values
      .map((ns, i) => [String(ns), humanizeDuration(ns), go[i]] as const)
      .filter(([, ours, theirs]) => ours !== theirs);
    expect(differing.slice(0, 10)).toEqual([]);
  });
});
