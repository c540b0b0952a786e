/** What `housekeeper workflow purge` runs (cli/workflow/purge.ts defines the command and says what it does). */
import type { Command } from "commander";
import { HousekeeperError } from "../../shared/errors.ts";
import type { PurgeDecision, RetentionOptions } from "../../shared/jobs/retention-purge.ts";
import { runRetentionPurge } from "../../shared/jobs/retention-purge.ts";
import type { DualSidecarClient } from "../../shared/sidecar/dual-client.ts";
import { count } from "../../shared/util/count.ts";
import { schedulerReminderCleaner, sidecarPurger } from "../../shared/wiring/target-ports.ts";
import { parseAgeThreshold, parseRuntimeStatus } from "../../shared/workflow/instance-filter.ts";
import { TERMINAL_STATUSES } from "../../shared/workflow/runtime-status.ts";
import { FINISHED_STATUSES } from "../../shared/workflow/status-names.ts";
import type { EtcdFlags } from "../flags/etcd.ts";
import { ETCD_ENDPOINTS_ENV, openStoreFromFlags, optionalEtcdFlags } from "../flags/etcd.ts";
import { shardFlag } from "../flags/shard-parse.ts";
import { openSidecar, withSidecar } from "../flags/sidecar.ts";
import { connectionFlags, requireNamedStore, withWorkflowStore } from "../flags/state-store.ts";
import { writeAppHint } from "../output/app-hint.ts";
import { Progress } from "../output/progress-line.ts";
import { withChildren } from "../output/purge-decision.ts";
import { StatusPrinter, statusLine } from "../output/status.ts";
import { purgeInstances } from "./purge-by-id.ts";

export interface PurgeFlags {
  all?: boolean;
  allOlderThan?: string;
  allFilterStatus?: string;
  force?: boolean;
  mode: "sidecar" | "direct";
  by: "completed" | "created";
  dryRun?: boolean;
  concurrency: string;
}

