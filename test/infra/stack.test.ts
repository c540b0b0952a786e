/**
 * The stack synthesized from infra/config.example.json, with the functions bundled for real by esbuild (once for
 * the file): the functions, their bundles, schedules, state machine, bucket, IAM, endpoint and alarms.
 */
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Match } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it, onTestFinished } from "vitest";
import type { HousekeeperFunction } from "../../infra/constructs/housekeeper-function.ts";
import { BUNDLE_DIR, type FunctionName } from "../../infra/constructs/housekeeper-function.ts";
import {
  actionsOf,
  asArray,
  exampleConfig,
  type JsonObject,
  logicalIdOf,
  MISSING_ENTRIES,
  SYNTH_TIMEOUT_MS,
  type Synthesized,
  statementsOfRole,
  synth,
  WEBHOOK_PRESENT,
} from "./support.ts";

const config = exampleConfig();
const ENABLED: FunctionName[] = (
  ["purge", "stuck-report", "reminder-backup", "reminder-restore", "webhook"] as FunctionName[]
).filter((n) => !MISSING_ENTRIES.includes(n));
const SECRET = (name: string) => `arn:aws:secretsmanager:eu-west-1:123456789012:secret:housekeeper/${name}`;

let s: Synthesized;
beforeAll(() => {
  s = synth(config, { bundle: true });
}, SYNTH_TIMEOUT_MS);

const fnOf = (name: FunctionName): HousekeeperFunction => {
  const f = s.stack.functions[name];
  if (!f) throw new Error(`no ${name} function in the stack`);
  return f;
};
const fnId = (name: FunctionName) => logicalIdOf(s.stack, fnOf(name).fn);
const roleId = (name: FunctionName) => logicalIdOf(s.stack, fnOf(name).role);
const getAttArn = (logicalId: string) => ({ "Fn::GetAtt": [logicalId, "Arn"] });
const bucketId = () => logicalIdOf(s.stack, s.stack.storage.bucket);
const keyId = () => logicalIdOf(s.stack, s.stack.key!);
const dlqId = () => logicalIdOf(s.stack, s.stack.deadLetterQueue!);

