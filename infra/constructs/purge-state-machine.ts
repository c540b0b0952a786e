/**
 * Purges bigger than one invocation: a Step Functions state machine (JSONata) that takes the schedule's input
 * `{ "policy": {...} }` and fans it out with a **Distributed Map** over (target, shard) items: a child execution per
 * item, each invoking the purge function with `{policy, target, shard, continuationToken}` again and again until
 * `isComplete`. Then the purge function is invoked once more with every shard's summary, sums them into one run
 * report (stored beside the invocations' reports) and says which shards failed.
 *
 *   Start ─► Shards (Distributed Map; per item: Start ─► PurgeBatch ─► Complete? ──yes──► ShardDone
 *                                                        ▲               │ too many ──► ShardGaveUp
 *                                                        └──── no ───────┘ (error after retries ─► ShardFailed))
 *   ─► MergeReports ─► AnyShardFailed? ── yes ─► Failed (the execution fails: alarm) ── no ─► Done
 *
 * A shard that fails returns a summary saying so and does not stop the others; the execution fails at the end,
 * naming it. A child execution that fails outright (timed out, aborted) counts against the map's tolerated failure
 * percentage, and the merge step names it (it has no summary). The token is the purge function's own, bound to the
 * narrowed one-target policy and its shard, so a retried invocation resumes where the last successful one stopped.
 * Summaries stay small (counts, a cut error): the map's collected output is capped at 256 KB.
 */
