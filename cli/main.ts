/**
 * Entry point (bin/housekeeper.mjs imports this through tsx). Runs the command tree and turns any failure into one
 * `Error: …` line on stderr and an exit code (cli/errors.ts); HOUSEKEEPER_DEBUG=1 adds the stack trace.
 */
import { CommanderError } from "commander";
import { debugEnabled, errorLine, exitCodeFor } from "./errors.ts";
import { createProgram } from "./program.ts";

// Ctrl-C / kill: exit through process.exit so 'exit' hooks (temp-file cleanup of the list sort) run.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => process.exit(signal === "SIGINT" ? 130 : 143));
}
// `housekeeper workflow list | head`: a closed pipe is not an error.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0);
  throw error;
});

async function main(argv: string[]): Promise<number> {
  try {
    const program = await createProgram({}, argv.slice(2));
    await program.parseAsync(argv);
    return 0;
  } catch (error) {
    // commander has already printed its own errors (and help/version output) through configureOutput.
    if (!(error instanceof CommanderError)) {
      process.stderr.write(`${errorLine(error)}\n`);
      if (debugEnabled()) process.stderr.write(`${describeStack(error)}\n`);
    }
    return exitCodeFor(error);
  }
}

function describeStack(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 5; depth++) {
    parts.push(current instanceof Error ? (current.stack ?? current.message) : String(current));
    current = current instanceof Error ? current.cause : undefined;
    if (current !== undefined) parts.push("Caused by:");
  }
  return parts.join("\n");
}

const code = await main(process.argv);
// Exit explicitly: a driver may keep a handle open; stdout/stderr writes to files and pipes are synchronous on POSIX.
process.exit(code);
