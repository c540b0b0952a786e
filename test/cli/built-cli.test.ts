/**
 * The CLI as `npm ci` leaves it: bin/housekeeper.mjs runs the esbuild build in dist/cli/ (scripts/build-cli.ts; the
 * test setup builds it from the current sources, as the `prepare` script does). What each start really loads is
 * recorded by a module hook: `--version` and `--help` load commander and our command tree only; a command loads its
 * own driver and no other. The fallback to the sources (tsx) when the build is missing or stale is checked on a copy
 * of the bin in a temp dir, so this file never touches the project's own build while other tests use it.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCli } from "../../scripts/build-cli.ts";
import { runHousekeeper } from "../support/cli.ts";
import { packageOf, runRecordingLoads } from "../support/loaded-modules.ts";
import { createPostgresStateDatabase } from "../support/stores.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const DIST = join(ROOT, "dist", "cli");
const DRIVERS = ["pg", "mysql2", "mssql", "mongodb", "ioredis", "@electric-sql/pglite", "etcd3", "@grpc/grpc-js"];

function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith("HOUSEKEEPER_")) delete env[name];
  return env;
}

describe("the built CLI (dist/cli)", () => {
  for (const args of [["--version"], ["--help"], ["workflow", "list", "--help"], ["report", "stuck", "--help"]]) {
    it(`housekeeper ${args.join(" ")} loads only dist/cli and commander`, async () => {
      const run = await runRecordingLoads(["bin/housekeeper.mjs", ...args], { cwd: ROOT, env: cleanEnv() });
      expect(run.stderr).toBe("");
      expect(run.code).toBe(0);
      expect(run.loaded).toContain(join(DIST, "main.js"));
      const outside = run.loaded.filter(
        (f) => !f.startsWith(`${DIST}/`) && f !== join(ROOT, "bin/housekeeper.mjs") && packageOf(f) !== "commander",
      );
      expect(outside).toEqual([]);
    });
  }

  it("a PostgreSQL listing loads the PostgreSQL driver and no other", async () => {
    const url = await createPostgresStateDatabase("built_cli");
    const run = await runRecordingLoads(["bin/housekeeper.mjs", "workflow", "list", "-a", "nothing-here", "-c", url], {
      cwd: ROOT,
      env: cleanEnv(),
    });
    expect(run.stderr).toMatch(/No workflow found in namespace "default" for app ID "nothing-here"/);
    const packages = new Set(run.loaded.map(packageOf).filter((p) => p !== undefined));
    expect(packages.has("pg")).toBe(true);
    expect(DRIVERS.filter((d) => d !== "pg" && packages.has(d))).toEqual([]);
    expect(run.loaded.some((f) => f.endsWith(".ts"))).toBe(false);
  });

  it("the start path of the build statically imports commander and nothing else from node_modules", async () => {
    const dir = mkdtempSync(join(tmpdir(), "housekeeper-cli-build-"));
    try {
      const { metafile } = await buildCli(join(dir, "cli"));
      const outputs = metafile.outputs;
      const entry = Object.keys(outputs).find((f) => outputs[f]!.entryPoint === "cli/main.ts")!;
      const seen = new Set<string>();
      const external = new Set<string>();
      const stack = [entry];
      while (stack.length > 0) {
        const file = stack.pop()!;
        if (seen.has(file)) continue;
        seen.add(file);
        for (const i of outputs[file]!.imports) {
          if (i.kind !== "import-statement") continue;
          if (i.external) {
            if (!i.path.startsWith("node:")) external.add(i.path);
          } else stack.push(i.path);
        }
      }
      expect([...external]).toEqual(["commander"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("version through the built CLI, as users run it", async () => {
    const run = await runHousekeeper(["version", "-o", "json"]);
    expect(run.stderr).toBe("");
    expect(JSON.parse(run.stdout)).toMatchObject({ nodeVersion: process.version });
  });
});

describe("bin/housekeeper.mjs without a usable build", () => {
  let dir: string;
  const source = () => join(dir, "cli", "main.ts");
  const run = () => runRecordingLoads(["bin/housekeeper.mjs"], { cwd: dir, env: cleanEnv() });

  beforeAll(() => {
    // A stand-in project: the real bin, a one-line "CLI" in TypeScript and a "build" of it, tsx from our node_modules.
    dir = mkdtempSync(join(tmpdir(), "housekeeper-bin-"));
    mkdirSync(join(dir, "bin"));
    mkdirSync(join(dir, "cli"));
    mkdirSync(join(dir, "dist", "cli"), { recursive: true });
    cpSync(join(ROOT, "bin", "housekeeper.mjs"), join(dir, "bin", "housekeeper.mjs"));
    symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"), "dir");
    writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module", private: true }));
    writeFileSync(source(), 'const from: string = "sources";\nconsole.log(from);\n');
    writeFileSync(join(dir, "dist", "cli", "main.js"), 'console.log("build");\n');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("runs the build while it matches the sources, else the sources through tsx with a one-line note", async () => {
    const writeInfo = () => {
      const stat = statSync(source());
      writeFileSync(
        join(dir, "dist", "cli", "build-info.json"),
        JSON.stringify({ inputs: [["cli/main.ts", stat.size, stat.mtimeMs]] }),
      );
    };
    rmSync(join(dir, "dist", "cli", "build-info.json"), { force: true });
    const missing = await run();
    expect(missing.stdout).toBe("sources\n");
    expect(missing.stderr).toBe(
      "note: dist/cli is not built; running the sources through tsx (npm run build:cli starts faster)\n",
    );

    writeInfo();
    const fresh = await run();
    expect(fresh).toMatchObject({ code: 0, stdout: "build\n", stderr: "" });

    // An edit (here only the mtime moves, as `git checkout` or an editor would) makes the build stale.
    const later = new Date(Date.now() + 5_000);
    utimesSync(source(), later, later);
    const stale = await run();
    expect(stale.stdout).toBe("sources\n");
    expect(stale.stderr).toBe(
      "note: cli/main.ts changed since dist/cli was built; running the sources through tsx (npm run build:cli starts faster)\n",
    );
  });
});