export async function runPurge(cmd: Command, instanceIds: string[], flags: PurgeFlags): Promise<void> {
  const print = new StatusPrinter({ stdout: process.stdout, platform: process.platform });
  const bulk = flags.all === true || flags.allOlderThan !== undefined;
  if (bulk && instanceIds.length > 0)
    throw new HousekeeperError("bad-input", "no arguments are accepted when using purge all flags");
  if (flags.all && flags.allOlderThan !== undefined) {
    throw new HousekeeperError("bad-input", "--all and --all-older-than cannot be used together");
  }
  if (flags.allFilterStatus !== undefined && flags.allOlderThan === undefined) {
    throw new HousekeeperError("bad-input", "--all-filter-status can only be used with --all-older-than");
  }
  const shard = shardFlag(cmd);
  if (shard && !bulk) {
    throw new HousekeeperError("bad-input", "--shard goes with --all or --all-older-than, not with instance IDs");
  }
  if (!bulk && instanceIds.length === 0) {
    throw new HousekeeperError(
      "bad-input",
      "one or more workflow instance ID arguments are required when not using purge all flags",
    );
  }
  const concurrency = Number(flags.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256) {
    throw new HousekeeperError(
      "bad-input",
      `--concurrency must be a whole number from 1 to 256, got "${flags.concurrency}"`,
    );
  }

  if (!bulk && flags.mode === "sidecar" && !flags.dryRun) {
    // By ID through the sidecar: exactly the Dapr CLI's behaviour (in order, stop at the first error).
    await withSidecar(cmd, (sidecar) => purgeInstances(sidecar, instanceIds, { force: flags.force === true }, print));
    return;
  }
  if (flags.force) throw new HousekeeperError("bad-input", "--force is only for purging by ID through the sidecar");

  const now = new Date();
  const statuses =
    flags.allFilterStatus !== undefined
      ? [parseRuntimeStatus(flags.allFilterStatus, "--all-filter-status")]
      : [...FINISHED_STATUSES];
  for (const status of statuses) {
    if (!TERMINAL_STATUSES.has(status)) {
      throw new HousekeeperError(
        "bad-input",
        `--all-filter-status ${status} is not a terminal status; a bulk purge never touches running instances (purge such an instance by ID with --force)`,
      );
    }
  }
  const olderThanMs =
    flags.allOlderThan === undefined
      ? 0
      : now.getTime() - parseAgeThreshold(flags.allOlderThan, { now, flag: "--all-older-than" }).getTime();
  if (olderThanMs < 0) {
    throw new HousekeeperError(
      "bad-input",
      `--all-older-than ${flags.allOlderThan} is in the future, so it would select every terminal instance; use --all for that`,
    );
  }
  const retention: RetentionOptions["retention"] = Object.fromEntries(
    statuses.map((s) => [s, Math.max(0, olderThanMs)]),
  );

  if (cmd.opts<{ appId?: string }>().appId === undefined) {
    throw new HousekeeperError("bad-input", "--app-id is required to read the instances from the state store");
  }
  const etcd = flags.mode === "direct" ? directEtcdFlags(cmd) : undefined;
  const connection = connectionFlags(cmd);
  if (!flags.dryRun) requireNamedStore(connection, "workflow purge (without --dry-run)");
  let sidecar: DualSidecarClient | undefined;
  let scheduler: { close(): Promise<void> } | undefined;
  try {
    await withWorkflowStore(connection, async (store) => {
      const ports: Parameters<typeof runRetentionPurge>[0] = { store };
      if (flags.mode === "sidecar" && !flags.dryRun) {
        sidecar = await openSidecar(cmd, { connections: Math.max(concurrency, 16) });
        ports.purger = sidecarPurger(sidecar);
      }
      if (etcd && !flags.dryRun) {
        const opened = await openStoreFromFlags(etcd);
        scheduler = opened;
        ports.reminders = schedulerReminderCleaner(opened);
      }
      const counts = { scanned: 0, selected: 0, done: 0 };
      const progress = Progress.start(
        "workflow purge",
        () => (flags.dryRun ? { ...counts, done: undefined } : counts),
        {
          noun: "instances",
          selectedWord: flags.dryRun ? "would be purged" : "selected",
          ...(flags.dryRun ? {} : { doneWord: "purged" }),
        },
      );
      // Every line goes above the status line, which stays visible below them (cli/output/progress-line.ts).
      const out = (stream: NodeJS.WriteStream, text: string) => progress.print(stream, text);
      const onDecision = (d: PurgeDecision) => {
        if (d.action === "purge")
          out(
            process.stdout,
            statusLine(
              "success",
              `Purged workflow instance ${JSON.stringify(d.instanceID)} (${d.reason})${withChildren(d)}`,
            ),
          );
        else if (d.action === "would-purge")
          out(
            process.stdout,
            statusLine("info", `Would purge workflow instance ${JSON.stringify(d.instanceID)} (${d.reason})`),
          );
        else if (d.action === "skip") out(process.stderr, `skipped ${JSON.stringify(d.instanceID)}: ${d.reason}\n`);
        else if (d.action === "fail")
          out(process.stderr, `failed to purge ${JSON.stringify(d.instanceID)}: ${d.reason}\n`);
      };
      const result = await runRetentionPurge(ports, {
        retention,
        ageFrom: flags.by,
        mode: flags.mode,
        dryRun: flags.dryRun === true,
        concurrency,
        now,
        instanceIds: bulk ? undefined : instanceIds,
        shard,
        onScanned: (scanned) => {
          counts.scanned = scanned;
        },
        onDecision: (d) => {
          if (d.action === "purge" || d.action === "would-purge" || d.action === "fail") counts.selected++;
          if (d.action === "purge") counts.done++;
          onDecision(d);
        },
      }).finally(() => progress.stop());
      for (const u of result.unreadable)
        process.stderr.write(`warning: skipped unreadable instance ${u.instanceID}: ${u.reason} (key ${u.key})\n`);
      const summary = flags.dryRun
        ? `${count(result.matched)} workflow instance(s) would be purged (scanned ${count(result.scanned)})`
        : `Purged ${count(result.purged)} workflow instance(s)` +
          `${result.childrenPurged ? ` and ${count(result.childrenPurged)} child workflow(s) with them` : ""}` +
          `${result.alreadyGone ? `, ${count(result.alreadyGone)} already gone` : ""}` +
          `${result.skippedCount ? `, ${count(result.skippedCount)} skipped` : ""}` +
          `${result.failedCount ? `, ${count(result.failedCount)} failed` : ""} (scanned ${count(result.scanned)})`;
      print.info(summary);
      if (bulk && !shard && result.scanned === 0 && result.unreadable.length === 0) {
        await writeAppHint(store.backend, store.app, process.stderr);
      }
      if (result.failedCount > 0) {
        throw new HousekeeperError(
          "store-error",
          `${result.failedCount} instance(s) could not be purged (listed above)`,
        );
      }
      if (!bulk && result.skippedCount > 0) {
        // Purging by ID asks for those instances: one left in place (not terminal) is a failure, as in sidecar mode.
        throw new HousekeeperError(
          "not-terminal",
          `${result.skippedCount} of the ${instanceIds.length} instance(s) asked for ${flags.dryRun ? "would not be" : "were not"} purged (listed above)`,
        );
      }
    });
  } finally {
    await sidecar?.close();
    await scheduler?.close();
  }
}

/**
 * Direct mode deletes the instances' Scheduler reminders with their state, so it needs the Scheduler's etcd named (no
 * default to fall back on). Dry runs too: a dry run that is accepted means the real run will be.
 */
function directEtcdFlags(cmd: Command): EtcdFlags {
  const flags = optionalEtcdFlags(cmd);
  if (flags === undefined) {
    throw new HousekeeperError(
      "bad-input",
      `--mode direct needs --etcd-endpoints (or ${ETCD_ENDPOINTS_ENV}): it deletes the instances' Scheduler reminders with their state`,
    );
  }
  return flags;
}
