/**
 * The one way the functions keep their adapters open between invocations: a handler holds one AdapterCache at module
 * scope, and every connection in it sits in a named slot keyed by the settings that opened it. The same settings
 * reuse the open connection (a warm invocation); other settings (another bucket, other endpoints, a rotated secret)
 * close it and open a new one. `close` releases everything (tests, local runs; Lambda just freezes the environment).
 */
import { createHash } from "node:crypto";

interface Slot {
  key: string;
  value: unknown;
  close: () => Promise<void> | void;
}

/** A cache key for settings that may hold secrets: a digest, so no resolved secret sits in a key. */
export function settingsKey(value: unknown): string {
  return createHash("sha256").update(JSON.stringify(value)).digest("base64url");
}

export class AdapterCache {
  private readonly slots = new Map<string, Slot>();
  /** Openings under way, so concurrent callers of one slot share one connection. */
  private readonly opening = new Map<string, Promise<unknown>>();

  /** The adapter in `slot` opened with settings `key`, opening it (and closing the previous one) if need be. */
  async get<T>(
    slot: string,
    key: string,
    open: () => Promise<T> | T,
    close: (value: T) => Promise<void> | void,
  ): Promise<T> {
    const current = this.slots.get(slot);
    if (current?.key === key) return current.value as T;
    const pending = this.opening.get(`${slot}\0${key}`);
    if (pending) return pending as Promise<T>;
    const opened = (async () => {
      if (current) {
        this.slots.delete(slot);
        await Promise.resolve(current.close()).catch(() => {});
      }
      const value = await open();
      this.slots.set(slot, { key, value, close: () => close(value) });
      return value;
    })();
    this.opening.set(`${slot}\0${key}`, opened);
    try {
      return await opened;
    } finally {
      this.opening.delete(`${slot}\0${key}`);
    }
  }

  /** Closes every adapter (each at most once; failures to close are ignored). */
  async close(): Promise<void> {
    const slots = [...this.slots.values()];
    this.slots.clear();
    await Promise.allSettled(slots.map((s) => Promise.resolve().then(() => s.close())));
  }
}
