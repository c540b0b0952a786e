/**
 * Builds the `housekeeper` CLI into dist/cli/: one ES module per entry plus shared chunks (esbuild code splitting),
 * our own TypeScript only — packages stay imports of node_modules, resolved at run time as from the sources. Every
 * command's action and every driver is a dynamic import (cli/README in README.md "How the CLI starts"), so the start
 * path (`--version`, `--help`) evaluates commander and the command tree only.
 *
 * `npm ci` runs it (the `prepare` script); `npm run build:cli` runs it by hand. bin/housekeeper.mjs runs the build
 * when dist/cli/build-info.json says every source it was built from is unchanged, else the sources through tsx.
 *
 *   node --import tsx scripts/build-cli.ts
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const CLI_DIST = join(ROOT, "dist", "cli");
export const BUILD_INFO = "build-info.json";

/** What bin/housekeeper.mjs reads to decide whether the build still matches the sources. */
export interface BuildInfo {
  /** Each source file bundled, relative to the project root, with its size and mtime at build time. */
  inputs: Array<[path: string, size: number, mtimeMs: number]>;
}

export interface CliBuild {
  dir: string;
  /** esbuild's metafile: which output imports what (test/cli/built-cli.test.ts checks the start path with it). */
  metafile: import("esbuild").Metafile;
}

/**
 * Builds into a fresh directory beside dist/cli and swaps it in, so a CLI starting meanwhile sees the old build or
 * the new one, never half of one.
 */
export async function buildCli(outDir: string = CLI_DIST): Promise<CliBuild> {
  const { build } = await import("esbuild");
  const staging = `${outDir}.${process.pid}-${randomBytes(4).toString("hex")}.tmp`;
  mkdirSync(dirname(outDir), { recursive: true });
  try {
    const result = await build({
      absWorkingDir: ROOT,
      entryPoints: { main: "cli/main.ts" },
      outdir: staging,
      bundle: true,
      splitting: true,
      format: "esm",
      platform: "node",
      target: "node20",
      // node_modules are not bundled: dist/cli resolves them from the project's node_modules like the sources do.
      packages: "external",
      // Every output file sits directly in dist/cli/, so `new URL("../../package.json", import.meta.url)` finds the
      // package.json from any chunk, as it does from shared/<dir>/ in the sources.
      chunkNames: "[name]-[hash]",
      sourcemap: "linked",
      sourcesContent: false,
      metafile: true,
      logLevel: "warning",
    });
    const inputs: BuildInfo["inputs"] = Object.keys(result.metafile.inputs)
      .filter((path) => !path.startsWith("node_modules/"))
      .sort()
      .map((path) => {
        const stat = statSync(join(ROOT, path));
        return [path, stat.size, stat.mtimeMs];
      });
    writeFileSync(join(staging, BUILD_INFO), `${JSON.stringify({ inputs } satisfies BuildInfo)}\n`);
    const old = `${outDir}.${process.pid}-${randomBytes(4).toString("hex")}.old`;
    let hadOld = true;
    try {
      renameSync(outDir, old);
    } catch {
      hadOld = false;
    }
    renameSync(staging, outDir);
    if (hadOld) rmSync(old, { recursive: true, force: true });
    return { dir: outDir, metafile: result.metafile };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    await import("esbuild");
  } catch {
    // `npm ci --omit=dev` has no esbuild: the CLI then runs from the sources through tsx (slower start, same result).
    process.stderr.write("build-cli: esbuild is not installed; skipped (the CLI runs from the sources through tsx)\n");
    process.exit(0);
  }
  const t0 = performance.now();
  const { dir } = await buildCli();
  process.stderr.write(`build-cli: ${relative(ROOT, dir)} built in ${(performance.now() - t0).toFixed(0)} ms\n`);
}
