/**
 * `housekeeper webhook serve --config routes.json [--port 8080] [--host 127.0.0.1] [--sidecar-url URL]
 *  [--api-token T] [-a APP] [--idempotency-table NAME | --idempotency-redis-url URL]
 *  [--receive-timeout 10s]`: the webhook function's job on a local HTTP server, to try
 * and test webhooks end to end without AWS. Logs are JSON lines on stdout (Powertools Logger; POWERTOOLS_LOG_LEVEL
 * sets the level); the status lines go to stderr. SIGINT/SIGTERM stop it gracefully: no new connections, requests in
 * progress finish (10 s at most), then exit 0. A second signal exits at once.
 */
import type { Command } from "commander";
import { Command as CommanderCommand, Option } from "commander";
import { createSecretResolver } from "../../shared/config/secrets.ts";
import { parseTimeout } from "../../shared/config/timeouts.ts";
import { loadWebhookConfigFile } from "../../shared/config/webhook.ts";
import { HousekeeperError } from "../../shared/errors.ts";
import { DEFAULT_SIDECAR_URL } from "../../shared/sidecar/http-client.ts";
import {
  describeIdempotencyBackend,
  idempotencyBackend,
  openIdempotencyStore,
} from "../../shared/webhook/open-idempotency.ts";
import { DEFAULT_RECEIVE_TIMEOUT_MS, startWebhookServer } from "./server.ts";

export { startWebhookServer, type WebhookServer, type WebhookServerOptions } from "./server.ts";

interface ServeFlags {
  config: string;
  port: string;
  host: string;
  sidecarUrl: string;
  apiToken?: string;
  appId?: string;
  idempotencyRedisUrl?: string;
  idempotencyTable?: string;
  receiveTimeout: string;
}

export function webhookCommand(): Command {
  const webhook = new CommanderCommand("webhook").description(
    "Receive signed webhooks and start workflows or raise events (the webhook function, locally)",
  );
  webhook
    .command("serve")
    .description("Serve the webhook routes of a config file on a local HTTP server")
    .requiredOption("--config <file>", "The routes config (JSON), as the webhook function's WEBHOOK_ROUTES_FILE")
    .option("-p, --port <port>", "The port to listen on (0: any free port)", "8080")
    .option("--host <address>", "The address to listen on", "127.0.0.1")
    .addOption(
      new Option("--sidecar-url <url>", "The Dapr sidecar's HTTP API")
        .env("DAPR_HTTP_ENDPOINT")
        .default(DEFAULT_SIDECAR_URL),
    )
    .addOption(
      new Option("--api-token <token>", "The Dapr API token, or a reference: env:NAME, secretsmanager:NAME").env(
        "DAPR_API_TOKEN",
      ),
    )
    .addOption(new Option("-a, --app-id <id>", "The app hosting the workflows, if not the sidecar's own"))
    .addOption(
      new Option(
        "--idempotency-redis-url <url>",
        "Keep delivery IDs in Redis (redis://…, or a reference: env:NAME, secretsmanager:NAME) instead of this process's memory",
      ).env("IDEMPOTENCY_REDIS_URL"),
    )
    .addOption(
      new Option(
        "--idempotency-table <name>",
        "Keep delivery IDs in this DynamoDB table (AWS_REGION; AWS_ENDPOINT_URL_DYNAMODB for a local one)",
      ).env("IDEMPOTENCY_TABLE"),
    )
    .option(
      "--receive-timeout <duration>",
      "How long a client may take to send its whole request; then it gets 408",
      `${DEFAULT_RECEIVE_TIMEOUT_MS / 1000}s`,
    )
    .action(async (_options: unknown, cmd: Command) => {
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
    });
  return webhook;
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
