/**
 * The `housekeeper` command tree. Each command group is a folder (`cli/workflow/`, `cli/scheduler/`, `cli/report/`,
 * `cli/retention/`, `cli/webhook/`) whose index.ts exports `<group>Command(options?)` returning its commander Command;
 * flags shared across groups are in `cli/flags/`, one module per concern. Add new groups to COMMAND_GROUPS.
 * Every command in the tree gets the same error handling: commander throws instead of exiting, and prints its own
 * errors as one `Error: …` line.
 */
import { Command } from "commander";
import { HousekeeperError } from "../shared/errors.ts";
import { CONNECT_TIMEOUT_ENV, configuredTimeouts, parseTimeout, REQUEST_TIMEOUT_ENV } from "../shared/util/timeouts.ts";
import { completionCommand } from "./completion.ts";
import { errorLine } from "./errors.ts";
import { addExamples } from "./examples.ts";
import { setProgressMode } from "./output/progress-line.ts";
import { packageVersion, versionCommand } from "./version.ts";

interface CommandGroup {
  /** The group's name and aliases, as typed first on the command line. */
  names: readonly string[];
  /** Imports the group's folder and builds its Command (actions load later still, when one runs). */
  load: () => Promise<Command>;
}

/**
 * Loaded on demand: a run that names its group first loads only that group's modules (and their drivers). Loading
 * every group costs about 45 MB of memory more (measured for `scheduler import`), which a large import or list pays
 * on top of its own.
 */
const COMMAND_GROUPS: readonly CommandGroup[] = [
  { names: ["workflow", "wf"], load: async () => (await import("./workflow/index.ts")).workflowCommand() },
  { names: ["retention"], load: async () => (await import("./retention/index.ts")).retentionCommand() },
  { names: ["report"], load: async () => (await import("./report/index.ts")).reportCommand() },
  { names: ["webhook"], load: async () => (await import("./webhook/index.ts")).webhookCommand() },
  { names: ["scheduler", "sched"], load: async () => (await import("./scheduler/index.ts")).schedulerCommand() },
];

export interface ProgramOutput {
  writeOut?: (text: string) => void;
  writeErr?: (text: string) => void;
}

/**
 * The command tree. `args` (the user's arguments, without node and the script) only decide what is loaded: when the
 * first one names a command group, only that group is; otherwise (help, version, a typo, an option first) all are,
 * so help and suggestions list everything.
 */
export async function createProgram(output: ProgramOutput = {}, args: readonly string[] = []): Promise<Command> {
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
    .option("-q, --quiet", "no progress line on stderr")
    .option("--progress", "a progress line on stderr even when it is not a terminal (a plain line every 5 s)")
    .hook("preAction", (root) => {
      // The flags set the variables every client reads its timeouts from (shared/util/timeouts.ts).
      const opts = root.opts<{
        connectTimeout?: string;
        requestTimeout?: string;
        quiet?: boolean;
        progress?: boolean;
      }>();
      if (opts.quiet && opts.progress) throw new HousekeeperError("bad-input", "--quiet and --progress contradict");
      setProgressMode(opts.quiet ? "off" : opts.progress ? "on" : "auto");
      if (opts.connectTimeout !== undefined) {
        process.env[CONNECT_TIMEOUT_ENV] = `${parseTimeout(opts.connectTimeout, "--connect-timeout")}ms`;
      }
      if (opts.requestTimeout !== undefined) {
        process.env[REQUEST_TIMEOUT_ENV] = `${parseTimeout(opts.requestTimeout, "--request-timeout")}ms`;
      }
      configuredTimeouts(); // a bad value in the environment is refused before anything runs
    });
  const named = COMMAND_GROUPS.find((g) => g.names.includes(args[0] ?? ""));
  for (const group of named ? [named] : COMMAND_GROUPS) program.addCommand(await group.load());
  program.addCommand(versionCommand(output.writeOut ?? ((text: string) => process.stdout.write(text))));
  program.addCommand(completionCommand(output.writeOut ?? ((text: string) => process.stdout.write(text))));
  addExamples(program);

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
