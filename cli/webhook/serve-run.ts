/** What `housekeeper webhook serve` runs (cli/webhook/index.ts defines the command and says what it does). */
import type { Command } from "commander";
import { HousekeeperError } from "../../shared/errors.ts";
import { DEFAULT_SIDECAR_URL } from "../../shared/sidecar/defaults.ts";
import { createSecretResolver } from "../../shared/util/secrets.ts";
import { parseTimeout } from "../../shared/util/timeouts.ts";
import {
  describeIdempotencyBackend,
  idempotencyBackend,
  openIdempotencyStore,
} from "../../shared/webhook/open-idempotency.ts";
import { loadWebhookConfigFile } from "../../shared/webhook/routes-file.ts";
import type { ServeFlags } from "./index.ts";
import { startWebhookServer } from "./server.ts";

export async function serveAction(cmd: Command): Promise<void> {
  const flags = cmd.opts<ServeFlags>();
  const receiveTimeoutMs = parseTimeout(flags.receiveTimeout, "--receive-timeout");
  const port = Number(flags.port);
  if (!/^\d+$/.test(flags.port) || port > 65_535) {
    throw new HousekeeperError("bad-input", `--port must be a number from 0 to 65535, got "${flags.port}"`);
  }
  const sidecarUrl = flags.sidecarUrl === "" ? DEFAULT_SIDECAR_URL : flags.sidecarUrl;
  try {
    const url = new URL(sidecarUrl);
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error("not http");
  } catch {
    throw new HousekeeperError("bad-input", `--sidecar-url must be an http:// or https:// URL: "${sidecarUrl}"`);
  }
  const config = loadWebhookConfigFile(flags.config);
  const secrets = createSecretResolver();
  // Fail now, not on the first request, when a route's secret reference cannot be resolved.
  for (const route of config.routes) {
    for (const ref of route.auth.secrets) await secrets.resolve(ref);
  }
  const backend = idempotencyBackend({ redisUrl: flags.idempotencyRedisUrl, tableName: flags.idempotencyTable });
  const idempotency = openIdempotencyStore(backend, { secrets });
  // Fail now, not on the first request, when the store cannot be reached.
  try {
    await idempotency.ready?.();
  } catch (error) {
    await idempotency.close();
    throw error;
  }
  const server = await startWebhookServer({
    config,
    sidecarUrl,
    apiToken: flags.apiToken === "" ? undefined : flags.apiToken,
    appId: flags.appId,
    idempotency,
    secrets,
    port,
    host: flags.host,
    receiveTimeoutMs,
  });
  process.stderr.write(
    `Webhook server listening on ${server.url} (${config.routes.length} route(s), sidecar ${sidecarUrl}, ` +
      `delivery IDs in ${describeIdempotencyBackend(backend)})\n`,
  );
  const signal = await untilSignal();
  process.stderr.write(`Received ${signal}: shutting down\n`);
  await server.close();
  process.stderr.write("Webhook server stopped\n");
}

/**
 * Waits for SIGINT or SIGTERM. The CLI's entry point exits at once on these signals; while serving, this takes them
 * over (so the server can drain) and gives them back after; a second signal gets the original, immediate exit.
 */
function untilSignal(): Promise<NodeJS.Signals> {
  const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM"];
  const saved = new Map(signals.map((s) => [s, process.listeners(s)] as const));
  for (const s of signals) process.removeAllListeners(s);
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      for (const s of signals) {
        process.removeListener(s, onSignal);
        for (const listener of saved.get(s) ?? []) process.on(s, listener as NodeJS.SignalsListener);
        // Nobody else listening (tests, embedding): a second signal must still end the process.
        if (process.listenerCount(s) === 0) process.once(s, () => process.exit(s === "SIGINT" ? 130 : 143));
      }
      resolve(signal);
    };
    for (const s of signals) process.on(s, onSignal);
  });
}
