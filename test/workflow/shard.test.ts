import { describe, expect, it } from "vitest";
import { formatShard, parseShardFlag, shardSchema } from "../../shared/workflow/shard.ts";

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
