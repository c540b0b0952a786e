/**
 * Dapr CLI status lines (dapr/cli pkg/print/print.go `SuccessStatusEvent`, `FailureStatusEvent`, `InfoStatusEvent`,
 * `WarningStatusEvent`): an emoji and two spaces before the text, no prefix on Windows.
 */
export type StatusKind = "success" | "failure" | "info" | "warning";

const PREFIX: Record<StatusKind, string> = {
  success: "\u2705  ",
  failure: "\u274c  ",
  info: "\u2139\ufe0f  ",
  warning: "\u26a0  ",
};

export function statusLine(kind: StatusKind, text: string, platform: NodeJS.Platform = process.platform): string {
  return `${platform === "win32" ? "" : PREFIX[kind]}${text}\n`;
}

/** Prints the status lines of the `workflow` commands that talk to the sidecar, on stdout. */
export class StatusPrinter {
  constructor(private readonly io: { stdout: Pick<NodeJS.WritableStream, "write">; platform: NodeJS.Platform }) {}

  info(text: string): void {
    this.io.stdout.write(statusLine("info", text, this.io.platform));
  }

  success(text: string): void {
    this.io.stdout.write(statusLine("success", text, this.io.platform));
  }
}
