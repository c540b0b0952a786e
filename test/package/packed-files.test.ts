/**
 * What `npm pack` puts in the package: package.json `files` picks the built CLI and API out of dist/ (which .gitignore
 * would otherwise drop) and leaves the sources, tests and benchmarks out. Built as `npm pack` builds (prepack: npm run
 * build; prepare: npm run build:cli), packed for real, unpacked, and the packed `housekeeper` run with plain Node.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = new URL("../../", import.meta.url).pathname;
const PKG = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  bin: Record<string, string>;
  exports: Record<string, string | Record<string, string>>;
};

function run(command: string, args: string[], cwd = ROOT): string {
  const result = spawnSync(command, args, {
    cwd,
    encoding: "utf8",
    env: { ...process.env, npm_config_loglevel: "error" },
  });
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed: ${result.stderr}${result.stdout}`);
  return result.stdout;
}

let dir: string;
let files: string[];

beforeAll(() => {
  run("npm", ["run", "build"]);
  run("npm", ["run", "build:cli"]);
  dir = mkdtempSync(join(tmpdir(), "housekeeper-pack-"));
  const packed = JSON.parse(run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", dir])) as Array<{
    filename: string;
    files: Array<{ path: string }>;
  }>;
  files = packed[0]!.files.map((f) => f.path);
  run("tar", ["-xzf", join(dir, packed[0]!.filename), "-C", dir]);
  // The package's dependencies, as an install would provide them.
  symlinkSync(join(ROOT, "node_modules"), join(dir, "package", "node_modules"), "dir");
}, 600_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("npm pack", () => {
  it("holds every bin and exports target, and what the bin runs", () => {
    const targets = [
      ...Object.values(PKG.bin),
      ...Object.values(PKG.exports).flatMap((t) => (typeof t === "string" ? [t] : Object.values(t))),
      "dist/cli/main.js",
      "dist/cli/build-info.json",
    ].map((t) => t.replace(/^\.\//, ""));
    expect(targets.filter((t) => !files.includes(t))).toEqual([]);
  });

  it("leaves out the sources, tests, benchmarks, infrastructure and tooling", () => {
    const stray = files.filter((f) =>
      /^(shared|cli|functions|infra|test|bench|scripts|\.ci)\/|^(tsconfig.*|vitest\.config\.ts|biome\.json|cdk\.json)$/.test(
        f,
      ),
    );
    expect(stray).toEqual([]);
  });

  it("the packed housekeeper runs with plain Node, from the build (no note about tsx)", () => {
    const result = spawnSync(process.execPath, [join(dir, "package", "bin", "housekeeper.mjs"), "--version"], {
      encoding: "utf8",
    });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/\d+\.\d+\.\d+/);
  });
});
