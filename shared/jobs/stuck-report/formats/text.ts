/**
 * The short text summary of a stuck report: what a notification, a log line or the CLI's stderr says.
 *
 *   Stuck workflows in app shop (namespace default), 2026-11-01T00:00:00.000Z: 7 of 120 instances look stuck.
 *   By reason: idle-too-long 3, no-reminder 2, timer-overdue 1, waiting-for-event 1, past-retention 2.
 *   By status: RUNNING 5, SUSPENDED 1, COMPLETED 2.
 *   Oldest: order-17 (idle 12d).
 *   Reports: s3://bucket/stuck-reports/… (json, csv, html)
 */

import { count } from "../../../util/count.ts";
import { RUNTIME_STATUSES } from "../../../workflow/runtime-status.ts";
import type { StuckSummary } from "../model.ts";
import { STUCK_REASONS } from "../model.ts";

export function summaryHeadline(summary: StuckSummary): string {
  const n = summary.scanned;
  return `${count(summary.stuck)} of ${count(n)} instance${n === 1 ? "" : "s"} look${summary.stuck === 1 ? "s" : ""} stuck in app ${summary.app.appId} (namespace ${summary.app.namespace})`;
}

/** The line about reminders no workflow will use, when the Scheduler was scanned and there are some. */
export function orphanRemindersLine(summary: StuckSummary): string | undefined {
  const orphans = summary.orphanReminders;
  if (orphans && "error" in orphans) return `Orphan reminders: ${orphans.error}.`;
  if (!orphans || orphans.total === 0) return undefined;
  const reasons = Object.entries(orphans.byReason)
    .filter(([, n]) => n > 0)
    .map(([reason, n]) => `${reason} ${count(n)}`);
  return (
    `Orphan reminders: ${orphans.isComplete ? "" : "at least "}${count(orphans.total)} (${reasons.join(", ")}); ` +
    "`housekeeper scheduler orphans` lists and deletes them."
  );
}

export function summaryText(summary: StuckSummary, reports: Record<string, string> = {}): string {
  const lines = [`${summaryHeadline(summary)}, ${summary.generatedAt}.`];
  if (summary.stuck > 0) {
    const reasons = STUCK_REASONS.filter((r) => summary.byReason[r] > 0).map(
      (r) => `${r} ${count(summary.byReason[r])}`,
    );
    const statuses = RUNTIME_STATUSES.filter((s) => (summary.byStatus[s] ?? 0) > 0).map(
      (s) => `${s} ${count(summary.byStatus[s] ?? 0)}`,
    );
    lines.push(`By reason: ${reasons.join(", ")}.`, `By status: ${statuses.join(", ")}.`);
    if (summary.oldest) lines.push(`Oldest: ${summary.oldest.instanceID} (age ${summary.oldest.age}).`);
  }
  if (!summary.reminderChecks) lines.push("Scheduler reminders were not checked.");
  const orphans = orphanRemindersLine(summary);
  if (orphans) lines.push(orphans);
  if (summary.unreadable > 0) lines.push(`${count(summary.unreadable)} instance(s) could not be read.`);
  if (!summary.isComplete) lines.push("The scan stopped early (time budget): the report is partial.");
  for (const [format, key] of Object.entries(reports)) lines.push(`${format.toUpperCase()} report: ${key}`);
  return `${lines.join("\n")}\n`;
}
