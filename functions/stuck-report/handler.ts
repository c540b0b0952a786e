/**
 * Scheduled stuck-workflow report (EventBridge Scheduler → Lambda): for each configured app, scans the actor state
 * store (and the Scheduler's etcd when ETCD_ENDPOINTS is set), writes the JSON/CSV/HTML reports and a summary to the
 * object store under a dated key, and notifies SNS when the count reaches the threshold. Configuration: environment
 * variables and the schedule's input (./settings.ts). Metrics: StuckInstances per app and per
 * reason (dimension `Reason`), InstancesScanned, UnreadableInstances. A failure is logged with its code, counted and
 * rethrown, so the invocation fails (the Scheduler retries, then its dead-letter queue).
 */
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import type { Context } from "aws-lambda";
import { STUCK_REASONS } from "../../shared/jobs/stuck-report/model.ts";
import { publishStuckReport } from "../../shared/jobs/stuck-report/publish.ts";
import { StuckReportPortsCache } from "../../shared/wiring/stuck-report-ports.ts";
import { lambdaHandler, logFailure } from "../support/kit.ts";
import { meteredKit } from "../support/metrics.ts";
import { stuckReportSettings } from "./settings.ts";

const kit = meteredKit("stuck-report");
export const { logger, metrics } = kit;
/** Module scope: reused by warm invocations. */
export const ports = new StuckReportPortsCache();

export interface StuckReportResponse {
  apps: Array<{
    appId: string;
    namespace: string;
    scanned: number;
    stuck: number;
    byReason: Record<string, number>;
    reports: Record<string, string>;
    notified: boolean;
    isComplete: boolean;
  }>;
}

export async function reportStuck(event: unknown, context?: Context): Promise<StuckReportResponse> {
  try {
    const settings = stuckReportSettings(process.env, event);
    const response: StuckReportResponse = { apps: [] };
    for (const app of settings.apps) {
      const result = await publishStuckReport(await ports.get(settings, app), {
        ...settings.job,
        ...(context?.getRemainingTimeInMillis ? { timeLeftMs: () => context.getRemainingTimeInMillis() } : {}),
      });
      const { summary } = result;
      const perApp = metrics.singleMetric();
      perApp.addDimension("App", `${app.namespace}/${app.appId}`);
      perApp.addMetric("StuckInstances", MetricUnit.Count, summary.stuck);
      for (const reason of STUCK_REASONS) {
        const single = metrics.singleMetric();
        single.addDimensions({ App: `${app.namespace}/${app.appId}`, Reason: reason });
        single.addMetric("StuckInstances", MetricUnit.Count, summary.byReason[reason]);
      }
      if (summary.orphanReminders && "total" in summary.orphanReminders) {
        const orphans = metrics.singleMetric();
        orphans.addDimension("App", `${app.namespace}/${app.appId}`);
        orphans.addMetric("OrphanReminders", MetricUnit.Count, summary.orphanReminders.total);
      }
      metrics.addMetric("InstancesScanned", MetricUnit.Count, summary.scanned);
      metrics.addMetric("UnreadableInstances", MetricUnit.Count, summary.unreadable);
      logger.info("stuck report written", {
        app,
        scanned: summary.scanned,
        stuck: summary.stuck,
        byReason: summary.byReason,
        ...(summary.orphanReminders ? { orphanReminders: summary.orphanReminders } : {}),
        reports: result.reports,
        notified: result.notified,
        isComplete: summary.isComplete,
        durationMs: result.durationMs,
      });
      response.apps.push({
        appId: app.appId,
        namespace: app.namespace,
        scanned: summary.scanned,
        stuck: summary.stuck,
        byReason: summary.byReason,
        reports: result.reports as Record<string, string>,
        notified: result.notified,
        isComplete: summary.isComplete,
      });
    }
    return response;
  } catch (error) {
    logFailure(kit, error, { message: "stuck report failed", metric: "StuckReportFailed" });
    throw error;
  }
}

export const handler = lambdaHandler(kit, reportStuck);