describe("functions", () => {
  it("one Node.js 22 arm64 function per handler, each with its own log group and role", () => {
    const functions = s.template.findResources("AWS::Lambda::Function");
    expect(Object.keys(functions).length).toBe(ENABLED.length);
    const logGroups = new Set<string>();
    const roles = new Set<string>();
    for (const name of ENABLED) {
      const props = functions[fnId(name)]!.Properties;
      expect(props.Runtime).toBe("nodejs22.x");
      expect(props.Architectures).toEqual(["arm64"]);
      expect(props.Handler).toBe(`${BUNDLE_DIR}/index.handler`);
      expect(props.Environment.Variables.NODE_OPTIONS).toBe("--enable-source-maps");
      expect(props.Environment.Variables.POWERTOOLS_METRICS_NAMESPACE).toBe("DaprHousekeeper");
      // Active X-Ray tracing; the Tracer loads on the first traced invocation (shared/tracing.ts).
      expect(props.TracingConfig).toEqual({ Mode: "Active" });
      expect(props.Environment.Variables.POWERTOOLS_TRACE_ENABLED).toBe("true");
      expect(props.Environment.Variables.POWERTOOLS_SERVICE_NAME).toBe(name);
      expect(props.LoggingConfig.LogFormat).toBe("JSON");
      logGroups.add(props.LoggingConfig.LogGroup.Ref);
      roles.add(props.Role["Fn::GetAtt"][0]);
      // In the configured VPC, with the stack's security group.
      expect(props.VpcConfig.SubnetIds).toEqual(config.network!.subnetIds);
      expect(props.VpcConfig.SecurityGroupIds).toHaveLength(1);
    }
    expect(logGroups.size).toBe(ENABLED.length);
    expect(roles.size).toBe(ENABLED.length);
    for (const id of logGroups) {
      const logGroup = s.template.findResources("AWS::Logs::LogGroup")[id]!;
      expect(logGroup.Properties.RetentionInDays).toBe(config.logRetentionDays);
      expect(logGroup.DeletionPolicy).toBe("Retain");
    }
  });

  it("the function roles have no managed policies", () => {
    for (const name of ENABLED) {
      const role = s.template.findResources("AWS::IAM::Role")[roleId(name)]!;
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
      expect(role.Properties.AssumeRolePolicyDocument.Statement[0].Principal).toEqual({
        Service: "lambda.amazonaws.com",
      });
    }
  });

  it("bundles are minified ESM with the require/__dirname banner, a source map, and etcd3's protos beside lib/", () => {
    for (const name of ENABLED) {
      const code = s.template.findResources("AWS::Lambda::Function")[fnId(name)]!.Properties.Code;
      const hash = String(code.S3Key).replace(/\.zip$/, "");
      const dir = join(s.outdir, `asset.${hash}`);
      const bundle = readFileSync(join(dir, BUNDLE_DIR, "index.mjs"), "utf8");
      expect(bundle.startsWith('import { createRequire as __hkCreateRequire } from "node:module";')).toBe(true);
      expect(bundle).toContain("const __dirname = __hkDirname(__filename);");
      expect(bundle).toMatch(/\/\/# sourceMappingURL=index\.mjs\.map\s*$/);
      expect(existsSync(join(dir, BUNDLE_DIR, "index.mjs.map"))).toBe(true);
      expect(existsSync(join(dir, "proto", "rpc.proto"))).toBe(true);
      // Self-contained: not even the AWS SDK is left to the runtime.
      expect(bundle).not.toMatch(/(from|import\()\s*"@aws-sdk\//);
    }
  });

  it("each deployed asset loads in a fresh Node process, away from node_modules, and exports `handler`", () => {
    const assetsDir = mkdtempSync(join(tmpdir(), "housekeeper-assets-"));
    onTestFinished(() => rmSync(assetsDir, { recursive: true, force: true }));
    const functions = s.template.findResources("AWS::Lambda::Function");
    for (const name of ENABLED) {
      const props = functions[fnId(name)]!.Properties;
      const hash = String(props.Code.S3Key).replace(/\.zip$/, "");
      // Outside the project, where no node_modules can be found: the bundle must carry everything it imports.
      const dir = join(assetsDir, name);
      cpSync(join(s.outdir, `asset.${hash}`), dir, { recursive: true });
      const env: Record<string, string> = {};
      for (const [k, v] of Object.entries(props.Environment.Variables as Record<string, unknown>)) {
        if (typeof v === "string") env[k] = v;
      }
      const script = `const m = await import(${JSON.stringify(pathToFileURL(join(dir, BUNDLE_DIR, "index.mjs")).href)}); process.stdout.write(typeof m.handler);`;
      const result = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
        env: { PATH: process.env.PATH, AWS_REGION: "eu-west-1", ...env, POWERTOOLS_LOG_LEVEL: "SILENT" },
        encoding: "utf8",
      });
      expect(result.stderr, name).toBe("");
      expect(result.stdout, name).toBe("function");
    }
  });

  it("the restore gets 2 GB of /tmp to spool its backup; the others keep Lambda's default", () => {
    const functions = s.template.findResources("AWS::Lambda::Function");
    for (const name of ENABLED) {
      const storage = functions[fnId(name)]!.Properties.EphemeralStorage;
      expect(storage, name).toEqual(name === "reminder-restore" ? { Size: 2048 } : undefined);
    }
  });

  it("environment: where each function finds its bucket prefix, secrets (by ARN) and etcd", () => {
    const envOf = (name: FunctionName) =>
      s.template.findResources("AWS::Lambda::Function")[fnId(name)]!.Properties.Environment.Variables;
    const bucketRef = { Ref: bucketId() };
    expect(envOf("purge")).toMatchObject({
      REPORT_BUCKET: bucketRef,
      REPORT_PREFIX: "reports/purge",
      SAFETY_MARGIN_MS: "60000",
    });
    expect(envOf("stuck-report")).toMatchObject({
      STATE_STORE_CONNECTION_STRING: SECRET("orders-state-store-AbCdEf"),
      APP_IDS: "orderprocessing",
      DAPR_NAMESPACE: "default",
      ETCD_ENDPOINTS: "10.0.12.34:2379",
      REPORT_BUCKET: bucketRef,
      REPORT_PREFIX: "reports/stuck",
      SNS_TOPIC_ARN: { Ref: expect.stringMatching(/^NotificationsTopic/) },
      NOTIFY_THRESHOLD: "1",
      OLDER_THAN: "24h",
    });
    expect(envOf("reminder-backup")).toMatchObject({
      ETCD_ENDPOINTS: "10.0.12.34:2379",
      BACKUP_BUCKET: bucketRef,
      BACKUP_PREFIX: "reminders",
      SCHEDULER_NAMESPACE: "dapr-system",
      RETENTION_KEEP_LAST: "28",
      RETENTION_KEEP_WITHIN: "30d",
    });
    expect(envOf("reminder-restore")).toMatchObject({
      ETCD_ENDPOINTS: "10.0.12.34:2379",
      BACKUP_BUCKET: bucketRef,
      BACKUP_PREFIX: "reminders",
    });
    expect(envOf("reminder-restore").RETENTION_KEEP_LAST).toBeUndefined();
    if (WEBHOOK_PRESENT) {
      const env = envOf("webhook");
      expect(env).toMatchObject({
        DAPR_HTTP_ENDPOINT: "http://orders-dapr.internal.example:3500",
        DAPR_API_TOKEN: SECRET("dapr-api-token-GhIjKl"),
        IDEMPOTENCY_TABLE: { Ref: logicalIdOf(s.stack, s.stack.webhookIdempotencyTable!.table) },
      });
      expect(env.IDEMPOTENCY_REDIS_URL).toBeUndefined();
      expect(JSON.parse(env.WEBHOOK_ROUTES)).toEqual(config.webhook!.routes);
    }
    // No secret value is ever in the environment: only references.
    for (const name of ENABLED) {
      for (const value of Object.values(envOf(name))) {
        if (typeof value === "string") expect(value).not.toMatch(/password|postgres:\/\//i);
      }
    }
  });
});

describe("schedules", () => {
  const schedules = () => s.template.findResources("AWS::Scheduler::Schedule");
  const scheduleTargeting = (arn: unknown) => {
    const found = Object.values(schedules()).filter(
      (r) => JSON.stringify(r.Properties.Target.Arn) === JSON.stringify(arn),
    );
    expect(found).toHaveLength(1);
    return found[0]!.Properties;
  };

  it("three EventBridge Scheduler schedules in their own group, with flexible windows, retries and the DLQ", () => {
    expect(Object.keys(schedules())).toHaveLength(3);
    s.template.resourceCountIs("AWS::Scheduler::ScheduleGroup", 1);
    s.template.resourceCountIs("AWS::Events::Rule", 0);
    for (const schedule of Object.values(schedules())) {
      const p = schedule.Properties;
      expect(p.FlexibleTimeWindow.Mode).toBe("FLEXIBLE");
      expect(p.Target.RetryPolicy).toEqual({ MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 3600 });
      expect(p.Target.DeadLetterConfig).toEqual({ Arn: getAttArn(dlqId()) });
      expect(p.GroupName).toMatch(/-Schedules-/);
    }
  });

  it("the purge schedule starts the state machine with the policy as its input", () => {
    const smId = logicalIdOf(s.stack, s.stack.purgeStateMachine!.stateMachine);
    const p = scheduleTargeting({ Ref: smId });
    expect(JSON.parse(p.Target.Input)).toEqual({ policy: config.purge!.policy });
    expect(p.ScheduleExpression).toBe("cron(0 3 * * ? *)");
    expect(p.ScheduleExpressionTimezone).toBe("UTC");
    expect(p.FlexibleTimeWindow.MaximumWindowInMinutes).toBe(30);
    const statements = statementsOfRole(s.template, p.Target.RoleArn["Fn::GetAtt"][0]);
    expect(statements).toContainEqual(
      expect.objectContaining({ Action: "states:StartExecution", Resource: { Ref: smId } }),
    );
    expect(actionsOf(statements)).toEqual([
      "kms:Decrypt",
      "kms:GenerateDataKey",
      "sqs:SendMessage",
      "states:StartExecution",
    ]);
  });

  it("the stuck-report and backup schedules invoke their function, and only it", () => {
    for (const [name, expression] of [
      ["stuck-report", "cron(0 7 * * ? *)"],
      ["reminder-backup", "rate(6 hours)"],
    ] as const) {
      const p = scheduleTargeting(getAttArn(fnId(name)));
      expect(p.ScheduleExpression).toBe(expression);
      expect(p.Target.Input).toBe("{}");
      const statements = statementsOfRole(s.template, p.Target.RoleArn["Fn::GetAtt"][0]);
      const invoke = statements.filter((st) => st.Action === "lambda:InvokeFunction");
      expect(invoke).toHaveLength(1);
      expect(JSON.stringify(invoke[0]!.Resource)).toContain(fnId(name));
      expect(JSON.stringify(invoke[0]!.Resource)).not.toContain(
        fnId(name === "stuck-report" ? "purge" : "stuck-report"),
      );
    }
    expect(scheduleTargeting(getAttArn(fnId("stuck-report"))).ScheduleExpressionTimezone).toBe("Europe/Dublin");
  });

  it("schedule roles trust only EventBridge Scheduler from this account", () => {
    for (const schedule of Object.values(schedules())) {
      const role = s.template.findResources("AWS::IAM::Role")[schedule.Properties.Target.RoleArn["Fn::GetAtt"][0]]!;
      const trust = role.Properties.AssumeRolePolicyDocument.Statement[0];
      expect(trust.Principal).toEqual({ Service: "scheduler.amazonaws.com" });
      expect(trust.Condition.StringEquals["aws:SourceAccount"]).toBe("123456789012");
    }
  });

  it("failed asynchronous invocations of scheduled functions go to the dead-letter queue", () => {
    for (const name of ["stuck-report", "reminder-backup"] as const) {
      s.template.hasResourceProperties("AWS::Lambda::EventInvokeConfig", {
        FunctionName: { Ref: fnId(name) },
        DestinationConfig: { OnFailure: { Destination: getAttArn(dlqId()) } },
      });
    }
  });

  it("the dead-letter queue is KMS-encrypted and TLS-only", () => {
    s.template.hasResourceProperties("AWS::SQS::Queue", {
      KmsMasterKeyId: getAttArn(keyId()),
      MessageRetentionPeriod: 14 * 86400,
    });
    s.template.hasResourceProperties("AWS::SQS::QueuePolicy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
        ]),
      },
    });
  });
});

