/**
 * `--shard K/N` (1-based, as Playwright's `--shard=2/4`) for the commands that scan an app: `workflow list`,
 * `workflow purge`, `report stuck` and `scheduler orphans`. The value is parsed in the action (parseShardFlag), so a
 * bad one ends with the usual one-line error and exit 2 before any store is opened.
 */
import { type Command, Option } from "commander";
import { parseShardFlag, type Shard } from "../shared/workflow/shard.ts";

export function shardOption(): Option {
  return new Option(
    "--shard <K/N>",
    "only shard K of N of the app's instances (split by a hash of the instance ID; see docs/scale.md); N runs with 1/N…N/N cover the app once, and may run at the same time",
  );
}

/** The parsed `--shard`, or undefined when it is not given. */
export function shardFlag(cmd: Command): Shard | undefined {
  const text = cmd.opts<{ shard?: string }>().shard;
  return text === undefined ? undefined : parseShardFlag(text);
}
