/**
 * The HTML stuck report at phone and desktop widths, in a real headless browser (Debian's chromium through
 * playwright-core): a realistic report (6,200 stuck of 48,213 scanned, 5,000 rows shown, long instance IDs) must not
 * scroll the page sideways at 390 px nor at 1280 px, keep the age chart inside the screen, say what it left out
 * above the table, never split an instance ID across lines, and print counts with thousands separators.
 * Screenshots go to test/output/ (or $HOUSEKEEPER_SCREENSHOT_DIR) for people to look at.
 */
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Browser } from "playwright-core";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HtmlReportWriter } from "../../shared/jobs/stuck-report/formats/html.ts";
import type { StuckReason, StuckRecord } from "../../shared/jobs/stuck-report/model.ts";
import { humanAge } from "../../shared/jobs/stuck-report/model.ts";
import type { RuntimeStatus } from "../../shared/workflow/runtime-status.ts";
import { SAMPLE_NOW, sampleSummary } from "./samples.ts";

const CHROMIUM = "/usr/bin/chromium";
const SHOTS = process.env.HOUSEKEEPER_SCREENSHOT_DIR ?? resolve(import.meta.dirname, "../output");
const STUCK = 6_200;
const SCANNED = 48_213;
const MINUTE = 60_000;

/** Instance IDs as apps make them: UUIDs, business keys, and a few very long composite keys. */
function instanceId(i: number): string {
  const hex = (n: number, width: number) => (n >>> 0).toString(16).padStart(width, "0").slice(-width);
  switch (i % 4) {
    case 0:
      return `${hex(i * 2654435761, 8)}-${hex(i, 4)}-4${hex(i * 7, 3)}-a${hex(i * 13, 3)}-${hex(i * 40503, 12)}`;
    case 1:
      return `refund-approval-${2000 + i}`;
    case 2:
      return `tenant-eu-west-1|customer-${String(i).padStart(9, "0")}|order-2026-06-14T10:22:33Z-refund-approval-${i}`;
    default:
      return `order-${i}`;
  }
}

const REASONS: StuckReason[][] = [
  ["idle-too-long"],
  ["no-reminder"],
  ["idle-too-long", "timer-overdue"],
  ["waiting-for-event"],
  ["past-retention"],
];

function records(): StuckRecord[] {
  const out: StuckRecord[] = [];
  for (let i = 0; i < STUCK; i++) {
    // Oldest first, as the job hands them over: ages from ~120 days down to minutes.
    const ageMs = Math.round(((STUCK - i) / STUCK) * 120 * 24 * 60 * MINUTE) + 20 * MINUTE;
    const reasons = REASONS[i % REASONS.length]!;
    const status: RuntimeStatus = reasons[0] === "past-retention" ? "COMPLETED" : i % 7 === 0 ? "SUSPENDED" : "RUNNING";
    const last = new Date(SAMPLE_NOW.getTime() - ageMs).toISOString().replace(/\.\d{3}Z$/, "Z");
    out.push({
      namespace: "production",
      appID: "refund-service",
      instanceID: instanceId(i),
      name: i % 3 === 0 ? "RefundApprovalWithManagerEscalationWorkflow" : "RefundWorkflow",
      runtimeStatus: status,
      created: last,
      lastUpdate: last,
      ageMs,
      age: humanAge(ageMs),
      ageFromCreationMs: ageMs,
      ageFromCreation: humanAge(ageMs),
      reasons,
      waitingFor: reasons.includes("waiting-for-event")
        ? ['event "ManagerApproval" (no timeout)']
        : [`activity ChargeCardAndNotifyCustomerActivity (task ${i % 9})`],
      summary: `${status} for ${humanAge(ageMs)}; waits on a reminder of activity actor ${instanceId(i)}::0::1`,
      details: {},
    });
  }
  return out;
}

