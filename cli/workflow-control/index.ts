/**
 * `housekeeper workflow run | raise-event | suspend | resume | terminate | rerun`: the Dapr CLI's workflow
 * control commands (dapr/cli cmd/workflow/*.go: same names, flags and output lines), through the sidecar client.
 *
 * Transport: the Dapr HTTP API at --sidecar-url, except where only the durabletask gRPC API at
 * --sidecar-grpc-address can do it (DualSidecarClient): `rerun` always; `run --start-time`, `terminate --output`,
 * `suspend/resume --reason` and `purge --force`. (The Dapr CLI uses gRPC for everything.)
 *
 * Where we differ from the Dapr CLI, on purpose:
 *  - `--input`/`--output` must be JSON and reach the workflow as that JSON. The Dapr CLI JSON-encodes the string
 *    again (`-x '{"a":1}'` arrives as the string "{\"a\":1}", docs/dapr-state-store.md §2.4);
 *  - `suspend --reason` is recorded (the Dapr CLI binds it to the resume flag and always sends none);
 *  - `-a/--app-id` is optional: the sidecar is addressed by URL; when given it selects the app hosting the instance
 *    (the HTTP API's `appID`, Dapr ≥1.18 cross-app calls);
 *  - errors are one `Error: …` line and exit code 1, like every housekeeper command.
 */
import type { Writable } from "node:stream";
import type { Command } from "commander";
import { Option } from "commander";
import { HousekeeperError } from "../../shared/errors.ts";
import { DEFAULT_SIDECAR_GRPC_ADDRESS, DEFAULT_SIDECAR_URL } from "../../shared/sidecar/defaults.ts";
import type { DualSidecarClient } from "../../shared/sidecar/dual-client.ts";
import {
  DURATION_DOORS,
  DURATION_EXAMPLES,
  parseDuration,
  parseRfc3339,
  TIMESTAMP_EXAMPLE,
} from "../../shared/util/duration.ts";
import { sidecarTimeoutOptions } from "../../shared/util/timeouts.ts";
import { statusLine } from "../output/status.ts";

export interface ControlIo {
  stdout: Writable;
  now: () => Date;
  /** Decides the status-line prefix: the Dapr CLI prints none on Windows. */
  platform: NodeJS.Platform;
}

export interface SidecarFlags {
  appId: string | undefined;
  sidecarUrl: string;
  sidecarGrpcAddress: string;
  apiToken: string | undefined;
}

const MAX_EVENT_ID = 0xffff_ffff;

/** Adds the control commands to the `workflow` command group. */
export function registerWorkflowControlCommands(workflow: Command, io: Partial<ControlIo> = {}): void {
  const env: ControlIo = {
    stdout: io.stdout ?? process.stdout,
    now: io.now ?? (() => new Date()),
    platform: io.platform ?? process.platform,
  };
  const print = new StatusPrinter(env);

  sidecarOptions(
    workflow
      .command("run")
      .description("Run a workflow instance based on a given workflow name")
      .argument("<workflow-name>", "the workflow name")
      .option("-i, --instance-id <id>", "The target workflow instance ID (default: a random UUID)")
      .option("-x, --input <json>", "Optional input data for the new workflow instance, as JSON")
      .option(
        "-s, --start-time <time>",
        "Optional start time, an RFC 3339 timestamp or a Go duration from now (e.g. 10m); uses the gRPC API",
      ),
  ).action(async (name: string, _options: unknown, cmd: Command) => {
    const opts = cmd.opts<{ instanceId?: string; input?: string; startTime?: string }>();
    const startTime = opts.startTime === undefined ? undefined : parseStartTime(opts.startTime, env.now());
    const rawInput = jsonFlag("--input", opts.input);
    await withSidecar(cmd, async (sidecar) => {
      const id = await sidecar.start(name, { instanceId: opts.instanceId, rawInput, startTime });
      print.info(`Workflow instance started successfully: ${id}`);
    });
  });

  sidecarOptions(
    workflow
      .command("raise-event")
      .description("Raise an event for a workflow waiting for an external event")
      .argument("<instance-id/event-name>", "the instance ID and the event name, separated by a slash")
      .option("-x, --input <json>", "Optional event payload, as JSON"),
  ).action(async (target: string, _options: unknown, cmd: Command) => {
    const split = target.split("/");
    if (split.length !== 2) {
      throw new HousekeeperError("bad-input", "the argument must be in the format '<instance-id>/<event-name>'");
    }
    const [instanceId, eventName] = split as [string, string];
    const rawInput = jsonFlag("--input", cmd.opts<{ input?: string }>().input);
    await withSidecar(cmd, async (sidecar) => {
      await sidecar.raiseEvent(instanceId, eventName, { rawInput });
      print.info(`Workflow '${instanceId}' raised event '${eventName}' successfully`);
    });
  });

  for (const [verb, done] of [
    ["suspend", "suspended"],
    ["resume", "resumed"],
  ] as const) {
    sidecarOptions(
      workflow
        .command(verb)
        .description(verb === "suspend" ? "Suspend a workflow in progress" : "Resume a workflow that is suspended")
        .argument("<instance-id>", "the workflow instance ID")
        .option("-r, --reason <text>", `Reason for ${verb === "suspend" ? "suspending" : "resuming"} the workflow`),
    ).action(async (instanceId: string, _options: unknown, cmd: Command) => {
      const { reason } = cmd.opts<{ reason?: string }>();
      await withSidecar(cmd, async (sidecar) => {
        if (verb === "suspend") await sidecar.suspend(instanceId, { reason });
        else await sidecar.resume(instanceId, { reason });
        print.info(`Workflow '${instanceId}' ${done} successfully`);
      });
    });
  }

  sidecarOptions(
    workflow
      .command("terminate")
      .description("Terminate a workflow in progress (and its child workflows)")
      .argument("<instance-id>", "the workflow instance ID")
      .option("-o, --output <json>", "Optional output data for the workflow, as JSON; uses the gRPC API"),
  ).action(async (instanceId: string, _options: unknown, cmd: Command) => {
    const rawOutput = jsonFlag("--output", cmd.opts<{ output?: string }>().output);
    await withSidecar(cmd, async (sidecar) => {
      await sidecar.terminate(instanceId, { rawOutput });
      print.info(`Workflow '${instanceId}' terminated successfully`);
    });
  });

  sidecarOptions(
    workflow
      .command("rerun")
      .description(
        "Re-run a terminal workflow instance from the beginning or a specific event, as a new instance (gRPC API)",
      )
      .argument("<instance-id>", "the source workflow instance ID")
      .option(
        "-e, --event-id <n>",
        "The event ID from which to re-run the workflow (the eventId of a TaskScheduled, TimerCreated or " +
          "ChildWorkflowInstanceCreated event); default 0, the beginning",
      )
      .option("--new-instance-id <id>", "Optional new ID for the re-run workflow instance (default: a new UUID)")
      .option("-x, --input <json>", "Optional new input for the event re-run from, as JSON"),
  ).action(async (instanceId: string, _options: unknown, cmd: Command) => {
    const opts = cmd.opts<{ eventId?: string; newInstanceId?: string; input?: string }>();
    const eventId = opts.eventId === undefined ? 0 : parseEventId(opts.eventId);
    const rawInput = jsonFlag("--input", opts.input);
    await withSidecar(cmd, async (sidecar) => {
      const newId = await sidecar.rerun(instanceId, { eventId, newInstanceId: opts.newInstanceId, rawInput });
      print.info(`Rerunning workflow instance: ${newId}`);
    });
  });
}

