/**
 * Dapr's Scheduler key layout and the Dapr CLI's display names, both ways (facts: dapr/cli pkg/scheduler, dapr/dapr
 * pkg/scheduler/server/internal/serialize), and the schema round trip of realistic values.
 */
import { describe, expect, it } from "vitest";
import { buildSeed, seedKeyAndMetadata } from "../../shared/sample-data/scheduler-jobs.ts";
import {
  counterKeyOf,
  deleteAllSelection,
  displayName,
  displayNameFromKey,
  instanceReminderSelection,
  jobKeyOf,
  jobKind,
  keysForDisplayName,
  matchesFilter,
  normalizePrefixes,
  parseDisplayName,
  parseJobKey,
} from "../../shared/scheduler/keys.ts";
import {
  decodeJobMetadata,
  decodeStoredCounter,
  decodeStoredJob,
  encodeStoredCounter,
  JOB_METADATA_TYPE_URL,
} from "../../shared/scheduler/schema.ts";
import { compareUtf8 } from "../../shared/util/compare-utf8.ts";

const WF = "dapr.internal.default.my-app.workflow";
const ACT = "dapr.internal.default.my-app.activity";

describe("display names", () => {
  it.each([
    [
      { workflow: { appId: "my-app", instanceId: "inst-1" } },
      "new-event-abc",
      `dapr/jobs/actorreminder||default||${WF}||inst-1||new-event-abc`,
      "workflow/my-app/inst-1/new-event-abc",
    ],
    [
      { activity: { appId: "my-app", activityId: "inst-1::0::1" } },
      "ignored",
      `dapr/jobs/actorreminder||default||${ACT}||inst-1::0::1||run-activity`,
      "activity/my-app/inst-1::0::1",
    ],
    [
      { actor: { type: "Cart", id: "c-7" } },
      "flush",
      "dapr/jobs/actorreminder||default||Cart||c-7||flush",
      "actor/Cart/c-7/flush",
    ],
    [{ app: "billing" }, "nightly", "dapr/jobs/app||default||billing||nightly", "app/billing/nightly"],
  ] as const)("%j %s ⇄ %s", (target, name, key, display) => {
    const { key: built, metadata } = seedKeyAndMetadata({ target, name });
    expect(built).toBe(key);
    expect(displayName(key, metadata)).toBe(display);
    expect(displayNameFromKey(key)).toBe(display);
    expect(keysForDisplayName(display, "default")).toEqual({ job: key, counter: counterKeyOf(key) });
  });

  it("uses the key's text after the LAST || and the metadata's app and actor, like the CLI", () => {
    const meta = {
      appId: "a",
      namespace: "ns",
      target: { actor: { type: "dapr.internal.ns.shop.workflow", id: "i" } },
    };
    expect(displayName("dapr/jobs/whatever||x||timer-1", meta)).toBe("workflow/shop/i/timer-1");
    expect(displayName("dapr/jobs/app||ns||a||n", { appId: "a", namespace: "ns" })).toBe("n");
  });

  it("classifies kinds and applies filters (a job without target passes every filter)", () => {
    const k = (type: string) => jobKind({ appId: "", namespace: "d", target: { actor: { type, id: "x" } } });
    expect(k(WF)).toBe("workflow");
    expect(k(ACT)).toBe("activity");
    expect(k("Cart")).toBe("actor");
    expect(k("dapr.internal.default.my-app.other")).toBe("actor");
    expect(jobKind({ appId: "a", namespace: "d", target: { job: {} } })).toBe("app");
    expect(jobKind({ appId: "a", namespace: "d" })).toBe("unknown");
    expect(matchesFilter("unknown", "workflow")).toBe(true);
    expect(matchesFilter("actor", "workflow")).toBe(false);
    expect(matchesFilter("actor", "all")).toBe(true);
  });

  it("parses display names with the CLI's rules and messages", () => {
    expect(parseDisplayName("workflow/a/i/r")).toEqual({ kind: "workflow", appId: "a", instanceId: "i", name: "r" });
    expect(() => parseDisplayName("workflow/a/i")).toThrow(
      "expecting workflow key to be in format 'workflow/{app ID}/{instance ID}/{name}', got 'workflow/a/i'",
    );
    expect(() => parseDisplayName("activity/a/x/y")).toThrow("expecting activity key to be in format");
    expect(() => parseDisplayName("app")).toThrow("failed to parse job key");
    expect(() => parseDisplayName("job/a/b")).toThrow(
      "unsupported job type 'job', accepts 'app', 'actor', 'workflow', or 'activity'",
    );
  });

  it("parses keys of exactly Dapr's shape only", () => {
    expect(parseJobKey("dapr/counters/app||ns||a||j")).toEqual({
      section: "counters",
      type: "app",
      namespace: "ns",
      appId: "a",
      name: "j",
    });
    expect(parseJobKey("dapr/jobs/app||ns||a")).toBeUndefined();
    expect(parseJobKey("other/jobs/app||ns||a||j")).toBeUndefined();
    expect(jobKeyOf("dapr/counters/x")).toBe("dapr/jobs/x");
  });
});

