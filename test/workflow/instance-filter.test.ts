import { describe, expect, it } from "vitest";
import { HousekeeperError } from "../../shared/errors.ts";
import {
  buildInstanceFilter,
  instanceFilter,
  parseAgeThreshold,
  parseRuntimeStatus,
} from "../../shared/workflow/instance-filter.ts";
import { RUNTIME_STATUSES } from "../../shared/workflow/runtime-status.ts";

describe("parseAgeThreshold", () => {
  const now = new Date("2024-06-01T12:00:00Z");

  it("a duration means now minus the duration", () => {
    expect(parseAgeThreshold("24h", { now }).toISOString()).toBe("2024-05-31T12:00:00.000Z");
    expect(parseAgeThreshold("1h30m", { now }).toISOString()).toBe("2024-06-01T10:30:00.000Z");
  });

  it("takes whole days too (30d = 720h), as every duration flag and policy does", () => {
    expect(parseAgeThreshold("30d", { now }).getTime()).toBe(parseAgeThreshold("720h", { now }).getTime());
    expect(() => parseAgeThreshold("7 d", { now })).toThrow(HousekeeperError);
  });

  it("a timestamp is taken as is", () => {
    expect(parseAgeThreshold("2024-05-01T00:00:00Z", { now }).toISOString()).toBe("2024-05-01T00:00:00.000Z");
  });

  it("rejects anything else, naming the value, the flag and the accepted forms", () => {
    const message = (text: string) => {
      try {
        parseAgeThreshold(text, { now, flag: "--filter-max-age" });
      } catch (error) {
        expect(error).toBeInstanceOf(HousekeeperError);
        expect((error as HousekeeperError).code).toBe("bad-input");
        return (error as Error).message;
      }
      throw new Error("expected an error");
    };
    expect(message("3x")).toMatch(/^invalid value "3x" for --filter-max-age: expected a Go duration .* RFC 3339/);
    expect(message("P30D")).toMatch(/ISO-8601 .* 720h/);
    expect(message("1.5d")).toMatch(/days must be whole/);
    expect(message("2024-01-02")).toMatch(/2024-01-02T00:00:00Z/);
  });
});

describe("parseRuntimeStatus", () => {
  it("accepts all nine statuses, case-insensitively, STALLED included", () => {
    for (const status of RUNTIME_STATUSES) {
      expect(parseRuntimeStatus(status)).toBe(status);
      expect(parseRuntimeStatus(status.toLowerCase())).toBe(status);
    }
    expect(parseRuntimeStatus("continued-as-new")).toBe("CONTINUED_AS_NEW");
  });

  it("rejects others, listing the accepted values", () => {
    expect(() => parseRuntimeStatus("DONE")).toThrow(
      /invalid value "DONE" for --filter-status: expected one of .*STALLED/,
    );
  });
});

describe("instance filter", () => {
  const now = new Date("2024-06-01T12:00:00Z");
  const instance = (name: string, status: (typeof RUNTIME_STATUSES)[number], created: string | undefined) => ({
    name,
    runtimeStatus: status,
    createdAt: created === undefined ? undefined : new Date(created),
  });

  it("matches everything when empty", () => {
    const filter = buildInstanceFilter({}, now);
    expect(filter.isEmpty).toBe(true);
    expect(filter.matches(instance("A", "PENDING", undefined))).toBe(true);
  });

  it("name is exact and case-sensitive", () => {
    const filter = buildInstanceFilter({ name: "OrderWorkflow" }, now);
    expect(filter.matches(instance("OrderWorkflow", "RUNNING", "2024-01-01T00:00:00Z"))).toBe(true);
    expect(filter.matches(instance("orderworkflow", "RUNNING", "2024-01-01T00:00:00Z"))).toBe(false);
    expect(filter.matches(instance("OrderWorkflow2", "RUNNING", "2024-01-01T00:00:00Z"))).toBe(false);
  });

  it("status is exact", () => {
    const filter = buildInstanceFilter({ status: "stalled" }, now);
    expect(filter.status).toBe("STALLED");
    expect(filter.matches(instance("A", "STALLED", "2024-01-01T00:00:00Z"))).toBe(true);
    expect(filter.matches(instance("A", "RUNNING", "2024-01-01T00:00:00Z"))).toBe(false);
  });

  it("max age keeps created at or after now - d and drops instances without a created time", () => {
    const filter = buildInstanceFilter({ maxAge: "24h" }, now);
    expect(filter.createdSince?.toISOString()).toBe("2024-05-31T12:00:00.000Z");
    expect(filter.matches(instance("A", "RUNNING", "2024-05-31T12:00:00.000Z"))).toBe(true);
    expect(filter.matches(instance("A", "RUNNING", "2024-05-31T11:59:59.999Z"))).toBe(false);
    expect(filter.matches(instance("A", "COMPLETED", "2024-06-01T11:00:00Z"))).toBe(true);
    expect(filter.matches(instance("A", "PENDING", undefined))).toBe(false);
  });

  it("combines criteria with AND", () => {
    const filter = instanceFilter({ name: "A", status: "FAILED", createdSince: new Date("2024-01-01T00:00:00Z") });
    expect(filter.matches(instance("A", "FAILED", "2024-02-01T00:00:00Z"))).toBe(true);
    expect(filter.matches(instance("B", "FAILED", "2024-02-01T00:00:00Z"))).toBe(false);
    expect(filter.matches(instance("A", "COMPLETED", "2024-02-01T00:00:00Z"))).toBe(false);
    expect(filter.matches(instance("A", "FAILED", "2023-12-31T00:00:00Z"))).toBe(false);
  });

  it("reports bad flags with the flag's name", () => {
    expect(() => buildInstanceFilter({ maxAge: "soon" }, now)).toThrow(/"soon" for --filter-max-age/);
    expect(() => buildInstanceFilter({ status: "nope" }, now)).toThrow(/"nope" for --filter-status/);
  });
});
