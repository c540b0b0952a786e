/**
 * Buffered, back-pressured text output: collects small writes into ~64 KiB chunks and waits for the stream to drain,
 * so printing 100,000 rows into a slow pipe never queues the whole output in memory.
 */
import type { Writable } from "node:stream";
import { goJsonIndent } from "./go-format.ts";
import { type GoYamlOptions, goYamlListItem } from "./go-yaml.ts";

const CHUNK = 64 * 1024;

export class OutputSink {
  private parts: string[] = [];
  private size = 0;

  /**
   * `write` replaces `stream.write` for the chunks (e.g. Progress.print, so the status line is redrawn below them);
   * it must return what the stream's write returned, and the sink waits for the stream's 'drain'.
   */
  constructor(
    private readonly stream: Writable = process.stdout,
    private readonly writeChunk: (chunk: string) => boolean = (chunk) => stream.write(chunk),
  ) {}

  async write(text: string): Promise<void> {
    this.parts.push(text);
    this.size += text.length;
    if (this.size >= CHUNK) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.parts.length === 0) return;
    const chunk = this.parts.join("");
    this.parts = [];
    this.size = 0;
    if (!this.writeChunk(chunk)) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = () => {
          this.stream.off("error", onError);
          resolve();
        };
        const onError = (error: Error) => {
          this.stream.off("drain", onDrain);
          reject(error);
        };
        this.stream.once("drain", onDrain);
        this.stream.once("error", onError);
      });
    }
  }
}

/** Writes a JSON array element by element, laid out like Go json.MarshalIndent(list, "", "  "). */
export class JsonArrayWriter {
  private count = 0;

  constructor(private readonly sink: OutputSink) {}

  async item(value: unknown): Promise<void> {
    await this.sink.write(`${this.count === 0 ? "[\n" : ",\n"}  ${goJsonIndent(value, 1)}`);
    this.count++;
  }

  /** Closes the array (prints `[]` when empty), with no newline after it, as Go's MarshalIndent output. */
  async end(): Promise<void> {
    await this.sink.write(this.count === 0 ? "[]" : "\n]");
  }
}

/** Writes a YAML sequence item by item (`- key: value` blocks), as the Dapr CLI's yaml.v2 does (go-yaml.ts). */
export class YamlListWriter {
  private count = 0;

  constructor(
    private readonly sink: OutputSink,
    private readonly options: GoYamlOptions = {},
  ) {}

  async item(value: object): Promise<void> {
    await this.sink.write(goYamlListItem(value, this.options));
    this.count++;
  }

  async end(): Promise<void> {
    if (this.count === 0) await this.sink.write("[]\n");
  }
}
