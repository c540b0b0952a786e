/** `dapr-housekeeper/<version>`: the User-Agent of every sidecar call, version from package.json when readable. */
import { readFileSync } from "node:fs";

let cached: string | undefined;

export function defaultUserAgent(): string {
  if (cached === undefined) {
    let version = "0.0.0";
    try {
      const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
        version?: unknown;
      };
      if (typeof pkg.version === "string") version = pkg.version;
    } catch {
      // Bundled (e.g. in a Lambda zip) without package.json next to it: the name alone still identifies us.
    }
    cached = `dapr-housekeeper/${version}`;
  }
  return cached;
}