import { Duration, type RemovalPolicy } from "aws-cdk-lib";
import type { Policy } from "aws-cdk-lib/aws-iam";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { LogGroup, type RetentionDays } from "aws-cdk-lib/aws-logs";
import {
  Choice,
  Condition,
  DefinitionBody,
  DistributedMap,
  Fail,
  LogLevel,
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
import type { ShardItem } from "../../shared/jobs/purge-shards.ts";
import { acknowledge, acknowledgeInvokeVersions, nagReference } from "./nag.ts";

/** A shard's error as carried in its summary: enough to act on, small enough for 500 of them in one state. */
const ERROR_CHARS = 200;

export interface PurgeStateMachineProps {
  purgeFunction: IFunction;
  /** The function's timeout: a task waits this long plus a minute. */
  functionTimeoutSeconds: number;
  /** The map's items: one per (target, shard), from the configuration (infra/config.ts purgeShardItems). */
  items: ShardItem[];
  /** Child executions at the same time. */
  maxConcurrency: number;
  toleratedFailurePercentage: number;
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

    const start = Pass.jsonata(this, "ShardStart", {
      comment: "Per-shard loop state: the policy, the item, the token so far, running totals.",
      assign: {
        policy: "{% $states.input.policy %}",
        target: "{% $states.input.target %}",
        shard: "{% $exists($states.input.shard) ? $states.input.shard : null %}",
        token: "",
        invocations: 0,
        purged: 0,
        wouldPurge: 0,
        skipped: 0,
        failed: 0,
      },
    });

    const batch = LambdaInvoke.jsonata(this, "PurgeBatch", {
      comment: "One invocation of the purge function on this shard; it stops cleanly before its time runs out.",
      lambdaFunction: props.purgeFunction,
      payload: TaskInput.fromText(
        '{% $merge([{"policy": $policy, "target": $target}, $shard != null ? {"shard": $shard} : {}, $token != "" ? {"continuationToken": $token} : {}]) %}',
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

    const cut = (expression: string) => `$substring(${expression}, 0, ${ERROR_CHARS})`;
    const summary = (ok: string, error: string) => ({
      target: "{% $target %}",
      shard: "{% $shard %}",
      ok,
      invocations: "{% $invocations %}",
      purged: "{% $purged %}",
      wouldPurge: "{% $wouldPurge %}",
      skipped: "{% $skipped %}",
      failed: "{% $failed %}",
      error,
    });
    const shardFailed = Pass.jsonata(this, "ShardFailed", {
      comment: "The function failed even after the retries: report this shard, let the others go on.",
      outputs: summary("{% false %}", `{% ${cut("$states.input.Error & ': ' & $states.input.Cause")} %}`),
    });
    batch.addCatch(shardFailed, {
      errors: ["States.ALL"],
      outputs: "{% $states.errorOutput %}",
    });
    const shardDone = Pass.jsonata(this, "ShardDone", {
      outputs: summary(
        "{% $count($states.input.targetErrors) = 0 %}",
        `{% $count($states.input.targetErrors) = 0 ? "" : ${cut("$string($states.input.targetErrors)")} %}`,
      ),
    });
    const gaveUp = Pass.jsonata(this, "ShardGaveUp", {
      comment: "A runaway guard: more invocations than purge.stateMachine.maxInvocationsPerTarget.",
      outputs: summary("{% false %}", `still not complete after ${props.maxInvocationsPerTarget} invocations`),
    });
    const complete = Choice.jsonata(this, "Complete?")
      .when(Condition.jsonata("{% $states.input.isComplete = true %}"), shardDone)
      .when(Condition.jsonata(`{% $invocations >= ${props.maxInvocationsPerTarget} %}`), gaveUp)
      .otherwise(batch);

    const perShard = start.next(batch).next(complete);

    const items = JSON.stringify(props.items);
    const begin = Pass.jsonata(this, "Start", {
      comment: "The policy, for the merge step (a Distributed Map's child executions see only their item).",
      assign: { policy: "{% $states.input.policy %}" },
    });
    const shards = DistributedMap.jsonata(this, "Shards", {
      comment: "One child execution per (target, shard) item, each looping on its continuation token.",
      items: ProvideItems.jsonata(`{% ${items} %}`),
      jsonataItemSelector: '{% $merge([{"policy": $states.input.policy}, $states.context.Map.Item.Value]) %}',
      maxConcurrency: props.maxConcurrency,
      toleratedFailurePercentage: props.toleratedFailurePercentage,
      mapExecutionType: StateMachineType.STANDARD,
      label: "PurgeShards",
    });
    shards.itemProcessor(perShard);

    const mergeReports = LambdaInvoke.jsonata(this, "MergeReports", {
      comment: "The purge function sums the shards' summaries into one run report and names the failed shards.",
      lambdaFunction: props.purgeFunction,
      payload: TaskInput.fromText(`{% {"policy": $policy, "merge": {"items": ${items}, "results": $states.input}} %}`),
      taskTimeout: Timeout.duration(Duration.seconds(props.functionTimeoutSeconds + 60)),
      outputs: "{% $states.result.Payload %}",
    });
    mergeReports.addRetry({
      errors: ["States.TaskFailed"],
      interval: Duration.seconds(30),
      maxAttempts: 2,
      backoffRate: 2,
    });

    const failed = Fail.jsonata(this, "Failed", {
      error: "PurgeShardsFailed",
      cause: "{% $string($states.input.failedShards) %}",
    });
    const done = Succeed.jsonata(this, "Done");
    const anyFailed = Choice.jsonata(this, "AnyShardFailed?")
      .when(Condition.jsonata("{% $states.input.ok = false %}"), failed)
      .otherwise(done);

    this.logGroup = new LogGroup(this, "Logs", {
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    this.stateMachine = new StateMachine(this, "StateMachine", {
      comment:
        "dapr-housekeeper retention purge: a Distributed Map over (target, shard), each looping on continuationToken",
      queryLanguage: QueryLanguage.JSONATA,
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: DefinitionBody.fromChainable(begin.next(shards).next(mergeReports).next(anyFailed)),
      timeout: Duration.hours(props.timeoutHours),
      tracingEnabled: true,
      logs: { destination: this.logGroup, level: LogLevel.ALL, includeExecutionData: true },
    });
    // The Distributed Map's own grants (StateMachine adds them): start, describe, stop and redrive this state
    // machine's child executions, whose names Step Functions makes up (execution:<name>/<label>:*).
    const mapPolicy = this.stateMachine.node.tryFindChild("DistributedMapPolicy") as Policy | undefined;
    for (const statement of mapPolicy?.document.toJSON()?.Statement ?? []) {
      for (const resource of [statement.Resource].flat()) {
        if (typeof resource !== "object" && !String(resource).includes("*")) continue;
        const reference = nagReference(this.stateMachine, resource);
        if (!reference.endsWith("*")) continue;
        acknowledge(
          this.stateMachine,
          `AwsSolutions-IAM5[Resource::${reference}]`,
          "The Distributed Map starts, describes, stops and redrives its own child executions, named by Step Functions: executions of this one state machine only.",
        );
      }
    }
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
