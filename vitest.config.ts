import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Tests share real servers; files isolate themselves by database/table/key names, not by process.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
