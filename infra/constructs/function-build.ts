/**
 * How each Lambda function's code is built: esbuild, ESM, code splitting (see esbuildBuildOptions), plus etcd3's
 * .proto files. Kept apart from the CDK construct so that bench/bundle-size.ts, the tests and the synth-time child
 * process (`node --import tsx infra/constructs/function-build.ts <name> <outdir>`) build exactly the same thing
 * without loading aws-cdk-lib.
 */
import { copyFileSync, mkdirSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build, type Metafile, type Plugin } from "esbuild";

export const PROJECT_ROOT = fileURLToPath(new URL("../..", import.meta.url));

export const FUNCTION_NAMES = ["purge", "stuck-report", "reminder-backup", "reminder-restore", "webhook"] as const;
export type FunctionName = (typeof FUNCTION_NAMES)[number];

/** `functions/<name>/handler.ts`, absolute. */
export function functionEntry(name: FunctionName): string {
  return join(PROJECT_ROOT, "functions", name, "handler.ts");
}

export const ESBUILD_TARGET = "node22";

/**
 * The bundle sits in `lib/` of the asset, next to a `proto/` folder: `etcd3` reads `${__dirname}/../proto/rpc.proto`
 * when it loads, so the bundle's `__dirname` must have a sibling `proto/` holding etcd3's .proto files.
 */
export const BUNDLE_DIR = "lib";

/**
 * Prepended to the ESM bundle: CommonJS dependencies call `require` (of Node built-ins) and read `__dirname` /
 * `__filename`, none of which exist in an ES module.
 */
export const ESM_BANNER = [
  'import { createRequire as __hkCreateRequire } from "node:module";',
  'import { dirname as __hkDirname } from "node:path";',
  'import { fileURLToPath as __hkFileURLToPath } from "node:url";',
  "const require = __hkCreateRequire(import.meta.url);",
  "const __filename = __hkFileURLToPath(import.meta.url);",
  "const __dirname = __hkDirname(__filename);",
].join(" ");

/**
 * Nothing is left to the runtime, not even the AWS SDK v3 it ships: which `@aws-sdk/*` packages a Lambda runtime
 * carries, and in which version, is not documented (and `@aws-sdk/lib-storage`, `@aws-sdk/client-dynamodb` may not be
 * there), so the asset carries exactly the versions the tests ran. With code splitting a client the configuration
 * does not use is never loaded, so carrying it costs only asset bytes (bench/bundle-size.ts).
 */
export const EXTERNAL_MODULES: string[] = [];

/** Where `etcd3` keeps the .proto files it loads at runtime. */
export function etcdProtoDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve("etcd3")), "..", "proto");
}

/**
 * The esbuild options of every function: ESM with code splitting, into `<outdir>/lib/`. `lib/index.mjs` is the
 * handler's module; every dynamic import (the state-store drivers in shared/state-store/open.ts, the S3, SNS,
 * DynamoDB and Secrets Manager clients, etcd) is a chunk beside it that is loaded only when a run needs it, so a
 * function's cold start evaluates only what its configuration uses.
 */
export function esbuildBuildOptions(entry: string, outdir: string) {
  return {
    absWorkingDir: PROJECT_ROOT,
    entryPoints: { index: entry },
    outdir: join(outdir, BUNDLE_DIR),
    outExtension: { ".js": ".mjs" },
    chunkNames: "[name]-[hash]",
    bundle: true,
    splitting: true,
    platform: "node" as const,
    target: ESBUILD_TARGET,
    format: "esm" as const,
    mainFields: ["module", "main"],
    banner: { js: ESM_BANNER },
    minify: true,
    sourcemap: true as const,
    // Stack traces need file names and lines, not the sources: a quarter of the map's size.
    sourcesContent: false,
    external: EXTERNAL_MODULES,
    logLevel: "warning" as const,
    metafile: true as const,
  };
}

/** Builds one function's deployment directory: `lib/` (the modules and their maps) and `proto/` (etcd3's files). */
export async function buildFunctionAsset(name: FunctionName, outdir: string): Promise<Metafile> {
  const result = await build({ ...esbuildBuildOptions(functionEntry(name), outdir), plugins: [zodWithoutLocales] });
  const proto = join(outdir, "proto");
  mkdirSync(proto, { recursive: true });
  for (const file of readdirSync(etcdProtoDir())) {
    if (file.endsWith(".proto")) copyFileSync(join(etcdProtoDir(), file), join(proto, file));
  }
  return result.metafile;
}

/**
 * zod's `z` namespace re-exports `z.locales`, every translation of its error messages (~250 KB minified, a quarter of
 * a function's init); esbuild cannot drop them because `z` is used as an object. We use none of them (zod's English
 * messages come from locales/en.js, imported directly by zod's schemas.js), so the locales index becomes empty.
 */
export const zodWithoutLocales: Plugin = {
  name: "zod-without-locales",
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[\\/]node_modules[\\/]zod[\\/]v4[\\/]/.test(args.importer)
        ? { path: "zod-locales", namespace: "housekeeper-empty" }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "housekeeper-empty" }, () => ({ contents: "export {};", loader: "js" }));
  },
};

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [name, outdir] = process.argv.slice(2);
  if (!name || !outdir || !(FUNCTION_NAMES as readonly string[]).includes(name)) {
    process.stderr.write(`usage: function-build.ts <${FUNCTION_NAMES.join("|")}> <outdir>\n`);
    process.exit(2);
  }
  await buildFunctionAsset(name as FunctionName, outdir);
}
