/**
 * `housekeeper workflow list`: `dapr workflow list` read straight from the state store (flags, filters, columns,
 * order and messages per docs/dapr-state-store.md §3.2).
 *
 * Bounded memory at any size: instances stream in pages; each one that passes the filters is reduced to a compact
 * ListedInstance and fed to an external merge sort (20,000 per in-memory run, spilled as JSON lines beyond that); the
 * merged output is written record by record. Table column widths do not depend on order, so they are measured while
 * the records stream into the sort — the table is exact (no capped cells) and needs no second pass.
 */
import { Command, Option } from "commander";
import { RUNTIME_STATUSES } from "../../shared/workflow/status-names.ts";
import { OUTPUT_FORMATS } from "../flags/output.ts";
import { shardOption } from "../flags/shard.ts";
import { addConnectionOptions } from "../flags/state-store.ts";

/** `list` also prints bare instance IDs (dapr/cli cmd/workflow/list.go `outputFormatIDs`). */
export const LIST_OUTPUT_FORMATS = [...OUTPUT_FORMATS, "ids"] as const;
export type ListOutputFormat = (typeof LIST_OUTPUT_FORMATS)[number];

export function listCommand(): Command {
  const command = new Command("list")
    .alias("ls")
    .description("List workflow instances of an app, read directly from the actor state store");
  addConnectionOptions(command);
  command
    .addOption(
      new Option("-o, --output <format>", "output format; ids: one instance ID per line, no filters")
        .choices(LIST_OUTPUT_FORMATS)
        .default("short"),
    )
    .option("-w, --filter-name <name>", "only workflows with exactly this name")
    .option("-s, --filter-status <status>", `only workflows with this runtime status: ${RUNTIME_STATUSES.join(", ")}`)
    .option(
      "-m, --filter-max-age <age>",
      "only workflows created within this Go duration (e.g. 30m, 24h, 720h) or since this RFC 3339 timestamp",
    )
    .addOption(shardOption())
    // The action and everything it loads are imported when the command runs: `--help` loads the command tree only.
    .action(async (_options: unknown, cmd: Command) => (await import("./list-run.ts")).listAction(cmd));
  return command;
}
