/**
 * An EventBridge Scheduler schedule (not a legacy EventBridge rule) that runs a job: invokes a function or starts a
 * state machine with a fixed JSON input (the policy / per-run settings), within a flexible time window, retrying
 * deliveries the target refuses and then sending them to the dead-letter queue. Each schedule assumes its own role,
 * allowed to do exactly that.
 */
import { Duration, Stack, TimeZone } from "aws-cdk-lib";
import { Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import {
  type IScheduleGroup,
  Schedule,
  ScheduleExpression,
  ScheduleTargetInput,
  TimeWindow,
} from "aws-cdk-lib/aws-scheduler";
import { LambdaInvoke, StepFunctionsStartExecution } from "aws-cdk-lib/aws-scheduler-targets";
import type { IQueue } from "aws-cdk-lib/aws-sqs";
import type { IStateMachine } from "aws-cdk-lib/aws-stepfunctions";
import { Construct } from "constructs";
import { acknowledgeInvokeVersions } from "./nag.ts";

/** EventBridge Scheduler's limit on a target's input. */
export const MAX_SCHEDULE_INPUT_CHARS = 8192;

export interface ScheduleSettings {
  expression: string;
  timezone: string;
  flexibleWindowMinutes: number;
  enabled: boolean;
  retryAttempts: number;
  maxEventAgeMinutes: number;
}

export interface ScheduledJobProps {
  description: string;
  settings: ScheduleSettings;
  target: { function: IFunction } | { stateMachine: IStateMachine };
  input: Record<string, unknown>;
  deadLetterQueue: IQueue;
  group: IScheduleGroup;
}

export class ScheduledJob extends Construct {
  readonly schedule: Schedule;
  readonly role: Role;

  constructor(scope: Construct, id: string, props: ScheduledJobProps) {
    super(scope, id);
    const inputText = JSON.stringify(props.input);
    if (inputText.length > MAX_SCHEDULE_INPUT_CHARS) {
      throw new Error(
        `${this.node.path}: the schedule's input is ${inputText.length} characters, EventBridge Scheduler takes at most ${MAX_SCHEDULE_INPUT_CHARS}; split the policy into several schedules`,
      );
    }
    const stack = Stack.of(this);
    this.role = new Role(this, "Role", {
      description: `EventBridge Scheduler: ${props.description}`,
      assumedBy: new ServicePrincipal("scheduler.amazonaws.com", {
        conditions: {
          StringEquals: {
            "aws:SourceAccount": stack.account,
            "aws:SourceArn": props.group.scheduleGroupArn,
          },
        },
      }),
    });
    const targetProps = {
      role: this.role,
      input: ScheduleTargetInput.fromObject(props.input),
      deadLetterQueue: props.deadLetterQueue,
      retryAttempts: props.settings.retryAttempts,
      maxEventAge: Duration.minutes(props.settings.maxEventAgeMinutes),
    };
    const target =
      "function" in props.target
        ? new LambdaInvoke(props.target.function, targetProps)
        : new StepFunctionsStartExecution(props.target.stateMachine, targetProps);
    // The target grants sqs:SendMessage; an encrypted queue also needs its key.
    props.deadLetterQueue.encryptionMasterKey?.grant(this.role, "kms:GenerateDataKey", "kms:Decrypt");

    this.schedule = new Schedule(this, "Schedule", {
      description: props.description,
      // A time zone only means something to cron expressions.
      schedule: props.settings.expression.startsWith("cron(")
        ? ScheduleExpression.expression(props.settings.expression, TimeZone.of(props.settings.timezone))
        : ScheduleExpression.expression(props.settings.expression),
      target,
      scheduleGroup: props.group,
      enabled: props.settings.enabled,
      timeWindow:
        props.settings.flexibleWindowMinutes > 0
          ? TimeWindow.flexible(Duration.minutes(props.settings.flexibleWindowMinutes))
          : TimeWindow.off(),
    });

    if ("function" in props.target) {
      acknowledgeInvokeVersions(
        this.role,
        props.target.function.functionArn,
        "The scheduler-targets LambdaInvoke grants lambda:InvokeFunction on the function and its versions/aliases (`<arn>:*`): one function only.",
      );
    }
  }
}
