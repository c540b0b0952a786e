/**
 * One housekeeper Lambda function: an ESM bundle built locally by esbuild (never Docker), Node.js 22 on arm64, its
 * own log group, and its own role that starts with nothing but writing to that log group (and, in a VPC, managing
 * its network interfaces). Everything else is granted by the stack, statement by statement.
 *
 * The bundling options are exported so that bench/bundle-size.ts builds exactly what the stack deploys.
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Duration, type RemovalPolicy, Size } from "aws-cdk-lib";
import type { ISecurityGroup, IVpc, SubnetSelection } from "aws-cdk-lib/aws-ec2";
import { Effect, PolicyStatement, Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { ApplicationLogLevel, Architecture, LoggingFormat, Runtime, SystemLogLevel } from "aws-cdk-lib/aws-lambda";
import { SqsDestination } from "aws-cdk-lib/aws-lambda-destinations";
import {
  type BundlingOptions,
  LogLevel,
  NodejsFunction,
  OutputFormat,
  SourceMapMode,
} from "aws-cdk-lib/aws-lambda-nodejs";
import { LogGroup, type RetentionDays } from "aws-cdk-lib/aws-logs";
import type { IQueue } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { acknowledge } from "./nag.ts";

export const PROJECT_ROOT = fileURLToPath(new URL("../..", import.meta.url));

export const FUNCTION_NAMES = ["purge", "stuck-report", "reminder-backup", "reminder-restore", "webhook"] as const;
export type FunctionName = (typeof FUNCTION_NAMES)[number];

/** `functions/<name>/handler.ts`, absolute. */
export function functionEntry(name: FunctionName): string {
  return join(PROJECT_ROOT, "functions", name, "handler.ts");
}

export const RUNTIME = Runtime.NODEJS_22_X;
export const ARCHITECTURE = Architecture.ARM_64;
export const ESBUILD_TARGET = "node22";

/**
 * The bundle sits in `lib/` of the asset, next to a `proto/` folder: `etcd3` reads `${__dirname}/../proto/rpc.proto`
 * when it loads, so the bundle's `__dirname` must have a sibling `proto/` holding etcd3's .proto files.
 */
export const BUNDLE_DIR = "lib";
export const HANDLER = `${BUNDLE_DIR}/index.handler`;

/**
 * Prepended to the ESM bundle: CommonJS dependencies call `require` (of Node built-ins) and read `__dirname` /
 * `__filename`, none of which exist in an ES module.
 */
export const ESM_BANNER = [
  'import { createRequire as __hkCreateRequire } from "node:module";',
  'import { dirname as __hkDirname } from "node:path";',
  'import { fileURLToPath as __hkFileURLToPath } from "node:url";',
  "const require = __hkCreateRequire(import.meta.url);",
  "const __filename = __hkFileURLToPath(import.meta.url);",
  "const __dirname = __hkDirname(__filename);",
].join(" ");

/**
 * Nothing is left to the runtime, not even the AWS SDK v3 it ships: which `@aws-sdk/*` packages a Lambda runtime
 * carries, and in which version, is not documented (and `@aws-sdk/lib-storage`, `@aws-sdk/client-dynamodb` may not be
 * there), so the bundle carries exactly the versions the tests ran. It costs ~450 KiB per bundle and no init time:
 * one module is faster to load than the SDK's many files (bench/bundle-size.ts).
 */
export const EXTERNAL_MODULES: string[] = [];

/** Where `etcd3` keeps the .proto files it loads at runtime. */
export function etcdProtoDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve("etcd3")), "..", "proto");
}

const shellQuote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/** Shell commands run after esbuild: move the bundle into `lib/`, add etcd3's .proto files in `proto/`. */
export function afterBundlingCommands(outputDir: string): string[] {
  const out = shellQuote(outputDir);
  const lib = shellQuote(join(outputDir, BUNDLE_DIR));
  const proto = shellQuote(join(outputDir, "proto"));
  return [
    `mkdir -p ${lib} ${proto}`,
    `mv ${out}/index.mjs ${out}/index.mjs.map ${lib}/`,
    `cp ${shellQuote(etcdProtoDir())}/*.proto ${proto}/`,
  ];
}

/** The NodejsFunction bundling options of every function. */
export function bundlingOptions(): BundlingOptions {
  return {
    format: OutputFormat.ESM,
    target: ESBUILD_TARGET,
    mainFields: ["module", "main"],
    banner: ESM_BANNER,
    minify: true,
    sourceMap: true,
    sourceMapMode: SourceMapMode.DEFAULT,
    // Stack traces need file names and lines, not the sources: a quarter of the map's size.
    sourcesContent: false,
    externalModules: EXTERNAL_MODULES,
    forceDockerBundling: false,
    logLevel: LogLevel.WARNING,
    commandHooks: {
      beforeBundling: () => [],
      beforeInstall: () => [],
      afterBundling: (_inputDir: string, outputDir: string) => afterBundlingCommands(outputDir),
    },
  };
}

/**
 * The same build through esbuild's JavaScript API (what NodejsFunction passes to the esbuild CLI), for the benchmark.
 * `outfile` is `<outdir>/index.mjs`; run afterBundlingCommands(outdir) afterwards for the deployed layout.
 */
export function esbuildBuildOptions(entry: string, outdir: string) {
  const b = bundlingOptions();
  return {
    entryPoints: [entry],
    outfile: join(outdir, "index.mjs"),
    bundle: true,
    platform: "node" as const,
    target: b.target!,
    format: "esm" as const,
    mainFields: b.mainFields!,
    banner: { js: b.banner! },
    minify: b.minify!,
    sourcemap: true as const,
    sourcesContent: b.sourcesContent!,
    external: b.externalModules!,
    logLevel: "warning" as const,
    metafile: true,
  };
}

