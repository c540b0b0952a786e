/**
 * The environment for building a Go program here: standard library only, everything in `dir`, nothing fetched (the
 * Go module proxy is unreachable, and a build must not try it).
 */
import { join } from "node:path";

export function offlineGoEnv(dir: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GO111MODULE: "off",
    GOCACHE: join(dir, "gocache"),
    GOPATH: join(dir, "gopath"),
    GOFLAGS: "",
    GOTOOLCHAIN: "local",
    GOPROXY: "off",
    CGO_ENABLED: "0",
  };
}
