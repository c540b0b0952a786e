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
 *
 * The sidecar flags live in cli/flags/sidecar.ts; the actions in ./control-run.ts, imported when a command runs.
 */
import type { Writable } from "node:stream";
import { Command } from "commander";
import { sidecarOptions } from "../flags/sidecar.ts";

export interface ControlIo {
  stdout: Writable;
  now: () => Date;
  /** Decides the status-line prefix: the Dapr CLI prints none on Windows. */
  platform: NodeJS.Platform;
}

/** The control commands of the `workflow` group, in the order its help lists them. */
export function controlCommands(io: Partial<ControlIo> = {}): Command[] {
  const env: ControlIo = {
    stdout: io.stdout ?? process.stdout,
    now: io.now ?? (() => new Date()),
    platform: io.platform ?? process.platform,
  };
  const actions = () => import("./control-run.ts");

  const run = sidecarOptions(
    new Command("run")
      .description("Run a workflow instance based on a given workflow name")
      .argument("<workflow-name>", "the workflow name")
      .option("-i, --instance-id <id>", "The target workflow instance ID (default: a random UUID)")
      .option("-x, --input <json>", "Optional input data for the new workflow instance, as JSON")
      .option(
        "-s, --start-time <time>",
        "Optional start time, an RFC 3339 timestamp or a Go duration from now (e.g. 10m); uses the gRPC API",
      ),
  ).action(async (name: string, _options: unknown, cmd: Command) => (await actions()).runAction(env, name, cmd));

  const raiseEvent = sidecarOptions(
    new Command("raise-event")
      .description("Raise an event for a workflow waiting for an external event")
      .argument("<instance-id/event-name>", "the instance ID and the event name, separated by a slash")
      .option("-x, --input <json>", "Optional event payload, as JSON"),
  ).action(async (target: string, _options: unknown, cmd: Command) =>
    (await actions()).raiseEventAction(env, target, cmd),
  );

  const suspendResume = (["suspend", "resume"] as const).map((verb) =>
    sidecarOptions(
      new Command(verb)
        .description(verb === "suspend" ? "Suspend a workflow in progress" : "Resume a workflow that is suspended")
        .argument("<instance-id>", "the workflow instance ID")
        .option("-r, --reason <text>", `Reason for ${verb === "suspend" ? "suspending" : "resuming"} the workflow`),
    ).action(async (instanceId: string, _options: unknown, cmd: Command) =>
      (await actions()).suspendResumeAction(env, verb, instanceId, cmd),
    ),
  );

  const terminate = sidecarOptions(
    new Command("terminate")
      .description("Terminate a workflow in progress (and its child workflows)")
      .argument("<instance-id>", "the workflow instance ID")
      .option("-o, --output <json>", "Optional output data for the workflow, as JSON; uses the gRPC API"),
  ).action(async (instanceId: string, _options: unknown, cmd: Command) =>
    (await actions()).terminateAction(env, instanceId, cmd),
  );

  const rerun = sidecarOptions(
    new Command("rerun")
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
  ).action(async (instanceId: string, _options: unknown, cmd: Command) =>
    (await actions()).rerunAction(env, instanceId, cmd),
  );

  return [run, raiseEvent, ...suspendResume, terminate, rerun];
}
