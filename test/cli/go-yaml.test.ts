/**
 * Our YAML against gopkg.in/yaml.v2 v2.4.0, the Dapr CLI's YAML library. The module cannot be downloaded where the
 * tests run, so the expected text is a table that yaml.v2 v2.4.0 itself produced (scripts/yaml-reference/main.go,
 * run over the v2.4.0 sources; fixtures/yaml-v2.jsonl, one [records, yaml.Marshal(records)] pair per line): YAML 1.1
 * look-alikes (`on`, `y`, `1_000`, `2026-01-01`, RFC 3339 times, base-60), indicators, quotes, escapes, line breaks,
 * non-printable and astral characters, long values folded at column 80, and Go time.Time fields (written plain;
 * `{"$time": …}` in the table).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { goYamlList } from "../../cli/output/go-yaml.ts";

type Value = string | number | boolean | null | { $time: string };
type Case = [Array<Record<string, Value>>, string];

/** The records as our writers get them (times as text) and the keys that are Go time.Time fields. */
function ours([records]: Case): string {
  const times = new Set<string>();
  const plain = records.map((record) =>
    Object.fromEntries(
      Object.entries(record).map(([key, value]) => {
        if (value === null || typeof value !== "object") return [key, value];
        times.add(key);
        return [key, value.$time];
      }),
    ),
  );
  return goYamlList(plain, { times: [...times] });
}

const CASES: Case[] = readFileSync(new URL("./fixtures/yaml-v2.jsonl", import.meta.url), "utf8")
  .split("\n")
  .filter((line) => line !== "")
  .map((line) => JSON.parse(line) as Case);

describe("goYamlList (gopkg.in/yaml.v2 v2.4.0 Marshal)", () => {
  it("has the reference table", () => {
    expect(CASES.length).toBeGreaterThan(400);
  });

  it("writes every reference case byte for byte", () => {
    const differing = CASES.filter((c) => ours(c) !== c[1]).map((c) => ({
      records: c[0],
      expected: c[1],
      ours: ours(c),
    }));
    expect(differing.slice(0, 5)).toEqual([]);
  });

  it("writes Go time.Time fields plain, strings that look like times quoted", () => {
    expect(
      goYamlList([{ created: "2026-01-01T00:00:00Z", customStatus: "2026-01-01T00:00:00Z" }], { times: ["created"] }),
    ).toBe('- created: 2026-01-01T00:00:00Z\n  customStatus: "2026-01-01T00:00:00Z"\n');
  });

  it("quotes what YAML 1.1 would read as another type", () => {
    expect(goYamlList([{ a: "on", b: "y", c: "1_000", d: "2026-01-01", e: "2026-01-01T00:00:00Z", f: "x" }])).toBe(
      '- a: "on"\n  b: "y"\n  c: "1_000"\n  d: "2026-01-01"\n  e: "2026-01-01T00:00:00Z"\n  f: x\n',
    );
  });
});
