/**
 * cdk-nag's AwsSolutions pack over the stack, for the example configuration and for the other shapes the
 * configuration allows: no unacknowledged error or warning, every acknowledgment with a reason, and no CDK warning.
 * Bundling is skipped here (the rules look at the template, not the bundle): each synth takes seconds, not a minute.
 */
import { Validations } from "aws-cdk-lib";
import { Annotations, Match } from "aws-cdk-lib/assertions";
import { AwsSolutionsChecks } from "cdk-nag";
import type { IConstruct } from "constructs";
import { beforeAll, describe, expect, it } from "vitest";
import type { HousekeeperConfig } from "../../infra/config.ts";
import {
  asArray,
  exampleConfig,
  logicalIdOf,
  SYNTH_TIMEOUT_MS,
  type Synthesized,
  statementsOfRole,
  synth,
} from "./support.ts";

const ETCD_TLS_SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:housekeeper/etcd-tls-MnOpQr";

interface Variant {
  config: () => HousekeeperConfig;
  /** What this shape changes in the template, checked on the same synth. */
  wiring?: (s: Synthesized) => void;
}

const VARIANTS: Record<string, Variant> = {
  "the example configuration": { config: () => exampleConfig() },
  "AWS-managed encryption, a Function URL, purge invoked directly, an existing topic": {
    config: () =>
      exampleConfig((c) => {
        c.encryption = "aws-managed";
        if (c.webhook) {
          c.webhook.exposure = "function-url";
          c.webhook.reservedConcurrency = 20;
        }
        c.purge.invoke = "function";
        c.notifications = { topicArn: "arn:aws:sns:eu-west-1:123456789012:ops-alarms" };
      }),
    wiring: ({ template, stack }) => {
      template.resourceCountIs("AWS::KMS::Key", 0);
      template.hasResourceProperties("AWS::S3::Bucket", {
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }],
        },
      });
      template.hasResourceProperties("AWS::SQS::Queue", { SqsManagedSseEnabled: true });
      template.resourceCountIs("AWS::SNS::Topic", 0);
      template.resourceCountIs("AWS::StepFunctions::StateMachine", 0);
      const purgeArn = stack.resolve(stack.functions.purge!.fn.functionArn);
      template.hasResourceProperties("AWS::Scheduler::Schedule", {
        Target: { Arn: purgeArn, Input: Match.stringLikeRegexp('^\\{"policy":') },
      });
      // Directly invoked, the purge's failed runs go to the dead-letter queue too.
      template.hasResourceProperties("AWS::Lambda::EventInvokeConfig", {
        FunctionName: { Ref: stack.resolve(stack.functions.purge!.fn.functionName).Ref },
        DestinationConfig: { OnFailure: { Destination: Match.anyValue() } },
      });
      template.hasResourceProperties("AWS::CloudWatch::Alarm", {
        AlarmActions: ["arn:aws:sns:eu-west-1:123456789012:ops-alarms"],
      });
      if (stack.functions.webhook) {
        template.hasResourceProperties("AWS::Lambda::Url", { AuthType: "NONE" });
        template.hasResourceProperties("AWS::Lambda::Function", {
          Handler: "lib/index.handler",
          ReservedConcurrentExecutions: 20,
        });
        template.resourceCountIs("AWS::ApiGatewayV2::Api", 0);
      }
    },
  },
  "webhook delivery IDs in a Redis of the user's": {
    config: () =>
      exampleConfig((c) => {
        if (!c.webhook) return;
        c.webhook.idempotencyRedisUrlSecretArn =
          "arn:aws:secretsmanager:eu-west-1:123456789012:secret:housekeeper/webhook-redis-url-EfGhIj";
        c.network.egress.push({ cidr: "10.0.0.0/16", port: 6379, description: "Redis keeping webhook delivery IDs" });
      }),
    wiring: ({ template, stack }) => {
      if (!stack.functions.webhook) return;
      template.resourceCountIs("AWS::DynamoDB::GlobalTable", 0);
      template.resourceCountIs("AWS::DynamoDB::Table", 0);
      const webhookFn = template.findResources("AWS::Lambda::Function", {
        Properties: { Handler: "lib/index.handler", Description: Match.stringLikeRegexp("webhooks") },
      });
      const variables = Object.values(webhookFn)[0]!.Properties.Environment.Variables;
      expect(variables.IDEMPOTENCY_REDIS_URL).toBe(
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:housekeeper/webhook-redis-url-EfGhIj",
      );
      expect(variables.IDEMPOTENCY_TABLE).toBeUndefined();
    },
  },
  "etcd over TLS with a private CA and a client certificate": {
    config: () =>
      exampleConfig((c) => {
        c.scheduler.etcd.endpoints = ["https://10.0.12.34:2379"];
        c.scheduler.etcd.tlsSecretArn = ETCD_TLS_SECRET;
      }),
    wiring: ({ template, stack }) => {
      const readsSecret = (name: keyof typeof stack.functions) => {
        const fn = stack.functions[name];
        if (!fn) return undefined;
        return statementsOfRole(template, logicalIdOf(stack, fn.role))
          .filter((st) => asArray(st.Action).includes("secretsmanager:GetSecretValue"))
          .some((st) => asArray(st.Resource).includes(ETCD_TLS_SECRET));
      };
      const variables = (name: keyof typeof stack.functions) => {
        const fn = stack.functions[name];
        return fn
          ? template.findResources("AWS::Lambda::Function")[logicalIdOf(stack, fn.fn)]!.Properties.Environment.Variables
          : undefined;
      };
      // The functions that reach etcd get the secret's ARN (never its value) and may read exactly that secret.
      for (const name of ["reminder-backup", "reminder-restore", "stuck-report"] as const) {
        if (!stack.functions[name]) continue;
        expect(variables(name), name).toMatchObject({
          ETCD_ENDPOINTS: "https://10.0.12.34:2379",
          ETCD_TLS_SECRET,
        });
        expect(readsSecret(name), name).toBe(true);
      }
      // The purge takes its etcd from the policy's targets (scheduler.tlsSecret there), not from here.
      if (stack.functions.purge) {
        expect(variables("purge")?.ETCD_TLS_SECRET).toBeUndefined();
        expect(readsSecret("purge")).toBe(false);
      }
    },
  },
  "no VPC, server access logs to an existing bucket": {
    config: () =>
      exampleConfig((c) => {
        delete c.network;
        for (const k of ["purge", "stuckReport", "reminderBackup", "reminderRestore", "webhook"]) {
          if (c[k]) c[k].inVpc = false;
        }
        c.storage.accessLogsBucketName = "my-access-logs";
      }),
    wiring: ({ template }) => {
      template.resourceCountIs("AWS::EC2::SecurityGroup", 0);
      for (const fn of Object.values(template.findResources("AWS::Lambda::Function"))) {
        expect(fn.Properties.VpcConfig).toBeUndefined();
      }
      template.hasResourceProperties("AWS::S3::Bucket", {
        LoggingConfiguration: { DestinationBucketName: "my-access-logs", LogFilePrefix: "dapr-housekeeper/" },
      });
    },
  },
};

