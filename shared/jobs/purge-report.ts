/** Stores a retention run's report as JSON under a dated key: `<prefix>/<yyyy>/<mm>/<dd>/<ISO time>.json`. */
import type { ObjectStore } from "../object-store/object-store.ts";
import type { RetentionRunReport } from "./retention-run.ts";

export function purgeReportKey(prefix: string, at: Date): string {
  const iso = at.toISOString();
  const [date] = iso.split("T");
  const [y, m, d] = date!.split("-");
  return `${prefix.replace(/\/+$/, "")}/${y}/${m}/${d}/${iso.replace(/[:.]/g, "-")}.json`;
}

export async function writePurgeReport(
  store: ObjectStore,
  prefix: string,
  report: RetentionRunReport,
): Promise<string> {
  const key = purgeReportKey(prefix, new Date(report.startedAt));
  await store.put(key, `${JSON.stringify(report, null, 2)}\n`, { contentType: "application/json" });
  return key;
}
