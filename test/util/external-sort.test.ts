import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { externalSort } from "../../shared/util/external-sort.ts";

interface Item {
  key: number;
  seq: number;
}

const byKey = (a: Item, b: Item) => a.key - b.key;
const parent = mkdtempSync(join(tmpdir(), "external-sort-test-"));
afterAll(() => rmSync(parent, { recursive: true, force: true }));

function items(count: number, distinctKeys: number, seed = 1): Item[] {
  let x = seed;
  const random = () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x;
  };
  return Array.from({ length: count }, (_, seq) => ({ key: random() % distinctKeys, seq }));
}

async function* asAsync<T>(values: Iterable<T>): AsyncGenerator<T> {
  for (const v of values) yield v;
}

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const v of source) out.push(v);
  return out;
}

describe("externalSort", () => {
  it("sorts in memory when the input fits one run (no temp files)", async () => {
    const input = items(500, 50);
    const spills: string[] = [];
    const out = await collect(
      externalSort(asAsync(input), { compare: byKey, runSize: 1000, tempDir: parent, onSpill: (d) => spills.push(d) }),
    );
    expect(out).toEqual([...input].sort(byKey));
    expect(spills).toEqual([]);
  });

  it("spills runs smaller than the input, merges them stably, and removes its temp files", async () => {
    const input = items(2_345, 97);
    let directory = "";
    let runs = 0;
    let filesDuringMerge: string[] = [];
    const sorted = externalSort(asAsync(input), {
      compare: byKey,
      runSize: 100,
      tempDir: parent,
      onSpill: (d, n) => {
        directory = d;
        runs = n;
      },
    });
    const out: Item[] = [];
    for await (const item of sorted) {
      if (out.length === 0) filesDuringMerge = readdirSync(directory);
      out.push(item);
    }
    expect(runs).toBe(24);
    expect(filesDuringMerge).toHaveLength(24);
    // Stable: equal keys keep input order, exactly like Array.prototype.sort.
    expect(out).toEqual([...input].sort(byKey));
    expect(existsSync(directory)).toBe(false);
    expect(readdirSync(parent)).toEqual([]);
  });

  it("merges in several passes when there are more runs than the fan-in", async () => {
    const input = items(1_000, 1_000_000, 7);
    const out = await collect(externalSort(input, { compare: byKey, runSize: 9, fanIn: 3, tempDir: parent }));
    expect(out).toEqual([...input].sort(byKey));
    expect(readdirSync(parent)).toEqual([]);
  });

  it("uses the given serializer for the spilled lines", async () => {
    const input = ["pear", "apple", "fig", "kiwi", "banana", "cherry", "date"];
    const out = await collect(
      externalSort(input, {
        compare: (a, b) => (a < b ? -1 : a > b ? 1 : 0),
        serialize: (s) => s.toUpperCase(),
        deserialize: (line) => line.toLowerCase(),
        runSize: 2,
        tempDir: parent,
      }),
    );
    expect(out).toEqual([...input].sort());
  });

  it("handles an empty input", async () => {
    expect(await collect(externalSort([], { compare: byKey, runSize: 1, tempDir: parent }))).toEqual([]);
  });

  it("removes temp files when the consumer stops early", async () => {
    let directory = "";
    const sorted = externalSort(items(300, 10), {
      compare: byKey,
      runSize: 10,
      tempDir: parent,
      onSpill: (d) => {
        directory = d;
      },
    });
    for await (const _item of sorted) break;
    expect(directory).not.toBe("");
    expect(existsSync(directory)).toBe(false);
  });

  it("removes temp files when the source fails", async () => {
    async function* failing(): AsyncGenerator<Item> {
      yield* items(50, 5);
      throw new Error("source broke");
    }
    await expect(collect(externalSort(failing(), { compare: byKey, runSize: 10, tempDir: parent }))).rejects.toThrow(
      "source broke",
    );
    expect(readdirSync(parent)).toEqual([]);
  });

  it("refuses a serializer that writes line breaks", async () => {
    await expect(
      collect(externalSort(["a\nb", "c"], { compare: () => 0, serialize: (s) => s, runSize: 1, tempDir: parent })),
    ).rejects.toThrow(/line break/);
    expect(readdirSync(parent)).toEqual([]);
  });
});
