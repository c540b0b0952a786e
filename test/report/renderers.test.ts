/**
 * The report formats (pure) and the delivery pieces: CSV per RFC 4180, JSON, HTML escaping and its CSP, the text
 * summary, the back-pressured channel that feeds uploads, and the SNS notifier against a local SNS Query API
 * stand-in (the real AWS SDK client, pointed at it with `endpoint`).
 */
import { createHash } from "node:crypto";
import { SNSClient } from "@aws-sdk/client-sns";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TextChannel } from "../../shared/jobs/stuck-report/channel.ts";
import { CSV_COLUMNS, CsvReportWriter, csvField } from "../../shared/jobs/stuck-report/formats/csv.ts";
import { escapeHtml, HtmlReportWriter } from "../../shared/jobs/stuck-report/formats/html.ts";
import { JsonReportWriter } from "../../shared/jobs/stuck-report/formats/json.ts";
import { summaryText } from "../../shared/jobs/stuck-report/formats/text.ts";
import type { ReportWriter } from "../../shared/jobs/stuck-report/formats/writer.ts";
import type { StuckRecord } from "../../shared/jobs/stuck-report/model.ts";
import { SnsNotifier, snsSubject } from "../../shared/jobs/stuck-report/notify.ts";
import { parseCsv, SAMPLE_RECORDS, sampleSummary } from "./samples.ts";
import { SnsStandIn } from "./sns-standin.ts";

function render(writer: ReportWriter, records: readonly StuckRecord[] = SAMPLE_RECORDS): string {
  const summary = sampleSummary(records);
  return writer.begin(summary) + records.map((r) => writer.row(r)).join("") + writer.end(summary);
}

describe("CSV report", () => {
  it("quotes per RFC 4180: commas, quotes and line breaks; CRLF line ends", () => {
    expect(csvField("plain")).toBe("plain");
    expect(csvField("a,b")).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField("two\r\nlines")).toBe('"two\r\nlines"');
    const text = render(new CsvReportWriter());
    const lines = text.split("\r\n");
    expect(lines[0]).toBe(CSV_COLUMNS.join(","));
    expect(text.endsWith("\r\n")).toBe(true);
  });

  it("round-trips every record through an RFC 4180 reader, formulas defused", () => {
    const rows = parseCsv(render(new CsvReportWriter()));
    expect(rows).toHaveLength(SAMPLE_RECORDS.length + 1);
    expect(rows.every((r) => r.length === CSV_COLUMNS.length)).toBe(true);
    const col = (name: (typeof CSV_COLUMNS)[number]) => CSV_COLUMNS.indexOf(name);
    const evil = rows[3]!;
    expect(evil[col("instanceID")]).toBe('x"><img src=x onerror=alert(1)>');
    expect(evil[col("summary")]).toBe('\'=HYPERLINK("http://evil"), with, commas\r\nand a new line');
    expect(rows[2]![col("reasons")]).toBe("idle-too-long; timer-overdue");
    expect(rows[4]![col("eventName")]).toBe("ManagerApproval");
    expect(rows[5]![col("missingReminders")]).toBe(
      "run-activity of activity actor order-0200::1::1 (ShipOrder, task 1)",
    );
    expect(rows[6]![col("created")]).toBe("");
    expect(JSON.parse(rows[1]![col("details")]!)).toEqual(SAMPLE_RECORDS[0]!.details);
    expect(rows.slice(1).map((r) => Number(r[col("ageMs")]))).toEqual(SAMPLE_RECORDS.map((r) => r.ageMs));
  });
});

describe("JSON report", () => {
  it("is an array of the records, in order", () => {
    expect(JSON.parse(render(new JsonReportWriter()))).toEqual(SAMPLE_RECORDS);
  });

  it("is [] when nothing is stuck", () => {
    expect(render(new JsonReportWriter(), [])).toBe("[]\n");
    expect(JSON.parse(render(new JsonReportWriter(), []))).toEqual([]);
  });
});

