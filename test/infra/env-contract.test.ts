/**
 * The environment contract between the stack and the functions: every synthesized function's
 * Environment.Variables (CloudFormation tokens replaced by plausible values) go through that function's own
 * settings parser, and a variable the function does not read fails, as does one it needs and does not get.
 */
import { describe, expect, it } from "vitest";
import { purgeEnvSchema, purgeFunctionSettings } from "../../functions/purge/settings.ts";
import { reminderBackupEnvSchema, reminderBackupSettings } from "../../functions/reminder-backup/settings.ts";
import { reminderRestoreEnvSchema, reminderRestoreSettings } from "../../functions/reminder-restore/settings.ts";
import { stuckReportEnvSchema, stuckReportSettings } from "../../functions/stuck-report/settings.ts";
import { envNames, functionEnvironment } from "../../functions/support/env.ts";
import { webhookEnvSchema, webhookFunctionSettings } from "../../functions/webhook/settings.ts";
import type { HousekeeperConfig } from "../../infra/config.ts";
import type { FunctionName } from "../../infra/constructs/housekeeper-function.ts";
import { exampleConfig, type JsonObject, MISSING_ENTRIES, SYNTH_TIMEOUT_MS, synth } from "./support.ts";

const SECRET = (name: string) => `arn:aws:secretsmanager:eu-west-1:123456789012:secret:housekeeper/${name}-AbCdEf`;

/** What the tokens the stack puts in environments stand for once deployed. */
const PLAUSIBLE: Record<string, string> = {
  REPORT_BUCKET: "housekeeper-bucket",
  BACKUP_BUCKET: "housekeeper-bucket",
  SNS_TOPIC_ARN: "arn:aws:sns:eu-west-1:123456789012:housekeeper-notifications",
  IDEMPOTENCY_TABLE: "housekeeper-deliveries",
};

/** Each function: its env schema and its parser, with the input the stack gives it (the schedule's, or a request). */
function contract(name: FunctionName, config: HousekeeperConfig) {
  switch (name) {
    case "purge":
      return {
        schema: purgeEnvSchema,
        parse: (env: NodeJS.ProcessEnv) => purgeFunctionSettings(env, { policy: config.purge!.policy }),
      };
    case "stuck-report":
      return {
        schema: stuckReportEnvSchema,
        parse: (env: NodeJS.ProcessEnv) => stuckReportSettings(env, config.stuckReport!.input),
      };
    case "reminder-backup":
      return {
        schema: reminderBackupEnvSchema,
        parse: (env: NodeJS.ProcessEnv) => reminderBackupSettings(env, config.reminderBackup!.input),
      };
    case "reminder-restore":
      return {
        schema: reminderRestoreEnvSchema,
        parse: (env: NodeJS.ProcessEnv) => reminderRestoreSettings(env, { backupKey: "latest" }),
      };
    case "webhook":
      return { schema: webhookEnvSchema, parse: (env: NodeJS.ProcessEnv) => webhookFunctionSettings(env) };
  }
}

/** The synthesized functions' environments, by function name, tokens resolved. */
function environments(config: HousekeeperConfig): Map<FunctionName, Record<string, string>> {
  const { template } = synth(config, { bundle: false });
  const out = new Map<FunctionName, Record<string, string>>();
  for (const [id, fn] of Object.entries(template.findResources("AWS::Lambda::Function") as JsonObject)) {
    const variables = (fn.Properties.Environment?.Variables ?? {}) as JsonObject;
    const name = variables.POWERTOOLS_SERVICE_NAME as FunctionName | undefined;
    if (!name) continue; // a CDK helper function (log retention, bucket notifications), not one of ours
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(variables)) {
      if (typeof value === "string") env[key] = value;
      else if (PLAUSIBLE[key]) env[key] = PLAUSIBLE[key];
      else
        throw new Error(
          `${id} (${name}) ${key}: a token with no plausible value in this test: ${JSON.stringify(value)}`,
        );
    }
    out.set(name, env);
  }
  return out;
}

function checkAll(config: HousekeeperConfig, expected: FunctionName[]): void {
  const envs = environments(config);
  expect([...envs.keys()].sort()).toEqual([...expected].sort());
  for (const [name, env] of envs) {
    const { schema, parse } = contract(name, config);
    const known = envNames(schema);
    const unknown = Object.keys(env).filter((k) => !known.has(k));
    expect(unknown, `${name}: variables the function does not read`).toEqual([]);
    // Missing or malformed ones: the parser names them (HousekeeperError("bad-input")).
    expect(() => parse(env), `${name}: its environment through its own parser`).not.toThrow();
  }
}

const ALL = (["purge", "stuck-report", "reminder-backup", "reminder-restore", "webhook"] as FunctionName[]).filter(
  (n) => !MISSING_ENTRIES.includes(n),
);

describe("environment contract", () => {
  it(
    "the example configuration: every function's environment is exactly what its settings parser reads",
    () => checkAll(exampleConfig(), ALL),
    SYNTH_TIMEOUT_MS,
  );

  it(
    "every optional variable set: timeouts, etcd TLS, Redis idempotency, the stuck report's extra environment",
    () => {
      const config = exampleConfig((raw) => {
        raw.timeouts = { connect: "5s", request: "30s" };
        raw.scheduler.etcd.tlsSecretArn = SECRET("etcd-tls");
        raw.scheduler.etcd.keyRoot = "tenant/dapr/";
        raw.stuckReport.environment = {
          ...raw.stuckReport.environment,
          RETENTION: "COMPLETED=720h,FAILED=90d",
          TIMER_OVERDUE: "2h",
          PAGE_SIZE: "100",
        };
        raw.reminderBackup.keepLast = 10;
        raw.reminderBackup.keepWithin = "30d";
        raw.reminderBackup.reminderPrefix = "workflow/orders";
        if (raw.webhook) {
          raw.webhook.idempotencyRedisUrlSecretArn = SECRET("redis-url");
          raw.webhook.daprApiTokenSecretArn = SECRET("dapr-token");
          raw.webhook.secretMaxAgeSeconds = 60;
        }
      });
      checkAll(config, ALL);
    },
    SYNTH_TIMEOUT_MS,
  );

  it("the configuration refuses a stuck-report variable the function does not read", () => {
    expect(() =>
      exampleConfig((raw) => {
        raw.stuckReport.environment = { OLDER_THAN: "24h", OLDER_THEN: "48h" };
      }),
    ).toThrow(/stuckReport\.environment: Unrecognized key: "OLDER_THEN"/);
  });

  it("the typed builder: a name the function does not read fails tsc, and empty values are left out", () => {
    expect(
      functionEnvironment(purgeEnvSchema, { REPORT_BUCKET: "b", SAFETY_MARGIN_MS: 1000, REPORT_PREFIX: "" }),
    ).toEqual({ REPORT_BUCKET: "b", SAFETY_MARGIN_MS: "1000" });
    // @ts-expect-error REPORT_BUCKT is not a variable of the purge function: a typo fails `tsc`.
    functionEnvironment(purgeEnvSchema, { REPORT_BUCKT: "b" });
  });
});
