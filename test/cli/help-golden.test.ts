/**
 * The whole command tree as a user meets it, against a recorded copy (test/cli/fixtures/help.txt): every command's
 * --help, every option's flags, default, env variable, choices and hidden/mandatory state (hidden ones included),
 * and the bash, zsh and fish completion scripts. A refactor of cli/ must leave it byte for byte; a deliberate change
 * of help or flags regenerates it: UPDATE_HELP_GOLDEN=1 npx vitest run test/cli/help-golden.test.ts
 */
import { readFileSync, writeFileSync } from "node:fs";
import type { Command } from "commander";
import { expect, it } from "vitest";
import { createProgram } from "../../cli/program.ts";

const GOLDEN = new URL("fixtures/help.txt", import.meta.url);

async function describeTree(): Promise<string> {
  let out = "";
  const write = (text: string) => {
    out += text;
  };
  // Help wraps at the terminal's width: fix it, as off a terminal.
  const fixWidth = (c: Command) => {
    c.configureOutput({ getOutHelpWidth: () => 80, getErrHelpWidth: () => 80 });
    for (const sub of c.commands) fixWidth(sub);
  };
  const program = await createProgram({ writeOut: write, writeErr: write }, []);
  fixWidth(program);
  const walk = (c: Command, path: string) => {
    out += `==== ${path}\n${c.helpInformation()}\n`;
    // conflictsWith is commander's own field, not in its typings.
    for (const o of c.options as Array<Command["options"][number] & { conflictsWith?: string[] }>) {
      out +=
        `opt ${o.flags} def=${JSON.stringify(o.defaultValue)} env=${o.envVar} choices=${JSON.stringify(o.argChoices)}` +
        ` hidden=${o.hidden} mand=${o.mandatory} conflicts=${JSON.stringify(o.conflictsWith)}\n`;
    }
    for (const sub of c.commands) walk(sub, `${path} ${sub.name()}`);
  };
  walk(program, "housekeeper");
  for (const shell of ["bash", "zsh", "fish"]) {
    out += `==== completion ${shell}\n`;
    const p = await createProgram({ writeOut: write, writeErr: write }, ["completion", shell]);
    await p.parseAsync(["completion", shell], { from: "user" });
  }
  return out;
}

it("help, flags and completion scripts are exactly the recorded ones", async () => {
  const tree = await describeTree();
  if (process.env.UPDATE_HELP_GOLDEN === "1") writeFileSync(GOLDEN, tree);
  expect(tree).toBe(readFileSync(GOLDEN, "utf8"));
});
