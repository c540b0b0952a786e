/**
 * The `workflow` command group: `list` and `history` read the state store; the control commands (control.ts) and
 * `purge` go through the sidecar (purge also directly). Each subcommand module exports its Command(s); their actions
 * are in a `*-run.ts` module imported when the command runs.
 */
import { Command } from "commander";
import { controlCommands } from "./control.ts";
import { historyCommand } from "./history.ts";
import { listCommand } from "./list.ts";
import { purgeCommand } from "./purge.ts";

export function workflowCommand(): Command {
  const group = new Command("workflow")
    .alias("wf")
    .description(
      "Workflow instances: list and history read directly from Dapr's state store; run, raise-event, suspend, resume, terminate, rerun and purge through the Dapr sidecar",
    );
  for (const sub of [listCommand(), historyCommand(), ...controlCommands(), purgeCommand()]) group.addCommand(sub);
  return group;
}
