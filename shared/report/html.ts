/**
 * The HTML report: one self-contained page (no external assets; inline CSS, script and SVG, allowed by a
 * Content-Security-Policy that names their hashes and nothing else) with
 *   - the totals, counts by reason and by status, and a small SVG bar chart of instance ages;
 *   - a table of the stuck instances, oldest first, sortable by clicking a column header (Age sorts by the exact
 *     milliseconds, not the text);
 * Every value from the store is HTML-escaped. At most `rowLimit` rows are shown (the oldest); counts and the chart
 * always cover every stuck instance, and the page says how many rows it left out.
 */

import { createHash } from "node:crypto";
import type { StuckReason, StuckRecord, StuckSummary } from "../jobs/stuck-report/model.ts";
import { humanAge, STUCK_REASONS } from "../jobs/stuck-report/model.ts";
import { RUNTIME_STATUSES } from "../workflow/runtime-status.ts";
import { orphanRemindersLine } from "./text.ts";
import type { ReportWriter } from "./writer.ts";

export const DEFAULT_HTML_ROW_LIMIT = 5000;

const REASON_HELP: Record<StuckReason, string> = {
  "idle-too-long": "not finished and no progress for longer than the threshold of its status",
  "no-reminder": "the history waits on a timer, activity or inbox event whose Scheduler reminder does not exist",
  "timer-overdue": "a durable timer's fire time is long past and it has not fired",
  "waiting-for-event": "waiting for an external event for longer than the threshold",
  "past-retention": "finished, but still stored past the retention policy",
};

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value ?? "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

const STYLE = `
:root{color-scheme:light;--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg2:#f6f8fa;--accent:#0969da}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);margin:24px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:15px;margin:16px 0 6px}
.meta{color:var(--muted);margin:0 0 12px}.warn{color:#9a6700;font-weight:600}
.overview{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}
.counts{border-collapse:collapse}.counts th{text-align:left;font-weight:normal;padding:2px 12px 2px 0}
.counts td{text-align:right;font-variant-numeric:tabular-nums;padding:2px 0}
.total{font-size:16px;font-weight:600}
svg text{font:11px system-ui,sans-serif;fill:var(--fg)}svg .bar{fill:var(--accent)}
#stuck{border-collapse:collapse;width:100%;margin-top:8px}
#stuck th,#stuck td{border-bottom:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
#stuck thead th{background:var(--bg2);position:sticky;top:0;white-space:nowrap}
#stuck th button{font:inherit;font-weight:600;border:0;background:none;padding:0;cursor:pointer;color:var(--fg)}
#stuck th[aria-sort=ascending] button::after{content:" \\25B2"}#stuck th[aria-sort=descending] button::after{content:" \\25BC"}
#stuck td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}#stuck td.time{white-space:nowrap}
.id{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;word-break:break-all}
.reason{display:inline-block;border-radius:10px;padding:0 7px;margin:1px 2px 1px 0;font-size:12px;background:#ddf4ff}
.r-no-reminder,.r-timer-overdue{background:#ffebe9}.r-past-retention{background:#eee}
.why{color:var(--muted);font-size:12px}
`;

const SCRIPT = `
(function(){
  var table=document.getElementById("stuck");if(!table)return;
  var body=table.tBodies[0];
  function key(row,col,type){var cell=row.cells[col];if(type==="num"){var v=parseFloat(cell.getAttribute("data-v"));return isNaN(v)?-Infinity:v;}return cell.textContent.trim().toLowerCase();}
  function sortBy(th){
    var col=th.cellIndex,type=th.getAttribute("data-sort");
    var dir=th.getAttribute("aria-sort")==="ascending"?"descending":"ascending";
    var heads=table.tHead.rows[0].cells;for(var i=0;i<heads.length;i++)heads[i].removeAttribute("aria-sort");
    th.setAttribute("aria-sort",dir);
    var rows=Array.prototype.slice.call(body.rows),sign=dir==="ascending"?1:-1;
    rows.forEach(function(r,i){r._i=i;});
    rows.sort(function(a,b){var x=key(a,col,type),y=key(b,col,type);return (x<y?-1:x>y?1:a._i-b._i)*sign||a._i-b._i;});
    rows.forEach(function(r){body.appendChild(r);});
  }
  var heads=table.tHead.rows[0].cells;
  for(var i=0;i<heads.length;i++){(function(th){if(!th.hasAttribute("data-sort"))return;th.addEventListener("click",function(){sortBy(th);});})(heads[i]);}
})();
`;

