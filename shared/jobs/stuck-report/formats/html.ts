/**
 * The HTML report: one self-contained page (no external assets; inline CSS, script and SVG, allowed by a
 * Content-Security-Policy that names their hashes and nothing else) with
 *   - the totals, counts by reason and by status, and a small SVG bar chart of instance ages;
 *   - a table of the stuck instances, oldest first, sortable by clicking a column header (Age sorts by the exact
 *     milliseconds, not the text);
 *   - per reason found, the commands to run next;
 * Every value from the store is HTML-escaped. At most `rowLimit` rows are shown (the oldest); counts and the chart
 * always cover every stuck instance, and the page says at its top how many rows it left out. Counts carry thousands
 * separators. Below 720 px the table turns into one card per instance, so a phone never scrolls the page sideways.
 */

import { createHash } from "node:crypto";
import { RUNTIME_STATUSES } from "../../../workflow/runtime-status.ts";
import type { StuckReason, StuckRecord, StuckSummary } from "../model.ts";
import { humanAge, STUCK_REASONS } from "../model.ts";
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
*,*::before,*::after{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);margin:24px}
h1{font-size:20px;margin:0 0 4px;overflow-wrap:anywhere}h2{font-size:15px;margin:16px 0 6px}h3{font-size:14px;margin:10px 0 2px}
p{margin:4px 0}.meta{color:var(--muted);margin:0 0 12px;overflow-wrap:anywhere}.warn{color:#9a6700;font-weight:600}
.overview{display:flex;flex-wrap:wrap;gap:8px 24px;align-items:flex-start}.overview section{min-width:0;max-width:100%}
.counts{border-collapse:collapse}.counts th{text-align:left;font-weight:normal;padding:2px 12px 2px 0}
.counts td{text-align:right;font-variant-numeric:tabular-nums;padding:2px 0}
.total{font-size:16px;font-weight:600}
#age-chart{display:block;max-width:100%;height:auto}
svg text{font:11px system-ui,sans-serif;fill:var(--fg)}svg .bar{fill:var(--accent)}
#next .cmds{margin:2px 0 6px;padding:6px 8px;background:var(--bg2);border-radius:6px;overflow-x:auto;font-size:12px}
#next .cmd{display:block;padding-left:2em;text-indent:-2em}#next .cmd span{white-space:nowrap}
#next .hint{color:var(--muted);font-size:12px}
code,.cmd{font-family:ui-monospace,SFMono-Regular,Menlo,monospace}
#stuck{border-collapse:collapse;width:100%;margin-top:8px}
#stuck th,#stuck td{border-bottom:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
#stuck thead th{background:var(--bg2);position:sticky;top:0}
#stuck th button{font:inherit;font-weight:600;border:0;background:none;padding:0;cursor:pointer;color:var(--fg)}
#stuck th[aria-sort=ascending] button::after{content:" \\25B2"}#stuck th[aria-sort=descending] button::after{content:" \\25BC"}
#stuck td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
#stuck td.text{overflow-wrap:break-word}#stuck td.details{min-width:16em}
.iid{display:inline-block;max-width:38ch;overflow-x:auto;vertical-align:bottom;white-space:nowrap;user-select:all;background:var(--bg2);border-radius:4px;padding:0 3px}
.reason{display:inline-block;white-space:nowrap;border-radius:10px;padding:0 7px;margin:1px 2px 1px 0;font-size:12px;background:#ddf4ff}
.r-no-reminder,.r-timer-overdue{background:#ffebe9}.r-past-retention{background:#eee}
.why{color:var(--muted);font-size:12px}
@media (max-width:720px){
body{margin:12px}
#stuck,#stuck thead,#stuck tbody,#stuck tr,#stuck td{display:block;width:auto}
#stuck thead tr{display:flex;flex-wrap:wrap;gap:4px 12px;align-items:baseline}
#stuck thead tr::before{content:"Sort by";color:var(--muted);font-size:12px}
#stuck thead th{position:static;border:0;padding:0;background:none}#stuck thead th:not([data-sort]){display:none}
#stuck tbody tr{border:1px solid var(--line);border-radius:6px;margin:8px 0;padding:4px 8px}
#stuck td,#stuck td.num{border:0;padding:1px 0;text-align:left;white-space:normal}
#stuck td::before{content:attr(data-label);display:inline-block;min-width:8.5em;color:var(--muted);font-size:12px}
#stuck td:empty{display:none}
.iid{max-width:100%}
}
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

/** 1234567 → "1,234,567": counts read at a glance (fixed, not the viewer's locale, so every copy reads the same). */
export function thousands(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

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
  { id: "details", label: "Waiting for · why" },
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
        `<g><rect class="bar" data-bucket="${escapeHtml(b.label)}" data-count="${b.count}" x="${x}" y="${y}" width="${w}" height="${h}"><title>${escapeHtml(`${b.label}: ${thousands(b.count)}`)}</title></rect>` +
        `<text x="${cx}" y="${y - 4}" text-anchor="middle">${thousands(b.count)}</text>` +
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

/**
 * What to run next, per reason: commands of this CLI (cli/workflow, cli/scheduler) with the
 * report's app filled in. The connection string is left to -c or HOUSEKEEPER_CONNECTION_STRING: a report never
 * carries credentials.
 */
function nextSteps(summary: StuckSummary): string {
  const app = summary.app.appId;
  const ns = summary.app.namespace === "default" ? "" : ` -n ${shellWord(summary.app.namespace)}`;
  const a = `-a ${shellWord(app)}${ns}`;
  const history = `housekeeper workflow history ${a} <instance-id>`;
  const steps: Record<StuckReason, Array<[string, string]>> = {
    "idle-too-long": [
      ["See the last thing it did:", history],
      [
        "Resume a SUSPENDED one, or end one that should not go on (through the app's sidecar):",
        `housekeeper workflow resume -a ${shellWord(app)} <instance-id>\nhousekeeper workflow terminate -a ${shellWord(app)} <instance-id>`,
      ],
    ],
    "no-reminder": [
      ["See what it waits on (nothing in the Scheduler will wake it):", history],
      [
        "End it; once terminated, re-run it from the beginning or a given event:",
        `housekeeper workflow terminate -a ${shellWord(app)} <instance-id>\nhousekeeper workflow rerun -a ${shellWord(app)} <instance-id> -e <event-id>`,
      ],
    ],
    "timer-overdue": [
      ["See the timer it waits on:", history],
      [
        "Check the Scheduler still holds the app's workflow reminders (and that the app's sidecar runs):",
        `housekeeper scheduler list --filter workflow${ns} -o wide`,
      ],
    ],
    "waiting-for-event": [
      ["See which event it waits for:", history],
      [
        "Raise the event, if it is due:",
        `housekeeper workflow raise-event -a ${shellWord(app)} <instance-id>/<event-name> -x '<json>'`,
      ],
    ],
    "past-retention": [
      [
        "See what Dapr's retention would have removed (dry run), then purge:",
        `housekeeper workflow purge ${a} -c <connection-string> --all-older-than 720h --dry-run\nhousekeeper workflow purge ${a} -c <connection-string> <instance-id>`,
      ],
    ],
  };
  const reasons = STUCK_REASONS.filter((r) => summary.byReason[r] > 0);
  if (reasons.length === 0) return "";
  const blocks = reasons
    .map((r) => {
      const body = steps[r]
        .map(
          ([hint, cmds]) =>
            `<p class="hint">${escapeHtml(hint)}</p><div class="cmds">${cmds.split("\n").map(commandHtml).join("")}</div>`,
        )
        .join("");
      return `<div class="step" data-reason="${r}"><h3>${escapeHtml(r)} (${thousands(summary.byReason[r])})</h3>${body}</div>`;
    })
    .join("");
  return (
    `<section id="next"><h2>What to run next</h2>` +
    `<p class="hint">Store-reading commands take the state store with -c or HOUSEKEEPER_CONNECTION_STRING; sidecar commands reach the app's sidecar with --sidecar-url (default http://127.0.0.1:3500).</p>` +
    `${blocks}</section>\n`
  );
}

/** One command, wrapping only between its words (never inside a flag or an ID), continuation lines indented. */
function commandHtml(command: string): string {
  return `<code class="cmd">${command
    .split(" ")
    .map((word) => `<span>${escapeHtml(word)}</span>`)
    .join(" ")}</code>`;
}

/** Quotes a value for a POSIX shell when it needs it (an app ID is usually a plain word). */
function shellWord(value: string): string {
  return /^[A-Za-z0-9._:/@%+=-]+$/.test(value) ? value : `'${value.replace(/'/g, "'\\''")}'`;
}

/**
 * Escaped text with line-break chances at word joints (before a capital in CamelCase, after | / ::), so a long
 * workflow or activity name wraps between its words instead of letter by letter; the text itself is unchanged.
 */
function softBreaks(text: string): string {
  return escapeHtml(text)
    .replace(/([a-z])(?=[A-Z])/g, "$1<wbr>")
    .replace(/(\||\/|::)(?=\S)/g, "$1<wbr>");
}

/** An RFC 3339 time that may wrap between its date and its time of day, and nowhere else (its text is unchanged). */
function timeHtml(time: string | null): string {
  return escapeHtml(time ?? "").replace(/^(\d{4}-\d{2}-\d{2})T/, "$1<wbr>T");
}

function countsTable(id: string, attribute: string, entries: Array<[string, number, string?]>): string {
  const rows = entries
    .map(
      ([label, count, help]) =>
        `<tr><th scope="row"${help ? ` title="${escapeHtml(help)}"` : ""}>${escapeHtml(label)}</th><td data-${attribute}="${escapeHtml(label)}">${thousands(count)}</td></tr>`,
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
      warnings.push(`${thousands(summary.unreadable)} instance(s) could not be read and are not listed.`);
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
      `<p class="total" id="total" data-stuck="${summary.stuck}" data-scanned="${summary.scanned}">${thousands(summary.stuck)} of ${thousands(summary.scanned)} instance${summary.scanned === 1 ? "" : "s"} look${summary.stuck === 1 ? "s" : ""} stuck</p>` +
      this.truncationNote(summary.stuck) +
      `<div class="overview"><section><h2>By reason</h2>${countsTable("by-reason", "reason", reasons)}</section>` +
      `<section><h2>By status</h2>${countsTable("by-status", "status", statuses)}</section>` +
      `<section><h2>Ages</h2>${chart(summary)}</section></div>\n` +
      nextSteps(summary) +
      `<table id="stuck"><thead><tr>${head}</tr></thead><tbody>\n`
    );
  }

  /** Said at the top, where a reader sees it before scrolling through thousands of rows. */
  private truncationNote(stuck: number): string {
    const hidden = Math.max(0, stuck - this.rowLimit);
    if (hidden === 0) return "";
    return `<p class="warn" id="truncated">${thousands(hidden)} more stuck instance${hidden === 1 ? " is" : "s are"} not shown here (the ${thousands(this.rowLimit)} oldest are); the JSON and CSV reports list all of them.</p>`;
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
    // data-label names the column when a narrow screen shows each row as a card. The ID is one unbreakable element
    // (selected whole on a tap, scrolled inside its own box when longer than the screen), never split for wrapping.
    const cells = [
      `<td class="id" data-label="Instance ID"><code class="iid">${escapeHtml(record.instanceID)}</code></td>`,
      `<td class="text" data-label="Name">${softBreaks(record.name)}</td>`,
      `<td data-label="Status">${escapeHtml(record.runtimeStatus)}</td>`,
      `<td data-label="Reasons">${reasons}</td>`,
      `<td class="num" data-label="Age" data-v="${record.ageMs}">${escapeHtml(record.age)}</td>`,
      `<td class="num" data-label="Since created" data-v="${record.ageFromCreationMs ?? ""}">${escapeHtml(record.ageFromCreation ?? "")}</td>`,
      `<td class="time" data-label="Created">${timeHtml(record.created)}</td>`,
      `<td class="time" data-label="Last update">${timeHtml(record.lastUpdate)}</td>`,
      `<td class="text details" data-label="Waiting for · why">${record.waitingFor.map((w) => `<div>${softBreaks(w)}</div>`).join("")}<div class="why">${softBreaks(record.summary)}</div></td>`,
    ];
    return `<tr data-instance="${escapeHtml(record.instanceID)}">${cells.join("")}</tr>\n`;
  }

  end(summary: StuckSummary): string {
    const empty = summary.stuck === 0 ? `<p id="none">No stuck instances.</p>` : "";
    return `</tbody></table>${empty}\n<script>${SCRIPT}</script></body></html>\n`;
  }
}
