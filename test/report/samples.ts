/** Hand-made stuck records and their summary, for the renderer and browser tests (no store needed). */
import type { StuckReason, StuckRecord, StuckSummary } from "../../shared/jobs/stuck-report/model.ts";
import { humanAge, StuckTally } from "../../shared/jobs/stuck-report/model.ts";
import type { RuntimeStatus } from "../../shared/workflow/runtime-status.ts";

export const SAMPLE_NOW = new Date("2026-06-15T12:00:00Z");
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function record(
  instanceID: string,
  name: string,
  runtimeStatus: RuntimeStatus,
  ageMs: number,
  reasons: StuckReason[],
  extra: Partial<StuckRecord> = {},
): StuckRecord {
  const last = new Date(SAMPLE_NOW.getTime() - ageMs);
  const created = new Date(last.getTime() - HOUR);
  return {
    namespace: "default",
    appID: "shop",
    instanceID,
    name,
    runtimeStatus,
    created: created.toISOString().replace(/\.\d{3}Z$/, "Z"),
    lastUpdate: last.toISOString().replace(/\.\d{3}Z$/, "Z"),
    ageMs,
    age: humanAge(ageMs),
    ageFromCreationMs: ageMs + HOUR,
    ageFromCreation: humanAge(ageMs + HOUR),
    reasons,
    waitingFor: [],
    summary: `${runtimeStatus} for ${humanAge(ageMs)}`,
    details: {},
    ...extra,
  };
}

/** Oldest first, as the job hands them to the writers. */
export const SAMPLE_RECORDS: StuckRecord[] = [
  record("order-0042", "OrderProcessingWorkflow", "COMPLETED", 45 * DAY, ["past-retention"], {
    details: {
      "past-retention": { since: "2026-05-01T12:00:00Z", ageMs: 45 * DAY, retentionMs: 30 * DAY, ageFrom: "completed" },
    },
  }),
  record("order-0007", "PaymentWorkflow", "RUNNING", 9 * DAY, ["idle-too-long", "timer-overdue"], {
    waitingFor: ['timer 2 "retry-delay" due 2026-06-06T13:00:00Z'],
  }),
  record('x"><img src=x onerror=alert(1)>', "<script>alert('name')</script>", "SUSPENDED", 3 * DAY, ["idle-too-long"], {
    waitingFor: ['a resume (suspended: <b>manual</b> & "quoted")'],
    summary: '=HYPERLINK("http://evil"), with, commas\r\nand a new line',
  }),
  record("order-0100", "ApprovalWorkflow", "RUNNING", 30 * HOUR, ["waiting-for-event"], {
    waitingFor: ['event "ManagerApproval" (no timeout)'],
    details: {
      "waiting-for-event": {
        eventName: "ManagerApproval",
        eventNames: ["ManagerApproval"],
        since: "2026-06-14T06:00:00Z",
        waitingMs: 30 * HOUR,
        thresholdMs: DAY,
        timeoutAt: null,
      },
    },
  }),
  record("order-0200", "ShippingWorkflow", "RUNNING", 3 * HOUR, ["no-reminder"], {
    details: {
      "no-reminder": {
        missing: ["run-activity of activity actor order-0200::1::1 (ShipOrder, task 1)"],
        found: [],
      },
    },
  }),
  record("order-0300", "ScheduledReportWorkflow", "PENDING", 20 * 60_000, ["no-reminder"], {
    created: null,
    lastUpdate: null,
    ageFromCreationMs: null,
    ageFromCreation: null,
  }),
];

export function sampleSummary(records: readonly StuckRecord[] = SAMPLE_RECORDS, scanned = 120): StuckSummary {
  const tally = new StuckTally(
    { appId: "shop", namespace: "default" },
    SAMPLE_NOW,
    {
      thresholdsMs: { RUNNING: DAY, PENDING: DAY, SUSPENDED: DAY, STALLED: DAY },
      eventWaitThresholdMs: DAY,
      timerOverdueMs: HOUR,
      reminderGraceMs: 300_000,
      retentionMs: { COMPLETED: 30 * DAY },
    },
    true,
  );
  tally.scanned = scanned;
  tally.read = 40;
  tally.isComplete = true;
  for (const r of records) tally.add(r);
  return tally.summary();
}

/** An RFC 4180 reader: quoted fields with doubled quotes, CRLF (or LF) line ends. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\r" && text[i + 1] === "\n") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
      i++;
    } else field += c;
  }
  if (field !== "" || row.length > 0) rows.push([...row, field]);
  return rows;
}
