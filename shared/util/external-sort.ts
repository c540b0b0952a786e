/**
 * External merge sort: sorts an async stream of records of any size in bounded memory. Records are buffered up to
 * `runSize`; a full buffer is sorted and spilled to a temp file as one serialized record per line (a "run"); at the
 * end the runs are k-way merged through a binary heap while the caller consumes the output. Inputs that fit in one run
 * never touch the disk. The sort is stable: equal records come out in input order.
 *
 * Memory: one run buffer (`runSize` records) while reading, then one record and one read chunk (16 KiB) per open run
 * while merging (at most `fanIn` runs are open; more runs are first merged in groups into longer runs). Runs are read
 * with plain file reads, not readline: readline's async iterator queues up to 1,024 lines per run before it pauses,
 * which at 64 runs of 1 KB records held 64 MB (the stuck report's peak RSS grew from 229 to 319 MiB, 300k → 1M). Temp files live in one mkdtemp
 * directory that is removed when the output finishes, when the consumer stops early (break/return/throw), and, as a
 * last resort, on process exit.
 */
import type { FileHandle } from "node:fs/promises";
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StringDecoder } from "node:string_decoder";
import { removeOnExit } from "./remove-on-exit.ts";

export interface ExternalSortOptions<T> {
  compare: (a: T, b: T) => number;
  /** One record → one line (must not contain "\n" or "\r"). Default JSON.stringify. */
  serialize?: (record: T) => string;
  /** One line → one record. Default JSON.parse. */
  deserialize?: (line: string) => T;
  /** Records held in memory per run (default 20,000). */
  runSize?: number;
  /** Maximum runs merged at once (default 64); more runs are merged in several passes. */
  fanIn?: number;
  /** Parent directory for the temp directory (default os.tmpdir()). */
  tempDir?: string;
  /** Called with the temp directory when the first run is spilled (for tests and diagnostics). */
  onSpill?: (directory: string, runCount: number) => void;
}

export const DEFAULT_RUN_SIZE = 20_000;
const DEFAULT_FAN_IN = 64;
const WRITE_BATCH = 1000;

/** Sorts `source` with `compare`, spilling to disk beyond `runSize` records; yields the records in order. */
export async function* externalSort<T>(
  source: AsyncIterable<T> | Iterable<T>,
  options: ExternalSortOptions<T>,
): AsyncGenerator<T, void, undefined> {
  const runSize = Math.max(1, options.runSize ?? DEFAULT_RUN_SIZE);
  const fanIn = Math.max(2, options.fanIn ?? DEFAULT_FAN_IN);
  const serialize = options.serialize ?? ((r: T) => JSON.stringify(r));
  const deserialize = options.deserialize ?? ((line: string) => JSON.parse(line) as T);
  const compare = options.compare;

  let buffer: T[] = [];
  let directory: string | undefined;
  let forget = () => {};
  const runs: string[] = [];

  const spill = async (): Promise<void> => {
    if (!directory) {
      directory = await mkdtemp(join(options.tempDir ?? tmpdir(), "housekeeper-sort-"));
      forget = removeOnExit(directory);
    }
    buffer.sort(compare); // Array.prototype.sort is stable
    const path = join(directory, `run-${runs.length}.jsonl`);
    await writeLines(path, buffer, serialize);
    runs.push(path);
    buffer = [];
    options.onSpill?.(directory, runs.length);
  };

  try {
    for await (const record of source) {
      buffer.push(record);
      if (buffer.length >= runSize) await spill();
    }
    if (runs.length === 0) {
      buffer.sort(compare);
      const sorted = buffer;
      buffer = [];
      yield* sorted;
      return;
    }
    if (buffer.length > 0) await spill();

    // Reduce to at most fanIn runs by merging the oldest groups first (keeps stability: runs stay in input order).
    let generation = 0;
    while (runs.length > fanIn) {
      const group = runs.splice(0, fanIn);
      const path = join(directory!, `merge-${generation++}.jsonl`);
      await writeLines(path, mergeRuns(group, compare, deserialize), serialize);
      await Promise.all(group.map((p) => rm(p, { force: true })));
      runs.unshift(path);
    }
    yield* mergeRuns(runs, compare, deserialize);
  } finally {
    buffer = [];
    if (directory) {
      await rm(directory, { recursive: true, force: true });
      forget();
    }
  }
}

