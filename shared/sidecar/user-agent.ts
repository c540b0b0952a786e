/** `dapr-housekeeper/<version>`: the User-Agent of every sidecar call, version from package.json when readable. */
import { readFileSync } from "node:fs";

let cached: string | undefined;

export function defaultUserAgent(): string {
  if (cached === undefined) {
    let version = "0.0.0";
    // From the sources (shared/sidecar/) or the built package (dist/shared/sidecar/). Bundled (a Lambda zip) there
    // is no package.json: the name alone still identifies us.
    for (const path of ["../../package.json", "../../../package.json"]) {
      try {
        const pkg = JSON.parse(readFileSync(new URL(path, import.meta.url), "utf8")) as {
          name?: unknown;
          version?: unknown;
        };
        if (pkg.name === "dapr-housekeeper" && typeof pkg.version === "string") {
          version = pkg.version;
          break;
        }
      } catch {
        // not there: try the next
      }
    }
    cached = `dapr-housekeeper/${version}`;
  }
  return cached;
}
