/**
 * Webhook throughput and latency: N signed start requests (Standard Webhooks style, each a new instance) through
 * `webhook serve` (in-process: Node HTTP server → job: size check, route, HMAC over the raw body, JSON + payload
 * shape, instance-ID template, idempotency claim/record → sidecar client) into the sidecar stand-in, against the raw
 * limit measured in the same run: a bare undici forward of the same requests straight to the stand-in's start route.
 * The stand-in has a fixed latency and writes Dapr's layout into a real PostgreSQL, so both paths do the same work
 * downstream. Bounded concurrency on both sides; requests are signed before the clock starts.
 *
 * The two sides alternate in rounds (bare, webhook, bare, webhook, …) so that drift of the store (table growth,
 * checkpoints) falls on both alike; the figures pool every round.
 *
 *   node --import tsx bench/webhook-throughput.ts [--requests 4000] [--concurrency 32] [--latency-ms 5]
 *        [--rounds 4] [--warmup 300] [--postgres-url postgres://…]
 */
import { createHmac, randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import pg from "pg";
import { Pool } from "undici";
import { startWebhookServer } from "../cli/webhook/server.ts";
import { createPostgresDaprTable, openPostgresBackend } from "../shared/state-store/postgresql.ts";
import { createSecretResolver } from "../shared/util/secrets.ts";
import { compileWebhookConfig } from "../shared/webhook/routes.ts";
import { startPostgres } from "../test/support/servers.ts";
import { startSidecarStandin } from "../test/support/sidecar-standin.ts";

const { values: args } = parseArgs({
  options: {
    requests: { type: "string", default: "4000" },
    concurrency: { type: "string", default: "32" },
    "latency-ms": { type: "string", default: "5" },
    warmup: { type: "string", default: "300" },
    rounds: { type: "string", default: "4" },
    "postgres-url": { type: "string" },
  },
});
const REQUESTS = Number(args.requests);
const CONCURRENCY = Number(args.concurrency);
const LATENCY_MS = Number(args["latency-ms"]);
const WARMUP = Number(args.warmup);
const ROUNDS = Math.max(1, Number(args.rounds));

const SECRET = `whsec_${Buffer.from("bench secret for standard webhooks, 32b").toString("base64")}`;
const KEY = Buffer.from(SECRET.slice("whsec_".length), "base64");

interface Prepared {
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** One Standard Webhooks delivery that starts `order-<id>`, signed as a sender would. */
function signed(orderId: string): Prepared {
  const body = JSON.stringify({
    type: "order.created",
    timestamp: new Date().toISOString(),
    data: {
      orderId,
      customer: "c-1",
      items: [
        { sku: "A-1", qty: 2 },
        { sku: "B-7", qty: 1 },
      ],
      total: 59.9,
    },
  });
  const id = `msg_${randomUUID()}`;
  const t = Math.floor(Date.now() / 1000);
  const signature = createHmac("sha256", KEY).update(`${id}.${t}.${body}`).digest("base64");
  return {
    path: "/hooks/orders",
    headers: {
      "content-type": "application/json",
      "webhook-id": id,
      "webhook-timestamp": String(t),
      "webhook-signature": `v1,${signature}`,
    },
    body,
  };
}

/** The same request as the webhook would forward it: the sidecar's start route, the body as the input. */
function bare(orderId: string): Prepared {
  const delivery = signed(orderId);
  return {
    path: `/v1.0/workflows/dapr/Order/start?instanceID=order-${orderId}`,
    headers: { "content-type": "application/json" },
    body: delivery.body,
  };
}

interface RunResult {
  seconds: number;
  latencies: number[];
  statuses: Map<number, number>;
}

async function run(origin: string, requests: Prepared[]): Promise<RunResult> {
  const pool = new Pool(origin, { connections: CONCURRENCY, pipelining: 1 });
  const latencies: number[] = [];
  const statuses = new Map<number, number>();
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= requests.length) return;
      const request = requests[i]!;
      const started = performance.now();
      const response = await pool.request({
        method: "POST",
        path: request.path,
        headers: request.headers,
        body: request.body,
      });
      await response.body.text();
      latencies.push(performance.now() - started);
      statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = (performance.now() - t0) / 1000;
  await pool.close();
  return { seconds, latencies, statuses };
}

function merge(into: RunResult, from: RunResult): void {
  into.seconds += from.seconds;
  into.latencies.push(...from.latencies);
  for (const [status, n] of from.statuses) into.statuses.set(status, (into.statuses.get(status) ?? 0) + n);
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

function describe(name: string, result: RunResult): { rps: number; p50: number; p99: number } {
  const rps = result.latencies.length / result.seconds;
  const p50 = percentile(result.latencies, 50);
  const p99 = percentile(result.latencies, 99);
  const statuses = [...result.statuses].map(([s, n]) => `${s}×${n}`).join(" ");
  console.log(
    `${name.padEnd(26)} ${rps.toFixed(0).padStart(6)} req/s   p50 ${p50.toFixed(2).padStart(7)} ms   ` +
      `p99 ${p99.toFixed(2).padStart(7)} ms   (${statuses})`,
  );
  return { rps, p50, p99 };
}

const server = args["postgres-url"] ? undefined : await startPostgres();
const url = args["postgres-url"] ?? server!.url;
const admin = new pg.Client({ connectionString: url });
await admin.connect();
await admin.query("DROP TABLE IF EXISTS bench_webhook_state");
await createPostgresDaprTable(admin, "bench_webhook_state", "v1");
const backend = await openPostgresBackend({ connectionString: url, tableName: "bench_webhook_state" });
const standin = await startSidecarStandin({
  backend,
  appId: "bench-webhook",
  grpc: false,
  workflows: { Order: { outcome: "run" } },
});
standin.latencyMs = LATENCY_MS;
const webhook = await startWebhookServer({
  config: compileWebhookConfig({
    routes: [
      {
        path: "/hooks/orders",
        action: { type: "start", workflow: "Order" },
        instanceId: "order-{body.data.orderId}",
        payload: {
          type: "object",
          required: ["type", "data"],
          properties: {
            type: { const: "order.created" },
            data: { type: "object", required: ["orderId"], properties: { orderId: { type: "string" } } },
          },
        },
        auth: { scheme: "standard-webhooks", secrets: ["env:BENCH_WEBHOOK_SECRET"] },
      },
    ],
  }),
  sidecarUrl: standin.url,
  secrets: createSecretResolver({ env: { BENCH_WEBHOOK_SECRET: SECRET } }),
  // Logging is left out of the figure (a Powertools line per request would measure the terminal).
  logger: { info: () => {}, warn: () => {}, error: () => {} },
  sidecarRetry: false,
  port: 0,
});

try {
  console.log(
    `${REQUESTS} start requests per side in ${ROUNDS} alternating rounds, concurrency ${CONCURRENCY}, ` +
      `stand-in latency ${LATENCY_MS} ms, PostgreSQL store; warm-up ${WARMUP} each`,
  );
  const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
  await run(standin.url, ids("warm-bare-", WARMUP).map(bare));
  await run(webhook.url, ids("warm-hook-", WARMUP).map(signed));

  const perRound = Math.ceil(REQUESTS / ROUNDS);
  const bareRun: RunResult = { seconds: 0, latencies: [], statuses: new Map() };
  const hookRun: RunResult = { seconds: 0, latencies: [], statuses: new Map() };
  for (let round = 0; round < ROUNDS; round++) {
    merge(bareRun, await run(standin.url, ids(`bare-${round}-`, perRound).map(bare)));
    merge(hookRun, await run(webhook.url, ids(`hook-${round}-`, perRound).map(signed)));
  }
  const b = describe("bare undici → stand-in", bareRun);
  const w = describe("webhook serve → stand-in", hookRun);
  console.log(
    `ratio webhook / bare: throughput ${(w.rps / b.rps).toFixed(2)}×, p50 ${(w.p50 / b.p50).toFixed(2)}×, ` +
      `p99 ${(w.p99 / b.p99).toFixed(2)}×`,
  );
  const created = await admin.query<{ n: string }>(
    "SELECT count(*) AS n FROM bench_webhook_state WHERE key LIKE '%||metadata'",
  );
  console.log(`instances in the store: ${created.rows[0]!.n} (expected ${2 * (perRound * ROUNDS + WARMUP)})`);
} finally {
  await webhook.close();
  await standin.close();
  await backend.close();
  await admin.end();
  await server?.stop();
}