describe("purge state machine", () => {
  const definitionOf = (syn: Synthesized) => {
    const sm = Object.values(syn.template.findResources("AWS::StepFunctions::StateMachine"))[0]!;
    const parts = sm.Properties.DefinitionString["Fn::Join"][1] as unknown[];
    return JSON.parse(parts.map((p) => (typeof p === "string" ? p : "0")).join("")) as JsonObject;
  };
  const definition = () => definitionOf(s);

  it("a Distributed Map over (target, shard) items; each child loops on continuationToken until isComplete", () => {
    const d = definition();
    expect(d.QueryLanguage).toBe("JSONata");
    expect(d.States[d.StartAt].Next).toBe("Shards");
    const map = d.States.Shards;
    expect(map.Type).toBe("Map");
    expect(map.ItemProcessor.ProcessorConfig).toEqual({ Mode: "DISTRIBUTED", ExecutionType: "STANDARD" });
    // Unsharded (the example's shards: 1): one item per target, without a shard: whole targets, as before.
    expect(map.Items).toBe('{% [{"target":0},{"target":1}] %}');
    expect(map.MaxConcurrency).toBe(4);
    expect(map.ToleratedFailurePercentage).toBe(100);
    expect(map.ItemSelector).toContain("$states.context.Map.Item.Value");
    const inner = map.ItemProcessor.States;
    const task = inner.PurgeBatch;
    expect(task.Resource).toContain(":states:::lambda:invoke");
    expect(task.Arguments.Payload).toContain('"continuationToken": $token');
    expect(task.Arguments.Payload).toContain('"shard": $shard');
    expect(task.Assign.token).toContain("$states.result.Payload.continuationToken");
    expect(task.Next).toBe("Complete?");
    const choice = inner["Complete?"];
    expect(choice.Choices[0]).toEqual({ Condition: "{% $states.input.isComplete = true %}", Next: "ShardDone" });
    expect(choice.Choices[1].Condition).toBe("{% $invocations >= 200 %}");
    expect(choice.Default).toBe("PurgeBatch");
    expect(task.Catch[0].Next).toBe("ShardFailed");
    expect(map.Next).toBe("MergeReports");
    expect(d.States.MergeReports.Arguments.Payload).toContain('"merge": {"items": [{"target":0},{"target":1}]');
    expect(d.States.MergeReports.Next).toBe("AnyShardFailed?");
    expect(d.States["AnyShardFailed?"].Choices[0].Next).toBe("Failed");
  });

  it(
    "shards, concurrency and failure tolerance as configured; may start and stop its own child executions",
    () => {
      const sharded = synth(
        exampleConfig((c) => {
          c.purge.stateMachine = {
            ...c.purge.stateMachine,
            shards: { orderprocessing: 3 },
            maxConcurrency: 6,
            toleratedFailurePercentage: 25,
          };
        }),
        { bundle: false },
      );
      const map = definitionOf(sharded).States.Shards;
      const items = [
        { target: 0, shard: { index: 1, count: 3 } },
        { target: 0, shard: { index: 2, count: 3 } },
        { target: 0, shard: { index: 3, count: 3 } },
        { target: 1 },
      ];
      expect(map.Items).toBe(`{% ${JSON.stringify(items)} %}`);
      expect(map.MaxConcurrency).toBe(6);
      expect(map.ToleratedFailurePercentage).toBe(25);
      const sm = Object.values(sharded.template.findResources("AWS::StepFunctions::StateMachine"))[0]!;
      const actions = statementsOfRole(sharded.template, sm.Properties.RoleArn["Fn::GetAtt"][0]).flatMap((st) =>
        asArray(st.Action),
      );
      expect(actions).toEqual(expect.arrayContaining(["states:StartExecution"]));
    },
    SYNTH_TIMEOUT_MS,
  );

  it("invokes the purge function, logs everything, traces, and may only invoke that function", () => {
    const smId = logicalIdOf(s.stack, s.stack.purgeStateMachine!.stateMachine);
    const sm = s.template.findResources("AWS::StepFunctions::StateMachine")[smId]!;
    expect(JSON.stringify(sm.Properties.DefinitionString)).toContain(fnId("purge"));
    expect(sm.Properties.LoggingConfiguration.Level).toBe("ALL");
    expect(sm.Properties.TracingConfiguration).toEqual({ Enabled: true });
    const statements = statementsOfRole(s.template, sm.Properties.RoleArn["Fn::GetAtt"][0]);
    const invoke = statements.filter((st) => asArray(st.Action).includes("lambda:InvokeFunction"));
    expect(invoke).toHaveLength(1);
    expect(JSON.stringify(invoke[0]!.Resource)).toContain(fnId("purge"));
    expect(JSON.stringify(invoke[0]!.Resource)).not.toContain(fnId("stuck-report"));
  });
});

