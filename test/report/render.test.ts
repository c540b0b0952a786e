/**
 * renderStuckReport, the one render pipeline of the stuck-report Lambda and `housekeeper report stuck`, in process:
 * records come out oldest first whatever the scan's order (through spilled sort runs too), every output gets
 * begin/rows/end in one pass, the summary is taken only once the scan is read whole, and nothing is written before.
 */
import { describe, expect, it } from "vitest";
import { CsvReportWriter } from "../../shared/jobs/stuck-report/formats/csv.ts";
import { JsonReportWriter } from "../../shared/jobs/stuck-report/formats/json.ts";
import type { ReportRenderer } from "../../shared/jobs/stuck-report/formats/writer.ts";
import type { StuckRecord, StuckSummary } from "../../shared/jobs/stuck-report/model.ts";
import { compareByAge } from "../../shared/jobs/stuck-report/model.ts";
import { renderStuckReport, type TextSink, writerFor } from "../../shared/jobs/stuck-report/render.ts";
import { SAMPLE_RECORDS, sampleSummary } from "./samples.ts";

class Collect implements TextSink {
  parts: string[] = [];
  async write(text: string): Promise<void> {
    this.parts.push(text);
  }
  get text(): string {
    return this.parts.join("");
  }
}

/** The scan in store order (youngest first here), counting what it has yielded. */
function scan(records: readonly StuckRecord[], seen: { n: number }): AsyncGenerator<StuckRecord> {
  return (async function* () {
    for (const record of [...records].sort((a, b) => compareByAge(b, a))) {
      seen.n++;
      yield record;
    }
  })();
}

const names: ReportRenderer = {
  begin: (summary) => `${summary.stuck} stuck\n`,
  row: (record) => `${record.instanceID}\n`,
  end: () => "",
};

describe("renderStuckReport", () => {
  it("writes every output in one pass, oldest first, after the whole scan; through spilled sort runs too", async () => {
    const oldestFirst = [...SAMPLE_RECORDS].sort(compareByAge);
    for (const sortRunSize of [2, undefined]) {
      const seen = { n: 0 };
      const json = new Collect();
      const list = new Collect();
      const events: string[] = [];
      const onRecord: string[] = [];
      const summary = await renderStuckReport(
        [
          { renderer: new JsonReportWriter(), sink: json },
          { renderer: names, sink: list },
        ],
        scan(SAMPLE_RECORDS, seen),
        () => {
          events.push(`summary after ${seen.n}`);
          return sampleSummary();
        },
        {
          ...(sortRunSize ? { sortRunSize } : {}),
          onScanned: () => events.push(`scanned ${seen.n}, ${json.parts.length} written`),
          onRecord: (record) => onRecord.push(record.instanceID),
        },
      );
      const n = SAMPLE_RECORDS.length;
      expect(events).toEqual([`scanned ${n}, 0 written`, `summary after ${n}`]);
      expect(summary).toEqual(sampleSummary());
      expect(onRecord).toEqual(oldestFirst.map((r) => r.instanceID));
      expect(JSON.parse(json.text)).toEqual(oldestFirst);
      expect(list.text).toBe(`${n} stuck\n${oldestFirst.map((r) => `${r.instanceID}\n`).join("")}`);
      // Empty text is never written: `names.end` gives "".
      expect(list.parts).not.toContain("");
    }
  });

  it("renders what each writer renders on its own (the CLI's one format and the Lambda's three agree)", async () => {
    const summary: StuckSummary = sampleSummary();
    for (const format of ["json", "csv", "html"] as const) {
      const sink = new Collect();
      await renderStuckReport([{ renderer: writerFor(format), sink }], scan(SAMPLE_RECORDS, { n: 0 }), () => summary);
      const writer = writerFor(format);
      const alone = [
        writer.begin(summary),
        ...[...SAMPLE_RECORDS].sort(compareByAge).map((r) => writer.row(r)),
        writer.end(summary),
      ].join("");
      expect(sink.text).toBe(alone);
    }
  });

  it("an empty scan still gives each format its frame: [] for JSON, the header for CSV", async () => {
    const summary = sampleSummary([], 3);
    const json = new Collect();
    const csv = new Collect();
    await renderStuckReport(
      [
        { renderer: new JsonReportWriter(), sink: json },
        { renderer: new CsvReportWriter(), sink: csv },
      ],
      scan([], { n: 0 }),
      () => summary,
    );
    expect(json.text).toBe("[]\n");
    expect(csv.text).toBe(new CsvReportWriter().begin());
  });

  it("a failing scan stops before anything is written, and onScanned still runs", async () => {
    const sink = new Collect();
    let scanned = false;
    const failing = (async function* (): AsyncGenerator<StuckRecord> {
      yield SAMPLE_RECORDS[0]!;
      throw new Error("store gone");
    })();
    await expect(
      renderStuckReport([{ renderer: new JsonReportWriter(), sink }], failing, () => sampleSummary(), {
        onScanned: () => {
          scanned = true;
        },
      }),
    ).rejects.toThrow("store gone");
    expect(scanned).toBe(true);
    expect(sink.parts).toEqual([]);
  });
});
