/**
 * `housekeeper workflow history <instance-id>`: `dapr workflow history` read straight from the state store — the
 * instance's `history-*` keys (not the inbox, as Dapr's GetInstanceHistory), sorted and derived per
 * docs/dapr-state-store.md §5.3. `-o short|wide` print Dapr's tables; `-o json|yaml` print the wide rows as records.
 */
import { Command } from "commander";
import type { OutputFormat } from "../flags/output.ts";
import { outputOption } from "../flags/output.ts";
import { addConnectionOptions, connectionFlags } from "../flags/state-store.ts";

export function historyCommand(): Command {
  const command = new Command("history")
    .description("Show the history events of one workflow instance, read directly from the actor state store")
    .argument("<instance-id>", "the workflow instance ID");
  addConnectionOptions(command);
  command.addOption(outputOption()).action(async (instanceId: string, _options: unknown, cmd: Command) => {
    // Imported when the command runs: `--help` loads the command tree only.
    const { runHistory } = await import("./history-run.ts");
    const opts = cmd.opts<{ output: OutputFormat }>();
    await runHistory({ flags: connectionFlags(cmd), instanceId, output: opts.output, now: new Date() });
  });
  return command;
}
