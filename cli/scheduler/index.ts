/**
 * `housekeeper scheduler …`: the Dapr CLI's `dapr scheduler` commands (names, flags, columns, messages) reading the
 * Scheduler's etcd directly: list, get, delete, delete-all, export, import; plus `orphans` (cli/scheduler/orphans.ts),
 * which reads the state store too. Wire it in with
 * `registerSchedulerCommands(program)`.
 *
 * Differences from the Dapr CLI, on purpose: the etcd is named by flags (`--etcd-endpoints`, TLS files) instead of
 * localhost or a Kubernetes port-forward; `list` streams at one etcd revision and skips (and reports) values that do
 * not decode instead of failing; `export` writes through a temp file so a failure leaves nothing behind; `import`
 * validates keys as well as values before writing, and batches by bytes as well as by 128 operations.
 */
import { constants as fsConstants } from "node:fs";
import { access } from "node:fs/promises";
import type { Writable } from "node:stream";
import { Command, Option } from "commander";
import { HousekeeperError } from "../../shared/errors.ts";
import { exportFileEntries, exportToFile, importEntries, spoolExportFile } from "../../shared/scheduler/export.ts";
import { deleteAllJobs, deleteJobs, getJobs, listJobs } from "../../shared/scheduler/jobs.ts";
import type { FilterKind } from "../../shared/scheduler/keys.ts";
import { FILTER_KINDS } from "../../shared/scheduler/keys.ts";
import { DEFAULT_RUN_SIZE, externalSort } from "../../shared/util/external-sort.ts";
import { goJsonIndent } from "../output/go-format.ts";
import { JsonArrayWriter, OutputSink, YamlListWriter } from "../output/sink.ts";
import { statusLine } from "../output/status.ts";
import { renderTable, TableLayout } from "../output/table.ts";
import type { EtcdFlags, StoreOpener } from "./connection.ts";
import {
  addEtcdOptions,
  addNamespaceOption,
  etcdFlags,
  namespaceFlag,
  openStoreFromFlags,
  withSchedulerStore,
} from "./connection.ts";
import { orphansCommand } from "./orphans.ts";
import type { ListedJob } from "./rows.ts";
import {
  compareListed,
  SHORT_HEADERS,
  shortCells,
  toListedJob,
  WIDE_HEADERS,
  WIDE_TIME_FIELDS,
  wideCells,
  wideJson,
  wideYaml,
} from "./rows.ts";

