/**
 * The layers as README.md § Layout draws them, checked over every `.ts` under shared/, cli/, functions/ and infra/:
 * each file's relative imports (static, `export … from`, `import type` and dynamic `import("…")`) are read with the
 * TypeScript compiler's pre-processor and resolved to folders. A rule broken here means an import runs up the layers.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOTS = ["shared", "cli", "functions", "infra"];
const ADAPTERS = ["shared/state-store", "shared/scheduler", "shared/object-store", "shared/webhook", "shared/sidecar"];

/** The layers, top first, as README.md § Layout draws them: a file imports its own layer or the ones below. */
const LAYERS: { name: string; folders: string[] }[] = [
  { name: "doors", folders: ["cli", "functions", "infra"] },
  { name: "composition root", folders: ["shared/wiring"] },
  { name: "use cases", folders: ["shared/jobs"] },
  { name: "settings", folders: ["shared/config"] },
  { name: "ports and adapters", folders: [...ADAPTERS, "shared/sample-data"] },
  { name: "domain", folders: ["shared/workflow"] },
  { name: "base", folders: ["shared/util", "shared/errors.ts", "shared/tracing.ts"] },
];

function sources(): string[] {
  return ROOTS.flatMap((root) =>
    readdirSync(root, { recursive: true, encoding: "utf8" })
      .filter((path) => path.endsWith(".ts"))
      .map((path) => join(root, path)),
  ).sort();
}

interface Import {
  target: string;
  /** A value import evaluated when the module loads (not `import type`, not a dynamic `import()`). */
  eager: boolean;
}

/** Relative imports of one file, as repository paths (`shared/config/timeouts.ts`). */
function importsOf(file: string): Import[] {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, false);
  const found: Import[] = [];
  const add = (specifier: ts.Expression | undefined, eager: boolean) => {
    if (!specifier || !ts.isStringLiteral(specifier) || !specifier.text.startsWith(".")) return;
    found.push({ target: normalize(join(dirname(file), specifier.text)), eager });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      const typeOnly =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (clause.name === undefined &&
            clause.namedBindings !== undefined &&
            ts.isNamedImports(clause.namedBindings) &&
            clause.namedBindings.elements.length > 0 &&
            clause.namedBindings.elements.every((e) => e.isTypeOnly)));
      add(node.moduleSpecifier, !typeOnly);
    } else if (ts.isExportDeclaration(node)) {
      add(node.moduleSpecifier, !node.isTypeOnly);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      add(node.arguments[0], false);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

const FILES = sources();
const IMPORTS = new Map(FILES.map((file) => [file, importsOf(file)]));
/** Every import, for the layer rules (a type import runs up the layers as much as a value import). */
const GRAPH = new Map([...IMPORTS].map(([file, imports]) => [file, imports.map((i) => i.target)]));
/** Imports evaluated at load time, for cycles: a type import is erased and a dynamic `import()` waits for its call. */
const EAGER = new Map(
  [...IMPORTS].map(([file, imports]) => [file, imports.filter((i) => i.eager).map((i) => i.target)]),
);
const within = (path: string, folder: string) => path === folder || path.startsWith(`${folder}/`);

interface Rule {
  name: string;
  from: (file: string) => boolean;
  to: (target: string, file: string) => boolean;
}

/** Index in LAYERS (0 = doors) of the layer holding `path`. */
function rank(path: string): number | undefined {
  const index = LAYERS.findIndex((layer) => layer.folders.some((folder) => within(path, folder)));
  return index < 0 ? undefined : index;
}

/** The modules of functions/ that infra may import: each function's settings and the env builder. */
function isSettingsContract(target: string): boolean {
  return /^functions\/[^/]+\/settings\.ts$/.test(target) || target === "functions/support/env.ts";
}

const RULES: Rule[] = [
  {
    name: "shared/ never imports a door (cli/, functions/, infra/)",
    from: (f) => within(f, "shared"),
    to: (t) => ["cli", "functions", "infra"].some((door) => within(t, door)),
  },
  {
    name: "shared/config does not import shared/jobs or shared/webhook",
    from: (f) => within(f, "shared/config"),
    to: (t) => within(t, "shared/jobs") || within(t, "shared/webhook"),
  },
  {
    name: "adapters do not import shared/config or shared/jobs",
    from: (f) => ADAPTERS.some((a) => within(f, a)),
    to: (t) => within(t, "shared/config") || within(t, "shared/jobs"),
  },
  {
    // One exception, by design: infra builds each function's environment from that function's own settings schema
    // (the typed env contract), so it may import functions/<name>/settings.ts and functions/support/env.ts.
    name: "a door does not import another door (infra may read a function's settings schema)",
    from: (f) => rank(f) === 0,
    to: (t, f) =>
      rank(t) === 0 && t.split("/")[0] !== f.split("/")[0] && !(within(f, "infra") && isSettingsContract(t)),
  },
  {
    name: "imports run down the layers (doors, use cases, settings, adapters, domain, base)",
    from: () => true,
    to: (t, f) => rank(t) !== undefined && rank(f) !== undefined && rank(t)! < rank(f)!,
  },
];

/** Imports that break a rule on purpose for a while, as `from -> to`; none since #14's redesign landed. */
const KNOWN_EXCEPTIONS = new Set<string>([]);

describe("import layers", () => {
  it("reads the tree (sanity: the walk finds files and their imports)", () => {
    expect(FILES.length).toBeGreaterThan(100);
    expect(GRAPH.get("shared/config/target.ts")).toContain("shared/workflow/shard.ts");
  });

  it("every file is in a layer", () => {
    expect(FILES.filter((file) => rank(file) === undefined)).toEqual([]);
  });

  it("finds a cycle when there is one (the check itself)", () => {
    const graph = new Map([
      ["a.ts", ["b.ts"]],
      ["b.ts", ["c.ts"]],
      ["c.ts", ["a.ts"]],
      ["d.ts", ["a.ts"]],
    ]);
    expect(cycles(graph)).toEqual(["a.ts <-> b.ts <-> c.ts"]);
  });

  it("every relative import names a file that exists", () => {
    const known = new Set(FILES);
    const missing = [...GRAPH].flatMap(([file, targets]) =>
      targets.filter((t) => ROOTS.some((r) => within(t, r)) && !known.has(t)).map((t) => `${file} -> ${t}`),
    );
    expect(missing).toEqual([]);
  });

  for (const rule of RULES) {
    it(rule.name, () => {
      const broken = [...GRAPH]
        .filter(([file]) => rule.from(file))
        .flatMap(([file, targets]) => targets.filter((t) => rule.to(t, file)).map((t) => `${file} -> ${t}`))
        .filter((edge) => !KNOWN_EXCEPTIONS.has(edge));
      expect(broken).toEqual([]);
    });
  }

  it("every known exception still exists (delete it once the import is gone)", () => {
    const edges = new Set([...GRAPH].flatMap(([file, targets]) => targets.map((t) => `${file} -> ${t}`)));
    expect([...KNOWN_EXCEPTIONS].filter((edge) => !edges.has(edge))).toEqual([]);
  });

  it("no import cycles between files (imports evaluated at load time)", () => {
    expect(cycles(EAGER)).toEqual([]);
  });
});

/** Cycles of the graph, one per strongly connected component of more than one file (Tarjan), as `a -> b -> a`. */
function cycles(graph: Map<string, string[]>): string[] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next += 1;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || graph.get(v)?.includes(v)) found.push(component.sort().join(" <-> "));
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found.map((c) => relative(".", c));
}
