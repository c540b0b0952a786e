/**
 * The JSON report: an array with one object per stuck instance (StuckRecord: `instanceID`, `name`,
 * `runtimeStatus`, `created`, `lastUpdate`, `reasons`, `details` keyed by reason, …), oldest first. Streamed one
 * record at a time; the document is valid JSON once `end` has been written (`[]` when nothing is stuck).
 */
import type { StuckRecord } from "../model.ts";
import type { ReportWriter } from "./writer.ts";

export class JsonReportWriter implements ReportWriter {
  readonly format = "json";
  readonly contentType = "application/json; charset=utf-8";
  readonly extension = ".json";
  private count = 0;

  begin(): string {
    return "[";
  }

  row(record: StuckRecord): string {
    const text = JSON.stringify(record, null, 2).replace(/\n/g, "\n  ");
    return `${this.count++ === 0 ? "\n  " : ",\n  "}${text}`;
  }

  end(): string {
    return this.count === 0 ? "]\n" : "\n]\n";
  }
}
