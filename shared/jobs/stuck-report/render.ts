/**
 * The stuck report's one render pipeline, for both doors: the stuck-report Lambda (publish.ts: JSON, CSV and HTML
 * into uploads side by side) and `housekeeper report stuck` (cli/report/stuck-run.ts: one format, or its table, into
 * stdout or a file). The scan's records are sorted oldest first by an external merge sort (bounded memory however
 * many are stuck), then every output gets `begin(summary)`, one `row` per record and `end(summary)`, record by
 * record, so one pass over the sorted records feeds them all and the same records render the same bytes everywhere.
 */
import { externalSort } from "../../util/external-sort.ts";
import { CsvReportWriter } from "./formats/csv.ts";
import { DEFAULT_HTML_ROW_LIMIT, HtmlReportWriter } from "./formats/html.ts";
import { JsonReportWriter } from "./formats/json.ts";
import type { ReportFormat, ReportRenderer, ReportWriter } from "./formats/writer.ts";
import type { StuckRecord, StuckSummary } from "./model.ts";
import { compareByAge } from "./model.ts";

/**
 * Stuck records per in-memory sort run: a record with its details is about ten times the size of `workflow list`'s
 * compact row, so runs are shorter (100,000 instances, 63,000 stuck: peak RSS 395 MiB with 20,000, 271 with 5,000).
 */
export const STUCK_SORT_RUN_SIZE = 5000;

export function writerFor(format: ReportFormat, options: { htmlRowLimit?: number } = {}): ReportWriter {
  switch (format) {
    case "json":
      return new JsonReportWriter();
    case "csv":
      return new CsvReportWriter();
    case "html":
      return new HtmlReportWriter(options.htmlRowLimit ?? DEFAULT_HTML_ROW_LIMIT);
  }
}

/** Where rendered text goes: an upload's TextChannel, the CLI's OutputSink. */
export interface TextSink {
  write(text: string): Promise<void>;
}

export interface RenderOutput {
  renderer: ReportRenderer;
  sink: TextSink;
}

export interface RenderOptions {
  /** Records per in-memory sort run (default STUCK_SORT_RUN_SIZE; beyond that the sort spills to a temp dir). */
  sortRunSize?: number;
  /** Called once the scan has been read whole (or has failed), before anything is written: a progress line stops. */
  onScanned?: () => void;
  /** Every record as it is rendered, oldest first. */
  onRecord?: (record: StuckRecord) => void;
}

/**
 * Renders `records` (the scan, in store order) oldest first into every output; returns the summary the reports lead
 * with. `summary` is asked once the sort has read the whole scan (it does before yielding its first record), so the
 * scan's tally is final by then. Empty text is not written (a zero-length write still reaches a stream).
 */
export async function renderStuckReport(
  outputs: readonly RenderOutput[],
  records: AsyncIterable<StuckRecord>,
  summary: () => StuckSummary,
  options: RenderOptions = {},
): Promise<StuckSummary> {
  const sorted = externalSort(records, {
    compare: compareByAge,
    runSize: options.sortRunSize ?? STUCK_SORT_RUN_SIZE,
  });
  const first = sorted.next();
  let next = await (options.onScanned ? first.finally(options.onScanned) : first);
  const final = summary();
  const write = async (sink: TextSink, text: string) => {
    if (text !== "") await sink.write(text);
  };
  for (const o of outputs) await write(o.sink, o.renderer.begin(final));
  while (!next.done) {
    const record = next.value;
    options.onRecord?.(record);
    for (const o of outputs) await write(o.sink, o.renderer.row(record));
    next = await sorted.next();
  }
  for (const o of outputs) await write(o.sink, o.renderer.end(final));
  return final;
}