async function writeLines<T>(
  path: string,
  records: Iterable<T> | AsyncIterable<T>,
  serialize: (record: T) => string,
): Promise<void> {
  const file = await open(path, "w");
  try {
    let batch: string[] = [];
    for await (const record of records) {
      const line = serialize(record);
      if (line.includes("\n") || line.includes("\r")) {
        throw new Error("externalSort: a serialized record contains a line break");
      }
      batch.push(line);
      if (batch.length >= WRITE_BATCH) {
        await file.write(`${batch.join("\n")}\n`);
        batch = [];
      }
    }
    if (batch.length > 0) await file.write(`${batch.join("\n")}\n`);
  } finally {
    await file.close();
  }
}

interface HeapEntry<T> {
  record: T;
  run: number;
}

/** K-way merge of sorted run files; ties go to the lower run index (earlier input), so the merge is stable. */
async function* mergeRuns<T>(
  paths: string[],
  compare: (a: T, b: T) => number,
  deserialize: (line: string) => T,
): AsyncGenerator<T, void, undefined> {
  const readers: LineReader[] = [];
  const less = (a: HeapEntry<T>, b: HeapEntry<T>): boolean => {
    const c = compare(a.record, b.record);
    return c < 0 || (c === 0 && a.run < b.run);
  };
  const heap: HeapEntry<T>[] = [];
  const push = (entry: HeapEntry<T>) => {
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!less(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  };
  const pop = (): HeapEntry<T> => {
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let smallest = i;
        if (l < heap.length && less(heap[l]!, heap[smallest]!)) smallest = l;
        if (r < heap.length && less(heap[r]!, heap[smallest]!)) smallest = r;
        if (smallest === i) break;
        [heap[i], heap[smallest]] = [heap[smallest]!, heap[i]!];
        i = smallest;
      }
    }
    return top;
  };
  const advance = async (run: number): Promise<void> => {
    for (;;) {
      const line = await readers[run]!.next();
      if (line === undefined) return;
      if (line === "") continue;
      push({ record: deserialize(line), run });
      return;
    }
  };

  try {
    for (const path of paths) readers.push(new LineReader(await open(path, "r")));
    for (let run = 0; run < readers.length; run++) await advance(run);
    while (heap.length > 0) {
      const top = pop();
      yield top.record;
      await advance(top.run);
    }
  } finally {
    await Promise.all(readers.map((reader) => reader.close()));
  }
}

const READ_CHUNK = 16 * 1024;

/** The lines of a file, one chunk read at a time: holds at most one chunk's lines and a partial line. */
class LineReader {
  private readonly buffer = Buffer.allocUnsafe(READ_CHUNK);
  private readonly decoder = new StringDecoder("utf8");
  private lines: string[] = [];
  private index = 0;
  private rest = "";
  private ended = false;

  constructor(private readonly file: FileHandle) {}

  /** The next line without its "\n"; undefined at the end of the file. */
  async next(): Promise<string | undefined> {
    for (;;) {
      if (this.index < this.lines.length) return this.lines[this.index++];
      if (this.ended) {
        if (this.rest === "") return undefined;
        const last = this.rest;
        this.rest = "";
        return last;
      }
      const { bytesRead } = await this.file.read(this.buffer, 0, READ_CHUNK, null);
      const text = bytesRead === 0 ? this.decoder.end() : this.decoder.write(this.buffer.subarray(0, bytesRead));
      if (bytesRead === 0) this.ended = true;
      const parts = (this.rest + text).split("\n");
      this.rest = parts.pop() ?? "";
      this.lines = parts;
      this.index = 0;
    }
  }

  close(): Promise<void> {
    return this.file.close();
  }
}