const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("base64");
const CSP = `default-src 'none'; style-src 'sha256-${sha256(STYLE)}'; script-src 'sha256-${sha256(SCRIPT)}'; img-src data:; base-uri 'none'; form-action 'none'`;

interface Column {
  id: string;
  label: string;
  sort?: "num" | "text";
}

const COLUMNS: Column[] = [
  { id: "instance", label: "Instance ID", sort: "text" },
  { id: "name", label: "Name", sort: "text" },
  { id: "status", label: "Status", sort: "text" },
  { id: "reasons", label: "Reasons", sort: "text" },
  { id: "age", label: "Age", sort: "num" },
  { id: "age-created", label: "Since created", sort: "num" },
  { id: "created", label: "Created", sort: "text" },
  { id: "last-update", label: "Last update", sort: "text" },
  { id: "waiting-for", label: "Waiting for" },
  { id: "why", label: "Why" },
];

function chart(summary: StuckSummary): string {
  const width = 480;
  const height = 170;
  const top = 18;
  const plot = 112;
  const buckets = summary.ageBuckets;
  const max = Math.max(1, ...buckets.map((b) => b.count));
  const slot = width / buckets.length;
  const bars = buckets
    .map((b, i) => {
      const h = b.count === 0 ? 0 : Math.max(2, Math.round((b.count / max) * plot));
      const x = Math.round(i * slot + slot * 0.15);
      const w = Math.round(slot * 0.7);
      const y = top + plot - h;
      const cx = Math.round(i * slot + slot / 2);
      return (
        `<g><rect class="bar" data-bucket="${escapeHtml(b.label)}" data-count="${b.count}" x="${x}" y="${y}" width="${w}" height="${h}"><title>${escapeHtml(`${b.label}: ${b.count}`)}</title></rect>` +
        `<text x="${cx}" y="${y - 4}" text-anchor="middle">${b.count}</text>` +
        `<text x="${cx}" y="${top + plot + 16}" text-anchor="middle">${escapeHtml(b.label)}</text></g>`
      );
    })
    .join("");
  return (
    `<svg id="age-chart" role="img" aria-labelledby="age-chart-title" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" xmlns="http://www.w3.org/2000/svg">` +
    `<title id="age-chart-title">Stuck instances by age (time since last update)</title>` +
    `<line x1="0" y1="${top + plot}" x2="${width}" y2="${top + plot}" stroke="#d1d9e0"/>${bars}</svg>`
  );
}

function countsTable(id: string, attribute: string, entries: Array<[string, number, string?]>): string {
  const rows = entries
    .map(
      ([label, count, help]) =>
        `<tr><th scope="row"${help ? ` title="${escapeHtml(help)}"` : ""}>${escapeHtml(label)}</th><td data-${attribute}="${escapeHtml(label)}">${count}</td></tr>`,
    )
    .join("");
  return `<table class="counts" id="${id}">${rows}</table>`;
}

function settingsLine(summary: StuckSummary): string {
  const s = summary.settings;
  const parts = Object.entries(s.thresholdsMs).map(([status, ms]) => `${status} ${humanAge(ms)}`);
  parts.push(`event wait ${humanAge(s.eventWaitThresholdMs)}`, `timer overdue after ${humanAge(s.timerOverdueMs)}`);
  if (s.retentionMs) {
    parts.push(
      `retention ${Object.entries(s.retentionMs)
        .map(([status, ms]) => `${status} ${humanAge(ms ?? 0)}`)
        .join(", ")}`,
    );
  }
  return parts.join(" · ");
}

export class HtmlReportWriter implements ReportWriter {
  readonly format = "html";
  readonly contentType = "text/html; charset=utf-8";
  readonly extension = ".html";
  private rows = 0;

  constructor(private readonly rowLimit = DEFAULT_HTML_ROW_LIMIT) {}