export interface NetworkPlacement {
  vpc: IVpc;
  subnets: SubnetSelection;
  securityGroups: ISecurityGroup[];
}

export interface HousekeeperFunctionProps {
  name: FunctionName;
  description: string;
  memoryMb: number;
  timeoutSeconds: number;
  reservedConcurrency?: number | undefined;
  /** /tmp size (Lambda's default 512 MB): the restore spools its backup there. */
  ephemeralStorageMb?: number | undefined;
  environment: Record<string, string>;
  logRetention: RetentionDays;
  logLevel: "DEBUG" | "INFO" | "WARN" | "ERROR";
  metricsNamespace: string;
  removalPolicy: RemovalPolicy;
  /** Placed in this VPC; undefined: no VPC. */
  network?: NetworkPlacement | undefined;
  /** Asynchronous invocations (the schedules') that still fail after Lambda's retries go to this queue. */
  onAsyncFailure?: { queue: IQueue; retryAttempts: number } | undefined;
}

export class HousekeeperFunction extends Construct {
  readonly fn: NodejsFunction;
  readonly role: Role;
  readonly logGroup: LogGroup;
  readonly name: FunctionName;

  constructor(scope: Construct, id: string, props: HousekeeperFunctionProps) {
    super(scope, id);
    this.name = props.name;
    this.logGroup = new LogGroup(this, "Logs", {
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    this.role = new Role(this, "Role", {
      assumedBy: new ServicePrincipal("lambda.amazonaws.com"),
      description: `dapr-housekeeper ${props.name} function`,
    });
    this.role.addToPolicy(
      new PolicyStatement({
        sid: "WriteOwnLogs",
        actions: ["logs:CreateLogStream", "logs:PutLogEvents"],
        resources: [this.logGroup.logGroupArn],
      }),
    );
    if (props.network) {
      // What AWSLambdaVPCAccessExecutionRole grants: EC2 has no resource-level permissions for these calls.
      this.role.addToPolicy(
        new PolicyStatement({
          sid: "ManageVpcNetworkInterfaces",
          effect: Effect.ALLOW,
          actions: [
            "ec2:CreateNetworkInterface",
            "ec2:DescribeNetworkInterfaces",
            "ec2:DescribeSubnets",
            "ec2:DeleteNetworkInterface",
            "ec2:AssignPrivateIpAddresses",
            "ec2:UnassignPrivateIpAddresses",
          ],
          resources: ["*"],
        }),
      );
    }

    this.fn = new NodejsFunction(this, "Function", {
      entry: functionEntry(props.name),
      handler: HANDLER,
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: join(PROJECT_ROOT, "package-lock.json"),
      runtime: RUNTIME,
      architecture: ARCHITECTURE,
      description: props.description,
      memorySize: props.memoryMb,
      timeout: Duration.seconds(props.timeoutSeconds),
      ...(props.reservedConcurrency !== undefined ? { reservedConcurrentExecutions: props.reservedConcurrency } : {}),
      ...(props.ephemeralStorageMb !== undefined
        ? { ephemeralStorageSize: Size.mebibytes(props.ephemeralStorageMb) }
        : {}),
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: LoggingFormat.JSON,
      applicationLogLevelV2: ApplicationLogLevel[props.logLevel],
      systemLogLevelV2: SystemLogLevel.INFO,
      bundling: bundlingOptions(),
      environment: {
        NODE_OPTIONS: "--enable-source-maps",
        POWERTOOLS_METRICS_NAMESPACE: props.metricsNamespace,
        POWERTOOLS_LOG_LEVEL: props.logLevel,
        ...props.environment,
      },
      ...(props.network
        ? {
            vpc: props.network.vpc,
            vpcSubnets: props.network.subnets,
            securityGroups: props.network.securityGroups,
          }
        : {}),
      ...(props.onAsyncFailure
        ? {
            onFailure: new SqsDestination(props.onAsyncFailure.queue),
            retryAttempts: props.onAsyncFailure.retryAttempts,
            maxEventAge: Duration.hours(1),
          }
        : {}),
    });

    if (props.network) {
      acknowledge(
        this.role,
        "AwsSolutions-IAM5[Resource::*]",
        "Attaching the function to its VPC subnets needs ec2:*NetworkInterface* on any resource: EC2 offers no resource-level permissions for these actions (the same statement as AWSLambdaVPCAccessExecutionRole).",
      );
    }
    if (props.onAsyncFailure?.queue.encryptionMasterKey) {
      for (const action of ["kms:ReEncrypt*", "kms:GenerateDataKey*"]) {
        acknowledge(
          this.role,
          `AwsSolutions-IAM5[Action::${action}]`,
          "The failure destination's grantSendMessages adds the key's encrypt actions (kms:Encrypt, kms:ReEncrypt*, kms:GenerateDataKey*) on the dead-letter queue's key only.",
        );
      }
    }
    acknowledge(
      this.fn,
      "AwsSolutions-L1",
      "Node.js 22 is the runtime the project builds, tests and benchmarks for (LTS until 2027-04); moving to a newer runtime is a deliberate upgrade, not drift.",
    );
  }

  get functionArn(): string {
    return this.fn.functionArn;
  }

  /** Adds one statement to the function's role. */
  allow(statement: PolicyStatement): void {
    this.role.addToPolicy(statement);
  }
}
