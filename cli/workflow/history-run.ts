/** What `housekeeper workflow history` runs (cli/workflow/history.ts defines the command). */
import type { Writable } from "node:stream";
import { HousekeeperError } from "../../shared/errors.ts";
import type { OutputFormat } from "../flags/output.ts";
import type { ConnectionFlags } from "../flags/state-store.ts";
import { withWorkflowStore } from "../flags/state-store.ts";
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
