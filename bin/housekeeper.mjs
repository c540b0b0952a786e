#!/usr/bin/env node
// Runs the built CLI (dist/cli/, made by `npm ci` through the `prepare` script, or `npm run build:cli`) when it was
// built from the sources as they are now; otherwise the TypeScript sources through tsx, with a one-line note.
import { readFileSync, statSync } from "node:fs";

const root = new URL("../", import.meta.url);

/** Why dist/cli cannot be used, or undefined when it can. */
function buildProblem() {
  let info;
  try {
    info = JSON.parse(readFileSync(new URL("dist/cli/build-info.json", root), "utf8"));
  } catch {
    return "dist/cli is not built";
  }
  for (const [path, size, mtimeMs] of info.inputs) {
    let stat;
    try {
      stat = statSync(new URL(path, root));
    } catch {
      continue; // a source deleted since: whatever imported it changed too, and is checked here
    }
    if (stat.size !== size || stat.mtimeMs !== mtimeMs) return `${path} changed since dist/cli was built`;
  }
  return undefined;
}

const problem = buildProblem();
if (problem === undefined) {
  await import("../dist/cli/main.js");
} else {
  process.stderr.write(`note: ${problem}; running the sources through tsx (npm run build:cli starts faster)\n`);
  const { register } = await import("tsx/esm/api");
  register();
  await import("../cli/main.ts");
}
