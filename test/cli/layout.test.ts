/**
 * The CLI's layout (issue #14, item 6), read from the sources: one folder per command group, whose index.ts exports
 * `<group>Command`; a group imports from its own folder, `cli/flags/`, `cli/output/`, the top-level modules of `cli/`
 * and `shared/`, never from another group (statically or with `import(…)`); `cli/flags/` and `cli/output/` import
 * no group; a group's command modules load its actions with `import(…)` of its `*-run.ts` modules, never statically.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = new URL("../../", import.meta.url).pathname;
const CLI = join(ROOT, "cli");
const GROUPS = ["workflow", "scheduler", "report", "retention", "webhook"] as const;
const SHARED_FOLDERS = ["flags", "output"] as const;

/** Every `.ts` file under cli/, relative to cli/. */
const files = readdirSync(CLI, { recursive: true, encoding: "utf8" })
  .filter((f) => f.endsWith(".ts"))
  .sort();

/** The relative module specifiers a file imports, statically or with import(), resolved to paths under the repo. */
function importsOf(file: string): string[] {
  const source = readFileSync(join(CLI, file), "utf8");
  const specifiers = [...source.matchAll(/(?:from\s+|import\s*\(\s*)"(\.[^"]+)"/g)].map((m) => m[1]!);
  return specifiers.map((s) => relative(ROOT, join(CLI, dirname(file), s)));
}

const folderOf = (file: string) => (file.includes("/") ? file.slice(0, file.indexOf("/")) : "");

describe("the CLI's layout", () => {
  it("has exactly the known folders: a folder per command group, plus flags/ and output/", () => {
    const folders = new Set(files.map(folderOf).filter((f) => f !== ""));
    expect([...folders].sort()).toEqual([...GROUPS, ...SHARED_FOLDERS].sort());
  });

  it("a command group never imports another group", () => {
    const crossings: string[] = [];
    for (const file of files) {
      const group = folderOf(file);
      if (!(GROUPS as readonly string[]).includes(group)) continue;
      for (const target of importsOf(file)) {
        const other = GROUPS.find((g) => g !== group && target.startsWith(`cli/${g}/`));
        if (other) crossings.push(`cli/${file} → ${target}`);
      }
    }
    expect(crossings).toEqual([]);
  });

  it("cli/flags/ and cli/output/ import no command group", () => {
    const upward: string[] = [];
    for (const file of files.filter((f) => (SHARED_FOLDERS as readonly string[]).includes(folderOf(f)))) {
      for (const target of importsOf(file)) {
        if (GROUPS.some((g) => target.startsWith(`cli/${g}/`))) upward.push(`cli/${file} → ${target}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it("a group's command modules load its actions lazily, from *-run.ts modules", () => {
    const eager: string[] = [];
    for (const file of files.filter((f) => (GROUPS as readonly string[]).includes(folderOf(f)))) {
      if (file.endsWith("-run.ts")) continue;
      const source = readFileSync(join(CLI, file), "utf8");
      for (const m of source.matchAll(/import\s*\(\s*"(\.[^"]+)"/g)) {
        if (!m[1]!.endsWith("-run.ts")) eager.push(`cli/${file}: import("${m[1]}") is not a *-run.ts module`);
      }
      for (const m of source.matchAll(/^import (?!type )[^;]*from "(\.[^"]+-run\.ts)"/gm)) {
        eager.push(`cli/${file}: imports ${m[1]} statically`);
      }
    }
    expect(eager).toEqual([]);
  });

  it("every group's index.ts exports <group>Command, and program.ts loads each through it", () => {
    const program = readFileSync(join(CLI, "program.ts"), "utf8");
    for (const group of GROUPS) {
      const index = readFileSync(join(CLI, group, "index.ts"), "utf8");
      expect(index, group).toMatch(new RegExp(`export function ${group}Command\\(`));
      expect(program, group).toContain(`(await import("./${group}/index.ts")).${group}Command()`);
    }
  });
});
