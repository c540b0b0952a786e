/**
 * Purges bigger than one invocation: a Step Functions state machine (JSONata) that takes the schedule's input
 * `{ "policy": {...} }`, fans out over the policy's targets (a Map state, each iteration a one-target policy), and per
 * target invokes the purge function again and again with the `continuationToken` it returned until `isComplete`.
 *
 *   Targets (Map) ── per target: Start ─► PurgeBatch ─► Complete? ──yes──► TargetDone
 *                                          ▲               │ too many ──► TargetGaveUp
 *                                          └──── no ───────┘ (error after retries ─► TargetFailed)
 *   ─► AnyTargetFailed? ── yes ─► Failed (the execution fails: alarm) ── no ─► Done
 *
 * A target that fails does not stop the others; the execution fails at the end if any did, naming them. The
 * per-target token is the purge function's own (bound to that one-target policy), so a retried invocation resumes
 * exactly where the last successful one stopped.
 */
import { Duration, type RemovalPolicy } from "aws-cdk-lib";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { LogGroup, type RetentionDays } from "aws-cdk-lib/aws-logs";
import {
  Choice,
  Condition,
  DefinitionBody,
  Fail,
  LogLevel,
  Map as MapState,
  Pass,
  ProvideItems,
  QueryLanguage,
  StateMachine,
  StateMachineType,
  Succeed,
  TaskInput,
  Timeout,
} from "aws-cdk-lib/aws-stepfunctions";
import { LambdaInvoke } from "aws-cdk-lib/aws-stepfunctions-tasks";
import { Construct } from "constructs";
import { acknowledge, acknowledgeInvokeVersions } from "./nag.ts";

export interface PurgeStateMachineProps {
  purgeFunction: IFunction;
  /** The function's timeout: a task waits this long plus a minute. */
  functionTimeoutSeconds: number;
  maxConcurrency: number;
  maxInvocationsPerTarget: number;
  timeoutHours: number;
  logRetention: RetentionDays;
  removalPolicy: RemovalPolicy;
}

