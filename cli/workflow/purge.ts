/**
 * `housekeeper workflow purge <id>... | --all | --all-older-than <dur>`: the Dapr CLI's purge, plus what a retention
 * purge needs: age measured from completion (`--by completed`, the default; `--by created` is the Dapr CLI's rule),
 * a direct mode for apps whose sidecar is gone, `--dry-run`, bounded concurrency, and a progress line on a terminal.
 *
 * Differences from the Dapr CLI, on purpose:
 *  - bulk purges keep going when one instance fails and report every failure (exit code 1 if any);
 *  - a bulk purge never selects a non-terminal instance, even with --force (which stays for purging by ID).
 */
import { Command, Option } from "commander";
import { addEtcdOptions } from "../flags/etcd.ts";
import { shardOption } from "../flags/shard.ts";
import { sidecarOptions } from "../flags/sidecar.ts";
import { addConnectionOptions } from "../flags/state-store.ts";
import type { PurgeFlags } from "./purge-run.ts";

export function purgeCommand(): Command {
  const command = sidecarOptions(
    addConnectionOptions(
      new Command("purge")
        .description("Purge workflow instances with a terminal state (and their child workflows)")
        .argument("[instance-ids...]", "the workflow instance IDs"),
      { requireAppId: false },
    ),
    { appIdOption: false },
  );
  command
    .addOption(new Option("--all", "Purge all terminal workflow instances (use with caution)"))
    .addOption(
      new Option(
        "--all-older-than <duration|time>",
        "Purge terminal instances older than this: a Go duration (e.g. 720h) or an RFC 3339 time",
      ),
    )
    .addOption(
      new Option("--all-filter-status <status>", "With --all-older-than: only instances with this terminal status"),
    )
    .addOption(
      new Option(
        "--force",
        "By ID only: purge regardless of the runtime state (Dapr ≥1.17, gRPC API); can corrupt an instance being processed",
      ),
    )
    .addOption(
      new Option(
        "--mode <mode>",
        "sidecar: through Dapr's purge API; direct: delete the state in the store and the reminders in the Scheduler (needs --etcd-endpoints)",
      )
        .choices(["sidecar", "direct"])
        .default("sidecar"),
    )
    .addOption(
      new Option(
        "--by <time>",
        "measure age from the instance's completion, or from its creation (the Dapr CLI's rule)",
      )
        .choices(["completed", "created"])
        .default("completed"),
    )
    .addOption(new Option("--dry-run", "list what would be purged, and why, without purging"))
    .addOption(new Option("--concurrency <n>", "instances purged side by side").default("20"))
    .addOption(shardOption());
  // The same etcd flags (and HOUSEKEEPER_ETCD_ENDPOINTS) as `scheduler`, but no default endpoint: direct mode must be
  // told where the Scheduler is rather than silently miss the reminders.
  addEtcdOptions(command, { defaultEndpoint: false });
  command.action(async (instanceIds: string[], _options: unknown, cmd: Command) => {
    // Imported when the command runs: `--help` loads the command tree only.
    const { runPurge } = await import("./purge-run.ts");
    await runPurge(cmd, instanceIds, cmd.opts<PurgeFlags>());
  });
  return command;
}
