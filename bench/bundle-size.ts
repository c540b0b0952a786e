/**
 * Each function's deployment bundle, built exactly as the stack builds it (the same esbuild options and the same
 * after-bundling layout, from infra/constructs/housekeeper-function.ts): its size, and its cold-start init time —
 * a fresh Node process imports the bundle and reports how long until the module has evaluated (the handler is not
 * invoked), several runs, median. Measured with `--enable-source-maps` as deployed (NODE_OPTIONS), and without.
 *
 * The bundles go to a temp dir away from the project, as in Lambda: they carry everything they import (the AWS SDK
 * included), and nothing could be picked up from node_modules.
 *
 *   node --import tsx bench/bundle-size.ts [--runs 7] [--only purge,webhook]
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { deflateRawSync } from "node:zlib";
import { build } from "esbuild";
import { readConfigFile } from "../infra/config.ts";
import {
  afterBundlingCommands,
  BUNDLE_DIR,
  esbuildBuildOptions,
  FUNCTION_NAMES,
  type FunctionName,
  functionEntry,
  PROJECT_ROOT,
} from "../infra/constructs/housekeeper-function.ts";

const { values: args } = parseArgs({
  options: { runs: { type: "string", default: "7" }, only: { type: "string" } },
});
const RUNS = Number(args.runs);
const ONLY = args.only ? (args.only.split(",") as FunctionName[]) : [...FUNCTION_NAMES];
const OUT_ROOT = mkdtempSync(join(tmpdir(), "housekeeper-bench-bundles-"));
process.on("exit", () => rmSync(OUT_ROOT, { recursive: true, force: true }));

const example = readConfigFile(join(PROJECT_ROOT, "infra", "config.example.json"));
/** What module initialisation reads (the webhook validates its routes at init); nothing is connected to. */
const ENV: Record<FunctionName, Record<string, string>> = {
  purge: {},
  "stuck-report": {},
  "reminder-backup": {},
  "reminder-restore": {},
  webhook: {
    WEBHOOK_ROUTES: JSON.stringify(example.webhook?.routes ?? { routes: [] }),
    DAPR_HTTP_ENDPOINT: "http://127.0.0.1:3500",
  },
};

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile());
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Import time of the bundle in a fresh process, in ms. */
function initTime(bundle: string, name: FunctionName, sourceMaps: boolean): number {
  const script = `const t = performance.now(); await import(${JSON.stringify(pathToFileURL(bundle).href)}); process.stdout.write(String(performance.now() - t));`;
  const result = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
    env: {
      PATH: process.env.PATH,
      NODE_OPTIONS: sourceMaps ? "--enable-source-maps" : "",
      AWS_REGION: "eu-west-1",
      AWS_LAMBDA_FUNCTION_NAME: `bench-${name}`,
      POWERTOOLS_METRICS_NAMESPACE: "DaprHousekeeper",
      POWERTOOLS_LOG_LEVEL: "INFO",
      ...ENV[name],
    },
    encoding: "utf8",
  });
  if (result.status !== 0) throw new Error(`${name}: loading the bundle failed:\n${result.stderr}`);
  return Number(result.stdout);
}

const kb = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
const rows: string[][] = [];
console.log(`node ${process.version} (Lambda runs Node.js 22), ${RUNS} runs per figure, median\n`);

for (const name of ONLY) {
  const entry = functionEntry(name);
  if (!existsSync(entry)) {
    console.log(`${name}: no entry yet (${entry}), skipped`);
    continue;
  }
  const outdir = join(OUT_ROOT, name);
  rmSync(outdir, { recursive: true, force: true });
  const t0 = performance.now();
  await build(esbuildBuildOptions(entry, outdir));
  const bundleMs = performance.now() - t0;
  for (const command of afterBundlingCommands(outdir)) {
    const r = spawnSync("bash", ["-c", command], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${command}: ${r.stderr}`);
  }
  const bundle = join(outdir, BUNDLE_DIR, "index.mjs");
  const files = filesUnder(outdir);
  const total = files.reduce((n, f) => n + statSync(f).size, 0);
  const zipped = files.reduce((n, f) => n + deflateRawSync(readFileSync(f), { level: 9 }).length, 0);
  const withMaps: number[] = [];
  const withoutMaps: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    withMaps.push(initTime(bundle, name, true));
    withoutMaps.push(initTime(bundle, name, false));
  }
  rows.push([
    name,
    kb(statSync(bundle).size),
    kb(statSync(`${bundle}.map`).size),
    kb(total),
    kb(zipped),
    `${median(withMaps).toFixed(0)} ms`,
    `${median(withoutMaps).toFixed(0)} ms`,
    `${bundleMs.toFixed(0)} ms`,
  ]);
}

const header = ["function", "index.mjs", "source map", "asset", "zipped", "init (maps)", "init (no maps)", "esbuild"];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) =>
  cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
console.log(line(header));
for (const r of rows) console.log(line(r));
console.log(
  "\nasset: the deployed directory (lib/index.mjs, its map, etcd3's protos); zipped: deflate of each file, ≈ the asset's zip.",
);
console.log(
  "init: `await import(bundle)` in a fresh node process; the bundle carries everything, the AWS SDK included.",
);