/** dapr/cli pkg/workflow/purge.go: one call per ID, in order, stopping at the first failure. */
export async function purgeInstances(
  sidecar: Pick<DualSidecarClient, "purge">,
  instanceIds: string[],
  options: { force: boolean },
  print: StatusPrinter,
): Promise<void> {
  print.info(`Purging ${instanceIds.length} workflow instance(s)`);
  for (const id of instanceIds) {
    try {
      await sidecar.purge(id, { force: options.force || undefined });
    } catch (error) {
      if (error instanceof Error) error.message = `${id}: ${error.message}`;
      throw error;
    }
    print.success(`Purged workflow instance ${JSON.stringify(id)}`);
  }
}

/** Dapr CLI status lines on stdout (cli/output/status.ts). */
export class StatusPrinter {
  constructor(private readonly io: Pick<ControlIo, "stdout" | "platform">) {}

  info(text: string): void {
    this.io.stdout.write(statusLine("info", text, this.io.platform));
  }

  success(text: string): void {
    this.io.stdout.write(statusLine("success", text, this.io.platform));
  }
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

async function withSidecar(command: Command, fn: (sidecar: DualSidecarClient) => Promise<void>): Promise<void> {
  const flags = sidecarFlags(command);
  const timeouts = sidecarTimeoutOptions();
  // Imported when a command runs: the command tree (and `--help`) must not load undici and @grpc/grpc-js.
  const { DualSidecarClient } = await import("../../shared/sidecar/dual-client.ts");
  const sidecar = new DualSidecarClient({
    http: { ...timeouts.http, url: flags.sidecarUrl, apiToken: flags.apiToken, appId: flags.appId },
    grpc: { ...timeouts.grpc, address: flags.sidecarGrpcAddress, apiToken: flags.apiToken },
  });
  try {
    await fn(sidecar);
  } finally {
    await sidecar.close();
  }
}

/** A JSON flag's text, checked to be JSON and sent as is; undefined when the flag is absent. */
export function jsonFlag(flag: string, text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  try {
    JSON.parse(text);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new HousekeeperError("bad-input", `${flag} must be JSON (e.g. '{"orderId":1}', '"text"' or 42): ${why}`);
  }
  return text;
}

/** `--start-time`: a duration from now (dapr/cli parseWorkflowDurationTimestamp, future; whole days too) or RFC 3339. */
export function parseStartTime(text: string, now: Date): Date {
  const value = text.trim();
  try {
    return new Date(now.getTime() + parseDuration(value, DURATION_DOORS.signed));
  } catch {
    const timestamp = parseRfc3339(value);
    if (timestamp) return timestamp;
  }
  throw new HousekeeperError(
    "bad-input",
    `invalid value "${text}" for --start-time: expected a Go duration (e.g. ${DURATION_EXAMPLES}), whole days (30d) ` +
      `or an RFC 3339 ` +
      `timestamp (e.g. ${TIMESTAMP_EXAMPLE})`,
  );
}

export function parseEventId(text: string): number {
  const value = text.trim();
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n > MAX_EVENT_ID) {
    throw new HousekeeperError(
      "bad-input",
      `--event-id must be a whole number from 0 to ${MAX_EVENT_ID}, got "${text}"`,
    );
  }
  return n;
}
