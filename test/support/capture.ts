/** A Writable that keeps what the CLI wrote to it as text, for in-process command tests. */
import { Writable } from "node:stream";

export class Capture extends Writable {
  text = "";
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}
