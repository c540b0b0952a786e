/**
 * The `housekeeper` command tree. Command groups are separate modules (`cli/workflow/`, later `scheduler`, `report`,
 * `retention`), each exporting a function that returns its commander Command; add new groups to COMMAND_GROUPS.
 * Every command in the tree gets the same error handling: commander throws instead of exiting, and prints its own
 * errors as one `Error: …` line.
 */
import { readFileSync } from "node:fs";
import { Command } from "commander";
import {
  CONNECT_TIMEOUT_ENV,
  configuredTimeouts,
  parseTimeout,
  REQUEST_TIMEOUT_ENV,
} from "../shared/config/timeouts.ts";
import { HousekeeperError } from "../shared/errors.ts";
import { errorLine } from "./errors.ts";
import { reportCommand } from "./report/index.ts";
import { retentionCommand } from "./retention/index.ts";
import { registerSchedulerCommands } from "./scheduler/index.ts";
import { webhookCommand } from "./webhook/index.ts";
import { workflowCommand } from "./workflow/index.ts";

const COMMAND_GROUPS: Array<() => Command> = [workflowCommand, retentionCommand, () => reportCommand(), webhookCommand];

function packageVersion(): string {
  // From the sources (cli/) or the build (dist/cli/, scripts/build-cli.ts).
  for (const path of ["../package.json", "../../package.json"]) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(path, import.meta.url), "utf8")) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === "dapr-housekeeper") return pkg.version ?? "0.0.0";
    } catch {
      // not there: try the next
    }
  }
  return "0.0.0";
}

/** `housekeeper version [-o json]`, as `dapr version` does for the Dapr CLI. */
function versionCommand(output: ProgramOutput): Command {
  return new Command("version")
    .description("print the housekeeper version and the Node.js version it runs on")
    .option("-o, --output <format>", "text or json", "text")
    .addHelpText("after", "\nExamples:\n  housekeeper version\n  housekeeper version -o json\n")
    .action((opts: { output: string }) => {
      const write = output.writeOut ?? ((text: string) => process.stdout.write(text));
      const versions = { housekeeperVersion: packageVersion(), nodeVersion: process.version };
      if (opts.output === "json") write(`${JSON.stringify(versions, null, 2)}\n`);
      else if (opts.output === "text") {
        write(`Housekeeper version: ${versions.housekeeperVersion}\nNode.js version: ${versions.nodeVersion}\n`);
      } else throw new HousekeeperError("bad-input", `invalid value "${opts.output}" for --output: text or json`);
    });
}

export interface ProgramOutput {
  writeOut?: (text: string) => void;
  writeErr?: (text: string) => void;
}

export function createProgram(output: ProgramOutput = {}): Command {
  const program = new Command("housekeeper")
    .description("Housekeeping for Dapr Workflow: reads workflow state directly from Dapr's state stores")
    .version(packageVersion(), "-v, --version")
    .option(
      "--connect-timeout <duration>",
      `how long connecting to a state store, etcd or S3 may take (default 10s; env ${CONNECT_TIMEOUT_ENV})`,
    )
    .option(
      "--request-timeout <duration>",
      `how long one statement, command or call may take (default 60s; env ${REQUEST_TIMEOUT_ENV})`,
    )
    .hook("preAction", (root) => {
      // The flags set the variables every client reads its timeouts from (shared/config/timeouts.ts).
      const opts = root.opts<{ connectTimeout?: string; requestTimeout?: string }>();
      if (opts.connectTimeout !== undefined) {
        process.env[CONNECT_TIMEOUT_ENV] = `${parseTimeout(opts.connectTimeout, "--connect-timeout")}ms`;
      }
      if (opts.requestTimeout !== undefined) {
        process.env[REQUEST_TIMEOUT_ENV] = `${parseTimeout(opts.requestTimeout, "--request-timeout")}ms`;
      }
      configuredTimeouts(); // a bad value in the environment is refused before anything runs
    });
  for (const group of COMMAND_GROUPS) program.addCommand(group());
  registerSchedulerCommands(program);
  program.addCommand(versionCommand(output));

  const writeOut = output.writeOut ?? ((text: string) => process.stdout.write(text));
  const writeErr = output.writeErr ?? ((text: string) => process.stderr.write(text));
  const configure = (command: Command) => {
    command
      .exitOverride()
      .showSuggestionAfterError(true)
      .configureOutput({
        writeOut,
        writeErr,
        outputError: (text, write) => write(`${errorLine(text)}\n`),
      });
    for (const sub of command.commands) configure(sub);
  };
  configure(program);
  return program;
}