describe("HTML report", () => {
  const page = render(new HtmlReportWriter());

  it("escapes every value from the store", () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe("&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    expect(page).not.toContain("<img");
    expect(page).not.toContain("<script>alert");
    expect(page).not.toContain("<b>manual</b>");
    // <wbr> marks line-break chances in names (no text of its own).
    expect(page.replaceAll("<wbr>", "")).toContain("&lt;script&gt;alert(&#39;name&#39;)&lt;/script&gt;");
    expect(page).toContain('data-instance="x&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"');
  });

  it("is self-contained, its inline style and script allowed by hash and nothing else", () => {
    // Every "<" of a value is escaped, so the page's tags are its own: none loads anything.
    const tagsOnly = page.replace(/="[^"]*"/g, '=""');
    expect(tagsOnly).not.toMatch(/<[a-z][^>]*\s(src|href|srcset|action)=/i);
    expect(page).not.toMatch(/url\(|@import/i);
    const style = /<style>([\s\S]*?)<\/style>/.exec(page)![1]!;
    const script = /<script>([\s\S]*?)<\/script>/.exec(page)![1]!;
    const sha = (t: string) => createHash("sha256").update(t).digest("base64");
    const csp = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(page)![1]!.replaceAll("&#39;", "'");
    expect(csp).toContain(`style-src 'sha256-${sha(style)}'`);
    expect(csp).toContain(`script-src 'sha256-${sha(script)}'`);
    expect(csp).toMatch(/^default-src 'none';/);
    expect(page.match(/<script/g)).toHaveLength(1);
  });

  it("shows the counts, the chart and one row per record", () => {
    expect(page).toContain('<td data-reason="idle-too-long">2</td>');
    expect(page).toContain('<td data-reason="no-reminder">2</td>');
    expect(page).toContain('<td data-status="RUNNING">3</td>');
    expect(page).toContain('data-stuck="6" data-scanned="120">6 of 120 instances look stuck</p>');
    expect(page.match(/<rect class="bar"/g)).toHaveLength(8);
    expect(page.match(/<tr data-instance=/g)).toHaveLength(SAMPLE_RECORDS.length);
  });

  it("shows at most rowLimit rows and says how many it left out", () => {
    const limited = render(new HtmlReportWriter(2));
    expect(limited.match(/<tr data-instance=/g)).toHaveLength(2);
    expect(limited).toContain("4 more stuck instances are not shown here (the 2 oldest are)");
    expect(limited).toContain('data-stuck="6"');
    // Said at the top, before the table, not after thousands of rows.
    expect(limited.indexOf('id="truncated"')).toBeLessThan(limited.indexOf('<table id="stuck"'));
    expect(page).not.toContain('id="truncated"');
  });

  it("separates thousands in counts", () => {
    const many = Array.from({ length: 1234 }, (_, i) => ({ ...SAMPLE_RECORDS[1]!, instanceID: `order-${i}` }));
    const summary = sampleSummary(many, 1_234_567);
    const writer = new HtmlReportWriter(1000);
    const html = writer.begin(summary) + many.map((r) => writer.row(r)).join("") + writer.end(summary);
    expect(html).toContain(">1,234 of 1,234,567 instances look stuck</p>");
    expect(html).toContain('<td data-reason="idle-too-long">1,234</td>');
    expect(html).toContain("234 more stuck instances are not shown here (the 1,000 oldest are)");
    expect(html).toContain("<h3>timer-overdue (1,234)</h3>");
  });
});

describe("text summary", () => {
  it("gives the counts by reason and status, the oldest, and where the reports are", () => {
    expect(summaryText(sampleSummary(), { json: "s3://b/k.json" })).toBe(
      [
        "6 of 120 instances look stuck in app shop (namespace default), 2026-06-15T12:00:00.000Z.",
        "By reason: idle-too-long 2, no-reminder 2, timer-overdue 1, waiting-for-event 1, past-retention 1.",
        "By status: RUNNING 3, COMPLETED 1, PENDING 1, SUSPENDED 1.",
        "Oldest: order-0042 (age 45d).",
        "JSON report: s3://b/k.json",
        "",
      ].join("\n"),
    );
  });
});

describe("TextChannel", () => {
  it("holds the producer back while the consumer lags, and delivers every byte in order", async () => {
    const channel = new TextChannel(128 * 1024);
    const piece = "x".repeat(10_000);
    let written = 0;
    const producer = (async () => {
      for (let i = 0; i < 100; i++) {
        await channel.write(`${i}:${piece}\n`);
        written++;
      }
      await channel.end();
    })();
    await new Promise((r) => setTimeout(r, 20));
    expect(written).toBeLessThan(40); // ~1 MB offered, at most 128 KiB queued plus one chunk
    const chunks: Buffer[] = [];
    for await (const chunk of channel) chunks.push(Buffer.from(chunk));
    await producer;
    const lines = Buffer.concat(chunks).toString().split("\n");
    expect(lines.slice(0, 100).map((l) => Number(l.split(":")[0]))).toEqual([...Array(100).keys()]);
  });

  it("fails the producer when the consumer gives up", async () => {
    const channel = new TextChannel(1024);
    const consumer = (async () => {
      for await (const _ of channel) break;
    })();
    await expect(
      (async () => {
        for (let i = 0; i < 1000; i++) await channel.write("y".repeat(70_000));
      })(),
    ).rejects.toThrow(/stopped reading/);
    await consumer;
  });
});

describe("SNS notifier (AWS SDK v3 against a local SNS Query API stand-in)", () => {
  const sns = new SnsStandIn();
  const topicArn = "arn:aws:sns:us-east-1:123456789012:stuck-workflows";
  let client: SNSClient;

  beforeAll(async () => {
    await sns.start();
    sns.topics.add(topicArn);
    client = new SNSClient({
      region: "us-east-1",
      endpoint: sns.endpoint,
      credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" },
      maxAttempts: 1,
    });
  });
  afterAll(async () => {
    client.destroy();
    await sns.stop();
  });

  it("publishes the subject, the summary and attributes, signed", async () => {
    const notifier = new SnsNotifier({ topicArn, client });
    const summary = sampleSummary();
    const sent = await notifier.notify({
      subject: "Dapr housekeeper: 6 of 120 instances look stuck — app shop\nsecond line",
      message: summaryText(summary),
      summary,
    });
    expect(sns.published).toHaveLength(1);
    const got = sns.published[0]!;
    expect(sent.messageId).toBe(got.messageId);
    expect(got).toMatchObject({
      action: "Publish",
      topicArn,
      subject: "Dapr housekeeper: 6 of 120 instances look stuck app shop second line",
      message: summaryText(summary),
      signed: true,
      attributes: {
        appId: { dataType: "String", value: "shop" },
        namespace: { dataType: "String", value: "default" },
        stuck: { dataType: "Number", value: "6" },
      },
    });
  });

  it("turns SNS errors into HousekeeperErrors with a code", async () => {
    const notifier = new SnsNotifier({ topicArn, client });
    sns.failNext({ status: 403, code: "AuthorizationError", message: "not allowed to publish" });
    await expect(notifier.notify({ subject: "s", message: "m", summary: sampleSummary() })).rejects.toMatchObject({
      code: "unauthorized",
      message: expect.stringContaining("not allowed to publish"),
    });
    const missing = new SnsNotifier({ topicArn: `${topicArn}-gone`, client });
    await expect(missing.notify({ subject: "s", message: "m", summary: sampleSummary() })).rejects.toMatchObject({
      code: "bad-input",
    });
  });

  it("keeps subjects within SNS's rules", () => {
    expect(snsSubject("Ünïcode — and\ttabs")).toBe("Unicode and tabs");
    expect(snsSubject("x".repeat(150))).toHaveLength(100);
    expect(() => new SnsNotifier({ topicArn: "not-an-arn" })).toThrow(/not an SNS topic ARN/);
  });
});
