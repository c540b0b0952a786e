/**
 * The sidecar client as a public, typed API of the package: built the way `npm pack` builds it (npm run build →
 * dist/), imported by package name (`dapr-housekeeper/sidecar`) from a TypeScript program outside this project,
 * type-checked strictly against the emitted .d.ts, run with plain Node (no tsx), against the sidecar stand-in over a
 * real PostgreSQL store.
 */
import { execFile, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StateBackend } from "../../shared/state-store/backend.ts";
import { type SidecarStandin, startSidecarStandin } from "../support/sidecar-standin.ts";
import { storeFactories } from "../support/stores.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const TSC = join(ROOT, "node_modules", "typescript", "bin", "tsc");

const CONSUMER = `
import { HttpSidecarClient, SidecarError, type WorkflowInstanceMetadata } from "dapr-housekeeper/sidecar";

const client = new HttpSidecarClient({ url: process.env.SIDECAR_URL, retry: false });
try {
  const id: string = await client.start("Order", { instanceId: "package-consumer-1", input: { orderId: 1 } });
  const metadata: WorkflowInstanceMetadata | undefined = await client.get(id);
  let kind = "none";
  try {
    await client.start("Order", { instanceId: id });
  } catch (error) {
    if (error instanceof SidecarError) kind = error.kind;
  }
  console.log(JSON.stringify({ id, name: metadata?.workflowName, kind }));
} finally {
  await client.close();
}
`;

let backend: StateBackend;
let standin: SidecarStandin;
let dir: string;

beforeAll(async () => {
  const build = spawnSync(process.execPath, [TSC, "-p", "tsconfig.build.json"], { cwd: ROOT, encoding: "utf8" });
  expect(build.stdout + build.stderr).toBe("");
  backend = await storeFactories(11)[1]!.open();
  standin = await startSidecarStandin({
    backend,
    appId: "package-app",
    grpc: false,
    workflows: { Order: { outcome: "run" } },
  });
  dir = mkdtempSync(join(tmpdir(), "housekeeper-consumer-"));
  mkdirSync(join(dir, "node_modules"));
  symlinkSync(ROOT, join(dir, "node_modules", "dapr-housekeeper"), "dir");
  writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module", private: true }));
  writeFileSync(join(dir, "consumer.ts"), CONSUMER);
}, 120_000);
afterAll(async () => {
  await standin?.close();
  await backend?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("dapr-housekeeper/sidecar, imported by package name", () => {
  it("type-checks strictly against the emitted declarations and runs with plain Node", async () => {
    const compile = spawnSync(
      process.execPath,
      [
        TSC,
        "--strict",
        "--target",
        "es2022",
        "--module",
        "nodenext",
        "--moduleResolution",
        "nodenext",
        "--skipLibCheck",
        "--typeRoots",
        join(ROOT, "node_modules", "@types"),
        "--types",
        "node",
        "--outDir",
        join(dir, "out"),
        join(dir, "consumer.ts"),
      ],
      { cwd: dir, encoding: "utf8" },
    );
    expect(compile.stdout + compile.stderr).toBe("");

    // Asynchronously: the stand-in answers from this process's event loop.
    const run = await promisify(execFile)(process.execPath, [join(dir, "out", "consumer.js")], {
      cwd: dir,
      encoding: "utf8",
      env: { PATH: process.env.PATH, SIDECAR_URL: standin.url },
    });
    expect(run.stderr).toBe("");
    expect(JSON.parse(run.stdout)).toEqual({ id: "package-consumer-1", name: "Order", kind: "already-exists" });
  });

  it("a type error in the consumer is caught by the declarations", () => {
    writeFileSync(
      join(dir, "wrong.ts"),
      `import { HttpSidecarClient } from "dapr-housekeeper/sidecar";\nnew HttpSidecarClient({ url: 3500 });\n`,
    );
    const compile = spawnSync(
      process.execPath,
      [
        TSC,
        "--noEmit",
        "--strict",
        "--module",
        "nodenext",
        "--moduleResolution",
        "nodenext",
        "--skipLibCheck",
        "--typeRoots",
        join(ROOT, "node_modules", "@types"),
        "--types",
        "node",
        join(dir, "wrong.ts"),
      ],
      { cwd: dir, encoding: "utf8" },
    );
    expect(compile.status).not.toBe(0);
    expect(compile.stdout).toMatch(
      /wrong\.ts\(2,\d+\): error TS2322: Type 'number' is not assignable to type 'string'/,
    );
  });
});
