/**
 * Each function's asset as the stack builds it (infra/constructs/function-build.ts: code splitting), copied away from
 * the project so nothing can come from node_modules, imported in a fresh Node process with a module hook recording
 * what it loads: the handler initialises, and no chunk holding a store driver or an AWS client the configuration may
 * not use is loaded at init. The purge handler is then invoked with a bad event, so zod (built without its locales)
 * is shown to work in the bundle.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { readConfigFile } from "../../infra/config.ts";
import { BUNDLE_DIR, buildFunctionAsset, type FunctionName } from "../../infra/constructs/function-build.ts";
import { packageOf, runRecordingLoads } from "../support/loaded-modules.ts";
import { EXAMPLE_CONFIG_PATH, SYNTH_TIMEOUT_MS } from "./support.ts";

/** Loaded only when a run needs them (every store driver; clients that depend on the configuration). */
const LAZY = [
  "pg",
  "mysql2",
  "mssql",
  "tedious",
  "mongodb",
  "ioredis",
  "@electric-sql/pglite",
  "@aws-sdk/client-s3",
  "@aws-sdk/client-sns",
  "@aws-sdk/client-secrets-manager",
  "@aws-sdk/client-dynamodb",
];
/** The stuck report uses etcd only when it is configured. */
const LAZY_BY_FUNCTION: Partial<Record<FunctionName, string[]>> = { "stuck-report": ["etcd3", "@grpc/grpc-js"] };

const IN_ASSET: Record<FunctionName, string[]> = {
  purge: ["pg", "mysql2", "mongodb", "ioredis", "@aws-sdk/client-s3", "@aws-sdk/client-secrets-manager"],
  "stuck-report": ["pg", "mysql2", "@aws-sdk/client-s3", "@aws-sdk/client-sns", "etcd3"],
  webhook: ["ioredis", "@aws-sdk/client-dynamodb", "@aws-sdk/client-secrets-manager"],
  "reminder-backup": [],
  "reminder-restore": [],
};

const ENV: Partial<Record<FunctionName, Record<string, string>>> = {
  webhook: {
    WEBHOOK_ROUTES: JSON.stringify(readConfigFile(EXAMPLE_CONFIG_PATH).webhook?.routes),
    DAPR_HTTP_ENDPOINT: "http://127.0.0.1:3500",
  },
};

const root = mkdtempSync(join(tmpdir(), "housekeeper-fn-bundles-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("function bundles load at init only what every run needs", () => {
  for (const name of ["purge", "stuck-report", "webhook"] as FunctionName[]) {
    it(
      name,
      async () => {
        const dir = join(root, name);
        const metafile = await buildFunctionAsset(name, dir);
        // Which output files hold which packages (metafile paths are relative to the project root).
        const projectRoot = resolve(new URL("../../", import.meta.url).pathname);
        const lazy = [...LAZY, ...(LAZY_BY_FUNCTION[name] ?? [])];
        const holding = new Map<string, Set<string>>();
        for (const [output, meta] of Object.entries(metafile.outputs)) {
          const packages = new Set(Object.keys(meta.inputs).map((i) => packageOf(i) ?? ""));
          holding.set(resolve(projectRoot, output), packages);
        }
        // The packages a run may load are in the asset (so "not loaded" below is not "not there")…
        for (const pkg of IN_ASSET[name]) {
          expect(
            [...holding.values()].some((s) => s.has(pkg)),
            `${pkg} in the ${name} asset`,
          ).toBe(true);
        }
        const bundle = pathToFileURL(join(dir, BUNDLE_DIR, "index.mjs")).href;
        const invoke =
          name === "purge"
            ? `try { await m.handler({ policy: { targets: "not a list" } }, { getRemainingTimeInMillis: () => 60000, functionName: "purge", awsRequestId: "1" }); } catch (e) { console.log(e.code + ": " + e.message); }`
            : "";
        const run = await runRecordingLoads(
          [
            "--input-type=module",
            "-e",
            `const m = await import(${JSON.stringify(bundle)}); console.log(typeof m.handler); ${invoke}`,
          ],
          {
            cwd: tmpdir(),
            env: { PATH: process.env.PATH, AWS_REGION: "eu-west-1", POWERTOOLS_LOG_LEVEL: "SILENT", ...ENV[name] },
          },
        );
        expect(run.code, run.stderr.slice(-2000)).toBe(0);
        const lines = run.stdout.trim().split("\n");
        expect(lines[0]).toBe("function");
        if (name === "purge") expect(lines.at(-1)).toMatch(/^bad-input: .*targets/);
        expect(
          run.loaded.every((f) => f.startsWith(`${dir}/`)),
          "everything from the asset",
        ).toBe(true);
        const loadedPackages = new Set(run.loaded.flatMap((f) => [...(holding.get(f) ?? [])]));
        expect(lazy.filter((p) => loadedPackages.has(p))).toEqual([]);
        expect(relative(dir, run.loaded[0]!)).toBe(join(BUNDLE_DIR, "index.mjs"));
      },
      SYNTH_TIMEOUT_MS,
    );
  }
});
