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
import { DEFAULT_SIDECAR_URL } from "../../shared/sidecar/defaults.ts";
import { DEFAULT_RECEIVE_TIMEOUT_MS } from "./defaults.ts";

export interface ServeFlags {
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
    // Imported when the command runs: `--help` loads the command tree only.
    .action(async (_options: unknown, cmd: Command) => (await import("./serve-run.ts")).serveAction(cmd));
  return webhook;
}
