/**
 * `housekeeper scheduler …`: the Dapr CLI's `dapr scheduler` commands (names, flags, columns, messages) reading the
 * Scheduler's etcd directly: list, get, delete, delete-all, export, import; plus `orphans` (cli/scheduler/orphans.ts),
 * which reads the state store too. Its etcd flags live in cli/flags/etcd.ts.
 *
 * Differences from the Dapr CLI, on purpose: the etcd is named by flags (`--etcd-endpoints`, TLS files) instead of
 * localhost or a Kubernetes port-forward; `list` streams at one etcd revision and skips (and reports) values that do
 * not decode instead of failing; `export` writes through a temp file so a failure leaves nothing behind; `import`
 * validates keys as well as values before writing, and batches by bytes as well as by 128 operations.
 */
import type { Writable } from "node:stream";
import { Command, Option } from "commander";
import { FILTER_KINDS } from "../../shared/scheduler/keys.ts";
import type { StoreOpener } from "../flags/etcd.ts";
import { addEtcdOptions, addNamespaceOption, openStoreFromFlags } from "../flags/etcd.ts";
import { outputOption } from "../flags/output.ts";
import { orphansCommand } from "./orphans.ts";

export interface SchedulerCliOptions {
  stdout?: Writable;
  stderr?: Writable;
  /** Opens the store for the parsed etcd flags (tests can inject one). */
  openStore?: StoreOpener;
  now?: () => Date;
}

export interface Io {
  stdout: Writable;
  stderr: Writable;
  open: StoreOpener;
  now: () => Date;
}

// Each action lives in ./jobs-run.ts (orphans': ./orphans-run.ts), imported when the command runs.

/** The `scheduler` command group (alias `sched`). */
export function schedulerCommand(options: SchedulerCliOptions = {}): Command {
  const io: Io = {
    stdout: options.stdout ?? process.stdout,
    stderr: options.stderr ?? process.stderr,
    open: options.openStore ?? openStoreFromFlags,
    now: options.now ?? (() => new Date()),
  };
  const group = new Command("scheduler")
    .alias("sched")
    .description("Scheduler jobs and actor reminders (workflow timers and activities), read from the Scheduler's etcd");
  for (const sub of [
    listCommand(io),
    getCommand(io),
    deleteCommand(io),
    deleteAllCommand(io),
    exportCommand(io),
    importCommand(io),
    orphansCommand(io),
  ]) {
    group.addCommand(sub);
  }
  return group;
}

// ---------------------------------------------------------------------------------------------------------------
// list

function listCommand(io: Io): Command {
  const command = new Command("list")
    .alias("ls")
    .description("List scheduled jobs and actor reminders in the Scheduler")
    .addOption(outputOption())
    .addOption(new Option("--filter <type>", "filter jobs by type").choices(FILTER_KINDS).default("all"));
  addNamespaceOption(command);
  addEtcdOptions(command);
  command.action(async (_options: unknown, cmd: Command) => (await import("./jobs-run.ts")).listAction(io, cmd));
  return command;
}

// ---------------------------------------------------------------------------------------------------------------
// get

function getCommand(io: Io): Command {
  const command = new Command("get")
    .aliases(["g", "ge"])
    .description(
      "Get scheduled app jobs or actor reminders by name: app/<app-id>/<job>, actor/<type>/<id>/<reminder>, " +
        "workflow/<app-id>/<instance-id>/<reminder>, activity/<app-id>/<activity-id>",
    )
    .argument("<name...>", "job names")
    .addOption(outputOption());
  addNamespaceOption(command);
  addEtcdOptions(command);
  command.action(async (names: string[], _options: unknown, cmd: Command) =>
    (await import("./jobs-run.ts")).getAction(io, names, cmd),
  );
  return command;
}

// ---------------------------------------------------------------------------------------------------------------
// delete, delete-all

function deleteCommand(io: Io): Command {
  const command = new Command("delete")
    .aliases(["d", "del"])
    .description("Delete one or more jobs (and their counters) from the Scheduler by name")
    .argument("<name...>", "job names, as `list` shows them");
  addNamespaceOption(command);
  addEtcdOptions(command);
  command.action(async (names: string[], _options: unknown, cmd: Command) =>
    (await import("./jobs-run.ts")).deleteAction(io, names, cmd),
  );
  return command;
}

function deleteAllCommand(io: Io): Command {
  const command = new Command("delete-all")
    .aliases(["da", "delall"])
    .description(
      "Delete all jobs of a namespace matching a prefix: all | app[/<app-id>] | actor/<type>[/<id>] | " +
        "workflow[/<app-id>[/<instance-id>]]",
    )
    .argument("<prefix>", "what to delete");
  addNamespaceOption(command);
  addEtcdOptions(command);
  command.action(async (prefix: string, _options: unknown, cmd: Command) =>
    (await import("./jobs-run.ts")).deleteAllAction(io, prefix, cmd),
  );
  return command;
}

// ---------------------------------------------------------------------------------------------------------------
// export, import

function exportCommand(io: Io): Command {
  const command = new Command("export")
    .description("Export all jobs and actor reminders, with their counters, to a file `dapr scheduler import` reads")
    .requiredOption("-o, --output-file <file>", "file to write (must not exist)");
  addEtcdOptions(command);
  command.action(async (_options: unknown, cmd: Command) => (await import("./jobs-run.ts")).exportAction(io, cmd));
  return command;
}

function importCommand(io: Io): Command {
  const command = new Command("import")
    .description("Import jobs and actor reminders from a file written by `dapr scheduler export` (or ours)")
    .requiredOption("-f, --input-file <file>", "file to read");
  addEtcdOptions(command);
  command.action(async (_options: unknown, cmd: Command) => (await import("./jobs-run.ts")).importAction(io, cmd));
  return command;
}
