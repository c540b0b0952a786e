import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HousekeeperError } from "../../shared/errors.ts";
import { DEFAULT_BACKUP_DIR, FilesystemObjectStore } from "../../shared/object-store/filesystem.ts";
import { readAll } from "../../shared/object-store/object-store.ts";
import { describeObjectStoreConformance } from "./conformance.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "housekeeper-objstore-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const freshRoot = () => join(dir, randomBytes(4).toString("hex"));

describeObjectStoreConformance("filesystem", async () => new FilesystemObjectStore({ root: freshRoot() }), {
  largeSize: 3 * 1024 * 1024 + 12345,
});

describe("FilesystemObjectStore specifics", () => {
  it("defaults to ./.housekeeper/backups/ under the working directory", () => {
    expect(DEFAULT_BACKUP_DIR).toBe("./.housekeeper/backups/");
    expect(new FilesystemObjectStore().root).toBe(join(process.cwd(), ".housekeeper", "backups"));
  });

  it("writes files 0600 at the key's path and leaves no temp file behind", async () => {
    const root = freshRoot();
    const store = new FilesystemObjectStore({ root });
    await store.put("reminders/dapr-system/x.bin", Buffer.from("payload"));
    const s = await stat(join(root, "reminders", "dapr-system", "x.bin"));
    expect(s.mode & 0o777).toBe(0o600);
    expect(await readdir(join(root, ".objstore", "tmp"))).toEqual([]);
    // The reserved dir is not listed and cannot be addressed.
    const listed: string[] = [];
    for await (const o of store.list("")) listed.push(o.key);
    expect(listed).toEqual(["reminders/dapr-system/x.bin"]);
    await expect(store.put(".objstore/meta/x", "x")).rejects.toMatchObject({ code: "bad-input" });
  });

  it("cleans the temp file when the body fails", async () => {
    const root = freshRoot();
    const store = new FilesystemObjectStore({ root });
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield Buffer.from("partial");
      throw new Error("boom");
    }
    await expect(store.put("a/b.bin", failing())).rejects.toThrow(/boom/);
    expect(await readdir(join(root, ".objstore", "tmp"))).toEqual([]);
  });

  it("refuses to follow a symbolic link out of the root", async () => {
    const root = freshRoot();
    const outside = join(dir, `outside-${randomBytes(3).toString("hex")}`);
    await mkdir(root, { recursive: true });
    await mkdir(outside);
    await writeFile(join(outside, "secret"), "secret");
    await symlink(outside, join(root, "link"));
    const store = new FilesystemObjectStore({ root });
    for (const attempt of [
      () => store.put("link/evil", "x"),
      () => store.get("link/secret"),
      () => store.head("link/secret"),
      () => store.deleteMany(["link/secret"]),
    ]) {
      const error = await attempt().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(HousekeeperError);
      expect((error as HousekeeperError).code).toBe("bad-input");
    }
    expect(await readdir(outside)).toEqual(["secret"]);
  });

  it("removes directories a delete left empty", async () => {
    const root = freshRoot();
    const store = new FilesystemObjectStore({ root });
    await store.put("x/y/z.bin", "1");
    await store.put("x/keep.bin", "2");
    await store.deleteMany(["x/y/z.bin"]);
    expect((await readdir(join(root, "x"))).sort()).toEqual(["keep.bin"]);
    expect((await readAll((await store.get("x/keep.bin")).body)).toString()).toBe("2");
  });
});
