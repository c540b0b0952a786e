/**
 * What the per-function parts of the stack (infra/stack/*.ts) share: the stack's common resources and a way to add a
 * function. Each part adds its constructs in the stack's own scope, under the ids they always had, so the
 * CloudFormation logical IDs (and the deployed resources) stay the same; a Construct per function would move them.
 */
import type { RemovalPolicy, Stack } from "aws-cdk-lib";
import type { Key } from "aws-cdk-lib/aws-kms";
import type { RetentionDays } from "aws-cdk-lib/aws-logs";
import type { ScheduleGroup } from "aws-cdk-lib/aws-scheduler";
import type { Queue } from "aws-cdk-lib/aws-sqs";
import type { reminderStorageEnvSchema } from "../../functions/reminder-backup/settings.ts";
import type { stuckReportEnvSchema } from "../../functions/stuck-report/settings.ts";
import type { FunctionEnv } from "../../functions/support/env.ts";
import type { HousekeeperConfig } from "../config.ts";
import type { HousekeeperFunction, HousekeeperFunctionProps } from "../constructs/housekeeper-function.ts";
import type { Notifications } from "../constructs/monitoring.ts";
import type { SecretReferences } from "../constructs/secrets.ts";
import type { Storage } from "../constructs/storage.ts";

/** A function's size and placement, as each section of the configuration gives them. */
export interface FunctionTuning {
  memoryMb: number;
  timeoutSeconds: number;
  reservedConcurrency?: number | undefined;
  ephemeralStorageMb?: number | undefined;
  inVpc: boolean;
}

export interface StackContext {
  stack: Stack;
  config: HousekeeperConfig;
  key: Key | undefined;
  removalPolicy: RemovalPolicy;
  logRetention: RetentionDays;
  storage: Storage;
  bucketName: string;
  secrets: SecretReferences;
  notifications: Notifications;
  /** The schedules' and asynchronous invocations' dead-letter queue and schedule group (when anything is scheduled). */
  deadLetterQueue: Queue | undefined;
  scheduleGroup: ScheduleGroup | undefined;
  /** The Scheduler etcd's variables (empty without `scheduler`) and its TLS secret. */
  etcdEnv: FunctionEnv<typeof reminderStorageEnvSchema> & FunctionEnv<typeof stuckReportEnvSchema>;
  etcdSecretArns: string[];
  addFunction: (
    id: string,
    tuning: FunctionTuning,
    rest: Pick<HousekeeperFunctionProps, "name" | "description" | "environment" | "onAsyncFailure">,
  ) => HousekeeperFunction;
}
