/**
 * Text into a ByteChannel: `write` batches small writes into ~64 KiB chunks (one Buffer per chunk, not per line), so
 * several reports can be rendered in one pass over the records and uploaded side by side in bounded memory.
 */
import { ByteChannel } from "../../util/byte-channel.ts";

const CHUNK = 64 * 1024;

export class TextChannel implements AsyncIterable<Uint8Array> {
  private readonly channel: ByteChannel;
  private pending: string[] = [];
  private pendingSize = 0;

  constructor(highWater = 1024 * 1024) {
    this.channel = new ByteChannel(highWater, "the report");
  }

  /** Bytes written so far (after `end`, the object's size). */
  get bytes(): number {
    return this.channel.bytes;
  }

  async write(text: string): Promise<void> {
    this.channel.assertOpen();
    if (text === "") return;
    this.pending.push(text);
    this.pendingSize += text.length;
    if (this.pendingSize >= CHUNK) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const chunk = Buffer.from(this.pending.join(""), "utf8");
    this.pending = [];
    this.pendingSize = 0;
    await this.channel.send(chunk);
  }

  /** Flushes what is buffered and ends the stream. */
  async end(): Promise<void> {
    await this.flush();
    this.channel.end();
  }

  abort(error: unknown): void {
    this.channel.abort(error);
  }

  [Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    return this.channel[Symbol.asyncIterator]();
  }
}
