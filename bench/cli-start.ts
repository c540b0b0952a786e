/**
 * CLI start-up against its raw limit: `housekeeper --version`, `--help` and `workflow list --help` through
 * bin/housekeeper.mjs (the build in dist/cli, as `npm ci` leaves it) against `node -e 0` — starting Node itself — in
 * the same run, interleaved, each a fresh process; median of N. Also the same three from the TypeScript sources
 * through tsx (what bin/housekeeper.mjs falls back to without a build), fewer runs.
 *
 *   npm run build:cli && node --import tsx bench/cli-start.ts [--runs 21]
 */
import { spawnSync } from "node:child_process";
import { loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { buildCli } from "../scripts/build-cli.ts";

const { values: args } = parseArgs({ options: { runs: { type: "string", default: "21" } } });
const RUNS = Number(args.runs);
const ROOT = new URL("..", import.meta.url).pathname;
const BIN = join(ROOT, "bin", "housekeeper.mjs");

function timeOnce(argv: string[], env: NodeJS.ProcessEnv = process.env): number {
  const t0 = process.hrtime.bigint();
  const result = spawnSync(process.execPath, argv, { cwd: ROOT, env, encoding: "utf8" });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (result.status !== 0) throw new Error(`${argv.join(" ")} failed: ${result.stderr}`);
  if (result.stderr.includes("running the sources through tsx") && argv[0] === BIN) {
    throw new Error("dist/cli is missing or stale: run npm run build:cli first");
  }
  return ms;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

await buildCli(); // what `npm ci` (prepare) leaves
const cases: Array<[string, string[]]> = [
  ["housekeeper --version", [BIN, "--version"]],
  ["housekeeper --help", [BIN, "--help"]],
  ["housekeeper workflow list --help", [BIN, "workflow", "list", "--help"]],
];
console.log(`node ${process.version}, ${RUNS} runs per figure, median; load average ${loadavg()[0]!.toFixed(2)}\n`);
const raw: number[] = [];
const built = cases.map(() => [] as number[]);
for (let i = 0; i < RUNS; i++) {
  raw.push(timeOnce(["-e", "0"]));
  for (const [c, [, argv]] of cases.entries()) built[c]!.push(timeOnce(argv));
}
// From the sources, as without a build (tsx compiles at every start).
const sourceRuns = Math.max(3, Math.floor(RUNS / 4));
const viaTsx = cases.map(([, argv]) => {
  const times: number[] = [];
  for (let i = 0; i < sourceRuns; i++) {
    times.push(timeOnce(["--import", "tsx", join(ROOT, "cli", "main.ts"), ...argv.slice(1)]));
  }
  return median(times);
});
const rawMs = median(raw);
console.log(`node -e 0 (the raw limit): ${rawMs.toFixed(0)} ms`);
cases.forEach(([label], c) => {
  const ms = median(built[c]!);
  console.log(
    `${label.padEnd(34)} ${ms.toFixed(0).padStart(5)} ms  ${(ms / rawMs).toFixed(2)}x node -e 0   (from the sources via tsx: ${viaTsx[c]!.toFixed(0)} ms, ${(viaTsx[c]! / rawMs).toFixed(1)}x)`,
  );
});
console.log(`load average after: ${loadavg()[0]!.toFixed(2)}`);
