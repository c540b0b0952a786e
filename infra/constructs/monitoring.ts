/**
 * Alarms and the dashboard. Every alarm notifies the notifications topic (created here, KMS-encrypted with the
 * stack's key, or an existing one), which the stuck report also publishes to.
 *
 * Alarms: per function Errors and Throttles; the dead-letter queue's depth; the purge state machine's failed, timed
 * out and aborted executions; and per watched app the stuck count: metric `StuckInstances` in the metrics namespace
 * (default `DaprHousekeeper`) with dimensions `service=stuck-report` and `App=<namespace>/<appId>`, as the
 * stuck-report function emits it through Powertools.
 */
import { Duration } from "aws-cdk-lib";
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  MathExpression,
  Metric,
  SingleValueWidget,
  TextWidget,
  TreatMissingData,
} from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import { ServicePrincipal } from "aws-cdk-lib/aws-iam";
import type { IKey } from "aws-cdk-lib/aws-kms";
import { type ITopic, Topic } from "aws-cdk-lib/aws-sns";
import { EmailSubscription } from "aws-cdk-lib/aws-sns-subscriptions";
import type { IQueue } from "aws-cdk-lib/aws-sqs";
import type { StateMachine } from "aws-cdk-lib/aws-stepfunctions";
import { Construct } from "constructs";
import type { HousekeeperFunction } from "./housekeeper-function.ts";
import { acknowledge } from "./nag.ts";
import type { WebhookEndpoint } from "./webhook-endpoint.ts";

export const STUCK_METRIC_NAME = "StuckInstances";
export const STUCK_SERVICE_DIMENSION = "stuck-report";

export interface NotificationsProps {
  topicArn?: string | undefined;
  emails: string[];
  key?: IKey | undefined;
}

/** The topic alarms and stuck reports go to. */
export class Notifications extends Construct {
  readonly topic: ITopic;

  constructor(scope: Construct, id: string, props: NotificationsProps) {
    super(scope, id);
    if (props.topicArn) {
      this.topic = Topic.fromTopicArn(this, "Topic", props.topicArn);
      return;
    }
    const topic = new Topic(this, "Topic", {
      displayName: "dapr-housekeeper",
      enforceSSL: true,
      ...(props.key ? { masterKey: props.key } : {}),
    });
    for (const email of props.emails) topic.addSubscription(new EmailSubscription(email));
    if (props.key) {
      // CloudWatch alarms publish to an encrypted topic only if they may use its key.
      props.key.grant(new ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*");
    } else {
      acknowledge(
        topic,
        "AwsSolutions-SNS2",
        "encryption is `aws-managed` by configuration: the AWS-managed SNS key cannot be used by CloudWatch alarms, so the topic is unencrypted; the messages are alarm states and stuck counts, no workflow data.",
      );
    }
    this.topic = topic;
  }
}

export interface MonitoringProps {
  topic: ITopic;
  alarmsEnabled: boolean;
  periodMinutes: number;
  errorThreshold: number;
  throttleThreshold: number;
  dlqDepthThreshold: number;
  stuckThreshold: number;
  metricsNamespace: string;
  functions: HousekeeperFunction[];
  deadLetterQueue?: IQueue | undefined;
  purgeStateMachine?: StateMachine | undefined;
  /** `<namespace>/<appId>` of each app the stuck report watches. */
  stuckApps: string[];
  webhook?: WebhookEndpoint | undefined;
}

export class Monitoring extends Construct {
  readonly alarms: Alarm[] = [];
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const period = Duration.minutes(props.periodMinutes);
    const action = new SnsAction(props.topic);
    const alarm = (alarmId: string, metric: IMetric, threshold: number, description: string) => {
      if (!props.alarmsEnabled) return;
      const a = new Alarm(this, alarmId, {
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      a.addAlarmAction(action);
      a.addOkAction(action);
      this.alarms.push(a);
    };

    for (const f of props.functions) {
      const key = pascal(f.name);
      alarm(
        `${key}Errors`,
        f.fn.metricErrors({ period, statistic: "Sum" }),
        props.errorThreshold,
        `dapr-housekeeper ${f.name}: invocations failed (see its log group and the dead-letter queue)`,
      );
      alarm(
        `${key}Throttles`,
        f.fn.metricThrottles({ period, statistic: "Sum" }),
        props.throttleThreshold,
        `dapr-housekeeper ${f.name}: invocations throttled`,
      );
    }
    if (props.deadLetterQueue) {
      alarm(
        "DeadLetterQueueDepth",
        props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period, statistic: "Maximum" }),
        props.dlqDepthThreshold,
        "dapr-housekeeper: scheduled runs that could not be delivered or failed after retries are waiting in the dead-letter queue",
      );
    }
    if (props.purgeStateMachine) {
      const sm = props.purgeStateMachine;
      alarm(
        "PurgeExecutionsFailed",
        sm.metricFailed({ period, statistic: "Sum" }),
        1,
        "dapr-housekeeper purge: an execution failed (a target failed or gave up; the execution's cause names it)",
      );
      alarm(
        "PurgeExecutionsTimedOut",
        sm.metricTimedOut({ period, statistic: "Sum" }),
        1,
        "dapr-housekeeper purge: an execution timed out",
      );
      alarm(
        "PurgeExecutionsAborted",
        sm.metricAborted({ period, statistic: "Sum" }),
        1,
        "dapr-housekeeper purge: an execution was aborted",
      );
    }
    const stuckMetric = (app: string, label?: string, metricName = STUCK_METRIC_NAME) =>
      new Metric({
        namespace: props.metricsNamespace,
        metricName,
        dimensionsMap: { service: STUCK_SERVICE_DIMENSION, App: app },
        statistic: "Maximum",
        period: Duration.hours(1),
        ...(label ? { label } : {}),
      });
    props.stuckApps.forEach((app, i) => {
      alarm(
        `StuckInstances${i}`,
        stuckMetric(app),
        props.stuckThreshold,
        `dapr-housekeeper: ${app} has stuck workflow instances (see the latest stuck report)`,
      );
    });

