/** Writes built instances into any state backend in Dapr's exact key layout, in batched transactions. */
import type { StateBackend } from "../state-store/backend.ts";
import type { AppRef } from "../state-store/keys.ts";
import type { BuiltInstance, InstanceSpec } from "./instance-builder.ts";
import { buildInstance, instanceEntries } from "./instance-builder.ts";

export interface WriteOptions {
  /** Instances per transaction (default 200). */
  batchSize?: number;
}

/** Writes each spec (and the child instances a parent scenario creates); returns what was written. */
export async function writeInstances(
  backend: StateBackend,
  app: AppRef,
  specs: Iterable<InstanceSpec>,
  options: WriteOptions = {},
): Promise<BuiltInstance[]> {
  const batchSize = options.batchSize ?? 200;
  const written: BuiltInstance[] = [];
  let batch: Array<[string, Uint8Array]> = [];
  let inBatch = 0;
  const queue = [...specs];
  for (let spec = queue.shift(); spec; spec = queue.shift()) {
    const built = buildInstance(spec);
    queue.push(...built.children);
    written.push(built);
    batch.push(...instanceEntries(app, built, spec.legacyJson));
    if (++inBatch >= batchSize) {
      await backend.setMany(batch);
      batch = [];
      inBatch = 0;
    }
  }
  if (batch.length > 0) await backend.setMany(batch);
  return written;
}
