/**
 * One housekeeper Lambda function: ESM modules built locally by esbuild with code splitting (never Docker), Node.js 22 on arm64, its
 * own log group, and its own role that starts with nothing but writing to that log group (and, in a VPC, managing
 * its network interfaces). Everything else is granted by the stack, statement by statement.
 *
 * The build is exported so that bench/bundle-size.ts and the tests build exactly what the stack deploys.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { AssetHashType, DockerImage, Duration, type RemovalPolicy, Size } from "aws-cdk-lib";
import type { ISecurityGroup, IVpc, SubnetSelection } from "aws-cdk-lib/aws-ec2";
import { Effect, PolicyStatement, Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import {
  ApplicationLogLevel,
  Architecture,
  Code,
  Function as LambdaFunction,
  LoggingFormat,
  Runtime,
  SystemLogLevel,
  Tracing,
} from "aws-cdk-lib/aws-lambda";
import { SqsDestination } from "aws-cdk-lib/aws-lambda-destinations";
import { LogGroup, type RetentionDays } from "aws-cdk-lib/aws-logs";
import type { IQueue } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { BUNDLE_DIR, type FunctionName, PROJECT_ROOT } from "./function-build.ts";
import { acknowledge } from "./nag.ts";

export {
  BUNDLE_DIR,
  buildFunctionAsset,
  ESBUILD_TARGET,
  ESM_BANNER,
  EXTERNAL_MODULES,
  esbuildBuildOptions,
  etcdProtoDir,
  FUNCTION_NAMES,
  type FunctionName,
  functionEntry,
  PROJECT_ROOT,
} from "./function-build.ts";

export const RUNTIME = Runtime.NODEJS_22_X;
export const ARCHITECTURE = Architecture.ARM_64;
export const HANDLER = `${BUNDLE_DIR}/index.handler`;

const BUILD_SCRIPT = fileURLToPath(new URL("./function-build.ts", import.meta.url));

/**
 * The function's code: built locally by esbuild at synth time (never Docker; the image is never used), in a child
 * process because CDK's local bundling is synchronous and the build uses an esbuild plugin (function-build.ts). The
 * asset hash is the output's, as NodejsFunction's: the same sources give the same asset.
 */
function functionCode(name: FunctionName): Code {
  return Code.fromAsset(PROJECT_ROOT, {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      image: DockerImage.fromRegistry("dummy"),
      local: {
        tryBundle(outputDir: string): boolean {
          const result = spawnSync(process.execPath, ["--import", "tsx", BUILD_SCRIPT, name, outputDir], {
            cwd: PROJECT_ROOT,
            encoding: "utf8",
          });
          if (result.status !== 0) {
            throw new Error(`building the ${name} function failed: ${result.stderr || result.error?.message}`);
          }
          return true;
        },
      },
    },
  });
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
  readonly fn: LambdaFunction;
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

    this.fn = new LambdaFunction(this, "Function", {
      code: functionCode(props.name),
      handler: HANDLER,
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
      // X-Ray: the functions load the Powertools Tracer on their first traced invocation (shared/tracing.ts).
      tracing: Tracing.ACTIVE,
      applicationLogLevelV2: ApplicationLogLevel[props.logLevel],
      systemLogLevelV2: SystemLogLevel.INFO,
      environment: {
        NODE_OPTIONS: "--enable-source-maps",
        POWERTOOLS_METRICS_NAMESPACE: props.metricsNamespace,
        POWERTOOLS_LOG_LEVEL: props.logLevel,
        POWERTOOLS_SERVICE_NAME: props.name,
        POWERTOOLS_TRACE_ENABLED: "true",
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
      this.role,
      "AwsSolutions-IAM5[Resource::*]",
      "Active tracing grants xray:PutTraceSegments and xray:PutTelemetryRecords, which have no resource-level permissions.",
    );
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
