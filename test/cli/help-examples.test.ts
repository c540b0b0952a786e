/**
 * Every command's help ends with an Examples section (cli/examples.ts), and every example is valid grammar for the
 * real command tree: each one is parsed by commander with the commands' actions replaced by no-ops (so unknown
 * commands or flags, bad choices and missing required flags fail here). What the actions themselves check (a file
 * exists, a sidecar answers) is not: the examples say in a comment what they need.
 */
import type { Command } from "commander";
import { afterEach, describe, expect, it } from "vitest";
import { commandPath, EXAMPLES } from "../../cli/examples.ts";
import { createProgram } from "../../cli/program.ts";

function commands(root: Command): Command[] {
  return [root, ...root.commands.flatMap(commands)];
}

/** Splits an example into argv as a POSIX shell would (quotes; a trailing `# comment` and `> file` dropped). */
function argv(example: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: string | undefined;
  for (let i = 0; i < example.length; i++) {
    const c = example[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else word = (word ?? "") + c;
    } else if (c === "'" || c === '"') {
      quote = c;
      word ??= "";
    } else if (c === " ") {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (c === "#" && word === undefined) break;
    else word = (word ?? "") + c;
  }
  if (word !== undefined) words.push(word);
  const redirect = words.indexOf(">");
  const command = redirect < 0 ? words : words.slice(0, redirect);
  // `source <(housekeeper …)`: the command inside the process substitution.
  if (command[0] === "source" && command[1]?.startsWith("<(")) {
    const inner = [command[1].slice(2), ...command.slice(2)];
    inner[inner.length - 1] = inner.at(-1)!.replace(/\)$/, "");
    return inner;
  }
  return command;
}

const savedEnv = { ...process.env };
afterEach(() => {
  process.env = { ...savedEnv }; // the root's preAction hook writes the timeout flags to the environment
});

describe("help examples", () => {
  it("every command's --help ends with Examples", async () => {
    let out = "";
    const program = await createProgram({ writeOut: (t) => (out += t), writeErr: (t) => (out += t) });
    const all = commands(program);
    expect(all.length).toBeGreaterThan(25);
    for (const command of all) {
      out = "";
      command.outputHelp();
      const path = commandPath(command);
      expect(out, `housekeeper ${path} --help`).toMatch(/\nExamples:\n( {2}(source <\()?housekeeper .+\n)+$/);
      for (const example of EXAMPLES[path]!) expect(out).toContain(`  ${example}\n`);
    }
    // No table entry without a command (a renamed command would leave its examples behind).
    expect(Object.keys(EXAMPLES).sort()).toEqual(all.map(commandPath).sort());
  });

  const examples = Object.entries(EXAMPLES).flatMap(([path, lines]) => lines.map((line) => [path, line] as const));
  it.each(examples)("%s: %s parses", async (_path, example) => {
    const words = argv(example);
    expect(words[0]).toBe("housekeeper");
    const program = await createProgram({ writeOut: () => {}, writeErr: () => {} }, words.slice(1));
    let ran: string | undefined;
    for (const command of commands(program)) {
      if (command.commands.length === 0) {
        command.action((...args: unknown[]) => {
          ran = commandPath(args.at(-1) as Command);
        });
      }
    }
    await program.parseAsync(words.slice(1), { from: "user" });
    expect(ran, `${example} reached no command`).toBeDefined();
  });
});
