/**
 * A byte channel with back-pressure: one producer writes text, one consumer (an object-store upload) iterates the
 * bytes. `write` batches small writes into ~64 KiB chunks and waits while more than `highWater` bytes are queued, so
 * several reports can be rendered in one pass over the records and uploaded side by side in bounded memory.
 * `abort` fails both sides (a failed upload stops the rendering and vice versa).
 */
const CHUNK = 64 * 1024;

export class TextChannel implements AsyncIterable<Uint8Array> {
  private readonly queue: Uint8Array[] = [];
  private queued = 0;
  private pending: string[] = [];
  private pendingSize = 0;
  private ended = false;
  private failure: { error: unknown } | undefined;
  private wakeConsumer: (() => void) | undefined;
  private wakeProducer: (() => void) | undefined;

  constructor(private readonly highWater = 1024 * 1024) {}

  /** Bytes written so far (after `end`, the object's size). */
  bytes = 0;

  async write(text: string): Promise<void> {
    if (this.failure) throw this.failure.error;
    if (this.ended) throw new Error("write after end");
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
    this.queue.push(chunk);
    this.queued += chunk.length;
    this.bytes += chunk.length;
    this.wake();
    while (this.queued > this.highWater && !this.failure) {
      await new Promise<void>((resolve) => {
        this.wakeProducer = resolve;
      });
    }
    if (this.failure) throw this.failure.error;
  }

  /** Flushes what is buffered and ends the stream. */
  async end(): Promise<void> {
    await this.flush();
    this.ended = true;
    this.wake();
  }

  abort(error: unknown): void {
    this.failure ??= { error };
    this.wake();
  }

  private wake(): void {
    const consumer = this.wakeConsumer;
    const producer = this.wakeProducer;
    this.wakeConsumer = undefined;
    this.wakeProducer = undefined;
    consumer?.();
    producer?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    try {
      for (;;) {
        if (this.failure) throw this.failure.error;
        const chunk = this.queue.shift();
        if (chunk) {
          this.queued -= chunk.length;
          this.wake();
          yield chunk;
          continue;
        }
        if (this.ended) return;
        await new Promise<void>((resolve) => {
          this.wakeConsumer = resolve;
        });
      }
    } finally {
      // The consumer stopped before the end (its upload failed): make the producer stop too.
      if (!this.ended || this.queue.length > 0) this.abort(new Error("the upload stopped reading the report"));
    }
  }
}
