/**
 * ObjectStore on the local filesystem: the embedded default (`./.housekeeper/backups/`), for the CLI and for setups
 * without S3.
 *
 * Layout under the root directory:
 *   <key>                              the object's bytes (mode 0600, like `dapr scheduler export` writes its file)
 *   .objstore/meta/<key>.json          its content type and user metadata
 *   .objstore/tmp/                     uploads in progress
 * A put streams into a temp file in the same filesystem, fsyncs it and renames it over the key, so readers see the
 * old object or the new one, never a partial one; a failed put leaves nothing behind. Keys follow the port's rules
 * (no `..`, no absolute paths), the first segment `.objstore` is reserved, and every resolved path is checked to stay
 * inside the root, also through symbolic links.
 */
import { randomBytes } from "node:crypto";
import type { Dirent } from "node:fs";
import { mkdir, open, readdir, readFile, realpath, rmdir, stat, unlink } from "node:fs/promises";
import { dirname, resolve, sep } from "node:path";
import { HousekeeperError } from "../errors.ts";
import { AtomicFile } from "../util/atomic-file.ts";
import {
  checkListPrefix,
  checkMetadata,
  checkObjectKey,
  DEFAULT_CONTENT_TYPE,
  type GetObjectResult,
  type ObjectBody,
  type ObjectInfo,
  type ObjectStore,
  type ObjectSummary,
  type PutObjectOptions,
  type PutObjectResult,
  toReadable,
} from "./object-store.ts";

/** The embedded default location, relative to the working directory. */
export const DEFAULT_BACKUP_DIR = "./.housekeeper/backups/";
const RESERVED = ".objstore";

interface StoredMeta {
  contentType: string;
  metadata: Record<string, string>;
}

export interface FilesystemObjectStoreOptions {
  /** Root directory (created on first write); default `./.housekeeper/backups/`. */
  root?: string;
}

