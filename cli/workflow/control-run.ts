/** What the `workflow` control commands run (cli/workflow/control.ts defines them and says where they differ from Dapr). */
import type { Command } from "commander";
import { HousekeeperError } from "../../shared/errors.ts";
import {
  DURATION_DOORS,
  DURATION_EXAMPLES,
  parseDuration,
  parseRfc3339,
  TIMESTAMP_EXAMPLE,
} from "../../shared/util/duration.ts";
import { withSidecar } from "../flags/sidecar.ts";
import { StatusPrinter } from "../output/status.ts";
import type { ControlIo } from "./control.ts";

const MAX_EVENT_ID = 0xffff_ffff;

export async function runAction(io: ControlIo, name: string, cmd: Command): Promise<void> {
  const opts = cmd.opts<{ instanceId?: string; input?: string; startTime?: string }>();
  const startTime = opts.startTime === undefined ? undefined : parseStartTime(opts.startTime, io.now());
  const rawInput = jsonFlag("--input", opts.input);
  await withSidecar(cmd, async (sidecar) => {
    const id = await sidecar.start(name, { instanceId: opts.instanceId, rawInput, startTime });
    new StatusPrinter(io).info(`Workflow instance started successfully: ${id}`);
  });
}

export async function raiseEventAction(io: ControlIo, target: string, cmd: Command): Promise<void> {
  const split = target.split("/");
  if (split.length !== 2) {
    throw new HousekeeperError("bad-input", "the argument must be in the format '<instance-id>/<event-name>'");
  }
  const [instanceId, eventName] = split as [string, string];
  const rawInput = jsonFlag("--input", cmd.opts<{ input?: string }>().input);
  await withSidecar(cmd, async (sidecar) => {
    await sidecar.raiseEvent(instanceId, eventName, { rawInput });
    new StatusPrinter(io).info(`Workflow '${instanceId}' raised event '${eventName}' successfully`);
  });
}

export async function suspendResumeAction(
  io: ControlIo,
  verb: "suspend" | "resume",
  instanceId: string,
  cmd: Command,
): Promise<void> {
  const { reason } = cmd.opts<{ reason?: string }>();
  await withSidecar(cmd, async (sidecar) => {
    if (verb === "suspend") await sidecar.suspend(instanceId, { reason });
    else await sidecar.resume(instanceId, { reason });
    new StatusPrinter(io).info(`Workflow '${instanceId}' ${verb === "suspend" ? "suspended" : "resumed"} successfully`);
  });
}

export async function terminateAction(io: ControlIo, instanceId: string, cmd: Command): Promise<void> {
  const rawOutput = jsonFlag("--output", cmd.opts<{ output?: string }>().output);
  await withSidecar(cmd, async (sidecar) => {
    await sidecar.terminate(instanceId, { rawOutput });
    new StatusPrinter(io).info(`Workflow '${instanceId}' terminated successfully`);
  });
}

export async function rerunAction(io: ControlIo, instanceId: string, cmd: Command): Promise<void> {
  const opts = cmd.opts<{ eventId?: string; newInstanceId?: string; input?: string }>();
  const eventId = opts.eventId === undefined ? 0 : parseEventId(opts.eventId);
  const rawInput = jsonFlag("--input", opts.input);
  await withSidecar(cmd, async (sidecar) => {
    const newId = await sidecar.rerun(instanceId, { eventId, newInstanceId: opts.newInstanceId, rawInput });
    new StatusPrinter(io).info(`Rerunning workflow instance: ${newId}`);
  });
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
