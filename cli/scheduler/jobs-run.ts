/** What the `housekeeper scheduler` commands run (cli/scheduler/index.ts defines them and says how they differ). */
import { constants as fsConstants } from "node:fs";
import { access } from "node:fs/promises";
import type { Command } from "commander";
import { HousekeeperError } from "../../shared/errors.ts";
import { exportFileEntries, exportToFile, importEntries, spoolExportFile } from "../../shared/scheduler/export.ts";
import { deleteAllJobs, deleteJobs, getJobs, listJobs } from "../../shared/scheduler/jobs.ts";
import type { FilterKind } from "../../shared/scheduler/keys.ts";
import { DEFAULT_RUN_SIZE, externalSort } from "../../shared/util/external-sort.ts";
import type { EtcdFlags } from "../flags/etcd.ts";
import { etcdFlags, namespaceFlag, withSchedulerStore } from "../flags/etcd.ts";
import type { OutputFormat } from "../flags/output.ts";
import { goJsonIndent } from "../output/go-format.ts";
import { Progress } from "../output/progress-line.ts";
import { JsonArrayWriter, OutputSink, YamlListWriter } from "../output/sink.ts";
import { statusLine } from "../output/status.ts";
import { renderTable, TableLayout } from "../output/table.ts";
import type { Io } from "./index.ts";
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

/** Test hook: a smaller sort run forces the spill-and-merge path on small data. */
const RUN_SIZE_ENV = "HOUSEKEEPER_LIST_SORT_RUN_SIZE";

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

export async function listAction(io: Io, cmd: Command): Promise<void> {
  const opts = cmd.opts<{ output: OutputFormat; filter: FilterKind }>();
  const namespace = namespaceFlag(cmd);
  const flags = etcdFlags(cmd);
  await runList(io, { flags, namespace, filter: opts.filter, output: opts.output });
}

export async function getAction(io: Io, names: string[], cmd: Command): Promise<void> {
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
}

export async function deleteAction(io: Io, names: string[], cmd: Command): Promise<void> {
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
}

export async function deleteAllAction(io: Io, prefix: string, cmd: Command): Promise<void> {
  const namespace = namespaceFlag(cmd);
  const flags = etcdFlags(cmd);
  const deleted = await withSchedulerStore(flags, (store) => deleteAllJobs(store, prefix, namespace), io.open);
  const sink = new OutputSink(io.stdout);
  // dapr/cli pkg/scheduler/deleteall.go: InfoStatusEvent lines.
  for (const key of deleted.jobs) await sink.write(statusLine("info", `Deleted job '${key}'.`));
  await sink.write(statusLine("info", `Deleted ${deleted.jobs.length} jobs in namespace '${namespace}'.`));
  await sink.flush();
}

export async function exportAction(io: Io, cmd: Command): Promise<void> {
  const { outputFile } = cmd.opts<{ outputFile: string }>();
  if (outputFile.trim() === "") throw new HousekeeperError("bad-input", "--output-file must not be empty");
  const flags = etcdFlags(cmd);
  let read = 0;
  const summary = await withSchedulerStore(
    flags,
    async (store) => {
      const progress = Progress.start("scheduler export", () => ({ scanned: read }), { noun: "keys" });
      try {
        return await exportToFile(store, outputFile, {
          onEntry: () => {
            read++;
          },
        });
      } finally {
        progress.stop();
      }
    },
    io.open,
  );
  io.stdout.write(`Exported ${summary.jobs} jobs and ${summary.counters} counters.\n`);
  io.stdout.write(`Export to '${outputFile}' complete.\n`);
}

/** Test hook: a smaller sort run forces the spill-and-merge path of import's duplicate check on small files. */
const IMPORT_RUN_SIZE_ENV = "HOUSEKEEPER_IMPORT_SORT_RUN_SIZE";

export async function importAction(io: Io, cmd: Command): Promise<void> {
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
  // Checking a large file takes a while before anything is written: the status line shows it too (entries decoded;
  // then, for a file in Go's map order, entries past the duplicate check of all decoded).
  let decoded = 0;
  let checked: number | undefined;
  const checking = Progress.start(
    "scheduler import (checking)",
    () => ({ scanned: decoded, ...(checked === undefined ? {} : { done: checked, total: decoded }) }),
    { noun: "entries", doneWord: "checked" },
  );
  const spooled = await spoolExportFile(inputFile, undefined, {
    ...(runSize === undefined ? {} : { runSize }),
    onDecoded: (n) => {
      decoded = n;
    },
    onChecked: (n) => {
      checked = n;
    },
  }).finally(() => checking.stop());
  let written: number;
  try {
    ({ written } = await withSchedulerStore(
      flags,
      async (store) => {
        const total = spooled.jobs + spooled.counters;
        let done = 0;
        // The file is checked by now (spoolExportFile): what is left to wait for is the writes.
        const progress = Progress.start("scheduler import", () => ({ scanned: total, done, total }), {
          noun: "entries",
          doneWord: "written",
        });
        try {
          return await importEntries(store, exportFileEntries(spooled.path), {
            total,
            onProgress: (written) => {
              done = written;
            },
          });
        } finally {
          progress.stop();
        }
      },
      io.open,
    ));
  } finally {
    await spooled.release();
  }
  io.stdout.write(`Imported ${written} items.\n`);
  io.stdout.write(`Import from '${inputFile}' complete.\n`);
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