describe("bucket", () => {
  it("KMS-encrypted, versioned, no public access, TLS only, owner-enforced", () => {
    s.template.hasResourceProperties("AWS::S3::Bucket", {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          {
            ServerSideEncryptionByDefault: { SSEAlgorithm: "aws:kms", KMSMasterKeyID: getAttArn(keyId()) },
            BucketKeyEnabled: true,
          },
        ],
      },
      VersioningConfiguration: { Status: "Enabled" },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      OwnershipControls: { Rules: [{ ObjectOwnership: "BucketOwnerEnforced" }] },
    });
    s.template.hasResource("AWS::S3::Bucket", { DeletionPolicy: "Retain" });
    s.template.hasResourceProperties("AWS::S3::BucketPolicy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
          Match.objectLike({ Effect: "Deny", Condition: { NumericLessThan: { "s3:TlsVersion": 1.2 } } }),
        ]),
      },
    });
    s.template.hasResourceProperties("AWS::KMS::Key", { EnableKeyRotation: true });
  });

  it("lifecycle rules match the retention of each prefix", () => {
    const rules = Object.values(s.template.findResources("AWS::S3::Bucket"))[0]!.Properties.LifecycleConfiguration
      .Rules as Array<JsonObject>;
    const byId = Object.fromEntries(rules.map((r) => [r.Id, r]));
    expect(byId["abort-incomplete-uploads"].AbortIncompleteMultipartUpload).toEqual({ DaysAfterInitiation: 1 });
    // No expiry by age under keepLast (the function prunes); what it prunes goes as a noncurrent version.
    expect(byId.backups).toMatchObject({
      Prefix: "reminders/",
      ExpiredObjectDeleteMarker: true,
      NoncurrentVersionExpiration: { NoncurrentDays: 30 },
      Status: "Enabled",
    });
    expect(byId.backups.ExpirationInDays).toBeUndefined();
    expect(byId["purge-reports"]).toMatchObject({ Prefix: "reports/purge/", ExpirationInDays: 90 });
    expect(byId["stuck-reports"]).toMatchObject({ Prefix: "reports/stuck/", ExpirationInDays: 90 });
  });
});

