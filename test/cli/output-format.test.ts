import { describe, expect, it } from "vitest";
import {
  GO_ZERO_TIME,
  goFixed,
  goJsonIndent,
  goJsonString,
  humanDuration,
  humanizeDuration,
  rfc3339Seconds,
} from "../../cli/output/go-format.ts";
import { displayWidth, renderTable, sanitizeCell, TableLayout, titleCase } from "../../cli/output/table.ts";

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

describe("humanDuration (k8s.io/apimachinery HumanDuration, its own test table)", () => {
  it.each([
    [S, "1s"],
    [70 * S, "70s"],
    [190 * S, "3m10s"],
    [70 * M, "70m"],
    [47 * H, "47h"],
    [49 * H, "2d1h"],
    [(8 * 24 + 2) * H, "8d"],
    [367 * D, "367d"],
    [(365 * 2 * 24 + 25) * H, "2y1d"],
    [(365 * 8 * 24 + 2) * H, "8y"],
    // TestHumanDurationBoundaries
    [-2 * S, "<invalid>"],
    [-2 * S + 1, "0s"],
    [0, "0s"],
    [S - 1, "0s"],
    [2 * M - 1, "119s"],
    [2 * M, "2m"],
    [2 * M + S, "2m1s"],
    [10 * M - 1, "9m59s"],
    [10 * M, "10m"],
    [10 * M + S, "10m"],
    [3 * H - 1, "179m"],
    [3 * H, "3h"],
    [3 * H + M, "3h1m"],
    [8 * H - 1, "7h59m"],
    [8 * H, "8h"],
    [8 * H + 59 * M, "8h"],
    [2 * D - 1, "47h"],
    [2 * D, "2d"],
    [2 * D + H, "2d1h"],
    [8 * D - 1, "7d23h"],
    [8 * D, "8d"],
    [8 * D + 23 * H, "8d"],
    [2 * 365 * D - 1, "729d"],
    [2 * 365 * D, "2y"],
    [2 * 365 * D + 23 * H + 59 * M, "2y"],
    [2 * 365 * D + D - 1, "2y"],
    [2 * 365 * D + D, "2y1d"],
    [7 * 365 * D, "7y"],
    [8 * 365 * D - 1, "7y364d"],
    [8 * 365 * D, "8y"],
    [8 * 365 * D + 364 * D, "8y"],
    [9 * 365 * D, "9y"],
  ])("%d ms -> %s", (ms, text) => {
    expect(humanDuration(ms)).toBe(text);
  });
});

describe("humanizeDuration (dapr/cli utils.HumanizeDuration)", () => {
  it.each([
    [0, ""],
    [999, "999ns"],
    [1_500, "1.5\u00b5s"],
    [1_250_000, "1.2ms"], // exact tie: Go rounds half to even
    [200_000_000, "200.0ms"],
    [1_125_000_000, "1.12s"],
    [1_800_000_000, "1.80s"],
    [59_999_000_000, "60.00s"],
    [90_000_000_000, "1.5m"],
    [7_200_000_000_000, "2.0h"],
    [-90_000_000_000, "1.5m"],
  ])("%d ns -> %s", (ns, text) => {
    expect(humanizeDuration(ns)).toBe(text);
  });
});

describe("goFixed (Go %.Nf)", () => {
  it.each([
    [1.125, 2, "1.12"],
    [1.375, 2, "1.38"],
    [0.25, 1, "0.2"],
    [0.75, 1, "0.8"],
    [0.35, 1, "0.3"],
    [2.5, 0, "2"],
    [3.5, 0, "4"],
    [1.26, 1, "1.3"],
    [72.04, 1, "72.0"],
  ])("%d with %d digits -> %s", (x, digits, text) => {
    expect(goFixed(x, digits)).toBe(text);
  });
});

describe("times and JSON", () => {
  it("RFC 3339 truncated to seconds in UTC; the Go zero time when unknown", () => {
    expect(rfc3339Seconds(new Date("2024-03-04T05:06:07.999Z"))).toBe("2024-03-04T05:06:07Z");
    expect(rfc3339Seconds(undefined)).toBe(GO_ZERO_TIME);
  });

  it("escapes strings like Go encoding/json", () => {
    expect(goJsonString('a<b>&"c"\n\u2028')).toBe('"a\\u003cb\\u003e\\u0026\\"c\\"\\n\\u2028"');
  });

  it("lays out like json.MarshalIndent with two spaces, skipping undefined keys", () => {
    const value = [{ a: "x", b: 1, c: null, d: undefined, e: [], f: { g: true } }];
    expect(goJsonIndent(value)).toBe(
      '[\n  {\n    "a": "x",\n    "b": 1,\n    "c": null,\n    "e": [],\n    "f": {\n      "g": true\n    }\n  }\n]',
    );
    const plain = [{ name: "x", n: 2, nested: { k: ["a", "b"] } }];
    expect(goJsonIndent(plain)).toBe(JSON.stringify(plain, null, 2));
  });
});

describe("Dapr table", () => {
  it("sanitizes cells and title-cases headers like tablewriter", () => {
    expect(sanitizeCell("  a\r\nb\t\tc  ")).toBe("a b c");
    expect(titleCase("EXECUTION_ID")).toBe("EXECUTION ID");
    expect(titleCase("Name")).toBe("NAME");
    expect(titleCase("v1.2")).toBe("V1.2");
  });

  it("measures East Asian wide characters as two columns", () => {
    expect(displayWidth("abc")).toBe(3);
    expect(displayWidth("注文")).toBe(4);
    expect(displayWidth("e\u0301")).toBe(1);
  });

  it("pads columns, separates them by two spaces, and drops all-blank columns", () => {
    const text = renderTable(
      ["NAME", "ID", "CUSTOM STATUS", "AGE"],
      [
        ["Order", "a-1", "", "5m"],
        ["Payment", "b", "", "12h"],
      ],
    );
    expect(text).toBe("NAME     ID   AGE\nOrder    a-1  5m\nPayment  b    12h\n");
  });

  it("keeps every column when all are blank, and aligns a row whose first cell is blank", () => {
    expect(renderTable(["A", "B"], [["", ""]])).toBe("A  B\n\n");
    expect(
      renderTable(
        ["A", "B"],
        [
          ["", "x"],
          ["long", "y"],
        ],
      ),
    ).toBe("A     B\n      x\nlong  y\n");
  });

  it("streams: widths come from observe(), lines can be printed in any order", () => {
    const layout = new TableLayout(["X", "Y"]);
    const rows = [
      ["1", "short"],
      ["22222", "s"],
    ];
    for (const r of rows) layout.observe(r);
    expect([layout.header(), layout.line(rows[1]!), layout.line(rows[0]!)]).toEqual([
      "X      Y",
      "22222  s",
      "1      short",
    ]);
  });
});
