/**
 * The deployment configuration (infra/config.ts): the example is valid, every mistake the schema guards against is
 * refused with its path, and the sources (env var, inline context, file) are picked in order. Plus the small
 * constructs that need no bundling.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App, Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { Code, Function as LambdaFunction, Runtime } from "aws-cdk-lib/aws-lambda";
import { ScheduleGroup } from "aws-cdk-lib/aws-scheduler";
import { Queue } from "aws-cdk-lib/aws-sqs";
import { describe, expect, it } from "vitest";
import {
  CONFIG_CONTEXT_KEY,
  CONFIG_ENV_VAR,
  CONFIG_FILE_CONTEXT_KEY,
  durationDays,
  loadConfig,
  parseConfig,
  purgeShardItems,
} from "../../infra/config.ts";
import { nagReference } from "../../infra/constructs/nag.ts";
import { MAX_SCHEDULE_INPUT_CHARS, ScheduledJob } from "../../infra/constructs/scheduled-job.ts";
import { secretArnsIn } from "../../infra/constructs/secrets.ts";
import { timeoutEnvironment } from "../../infra/housekeeper-stack.ts";
import { EXAMPLE_CONFIG_PATH, exampleConfig, type JsonObject } from "./support.ts";

const raw = (): JsonObject => JSON.parse(readFileSync(EXAMPLE_CONFIG_PATH, "utf8"));
const problems = (input: unknown): string => {
  try {
    parseConfig(input);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error("the configuration was accepted");
};
const ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:housekeeper/x-AbCdEf";

describe("configuration schema", () => {
  it("accepts the example (its $comment keys are documentation) and fills the defaults", () => {
    const config = loadConfig(() => undefined, { [CONFIG_ENV_VAR]: EXAMPLE_CONFIG_PATH });
    expect(config.stackName).toBe("DaprHousekeeper");
    expect(config.purge?.invoke).toBe("state-machine");
    expect(config.purge?.schedule.maxEventAgeMinutes).toBe(60);
    expect(config.reminderBackup?.schedule.timezone).toBe("UTC");
    expect(config.storage.prefixes).toEqual({
      backups: "reminders",
      purgeReports: "reports/purge",
      stuckReports: "reports/stuck",
    });
    expect(JSON.stringify(config)).not.toContain("$comment");
  });

  it("a minimal configuration: only what has no default", () => {
    const config = parseConfig({
      stuckReport: {
        schedule: { expression: "rate(1 day)" },
        connectionStringSecretArn: ARN,
        appIds: ["orders"],
        inVpc: false,
      },
    });
    expect(config.encryption).toBe("kms");
    expect(config.alarms).toMatchObject({ enabled: true, stuckThreshold: 1, periodMinutes: 5 });
    expect(config.stuckReport).toMatchObject({
      enabled: true,
      memoryMb: 1024,
      timeoutSeconds: 900,
      notifyThreshold: 1,
    });
    expect(config.purge).toBeUndefined();
  });

  it("checks the purge policy with the function's own schema, naming the path", () => {
    const c = raw();
    c.purge.policy.retention = {};
    c.purge.policy.targets[0].appId = "";
    const message = problems(c);
    expect(message).toContain("purge.policy.retention:");
    expect(message).toContain("purge.policy.targets.0.appId:");
  });

  it("refuses secrets in the policy that are not Secrets Manager ARNs (the policy is the schedule's input)", () => {
    const c = raw();
    c.purge.policy.targets[0].stateStore.connectionString = "host=db user=dapr password=hunter2";
    c.purge.policy.targets[1].sidecar.apiToken = "secretsmanager:dapr-token";
    const message = problems(c);
    expect(message).toContain(
      "purge.policy.targets.0.stateStore.connectionString: must be a complete Secrets Manager ARN",
    );
    expect(message).toContain("purge.policy.targets.1.sidecar.apiToken: must be a complete Secrets Manager ARN");
    // Partial ARNs (no 6-character suffix) cannot be granted exactly.
    const d = raw();
    d.stuckReport.connectionStringSecretArn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:orders";
    expect(problems(d)).toContain("stuckReport.connectionStringSecretArn: a complete Secrets Manager ARN");
  });

  it("checks the schedule inputs and the webhook routes with the functions' schemas", () => {
    const c = raw();
    c.stuckReport.input = { olderThan: "soon" };
    c.reminderBackup.input = { keepLast: -1 };
    c.webhook.routes.routes[0].auth.secrets = ["env:STRIPE_SECRET"];
    c.webhook.routes.routes[1].path = "hooks/github";
    const message = problems(c);
    expect(message).toContain("stuckReport.input.olderThan:");
    expect(message).toContain("reminderBackup.input.keepLast:");
    expect(message).toContain("webhook.routes.routes.1.path:");
    const d = raw();
    d.webhook.routes.routes[0].auth.secrets = ["env:STRIPE_SECRET"];
    expect(problems(d)).toContain("webhook.routes.routes.0.auth.secrets.0: must be a complete Secrets Manager ARN");
  });

  it("refuses overlapping prefixes, a lifecycle expiry that would delete kept backups, and VPC functions without a VPC", () => {
    const c = raw();
    c.storage.prefixes.stuckReports = "reports/purge/stuck";
    c.storage.backupExpirationDays = 20;
    delete c.network;
    const message = problems(c);
    expect(message).toContain("storage.backupExpirationDays: cannot go with reminderBackup.keepLast (28)");
    expect(message).toContain("storage.prefixes.stuckReports: overlaps storage.prefixes.purgeReports");
    expect(message).toContain("storage.backupExpirationDays: must be longer than reminderBackup.keepWithin (30d)");
    expect(message).toContain("network: a function has inVpc: true");
  });

  it("refuses unknown keys, bad schedules, bad network IDs and etcd-less reminder functions", () => {
    const c = raw();
    c.purge.schedul = {};
    c.stuckReport.schedule.expression = "every day";
    c.network.subnetIds = ["subnet-0aaaaaaaaaaaaaaa1"];
    delete c.scheduler;
    const message = problems(c);
    expect(message).toMatch(/purge: Unrecognized key.*schedul/);
    expect(message).toContain("stuckReport.schedule.expression: cron(...) or rate(...)");
    expect(message).toContain("network.subnetIds: subnetIds.length must be a multiple of availabilityZones.length");
    expect(message).toContain("scheduler: reminder backup/restore need the Scheduler's etcd");
  });

  it("shards: per target by appId or namespace/appId, named targets only, within the map's output limit", () => {
    const c = raw();
    c.purge.stateMachine.shards = { orderprocessing: 4, "default/shipping": 2, billing: 3 };
    expect(problems(c)).toContain("purge.stateMachine.shards.billing: names no target of purge.policy");
    c.purge.stateMachine.shards = 400;
    expect(problems(c)).toContain("purge.stateMachine.shards: 800 shards in all: at most 500");
    c.purge.invoke = "function";
    expect(problems(c)).toContain(
      'purge.stateMachine.shards: shards are run by the state machine: set purge.invoke to "state-machine"',
    );
    c.purge.invoke = "state-machine";
    c.purge.stateMachine.shards = 1;
    c.purge.policy.targets[0].shard = { index: 1, count: 2 };
    c.purge.stateMachine.shards = { orderprocessing: 2 };
    expect(problems(c)).toContain("target 0 (default/orderprocessing) already has a shard in the policy");
  });

  it("the Distributed Map's items: one per (target, shard), no shard for a whole target", () => {
    const targets = [
      { appId: "a", namespace: "default" },
      { appId: "b", namespace: "prod" },
      { appId: "c", namespace: "default", shard: { index: 2, count: 3 } },
    ];
    expect(purgeShardItems(targets, 1)).toEqual([{ target: 0 }, { target: 1 }, { target: 2 }]);
    expect(purgeShardItems(targets, { "prod/b": 2, a: 1 })).toEqual([
      { target: 0 },
      { target: 1, shard: { index: 1, count: 2 } },
      { target: 1, shard: { index: 2, count: 2 } },
      { target: 2 },
    ]);
  });

  it("durations of keepWithin in days", () => {
    expect(durationDays("30d")).toBe(30);
    expect(durationDays("720h")).toBe(30);
    expect(durationDays("36h30m")).toBeCloseTo(1.52, 2);
  });
});

describe("configuration sources", () => {
  const dir = mkdtempSync(join(tmpdir(), "housekeeper-config-"));
  const other = join(dir, "other.json");
  writeFileSync(other, JSON.stringify({ ...raw(), stackName: "FromEnv" }));

  it(`${CONFIG_ENV_VAR} wins over the context`, () => {
    const context: Record<string, unknown> = {
      [CONFIG_CONTEXT_KEY]: { ...raw(), stackName: "Inline" },
      [CONFIG_FILE_CONTEXT_KEY]: EXAMPLE_CONFIG_PATH,
    };
    expect(loadConfig((k) => context[k], { [CONFIG_ENV_VAR]: other }).stackName).toBe("FromEnv");
    expect(loadConfig((k) => context[k], {}).stackName).toBe("Inline");
    delete context[CONFIG_CONTEXT_KEY];
    expect(loadConfig((k) => context[k], {}).stackName).toBe("DaprHousekeeper");
  });

  it("the inline context may be a JSON string (-c on the command line)", () => {
    const context = { [CONFIG_CONTEXT_KEY]: JSON.stringify({ ...raw(), stackName: "FromCli" }) };
    expect(loadConfig((k) => context[k as keyof typeof context], {}).stackName).toBe("FromCli");
  });

  it("names the file and every problem", () => {
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ ...raw(), logRetentionDays: 10 }));
    expect(() => loadConfig(() => undefined, { [CONFIG_ENV_VAR]: bad })).toThrow(
      /invalid housekeeper configuration \(.*bad\.json\):\n {2}logRetentionDays: one of 1, 3, 5/,
    );
    expect(() => loadConfig(() => undefined, { [CONFIG_ENV_VAR]: join(dir, "missing.json") })).toThrow(/not found/);
    expect(() => loadConfig(() => undefined, {})).toThrow(/no housekeeper configuration/);
  });
});

describe("small constructs", () => {
  it("secretArnsIn finds every complete ARN in a nested value, once, sorted", () => {
    expect(
      secretArnsIn({
        a: [ARN, { b: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:a-QwErTy" }],
        c: "secretsmanager:name",
        d: ARN,
        e: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:partial",
      }),
    ).toEqual(["arn:aws:secretsmanager:eu-west-1:123456789012:secret:a-QwErTy", ARN]);
  });

  const scheduleStack = (input: Record<string, unknown>, expression: string) => {
    const stack = new Stack(new App(), "S", { env: { account: "123456789012", region: "eu-west-1" } });
    const fn = new LambdaFunction(stack, "Fn", {
      runtime: Runtime.NODEJS_22_X,
      handler: "index.handler",
      code: Code.fromInline("export const handler = async () => {};"),
    });
    new ScheduledJob(stack, "Job", {
      description: "test",
      settings: {
        expression,
        timezone: "Europe/Paris",
        flexibleWindowMinutes: 0,
        enabled: false,
        retryAttempts: 0,
        maxEventAgeMinutes: 5,
      },
      target: { function: fn },
      input,
      deadLetterQueue: new Queue(stack, "Dlq"),
      group: new ScheduleGroup(stack, "Group"),
    });
    return { stack, fn };
  };

  it("a schedule: exact time window, retries, disabled, time zone only for cron", () => {
    const { stack } = scheduleStack({ apps: ["a"] }, "cron(0 1 * * ? *)");
    const schedule = Object.values(Template.fromStack(stack).findResources("AWS::Scheduler::Schedule"))[0]!.Properties;
    expect(schedule).toMatchObject({
      FlexibleTimeWindow: { Mode: "OFF" },
      State: "DISABLED",
      ScheduleExpressionTimezone: "Europe/Paris",
      Target: { Input: '{"apps":["a"]}', RetryPolicy: { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 300 } },
    });
    const rate = scheduleStack({}, "rate(1 hour)").stack;
    const rateSchedule = Object.values(Template.fromStack(rate).findResources("AWS::Scheduler::Schedule"))[0]!;
    expect(rateSchedule.Properties.ScheduleExpressionTimezone).not.toBe("Europe/Paris");
  });

  it("refuses a schedule input EventBridge Scheduler would refuse", () => {
    expect(() => scheduleStack({ policy: "x".repeat(MAX_SCHEDULE_INPUT_CHARS) }, "rate(1 day)")).toThrow(
      /EventBridge Scheduler takes at most 8192/,
    );
  });

  it("nagReference spells tokens as cdk-nag does", () => {
    const { stack, fn } = scheduleStack({}, "rate(1 day)");
    const id = stack.resolve(fn.functionArn)["Fn::GetAtt"][0];
    expect(nagReference(stack, fn.functionArn)).toBe(`<${id}.Arn>`);
    expect(nagReference(stack, `${fn.functionArn}:*`)).toBe(`<${id}.Arn>:*`);
  });
});

describe("network timeouts", () => {
  it("passes configured timeouts to every function as HOUSEKEEPER_CONNECT_TIMEOUT / HOUSEKEEPER_REQUEST_TIMEOUT", () => {
    const config = exampleConfig((input) => {
      input.timeouts = { connect: "5s", request: "2m" };
    });
    expect(timeoutEnvironment(config)).toEqual({
      HOUSEKEEPER_CONNECT_TIMEOUT: "5s",
      HOUSEKEEPER_REQUEST_TIMEOUT: "2m",
    });
    expect(timeoutEnvironment(exampleConfig())).toEqual({});
  });

  it("refuses a timeout that is not a positive duration, naming the path", () => {
    const input = raw();
    input.timeouts = { request: "0s" };
    expect(problems(input)).toMatch(/timeouts\.request: invalid timeout "0s": must be at least 1ms/);
  });
});
