/**
 * What every Lambda handler shares: its Powertools logger and metrics, the middy chain (logger context, X-Ray when
 * on, metrics flushed after each invocation) and one shape for a failed run's log line and metric. A handler module
 * creates its kit at module scope, so warm invocations reuse it.
 */
import { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import middy, { type MiddlewareObj } from "@middy/core";
import type { Context } from "aws-lambda";
import { type ErrorCode, errorMessage, HousekeeperError } from "../../shared/errors.ts";
import { traceHandler } from "../../shared/tracing.ts";

export interface LambdaKit {
  readonly serviceName: string;
  readonly logger: Logger;
  /** Undefined for a function that emits no metrics of its own (the webhook). */
  readonly metrics: Metrics | undefined;
}

/** Logger and (unless `metrics: false`) metrics under the function's service name. */
export function lambdaKit<M extends boolean = true>(
  serviceName: string,
  options: { metrics?: M } = {},
): LambdaKit & { metrics: M extends false ? undefined : Metrics } {
  const logger = new Logger({ serviceName });
  const metrics =
    options.metrics === false
      ? undefined
      : new Metrics({ namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? "DaprHousekeeper", serviceName });
  return { serviceName, logger, metrics } as LambdaKit & { metrics: M extends false ? undefined : Metrics };
}

/**
 * The handler wrapped in the chain every function uses: the logger's Lambda context, tracing, then the metrics
 * flush (an invocation that adds no metric emits nothing), then any middleware of the function's own.
 */
export function lambdaHandler<E, R>(
  kit: LambdaKit,
  run: (event: E, context: Context) => Promise<R>,
  ...extra: MiddlewareObj[]
) {
  let chain = middy(run).use(injectLambdaContext(kit.logger)).use(traceHandler(kit.serviceName));
  if (kit.metrics) chain = chain.use(logMetrics(kit.metrics, { throwOnEmptyMetrics: false }));
  for (const m of extra) chain = chain.use(m);
  return chain;
}

/** The code a failure is logged and answered with: the HousekeeperError's, else `internal`. */
export function failureCode(error: unknown): ErrorCode | "internal" {
  return error instanceof HousekeeperError ? error.code : "internal";
}

/** A failed run in one shape: the metric counted once, and `{code, reason}` logged at `level` with `message`. */
export function logFailure(
  kit: LambdaKit,
  error: unknown,
  how: { message: string; metric?: string; level?: "error" | "warn" },
): void {
  if (how.metric) kit.metrics?.addMetric(how.metric, MetricUnit.Count, 1);
  kit.logger[how.level ?? "error"](how.message, { code: failureCode(error), reason: errorMessage(error) });
}
