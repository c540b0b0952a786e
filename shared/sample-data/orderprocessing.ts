/**
 * The sample data set the embedded store is seeded with: one app's workflow instances as a busy order-processing
 * service would leave them behind — every runtime status, young and very old instances (retention and stuck reports
 * have something to find), custom status, sub-orchestrations, and a few instances in Dapr 1.10–1.14's legacy JSON
 * encoding. Fully deterministic (derived from indexes, no randomness): only the ages move with `now`.
 */
import type { AppRef } from "../state-store/keys.ts";
import type { InstanceSpec, Scenario } from "./instance-builder.ts";

export const SAMPLE_APP: AppRef = { appId: "orderprocessing", namespace: "default" };

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

interface Group {
  scenario: Scenario;
  /** The instance ID of the n-th instance of this group. */
  id: (n: number) => string;
  name: string;
  /** How long ago each instance started; one instance per entry. */
  ages: number[];
  /** Custom status of the n-th instance, if any. */
  customStatus?: (n: number) => string | undefined;
  /** Instances older than this were written by Dapr ≤ 1.14 (legacy JSON metadata and custom status). */
  legacyAfter?: number;
  eventName?: string;
}

const CARRIERS = ["DHL", "UPS", "FedEx", "PostNL"];
const SKUS = ["SKU-1001", "SKU-2040", "SKU-3318", "SKU-4127", "SKU-5590", "SKU-6002"];

const GROUPS: Group[] = [
  {
    scenario: "completed",
    id: (n) => `order-${1000 + n * 7}`,
    name: "OrderProcessingWorkflow",
    ages: [
      4 * MINUTE,
      11 * MINUTE,
      26 * MINUTE,
      48 * MINUTE,
      2 * HOUR,
      3.5 * HOUR,
      7 * HOUR,
      13 * HOUR,
      22 * HOUR,
      1.5 * DAY,
      2 * DAY,
      3 * DAY,
      5 * DAY,
      8 * DAY,
      10.5 * DAY,
      12 * DAY,
      15 * DAY,
      19 * DAY,
      24 * DAY,
      31 * DAY,
      38 * DAY,
      45 * DAY,
      45.2 * DAY,
      52 * DAY,
      67 * DAY,
      80 * DAY,
      100 * DAY,
      101 * DAY,
      115 * DAY,
      130 * DAY,
    ],
    customStatus: (n) => (n % 4 === 0 ? JSON.stringify({ step: "done", shippedBy: CARRIERS[n % 4] }) : undefined),
    legacyAfter: 110 * DAY,
  },
  {
    scenario: "completed",
    id: (n) => `payment-${hex(`payment-ok-${n}`, 12)}`,
    name: "PaymentWorkflow",
    ages: [7 * MINUTE, 3 * HOUR, 1 * DAY, 6 * DAY, 13 * DAY, 45 * DAY, 100 * DAY],
  },
  {
    scenario: "failed",
    id: (n) => `payment-${hex(`payment-failed-${n}`, 12)}`,
    name: "PaymentWorkflow",
    ages: [19 * MINUTE, 5 * HOUR, 2.5 * DAY, 11 * DAY, 14 * DAY, 45 * DAY, 75 * DAY, 100 * DAY],
    customStatus: (n) => (n % 2 === 0 ? JSON.stringify({ step: "charging", attempt: 3 }) : undefined),
  },
  {
    scenario: "terminated",
    id: (n) => `order-${1004 + n * 14}`,
    name: "OrderProcessingWorkflow",
    ages: [35 * MINUTE, 4 * DAY, 16 * DAY, 46 * DAY, 104 * DAY],
    customStatus: (n) => (n === 0 ? JSON.stringify({ step: "cancelled-by-customer" }) : undefined),
    legacyAfter: 102 * DAY,
  },
  {
    scenario: "canceled",
    id: (n) => `inventory-sync-${hex(`inventory-${n}`, 8)}`,
    name: "InventoryWorkflow",
    ages: [9 * HOUR, 12 * DAY, 47 * DAY, 103 * DAY],
  },
  {
    scenario: "continued-as-new",
    id: (n) => `stock-monitor-${["eu-west", "us-east", "ap-south"][n]}`,
    name: "MonitorWorkflow",
    ages: [6 * MINUTE, 2 * HOUR, 1 * DAY],
    customStatus: (n) => JSON.stringify({ step: "polling", cycle: 40 + n * 17 }),
  },
  {
    scenario: "suspended",
    id: (n) => `refund-approval-${2200 + n * 13}`,
    name: "ApprovalWorkflow",
    ages: [50 * MINUTE, 2 * DAY, 13 * DAY, 46 * DAY],
    customStatus: () => JSON.stringify({ step: "awaiting-approval", approver: "finance-ops" }),
  },
  {
    scenario: "running-timer",
    id: (n) => `reminder-${hex(`reminder-${n}`, 10)}`,
    name: "ReminderWorkflow",
    ages: [2 * MINUTE, 15 * MINUTE, 1 * HOUR, 6 * HOUR, 3 * DAY, 45 * DAY],
    customStatus: (n) => (n % 2 === 0 ? JSON.stringify({ step: "waiting-to-retry", retry: n + 1 }) : undefined),
  },
  {
    scenario: "running-activity",
    id: (n) => `shipment-${5000 + n * 29}`,
    name: "ShippingWorkflow",
    ages: [1 * MINUTE, 3 * MINUTE, 9 * MINUTE, 40 * MINUTE, 4 * HOUR, 11 * DAY, 45 * DAY],
    customStatus: (n) => JSON.stringify({ step: "shipping", carrier: CARRIERS[n % CARRIERS.length] }),
  },
  {
    scenario: "waiting-event",
    id: (n) => `order-${1500 + n * 9}`,
    name: "OrderProcessingWorkflow",
    ages: [5 * MINUTE, 20 * MINUTE, 2 * HOUR, 18 * HOUR, 4 * DAY, 12 * DAY, 45 * DAY, 100 * DAY],
    customStatus: () => JSON.stringify({ step: "awaiting-payment" }),
    eventName: "PaymentReceived",
  },
  {
    scenario: "terminate-requested",
    id: (n) => `order-${1900 + n * 5}`,
    name: "OrderProcessingWorkflow",
    ages: [30 * MINUTE, 12 * DAY],
    customStatus: () => JSON.stringify({ step: "charging" }),
  },
  {
    scenario: "pending",
    id: (n) => `nightly-report-${["2024-06-01", "2024-06-02", "2024-06-03", "2024-06-04"][n]}`,
    name: "ScheduledReportWorkflow",
    ages: [30 * 1000, 8 * MINUTE, 3 * HOUR, 10.5 * DAY],
  },
  {
    scenario: "stalled",
    id: (n) => `order-${1700 + n * 3}`,
    name: "OrderProcessingWorkflow",
    ages: [6 * HOUR, 3 * DAY, 45 * DAY],
    customStatus: () => JSON.stringify({ step: "reserving-inventory" }),
  },
  {
    scenario: "completed-with-children",
    id: (n) => `batch-import-${hex(`batch-${n}`, 6)}`,
    name: "FanOutWorkflow",
    ages: [25 * MINUTE, 1 * DAY, 11 * DAY, 45 * DAY, 100 * DAY],
    customStatus: (n) => (n === 0 ? JSON.stringify({ step: "done", children: 2 }) : undefined),
  },
];

