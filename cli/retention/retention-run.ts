/** What `housekeeper retention run` runs (cli/retention/index.ts defines the command). */
import { readFile } from "node:fs/promises";
import { parseRetentionPolicy } from "../../shared/config/retention-policy.ts";
import { errorMessage, HousekeeperError } from "../../shared/errors.ts";
import type { OrphanCleanup } from "../../shared/jobs/orphan-reminders.ts";
import { runRetentionPolicy } from "../../shared/jobs/retention-run.ts";
import { count } from "../../shared/util/count.ts";
import { createSecretResolver } from "../../shared/util/secrets.ts";
import { targetPortsOpener } from "../../shared/wiring/target-ports.ts";
import { openBackend } from "../flags/state-store.ts";
import { goJsonIndent } from "../output/go-format.ts";
import { Progress } from "../output/progress-line.ts";
import { withChildren } from "../output/purge-decision.ts";
import type { RetentionRunFlags } from "./index.ts";

export async function retentionRunAction(opts: RetentionRunFlags): Promise<void> {
  let raw: string;
  try {
    raw = await readFile(opts.policy, "utf8");
  } catch (error) {
    throw new HousekeeperError("bad-input", `cannot read the policy file ${opts.policy}: ${errorMessage(error)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (error) {
    throw new HousekeeperError("bad-input", `the policy file ${opts.policy} is not JSON: ${errorMessage(error)}`);
  }
  const policy = parseRetentionPolicy(json);
  if (opts.dryRun) policy.dryRun = true;
  const text = opts.output === "text";
  // On a terminal (stderr a TTY) a long run shows how far it got, in JSON output too; elsewhere nothing is added.
  const counts = { scanned: 0, selected: 0, done: 0 };
  const progress = Progress.start("retention run", () => (policy.dryRun ? { ...counts, done: undefined } : counts), {
    noun: "instances",
    selectedWord: policy.dryRun ? "would be purged" : "selected",
    ...(policy.dryRun ? {} : { doneWord: "purged" }),
  });
  const report = await runRetentionPolicy(policy, {
    // A target's connection string "embedded" (e.g. `env:NAME` set to it) is the CLI's sample store, as `-c embedded`.
    openTarget: targetPortsOpener(createSecretResolver(), (connectionString, options) =>
      openBackend({ appId: "-", namespace: "-", connectionString, tableName: options.tableName }),
    ),
    continuationToken: opts.continuationToken,
    onScanned: (scanned) => {
      counts.scanned = scanned;
    },
    onDecision: (d) => {
      if (d.action === "purge" || d.action === "would-purge" || d.action === "fail") counts.selected++;
      if (d.action === "purge") counts.done++;
      if (text) {
        const who = `${d.namespace}/${d.appId} ${JSON.stringify(d.instanceID)}`;
        if (d.action === "purge") progress.print(process.stdout, `purged ${who} (${d.reason})${withChildren(d)}\n`);
        else if (d.action === "would-purge") progress.print(process.stdout, `would purge ${who} (${d.reason})\n`);
        else if (d.action === "skip") progress.print(process.stderr, `skipped ${who}: ${d.reason}\n`);
        else if (d.action === "fail") progress.print(process.stderr, `failed ${who}: ${d.reason}\n`);
      }
    },
  }).finally(() => progress.stop());
  if (text) {
    for (const t of report.targets) {
      if (t.error) process.stderr.write(`target ${t.namespace}/${t.appId} failed: ${t.error}\n`);
      if (t.orphanReminders) {
        process.stdout.write(`${t.namespace}/${t.appId}: ${orphanLine(t.orphanReminders, policy.dryRun)}\n`);
      }
    }
    process.stdout.write(
      `${policy.dryRun ? `${count(report.wouldPurge)} would be purged` : `purged ${count(report.purged)}`}` +
        `${report.childrenPurged ? ` (and ${count(report.childrenPurged)} child workflows with them)` : ""}, skipped ${count(report.skipped)}, ` +
        `failed ${count(report.failedCount)} in ${(report.durationMs / 1000).toFixed(1)} s` +
        `${report.isComplete ? "" : `; not complete, continue with --continuation-token ${report.continuationToken}`}\n`,
    );
  } else {
    process.stdout.write(`${goJsonIndent(report)}\n`);
  }
  const targetErrors = report.targets.filter((t) => t.error).length;
  if (report.failedCount > 0 || targetErrors > 0) {
    throw new HousekeeperError("store-error", `${report.failedCount} instance(s) and ${targetErrors} target(s) failed`);
  }
}

/** What the cleanup of a target's orphan reminders did, in words. */
function orphanLine(cleanup: OrphanCleanup, dryRun: boolean): string {
  if (cleanup.error) return `orphan reminders not cleaned: ${cleanup.error}`;
  if (cleanup.skipped) return `orphan reminders left alone: ${cleanup.skipped}`;
  const done = dryRun
    ? `${count(cleanup.found)} orphan reminder(s) would be deleted`
    : `deleted ${count(cleanup.deleted)} orphan reminder(s)${cleanup.kept > 0 ? ` (${count(cleanup.kept)} kept: changed since the scan)` : ""}`;
  return cleanup.isComplete ? done : `${done} (stopped at the time budget; the next run goes on)`;
}
