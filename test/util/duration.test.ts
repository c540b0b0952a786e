/**
 * Go's time syntax (shared/util/duration.ts): time.ParseDuration's cases, RFC 3339, and what each door that reads a
 * duration takes: the same inputs through every rule and through the doors' own entry points.
 */
import { describe, expect, it } from "vitest";
import { retentionRulesSchema } from "../../shared/config/retention-policy.ts";
import { HousekeeperError } from "../../shared/errors.ts";
import {
  DURATION_DOORS,
  parseDuration,
  parseGoDuration,
  parseRfc3339,
  parseStatusDurations,
} from "../../shared/util/duration.ts";
import { durationSchema } from "../../shared/util/duration-schema.ts";
import { parseTimeout } from "../../shared/util/timeouts.ts";
import { parseAgeThreshold } from "../../shared/workflow/instance-filter.ts";

const H = 3_600_000;

describe("parseGoDuration (Go time.ParseDuration)", () => {
  it.each([
    ["24h", 24 * H],
    ["90m", 90 * 60_000],
    ["1h30m", 1.5 * H],
    ["720h", 720 * H],
    ["1.5h", 1.5 * H],
    [".5h", 0.5 * H],
    ["1.h", H],
    ["300ms", 300],
    ["45s", 45_000],
    ["2h45m30.5s", 2 * H + 45 * 60_000 + 30_500],
    ["1500us", 1.5],
    ["1500\u00b5s", 1.5],
    ["1500\u03bcs", 1.5],
    ["2000000ns", 2],
    ["0", 0],
    ["+5s", 5000],
    ["-1h", -H],
    ["1h1h", 2 * H],
  ])("%s", (text, ms) => {
    expect(parseGoDuration(text)).toBeCloseTo(ms, 9);
  });

  it.each(["", "24", "h", "3x", "1d", "7 d", ".s", "-", "1h ", " 1h", "P30D", "1e3s", "2562048h"])(
    "rejects %j",
    (text) => {
      expect(() => parseGoDuration(text)).toThrow(HousekeeperError);
    },
  );

  it("names the value and gives examples", () => {
    expect(() => parseGoDuration("3x")).toThrow(/invalid duration "3x": unknown unit "x".*examples: .*1h30m/);
  });
});

describe("parseRfc3339", () => {
  it("reads Z, offsets and fractions", () => {
    expect(parseRfc3339("2024-01-02T15:04:05Z")?.toISOString()).toBe("2024-01-02T15:04:05.000Z");
    expect(parseRfc3339("2024-01-02T15:04:05+02:00")?.toISOString()).toBe("2024-01-02T13:04:05.000Z");
    expect(parseRfc3339("2024-01-02T15:04:05.123456789-01:30")?.toISOString()).toBe("2024-01-02T16:34:05.123Z");
    expect(parseRfc3339("2024-02-29T00:00:00Z")?.toISOString()).toBe("2024-02-29T00:00:00.000Z");
  });

  it.each([
    "2024-01-02",
    "2024-01-02T15:04:05",
    "2024-01-02 15:04:05Z",
    "2024-13-01T00:00:00Z",
    "2023-02-29T00:00:00Z",
    "2024-01-02T24:00:00Z",
    "2024-01-02T15:04:05+2:00",
    "yesterday",
  ])("rejects %j", (text) => {
    expect(parseRfc3339(text)).toBeUndefined();
  });
});

const INPUTS = ["30d", "1h30m", "500ms", "1.5h", "-1s", "0", "abc", ""] as const;

