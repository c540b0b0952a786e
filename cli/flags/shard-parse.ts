/** The parsed `--shard` of a command (see shard.ts); imported by actions only, since it loads zod. */
import type { Command } from "commander";
import { parseShardFlag, type Shard } from "../../shared/workflow/shard.ts";

/** The parsed `--shard`, or undefined when it is not given. */
export function shardFlag(cmd: Command): Shard | undefined {
  const text = cmd.opts<{ shard?: string }>().shard;
  return text === undefined ? undefined : parseShardFlag(text);
}
