/**
 * The retention policy's cross-field rules: direct mode deletes the purged instances' Scheduler reminders, so every
 * target needs its `scheduler` (dry runs too); sidecar mode does not.
 */
import { describe, expect, it } from "vitest";
import { parseRetentionPolicy } from "../../shared/config/retention-policy.ts";
import { HousekeeperError } from "../../shared/errors.ts";

const stateStore = { connectionString: "env:STATE" };
const scheduler = { etcdEndpoints: ["127.0.0.1:2379"] };

describe("retention policy: direct mode needs the Scheduler", () => {
  it("refuses a direct target without a scheduler, naming the target", () => {
    const error = (() => {
      try {
        parseRetentionPolicy({
          retention: { COMPLETED: "30d" },
          mode: "direct",
          targets: [
            { appId: "orders", stateStore, scheduler },
            { appId: "billing", namespace: "prod", stateStore },
          ],
        });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(HousekeeperError);
    expect((error as HousekeeperError).code).toBe("bad-input");
    expect((error as Error).message).toBe(
      "invalid retention policy: targets.1.scheduler: direct mode needs the Scheduler of target prod/billing " +
        "(scheduler.etcdEndpoints), to delete its purged instances' reminders",
    );
  });

  it("refuses it in a dry run too", () => {
    expect(() =>
      parseRetentionPolicy({
        retention: { COMPLETED: "30d" },
        mode: "direct",
        dryRun: true,
        targets: [{ appId: "orders", stateStore }],
      }),
    ).toThrow(/^invalid retention policy: targets\.0\.scheduler: .*target default\/orders/);
  });

  it("accepts direct targets with a scheduler, and sidecar targets without one", () => {
    expect(
      parseRetentionPolicy({
        retention: { COMPLETED: "30d" },
        mode: "direct",
        targets: [{ appId: "a", stateStore, scheduler }],
      }).targets[0]!.scheduler,
    ).toEqual(scheduler);
    expect(
      parseRetentionPolicy({
        retention: { COMPLETED: "30d" },
        targets: [{ appId: "a", stateStore, sidecar: { url: "http://127.0.0.1:3500" } }],
      }).mode,
    ).toBe("sidecar");
  });
});