/** What each door gives for INPUTS: milliseconds, or the end of its one-line error. */
const DOORS: Record<keyof typeof DURATION_DOORS, (number | string)[]> = {
  // ages, thresholds, retentions, policy values
  age: [
    30 * 24 * H,
    1.5 * H,
    500,
    1.5 * H,
    "must not be negative",
    0,
    "expected a number; use a Go duration like 90m, 1h30m or 720h, or whole days like 30d",
    "empty duration; use a Go duration like 90m, 1h30m or 720h, or whole days like 30d",
  ],
  // --start-time; --all-older-than and --filter-max-age (their own check refuses a negative age)
  signed: [
    30 * 24 * H,
    1.5 * H,
    500,
    1.5 * H,
    -1000,
    0,
    "expected a number; use a Go duration like 90m, 1h30m or 720h, or whole days like 30d",
    "empty duration; use a Go duration like 90m, 1h30m or 720h, or whole days like 30d",
  ],
  // network timeouts: days too (#13: one grammar), at most Node's longest timer
  timeout: [
    "must be at most 596h31m23s, the longest timer Node.js can set",
    1.5 * H,
    500,
    1.5 * H,
    "must be at least 1ms",
    "must be at least 1ms",
    "expected a number; use a Go duration like 10s, 1m30s or 500ms, or whole days like 1d",
    "empty duration; use a Go duration like 10s, 1m30s or 500ms, or whole days like 1d",
  ],
};

describe("what each door takes", () => {
  for (const [door, expected] of Object.entries(DOORS) as [keyof typeof DURATION_DOORS, (number | string)[]][]) {
    it.each(INPUTS.map((text, i) => [text, expected[i]!] as const))(`${door}: %j`, (text, want) => {
      const parse = () => parseDuration(text, { ...DURATION_DOORS[door], what: "value" });
      if (typeof want === "number") expect(parse()).toBe(want);
      else expect(parse).toThrow(new HousekeeperError("bad-input", `invalid value "${text}": ${want}`));
    });
  }

  it("days are whole and unsigned, blanks around the value ignored", () => {
    expect(parseDuration(" 7d ", DURATION_DOORS.age)).toBe(parseGoDuration("168h"));
    for (const text of ["7 d", "1.5d", "-1d", "7D"])
      expect(() => parseDuration(text, DURATION_DOORS.signed)).toThrow(HousekeeperError);
  });

  it("the doors' own entry points follow their rules", () => {
    // network timeouts (--connect-timeout, HOUSEKEEPER_REQUEST_TIMEOUT, infra `timeouts`): whole milliseconds
    expect(parseTimeout("1.5ms", "--connect-timeout")).toBe(2);
    expect(parseTimeout("1d", "--connect-timeout")).toBe(24 * H);
    // Node's timers hold at most 2^31-1 ms: 720h would fire at once (TimeoutOverflowWarning), so it is refused.
    expect(parseTimeout("596h", "--request-timeout")).toBe(596 * H);
    expect(() => parseTimeout("720h", "--request-timeout")).toThrow(
      'invalid --request-timeout "720h": must be at most 596h31m23s, the longest timer Node.js can set',
    );
    // retention policy values
    expect(retentionRulesSchema.parse({ COMPLETED: "30d", FAILED: "1h30m" })).toEqual({
      COMPLETED: 30 * 24 * H,
      FAILED: 1.5 * H,
    });
    expect(retentionRulesSchema.safeParse({ COMPLETED: "-1s" }).error?.issues[0]?.message).toBe(
      'invalid duration "-1s": must not be negative',
    );
    // stuck report lists (--threshold, --retention, THRESHOLDS, RETENTION)
    expect(parseStatusDurations("running=24h,ANY=7d", ["RUNNING", "PENDING"], "--threshold")).toEqual({
      RUNNING: 24 * H,
      PENDING: 7 * 24 * H,
    });
    expect(() => parseStatusDurations("RUNNING=-1s", ["RUNNING"], "--threshold")).toThrow(
      'invalid --threshold for RUNNING "-1s": must not be negative',
    );
    // ages: a negative one is refused by the door itself
    const now = new Date("2024-06-01T00:00:00Z");
    expect(parseAgeThreshold("30d", { now }).toISOString()).toBe("2024-05-02T00:00:00.000Z");
    expect(() => parseAgeThreshold("-1s", { now, flag: "--all-older-than" })).toThrow(
      'invalid value "-1s" for --all-older-than: an age must not be negative',
    );
  });

  it("durationSchema gives the same line as a zod issue", () => {
    const result = durationSchema(DURATION_DOORS.age).safeParse("abc");
    expect(result.error?.issues.map((i) => i.message)).toEqual([
      'invalid duration "abc": expected a number; use a Go duration like 90m, 1h30m or 720h, or whole days like 30d',
    ]);
  });
});