describe("least privilege", () => {
  const objectsUnder = (prefix: string) => ({ "Fn::Join": ["", [getAttArn(bucketId()), `/${prefix}/*`]] });
  // Actions sorted: their order in a statement is the CDK's (it changes with the feature flags), not a permission.
  const s3Statements = (name: FunctionName) =>
    statementsOfRole(s.template, roleId(name))
      .filter((st) => asArray(st.Action).some((a: string) => a.startsWith("s3:")))
      .map((st) => (Array.isArray(st.Action) ? { ...st, Action: [...st.Action].sort() } : st));
  const secretResources = (name: FunctionName) =>
    statementsOfRole(s.template, roleId(name))
      .filter((st) => asArray(st.Action).includes("secretsmanager:GetSecretValue"))
      .flatMap((st) => asArray(st.Resource))
      .sort();

  it("no wildcard actions, and `*` resources only for VPC network interfaces and X-Ray", () => {
    for (const name of ENABLED) {
      for (const st of statementsOfRole(s.template, roleId(name))) {
        for (const action of asArray(st.Action as string | string[])) {
          expect(action === "*" || action.endsWith(":*")).toBe(false);
        }
        if (!asArray(st.Resource).includes("*")) continue;
        // X-Ray's actions have no resource-level permissions (active tracing adds them).
        const xray = ["xray:PutTelemetryRecords", "xray:PutTraceSegments"];
        if (actionsOf([st]).every((a) => xray.includes(a))) continue;
        expect(st.Sid).toBe("ManageVpcNetworkInterfaces");
      }
    }
  });

  it("S3: each function only its own prefix, with only the actions it needs", () => {
    expect(s3Statements("purge")).toEqual([
      { Action: ["s3:AbortMultipartUpload", "s3:PutObject"], Effect: "Allow", Resource: objectsUnder("reports/purge") },
    ]);
    expect(s3Statements("stuck-report")).toEqual([
      { Action: ["s3:AbortMultipartUpload", "s3:PutObject"], Effect: "Allow", Resource: objectsUnder("reports/stuck") },
    ]);
    const listBackups = {
      Action: "s3:ListBucket",
      Condition: { StringLikeIfExists: { "s3:prefix": ["reminders", "reminders/*"] } },
      Effect: "Allow",
      Resource: getAttArn(bucketId()),
    };
    expect(s3Statements("reminder-backup")).toEqual([
      {
        Action: ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
        Effect: "Allow",
        Resource: objectsUnder("reminders"),
      },
      listBackups,
    ]);
    expect(s3Statements("reminder-restore")).toEqual([
      { Action: "s3:GetObject", Effect: "Allow", Resource: objectsUnder("reminders") },
      listBackups,
    ]);
  });

  it("Secrets Manager: exactly the secrets each function's configuration names", () => {
    expect(secretResources("purge")).toEqual([
      SECRET("dapr-api-token-GhIjKl"),
      SECRET("orders-state-store-AbCdEf"),
      SECRET("shipping-state-store-MnOpQr"),
    ]);
    expect(secretResources("stuck-report")).toEqual([SECRET("orders-state-store-AbCdEf")]);
    expect(secretResources("reminder-backup")).toEqual([]);
    expect(secretResources("reminder-restore")).toEqual([]);
    if (WEBHOOK_PRESENT) {
      expect(secretResources("webhook")).toEqual([
        SECRET("dapr-api-token-GhIjKl"),
        SECRET("github-webhook-YzAbCd"),
        SECRET("stripe-webhook-StUvWx"),
      ]);
    }
  });

  it("SNS: only the stuck report publishes, to the notifications topic", () => {
    for (const name of ENABLED) {
      const sns = statementsOfRole(s.template, roleId(name)).filter((st) =>
        asArray(st.Action).some((a: string) => a.startsWith("sns:")),
      );
      if (name === "stuck-report") {
        expect(sns).toHaveLength(1);
        expect(sns[0]!.Action).toBe("sns:Publish");
        expect(sns[0]!.Resource.Ref).toMatch(/^NotificationsTopic/);
      } else {
        expect(sns).toEqual([]);
      }
    }
  });

  it("KMS use is bound to the service that needs it", () => {
    for (const name of ENABLED) {
      for (const st of statementsOfRole(s.template, roleId(name))) {
        if (!asArray(st.Action).some((a: string) => a.startsWith("kms:"))) continue;
        // The only KMS grant without kms:ViaService is the dead-letter destination's (SQS uses the caller's key grant).
        if (!st.Condition) {
          expect(["stuck-report", "reminder-backup"]).toContain(name);
          continue;
        }
        expect(Object.keys(st.Condition.StringEquals)).toEqual(["kms:ViaService"]);
      }
    }
  });
});