  begin(summary: StuckSummary): string {
    const app = `${summary.app.appId} (namespace ${summary.app.namespace})`;
    const reasons = STUCK_REASONS.map((r): [string, number, string] => [r, summary.byReason[r], REASON_HELP[r]]);
    const statuses = RUNTIME_STATUSES.filter((s) => summary.byStatus[s] !== undefined).map((s): [string, number] => [
      s,
      summary.byStatus[s]!,
    ]);
    const warnings: string[] = [];
    if (!summary.isComplete) warnings.push("The scan stopped early (time budget): this report is partial.");
    if (summary.unreadable > 0)
      warnings.push(`${summary.unreadable} instance(s) could not be read and are not listed.`);
    if (!summary.reminderChecks) warnings.push("Scheduler reminders were not checked (no-reminder needs the etcd).");
    const orphans = orphanRemindersLine(summary);
    if (orphans) warnings.push(orphans);
    const head = COLUMNS.map(
      (c) =>
        `<th id="col-${c.id}" scope="col"${c.sort ? ` data-sort="${c.sort}"` : ""}${c.id === "age" ? ' aria-sort="descending"' : ""}>${c.sort ? `<button type="button">${escapeHtml(c.label)}</button>` : escapeHtml(c.label)}</th>`,
    ).join("");
    return (
      `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">` +
      `<meta http-equiv="Content-Security-Policy" content="${escapeHtml(CSP)}">` +
      `<meta name="viewport" content="width=device-width,initial-scale=1">` +
      `<title>${escapeHtml(`Stuck workflows: ${app}`)}</title><style>${STYLE}</style></head><body>\n` +
      `<h1>Stuck workflows: ${escapeHtml(app)}</h1>` +
      `<p class="meta">Generated ${escapeHtml(summary.generatedAt)} · thresholds: ${escapeHtml(settingsLine(summary))}</p>` +
      warnings.map((w) => `<p class="warn">${escapeHtml(w)}</p>`).join("") +
      `<p class="total" id="total" data-stuck="${summary.stuck}" data-scanned="${summary.scanned}">${summary.stuck} of ${summary.scanned} instance${summary.scanned === 1 ? "" : "s"} look${summary.stuck === 1 ? "s" : ""} stuck</p>` +
      `<div class="overview"><section><h2>By reason</h2>${countsTable("by-reason", "reason", reasons)}</section>` +
      `<section><h2>By status</h2>${countsTable("by-status", "status", statuses)}</section>` +
      `<section><h2>Ages</h2>${chart(summary)}</section></div>\n` +
      `<table id="stuck"><thead><tr>${head}</tr></thead><tbody>\n`
    );
  }

  row(record: StuckRecord): string {
    if (this.rows >= this.rowLimit) {
      this.rows++;
      return "";
    }
    this.rows++;
    const reasons = record.reasons
      .map(
        (r) => `<span class="reason r-${escapeHtml(r)}" title="${escapeHtml(REASON_HELP[r])}">${escapeHtml(r)}</span>`,
      )
      .join(" ");
    const cells = [
      `<td class="id">${escapeHtml(record.instanceID)}</td>`,
      `<td>${escapeHtml(record.name)}</td>`,
      `<td>${escapeHtml(record.runtimeStatus)}</td>`,
      `<td>${reasons}</td>`,
      `<td class="num" data-v="${record.ageMs}">${escapeHtml(record.age)}</td>`,
      `<td class="num" data-v="${record.ageFromCreationMs ?? ""}">${escapeHtml(record.ageFromCreation ?? "")}</td>`,
      `<td class="time">${escapeHtml(record.created ?? "")}</td>`,
      `<td class="time">${escapeHtml(record.lastUpdate ?? "")}</td>`,
      `<td>${record.waitingFor.map(escapeHtml).join("<br>")}</td>`,
      `<td class="why">${escapeHtml(record.summary)}</td>`,
    ];
    return `<tr data-instance="${escapeHtml(record.instanceID)}">${cells.join("")}</tr>\n`;
  }

  end(summary: StuckSummary): string {
    const hidden = Math.max(0, this.rows - this.rowLimit);
    const empty = summary.stuck === 0 ? `<p id="none">No stuck instances.</p>` : "";
    const note =
      hidden > 0
        ? `<p class="warn" id="truncated">${hidden} more stuck instance${hidden === 1 ? " is" : "s are"} not shown here (the ${this.rowLimit} oldest are); the JSON and CSV reports list all of them.</p>`
        : "";
    return `</tbody></table>${empty}${note}\n<script>${SCRIPT}</script></body></html>\n`;
  }
}
