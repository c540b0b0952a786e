/**
 * Each function's deployment asset, built exactly as the stack builds it (infra/constructs/function-build.ts: ESM,
 * code splitting, etcd3's protos): its size; the bytes of code a cold start loads (every module file Node actually
 * loads while importing the handler, recorded by a module hook in a separate run); what a first run against a
 * PostgreSQL store loads on top (the PostgreSQL driver's chunks, from esbuild's metafile); and the cold-start init
 * time — a fresh Node process imports lib/index.mjs and reports how long until the module has evaluated (the handler
 * is not invoked), several runs, median, with `--enable-source-maps` as deployed (NODE_OPTIONS) and without. The
 * same-run reference is the import of an empty ES module in the same kind of process.
 *
 * The assets go to a temp dir away from the project, as in Lambda: they carry everything they import (the AWS SDK
 * included), and nothing could be picked up from node_modules.
 *
 *   node --import tsx bench/bundle-size.ts [--runs 7] [--only purge,webhook]
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { deflateRawSync } from "node:zlib";
import type { Metafile } from "esbuild";
import { readConfigFile } from "../infra/config.ts";
import {
  BUNDLE_DIR,
  buildFunctionAsset,
  FUNCTION_NAMES,
  type FunctionName,
  functionEntry,
  PROJECT_ROOT,
} from "../infra/constructs/function-build.ts";

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

/** Records every file Node loads as a module (runs in Node's hooks thread; appends to HK_LOADED_LOG). */
const HOOKS = `
import { appendFileSync } from "node:fs";
export async function load(url, context, nextLoad) {
  if (url.startsWith("file:")) appendFileSync(process.env.HK_LOADED_LOG, url + "\\n");
  return nextLoad(url, context);
}`;
const HOOKS_FILE = join(OUT_ROOT, "record-loads.mjs");
writeFileSync(HOOKS_FILE, HOOKS);

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

function childEnv(name: FunctionName, sourceMaps: boolean): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    NODE_OPTIONS: sourceMaps ? "--enable-source-maps" : "",
    AWS_REGION: "eu-west-1",
    AWS_LAMBDA_FUNCTION_NAME: `bench-${name}`,
    POWERTOOLS_METRICS_NAMESPACE: "DaprHousekeeper",
    POWERTOOLS_LOG_LEVEL: "INFO",
    ...ENV[name],
  };
}

/** Import time of a module in a fresh process, in ms. */
function initTime(module: string, name: FunctionName, sourceMaps: boolean): number {
  const script = `const t = performance.now(); await import(${JSON.stringify(pathToFileURL(module).href)}); process.stdout.write(String(performance.now() - t));`;
  const result = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
    env: childEnv(name, sourceMaps),
    encoding: "utf8",
  });
  if (result.status !== 0) throw new Error(`${name}: loading ${module} failed:\n${result.stderr}`);
  return Number(result.stdout);
}

/** The module files a fresh process loads while importing the bundle, and their total size. */
function loadedAtInit(bundle: string, name: FunctionName): { files: string[]; bytes: number } {
  const log = join(OUT_ROOT, `${name}.loaded`);
  writeFileSync(log, "");
  const script = `import { register } from "node:module"; register(${JSON.stringify(pathToFileURL(HOOKS_FILE).href)}); await import(${JSON.stringify(pathToFileURL(bundle).href)});`;
  const result = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
    env: { ...childEnv(name, false), HK_LOADED_LOG: log },
    encoding: "utf8",
  });
  if (result.status !== 0) throw new Error(`${name}: loading the bundle failed:\n${result.stderr}`);
  const files = [...new Set(readFileSync(log, "utf8").split("\n").filter(Boolean))].map((u) => new URL(u).pathname);
  return { files, bytes: files.reduce((n, f) => n + statSync(f).size, 0) };
}

