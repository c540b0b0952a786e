/** The retention purge: its function, the Step Functions loop (when `invoke: state-machine`) and its schedule. */
import { purgeEnvSchema } from "../../functions/purge/settings.ts";
import { functionEnvironment } from "../../functions/support/env.ts";
import { parseRetentionPolicy } from "../../shared/config/retention-policy.ts";
import { purgeShardItems } from "../config.ts";
import { PurgeStateMachine } from "../constructs/purge-state-machine.ts";
import { ScheduledJob } from "../constructs/scheduled-job.ts";
import { secretArnsIn } from "../constructs/secrets.ts";
import type { StackContext } from "./context.ts";

/** Adds the purge when configured; returns its state machine, if it has one. */
export function addPurge(ctx: StackContext): PurgeStateMachine | undefined {
  const { stack, config, storage, deadLetterQueue: dlq } = ctx;
  const purge = config.purge;
  if (!purge?.enabled) return undefined;
  const prefixes = config.storage.prefixes;
  const viaStateMachine = purge.invoke === "state-machine";
  const fn = ctx.addFunction("Purge", purge, {
    name: "purge",
    description: "dapr-housekeeper: retention purge of terminal workflow instances",
    environment: functionEnvironment(purgeEnvSchema, {
      REPORT_BUCKET: ctx.bucketName,
      REPORT_PREFIX: prefixes.purgeReports,
      SAFETY_MARGIN_MS: purge.safetyMarginSeconds * 1000,
    }),
    onAsyncFailure: viaStateMachine ? undefined : { queue: dlq!, retryAttempts: 0 },
  });
  storage.grantPrefix(fn.role, prefixes.purgeReports, { write: true });
  ctx.secrets.grantRead(fn.role, secretArnsIn(purge.policy));
  const input = { policy: purge.policy };
  let stateMachine: PurgeStateMachine | undefined;
  if (viaStateMachine) {
    stateMachine = new PurgeStateMachine(stack, "PurgeLoop", {
      purgeFunction: fn.fn,
      functionTimeoutSeconds: purge.timeoutSeconds,
      items: purgeShardItems(parseRetentionPolicy(purge.policy).targets, purge.stateMachine.shards),
      maxConcurrency: purge.stateMachine.maxConcurrency,
      toleratedFailurePercentage: purge.stateMachine.toleratedFailurePercentage,
      maxInvocationsPerTarget: purge.stateMachine.maxInvocationsPerTarget,
      timeoutHours: purge.stateMachine.timeoutHours,
      logRetention: ctx.logRetention,
      removalPolicy: ctx.removalPolicy,
    });
  }
  new ScheduledJob(stack, "PurgeSchedule", {
    description: "dapr-housekeeper retention purge",
    settings: purge.schedule,
    target: stateMachine ? { stateMachine: stateMachine.stateMachine } : { function: fn.fn },
    input,
    deadLetterQueue: dlq!,
    group: ctx.scheduleGroup!,
  });
  return stateMachine;
}
