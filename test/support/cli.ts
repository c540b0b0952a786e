/**
 * Runs the real CLI (`bin/housekeeper.mjs`) in a child process, as a user would, with the caller's environment minus
 * the housekeeper settings a developer's shell may hold (so a test sees only what it passes in `env`).
 */
import { execFile } from "node:child_process";

export interface CliRun {
  /** The exit code; 1 also when a signal ended the process (then `signal` names it). */
  code: number;
  stdout: string;
  stderr: string;
  signal?: NodeJS.Signals;
}

const ROOT = new URL("../../", import.meta.url).pathname;
const CLEARED = [
  "HOUSEKEEPER_ETCD_ENDPOINTS",
  "HOUSEKEEPER_CONNECTION_STRING",
  "HOUSEKEEPER_DEBUG",
  "HOUSEKEEPER_CONNECT_TIMEOUT",
  "HOUSEKEEPER_REQUEST_TIMEOUT",
];

export function runHousekeeper(args: readonly string[], env: Record<string, string> = {}): Promise<CliRun> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const name of CLEARED) if (!(name in env)) delete childEnv[name];
  return new Promise((done) => {
    execFile(
      process.execPath,
      ["bin/housekeeper.mjs", ...args],
      // Output of large listings runs to megabytes (execFile stops at 1 MB by default).
      { cwd: ROOT, env: childEnv, timeout: 60_000, maxBuffer: 256 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        done(error?.signal ? { code, stdout, stderr, signal: error.signal } : { code, stdout, stderr });
      },
    );
  });
}
