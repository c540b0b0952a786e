/**
 * The sidecar flags (`-a`, `--sidecar-url`, `--sidecar-grpc-address`, `--api-token`, env defaults as Dapr's) of the
 * `workflow` control commands and `workflow purge`, and the one place the control commands open the sidecar client.
 */
import type { Command } from "commander";
import { Option } from "commander";
import { HousekeeperError } from "../../shared/errors.ts";
import { DEFAULT_SIDECAR_GRPC_ADDRESS, DEFAULT_SIDECAR_URL } from "../../shared/sidecar/defaults.ts";
import type { DualSidecarClient } from "../../shared/sidecar/dual-client.ts";
import { sidecarTimeoutOptions } from "../../shared/util/timeouts.ts";

export interface SidecarFlags {
  appId: string | undefined;
  sidecarUrl: string;
  sidecarGrpcAddress: string;
  apiToken: string | undefined;
}

/**
 * Adds `-a/--app-id`, `--sidecar-url`, `--sidecar-grpc-address` and `--api-token` (env defaults as Dapr's); a command
 * that already has `-a` (from the connection options) passes `appIdOption: false`.
 */
export function sidecarOptions<C extends Command>(command: C, options: { appIdOption?: boolean } = {}): C {
  if (options.appIdOption !== false) {
    command.addOption(
      new Option(
        "-a, --app-id <id>",
        "The app hosting the workflow instance, if not the sidecar's own app (HTTP API only)",
      ),
    );
  }
  return command
    .addOption(
      new Option("--sidecar-url <url>", "The Dapr sidecar's HTTP API")
        .env("DAPR_HTTP_ENDPOINT")
        .default(DEFAULT_SIDECAR_URL),
    )
    .addOption(
      new Option("--sidecar-grpc-address <host:port>", "The Dapr sidecar's gRPC API, for what only it offers")
        .env("DAPR_GRPC_ENDPOINT")
        .default(DEFAULT_SIDECAR_GRPC_ADDRESS),
    )
    .addOption(
      new Option("--api-token <token>", "The Dapr API token, if the sidecar requires one").env("DAPR_API_TOKEN"),
    );
}

/** Reads and checks the sidecar flags of a command. */
export function sidecarFlags(command: Command): SidecarFlags {
  const opts = command.opts<{ appId?: string; sidecarUrl: string; sidecarGrpcAddress: string; apiToken?: string }>();
  // An empty environment variable means "unset"; an explicit empty flag is a mistake worth reporting.
  if (opts.sidecarUrl === "" && command.getOptionValueSource("sidecarUrl") === "env") {
    opts.sidecarUrl = DEFAULT_SIDECAR_URL;
  }
  if (opts.sidecarGrpcAddress === "" && command.getOptionValueSource("sidecarGrpcAddress") === "env") {
    opts.sidecarGrpcAddress = DEFAULT_SIDECAR_GRPC_ADDRESS;
  }
  if (opts.appId !== undefined && opts.appId.trim() === "") {
    throw new HousekeeperError("bad-input", "--app-id must not be empty");
  }
  let url: URL;
  try {
    url = new URL(opts.sidecarUrl);
  } catch {
    throw new HousekeeperError("bad-input", `--sidecar-url is not a URL: "${opts.sidecarUrl}"`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new HousekeeperError("bad-input", `--sidecar-url must be an http:// or https:// URL: "${opts.sidecarUrl}"`);
  }
  if (opts.sidecarGrpcAddress.trim() === "") {
    throw new HousekeeperError("bad-input", "--sidecar-grpc-address must not be empty");
  }
  return {
    appId: opts.appId,
    sidecarUrl: opts.sidecarUrl,
    sidecarGrpcAddress: opts.sidecarGrpcAddress,
    apiToken: opts.apiToken === "" ? undefined : opts.apiToken,
  };
}

/**
 * A sidecar client for the command's flags and the configured timeouts; `http` adds to the HTTP client's options
 * (the app ID to route to, a pool size for a concurrent purge). The caller closes it.
 */
export async function openSidecar(
  command: Command,
  http: { appId?: string | undefined; connections?: number } = {},
): Promise<DualSidecarClient> {
  const flags = sidecarFlags(command);
  const timeouts = sidecarTimeoutOptions();
  // Imported when a command runs: the command tree (and `--help`) must not load undici and @grpc/grpc-js.
  const { DualSidecarClient } = await import("../../shared/sidecar/dual-client.ts");
  return new DualSidecarClient({
    http: { ...timeouts.http, url: flags.sidecarUrl, apiToken: flags.apiToken, ...http },
    grpc: { ...timeouts.grpc, address: flags.sidecarGrpcAddress, apiToken: flags.apiToken },
  });
}

/** Runs `fn` with a sidecar client for the command's flags (routed to its app ID); closed afterwards, whatever happens. */
export async function withSidecar(command: Command, fn: (sidecar: DualSidecarClient) => Promise<void>): Promise<void> {
  const sidecar = await openSidecar(command, { appId: sidecarFlags(command).appId });
  try {
    await fn(sidecar);
  } finally {
    await sidecar.close();
  }
}
