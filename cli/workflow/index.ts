/**
 * The `workflow` command group. Each subcommand lives in its own module and is added here; later ones (`run`,
 * `purge`, …) follow the same pattern: export a `xxxCommand(): Command` and add it to the list below.
 */
import { Command } from "commander";
import { registerWorkflowControlCommands } from "../workflow-control/index.ts";
import { historyCommand } from "./history.ts";
import { listCommand } from "./list.ts";
import { purgeCommand } from "./purge.ts";

export function workflowCommand(): Command {
  const group = new Command("workflow")
    .alias("wf")
    .description(
      "Workflow instances: list and history read directly from Dapr's state store; run, raise-event, suspend, resume, terminate, rerun and purge through the Dapr sidecar",
    );
  for (const sub of [listCommand(), historyCommand()]) group.addCommand(sub);
  registerWorkflowControlCommands(group);
  group.addCommand(purgeCommand());
  return group;
}
