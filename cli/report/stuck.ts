/**
 * `housekeeper report stuck -a <app>`: the stuck-workflow report (shared/jobs/stuck-report.ts) read straight from the
 * state store, and from the Scheduler's etcd when `--etcd-endpoints` is given (that turns on the no-reminder check).
 *
 *   -o/--output table (default) | json | csv | html   --output-file FILE writes it to a file instead of stdout
 *   (--format and --out: the same flags under their first names)  --fail-on-stuck: exit 3 when anything is stuck
 *
 * Every format lists the stuck instances oldest first. Bounded memory at any size: records are sorted by an external
 * merge sort and written record by record (table column widths are measured while the records stream into the sort).
 * The summary goes to stderr so stdout stays machine-readable; `--out` writes through a temp file, so a failed run
 * leaves no partial report behind.
 */
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Writable } from "node:stream";
import { Command, Option } from "commander";
import { parseStatusDurations, parseThreshold, TERMINAL_STATUS_LIST } from "../../shared/config/stuck-report.ts";
import { HousekeeperError } from "../../shared/errors.ts";
import { EtcdReminders } from "../../shared/jobs/stuck-report/etcd-reminders.ts";
import type { StuckRecord } from "../../shared/jobs/stuck-report/model.ts";
import { compareByAge, WATCHED_STATUSES } from "../../shared/jobs/stuck-report/model.ts";
import type { ReminderIndex, ReminderSource } from "../../shared/jobs/stuck-report/reminders.ts";
import type { StuckReportOptions } from "../../shared/jobs/stuck-report.ts";
import { newTally, STUCK_SORT_RUN_SIZE, scanStuckInstances, writerFor } from "../../shared/jobs/stuck-report.ts";
import { orphanRemindersLine, summaryText } from "../../shared/report/text.ts";
import type { ReportWriter } from "../../shared/report/writer.ts";
import type { WorkflowStateStore } from "../../shared/state-store/workflow-store.ts";
import { externalSort } from "../../shared/util/external-sort.ts";
import type { ConnectionFlags } from "../connection.ts";
import { addConnectionOptions, connectionFlags, withWorkflowStore } from "../connection.ts";
import { stuckFound } from "../exit-codes.ts";
import { OutputSink } from "../output/sink.ts";
import { TableLayout } from "../output/table.ts";
import type { EtcdFlags } from "../scheduler/connection.ts";
import { addEtcdOptions, etcdStoreOptions, optionalEtcdFlags } from "../scheduler/connection.ts";

export const STUCK_FORMATS = ["table", "json", "csv", "html"] as const;
export type StuckFormat = (typeof STUCK_FORMATS)[number];

export const TABLE_HEADERS = ["INSTANCE_ID", "NAME", "STATUS", "AGE", "CREATED", "REASONS", "WAITING_FOR"] as const;

/** Test hook, as for `workflow list`: a smaller sort run forces the spill-and-merge path on small data. */
const RUN_SIZE_ENV = "HOUSEKEEPER_LIST_SORT_RUN_SIZE";

/** Opens the Scheduler's reminders for the parsed etcd flags. */
export type ReminderOpener = (flags: EtcdFlags) => Promise<ReminderSource>;

export const openRemindersFromFlags: ReminderOpener = async (flags) => new EtcdReminders(await etcdStoreOptions(flags));

export interface StuckIo {
  stdout: Writable;
  stderr: Writable;
  now: () => Date;
  openReminders: ReminderOpener;
}

export function tableCells(record: StuckRecord): string[] {
  return [
    record.instanceID,
    record.name,
    record.runtimeStatus,
    record.age,
    record.created ?? "",
    record.reasons.join(","),
    record.waitingFor.join("; "),
  ];
}

interface StuckFlags {
  olderThan: string;
  threshold?: string;
  eventWait?: string;
  timerOverdue: string;
  reminderGrace: string;
  retention?: string;
  retentionFrom: "completed" | "created";
  output: StuckFormat;
  /** Hidden alias of --output (the flag's first name). */
  format?: StuckFormat;
  outputFile?: string;
  /** Hidden alias of --output-file (the flag's first name). */
  out?: string;
  htmlRows?: string;
  failOnStuck?: boolean;
}

