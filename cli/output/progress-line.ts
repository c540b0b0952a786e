/**
 * The live status line of long commands (`workflow list`, also `-o ids`; `workflow purge`, `report stuck`,
 * `scheduler orphans`, also its count before `--delete`; `scheduler export`, `scheduler import`, also while it checks
 * the file; `retention run`), on stderr only, so stdout stays exactly the command's output.
 *
 * On a terminal the line stays at the bottom: a timer redraws it in place four times a second (counts, rate, elapsed
 * time, ETA when the total is known), and every line the command prints goes through `print`, which erases the status,
 * writes the line and draws the status again below it. When stderr is not a terminal nothing is drawn, unless
 * `--progress` asks for it: then a plain line every few seconds (for CI logs). `--quiet` turns it off.
 */

import { count } from "../../shared/util/count.ts";

export type ProgressMode = "auto" | "off" | "on";

let mode: ProgressMode = "auto";

/** Set once from the global flags (`--quiet` → off, `--progress` → on). */
export function setProgressMode(next: ProgressMode): void {
  mode = next;
}

export interface ProgressCounts {
  /** Items read so far (instances, jobs, entries). */
  scanned: number;
  /** Of those, the ones selected (would be purged, stuck, orphaned…). */
  selected?: number;
  /** Work done so far (purged, written…), with `total` when it is known. */
  done?: number;
  total?: number;
}

export interface ProgressOptions {
  /** What is counted: "instances", "jobs", "entries". */
  noun: string;
  /** The word for `selected`, e.g. "selected", "stuck", "orphaned". */
  selectedWord?: string;
  /** The word for `done`, e.g. "purged", "written". */
  doneWord?: string;
  /** Test seam: the stream the line goes to (default process.stderr). */
  stream?: ProgressStream;
  /** Milliseconds between redraws on a terminal (default 250), between plain lines otherwise (default 5000). */
  intervalMs?: number;
}

export type ProgressStream = Pick<NodeJS.WriteStream, "write"> & { isTTY?: boolean; columns?: number };

type Out = Pick<NodeJS.WritableStream, "write"> & { isTTY?: boolean };

const ERASE = "\r\x1b[K";

export class Progress {
  private readonly started = Date.now();
  private readonly stream: ProgressStream;
  private readonly kind: "tty" | "plain" | "off";
  private timer: NodeJS.Timeout | undefined;
  private shown = false;

  private constructor(
    private readonly label: string,
    private readonly sample: () => ProgressCounts,
    private readonly options: ProgressOptions,
  ) {
    this.stream = options.stream ?? process.stderr;
    this.kind = mode === "off" ? "off" : this.stream.isTTY ? "tty" : mode === "on" ? "plain" : "off";
  }

  /** Starts showing `label: <counts>`; `sample` is read at every redraw, so callers only keep their counters. */
  static start(label: string, sample: () => ProgressCounts, options: ProgressOptions): Progress {
    const progress = new Progress(label, sample, options);
    if (progress.kind === "off") return progress;
    const interval = options.intervalMs ?? (progress.kind === "tty" ? 250 : 5000);
    progress.timer = setInterval(() => progress.draw(), interval);
    // The line must never keep the process alive once the command is done.
    progress.timer.unref();
    if (progress.kind === "tty") progress.draw(); // at once: the user sees the command is working
    return progress;
  }

  /**
   * Writes one line of the command's output (to stdout or stderr) above the status line, which is redrawn. Returns
   * what `out.write` returned, so a caller can wait for 'drain' (see OutputSink).
   */
  print(out: Out, text: string): boolean {
    if (this.kind !== "tty" || !this.shown || (out !== this.stream && !out.isTTY)) {
      // Output that does not reach the terminal (stdout into a pipe or file) leaves the status line alone.
      return out.write(text);
    }
    this.stream.write(ERASE);
    this.shown = false;
    const flushed = out.write(text);
    this.draw();
    return flushed;
  }

  /** Erases the line and stops redrawing; idempotent. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    // A plain log (--progress off a terminal) ends with where the command got to.
    if (this.timer && this.kind === "plain") this.draw();
    this.timer = undefined;
    if (this.kind === "tty" && this.shown) this.stream.write(ERASE);
    this.shown = false;
  }

  private draw(): void {
    if (this.kind === "off") return;
    const text = `${this.label}: ${renderCounts(this.sample(), this.options, Date.now() - this.started)}`;
    if (this.kind === "plain") {
      this.stream.write(`${text}\n`);
      return;
    }
    // Cut to the terminal's width: a wrapped line could not be redrawn in place.
    const width = (this.stream.columns || 80) - 1; // a pty without a size says 0
    this.stream.write(`${ERASE}${text.length > width ? `${text.slice(0, Math.max(0, width - 1))}…` : text}`);
    this.shown = true;
  }
}

/** `12,345 instances scanned, 1,234 selected, 1,000/1,234 purged · 2,345/s · 12s · ETA 3s`. */
export function renderCounts(counts: ProgressCounts, options: ProgressOptions, elapsedMs: number): string {
  const parts = [`${count(counts.scanned)} ${options.noun} scanned`];
  if (counts.selected !== undefined) parts.push(`${count(counts.selected)} ${options.selectedWord ?? "selected"}`);
  if (counts.done !== undefined) {
    const of = counts.total === undefined ? "" : `/${count(counts.total)}`;
    parts.push(`${count(counts.done)}${of} ${options.doneWord ?? "done"}`);
  }
  const seconds = elapsedMs / 1000;
  // The rate of what is being waited for: the work done when there is a total to reach, else what was read.
  const rated = counts.total !== undefined && counts.done !== undefined ? counts.done : counts.scanned;
  const rate = seconds >= 0.5 ? rated / seconds : 0;
  let line = `${parts.join(", ")} · ${count(Math.round(rate))}/s · ${clock(elapsedMs)}`;
  if (counts.total !== undefined && counts.done !== undefined && rate > 0 && counts.done < counts.total) {
    line += ` · ETA ${clock(((counts.total - counts.done) / rate) * 1000)}`;
  }
  return line;
}

/** `7s`, `1m05s`, `2h03m`. */
export function clock(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}