export class PurgeStateMachine extends Construct {
  readonly stateMachine: StateMachine;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: PurgeStateMachineProps) {
    super(scope, id);

    const start = Pass.jsonata(this, "Start", {
      comment: "Per-target loop state: the one-target policy, the token so far, running totals.",
      assign: {
        policy: "{% $states.input.policy %}",
        appId: "{% $states.input.appId %}",
        namespace: "{% $states.input.namespace %}",
        token: "",
        invocations: 0,
        purged: 0,
        wouldPurge: 0,
        skipped: 0,
        failed: 0,
        reportKeys: "{% [] %}",
      },
    });

    const batch = LambdaInvoke.jsonata(this, "PurgeBatch", {
      comment: "One invocation of the purge function; it stops cleanly before its time runs out.",
      lambdaFunction: props.purgeFunction,
      payload: TaskInput.fromText(
        '{% $token != "" ? {"policy": $policy, "continuationToken": $token} : {"policy": $policy} %}',
      ),
      taskTimeout: Timeout.duration(Duration.seconds(props.functionTimeoutSeconds + 60)),
      assign: {
        token:
          '{% $exists($states.result.Payload.continuationToken) ? $states.result.Payload.continuationToken : "" %}',
        invocations: "{% $invocations + 1 %}",
        purged: "{% $purged + $states.result.Payload.purged %}",
        wouldPurge:
          "{% $wouldPurge + ($exists($states.result.Payload.wouldPurge) ? $states.result.Payload.wouldPurge : 0) %}",
        skipped: "{% $skipped + $states.result.Payload.skipped %}",
        failed: "{% $failed + $states.result.Payload.failedCount %}",
        reportKeys:
          "{% $exists($states.result.Payload.reportKey) ? $append($reportKeys, [$states.result.Payload.reportKey]) : $reportKeys %}",
      },
      // Keep the state small (a run's `failed` list can be long): only what the loop decides on.
      outputs: {
        isComplete: "{% $states.result.Payload.isComplete %}",
        targetErrors: "{% $exists($states.result.Payload.targetErrors) ? $states.result.Payload.targetErrors : [] %}",
      },
    });
    // Lambda.* service errors are retried by default; a failed run (store down, throttled) a few times more.
    batch.addRetry({
      errors: ["States.TaskFailed"],
      interval: Duration.seconds(30),
      maxAttempts: 2,
      backoffRate: 2,
    });

    const summary = (ok: boolean, error?: string) => ({
      ok,
      appId: "{% $appId %}",
      namespace: "{% $namespace %}",
      invocations: "{% $invocations %}",
      purged: "{% $purged %}",
      wouldPurge: "{% $wouldPurge %}",
      skipped: "{% $skipped %}",
      failed: "{% $failed %}",
      reportKeys: "{% $reportKeys %}",
      ...(error ? { error } : {}),
    });
    const targetFailed = Pass.jsonata(this, "TargetFailed", {
      comment: "The function failed even after the retries: report this target, let the others go on.",
      outputs: summary(false, "{% $states.input.Error & ': ' & $states.input.Cause %}"),
    });
    batch.addCatch(targetFailed, {
      errors: ["States.ALL"],
      outputs: "{% $states.errorOutput %}",
    });
    const targetDone = Pass.jsonata(this, "TargetDone", {
      outputs: {
        ...summary(true),
        ok: "{% $count($states.input.targetErrors) = 0 %}",
        error: '{% $count($states.input.targetErrors) = 0 ? "" : $string($states.input.targetErrors) %}',
      },
    });
    const gaveUp = Pass.jsonata(this, "TargetGaveUp", {
      comment: "A runaway guard: more invocations than purge.stateMachine.maxInvocationsPerTarget.",
      outputs: summary(false, `still not complete after ${props.maxInvocationsPerTarget} invocations`),
    });
    const complete = Choice.jsonata(this, "Complete?")
      .when(Condition.jsonata("{% $states.input.isComplete = true %}"), targetDone)
      .when(Condition.jsonata(`{% $invocations >= ${props.maxInvocationsPerTarget} %}`), gaveUp)
      .otherwise(batch);

    const perTarget = start.next(batch).next(complete);

    const targets = MapState.jsonata(this, "Targets", {
      comment: "One iteration per target of the policy, each with a one-target policy.",
      items: ProvideItems.jsonata("{% $states.input.policy.targets %}"),
      jsonataItemSelector:
        '{% {"policy": $merge([$states.input.policy, {"targets": [$states.context.Map.Item.Value]}]), "appId": $states.context.Map.Item.Value.appId, "namespace": $exists($states.context.Map.Item.Value.namespace) ? $states.context.Map.Item.Value.namespace : "default"} %}',
      maxConcurrency: props.maxConcurrency,
    });
    targets.itemProcessor(perTarget);

    const failed = Fail.jsonata(this, "Failed", {
      error: "PurgeTargetsFailed",
      cause: "{% $string($states.input[ok = false]) %}",
    });
    const done = Succeed.jsonata(this, "Done");
    const anyFailed = Choice.jsonata(this, "AnyTargetFailed?")
      .when(Condition.jsonata("{% $count($states.input[ok = false]) > 0 %}"), failed)
      .otherwise(done);

    this.logGroup = new LogGroup(this, "Logs", {
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    this.stateMachine = new StateMachine(this, "StateMachine", {
      comment: "dapr-housekeeper retention purge: loops on continuationToken until isComplete, per target",
      queryLanguage: QueryLanguage.JSONATA,
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: DefinitionBody.fromChainable(targets.next(anyFailed)),
      timeout: Duration.hours(props.timeoutHours),
      tracingEnabled: true,
      logs: { destination: this.logGroup, level: LogLevel.ALL, includeExecutionData: true },
    });

    acknowledgeInvokeVersions(
      this.stateMachine,
      props.purgeFunction.functionArn,
      "The LambdaInvoke task grants lambda:InvokeFunction on the purge function and its versions/aliases (`<arn>:*`): one function only.",
    );
    acknowledge(
      this.stateMachine,
      "AwsSolutions-IAM5[Resource::*]",
      "X-Ray tracing and vended-log delivery to CloudWatch Logs (logs:*LogDelivery*, xray:PutTraceSegments, ...) have no resource-level permissions.",
    );
  }
}