describe.runIf(WEBHOOK_PRESENT)("webhook delivery IDs", () => {
  const tableId = () => logicalIdOf(s.stack, s.stack.webhookIdempotencyTable!.table);

  it("a DynamoDB table: on demand, TTL on expiresAt, point-in-time recovery, the stack's key", () => {
    s.template.resourceCountIs("AWS::DynamoDB::GlobalTable", 1);
    s.template.hasResourceProperties("AWS::DynamoDB::GlobalTable", {
      KeySchema: [{ AttributeName: "id", KeyType: "HASH" }],
      AttributeDefinitions: [{ AttributeName: "id", AttributeType: "S" }],
      BillingMode: "PAY_PER_REQUEST",
      TimeToLiveSpecification: { AttributeName: "expiresAt", Enabled: true },
      SSESpecification: { SSEEnabled: true, SSEType: "KMS" },
      Replicas: [
        Match.objectLike({
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
          SSESpecification: { KMSMasterKeyId: getAttArn(keyId()) },
        }),
      ],
    });
  });

  it("is named in the stack's outputs", () => {
    s.template.hasOutput("WebhookDeliveriesTable", { Value: { Ref: tableId() } });
  });

  it("only the webhook reaches it, with exactly the three calls the store makes", () => {
    for (const name of ENABLED) {
      const onTable = statementsOfRole(s.template, roleId(name)).filter((st) =>
        JSON.stringify(st.Resource).includes(tableId()),
      );
      if (name !== "webhook") {
        expect(onTable, name).toEqual([]);
        continue;
      }
      expect(onTable.flatMap((st) => asArray(st.Action)).sort()).toEqual([
        "dynamodb:DeleteItem",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
      ]);
    }
  });
});

