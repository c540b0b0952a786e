/**
 * Runs Node in a child process with a module hook that records every file it loads as a module, so a test can say
 * what a start-up or a cold start really loaded (not what a bundler's metafile says it should).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const HOOKS = `
import { appendFileSync } from "node:fs";
export async function load(url, context, nextLoad) {
  if (url.startsWith("file:")) appendFileSync(process.env.HK_LOADED_LOG, url + "\\n");
  return nextLoad(url, context);
}`;

export interface RecordedRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Absolute paths of the files loaded as modules, in load order, each once. */
  loaded: string[];
}

/** `node <args>` with the recording hook registered first. */
export async function runRecordingLoads(
  args: readonly string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv },
): Promise<RecordedRun> {
  const dir = mkdtempSync(join(tmpdir(), "housekeeper-loads-"));
  try {
    const hooks = join(dir, "hooks.mjs");
    const register = join(dir, "register.mjs");
    const log = join(dir, "loaded.log");
    writeFileSync(hooks, HOOKS);
    writeFileSync(
      register,
      `import { register } from "node:module"; register(${JSON.stringify(pathToFileURL(hooks).href)});\n`,
    );
    writeFileSync(log, "");
    const child = spawn(process.execPath, ["--import", pathToFileURL(register).href, ...args], {
      cwd: options.cwd,
      env: { ...(options.env ?? process.env), HK_LOADED_LOG: log },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const code = await new Promise<number | null>((done) => child.on("close", (c) => done(c)));
    const urls = readFileSync(log, "utf8").split("\n").filter(Boolean);
    const loaded = [...new Set(urls)].map((u) => new URL(u).pathname).filter((p) => p !== hooks && p !== register);
    return { code, stdout, stderr, loaded };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The npm package a loaded file belongs to (`pg`, `@aws-sdk/client-s3`), or undefined for our own files. */
export function packageOf(path: string): string | undefined {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path.slice(path.lastIndexOf("node_modules/")));
  return match?.[1];
}
