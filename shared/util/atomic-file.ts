/**
 * The one way this tool writes a file that must appear whole or not at all (export files, reports, filesystem backups):
 * a temp file beside the target (or in a folder of the caller's on the same filesystem), written, fsynced and closed,
 * then moved into place — renamed over an existing file, or hard-linked so that an existing file is never overwritten
 * (`dapr scheduler export -o` refuses an existing path). The temp file is removed on failure and, should the process
 * exit first (Ctrl-C reaches process.exit and skips `finally`), by remove-on-exit.
 */
import { randomBytes } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import { link, lstat, open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { Writable } from "node:stream";
import { HousekeeperError } from "../errors.ts";
import { removeOnExit } from "./remove-on-exit.ts";

export interface AtomicFileOptions {
  /** `replace` renames over an existing target; `refuse` fails with already-exists rather than overwrite one. */
  existing: "replace" | "refuse";
  /** Mode the temp file is created with (before the umask; default 0600). */
  mode?: number;
  /** Folder of the temp file (default: the target's); it must be on the target's filesystem. */
  tempDir?: string;
  /** Name of the temp file in tempDir (default `.<target name>.<pid>-<random>.tmp`). */
  tempName?: string;
}

/** Fails with already-exists when `path` exists (a dangling symlink counts), before any work is done. */
export async function refuseExisting(path: string): Promise<void> {
  try {
    await lstat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw new HousekeeperError("bad-input", `cannot check ${path}: ${(error as Error).message}`, { cause: error });
  }
  throw new HousekeeperError("already-exists", `file '${path}' already exists`);
}

export class AtomicFile {
  private finished = false;
  private done = false;

  private constructor(
    readonly path: string,
    readonly tempPath: string,
    readonly handle: FileHandle,
    private readonly existing: AtomicFileOptions["existing"],
    private readonly forget: () => void,
  ) {}

  /** Creates the temp file (exclusively: a leftover of the same name is an error, never reused). */
  static async open(path: string, options: AtomicFileOptions): Promise<AtomicFile> {
    const name = options.tempName ?? `.${basename(path)}.${process.pid}-${randomBytes(6).toString("hex")}.tmp`;
    const tempPath = join(options.tempDir ?? dirname(path), name);
    const forget = removeOnExit(tempPath);
    try {
      const handle = await open(tempPath, "wx", options.mode ?? 0o600);
      return new AtomicFile(path, tempPath, handle, options.existing, forget);
    } catch (error) {
      forget();
      throw error;
    }
  }

  /** Writes all of `bytes` (a short write is continued). */
  async write(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.byteLength) {
      const { bytesWritten } = await this.handle.write(bytes, offset, bytes.byteLength - offset);
      offset += bytesWritten;
    }
  }

  /**
   * A stream onto the temp file; end it (and wait for `finish`) before commit. (Not FileHandle.createWriteStream:
   * with autoClose off, a later handle.close() never settles on Node 20.)
   */
  stream(): Writable {
    return new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        this.write(chunk).then(() => done(), done);
      },
      // Chunks queued while a write was under way go out in one write.
      writev: (chunks, done) => {
        this.write(Buffer.concat(chunks.map((c) => c.chunk as Buffer))).then(() => done(), done);
      },
    });
  }

  /** Flushes the content to disk and closes the temp file (commit does it too; call it first to order two files). */
  async finish(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    await this.handle.sync();
    await this.handle.close();
  }

  /** Puts the complete file at its path. */
  async commit(): Promise<void> {
    await this.finish();
    if (this.existing === "replace") await rename(this.tempPath, this.path);
    else await placeWithoutClobbering(this.tempPath, this.path);
    this.done = true;
    await rm(this.tempPath, { force: true }); // the hard link's other name
    this.forget();
  }

  /** Removes the temp file (after a failure; a no-op once committed). Never throws. */
  async discard(): Promise<void> {
    if (this.done) return;
    this.done = true;
    if (!this.finished) {
      this.finished = true;
      await this.handle.close().catch(() => undefined);
    }
    await rm(this.tempPath, { force: true }).catch(() => undefined);
    this.forget();
  }
}

/** Hard-links temp to path (fails if path exists, so a file created meanwhile is never overwritten). */
async function placeWithoutClobbering(tempPath: string, path: string): Promise<void> {
  try {
    await link(tempPath, path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST") throw new HousekeeperError("already-exists", `file '${path}' already exists`);
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP" && code !== "EXDEV") throw error;
    // No hard links on this filesystem: check-then-rename (a race window remains, as in the Dapr CLI).
    await refuseExisting(path);
    await rename(tempPath, path);
  }
}