describe.runIf(WEBHOOK_PRESENT)("webhook endpoint", () => {
  it("an HTTP API (payload v2) with stage throttling and JSON access logs in their own log group", () => {
    s.template.hasResourceProperties("AWS::ApiGatewayV2::Integration", {
      IntegrationType: "AWS_PROXY",
      PayloadFormatVersion: "2.0",
      IntegrationUri: getAttArn(fnId("webhook")),
    });
    s.template.hasResourceProperties("AWS::ApiGatewayV2::Route", { RouteKey: "$default" });
    const stage = Object.values(s.template.findResources("AWS::ApiGatewayV2::Stage"))[0]!.Properties;
    expect(stage.StageName).toBe("$default");
    expect(stage.DefaultRouteSettings).toMatchObject({ ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 });
    const accessLogs = logicalIdOf(s.stack, s.stack.webhook!.accessLogs!);
    expect(stage.AccessLogSettings.DestinationArn).toEqual(getAttArn(accessLogs));
    expect(JSON.parse(stage.AccessLogSettings.Format)).toMatchObject({ status: "$context.status" });
    s.template.resourceCountIs("AWS::Lambda::Url", 0);
  });

  it("the webhook function can be reached only through the API (invoke permission scoped to it)", () => {
    const permissions = Object.values(s.template.findResources("AWS::Lambda::Permission")).map((p) => p.Properties);
    const forWebhook = permissions.filter((p) => JSON.stringify(p.FunctionName).includes(fnId("webhook")));
    expect(forWebhook).toHaveLength(1);
    expect(forWebhook[0]!.Principal).toBe("apigateway.amazonaws.com");
    expect(JSON.stringify(forWebhook[0]!.SourceArn)).toContain(logicalIdOf(s.stack, s.stack.webhook!.api!));
  });
});

