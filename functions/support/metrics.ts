/** A handler kit with Powertools metrics (functions/support/kit.ts), flushed after each invocation. */
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import { type LambdaKit, lambdaKit } from "./kit.ts";

export function meteredKit(serviceName: string): LambdaKit & { metrics: Metrics } {
  const metrics = new Metrics({
    namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? "DaprHousekeeper",
    serviceName,
  });
  const kit = lambdaKit(serviceName, {
    metrics,
    middleware: [logMetrics(metrics, { throwOnEmptyMetrics: false })],
    count: (metric) => metrics.addMetric(metric, MetricUnit.Count, 1),
  });
  return { ...kit, metrics };
}
