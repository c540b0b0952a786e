/** What `housekeeper report stuck` runs (cli/report/stuck.ts defines the command and says what it writes). */
import { randomBytes } from "node:crypto";
import { basename } from "node:path";
import type { Writable } from "node:stream";
import type { Command } from "commander";
import { TERMINAL_STATUS_LIST } from "../../shared/config/stuck-report.ts";
import { HousekeeperError } from "../../shared/errors.ts";
import { EtcdReminders } from "../../shared/jobs/stuck-report/etcd-reminders.ts";
import { orphanRemindersLine, summaryText } from "../../shared/jobs/stuck-report/formats/text.ts";
import type { ReportRenderer } from "../../shared/jobs/stuck-report/formats/writer.ts";
import type { StuckRecord } from "../../shared/jobs/stuck-report/model.ts";
import { WATCHED_STATUSES } from "../../shared/jobs/stuck-report/model.ts";
import type { ReminderIndex, ReminderSource } from "../../shared/jobs/stuck-report/reminders.ts";
import { renderStuckReport, STUCK_SORT_RUN_SIZE, writerFor } from "../../shared/jobs/stuck-report/render.ts";
import type { StuckReportOptions } from "../../shared/jobs/stuck-report/scan.ts";
import { newTally, scanStuckInstances } from "../../shared/jobs/stuck-report/scan.ts";
import type { WorkflowStateStore } from "../../shared/state-store/workflow-store.ts";
import { AtomicFile } from "../../shared/util/atomic-file.ts";
import { count } from "../../shared/util/count.ts";
import { DURATION_DOORS, parseDuration, parseStatusDurations } from "../../shared/util/duration.ts";
import { stuckFound } from "../exit-codes.ts";
import type { EtcdFlags } from "../flags/etcd.ts";
import { etcdStoreOptions, optionalEtcdFlags } from "../flags/etcd.ts";
import { shardFlag } from "../flags/shard-parse.ts";
import type { ConnectionFlags } from "../flags/state-store.ts";
import { connectionFlags, withWorkflowStore } from "../flags/state-store.ts";
import { writeAppHint } from "../output/app-hint.ts";
import { Progress } from "../output/progress-line.ts";
import { OutputSink } from "../output/sink.ts";
import { TableLayout } from "../output/table.ts";
import type { StuckFlags, StuckFormat, StuckIo } from "./stuck.ts";
import { TABLE_HEADERS, tableCells } from "./stuck.ts";

/** Test hook, as for `workflow list`: a smaller sort run forces the spill-and-merge path on small data. */
const RUN_SIZE_ENV = "HOUSEKEEPER_LIST_SORT_RUN_SIZE";

export async function openEtcdReminders(flags: EtcdFlags): Promise<ReminderSource> {
  return new EtcdReminders(await etcdStoreOptions(flags));
}

export async function stuckAction(io: StuckIo, cmd: Command): Promise<void> {
  const opts = cmd.opts<StuckFlags>();
  // Validate every flag before touching a store.
  const scan = { ...scanOptions(opts, io.now()), shard: shardFlag(cmd) };
  const etcd = optionalEtcdFlags(cmd);
  const htmlRowLimit = opts.htmlRows === undefined ? undefined : positiveInt(opts.htmlRows, "--html-rows");
  const flags = connectionFlags(cmd);
  const result = await runStuckReportCommand(io, {
    flags,
    etcd,
    scan,
    format: opts.format ?? opts.output,
    out: opts.outputFile ?? opts.out,
    ...(htmlRowLimit !== undefined ? { htmlRowLimit } : {}),
  });
  if (opts.failOnStuck && result.stuck > 0) throw stuckFound();
}

function positiveInt(text: string, flag: string): number {
  if (!/^\d+$/.test(text.trim()) || Number(text) < 1) {
    throw new HousekeeperError("bad-input", `invalid value "${text}" for ${flag}: expected a whole number ≥ 1`);
  }
  return Number(text);
}

function flagDuration(text: string, flag: string): number {
  return parseDuration(text, { ...DURATION_DOORS.age, what: `value for ${flag}` });
}

function scanOptions(opts: StuckFlags, now: Date): StuckReportOptions {
  const options: StuckReportOptions = {
    olderThanMs: flagDuration(opts.olderThan, "--older-than"),
    timerOverdueMs: flagDuration(opts.timerOverdue, "--timer-overdue"),
    reminderGraceMs: flagDuration(opts.reminderGrace, "--reminder-grace"),
    retentionAgeFrom: opts.retentionFrom,
    now,
  };
  if (opts.threshold !== undefined) {
    options.thresholds = parseStatusDurations(opts.threshold, WATCHED_STATUSES, "--threshold");
  }
  if (opts.eventWait !== undefined) options.eventWaitThresholdMs = flagDuration(opts.eventWait, "--event-wait");
  if (opts.retention !== undefined) {
    options.retention = parseStatusDurations(opts.retention, TERMINAL_STATUS_LIST, "--retention");
  }
  return options;
}

