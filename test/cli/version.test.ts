/** `housekeeper version [-o json]`: the version a Dapr user looks for with `dapr version`, in text or JSON. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { runHousekeeper } from "../support/cli.ts";

const VERSION = (
  JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }
).version;

describe("housekeeper version", () => {
  it("prints the versions as text, or as JSON with -o json, and refuses other formats", async () => {
    const text = await runHousekeeper(["version"]);
    expect(text).toEqual({
      code: 0,
      stdout: `Housekeeper version: ${VERSION}\nNode.js version: ${process.version}\n`,
      stderr: "",
    });
    const json = await runHousekeeper(["version", "-o", "json"]);
    expect(JSON.parse(json.stdout)).toEqual({ housekeeperVersion: VERSION, nodeVersion: process.version });
    const bad = await runHousekeeper(["version", "-o", "xml"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('Error: invalid value "xml" for --output: text or json\n');
    expect((await runHousekeeper(["--version"])).stdout).toBe(`${VERSION}\n`);
  });
});
