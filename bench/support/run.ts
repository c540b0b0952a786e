/** What several benches share: the latency sidecar in its own process, a timer, and the listing benches' seed data. */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import type { InstanceSpec } from "../../shared/sample-data/instance-builder.ts";
import { SCENARIOS } from "../../shared/sample-data/instance-builder.ts";
import { writeInstances } from "../../shared/sample-data/writer.ts";
import type { StateBackend } from "../../shared/state-store/backend.ts";
import type { AppRef } from "../../shared/state-store/keys.ts";

/** Starts bench/support/latency-sidecar.ts in its own process; stop() ends it and returns what it served. */
export async function startLatencySidecar(latencyMs: number): Promise<{ url: string; stop(): Promise<string> }> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "bench/support/latency-sidecar.ts", "--latency-ms", String(latencyMs)],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const first = await lines.next();
  const url = String(first.value ?? "").replace(/^listening /, "");
  if (!url.startsWith("http")) throw new Error(`the latency sidecar did not start: ${first.value}`);
  return {
    url,
    async stop() {
      const exited = once(child, "exit");
      child.stdin!.end();
      const last = await lines.next();
      await exited;
      return String(last.value ?? "").trim();
    },
  };
}

/** The result of `work` and how long it took, in seconds. */
export async function time<T>(work: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const result = await work();
  return [result, (performance.now() - t) / 1000];
}

/** The listing benches' app: `count` instances of every scenario, up to 1000 hours old, a quarter with custom status. */
export async function seedListingApp(backend: StateBackend, app: AppRef, count: number): Promise<void> {
  const now = Date.now();
  for (let start = 0; start < count; start += 2000) {
    const specs: InstanceSpec[] = [];
    for (let i = start; i < Math.min(count, start + 2000); i++) {
      specs.push({
        instanceId: `order-${i.toString().padStart(7, "0")}`,
        scenario: SCENARIOS[i % SCENARIOS.length]!,
        createdAt: new Date(now - (i % 1000) * 3_600_000),
        customStatus: i % 4 === 0 ? '{"step":"charging"}' : undefined,
      });
    }
    await writeInstances(backend, app, specs, { batchSize: 500 });
  }
}
