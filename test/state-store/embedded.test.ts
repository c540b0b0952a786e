import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildInstance, EXPECTED_STATUS, SCENARIOS } from "../../shared/sample-data/instance-builder.ts";
import { SAMPLE_APP, sampleInstanceSpecs } from "../../shared/sample-data/orderprocessing.ts";
import type { StateBackend } from "../../shared/state-store/backend.ts";
import { openEmbeddedBackend } from "../../shared/state-store/embedded.ts";
import { KEY_SEPARATOR, METADATA_KEY, workflowKeyPrefix } from "../../shared/state-store/keys.ts";
import type { InstanceSummary } from "../../shared/state-store/workflow-store.ts";
import { WorkflowStateStore } from "../../shared/state-store/workflow-store.ts";
import { describeStateBackendConformance } from "../support/backend-conformance.ts";

const DAY = 24 * 3_600_000;

let root: string;
let path: string;
let conformanceCount = 0;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "housekeeper-embedded-"));
  path = join(root, "sample", "sample.db");
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

async function metadataKeys(backend: StateBackend): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await backend.scanKeys({
      prefix: workflowKeyPrefix(SAMPLE_APP),
      suffix: `${KEY_SEPARATOR}${METADATA_KEY}`,
      pageSize: 50,
      cursor,
    });
    keys.push(...page.keys);
    cursor = page.cursor;
  } while (cursor !== undefined);
  return keys;
}

async function timed<T>(label: string, work: () => Promise<T>): Promise<T> {
  const start = performance.now();
  const result = await work();
  console.log(`embedded store: ${label} took ${Math.round(performance.now() - start)} ms`);
  return result;
}

describe("sample data", () => {
  const now = new Date("2025-03-01T12:00:00Z");
  const specs = sampleInstanceSpecs(now);

  it("is deterministic apart from its reference time", () => {
    expect(sampleInstanceSpecs(new Date(now))).toEqual(specs);
    const later = sampleInstanceSpecs(new Date(now.getTime() + DAY));
    expect(later.map((s) => ({ ...s, createdAt: s.createdAt.getTime() - DAY }))).toEqual(
      specs.map((s) => ({ ...s, createdAt: s.createdAt.getTime() })),
    );
  });

  it("covers every scenario, many ages, custom status and sub-orchestrations with unique realistic IDs", () => {
    expect(specs.length).toBeGreaterThanOrEqual(60);
    expect(specs.length).toBeLessThanOrEqual(120);
    expect(new Set(specs.map((s) => s.scenario))).toEqual(new Set(SCENARIOS));
    const ids = specs.flatMap((s) => [s.instanceId, ...buildInstance(s).children.map((c) => c.instanceId)]);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[a-z]+(-[a-z0-9]+)+(:[0-9a-f]{4})?$/);
    const ages = specs.map((s) => (now.getTime() - s.createdAt.getTime()) / DAY);
    expect(ages.some((a) => a < 1 / 24)).toBe(true); // minutes
    expect(ages.some((a) => a > 1 / 24 && a < 1)).toBe(true); // hours
    expect(ages.some((a) => a >= 1 && a < 10)).toBe(true); // days
    expect(ages.some((a) => a > 10 && a < 20)).toBe(true);
    expect(ages.some((a) => Math.round(a) === 45)).toBe(true);
    expect(ages.some((a) => a >= 100)).toBe(true);
    for (const spec of specs) {
      expect(spec.createdAt.getTime() + (spec.durationMs ?? 0)).toBeLessThanOrEqual(now.getTime());
      if (spec.customStatus !== undefined) expect(() => JSON.parse(spec.customStatus!)).not.toThrow();
    }
    expect(specs.filter((s) => s.customStatus !== undefined).length).toBeGreaterThan(10);
    expect(specs.some((s) => s.legacyJson)).toBe(true);
  });
});

