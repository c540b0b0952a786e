/**
 * A StateBackend that counts the values the real one hands back (getMany, getManyReporting, scanEntries): what a
 * listing reads, measured at the port, to check that a shard reads about 1/N of the values.
 */
import type { StateBackend } from "../../shared/state-store/backend.ts";

export interface CountingBackend {
  backend: StateBackend;
  /** Values returned so far. */
  values(): number;
  reset(): void;
}

export function countingBackend(real: StateBackend): CountingBackend {
  let values = 0;
  const counted = new Set(["getMany", "getManyReporting", "scanEntries"]);
  const backend = new Proxy(real, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== "function") return value;
      if (!counted.has(String(prop))) return value.bind(target);
      return async (...args: unknown[]) => {
        const result = await value.apply(target, args);
        if (result instanceof Map) values += result.size;
        else if (result && typeof result === "object" && "values" in result) values += result.values.size;
        else if (result && typeof result === "object" && "entries" in result) values += result.entries.length;
        return result;
      };
    },
  });
  return { backend, values: () => values, reset: () => (values = 0) };
}
