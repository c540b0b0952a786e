/**
 * The retention policy: which terminal instances to purge, after how long, and how. One schema for the Lambda's
 * scheduled input, `housekeeper retention run --policy policy.json`, and the tests.
 */
import { z } from "zod";
import { HousekeeperError } from "../errors.ts";
import { DURATION_DOORS } from "../util/duration.ts";
import { durationSchema } from "../util/duration-schema.ts";
import { formatIssues } from "../util/zod-issues.ts";
import { TERMINAL_STATUS_NAMES } from "../workflow/status-names.ts";
import { targetSchema } from "./target.ts";

/** A retention: a Go duration (`720h`) or whole days (`30d`), never negative. */
const policyDuration = durationSchema(DURATION_DOORS.age);

export const retentionRulesSchema = z
  .partialRecord(z.enum(TERMINAL_STATUS_NAMES), policyDuration)
  .refine((rules) => Object.keys(rules).length > 0, 'retention needs at least one status, e.g. {"COMPLETED": "30d"}');

export const retentionPolicySchema = z
  .object({
    /** Retention per terminal status; statuses not listed are kept. */
    retention: retentionRulesSchema,
    /** Age from completion (default) or from creation (the Dapr CLI's --all-older-than). */
    ageFrom: z.enum(["completed", "created"]).default("completed"),
    mode: z.enum(["sidecar", "direct"]).default("sidecar"),
    dryRun: z.boolean().default(false),
    /** Purge attempts per run (per invocation); the continuation token carries on. */
    maxInstancesPerRun: z.number().int().positive().optional(),
    concurrency: z.number().int().min(1).max(256).default(20),
    /** Purge child workflows with their parent (Dapr's purge API does). */
    recursive: z.boolean().default(true),
    /**
     * After a target's purge: `delete` also deletes its orphan reminders (those whose instance has no state or has
     * finished; shared/jobs/orphan-reminders.ts), needing the target's Scheduler. Default `keep`.
     */
    orphanReminders: z.enum(["keep", "delete"]).default("keep"),
    targets: z.array(targetSchema).min(1, "the policy needs at least one target"),
  })
  .strict()
  .superRefine((policy, ctx) => {
    policy.targets.forEach((target, i) => {
      if (policy.mode === "sidecar" && !policy.dryRun && !target.sidecar) {
        ctx.addIssue({
          code: "custom",
          path: ["targets", i, "sidecar"],
          message: "sidecar mode needs the target's sidecar",
        });
      }
      // Direct mode deletes the instances' reminders with their state; without the Scheduler they would be left
      // behind. Dry runs too, so a dry run that is accepted means the real run will be.
      if (policy.orphanReminders === "delete" && !target.scheduler) {
        ctx.addIssue({
          code: "custom",
          path: ["targets", i, "scheduler"],
          message: `orphanReminders "delete" needs the Scheduler of target ${target.namespace}/${target.appId} (scheduler.etcdEndpoints)`,
        });
      } else if (policy.mode === "direct" && !target.scheduler) {
        ctx.addIssue({
          code: "custom",
          path: ["targets", i, "scheduler"],
          message: `direct mode needs the Scheduler of target ${target.namespace}/${target.appId} (scheduler.etcdEndpoints), to delete its purged instances' reminders`,
        });
      }
    });
  });

export type RetentionPolicy = z.infer<typeof retentionPolicySchema>;

/** Parses a policy (already JSON-decoded); every problem is named with its path in one error. */
export function parseRetentionPolicy(input: unknown): RetentionPolicy {
  const parsed = retentionPolicySchema.safeParse(input);
  if (!parsed.success) {
    throw new HousekeeperError(
      "bad-input",
      `invalid retention policy: ${formatIssues(parsed.error, { root: "(policy)" })}`,
    );
  }
  return parsed.data;
}