export interface StuckRun {
  flags: ConnectionFlags;
  etcd: EtcdFlags | undefined;
  scan: StuckReportOptions;
  format: StuckFormat;
  out?: string | undefined;
  htmlRowLimit?: number;
}

export interface StuckRunResult {
  stuck: number;
  scanned: number;
  unreadable: number;
}

export async function runStuckReportCommand(io: StuckIo, run: StuckRun): Promise<StuckRunResult> {
  let source: ReminderSource | undefined;
  try {
    if (run.etcd) source = await io.openReminders(run.etcd);
    return await withWorkflowStore(run.flags, (store) => writeReport(io, run, store, source?.forApp(store.app)));
  } finally {
    await source?.close().catch(() => {});
  }
}

async function writeReport(
  io: StuckIo,
  run: StuckRun,
  store: WorkflowStateStore,
  reminders: ReminderIndex | undefined,
): Promise<StuckRunResult> {
  const ports = reminders ? { store, reminders } : { store };
  let progress: Progress | undefined;
  const scan: StuckReportOptions = {
    ...run.scan,
    onUnreadable: (u) => {
      const line = `warning: skipped instance ${u.instanceID}: ${u.reason} (key ${u.key})\n`;
      if (progress) progress.print(io.stderr, line);
      else io.stderr.write(line);
    },
  };
  const tally = newTally(ports, scan);
  const layout = run.format === "table" ? new TableLayout(TABLE_HEADERS) : undefined;
  async function* observed(): AsyncGenerator<StuckRecord> {
    for await (const record of scanStuckInstances(ports, scan, tally)) {
      layout?.observe(tableCells(record));
      yield record;
    }
  }
  const renderer: ReportRenderer = layout
    ? tableRenderer(layout)
    : writerFor(run.format as Exclude<StuckFormat, "table">, { htmlRowLimit: run.htmlRowLimit ?? 5000 });

  const target = run.out === undefined ? undefined : await openOutFile(run.out);
  const sink = new OutputSink(target?.stream ?? io.stdout);
  try {
    // While the store is read (the sort holds every record before the first is written): the line is gone before any
    // output, and the report itself is never touched.
    progress = Progress.start("report stuck", () => ({ scanned: tally.scanned, selected: tally.stuck }), {
      noun: "instances",
      selectedWord: "stuck",
    });
    const summary = await renderStuckReport([{ renderer, sink }], observed(), () => tally.summary(), {
      sortRunSize: Number(process.env[RUN_SIZE_ENV]) || STUCK_SORT_RUN_SIZE,
      onScanned: () => progress?.stop(),
    });
    await sink.flush();
    if (target) await target.commit();
    const text = summaryText(summary, target ? { [run.format]: run.out! } : {});
    if (summary.stuck === 0 && run.format === "table" && !target) {
      io.stderr.write(
        `No stuck workflow found in namespace "${summary.app.namespace}" for app ID "${summary.app.appId}" (${count(summary.scanned)} scanned)\n`,
      );
      if (!summary.reminderChecks) io.stderr.write("Scheduler reminders were not checked (no --etcd-endpoints).\n");
      const orphans = orphanRemindersLine(summary);
      if (orphans) io.stderr.write(`${orphans}\n`);
    } else {
      io.stderr.write(text);
    }
    // Nothing of the app at all: perhaps a mistyped -a or -n.
    if (summary.scanned === 0 && summary.unreadable === 0 && !scan.shard) {
      await writeAppHint(store.backend, store.app, io.stderr);
    }
    return { stuck: summary.stuck, scanned: summary.scanned, unreadable: summary.unreadable };
  } catch (error) {
    progress?.stop();
    await target?.discard();
    throw error;
  }
}

/** The table as a report renderer: the header only when something is stuck (stderr says when nothing is). */
function tableRenderer(layout: TableLayout): ReportRenderer {
  return {
    begin: (summary) => (summary.stuck > 0 ? `${layout.header()}\n` : ""),
    row: (record) => `${layout.line(tableCells(record))}\n`,
    end: () => "",
  };
}

/** A file written through a temp file beside it and renamed into place on success (shared/util/atomic-file.ts). */
async function openOutFile(
  path: string,
): Promise<{ stream: Writable; commit(): Promise<void>; discard(): Promise<void> }> {
  const file = await AtomicFile.open(path, {
    existing: "replace",
    mode: 0o644,
    tempName: `.${basename(path)}.${randomBytes(4).toString("hex")}.tmp`,
  }).catch((error: Error) => {
    throw new HousekeeperError("bad-input", `cannot write --output-file ${path}: ${error.message}`, { cause: error });
  });
  const stream = file.stream();
  const close = () =>
    new Promise<void>((resolve, reject) => {
      stream.end((error?: Error | null) => (error ? reject(error) : resolve()));
    });
  return {
    stream,
    async commit() {
      await close();
      await file.commit();
    },
    async discard() {
      await close().catch(() => {});
      await file.discard();
    },
  };
}
