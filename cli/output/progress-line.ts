/**
 * A one-line progress indicator on a terminal (stderr), erased before other output; silent when not a TTY, so piped
 * or captured output never holds control characters. Shared by `workflow purge` and `retention run`.
 */
export class ProgressLine {
  private last = 0;
  private shown = false;

  constructor(private readonly stream: Pick<NodeJS.WriteStream, "write" | "isTTY"> = process.stderr) {}

  show(text: string): void {
    if (!this.stream.isTTY) return;
    // At most five redraws a second: a fast run is not slowed down by the terminal.
    const now = Date.now();
    if (now - this.last < 200) return;
    this.last = now;
    this.stream.write(`\r\x1b[K${text}`);
    this.shown = true;
  }

  clear(): void {
    if (this.shown) this.stream.write("\r\x1b[K");
    this.shown = false;
  }
}