describe("embedded store", () => {
  const expectedInstances = () => {
    const specs = sampleInstanceSpecs(new Date());
    return specs.length + specs.reduce((n, s) => n + buildInstance(s).children.length, 0);
  };

  it("creates the store and seeds the sample app on first use", async () => {
    const notices: string[] = [];
    const backend = await timed("first open (init + seed)", () =>
      openEmbeddedBackend({ path, onCreate: (m) => notices.push(m) }),
    );
    try {
      expect(notices).toEqual([expect.stringContaining(path)]);
      expect(backend.kind).toBe("sqlite");
      expect(backend.location).toContain("embedded sample store");
      expect(backend.location).toContain(path);
      expect(await metadataKeys(backend)).toHaveLength(expectedInstances());
    } finally {
      await backend.close();
    }
  });

  it("reopens the persisted store without seeding it again", async () => {
    const notices: string[] = [];
    const backend = await timed("re-open", () => openEmbeddedBackend({ path, onCreate: (m) => notices.push(m) }));
    try {
      expect(notices).toEqual([]);
      expect(await metadataKeys(backend)).toHaveLength(expectedInstances());
    } finally {
      await backend.close();
    }
  });

  it("lists every sample instance through WorkflowStateStore with the status its scenario implies", async () => {
    const backend = await openEmbeddedBackend({ path });
    try {
      const store = new WorkflowStateStore(backend, SAMPLE_APP);
      const instances: InstanceSummary[] = [];
      for await (const page of store.listInstances({ pageSize: 25 })) {
        expect(page.unreadable).toEqual([]);
        instances.push(...page.instances);
      }
      const byId = new Map(instances.map((i) => [i.instanceId, i]));
      expect(byId.size).toBe(expectedInstances());
      const specs = sampleInstanceSpecs(new Date());
      for (const spec of specs) {
        const got = byId.get(spec.instanceId);
        expect(got?.runtimeStatus, spec.instanceId).toBe(EXPECTED_STATUS[spec.scenario]);
        expect(got?.customStatus, spec.instanceId).toBe(spec.customStatus);
      }
      const children = instances.filter((i) => i.parentInstanceId !== undefined);
      expect(children.length).toBeGreaterThan(0);
      for (const child of children) expect(byId.get(child.parentInstanceId!)?.name).toBe("FanOutWorkflow");
      expect(new Set(instances.map((i) => i.runtimeStatus))).toEqual(new Set(Object.values(EXPECTED_STATUS)));
    } finally {
      await backend.close();
    }
  });

  it("refuses a second user while the store is open, naming the process", async () => {
    const backend = await openEmbeddedBackend({ path });
    try {
      await expect(openEmbeddedBackend({ path })).rejects.toThrow(
        `the embedded store in ${path} is in use by process ${process.pid}`,
      );
    } finally {
      await backend.close();
    }
    // The lock went with close(): the store opens again.
    await (await openEmbeddedBackend({ path })).close();
  });

  it("takes over the lock of a process that is gone", async () => {
    writeFileSync(`${path}.owner`, "2147483646"); // beyond any pid_max: no such process
    await (await openEmbeddedBackend({ path })).close();
    // Our own PID, but not taken by us: left by an earlier process that had the same PID (PID 1 in containers).
    writeFileSync(`${path}.owner`, String(process.pid));
    await (await openEmbeddedBackend({ path })).close();
    expect(existsSync(`${path}.owner`)).toBe(false);
  });

  it("clears the driver's lock directory left by a killed process (the owner lock says none is running)", async () => {
    mkdirSync(`${path}.lock`);
    const backend = await openEmbeddedBackend({ path });
    try {
      expect(await metadataKeys(backend)).toHaveLength(expectedInstances());
    } finally {
      await backend.close();
    }
    expect(existsSync(`${path}.lock`)).toBe(false);
  });

  it("close() stops everything: a process that opened the store exits by itself", async () => {
    const module = pathToFileURL(resolve("shared/state-store/embedded.ts")).href;
    const script = `
      const { openEmbeddedBackend } = await import(${JSON.stringify(module)});
      const backend = await openEmbeddedBackend({ path: ${JSON.stringify(path)} });
      await backend.getMany(["x"]);
      await backend.close();
      console.log("closed");`;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d) => {
      output += d;
    });
    child.stderr.on("data", (d) => {
      output += d;
    });
    const code = await new Promise<number | null>((done) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        done(null); // still running long after close(): something kept the event loop alive
      }, 30_000);
      child.on("exit", (c) => {
        clearTimeout(timer);
        done(c);
      });
    });
    expect({ code, output: output.trim() }).toEqual({ code: 0, output: "closed" });
  });
});

// The very adapter that reads a user's Dapr SQLite store: every StateBackend behaviour, through the embedded door.
describeStateBackendConformance("embedded SQLite", () =>
  openEmbeddedBackend({ path: join(root, "conformance", `${++conformanceCount}.db`), seed: false }),
);
