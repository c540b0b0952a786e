/**
 * `housekeeper retention run --policy policy.json`: runs exactly the job the purge Lambda runs, from a laptop or a CI
 * job. Secrets in the policy may be `env:NAME` references (or Secrets Manager names/ARNs with AWS credentials).
 */

import { Command, Option } from "commander";

export interface RetentionRunFlags {
  policy: string;
  dryRun?: boolean;
  continuationToken?: string;
  output: "text" | "json";
}

export function retentionCommand(): Command {
  const group = new Command("retention").description(
    "Retention purges driven by a policy file (what the purge Lambda runs)",
  );
  group
    .command("run")
    .description("Run a retention policy: purge terminal instances past their retention, target by target")
    .requiredOption("--policy <file>", "the retention policy (JSON; see examples/retention-policy.json)")
    .addOption(new Option("--dry-run", "list what would be purged, whatever the policy says"))
    .addOption(new Option("--continuation-token <token>", "continue a run that stopped early"))
    .addOption(
      new Option("-o, --output <format>", "text: a line per decision; json: the run report")
        .choices(["text", "json"])
        .default("text"),
    )
    // Imported when the command runs: `--help` loads the command tree only.
    .action(async (opts: RetentionRunFlags) => (await import("./retention-run.ts")).retentionRunAction(opts));
  return group;
}
