/**
 * What every Lambda handler shares: its Powertools logger, the middy chain (logger context, X-Ray when on, then the
 * metrics flush of a metered kit, functions/support/metrics.ts) and one shape for a failed run's log line and
 * metric. A handler module creates its kit at module scope, so warm invocations reuse it. No metrics code is
 * imported here: a function without metrics (the webhook) does not load it at cold start.
 */
import { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import type { Metrics } from "@aws-lambda-powertools/metrics";
import middy, { type MiddlewareObj } from "@middy/core";
import type { Context } from "aws-lambda";
import { type ErrorCode, errorMessage, HousekeeperError } from "../../shared/errors.ts";
import { traceHandler } from "../../shared/tracing.ts";

export interface LambdaKit {
  readonly serviceName: string;
  readonly logger: Logger;
  /** Undefined for a function that emits no metrics of its own (the webhook). */
  readonly metrics: Metrics | undefined;
  /** Runs after tracing: the metrics flush of a metered kit (an invocation that adds no metric emits nothing). */
  readonly middleware: readonly MiddlewareObj[];
  /** Adds 1 (Count) to a metric; nothing without metrics. */
  readonly count: (metric: string) => void;
}

/** A kit with a logger under the function's service name (metrics: functions/support/metrics.ts). */
export function lambdaKit(
  serviceName: string,
  metered?: Pick<LambdaKit, "metrics" | "middleware" | "count">,
): LambdaKit {
  return {
    serviceName,
    logger: new Logger({ serviceName }),
    metrics: metered?.metrics,
    middleware: metered?.middleware ?? [],
    count: metered?.count ?? (() => {}),
  };
}

/** The handler wrapped in the chain every function uses, then any middleware of the function's own. */
export function lambdaHandler<E, R>(
  kit: LambdaKit,
  run: (event: E, context: Context) => Promise<R>,
  ...extra: MiddlewareObj[]
) {
  let chain = middy(run).use(injectLambdaContext(kit.logger)).use(traceHandler(kit.serviceName));
  for (const m of [...kit.middleware, ...extra]) chain = chain.use(m);
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
  if (how.metric) kit.count(how.metric);
  kit.logger[how.level ?? "error"](how.message, { code: failureCode(error), reason: errorMessage(error) });
}
