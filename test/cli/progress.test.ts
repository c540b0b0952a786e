/**
 * The live status line (cli/output/progress-line.ts): the real CLI on a terminal (stderr a pty made with util-linux
 * `script`, stdout into a file) draws it on stderr and erases it, redraws it below every output line, and never puts
 * a byte of it on stdout; without a terminal, or with --quiet, nothing of it is written; --progress asks for a plain
 * line on a non-terminal. The commands read the embedded sample store, a real PostgreSQL and a real etcd.
 */
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { clock, Progress, type ProgressStream, renderCounts, setProgressMode } from "../../cli/output/progress-line.ts";
import { validateExportFileAt } from "../../shared/scheduler/export.ts";
import { encodeExportFile } from "../../shared/scheduler/gob-encode.ts";
import { SEED_ENTRIES, TestStores } from "../scheduler/support.ts";
import { createPostgresStateDatabase } from "../support/stores.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const BIN = join(ROOT, "bin/housekeeper.mjs");
const ESC = "\x1b";

function hasScript(): boolean {
  try {
    execFileSync("sh", ["-c", "command -v script"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

/** The CLI off a terminal: stdout and stderr both pipes. */
function piped(cwd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ["HOUSEKEEPER_CONNECTION_STRING", "HOUSEKEEPER_ETCD_ENDPOINTS", "HOUSEKEEPER_DEBUG"])
    delete env[name];
  return new Promise((done) => {
    execFile(process.execPath, [BIN, ...args], { cwd, env, timeout: 120_000 }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

interface PtyRun {
  code: number;
  /** What reached the terminal: stderr (and stdout when not redirected). */
  terminal: string;
  /** The command's stdout, from the file it was redirected to (or "" when it went to the terminal). */
  stdout: string;
}

/** Runs the CLI on a pty (`script`); stdout goes to a file unless `stdoutToTerminal`. */
function onTerminal(cwd: string, args: string[], options: { stdoutToTerminal?: boolean } = {}): Promise<PtyRun> {
  const out = join(cwd, `stdout-${Math.random().toString(36).slice(2)}.txt`);
  const command =
    [process.execPath, BIN, ...args].map(quote).join(" ") + (options.stdoutToTerminal ? "" : ` > ${quote(out)}`);
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ["HOUSEKEEPER_CONNECTION_STRING", "HOUSEKEEPER_ETCD_ENDPOINTS", "HOUSEKEEPER_DEBUG"])
    delete env[name];
  return new Promise((done) => {
    execFile("script", ["-q", "-e", "-c", command, "/dev/null"], { cwd, env, timeout: 120_000 }, (error, stdout) => {
      done({
        code: error ? (typeof error.code === "number" ? error.code : 1) : 0,
        // The erase-line sequence made visible (regular expressions may not hold control characters).
        terminal: stdout.replaceAll(`${ESC}[K`, "<EL>"),
        stdout: options.stdoutToTerminal ? "" : readFileSync(out, "utf8"),
      });
    });
  });
}

describe("Progress", () => {
  const fake = (isTTY: boolean, columns = 100) => {
    const writes: string[] = [];
    const stream: ProgressStream = {
      isTTY,
      columns,
      write: (chunk: string | Uint8Array) => {
        writes.push(String(chunk));
        return true;
      },
    };
    return { writes, stream };
  };

  it("on a terminal: drawn at once, erased before a line is printed and drawn again below it, erased at the end", () => {
    const { writes, stream } = fake(true);
    const counts = { scanned: 0, selected: 0 };
    const progress = Progress.start("workflow list", () => counts, { noun: "instances", stream, intervalMs: 60_000 });
    counts.scanned = 1234;
    expect(progress.print(stream, "a line\n")).toBe(true); // the stream's answer, for back-pressure
    progress.stop();
    progress.stop();
    expect(writes).toEqual([
      "\r\x1b[Kworkflow list: 0 instances scanned, 0 selected · 0/s · 0s",
      "\r\x1b[K",
      "a line\n",
      "\r\x1b[Kworkflow list: 1,234 instances scanned, 0 selected · 0/s · 0s",
      "\r\x1b[K",
    ]);
  });

  it("cuts the line to the terminal's width, so it can be redrawn in place", () => {
    const { writes, stream } = fake(true, 60);
    const progress = Progress.start("a-very-long-label-for-a-command", () => ({ scanned: 123_456_789 }), {
      noun: "instances",
      stream,
    });
    progress.stop();
    expect(writes[0]!.length).toBe("\r\x1b[K".length + 59);
    expect(writes[0]!.endsWith("…")).toBe(true);
  });

  it("writes nothing when not a terminal, or when --quiet turned it off; lines pass through unchanged", () => {
    for (const [isTTY, mode] of [
      [false, "auto"],
      [true, "off"],
    ] as const) {
      setProgressMode(mode);
      try {
        const { writes, stream } = fake(isTTY);
        const progress = Progress.start("x", () => ({ scanned: 1 }), { noun: "jobs", stream });
        progress.print(stream, "line\n");
        progress.stop();
        expect(writes).toEqual(["line\n"]);
      } finally {
        setProgressMode("auto");
      }
    }
  });

  it("counts: thousands separators, the rate of the work with a total, an ETA", () => {
    expect(
      renderCounts(
        { scanned: 50_000, selected: 2_000, done: 1_000, total: 2_000 },
        { noun: "instances", doneWord: "purged" },
        10_000,
      ),
    ).toBe("50,000 instances scanned, 2,000 selected, 1,000/2,000 purged · 100/s · 10s · ETA 10s");
    expect(clock(65_000)).toBe("1m05s");
    expect(clock(2 * 3_600_000 + 3 * 60_000)).toBe("2h03m");
  });
});

describe("what scheduler import's check reports to its status line", () => {
  it("entries decoded, then, for a file out of key order (Go's map order), entries past the duplicate check", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hk-progress-check-"));
    try {
      const value = SEED_ENTRIES.find((e) => e.key.startsWith("dapr/jobs/"))!.value;
      const keys = ["dapr/jobs/app||default||x||b", "dapr/jobs/app||default||x||a", "dapr/jobs/app||default||x||c"];
      const seen = async (sortKeys: boolean) => {
        const path = join(dir, `${sortKeys}.bin`);
        writeFileSync(
          path,
          encodeExportFile({ jobs: keys.map((k) => [k, value] as const), counters: [] }, { sortKeys }),
        );
        const decoded: number[] = [];
        const checked: number[] = [];
        await validateExportFileAt(path, { onDecoded: (n) => decoded.push(n), onChecked: (n) => checked.push(n) });
        return { decoded, checked };
      };
      expect(await seen(false)).toEqual({ decoded: [1, 2, 3], checked: [1, 2, 3] });
      expect(await seen(true)).toEqual({ decoded: [1, 2, 3], checked: [] }); // in order: no second pass
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the CLI on a terminal and off it", () => {
  let cwd: string;
  beforeAll(async () => {
    // Fails rather than skips: a machine without `script` would otherwise pass without testing the terminal.
    if (!hasScript()) throw new Error("needs script (Debian package bsdutils; .ci/run checks for it)");
    cwd = mkdtempSync(join(tmpdir(), "hk-progress-"));
    // Creates the sample store once, so the runs below only read it.
    const first = await onTerminal(cwd, ["workflow", "list", "-a", "orderprocessing", "-o", "ids"]);
    expect(first.code, first.terminal).toBe(0);
  }, 120_000);
  afterAll(() => rmSync(cwd, { recursive: true, force: true }));

  it("workflow list: the line on stderr, stdout exactly what it is off a terminal", async () => {
    const tty = await onTerminal(cwd, ["workflow", "list", "-a", "orderprocessing", "-o", "json"]);
    expect(tty.code, tty.terminal).toBe(0);
    expect(tty.terminal).toMatch(/\r<EL>workflow list: \d+ instances scanned, \d+ listed · [\d,]+\/s · \d+s/);
    expect(tty.terminal.endsWith("\r<EL>")).toBe(true);
    expect(tty.stdout).not.toContain(ESC);
    const off = await piped(cwd, ["workflow", "list", "-a", "orderprocessing", "-o", "json"]);
    expect(off.code).toBe(0);
    expect(off.stdout).toBe(tty.stdout);
    expect(off.stderr).not.toContain(ESC);
    expect(off.stderr).not.toContain("scanned");
  });

  it("workflow purge --dry-run: the status line is drawn again below every printed line", async () => {
    const run = await onTerminal(
      cwd,
      ["workflow", "purge", "-a", "orderprocessing", "--all-older-than", "720h", "--dry-run"],
      { stdoutToTerminal: true },
    );
    expect(run.code, run.terminal).toBe(0);
    const lines = run.terminal.split("\r\n");
    const purgeLines = lines.filter((l) => l.includes("Would purge workflow instance"));
    expect(purgeLines.length).toBeGreaterThan(1);
    // Each printed line (but the last before the summary) is followed by the status line, redrawn.
    for (const line of purgeLines.slice(0, -1))
      expect(lines[lines.indexOf(line) + 1]).toMatch(/^\r<EL>workflow purge: /);
    expect(run.terminal).toMatch(/workflow purge: 106 instances scanned, [1-9]\d* would be purged · /);
    expect(run.terminal).toMatch(/\r<EL>\S*\s+\d+ workflow instance\(s\) would be purged \(scanned 106\)/);
  });

  it("workflow list -o ids: the line while the IDs stream, redrawn below them on a terminal; stdout unchanged", async () => {
    const ids = ["workflow", "list", "-a", "orderprocessing", "-o", "ids"];
    const tty = await onTerminal(cwd, ids);
    expect(tty.code, tty.terminal).toBe(0);
    expect(tty.terminal).toMatch(/\r<EL>workflow list: \d+ instances scanned, \d+ listed · [\d,]+\/s · \d+s/);
    expect(tty.terminal.endsWith("\r<EL>")).toBe(true);
    expect(tty.stdout).not.toContain(ESC);
    const off = await piped(cwd, ids);
    expect(off.code).toBe(0);
    expect(off.stdout).toBe(tty.stdout);
    expect(off.stdout.split("\n").length).toBe(107); // the sample's 106 IDs, one a line
    expect(off.stderr).not.toContain("scanned");
    // IDs on the terminal too: the line is erased before them and drawn again below them.
    const shared = await onTerminal(cwd, ids, { stdoutToTerminal: true });
    expect(shared.code, shared.terminal).toBe(0);
    const lastId = off.stdout.trimEnd().split("\n").at(-1)!;
    expect(shared.terminal).toContain(`${lastId}\r\n\r<EL>workflow list: 106 instances scanned, 106 listed · `);
  });

  it("report stuck: the line on stderr, the table on stdout untouched", async () => {
    const run = await onTerminal(cwd, ["report", "stuck", "-a", "orderprocessing"]);
    expect(run.code, run.terminal).toBe(0);
    expect(run.terminal).toMatch(/\r<EL>report stuck: \d+ instances scanned, \d+ stuck · /);
    expect(run.stdout).not.toContain(ESC);
    expect(run.stdout).toMatch(/^INSTANCE/);
  });

  it("--quiet: nothing of it, even on a terminal; --progress: a plain line off one", async () => {
    const quiet = await onTerminal(cwd, ["workflow", "list", "-a", "orderprocessing", "--quiet"]);
    expect(quiet.code).toBe(0);
    expect(quiet.terminal).not.toContain("scanned");
    expect(quiet.terminal).not.toContain(ESC);
    const plain = await piped(cwd, ["workflow", "list", "-a", "orderprocessing", "-o", "json", "--progress"]);
    expect(plain.code).toBe(0);
    expect(plain.stderr).not.toContain(ESC);
    expect(plain.stderr).toMatch(/\nworkflow list: \d+ instances scanned, \d+ listed · [\d,]+\/s · \d+s\n$/);
    const both = await piped(cwd, ["workflow", "list", "-a", "orderprocessing", "-q", "--progress"]);
    expect(both.code).toBe(2);
    expect(both.stderr).toBe("Error: --quiet and --progress contradict\n");
  });

  describe("scheduler orphans, export and import (real PostgreSQL and etcd)", () => {
    const stores = new TestStores(inject("etcdEndpoint"));
    afterAll(() => stores.cleanUp());

    it("each shows its line on stderr and leaves stdout clean", async () => {
      const source = await stores.create(SEED_ENTRIES);
      const target = await stores.create();
      const etcd = ["--etcd-endpoints", inject("etcdEndpoint")];
      const url = await createPostgresStateDatabase("progress");
      const orphans = await onTerminal(cwd, [
        "scheduler",
        "orphans",
        "-a",
        "orders",
        "-c",
        url,
        ...etcd,
        "--etcd-root",
        source.root,
      ]);
      expect(orphans.code, orphans.terminal).toBe(0);
      expect(orphans.terminal).toMatch(/\r<EL>scheduler orphans: \d+ jobs scanned, \d+ orphaned · /);
      expect(orphans.stdout).not.toContain(ESC);

      // --delete counts first (here the store holds no instance of the app, so it then refuses): that pass shows too.
      const orphanArgs = ["scheduler", "orphans", "-a", "orders", "-c", url, ...etcd, "--etcd-root", source.root];
      const counted = await onTerminal(cwd, [...orphanArgs, "--delete"]);
      expect(counted.code, counted.terminal).toBe(2);
      expect(counted.terminal).toMatch(
        /\r<EL>scheduler orphans \(counting\): \d+ jobs scanned, \d+ orphaned · [\d,]+\/s · \d+s/,
      );
      expect(counted.terminal).toMatch(/\r<EL>Error: .*add --force\r\n$/);
      expect(counted.stdout).toBe("");

      const file = join(cwd, "export.bin");
      const exported = await onTerminal(cwd, ["scheduler", "export", "-o", file, ...etcd, "--etcd-root", source.root]);
      expect(exported.code, exported.terminal).toBe(0);
      expect(exported.terminal).toMatch(/\r<EL>scheduler export: \d+ keys scanned · /);
      expect(exported.stdout).toMatch(/^Exported \d+ jobs and \d+ counters\.\nExport to '.*' complete\.\n$/);

      const imported = await onTerminal(cwd, ["scheduler", "import", "-f", file, ...etcd, "--etcd-root", target.root]);
      expect(imported.code, imported.terminal).toBe(0);
      // First the check of the file (nothing written yet), then the writes.
      expect(imported.terminal).toMatch(/\r<EL>scheduler import \(checking\): \d+ entries scanned · /);
      expect(imported.terminal.indexOf("(checking)")).toBeLessThan(imported.terminal.indexOf("written"));
      expect(imported.terminal).toContain(
        `\r<EL>scheduler import: ${SEED_ENTRIES.length} entries scanned, 0/${SEED_ENTRIES.length} written · `,
      );
      expect(imported.stdout).toBe(`Imported ${SEED_ENTRIES.length} items.\nImport from '${file}' complete.\n`);
    });
  });
});
