/**
 * `housekeeper scheduler orphans -a <app>`: reminders on the app's workflow actors that no workflow will use (the
 * instance has no state left, or it finished), found by reading the Scheduler's etcd and the state store
 * (shared/jobs/orphan-reminders.ts). Lists them; `--delete` deletes them, re-checking each instance and each
 * reminder's value right before. The Dapr CLI has no such command; its flags are the ones `workflow` and
 * `scheduler` commands already take.
 *
 * Guards, since a wrong state store makes every reminder look orphaned: the connection string must be given (the
 * embedded sample store is never the right one here), and `--delete` first counts, then refuses when the store holds
 * no instance of the app or most reminders have none (orphanDeleteRefusal) unless `--force` says the state really is
 * gone. Each deleted reminder is printed as it goes, and the summary is printed even when a later page fails.
 */
import type { Writable } from "node:stream";
import { Command, Option } from "commander";
import type { StoreOpener } from "../flags/etcd.ts";
import { addEtcdOptions } from "../flags/etcd.ts";
import { shardOption } from "../flags/shard.ts";
import { addConnectionOptions } from "../flags/state-store.ts";

export const FORMATS = ["short", "json", "yaml"] as const;

export interface OrphansIo {
  stdout: Writable;
  stderr: Writable;
  open: StoreOpener;
}

export function orphansCommand(io: OrphansIo): Command {
  const command = new Command("orphans")
    .description(
      "List (or --delete) reminders on an app's workflow actors that no workflow will use: the instance has no " +
        "state left, or it finished; only reminders due at least 5 minutes ago",
    )
    .addOption(new Option("-o, --output <format>", "output format").choices(FORMATS).default("short"))
    .addOption(new Option("--delete", "delete them (each instance is read again first)"))
    .addOption(
      new Option(
        "--force",
        "with --delete: go on even if the store holds no instance of the app, or most reminders have none (state lost)",
      ),
    )
    .addOption(shardOption());
  addConnectionOptions(command, { requireConnectionString: true });
  addEtcdOptions(command);
  // Imported when the command runs: `--help` loads the command tree only.
  command.action(async (_options: unknown, cmd: Command) => (await import("./orphans-run.ts")).orphansAction(io, cmd));
  return command;
}
