/**
 * The webhook's public endpoint: an API Gateway HTTP API (payload v2, one `$default` route to the function, stage
 * throttling, JSON access logs in their own log group) or a Lambda Function URL (throttled by the function's
 * reserved concurrency). Either way callers are authenticated by the function itself (HMAC signatures or a bearer
 * key per route), so the endpoint has no IAM or JWT authorizer.
 */
import type { RemovalPolicy } from "aws-cdk-lib";
import { AccessLogFormat } from "aws-cdk-lib/aws-apigateway";
import { HttpApi, HttpStage, LogGroupLogDestination, PayloadFormatVersion } from "aws-cdk-lib/aws-apigatewayv2";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import { type FunctionUrl, FunctionUrlAuthType, type IFunction, InvokeMode } from "aws-cdk-lib/aws-lambda";
import { LogGroup, type RetentionDays } from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import { acknowledge } from "./nag.ts";

export interface WebhookEndpointProps {
  webhookFunction: IFunction;
  exposure: "http-api" | "function-url";
  throttle: { rateLimit: number; burstLimit: number };
  logRetention: RetentionDays;
  removalPolicy: RemovalPolicy;
}

/** Fields of each access-log line (JSON), for Logs Insights. */
export const ACCESS_LOG_FIELDS = {
  requestId: "$context.requestId",
  ip: "$context.identity.sourceIp",
  requestTime: "$context.requestTime",
  httpMethod: "$context.httpMethod",
  path: "$context.path",
  routeKey: "$context.routeKey",
  status: "$context.status",
  protocol: "$context.protocol",
  responseLength: "$context.responseLength",
  latencyMs: "$context.responseLatency",
  integrationLatencyMs: "$context.integrationLatency",
  integrationStatus: "$context.integrationStatus",
  integrationError: "$context.integrationErrorMessage",
  userAgent: "$context.identity.userAgent",
};

export class WebhookEndpoint extends Construct {
  readonly url: string;
  readonly api: HttpApi | undefined;
  readonly stage: HttpStage | undefined;
  readonly accessLogs: LogGroup | undefined;
  readonly functionUrl: FunctionUrl | undefined;

  constructor(scope: Construct, id: string, props: WebhookEndpointProps) {
    super(scope, id);
    if (props.exposure === "function-url") {
      this.functionUrl = props.webhookFunction.addFunctionUrl({
        authType: FunctionUrlAuthType.NONE,
        invokeMode: InvokeMode.BUFFERED,
      });
      this.url = this.functionUrl.url;
      return;
    }

    this.accessLogs = new LogGroup(this, "AccessLogs", {
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    this.api = new HttpApi(this, "Api", {
      description: "dapr-housekeeper webhooks: start workflows and raise events",
      createDefaultStage: false,
      defaultIntegration: new HttpLambdaIntegration("Webhook", props.webhookFunction, {
        payloadFormatVersion: PayloadFormatVersion.VERSION_2_0,
      }),
    });
    this.stage = new HttpStage(this, "Stage", {
      httpApi: this.api,
      stageName: "$default",
      autoDeploy: true,
      throttle: { rateLimit: props.throttle.rateLimit, burstLimit: props.throttle.burstLimit },
      accessLogSettings: {
        destination: new LogGroupLogDestination(this.accessLogs),
        format: AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
      },
    });
    this.url = this.stage.url;

    acknowledge(
      this.api,
      "AwsSolutions-APIG4",
      "Webhook senders (GitHub, Stripe, Standard Webhooks) cannot use IAM or JWT: every route is authenticated in the function by an HMAC signature over the raw body or a bearer key, and unknown routes are 404.",
    );
  }
}
