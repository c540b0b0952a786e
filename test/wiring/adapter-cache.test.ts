/** The one cache the functions keep their adapters in (shared/wiring/adapter-cache.ts). */
import { describe, expect, it } from "vitest";
import { AdapterCache, settingsKey } from "../../shared/wiring/adapter-cache.ts";

/** An adapter that records whether it was closed. */
function adapters() {
  const opened: Array<{ name: string; closed: boolean }> = [];
  return {
    opened,
    open: (name: string) => () => {
      const a = { name, closed: false };
      opened.push(a);
      return a;
    },
    close: (a: { closed: boolean }) => {
      a.closed = true;
    },
  };
}

describe("AdapterCache", () => {
  it("reuses the adapter while the settings stay the same, and replaces (closing) it when they change", async () => {
    const cache = new AdapterCache();
    const t = adapters();
    const first = await cache.get("store", settingsKey({ url: "a" }), t.open("a"), t.close);
    expect(await cache.get("store", settingsKey({ url: "a" }), t.open("a2"), t.close)).toBe(first);
    const second = await cache.get("store", settingsKey({ url: "b" }), t.open("b"), t.close);
    expect(second.name).toBe("b");
    expect(first.closed).toBe(true);
    expect(second.closed).toBe(false);
    await cache.close();
    expect(second.closed).toBe(true);
    expect(t.opened.map((a) => a.name)).toEqual(["a", "b"]);
  });

  it("slots are independent; callers at the same time share one opening", async () => {
    const cache = new AdapterCache();
    const t = adapters();
    const [x, y] = await Promise.all([
      cache.get("store", "k", t.open("store"), t.close),
      cache.get("store", "k", t.open("store again"), t.close),
    ]);
    expect(x).toBe(y);
    const s3 = await cache.get("s3", "k", t.open("s3"), t.close);
    expect(s3).not.toBe(x);
    expect(x.closed).toBe(false);
    expect(t.opened.map((a) => a.name)).toEqual(["store", "s3"]);
    await cache.close();
    expect([x.closed, s3.closed]).toEqual([true, true]);
  });

  it("a failed opening leaves nothing behind: the next call opens again", async () => {
    const cache = new AdapterCache();
    await expect(
      cache.get(
        "store",
        "k",
        () => {
          throw new Error("refused");
        },
        () => {},
      ),
    ).rejects.toThrow("refused");
    expect(
      await cache.get(
        "store",
        "k",
        () => "open",
        () => {},
      ),
    ).toBe("open");
  });

  it("keys are digests: no secret in a key", () => {
    const key = settingsKey({ connectionString: "postgres://u:secret@h/db" });
    expect(key).not.toContain("secret");
    expect(key).toBe(settingsKey({ connectionString: "postgres://u:secret@h/db" }));
  });
});