export const OUTPUT_FORMATS = ["short", "wide", "json", "yaml"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export interface SchedulerCliOptions {
  stdout?: Writable;
  stderr?: Writable;
  /** Opens the store for the parsed etcd flags (tests can inject one). */
  openStore?: StoreOpener;
  now?: () => Date;
}

interface Io {
  stdout: Writable;
  stderr: Writable;
  open: StoreOpener;
  now: () => Date;
}

/** Adds the `scheduler` command group (alias `sched`) to `program`; returns the group. */
export function registerSchedulerCommands(program: Command, options: SchedulerCliOptions = {}): Command {
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
  program.addCommand(group);
  return group;
}

function outputOption(): Option {
  return new Option("-o, --output <format>", "output format").choices(OUTPUT_FORMATS).default("short");
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

// ---------------------------------------------------------------------------------------------------------------
// list

/** Test hook: a smaller sort run forces the spill-and-merge path on small data. */
const RUN_SIZE_ENV = "HOUSEKEEPER_LIST_SORT_RUN_SIZE";

function listCommand(io: Io): Command {
  const command = new Command("list")
    .alias("ls")
    .description("List scheduled jobs and actor reminders in the Scheduler")
    .addOption(outputOption())
    .addOption(new Option("--filter <type>", "filter jobs by type").choices(FILTER_KINDS).default("all"));
  addNamespaceOption(command);
  addEtcdOptions(command);
  command.action(async (_options: unknown, cmd: Command) => {
    const opts = cmd.opts<{ output: OutputFormat; filter: FilterKind }>();
    const namespace = namespaceFlag(cmd);
    const flags = etcdFlags(cmd);
    await runList(io, { flags, namespace, filter: opts.filter, output: opts.output });
  });
  return command;
}

export async function runList(
  io: Io,
  run: { flags: EtcdFlags; namespace: string; filter: FilterKind; output: OutputFormat },
): Promise<{ listed: number; skipped: number }> {
  const nowMs = io.now().getTime();
  const runSize = Number(process.env[RUN_SIZE_ENV]) || DEFAULT_RUN_SIZE;
  const table =
    run.output === "short"
      ? { layout: new TableLayout(SHORT_HEADERS), cells: (j: ListedJob) => shortCells(j, nowMs) }
      : run.output === "wide"
        ? { layout: new TableLayout(WIDE_HEADERS), cells: wideCells }
        : undefined;

  return withSchedulerStore(
    run.flags,
    async (store) => {
      let skipped = 0;
      async function* matching(): AsyncGenerator<ListedJob> {
        for await (const page of listJobs(store, { filter: run.filter, namespace: run.namespace })) {
          for (const bad of page.unreadable) {
            skipped++;
            io.stderr.write(`warning: skipped ${bad.key}: ${bad.reason}\n`);
          }
          for (const record of page.jobs) {
            const job = toListedJob(record);
            table?.layout.observe(table.cells(job));
            yield job;
          }
        }
      }
      const sink = new OutputSink(io.stdout);
      const json = run.output === "json" ? new JsonArrayWriter(sink) : undefined;
      const yaml = run.output === "yaml" ? new YamlListWriter(sink, { times: WIDE_TIME_FIELDS }) : undefined;
      let listed = 0;
      for await (const job of externalSort(matching(), { compare: compareListed, runSize })) {
        if (listed === 0 && table) await sink.write(`${table.layout.header()}\n`);
        listed++;
        if (table) await sink.write(`${table.layout.line(table.cells(job))}\n`);
        else if (json) await json.item(wideJson(job));
        else if (yaml) await yaml.item(wideYaml(job));
      }
      if (listed > 0) {
        await json?.end();
        await yaml?.end();
      }
      await sink.flush();
      if (listed === 0) io.stderr.write(statusLine("failure", `No jobs found in namespace "${run.namespace}"`));
      if (skipped > 0) {
        io.stderr.write(
          `warning: ${plural(skipped, "key")} could not be decoded and ${skipped === 1 ? "was" : "were"} skipped\n`,
        );
      }
      return { listed, skipped };
    },
    io.open,
  );
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
  command.action(async (names: string[], _options: unknown, cmd: Command) => {
    const { output } = cmd.opts<{ output: OutputFormat }>();
    const namespace = namespaceFlag(cmd);
    const flags = etcdFlags(cmd);
    const nowMs = io.now().getTime();
    const records = await withSchedulerStore(flags, (store) => getJobs(store, names, namespace), io.open);
    const jobs = records.map(toListedJob);
    const sink = new OutputSink(io.stdout);
    switch (output) {
      case "short":
        await sink.write(
          renderTable(
            SHORT_HEADERS,
            jobs.map((j) => shortCells(j, nowMs)),
          ),
        );
        break;
      case "wide":
        await sink.write(renderTable(WIDE_HEADERS, jobs.map(wideCells)));
        break;
      case "json":
        // dapr/cli utils.PrintDetail: json.MarshalIndent, no newline after it.
        await sink.write(goJsonIndent(jobs.map(wideJson)));
        break;
      case "yaml": {
        const yaml = new YamlListWriter(sink, { times: WIDE_TIME_FIELDS });
        for (const j of jobs) await yaml.item(wideYaml(j));
        await yaml.end();
        break;
      }
    }
    await sink.flush();
  });
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
  command.action(async (names: string[], _options: unknown, cmd: Command) => {
    const namespace = namespaceFlag(cmd);
    const flags = etcdFlags(cmd);
    await withSchedulerStore(
      flags,
      (store) =>
        deleteJobs(store, names, namespace, (name) => {
          io.stdout.write(statusLine("info", `Deleted ${name} in namespace '${namespace}'.`));
        }),
      io.open,
    );
  });
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
  command.action(async (prefix: string, _options: unknown, cmd: Command) => {
    const namespace = namespaceFlag(cmd);
    const flags = etcdFlags(cmd);
    const deleted = await withSchedulerStore(flags, (store) => deleteAllJobs(store, prefix, namespace), io.open);
    const sink = new OutputSink(io.stdout);
    // dapr/cli pkg/scheduler/deleteall.go: InfoStatusEvent lines.
    for (const key of deleted.jobs) await sink.write(statusLine("info", `Deleted job '${key}'.`));
    await sink.write(statusLine("info", `Deleted ${deleted.jobs.length} jobs in namespace '${namespace}'.`));
    await sink.flush();
  });
  return command;
}

// ---------------------------------------------------------------------------------------------------------------
// export, import

function exportCommand(io: Io): Command {
  const command = new Command("export")
    .description("Export all jobs and actor reminders, with their counters, to a file `dapr scheduler import` reads")
    .requiredOption("-o, --output-file <file>", "file to write (must not exist)");
  addEtcdOptions(command);
  command.action(async (_options: unknown, cmd: Command) => {
    const { outputFile } = cmd.opts<{ outputFile: string }>();
    if (outputFile.trim() === "") throw new HousekeeperError("bad-input", "--output-file must not be empty");
    const flags = etcdFlags(cmd);
    const summary = await withSchedulerStore(flags, (store) => exportToFile(store, outputFile), io.open);
    io.stdout.write(`Exported ${summary.jobs} jobs and ${summary.counters} counters.\n`);
    io.stdout.write(`Export to '${outputFile}' complete.\n`);
  });
  return command;
}

/** Test hook: a smaller sort run forces the spill-and-merge path of import's duplicate check on small files. */
const IMPORT_RUN_SIZE_ENV = "HOUSEKEEPER_IMPORT_SORT_RUN_SIZE";

function importCommand(io: Io): Command {
  const command = new Command("import")
    .description("Import jobs and actor reminders from a file written by `dapr scheduler export` (or ours)")
    .requiredOption("-f, --input-file <file>", "file to read");
  addEtcdOptions(command);
  command.action(async (_options: unknown, cmd: Command) => {
    const { inputFile } = cmd.opts<{ inputFile: string }>();
    const flags = etcdFlags(cmd);
    try {
      await access(inputFile, fsConstants.R_OK);
    } catch (error) {
      throw new HousekeeperError("bad-input", `cannot read ${inputFile}: ${(error as Error).message}`);
    }
    // The file is read once, into a private copy that is decoded and checked before the store is even opened
    // (streamed: never held whole; a file in Go's map order is checked for duplicate keys by an external sort), then
    // streamed into etcd in file order: exactly the bytes that were checked are written.
    const runSize = Number(process.env[IMPORT_RUN_SIZE_ENV]) || undefined;
    const spooled = await spoolExportFile(inputFile, undefined, runSize === undefined ? {} : { runSize });
    let written: number;
    try {
      ({ written } = await withSchedulerStore(
        flags,
        (store) => importEntries(store, exportFileEntries(spooled.path), { total: spooled.jobs + spooled.counters }),
        io.open,
      ));
    } finally {
      await spooled.release();
    }
    io.stdout.write(`Imported ${written} items.\n`);
    io.stdout.write(`Import from '${inputFile}' complete.\n`);
  });
  return command;
}
