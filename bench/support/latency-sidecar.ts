/**
 * A sidecar for benchmarks, in its own process: it answers Dapr's workflow purge route
 * (`POST /v1.0/workflows/dapr/{id}/purge`, pkg/api/http/workflow.go) with 202 `{}` after a fixed latency and does
 * nothing else, so a purge figure measures the client, not a stand-in sharing its event loop and CPU.
 *
 *   node --import tsx bench/support/latency-sidecar.ts --latency-ms 20
 * prints `listening <url>` once, then on SIGTERM or a closed stdin `purged <n> max-in-flight <m>` and exits.
 */
import { createServer } from "node:http";
import { parseArgs } from "node:util";

const { values: args } = parseArgs({ options: { "latency-ms": { type: "string", default: "20" } } });
const latencyMs = Number(args["latency-ms"]);
const PURGE = /^\/v1\.0(?:-beta1|-alpha1)?\/workflows\/[^/]+\/[^/]+\/purge$/;

let purged = 0;
let inFlight = 0;
let maxInFlight = 0;
const server = createServer((request, response) => {
  request.resume();
  const path = (request.url ?? "").split("?")[0]!;
  if (request.method !== "POST" || !PURGE.test(path)) {
    response.writeHead(404, { "content-type": "application/json" }).end('{"errorCode":"ERR_NOT_FOUND"}');
    return;
  }
  inFlight++;
  maxInFlight = Math.max(maxInFlight, inFlight);
  setTimeout(() => {
    inFlight--;
    purged++;
    response.writeHead(202, { "content-type": "application/json" }).end("{}");
  }, latencyMs);
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  if (address && typeof address === "object") console.log(`listening http://127.0.0.1:${address.port}`);
});

const stop = () => {
  console.log(`purged ${purged} max-in-flight ${maxInFlight}`);
  server.closeAllConnections();
  server.close(() => process.exit(0));
};
process.on("SIGTERM", stop);
process.stdin.on("end", stop).resume();