describe("delete-all prefixes (dapr/cli pkg/scheduler/deleteall.go)", () => {
  const jobs = (prefix: string, ns = "default") => deleteAllSelection(prefix, ns).jobs;

  it.each([
    ["all", ["dapr/jobs/app||default||", "dapr/jobs/actorreminder||default||"]],
    ["app", ["dapr/jobs/app||default||"]],
    ["app/my-app", ["dapr/jobs/app||default||my-app||"]],
    ["actor/Cart", ["dapr/jobs/actorreminder||default||Cart||"]],
    ["actor/Cart/c-1", ["dapr/jobs/actorreminder||default||Cart||c-1||"]],
    ["workflow", ["dapr/jobs/actorreminder||default||dapr.internal.default."]],
    ["workflow/my-app", [`dapr/jobs/actorreminder||default||${WF}||`, `dapr/jobs/actorreminder||default||${ACT}||`]],
    [
      "workflow/my-app/instance1",
      [`dapr/jobs/actorreminder||default||${WF}||instance1||`, `dapr/jobs/actorreminder||default||${ACT}||instance1::`],
    ],
  ])("%s", (prefix, expected) => {
    expect(jobs(prefix)).toEqual(expected);
    expect(deleteAllSelection(prefix, "default").counters).toEqual(
      expected.map((p) => p.replace("dapr/jobs/", "dapr/counters/")),
    );
  });

  it("workflow/my-app does not reach my-app2, and the namespace is part of every prefix", () => {
    const other = `dapr/jobs/actorreminder||default||dapr.internal.default.my-app2.workflow||i||r`;
    expect(jobs("workflow/my-app").some((p) => other.startsWith(p))).toBe(false);
    expect(jobs("app/x", "prod")).toEqual(["dapr/jobs/app||prod||x||"]);
  });

  it.each([
    ["all/x", "invalid key format: all/x"],
    ["app/a/b", "invalid key format: app/a/b"],
    ["actor", "invalid key format: actor"],
    ["workflow/a/b/c", "invalid key format: workflow/a/b/c"],
    ["activity/a", "unknown key prefix: activity"],
  ])("%s is refused", (prefix, message) => {
    expect(() => deleteAllSelection(prefix, "default")).toThrow(message);
  });

  it("instance reminders: the workflow and retentioner actors exactly, its activities by `<instance>::`", () => {
    const sel = instanceReminderSelection({ appId: "my-app", namespace: "default" }, "a/b");
    expect(sel.jobs).toEqual([
      `dapr/jobs/actorreminder||default||${WF}||a/b||`,
      `dapr/jobs/actorreminder||default||${ACT}||a/b::`,
      "dapr/jobs/actorreminder||default||dapr.internal.default.my-app.retentioner||a/b||",
    ]);
    expect(sel.counters[0]).toBe(`dapr/counters/actorreminder||default||${WF}||a/b||`);
  });
});

