/**
 * `housekeeper workflow history <instance-id>`: `dapr workflow history` read straight from the state store — the
 * instance's `history-*` keys (not the inbox, as Dapr's GetInstanceHistory), sorted and derived per
 * docs/dapr-state-store.md §5.3. `-o short|wide` print Dapr's tables; `-o json|yaml` print the wide rows as records.
 */
import type { Writable } from "node:stream";
import { Command } from "commander";
import { HousekeeperError } from "../../shared/errors.ts";
import type { ConnectionFlags } from "../connection.ts";
import { addConnectionOptions, connectionFlags, withWorkflowStore } from "../connection.ts";
import { goJsonIndent } from "../output/go-format.ts";
import { goYamlList } from "../output/go-yaml.ts";
import { OutputSink } from "../output/sink.ts";
import { renderTable } from "../output/table.ts";
import {
  HISTORY_SHORT_HEADERS,
  HISTORY_TIME_FIELDS,
  HISTORY_WIDE_HEADERS,
  historyRows,
  historyShortCells,
  historyWideCells,
} from "./history-rows.ts";
import type { OutputFormat } from "./list.ts";
import { outputOption } from "./list.ts";

export function historyCommand(): Command {
  const command = new Command("history")
    .description("Show the history events of one workflow instance, read directly from the actor state store")
    .argument("<instance-id>", "the workflow instance ID");
  addConnectionOptions(command);
  command.addOption(outputOption()).action(async (instanceId: string, _options: unknown, cmd: Command) => {
    const opts = cmd.opts<{ output: OutputFormat }>();
    await runHistory({ flags: connectionFlags(cmd), instanceId, output: opts.output, now: new Date() });
  });
  return command;
}

export interface HistoryRun {
  flags: ConnectionFlags;
  instanceId: string;
  output: OutputFormat;
  now: Date;
  stdout?: Writable;
}

export async function runHistory(run: HistoryRun): Promise<void> {
  const { flags, instanceId } = run;
  if (instanceId.trim() === "") throw new HousekeeperError("bad-input", "the instance ID must not be empty");
  const record = await withWorkflowStore(flags, (store) => store.readInstance(instanceId));
  if (!record) {
    throw new HousekeeperError(
      "not-found",
      `workflow instance "${instanceId}" not found for app ID "${flags.appId}" in namespace "${flags.namespace}"`,
    );
  }
  const rows = historyRows(record.history, {
    namespace: flags.namespace,
    appId: flags.appId,
    nowMs: run.now.getTime(),
  });
  const sink = new OutputSink(run.stdout ?? process.stdout);
  switch (run.output) {
    case "short":
      await sink.write(renderTable(HISTORY_SHORT_HEADERS, rows.map(historyShortCells)));
      break;
    case "wide":
      await sink.write(renderTable(HISTORY_WIDE_HEADERS, rows.map(historyWideCells)));
      break;
    case "json":
      // dapr/cli utils.PrintDetail: json.MarshalIndent, no newline after it; a nil slice (no events) is `null`.
      await sink.write(rows.length === 0 ? "null" : goJsonIndent(rows));
      break;
    case "yaml":
      await sink.write(goYamlList(rows, { times: HISTORY_TIME_FIELDS }));
      break;
  }
  await sink.flush();
}
