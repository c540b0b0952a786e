/** `housekeeper version [-o json]` and the version `-v/--version` prints: the package's, read from package.json. */
import { readFileSync } from "node:fs";
import { Command } from "commander";
import { HousekeeperError } from "../shared/errors.ts";

export function packageVersion(): string {
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
export function versionCommand(write: (text: string) => void): Command {
  return new Command("version")
    .description("print the housekeeper version and the Node.js version it runs on")
    .option("-o, --output <format>", "text or json", "text")
    .action((opts: { output: string }) => {
      const versions = { housekeeperVersion: packageVersion(), nodeVersion: process.version };
      if (opts.output === "json") write(`${JSON.stringify(versions, null, 2)}\n`);
      else if (opts.output === "text") {
        write(`Housekeeper version: ${versions.housekeeperVersion}\nNode.js version: ${versions.nodeVersion}\n`);
      } else throw new HousekeeperError("bad-input", `invalid value "${opts.output}" for --output: text or json`);
    });
}