/** Runs in the page (a string: this project's TypeScript has no DOM types). */
const MEASURE = `(() => {
  const rect = (selector) => document.querySelector(selector).getBoundingClientRect();
  const all = (selector) => [...document.querySelectorAll(selector)];
  const ids = all("#stuck .iid");
  const right = (e) => e.getBoundingClientRect().right > window.innerWidth + 0.5;
  return {
    viewport: window.innerWidth,
    scrollWidth: document.documentElement.scrollWidth,
    bodyScrollWidth: document.body.scrollWidth,
    chartRight: rect("#age-chart").right,
    chartLeft: rect("#age-chart").left,
    noteTop: rect("#truncated").top,
    tableTop: rect("#stuck").top,
    ids: ids.length,
    splitIds: ids.filter((e) => e.getClientRects().length !== 1).map((e) => e.textContent),
    idsWiderThanScreen: ids.filter(right).length,
    total: document.getElementById("total").textContent,
    note: document.getElementById("truncated").textContent,
    reasonCounts: all("#by-reason td").map((td) => td.textContent),
    next: all("#next .step").map((s) => s.getAttribute("data-reason")),
    commands: all("#next .cmd").map((c) => c.textContent),
    cmdOverflow: all("#next .cmd").filter(right).length,
    breakAll: all("*").some((e) => getComputedStyle(e).wordBreak === "break-all"),
  };
})()`;

interface Layout {
  viewport: number;
  scrollWidth: number;
  bodyScrollWidth: number;
  chartRight: number;
  chartLeft: number;
  noteTop: number;
  tableTop: number;
  ids: number;
  splitIds: string[];
  idsWiderThanScreen: number;
  total: string;
  note: string;
  reasonCounts: string[];
  next: string[];
  commands: string[];
  cmdOverflow: number;
  breakAll: boolean;
}

let dir: string;
let browser: Browser;
let url: string;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)`);
  }
  dir = await mkdtemp(join(tmpdir(), "housekeeper-html-phone-"));
  const all = records();
  const summary = { ...sampleSummary(all, SCANNED), app: { appId: "refund-service", namespace: "production" } };
  const writer = new HtmlReportWriter();
  const html = writer.begin(summary) + all.map((r) => writer.row(r)).join("") + writer.end(summary);
  const file = join(dir, "stuck-report.html");
  await writeFile(file, html);
  url = pathToFileURL(file).href;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.each([
  ["phone", 390, 844],
  ["desktop", 1280, 900],
])("HTML stuck report at %s width (%i px)", (label, width, height) => {
  it("fits the screen, leads with the truncation note, keeps IDs whole, separates thousands", async () => {
    const page = await browser.newPage({ viewport: { width, height } });
    const problems: string[] = [];
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    page.on("console", (m) => {
      if (m.type() === "error" || m.type() === "warning") problems.push(`console: ${m.text()}`);
    });
    try {
      await page.goto(url, { waitUntil: "load" });
      const layout = (await page.evaluate(MEASURE)) as Layout;
      expect(layout.viewport).toBe(width);
      expect(layout.scrollWidth).toBeLessThanOrEqual(width);
      expect(layout.bodyScrollWidth).toBeLessThanOrEqual(width);
      expect(layout.chartLeft).toBeGreaterThanOrEqual(0);
      expect(layout.chartRight).toBeLessThanOrEqual(width);
      expect(layout.noteTop).toBeLessThan(layout.tableTop);
      expect(layout.ids).toBe(5_000);
      expect(layout.splitIds).toEqual([]);
      expect(layout.idsWiderThanScreen).toBe(0);
      expect(layout.breakAll).toBe(false);
      expect(layout.cmdOverflow).toBe(0);
      expect(layout.total).toBe("6,200 of 48,213 instances look stuck");
      expect(layout.note).toContain("1,200 more stuck instances are not shown here (the 5,000 oldest are)");
      expect(layout.reasonCounts).toEqual(["2,480", "1,240", "1,240", "1,240", "1,240"]);
      expect(layout.next).toEqual([
        "idle-too-long",
        "no-reminder",
        "timer-overdue",
        "waiting-for-event",
        "past-retention",
      ]);
      expect(layout.commands.join("\n")).toContain(
        "housekeeper workflow history -a refund-service -n production <instance-id>",
      );
      // A long ID stays one line: copyable whole (a tap selects all of it).
      const longId = instanceId(2);
      const copied = await page.evaluate(
        `(() => { const el = [...document.querySelectorAll("#stuck .iid")].find((e) => e.textContent === ${JSON.stringify(longId)});
          return { rects: el.getClientRects().length, userSelect: getComputedStyle(el).userSelect }; })()`,
      );
      expect(copied).toEqual({ rects: 1, userSelect: "all" });
      expect(problems).toEqual([]);

      await mkdir(SHOTS, { recursive: true });
      await page.screenshot({ path: join(SHOTS, `stuck-report-${label}-top.png`) });
      await page.locator("#stuck tbody tr").first().scrollIntoViewIfNeeded();
      await page.screenshot({ path: join(SHOTS, `stuck-report-${label}-table.png`) });
    } finally {
      await page.close();
    }
  }, 60_000);
});
