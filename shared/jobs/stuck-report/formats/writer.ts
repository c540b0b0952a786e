/**
 * A report format: pure functions from the stuck report's summary and records to text, called in order
 * `begin(summary)`, `row(record)` for each record (oldest first), `end(summary)`. Writers never do I/O, so the same
 * writer feeds a file, stdout or an object-store upload, and a whole report never has to be in memory.
 */
import type { StuckRecord, StuckSummary } from "../model.ts";

export const REPORT_FORMATS = ["json", "csv", "html"] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

/** What render.ts calls; the CLI's table is one too. */
export interface ReportRenderer {
  begin(summary: StuckSummary): string;
  row(record: StuckRecord): string;
  end(summary: StuckSummary): string;
}

export interface ReportWriter extends ReportRenderer {
  readonly format: ReportFormat;
  readonly contentType: string;
  /** File extension, with the dot. */
  readonly extension: string;
}
