import { readdirSync, readFileSync } from "node:fs";
import { defineConfig } from "vitest/config";

/**
 * Three projects (`npx vitest run --project unit` needs nothing but Node and takes seconds):
 *   unit         in-process tests: no servers, no child processes, no Go, Chromium or shells;
 *   infra        test/infra: the CDK app synthesized and the functions bundled (no servers, but minutes of CPU);
 *   integration  everything that talks to the real servers test/support/global-setup.ts starts (they reach them only
 *                through `inject`), or runs the CLI, Go, Chromium or a shell as a child process.
 * A file belongs to integration when its source uses one of those; nothing else needs to be declared.
 */
const OUTSIDE = /\binject\(|support\/(?:servers|fault-suite|stores|go|cli|lambda)\.ts|node:child_process|chromium/;
const files = readdirSync("test", { recursive: true, encoding: "utf8" })
  .filter((path) => path.endsWith(".test.ts"))
  .map((path) => `test/${path}`)
  .sort();
const usesOutside = (path: string) => OUTSIDE.test(readFileSync(path, "utf8"));
const infra = files.filter((path) => path.startsWith("test/infra/") && !/\binject\(/.test(readFileSync(path, "utf8")));
const integration = files.filter((path) => !infra.includes(path) && usesOutside(path));
const unit = files.filter((path) => !infra.includes(path) && !integration.includes(path));

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Tests share real servers; files isolate themselves by database/table/key names, not by process.
    fileParallelism: true,
    maxWorkers: 2,
    projects: [
      { extends: true, test: { name: "unit", include: unit } },
      { extends: true, test: { name: "infra", include: infra } },
      {
        extends: true,
        test: { name: "integration", include: integration, globalSetup: ["test/support/global-setup.ts"] },
      },
    ],
  },
});
