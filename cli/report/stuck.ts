/**
 * `housekeeper report stuck -a <app>`: the stuck-workflow report (shared/jobs/stuck-report/) read straight from the
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
import type { Writable } from "node:stream";
import { Command, Option } from "commander";
import type { StuckRecord } from "../../shared/jobs/stuck-report/model.ts";
import { WATCHED_STATUSES } from "../../shared/jobs/stuck-report/model.ts";
import type { ReminderSource } from "../../shared/jobs/stuck-report/reminders.ts";
import type { EtcdFlags } from "../flags/etcd.ts";
import { addEtcdOptions } from "../flags/etcd.ts";
import { shardOption } from "../flags/shard.ts";
import { addConnectionOptions } from "../flags/state-store.ts";

export const STUCK_FORMATS = ["table", "json", "csv", "html"] as const;
export type StuckFormat = (typeof STUCK_FORMATS)[number];

export const TABLE_HEADERS = ["INSTANCE_ID", "NAME", "STATUS", "AGE", "CREATED", "REASONS", "WAITING_FOR"] as const;

/** Opens the Scheduler's reminders for the parsed etcd flags. */
export type ReminderOpener = (flags: EtcdFlags) => Promise<ReminderSource>;

/** The default opener: etcd, with the TLS files the flags name (loaded when a run needs it). */
export const openRemindersFromFlags: ReminderOpener = async (flags) =>
  (await import("./stuck-run.ts")).openEtcdReminders(flags);

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

export interface StuckFlags {
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
    .addOption(new Option("--fail-on-stuck", "exit with status 3 when any instance looks stuck (for CI and cron)"))
    .addOption(shardOption());
  addEtcdOptions(command, {
    defaultEndpoint: false,
    endpointsHelp: "the Scheduler's etcd (comma-separated host:port); turns on the missing-reminder check",
  });
  // Imported when the command runs: `--help` loads the command tree only.
  command.action(async (_options: unknown, cmd: Command) => (await import("./stuck-run.ts")).stuckAction(io, cmd));
  return command;
}