describe("alarms and dashboard", () => {
  const alarms = () => Object.values(s.template.findResources("AWS::CloudWatch::Alarm")).map((a) => a.Properties);

  it("errors and throttles per function, DLQ depth, purge executions, stuck count per app", () => {
    const byMetric = (namespace: string, name: string) =>
      alarms().filter((a) => a.Namespace === namespace && a.MetricName === name);
    expect(byMetric("AWS/Lambda", "Errors")).toHaveLength(ENABLED.length);
    expect(byMetric("AWS/Lambda", "Throttles")).toHaveLength(ENABLED.length);
    expect(byMetric("AWS/SQS", "ApproximateNumberOfMessagesVisible")).toHaveLength(1);
    expect(byMetric("AWS/States", "ExecutionsFailed")).toHaveLength(1);
    expect(byMetric("AWS/States", "ExecutionsTimedOut")).toHaveLength(1);
    const stuck = byMetric("DaprHousekeeper", "StuckInstances");
    expect(stuck).toHaveLength(1);
    expect(stuck[0]).toMatchObject({
      Dimensions: expect.arrayContaining([
        { Name: "App", Value: "default/orderprocessing" },
        { Name: "service", Value: "stuck-report" },
      ]),
      Statistic: "Maximum",
      Threshold: 1,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
    });
  });

  it("alarms notify the KMS-encrypted, TLS-only topic, which CloudWatch may use the key of", () => {
    const topicId = Object.keys(s.template.findResources("AWS::SNS::Topic"))[0]!;
    for (const a of alarms()) expect(a.AlarmActions).toEqual([{ Ref: topicId }]);
    s.template.hasResourceProperties("AWS::SNS::Topic", { KmsMasterKeyId: getAttArn(keyId()) });
    s.template.hasResourceProperties("AWS::SNS::Subscription", { Protocol: "email", Endpoint: "oncall@example.com" });
    s.template.hasResourceProperties("AWS::KMS::Key", {
      KeyPolicy: {
        Statement: Match.arrayWith([Match.objectLike({ Principal: { Service: "cloudwatch.amazonaws.com" } })]),
      },
    });
  });

  it("a dashboard", () => {
    s.template.resourceCountIs("AWS::CloudWatch::Dashboard", 1);
    const body = JSON.stringify(Object.values(s.template.findResources("AWS::CloudWatch::Dashboard"))[0]);
    expect(body).toContain("StuckInstances");
    expect(body).toContain("Purged");
  });
});
