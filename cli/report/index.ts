/** `housekeeper report …`: reports about an app's workflow instances. Today: `report stuck`. */
import type { Writable } from "node:stream";
import { Command } from "commander";
import type { ReminderOpener } from "./stuck.ts";
import { openRemindersFromFlags, stuckCommand } from "./stuck.ts";

export interface ReportCliOptions {
  stdout?: Writable;
  stderr?: Writable;
  now?: () => Date;
  /** Opens the Scheduler's reminders for the parsed etcd flags (tests can inject a source). */
  openReminders?: ReminderOpener;
}

/** The `report` command group. */
export function reportCommand(options: ReportCliOptions = {}): Command {
  const io = {
    stdout: options.stdout ?? process.stdout,
    stderr: options.stderr ?? process.stderr,
    now: options.now ?? (() => new Date()),
    openReminders: options.openReminders ?? openRemindersFromFlags,
  };
  const group = new Command("report").description(
    "Reports about an app's workflow instances, read directly from the state store (and the Scheduler's etcd)",
  );
  group.addCommand(stuckCommand(io));
  return group;
}
