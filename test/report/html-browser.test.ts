/**
 * The HTML report in a real headless browser (Debian's chromium, driven by playwright-core): it renders under its own
 * Content-Security-Policy without errors or network requests, sorts by age when the Age header is clicked, shows the
 * counts and the chart, and does not run what a workflow name smuggles in. Writes a screenshot to
 * test/output/stuck-report.png for people to look at.
 */
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Browser, Page } from "playwright-core";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HtmlReportWriter } from "../../shared/jobs/stuck-report/formats/html.ts";
import { SAMPLE_RECORDS, sampleSummary } from "./samples.ts";

const CHROMIUM = "/usr/bin/chromium";
const SCREENSHOT = resolve(import.meta.dirname, "../output/stuck-report.png");

let dir: string;
let browser: Browser;
let page: Page;
let url: string;
const problems: string[] = [];
const requests: string[] = [];
const dialogs: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)`);
  }
  dir = await mkdtemp(join(tmpdir(), "housekeeper-html-"));
  const writer = new HtmlReportWriter();
  const summary = sampleSummary();
  const html = writer.begin(summary) + SAMPLE_RECORDS.map((r) => writer.row(r)).join("") + writer.end(summary);
  const file = join(dir, "stuck-report.html");
  await writeFile(file, html);
  url = pathToFileURL(file).href;

  // launch() gives every browser a fresh, throwaway user-data dir.
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  page = await browser.newPage({ viewport: { width: 1500, height: 900 } });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error" || message.type() === "warning") problems.push(`console: ${message.text()}`);
  });
  page.on("request", (request) => requests.push(request.url()));
  page.on("dialog", (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  await page.goto(url, { waitUntil: "load" });
});

afterAll(async () => {
  await browser?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const rowIds = () =>
  page.$$eval("#stuck tbody tr", (rows) => rows.map((row) => row.getAttribute("data-instance") ?? ""));

describe("HTML stuck report in headless chromium", () => {
  it("renders under its CSP with no errors and loads nothing but itself", async () => {
    expect(await page.title()).toBe("Stuck workflows: shop (namespace default)");
    expect(await page.locator("#stuck tbody tr").count()).toBe(SAMPLE_RECORDS.length);
    expect(problems).toEqual([]);
    expect(requests).toEqual([url]);
  });

  it("shows the totals, the counts by reason and by status, and the age chart", async () => {
    expect((await page.textContent("#total"))?.trim()).toBe("6 of 120 instances look stuck");
    const counts = async (table: string, attribute: string) =>
      page.$$eval(
        `#${table} td`,
        (cells, a) => Object.fromEntries(cells.map((c) => [c.getAttribute(a), c.textContent])),
        `data-${attribute}`,
      );
    expect(await counts("by-reason", "reason")).toEqual({
      "idle-too-long": "2",
      "no-reminder": "2",
      "timer-overdue": "1",
      "waiting-for-event": "1",
      "past-retention": "1",
    });
    expect(await counts("by-status", "status")).toEqual({ RUNNING: "3", COMPLETED: "1", PENDING: "1", SUSPENDED: "1" });
    const bars = await page.$$eval("#age-chart rect.bar", (rects) =>
      rects.map((r) => ({
        bucket: r.getAttribute("data-bucket"),
        count: Number(r.getAttribute("data-count")),
        h: Number(r.getAttribute("height")),
      })),
    );
    expect(bars.map((b) => b.count)).toEqual([1, 1, 0, 1, 1, 1, 1, 0]);
    expect(bars.reduce((n, b) => n + b.count, 0)).toBe(SAMPLE_RECORDS.length);
    expect(bars.filter((b) => b.count > 0).every((b) => b.h > 0)).toBe(true);
    expect(await page.locator("#age-chart").isVisible()).toBe(true);
  });

  it("lists the oldest first and sorts by age when the Age header is clicked", async () => {
    const oldestFirst = SAMPLE_RECORDS.map((r) => r.instanceID);
    expect(await rowIds()).toEqual(oldestFirst);
    expect(await page.getAttribute("#col-age", "aria-sort")).toBe("descending");

    await page.click("#col-age button");
    expect(await page.getAttribute("#col-age", "aria-sort")).toBe("ascending");
    expect(await rowIds()).toEqual([...oldestFirst].reverse());
    const shown = await page.$$eval("#stuck tbody tr td:nth-child(5)", (cells) => cells.map((c) => c.textContent));
    expect(shown).toEqual([...SAMPLE_RECORDS].reverse().map((r) => r.age));

    await page.click("#col-age button");
    expect(await page.getAttribute("#col-age", "aria-sort")).toBe("descending");
    expect(await rowIds()).toEqual(oldestFirst);
  });

  it("sorts other columns too (text, case-insensitive; a missing created time sorts first)", async () => {
    await page.click("#col-name button");
    const names = await page.$$eval("#stuck tbody tr td:nth-child(2)", (cells) =>
      cells.map((c) => c.textContent ?? ""),
    );
    expect(names).toEqual([...names].sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase())));
    expect(await page.getAttribute("#col-age", "aria-sort")).toBeNull();

    await page.click("#col-age-created button");
    const ids = await rowIds();
    expect(ids[0]).toBe("order-0300"); // PENDING: no created time
    await page.click("#col-age button"); // back to oldest first for the screenshot
    await page.click("#col-age button");
  });

  it("shows smuggled markup as text and runs none of it", async () => {
    const evil = SAMPLE_RECORDS[2]!;
    const row = page.locator("#stuck tbody tr").nth(2);
    expect(await row.locator("td").nth(0).textContent()).toBe(evil.instanceID);
    expect(await row.locator("td").nth(1).textContent()).toBe(evil.name);
    expect(await page.locator("#stuck img, #stuck b").count()).toBe(0);
    expect(dialogs).toEqual([]);
    expect(problems).toEqual([]);
  });

  it("writes a screenshot for people to look at", async () => {
    await mkdir(resolve(SCREENSHOT, ".."), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(existsSync(SCREENSHOT)).toBe(true);
  });
});
