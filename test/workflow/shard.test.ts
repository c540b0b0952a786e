import { describe, expect, it } from "vitest";
import { formatShard, inShard, parseShardFlag, shardOf, shardSchema } from "../../shared/workflow/shard.ts";

describe("shard flag", () => {
  it("reads K/N, 1-based", () => {
    expect(parseShardFlag("2/4")).toEqual({ index: 2, count: 4 });
    expect(parseShardFlag(" 1 / 1 ")).toEqual({ index: 1, count: 1 });
    expect(formatShard({ index: 3, count: 8 })).toBe("3/8");
  });

  it.each(["0/4", "5/4", "2", "2/0", "a/b", "1/2/3", "-1/4", "1.5/4", "1/1025", ""])(
    "refuses %j in one line",
    (text) => {
      expect(() => parseShardFlag(text)).toThrowError(
        /^invalid shard "[^"]*"(: [^()]+)? \(expected K\/N .*e\.g\. 2\/4\)$/,
      );
    },
  );

  it("the schema refuses an index beyond the count and unknown fields", () => {
    expect(shardSchema.safeParse({ index: 3, count: 2 }).success).toBe(false);
    expect(shardSchema.safeParse({ index: 1, count: 2, extra: 1 }).success).toBe(false);
  });
});

/** FNV-1a 32-bit of the bytes c3 a9, computed independently (Python: h ^= b; h = h * 0x01000193 mod 2^32). */
const HASH_E_ACUTE = 0x1e9de8c1;

describe("which shard an instance is in", () => {
  it("is FNV-1a (32-bit) of the ID's UTF-8 bytes mod N, 1-based", () => {
    // Published FNV-1a 32-bit vectors (http://www.isthe.com/chongo/tech/comp/fnv/ test suite): "a" 0xe40c292c,
    // "foobar" 0xbf9cf968; a non-ASCII ID hashes its UTF-8 bytes (é = c3 a9).
    expect(shardOf("a", 2 ** 31)).toBe((0xe40c292c % 2 ** 31) + 1);
    expect(shardOf("foobar", 1000)).toBe((0xbf9cf968 % 1000) + 1);
    expect(shardOf("é", 2 ** 31)).toBe((HASH_E_ACUTE % 2 ** 31) + 1);
  });

  it("puts every ID in exactly one of N shards, about evenly", () => {
    const ids = Array.from({ length: 10_000 }, (_, i) => `order-${i}`);
    for (const count of [2, 3, 4, 7]) {
      const sizes = new Array<number>(count).fill(0);
      for (const id of ids) {
        const homes = Array.from({ length: count }, (_, k) => k + 1).filter((index) => inShard(id, { index, count }));
        expect(homes).toEqual([shardOf(id, count)]);
        sizes[homes[0]! - 1]!++;
      }
      for (const size of sizes) expect(Math.abs(size - ids.length / count)).toBeLessThan((ids.length / count) * 0.1);
    }
    expect(inShard("anything", undefined)).toBe(true);
    expect(inShard("anything", { index: 1, count: 1 })).toBe(true);
  });
});