    this.dashboard = new Dashboard(this, "Dashboard", { defaultInterval: Duration.days(7) });
    const fnMetric = (m: (f: HousekeeperFunction) => IMetric) => props.functions.map(m);
    this.dashboard.addWidgets(
      new TextWidget({
        markdown:
          "# dapr-housekeeper\nInvocations, errors and durations of the functions; purge and backup results; stuck instances per app. Reports and backups are in the stack's bucket (output `BucketName`).",
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: "Invocations",
        left: fnMetric((f) => f.fn.metricInvocations({ period, statistic: "Sum", label: f.name })),
        width: 8,
      }),
      new GraphWidget({
        title: "Errors / throttles",
        left: fnMetric((f) => f.fn.metricErrors({ period, statistic: "Sum", label: `${f.name} errors` })),
        right: fnMetric((f) => f.fn.metricThrottles({ period, statistic: "Sum", label: `${f.name} throttles` })),
        width: 8,
      }),
      new GraphWidget({
        title: "Duration p95 (ms)",
        left: fnMetric((f) => f.fn.metricDuration({ period, statistic: "p95", label: f.name })),
        width: 8,
      }),
    );
    const custom = (service: string, metricName: string, statistic = "Sum") =>
      new Metric({
        namespace: props.metricsNamespace,
        metricName,
        dimensionsMap: { service },
        statistic,
        period: Duration.hours(1),
        label: metricName,
      });
    this.dashboard.addWidgets(
      new GraphWidget({
        title: "Retention purge",
        left: [
          custom("purge", "Purged"),
          custom("purge", "PurgeSkipped"),
          custom("purge", "PurgeFailed"),
          custom("purge", "OrphanRemindersDeleted"),
        ],
        right: [custom("purge", "PurgeBacklogRemaining", "Maximum")],
        width: 8,
      }),
      new GraphWidget({
        title: "Stuck instances per app",
        left:
          props.stuckApps.length > 0
            ? props.stuckApps.map((app) => stuckMetric(app, app))
            : [
                new MathExpression({
                  expression: `SEARCH('{${props.metricsNamespace},App,service} MetricName="${STUCK_METRIC_NAME}"', 'Maximum', 3600)`,
                  label: "",
                  period: Duration.hours(1),
                }),
              ],
        // Reminders whose instance is gone or finished (counted when the report checks the Scheduler).
        right: props.stuckApps.map((app) => stuckMetric(app, `${app} orphan reminders`, "OrphanReminders")),
        width: 8,
      }),
      new GraphWidget({
        title: "Reminder backups",
        left: [
          custom("reminder-backup", "JobsExported", "Maximum"),
          custom("reminder-backup", "CountersExported", "Maximum"),
        ],
        right: [custom("reminder-backup", "BackupBytes", "Maximum")],
        width: 8,
      }),
    );
    const bottom = [];
    if (props.deadLetterQueue) {
      bottom.push(
        new SingleValueWidget({
          title: "Dead-letter queue (messages)",
          metrics: [props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: "Maximum" })],
          width: 6,
        }),
      );
    }
    if (props.purgeStateMachine) {
      const sm = props.purgeStateMachine;
      bottom.push(
        new GraphWidget({
          title: "Purge executions",
          left: [
            sm.metricSucceeded({ period: Duration.hours(1), statistic: "Sum" }),
            sm.metricFailed({ period: Duration.hours(1), statistic: "Sum" }),
            sm.metricTimedOut({ period: Duration.hours(1), statistic: "Sum" }),
          ],
          width: 9,
        }),
      );
    }
    if (props.webhook?.stage) {
      const stage = props.webhook.stage;
      bottom.push(
        new GraphWidget({
          title: "Webhook API",
          left: [
            stage.metricCount({ period, statistic: "Sum", label: "requests" }),
            stage.metricClientError({ period, statistic: "Sum", label: "4xx" }),
            stage.metricServerError({ period, statistic: "Sum", label: "5xx" }),
          ],
          right: [stage.metricLatency({ period, statistic: "p99", label: "latency p99" })],
          width: 9,
        }),
      );
    }
    if (bottom.length > 0) this.dashboard.addWidgets(...bottom);
  }
}

function pascal(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_m, _d, c: string) => c.toUpperCase());
}