function acknowledgmentsIn(root: IConstruct): Array<{ path: string; id: string; reason: unknown }> {
  const out: Array<{ path: string; id: string; reason: unknown }> = [];
  for (const c of root.node.findAll()) {
    for (const entry of c.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, reason] of Object.entries(entry.data as Record<string, unknown>)) {
        out.push({ path: c.node.path, id, reason });
      }
    }
  }
  return out;
}

for (const [title, variant] of Object.entries(VARIANTS)) {
  describe(`cdk-nag AwsSolutions: ${title}`, () => {
    let s: Synthesized;
    beforeAll(() => {
      s = synth(variant.config(), { bundle: false });
    }, SYNTH_TIMEOUT_MS);

    it("has no unacknowledged error or warning", () => {
      const report = new AwsSolutionsChecks(s.app, { verbose: true }).validateScope(s.app);
      const findings = report.violations.map(
        (v) =>
          `${v.severity} ${v.ruleName}: ${v.description}\n    ${v.violatingResources.map((r) => r.constructPath).join("\n    ")}`,
      );
      expect(findings).toEqual([]);
      expect(report.success).toBe(true);
    });

    it("justifies every acknowledgment", () => {
      const acks = acknowledgmentsIn(s.app);
      expect(acks.length).toBeGreaterThan(0);
      for (const ack of acks) {
        expect(typeof ack.reason, `${ack.path} ${ack.id}`).toBe("string");
        expect((ack.reason as string).length, `${ack.path} ${ack.id}`).toBeGreaterThan(40);
      }
    });

    const wiring = variant.wiring;
    if (wiring) it("wires what this configuration changes", () => wiring(s));

    it("leaves no CDK warning or error", () => {
      const annotations = Annotations.fromStack(s.stack);
      expect(annotations.findError("*", Match.anyValue())).toEqual([]);
      expect(annotations.findWarning("*", Match.anyValue())).toEqual([]);
    });
  });
}
