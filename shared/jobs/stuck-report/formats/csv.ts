/**
 * The CSV report, RFC 4180: a header line, one line per stuck instance, CRLF line ends, every field that holds a
 * comma, a double quote, CR or LF quoted with its quotes doubled. For spreadsheets: text that a spreadsheet would
 * run as a formula (starting with `=`, `+`, `-`, `@`, tab or CR; OWASP "CSV injection") gets a leading `'`. Lists
 * are joined with `; `; `details` is the record's details object as JSON.
 */
import type { StuckRecord } from "../model.ts";
import type { ReportWriter } from "./writer.ts";

export const CSV_COLUMNS = [
  "namespace",
  "appID",
  "instanceID",
  "name",
  "runtimeStatus",
  "created",
  "lastUpdate",
  "ageMs",
  "age",
  "ageFromCreationMs",
  "ageFromCreation",
  "reasons",
  "eventName",
  "missingReminders",
  "overdueTimers",
  "waitingFor",
  "summary",
  "details",
] as const;

/** One field, quoted when it must be (RFC 4180 §2.6/2.7). */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** One record line, CRLF-terminated (RFC 4180 §2.1). */
export function csvLine(fields: readonly string[]): string {
  return `${fields.map(csvField).join(",")}\r\n`;
}

/** Defuses text a spreadsheet would evaluate as a formula. */
export function guardFormula(text: string): string {
  return /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
}

function cells(record: StuckRecord): string[] {
  const d = record.details;
  const row: Record<(typeof CSV_COLUMNS)[number], string> = {
    namespace: guardFormula(record.namespace),
    appID: guardFormula(record.appID),
    instanceID: guardFormula(record.instanceID),
    name: guardFormula(record.name),
    runtimeStatus: record.runtimeStatus,
    created: record.created ?? "",
    lastUpdate: record.lastUpdate ?? "",
    ageMs: String(record.ageMs),
    age: record.age,
    ageFromCreationMs: record.ageFromCreationMs === null ? "" : String(record.ageFromCreationMs),
    ageFromCreation: record.ageFromCreation ?? "",
    reasons: record.reasons.join("; "),
    eventName: guardFormula(d["waiting-for-event"]?.eventNames.join("; ") ?? ""),
    missingReminders: guardFormula(d["no-reminder"]?.missing.join("; ") ?? ""),
    overdueTimers: (d["timer-overdue"]?.timers ?? []).map((t) => `${t.timerId}@${t.fireAt}`).join("; "),
    waitingFor: guardFormula(record.waitingFor.join("; ")),
    summary: guardFormula(record.summary),
    details: JSON.stringify(d),
  };
  return CSV_COLUMNS.map((c) => row[c]);
}

export class CsvReportWriter implements ReportWriter {
  readonly format = "csv";
  readonly contentType = "text/csv; charset=utf-8; header=present";
  readonly extension = ".csv";

  begin(): string {
    return csvLine(CSV_COLUMNS);
  }

  row(record: StuckRecord): string {
    return csvLine(cells(record));
  }

  end(): string {
    return "";
  }
}
