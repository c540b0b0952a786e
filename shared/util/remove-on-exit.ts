/**
 * Temp files and directories that must not outlive the process: removed by their owner when it is done, and as a
 * last resort synchronously on exit — which the CLI reaches on Ctrl-C/SIGTERM through process.exit, skipping the
 * owners' `finally` blocks. (A SIGKILL leaves them; their names start with `housekeeper-` or end in `.spool`/`.tmp`.)
 */
import { rmSync } from "node:fs";

const paths = new Set<string>();
let listening = false;

function removeAll(): void {
  for (const path of paths) rmSync(path, { recursive: true, force: true });
  paths.clear();
}

/** Registers `path` for removal on exit; the returned function unregisters it (call it once the owner removed it). */
export function removeOnExit(path: string): () => void {
  if (!listening) {
    process.on("exit", removeAll);
    listening = true;
  }
  paths.add(path);
  return () => {
    paths.delete(path);
  };
}