function code(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

function fsError(error: unknown, doing: string): HousekeeperError {
  if (error instanceof HousekeeperError) return error;
  const c = code(error);
  const message = error instanceof Error ? error.message : String(error);
  if (c === "EACCES" || c === "EPERM")
    return new HousekeeperError("unauthorized", `${doing}: ${message}`, { cause: error });
  return new HousekeeperError("store-error", `${doing}: ${message}`, { cause: error });
}

export class FilesystemObjectStore implements ObjectStore {
  readonly location: string;
  readonly root: string;
  private realRoot: string | undefined;

  constructor(options: FilesystemObjectStoreOptions = {}) {
    this.root = resolve(options.root ?? DEFAULT_BACKUP_DIR);
    this.location = this.root;
  }

  private checkKey(key: string): string {
    checkObjectKey(key);
    if (key.split("/")[0] === RESERVED) {
      throw new HousekeeperError("bad-input", `invalid object key ${JSON.stringify(key)}: "${RESERVED}" is reserved`);
    }
    return key;
  }

  /** Absolute path of `relative` under the root, refused if it resolves outside it. */
  private pathOf(relative: string): string {
    const path = resolve(this.root, ...relative.split("/"));
    if (!path.startsWith(this.root + sep)) {
      throw new HousekeeperError("bad-input", `object key ${JSON.stringify(relative)} resolves outside ${this.root}`);
    }
    return path;
  }

  private metaPath(key: string): string {
    return this.pathOf(`${RESERVED}/meta/${key}.json`);
  }

  /** Refuses a directory that, through symbolic links, lies outside the root. */
  private async checkInside(dir: string): Promise<void> {
    this.realRoot ??= await realpath(this.root);
    let real: string;
    try {
      real = await realpath(dir);
    } catch (error) {
      if (code(error) === "ENOENT") return; // nothing there yet: nothing to escape through
      throw error;
    }
    if (real !== this.realRoot && !real.startsWith(this.realRoot + sep)) {
      throw new HousekeeperError("bad-input", `${dir} leads outside ${this.root} (symbolic link)`);
    }
  }

  async put(key: string, body: ObjectBody, options: PutObjectOptions = {}): Promise<PutObjectResult> {
    this.checkKey(key);
    const meta: StoredMeta = {
      contentType: options.contentType ?? DEFAULT_CONTENT_TYPE,
      metadata: checkMetadata(options.metadata),
    };
    const target = this.pathOf(key);
    const metaTarget = this.metaPath(key);
    const tmpDir = this.pathOf(`${RESERVED}/tmp`);
    const token = `${process.pid}-${randomBytes(8).toString("hex")}`;
    const source = toReadable(body);
    let size = 0;
    let data: AtomicFile | undefined;
    let metaFile: AtomicFile | undefined;
    try {
      await mkdir(tmpDir, { recursive: true, mode: 0o700 });
      await mkdir(dirname(target), { recursive: true, mode: 0o700 });
      await mkdir(dirname(metaTarget), { recursive: true, mode: 0o700 });
      await this.checkInside(dirname(target));
      data = await AtomicFile.open(target, { existing: "replace", tempDir: tmpDir, tempName: `${token}.data` });
      for await (const chunk of source) {
        const bytes = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Uint8Array);
        await data.write(bytes);
        size += bytes.byteLength;
      }
      await data.finish();
      metaFile = await AtomicFile.open(metaTarget, { existing: "replace", tempDir: tmpDir, tempName: `${token}.meta` });
      await metaFile.write(Buffer.from(JSON.stringify(meta)));
      // Both on disk before either is placed; the metadata first, so the new data never shows with older metadata.
      await metaFile.commit();
      await data.commit();
    } catch (error) {
      source.destroy();
      await data?.discard();
      await metaFile?.discard();
      throw fsError(error, `writing ${key} under ${this.root}`);
    }
    return { key, size };
  }

  private async readMeta(key: string): Promise<StoredMeta> {
    try {
      const parsed = JSON.parse(await readFile(this.metaPath(key), "utf8")) as Partial<StoredMeta>;
      return { contentType: parsed.contentType ?? DEFAULT_CONTENT_TYPE, metadata: parsed.metadata ?? {} };
    } catch {
      // An object dropped in by hand has no metadata file.
      return { contentType: DEFAULT_CONTENT_TYPE, metadata: {} };
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    this.checkKey(key);
    const path = this.pathOf(key);
    try {
      await this.checkInside(dirname(path));
      const s = await stat(path);
      if (!s.isFile()) return undefined;
      return { key, size: s.size, lastModified: s.mtime, ...(await this.readMeta(key)) };
    } catch (error) {
      if (code(error) === "ENOENT" || code(error) === "ENOTDIR") return undefined;
      throw fsError(error, `reading ${key} under ${this.root}`);
    }
  }

  async get(key: string): Promise<GetObjectResult> {
    this.checkKey(key);
    const path = this.pathOf(key);
    try {
      await this.checkInside(dirname(path));
      const handle = await open(path, "r");
      const s = await handle.stat().catch(async (error) => {
        await handle.close();
        throw error;
      });
      if (!s.isFile()) {
        await handle.close();
        throw Object.assign(new Error("not a file"), { code: "ENOENT" });
      }
      // The stream reads the file opened above, so a concurrent put (a rename) cannot mix two versions.
      const body = handle.createReadStream({ autoClose: true });
      return { body, info: { key, size: s.size, lastModified: s.mtime, ...(await this.readMeta(key)) } };
    } catch (error) {
      if (code(error) === "ENOENT" || code(error) === "ENOTDIR" || code(error) === "EISDIR") {
        throw new HousekeeperError("not-found", `no object ${key} in ${this.root}`, { cause: error });
      }
      throw fsError(error, `reading ${key} under ${this.root}`);
    }
  }

  async *list(prefix: string): AsyncGenerator<ObjectSummary> {
    checkListPrefix(prefix);
    // Start in the deepest directory the prefix names in full, then walk depth-first in key order.
    const slash = prefix.lastIndexOf("/");
    const startDir = slash < 0 ? "" : prefix.slice(0, slash);
    yield* this.walk(startDir, prefix);
  }

  private async *walk(dir: string, prefix: string): AsyncGenerator<ObjectSummary> {
    let entries: Dirent[];
    const path = dir === "" ? this.root : this.pathOf(dir);
    try {
      await this.checkInside(path);
      entries = await readdir(path, { withFileTypes: true });
    } catch (error) {
      if (code(error) === "ENOENT" || code(error) === "ENOTDIR") return;
      throw fsError(error, `listing ${dir || "."} under ${this.root}`);
    }
    // Key order: a directory sorts as "name/", so "a/b" comes after "a-c" as it does in S3.
    const named = entries
      .filter((e) => !(dir === "" && e.name === RESERVED) && (e.isFile() || e.isDirectory()))
      .map((e) => ({ entry: e, key: dir === "" ? e.name : `${dir}/${e.name}` }))
      .map((x) => ({ ...x, sortKey: x.entry.isDirectory() ? `${x.key}/` : x.key }))
      .sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0));
    for (const { entry, key, sortKey } of named) {
      if (entry.isDirectory()) {
        if (sortKey.startsWith(prefix) || prefix.startsWith(sortKey)) yield* this.walk(key, prefix);
        continue;
      }
      if (!key.startsWith(prefix)) continue;
      try {
        const s = await stat(this.pathOf(key));
        yield { key, size: s.size, lastModified: s.mtime };
      } catch (error) {
        if (code(error) !== "ENOENT") throw fsError(error, `listing ${key} under ${this.root}`);
        // deleted while listing: skip, as S3 would
      }
    }
  }

  async deleteMany(keys: readonly string[]): Promise<void> {
    for (const key of keys) this.checkKey(key);
    for (const key of new Set(keys)) {
      const path = this.pathOf(key);
      try {
        await this.checkInside(dirname(path));
        await unlink(path);
      } catch (error) {
        if (code(error) !== "ENOENT" && code(error) !== "ENOTDIR") {
          throw fsError(error, `deleting ${key} under ${this.root}`);
        }
      }
      await unlink(this.metaPath(key)).catch(() => {});
      await this.pruneEmptyDirs(dirname(path), this.root);
      await this.pruneEmptyDirs(dirname(this.metaPath(key)), this.pathOf(`${RESERVED}/meta`));
    }
  }

  /** Removes now-empty directories from `dir` up to (not including) `stop`. */
  private async pruneEmptyDirs(dir: string, stop: string): Promise<void> {
    let current = dir;
    while (current.startsWith(stop + sep)) {
      try {
        await rmdir(current);
      } catch {
        return; // not empty (or gone): stop here
      }
      current = dirname(current);
    }
  }

  async close(): Promise<void> {}
}

export function openFilesystemObjectStore(options: FilesystemObjectStoreOptions = {}): FilesystemObjectStore {
  return new FilesystemObjectStore(options);
}