/** Output files reachable by static imports from `start` (esbuild metafile paths). */
function staticClosure(metafile: Metafile, start: string): Set<string> {
  const seen = new Set<string>();
  const stack = [start];
  while (stack.length > 0) {
    const file = stack.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const i of metafile.outputs[file]!.imports)
      if (i.kind === "import-statement" && !i.external) stack.push(i.path);
  }
  return seen;
}

/** Bytes a first run on PostgreSQL loads beyond init: the chunks of the driver's dynamic import. */
function postgresExtra(metafile: Metafile, entryOutput: string): number | undefined {
  const init = staticClosure(metafile, entryOutput);
  const driver = Object.keys(metafile.outputs).find(
    (f) => metafile.outputs[f]!.entryPoint === "shared/state-store/postgresql.ts",
  );
  if (driver === undefined) return undefined;
  let bytes = 0;
  for (const f of staticClosure(metafile, driver)) if (!init.has(f)) bytes += metafile.outputs[f]!.bytes;
  return bytes;
}

const kb = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
const rows: string[][] = [];
const [load1] = loadavg();
console.log(
  `node ${process.version} (Lambda runs Node.js 22), ${RUNS} runs per figure, median; load average ${load1!.toFixed(2)}\n`,
);

const empty = join(OUT_ROOT, "empty.mjs");
writeFileSync(empty, "export {};\n");
const emptyMs: number[] = [];
for (let i = 0; i < RUNS; i++) emptyMs.push(initTime(empty, "purge", false));

for (const name of ONLY) {
  const entry = functionEntry(name);
  if (!existsSync(entry)) {
    console.log(`${name}: no entry yet (${entry}), skipped`);
    continue;
  }
  const outdir = join(OUT_ROOT, name);
  rmSync(outdir, { recursive: true, force: true });
  const t0 = performance.now();
  const metafile = await buildFunctionAsset(name, outdir);
  const bundleMs = performance.now() - t0;
  const bundle = join(outdir, BUNDLE_DIR, "index.mjs");
  const entryOutput = Object.keys(metafile.outputs).find(
    (f) => metafile.outputs[f]!.entryPoint === relative(PROJECT_ROOT, entry),
  )!;
  const files = filesUnder(outdir);
  const total = files.reduce((n, f) => n + statSync(f).size, 0);
  const zipped = files.reduce((n, f) => n + deflateRawSync(readFileSync(f), { level: 9 }).length, 0);
  const loaded = loadedAtInit(bundle, name);
  const outside = loaded.files.filter((f) => !f.startsWith(outdir));
  if (outside.length > 0) throw new Error(`${name}: loaded files from outside its asset: ${outside.join(", ")}`);
  const pg = postgresExtra(metafile, entryOutput);
  const withMaps: number[] = [];
  const withoutMaps: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    withMaps.push(initTime(bundle, name, true));
    withoutMaps.push(initTime(bundle, name, false));
  }
  rows.push([
    name,
    kb(total),
    kb(zipped),
    `${kb(loaded.bytes)} (${loaded.files.length} files)`,
    pg === undefined ? "-" : `+${kb(pg)}`,
    `${median(withMaps).toFixed(0)} ms`,
    `${median(withoutMaps).toFixed(0)} ms`,
    `${bundleMs.toFixed(0)} ms`,
  ]);
}

const header = ["function", "asset", "zipped", "loaded at init", "+ PostgreSQL run", "init (maps)", "init", "esbuild"];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) =>
  cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
console.log(line(header));
for (const r of rows) console.log(line(r));
console.log(
  `\nreference: importing an empty ES module in the same kind of process takes ${median(emptyMs).toFixed(0)} ms (init times include it).`,
);
console.log(
  "asset: the deployed directory (lib/: index.mjs, its chunks and maps; proto/: etcd3's files); zipped: deflate of each file, ≈ the asset's zip.",
);
console.log(
  "loaded at init: the module files a cold start reads (lib/index.mjs and the chunks it imports statically); the rest of lib/ loads only when a run needs it.",
);
console.log(`load average after: ${loadavg()[0]!.toFixed(2)}`);
