/**
 * `--shard K/N` (1-based, as Playwright's `--shard=2/4`) for the commands that scan an app: `workflow list`,
 * `workflow purge`, `report stuck` and `scheduler orphans`. The value is parsed in the action (parseShardFlag), so a
 * bad one ends with the usual one-line error and exit 2 before any store is opened. The parser lives in
 * shard-parse.ts, which only the (lazily loaded) actions import: `--help` loads nothing of shared/ or zod.
 */
import { Option } from "commander";

export function shardOption(): Option {
  return new Option(
    "--shard <K/N>",
    "only shard K of N of the app's instances (split by a hash of the instance ID; see docs/scale.md); N runs with 1/N…N/N cover the app once, and may run at the same time",
  );
}