/** The sample instances, ages measured back from `now` (children of fan-out parents are added by the builder). */
export function sampleInstanceSpecs(now: Date): InstanceSpec[] {
  const specs: InstanceSpec[] = [];
  let index = 0;
  for (const group of GROUPS) {
    group.ages.forEach((age, n) => {
      const i = index++;
      const instanceId = group.id(n);
      const durationMs = durationFor(group.scenario, i, age);
      const customStatus = group.customStatus?.(n);
      const spec: InstanceSpec = {
        instanceId,
        scenario: group.scenario,
        name: group.name,
        createdAt: new Date(now.getTime() - age),
        durationMs,
        activities: 1 + (i % 4),
        input: inputFor(group.name, instanceId, i),
      };
      if (customStatus !== undefined) spec.customStatus = customStatus;
      if (group.scenario === "completed" || group.scenario === "completed-with-children") {
        spec.output = outputFor(group.name, i);
      }
      if (group.eventName !== undefined) spec.eventName = group.eventName;
      if (group.legacyAfter !== undefined && age > group.legacyAfter) spec.legacyJson = true;
      specs.push(spec);
    });
  }
  return specs;
}

/** Terminal runs take seconds; running ones have been busy for a while (never past `now`). */
function durationFor(scenario: Scenario, i: number, age: number): number {
  const base = 800 + ((i * 7919) % 38_000);
  switch (scenario) {
    case "running-timer":
    case "running-activity":
    case "waiting-event":
    case "stalled":
    case "suspended":
    case "terminate-requested":
      return Math.min(age / 2, base + ((i * 104_729) % (20 * MINUTE)));
    default:
      return Math.min(age / 2, base);
  }
}

function inputFor(name: string, instanceId: string, i: number): unknown {
  switch (name) {
    case "PaymentWorkflow":
      return { paymentId: instanceId, amount: 10 + ((i * 37) % 490) + 0.99, currency: i % 3 === 0 ? "USD" : "EUR" };
    case "ShippingWorkflow":
      return { shipmentId: instanceId, orderId: `order-${1000 + i * 3}`, carrier: CARRIERS[i % CARRIERS.length] };
    case "ScheduledReportWorkflow":
      return { report: "daily-sales", date: instanceId.slice("nightly-report-".length) };
    case "MonitorWorkflow":
      return { region: instanceId.slice("stock-monitor-".length), intervalSeconds: 300 };
    case "FanOutWorkflow":
      return { batchId: instanceId, files: 2 };
    default:
      return {
        orderId: instanceId,
        customerId: `cust-${100 + ((i * 53) % 900)}`,
        items: [{ sku: SKUS[i % SKUS.length], quantity: 1 + (i % 3) }],
        total: 5 + ((i * 61) % 995) + 0.5,
      };
  }
}

function outputFor(name: string, i: number): unknown {
  if (name === "PaymentWorkflow") return { status: "captured", transactionId: `txn_${hex(`txn-${i}`, 16)}` };
  if (name === "FanOutWorkflow") return { imported: 2, failed: 0 };
  return { status: "shipped", trackingNumber: `1Z${hex(`track-${i}`, 12).toUpperCase()}` };
}

/** A stable pseudo-random hex string (FNV-1a, stretched), so IDs look like real generated IDs yet never change. */
function hex(seed: string, length: number): string {
  let out = "";
  let h = 0x811c9dc5;
  for (let round = 0; out.length < length; round++) {
    for (const c of `${seed}#${round}`) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
    out += h.toString(16).padStart(8, "0");
  }
  return out.slice(0, length);
}