describe("ordering", () => {
  it("compareUtf8 orders by code point (etcd / Go order), unlike JS < on surrogates", () => {
    const astral = "\u{1F600}"; // surrogate pair D83D DE00
    const bmpHigh = "\uFF21"; // fullwidth A
    expect(astral < bmpHigh).toBe(true); // JS: UTF-16 code units
    expect(compareUtf8(astral, bmpHigh)).toBeGreaterThan(0);
    expect(Buffer.compare(Buffer.from(astral), Buffer.from(bmpHigh))).toBeGreaterThan(0);
    expect(compareUtf8("a", "ab")).toBeLessThan(0);
  });

  it("normalizePrefixes drops covered prefixes and sorts", () => {
    expect(normalizePrefixes(["dapr/jobs/b", "dapr/jobs/", "dapr/jobs/a"])).toEqual(["dapr/jobs/"]);
    expect(normalizePrefixes(["b||", "a||", "a||x"])).toEqual(["a||", "b||"]);
  });
});

describe("stored values", () => {
  it("round-trips a workflow reminder and its counter", () => {
    const built = buildSeed({
      target: { workflow: { appId: "my-app", instanceId: "i-1" } },
      name: "timer-0",
      begin: new Date("2026-02-03T04:05:06.789Z"),
      ttl: "1h",
      repeats: 3,
      expiration: new Date("2026-03-01T00:00:00Z"),
      counter: { count: 2, lastTrigger: new Date("2026-02-03T05:00:00Z"), attempts: 1 },
    });
    const job = decodeStoredJob(built.job.value);
    expect(job.partitionId).toBe("1234567890123456789");
    expect(job.begin).toEqual({ kind: "dueTime", time: { seconds: 1_770_091_506, nanos: 789_000_000 } });
    expect(job.expiration?.seconds).toBe(Date.parse("2026-03-01T00:00:00Z") / 1000);
    expect(job.job?.dueTime).toBe("2026-02-03T04:05:06.789Z");
    expect(job.job?.ttl).toBe("1h");
    expect(job.job?.repeats).toBe(3);
    expect(job.job?.failurePolicy?.constant?.interval?.seconds).toBe(5);
    expect(job.job?.metadata?.typeUrl).toBe(JOB_METADATA_TYPE_URL);
    expect(decodeJobMetadata(job.job?.metadata)).toEqual({
      appId: "my-app",
      namespace: "default",
      target: { actor: { type: WF, id: "i-1" } },
    });
    const counter = decodeStoredCounter(built.counter!.value);
    expect(counter).toEqual({
      jobPartitionId: "1234567890123456789",
      count: 2,
      attempts: 1,
      lastTrigger: { seconds: Date.parse("2026-02-03T05:00:00Z") / 1000, nanos: 0 },
    });
  });

  it("keeps fields at their Go field numbers (hand-checked wire bytes)", () => {
    // Counter{count: 5 (field 2, varint), last_trigger: {seconds: 1} (field 3, bytes)}
    const bytes = encodeStoredCounter({
      jobPartitionId: "0",
      count: 5,
      attempts: 0,
      lastTrigger: { seconds: 1, nanos: 0 },
    });
    expect(Buffer.from(bytes).toString("hex")).toBe("10051a020801");
  });

  it("refuses values that are not the protobuf they claim to be", () => {
    expect(() => decodeStoredJob(Uint8Array.of(0x0a, 0x05, 0x01))).toThrow(/not a valid stored job/);
    expect(() => decodeJobMetadata({ typeUrl: "type.googleapis.com/other.Thing", value: new Uint8Array(0) })).toThrow(
      /expected "type.googleapis.com\/dapr.proto.scheduler.v1.JobMetadata"/,
    );
    expect(() => decodeJobMetadata(undefined)).toThrow("job has no metadata");
  });
});
