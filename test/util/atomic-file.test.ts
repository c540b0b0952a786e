/** The one atomic file writer (shared/util/atomic-file.ts): only a complete file ever appears, and no temp file stays. */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { finished } from "node:stream/promises";
import { afterAll, describe, expect, it } from "vitest";
import { HousekeeperError } from "../../shared/errors.ts";
import { AtomicFile, refuseExisting } from "../../shared/util/atomic-file.ts";

const dir = mkdtempSync(join(tmpdir(), "housekeeper-atomic-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const names = () => readdirSync(dir).sort();

describe("AtomicFile", () => {
  it("writes beside the target and renames into place, over an existing file when asked to", async () => {
    const path = join(dir, "report.txt");
    writeFileSync(path, "old");
    const file = await AtomicFile.open(path, { existing: "replace", mode: 0o644 });
    await file.write(Buffer.from("new "));
    await file.write(Buffer.from("content"));
    expect(readFileSync(path, "utf8")).toBe("old"); // nothing shows before the commit
    expect(names()).toContain(file.tempPath.slice(dir.length + 1));
    await file.commit();
    expect(readFileSync(path, "utf8")).toBe("new content");
    expect(names()).toEqual(["report.txt"]);
    await file.discard(); // a no-op once committed
    expect(readFileSync(path, "utf8")).toBe("new content");
  });

  it("refuses to overwrite in `refuse` mode, and the temp file goes", async () => {
    const path = join(dir, "export.bin");
    writeFileSync(path, "someone else's");
    await expect(refuseExisting(path)).rejects.toMatchObject({ code: "already-exists" });
    const file = await AtomicFile.open(path, { existing: "refuse" });
    await file.write(Buffer.from("ours"));
    await expect(file.commit()).rejects.toThrow(
      new HousekeeperError("already-exists", `file '${path}' already exists`),
    );
    await file.discard();
    expect(readFileSync(path, "utf8")).toBe("someone else's");
    expect(names()).toEqual(["export.bin", "report.txt"]);
  });

  it("places a new file in `refuse` mode with the mode asked for, and leaves no second name", async () => {
    const path = join(dir, "fresh.bin");
    const file = await AtomicFile.open(path, { existing: "refuse", mode: 0o600 });
    await file.write(Buffer.from("data"));
    await file.commit();
    expect(readFileSync(path, "utf8")).toBe("data");
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(path).nlink).toBe(1);
    rmSync(path);
  });

  it("a stream onto it, and a discarded file leaves nothing", async () => {
    const path = join(dir, "streamed.txt");
    const file = await AtomicFile.open(path, { existing: "replace" });
    const stream = file.stream();
    stream.end("streamed");
    await finished(stream);
    await file.commit();
    expect(readFileSync(path, "utf8")).toBe("streamed");
    rmSync(path);

    const dropped = await AtomicFile.open(join(dir, "dropped.txt"), { existing: "replace" });
    await dropped.write(Buffer.from("half"));
    await dropped.discard();
    expect(names()).toEqual(["export.bin", "report.txt"]);
  });
});
