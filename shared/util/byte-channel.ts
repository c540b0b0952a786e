/**
 * A single-producer, single-consumer byte channel with back-pressure, for streaming what a job produces into an
 * upload (`ObjectStore.put` reads an AsyncIterable) in bounded memory: `send` waits while `highWater` bytes are
 * queued; the consumer iterates. `abort` fails both sides (a failed upload stops the producer, and vice versa).
 */
export class ByteChannel implements AsyncIterable<Uint8Array> {
  private readonly queue: Uint8Array[] = [];
  private queued = 0;
  private ended = false;
  private failure: { error: unknown } | undefined;
  private wakeConsumer: (() => void) | undefined;
  private wakeProducer: (() => void) | undefined;

  /** Bytes sent so far (after `end`, the object's size). */
  bytes = 0;

  /** `what` names the stream in the error the producer gets when the consumer stops reading early. */
  constructor(
    private readonly highWater: number,
    private readonly what = "the stream",
  ) {}

  async send(chunk: Uint8Array): Promise<void> {
    this.assertOpen();
    if (chunk.length === 0) return;
    this.queue.push(chunk);
    this.queued += chunk.length;
    this.bytes += chunk.length;
    this.wake();
    while (this.queued >= this.highWater && this.failure === undefined) {
      await new Promise<void>((resolve) => {
        this.wakeProducer = resolve;
      });
    }
    this.throwIfFailed();
  }

  end(): void {
    this.ended = true;
    this.wake();
  }

  abort(error: unknown): void {
    this.failure ??= { error };
    this.wake();
  }

  /** Throws what failed the channel, or that it has ended: a producer checks before it does work for nothing. */
  assertOpen(): void {
    this.throwIfFailed();
    if (this.ended) throw new Error(`${this.what}: send after end`);
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure.error;
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
        this.throwIfFailed();
        const chunk = this.queue.shift();
        if (chunk !== undefined) {
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
      if (!this.ended || this.queue.length > 0) this.abort(new Error(`the upload stopped reading ${this.what}`));
    }
  }
}