export function stuckCommand(io: StuckIo): Command {
  const command = new Command("stuck").description(
    "Report workflow instances that look stuck: idle too long, missing their Scheduler reminder, overdue timers, " +
      "waiting for an event too long, or finished but kept past retention",
  );
  addConnectionOptions(command);
  command
    .addOption(
      new Option(
        "--older-than <duration>",
        "idle threshold of RUNNING, PENDING, SUSPENDED and STALLED instances (Go duration or days: 24h, 90m, 7d)",
      ).default("24h"),
    )
    .addOption(
      new Option("--threshold <STATUS=duration,...>", `per-status idle thresholds (${WATCHED_STATUSES.join(", ")})`),
    )
    .addOption(
      new Option(
        "--event-wait <duration>",
        "how long waiting for an external event is fine (default: RUNNING's threshold)",
      ),
    )
    .addOption(new Option("--timer-overdue <duration>", "how far past its fire time a timer is overdue").default("1h"))
    .addOption(
      new Option("--reminder-grace <duration>", "check reminders only of instances untouched this long").default("5m"),
    )
    .addOption(
      new Option(
        "--retention <STATUS=duration,...>",
        "retention policy to audit, per terminal status (ANY=… for all): reports instances kept past it",
      ),
    )
    .addOption(
      new Option("--retention-from <from>", "measure retention age from")
        .choices(["completed", "created"])
        .default("completed"),
    )
    .addOption(
      new Option("-o, --output <format>", "output format (--format is the same flag)")
        .choices(STUCK_FORMATS)
        .default("table"),
    )
    .addOption(new Option("--format <format>").choices(STUCK_FORMATS).conflicts("output").hideHelp())
    .addOption(
      new Option(
        "--output-file <file>",
        "write the report to this file instead of stdout, as `scheduler export -o` does (--out is the same flag)",
      ),
    )
    .addOption(new Option("--out <file>").conflicts("outputFile").hideHelp())
    .addOption(new Option("--html-rows <n>", "rows shown in the HTML table (the oldest; default 5000)"))
    .addOption(new Option("--fail-on-stuck", "exit with status 3 when any instance looks stuck (for CI and cron)"));
  addEtcdOptions(command, {
    defaultEndpoint: false,
    endpointsHelp: "the Scheduler's etcd (comma-separated host:port); turns on the missing-reminder check",
  });
  command.action(async (_options: unknown, cmd: Command) => {
    const opts = cmd.opts<StuckFlags>();
    // Validate every flag before touching a store.
    const scan = scanOptions(opts, io.now());
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
  });
  return command;
}

function positiveInt(text: string, flag: string): number {
  if (!/^\d+$/.test(text.trim()) || Number(text) < 1) {
    throw new HousekeeperError("bad-input", `invalid value "${text}" for ${flag}: expected a whole number ≥ 1`);
  }
  return Number(text);
}

function flagDuration(text: string, flag: string): number {
  return parseThreshold(text, `value for ${flag}`);
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
  const scan: StuckReportOptions = {
    ...run.scan,
    onUnreadable: (u) => io.stderr.write(`warning: skipped instance ${u.instanceID}: ${u.reason} (key ${u.key})\n`),
  };
  const tally = newTally(ports, scan);
  const layout = run.format === "table" ? new TableLayout(TABLE_HEADERS) : undefined;
  async function* observed(): AsyncGenerator<StuckRecord> {
    for await (const record of scanStuckInstances(ports, scan, tally)) {
      layout?.observe(tableCells(record));
      yield record;
    }
  }
  const writer: ReportWriter | undefined =
    run.format === "table" ? undefined : writerFor(run.format, { htmlRowLimit: run.htmlRowLimit ?? 5000 });

  const target = run.out === undefined ? undefined : await openOutFile(run.out);
  const sink = new OutputSink(target?.stream ?? io.stdout);
  try {
    const runSize = Number(process.env[RUN_SIZE_ENV]) || STUCK_SORT_RUN_SIZE;
    const sorted = externalSort(observed(), { compare: compareByAge, runSize });
    // The sort has read the whole scan before its first record: the tally is final from here on.
    let next = await sorted.next();
    const summary = tally.summary();
    if (writer) await sink.write(writer.begin(summary));
    else if (layout && summary.stuck > 0) await sink.write(`${layout.header()}\n`);
    while (!next.done) {
      const record = next.value;
      if (writer) await sink.write(writer.row(record));
      else if (layout) await sink.write(`${layout.line(tableCells(record))}\n`);
      next = await sorted.next();
    }
    if (writer) await sink.write(writer.end(summary));
    await sink.flush();
    if (target) await target.commit();
    const text = summaryText(summary, target ? { [run.format]: run.out! } : {});
    if (summary.stuck === 0 && run.format === "table" && !target) {
      io.stderr.write(
        `No stuck workflow found in namespace "${summary.app.namespace}" for app ID "${summary.app.appId}" (${summary.scanned} scanned)\n`,
      );
      if (!summary.reminderChecks) io.stderr.write("Scheduler reminders were not checked (no --etcd-endpoints).\n");
      const orphans = orphanRemindersLine(summary);
      if (orphans) io.stderr.write(`${orphans}\n`);
    } else {
      io.stderr.write(text);
    }
    return { stuck: summary.stuck, scanned: summary.scanned, unreadable: summary.unreadable };
  } catch (error) {
    await target?.discard();
    throw error;
  }
}

/** A file written through a temp file beside it and renamed into place on success. */
async function openOutFile(
  path: string,
): Promise<{ stream: Writable; commit(): Promise<void>; discard(): Promise<void> }> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString("hex")}.tmp`);
  const stream = createWriteStream(temp, { flags: "wx", mode: 0o644 });
  await new Promise<void>((resolve, reject) => {
    stream.once("open", () => resolve());
    stream.once("error", (error) =>
      reject(
        new HousekeeperError("bad-input", `cannot write --output-file ${path}: ${error.message}`, { cause: error }),
      ),
    );
  });
  const close = () =>
    new Promise<void>((resolve, reject) => {
      stream.end((error?: Error | null) => (error ? reject(error) : resolve()));
    });
  return {
    stream,
    async commit() {
      await close();
      await rename(temp, path);
    },
    async discard() {
      await close().catch(() => {});
      await rm(temp, { force: true });
    },
  };
}
