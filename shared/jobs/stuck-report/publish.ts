/**
 * The stuck report as the stuck-report Lambda publishes it: scans (scan.ts), renders the JSON, CSV and HTML reports in
 * one pass over the records sorted oldest first (render.ts: external merge sort, bounded memory however many are
 * stuck) and uploads them side by side to the object store under a dated key, then a text and a JSON summary, then
 * notifies when the count reaches the threshold.
 */
import { HousekeeperError } from "../../errors.ts";
import type { ObjectStore } from "../../object-store/object-store.ts";
import type { AppRef } from "../../state-store/keys.ts";
import { TextChannel } from "./channel.ts";
import { summaryHeadline, summaryText } from "./formats/text.ts";
import type { ReportFormat } from "./formats/writer.ts";
import { REPORT_FORMATS } from "./formats/writer.ts";
import type { StuckRecord } from "./model.ts";
import type { StuckNotifier } from "./notify.ts";
import { renderStuckReport, STUCK_SORT_RUN_SIZE, writerFor } from "./render.ts";
import type { StuckReportOptions, StuckReportPorts, StuckReportResult } from "./scan.ts";
import { newTally, scanStuckInstances } from "./scan.ts";

/** The object-store port as the report needs it (shared/object-store's ObjectStore fits). */
export type ReportSink = Pick<ObjectStore, "put" | "location">;

export interface PublishPorts extends StuckReportPorts {
  objectStore: ReportSink;
  /** Notified when the stuck count reaches `notifyThreshold`. */
  notifier?: StuckNotifier;
}

export interface PublishOptions extends StuckReportOptions {
  /** Key prefix in the object store (default `stuck-reports`; "" for none). */
  keyPrefix?: string;
  /** Formats written (default all: json, csv, html); the text and JSON summaries are always written. */
  formats?: readonly ReportFormat[];
  /** Rows the HTML table shows (default 5000, the oldest). */
  htmlRowLimit?: number;
  /** Notify when at least this many instances are stuck (default 1). */
  notifyThreshold?: number;
  /** Records kept in the result (default 100). */
  recordLimit?: number;
  /** Records per in-memory sort run (default 5,000; beyond that the sort spills to a temp dir). */
  sortRunSize?: number;
}

export interface PublishResult extends StuckReportResult {
  /** Object keys per format, plus `summary` (text) and `summaryJson`. */
  reports: Partial<Record<ReportFormat | "summary" | "summaryJson", string>>;
  location: string;
  summaryText: string;
  notified: boolean;
  notificationId?: string;
}

export const DEFAULT_KEY_PREFIX = "stuck-reports";

/** `<prefix>/<namespace>/<app>/<YYYY-MM-DD>/<YYYYMMDDTHHMMSS.mmmZ>` (UTC): sortable, dated, one folder per day. */
export function reportKeyBase(prefix: string, app: AppRef, at: Date): string {
  const iso = at.toISOString();
  const day = iso.slice(0, 10);
  const stamp = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 23)}Z`;
  const clean = prefix.replace(/^\/+|\/+$/g, "");
  for (const [what, value] of [
    ["namespace", app.namespace],
    ["app ID", app.appId],
  ] as const) {
    if (value === "" || value === "." || value === ".." || /[/\\]/.test(value)) {
      throw new HousekeeperError("bad-input", `${what} "${value}" cannot be part of a report key`);
    }
  }
  return `${clean === "" ? "" : `${clean}/`}${app.namespace}/${app.appId}/${day}/${stamp}`;
}

/**
 * Scans, writes the reports to the object store under a dated key, and notifies when the stuck count reaches the
 * threshold. The reports are streamed into uploads that run side by side; a failure anywhere aborts all of them, and
 * the object store never shows a partial object.
 */
export async function publishStuckReport(ports: PublishPorts, options: PublishOptions = {}): Promise<PublishResult> {
  const started = Date.now();
  const formats = [...new Set(options.formats ?? REPORT_FORMATS)];
  const tally = newTally(ports, options);
  const base = reportKeyBase(options.keyPrefix ?? DEFAULT_KEY_PREFIX, ports.store.app, tally.generatedAt);
  const unreadable: StuckReportResult["unreadable"] = [];
  const scanOptions: StuckReportOptions = {
    ...options,
    now: tally.generatedAt,
    onUnreadable: (u) => {
      if (unreadable.length < 100) unreadable.push(u);
      options.onUnreadable?.(u);
    },
  };

  const outputs = formats.map((format) => {
    const writer = writerFor(format, options);
    const channel = new TextChannel();
    const key = `${base}${writer.extension}`;
    const upload = ports.objectStore
      .put(key, channel, { contentType: writer.contentType, metadata: { "report-format": format } })
      .catch((error: unknown) => {
        channel.abort(error);
        throw error;
      });
    upload.catch(() => {}); // awaited below; keep an early failure from going unhandled meanwhile
    return { format, writer, channel, key, upload };
  });

  const limit = options.recordLimit ?? 100;
  const records: StuckRecord[] = [];
  try {
    await renderStuckReport(
      outputs.map((o) => ({ renderer: o.writer, sink: o.channel })),
      scanStuckInstances(ports, scanOptions, tally),
      () => tally.summary(),
      {
        sortRunSize: options.sortRunSize ?? STUCK_SORT_RUN_SIZE,
        onRecord: (record) => {
          if (records.length < limit) records.push(record);
        },
      },
    );
    for (const o of outputs) await o.channel.end();
    await Promise.all(outputs.map((o) => o.upload));
  } catch (error) {
    for (const o of outputs) o.channel.abort(error);
    await Promise.allSettled(outputs.map((o) => o.upload));
    throw error;
  }

  const summary = tally.summary();
  const reports: PublishResult["reports"] = {};
  for (const o of outputs) reports[o.format] = o.key;
  reports.summary = `${base}.summary.txt`;
  reports.summaryJson = `${base}.summary.json`;
  const where = ports.objectStore.location.replace(/\/+$/, "");
  const described = Object.fromEntries(outputs.map((o) => [o.format, `${where}/${o.key}`]));
  const text = summaryText(summary, described);
  await ports.objectStore.put(reports.summary, text, { contentType: "text/plain; charset=utf-8" });
  await ports.objectStore.put(reports.summaryJson, `${JSON.stringify({ ...summary, reports }, null, 2)}\n`, {
    contentType: "application/json; charset=utf-8",
  });

  const result: PublishResult = {
    summary,
    records,
    truncated: summary.stuck > records.length,
    unreadable,
    durationMs: 0,
    reports,
    location: ports.objectStore.location,
    summaryText: text,
    notified: false,
  };
  const threshold = options.notifyThreshold ?? 1;
  if (ports.notifier && summary.stuck >= threshold) {
    const sent = await ports.notifier.notify({
      subject: `Dapr housekeeper: ${summaryHeadline(summary)}`,
      message: text,
      summary,
    });
    result.notified = true;
    if (sent.messageId) result.notificationId = sent.messageId;
  }
  result.durationMs = Date.now() - started;
  return result;
}
