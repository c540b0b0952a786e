/**
 * Behaviour every StateBackend adapter must show, run against the real store:
 *
 *   describeStateBackendConformance("MySQL", () => openFreshBackend());
 *
 * `open()` should give an isolated backend (own table / database); the suite additionally puts a random token at the
 * start of every key it writes and scans only under that token, so it also holds on a store shared with other tests
 * (e.g. one Redis database).
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { KeyPage, ScanKeysRequest, StateBackend } from "../../shared/state-store/backend.ts";

export interface ConformanceOptions {
  /**
   * The store lists keys like Redis SCAN: a key may appear in more than one page (never twice in one page) and a
   * page may hold more than pageSize keys. Coverage (every key at least once) is still required.
   */
  scanMayRepeatAcrossPages?: boolean;
}

export function describeStateBackendConformance(
  name: string,
  open: () => Promise<StateBackend>,
  options: ConformanceOptions = {},
): void {
  const loose = options.scanMayRepeatAcrossPages ?? false;

  async function withBackend(work: (backend: StateBackend, ns: string) => Promise<void>): Promise<void> {
    const backend = await open();
    try {
      await work(backend, `c${randomBytes(6).toString("hex")}`);
    } finally {
      await backend.close();
    }
  }

  /** Follows cursors to the end; fails if a scan does not finish within a generous number of pages. */
  async function scanAll(backend: StateBackend, request: Omit<ScanKeysRequest, "cursor">): Promise<KeyPage[]> {
    const pages: KeyPage[] = [];
    let cursor: string | undefined;
    do {
      const page = await backend.scanKeys({ ...request, cursor });
      pages.push(page);
      expect(new Set(page.keys).size, "a page never holds the same key twice").toBe(page.keys.length);
      if (!loose) expect(page.keys.length).toBeLessThanOrEqual(request.pageSize);
      cursor = page.cursor;
      if (pages.length > 10_000) throw new Error("scan did not finish after 10000 pages");
    } while (cursor !== undefined);
    return pages;
  }

  async function keysMatching(backend: StateBackend, prefix: string, suffix = ""): Promise<string[]> {
    const pages = await scanAll(backend, { prefix, suffix, pageSize: 1000 });
    return [...new Set(pages.flatMap((p) => p.keys))].sort();
  }

  const sorted = (keys: Iterable<string>) => [...keys].sort();

  describe(`StateBackend conformance: ${name}`, () => {
    it("returns exactly the bytes it stored, including empty, non-UTF-8 and large values", async () => {
      await withBackend(async (backend, ns) => {
        const values: Record<string, Uint8Array> = {
          empty: new Uint8Array(0),
          invalidUtf8: Uint8Array.from([0xff, 0xfe, 0x00]),
          allBytes: Uint8Array.from({ length: 256 }, (_, i) => i),
          protobufLike: Uint8Array.from([0x0a, 0x03, 0x61, 0x62, 0x63, 0x10, 0x96, 0x01, 0x1a, 0x00]),
          jsonLooking: Buffer.from('{"InboxLength":1,"HistoryLength":2,"Generation":3}'),
          base64Looking: Buffer.from("EAwYAQ=="),
          quotesAndBackslashes: Buffer.from(`"'\\\u0000\n`),
          large: randomBytes(1024 * 1024 + 3),
        };
        const entries = Object.entries(values).map(([k, v]) => [`${ns}app||t||i||${k}`, v] as const);
        await backend.setMany(entries);
        const read = await backend.getMany(entries.map(([k]) => k));
        expect(sorted(read.keys())).toEqual(sorted(entries.map(([k]) => k)));
        for (const [key, value] of entries) {
          const got = read.get(key);
          expect(got, key).toBeInstanceOf(Uint8Array);
          expect(Buffer.from(got!).equals(Buffer.from(value)), `bytes of ${key}`).toBe(true);
        }
      });
    });

    it("overwrites existing keys with new bytes", async () => {
      await withBackend(async (backend, ns) => {
        const key = `${ns}app||t||i||metadata`;
        await backend.setMany([[key, Buffer.from("first, longer value")]]);
        await backend.setMany([[key, Uint8Array.from([0xff])]]);
        expect(Buffer.from((await backend.getMany([key])).get(key)!)).toEqual(Buffer.from([0xff]));
      });
    });

    it("omits missing keys from getMany and tolerates repeated and empty requests", async () => {
      await withBackend(async (backend, ns) => {
        await backend.setMany([[`${ns}present`, Buffer.from("x")]]);
        expect((await backend.getMany([])).size).toBe(0);
        const read = await backend.getMany([`${ns}missing`, `${ns}present`, `${ns}present`, `${ns}also-missing`]);
        expect([...read.keys()]).toEqual([`${ns}present`]);
        expect(Buffer.from(read.get(`${ns}present`)!).toString()).toBe("x");
      });
    });

    // Only one spelling is stored: Dapr's MySQL table usually has a case-insensitive collation, where `App` and
    // `app` are the same primary key, so no adapter can hold both.
    it("matches keys exactly in getMany and scanKeys (no case folding)", async () => {
      await withBackend(async (backend, ns) => {
        await backend.setMany([[`${ns}app||wf||instance||metadata`, Buffer.from("x")]]);
        expect((await backend.getMany([`${ns}APP||wf||instance||metadata`])).size).toBe(0);
        expect(await keysMatching(backend, `${ns}APP||`)).toEqual([]);
        expect(await keysMatching(backend, `${ns}app||`, "||METADATA")).toEqual([]);
        expect(await keysMatching(backend, `${ns}app||`, "||metadata")).toEqual([`${ns}app||wf||instance||metadata`]);
      });
    });

    it("returns an empty, finished page when nothing matches", async () => {
      await withBackend(async (backend, ns) => {
        expect(await backend.scanKeys({ prefix: `${ns}nothing||`, suffix: "", pageSize: 10 })).toEqual({
          keys: [],
          cursor: undefined,
        });
      });
    });

    it("matches the prefix literally: LIKE, glob and regex metacharacters are plain characters", async () => {
      await withBackend(async (backend, ns) => {
        const prefix = `${ns}my_app%.*?[x]\\||`;
        const matching = [`${prefix}a||metadata`, `${prefix}b||history-000000`];
        // Each metacharacter replaced by another character, or dropped: none of these may match.
        const decoys: string[] = [];
        for (let i = ns.length; i < prefix.length; i++) {
          if (!/[_%.*?[\]\\]/.test(prefix[i]!)) continue;
          decoys.push(`${prefix.slice(0, i)}X${prefix.slice(i + 1)}a||metadata`);
          decoys.push(`${prefix.slice(0, i)}${prefix.slice(i + 1)}a||metadata`);
        }
        decoys.push(`${ns}myXapp%.*?[x]\\||a||metadata`, `${ns}my_app||a`);
        const all = [...new Set([...matching, ...decoys])];
        await backend.setMany(all.map((k) => [k, Buffer.from(k)] as const));
        expect(await keysMatching(backend, prefix)).toEqual(sorted(matching));
        // Every shorter prefix, each ending right after a metacharacter, against a plain startsWith.
        for (let i = ns.length + 1; i < prefix.length; i++) {
          const shorter = prefix.slice(0, i);
          expect(await keysMatching(backend, shorter), shorter).toEqual(
            sorted(all.filter((k) => k.startsWith(shorter))),
          );
        }
      });
    });

    it("filters by suffix literally", async () => {
      await withBackend(async (backend, ns) => {
        const p = `${ns}app||dapr.internal.default.app.workflow||`;
        const keys = [
          `${p}i1||metadata`,
          `${p}i1||history-000000`,
          `${p}i2||metadata`,
          `${p}i2||metadataX`,
          `${p}i2||xmetadata`,
          `${p}i3||meta_data%*`,
          `${p}i3||metaXdataX*`,
          `${p}i3||metaXdata%*`,
        ];
        await backend.setMany(keys.map((k) => [k, Buffer.from("v")] as const));
        expect(await keysMatching(backend, p, "||metadata")).toEqual([`${p}i1||metadata`, `${p}i2||metadata`]);
        expect(await keysMatching(backend, p, "||meta_data%*")).toEqual([`${p}i3||meta_data%*`]);
        expect(await keysMatching(backend, `${ns}app||`, "history-000000")).toEqual([`${p}i1||history-000000`]);
      });
    });

    it("does not let prefix and suffix overlap (prefix…suffix, like LIKE 'p%s')", async () => {
      await withBackend(async (backend, ns) => {
        await backend.setMany([
          [`${ns}aba`, Buffer.from("1")],
          [`${ns}abba`, Buffer.from("2")],
        ]);
        expect(await keysMatching(backend, `${ns}ab`, "ba")).toEqual([`${ns}abba`]);
      });
    });

    for (const pageSize of [1, 4]) {
      it(`pages with pageSize ${pageSize} cover every matching key ${loose ? "at least" : "exactly"} once`, async () => {
        await withBackend(async (backend, ns) => {
          const prefix = `${ns}app||wf||`;
          const expected = Array.from(
            { length: 23 },
            (_, i) => `${prefix}inst-${String(i).padStart(2, "0")}||metadata`,
          );
          const others = [`${ns}app||wf|`, `${ns}app||wf||zz||history-000000`, `${ns}aaa||wf||x||metadata`];
          await backend.setMany([...expected, ...others].map((k) => [k, Buffer.from(k)] as const));
          const pages = await scanAll(backend, { prefix, suffix: "||metadata", pageSize });
          const all = pages.flatMap((p) => p.keys);
          expect(sorted(new Set(all))).toEqual(sorted(expected));
          if (!loose) expect(all.length, "pages never overlap").toBe(expected.length);
          for (const page of pages.slice(0, -1)) expect(page.cursor).toBeTypeOf("string");
        });
      });
    }

    it("still visits every key when each page is deleted before the next is fetched (purge loop)", async () => {
      await withBackend(async (backend, ns) => {
        const prefix = `${ns}app||wf||`;
        const expected = Array.from({ length: 17 }, (_, i) => `${prefix}i${i}||metadata`);
        await backend.setMany(expected.map((k) => [k, Buffer.from("v")] as const));
        const seen = new Set<string>();
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await backend.scanKeys({ prefix, suffix: "", pageSize: 3, cursor });
          for (const k of page.keys) seen.add(k);
          await backend.deleteMany(page.keys);
          cursor = page.cursor;
          if (++pages > 1000) throw new Error("scan did not finish");
        } while (cursor !== undefined);
        expect(sorted(seen)).toEqual(sorted(expected));
        expect(await keysMatching(backend, prefix)).toEqual([]);
      });
    });

    it("deletes only the named keys, counts the ones that existed, and leaves other keys byte-for-byte intact", async () => {
      await withBackend(async (backend, ns) => {
        const doomed = [`${ns}a||1`, `${ns}a||2`, `${ns}a||3`];
        const kept = new Map<string, Uint8Array>([
          [`${ns}a||10`, randomBytes(300)],
          [`${ns}a||1x`, Uint8Array.from([0xff, 0xfe, 0x00])],
          [`${ns}c||1`, Buffer.from("other prefix")],
          [`${ns}b||1`, new Uint8Array(0)],
        ]);
        await backend.setMany([...doomed.map((k) => [k, Buffer.from("bye")] as const), ...kept]);
        expect(await backend.deleteMany([])).toBe(0);
        expect(await backend.deleteMany([...doomed, doomed[0]!, `${ns}a||never-existed`])).toBe(3);
        expect((await backend.getMany(doomed)).size).toBe(0);
        expect(await backend.deleteMany(doomed)).toBe(0);
        const read = await backend.getMany([...kept.keys()]);
        expect(sorted(read.keys())).toEqual(sorted(kept.keys()));
        for (const [key, value] of kept) {
          expect(Buffer.from(read.get(key)!).equals(Buffer.from(value)), key).toBe(true);
        }
        expect(await keysMatching(backend, ns)).toEqual(sorted(kept.keys()));
      });
    });

    it("deletes a group only if its guards still hold the decided bytes (compare-and-delete)", async () => {
      await withBackend(async (backend, ns) => {
        const bytes = (text: string) => Buffer.from(text);
        await backend.setMany([
          [`${ns}a||meta`, bytes("a1")],
          [`${ns}a||h0`, Uint8Array.from([0xff, 0x00])],
          [`${ns}a||h1`, bytes("last")],
          [`${ns}child||meta`, bytes("c1")],
          [`${ns}b||meta`, bytes("b2")],
          [`${ns}b||h0`, bytes("b-event")],
          [`${ns}d||meta`, bytes("d1")],
        ]);
        const member = (id: string, expect: Array<[string, string]>, keys: string[]) => ({
          expect: expect.map(([k, v]) => [`${ns}${id}||${k}`, bytes(v)] as const),
          keys: keys.map((k) => `${ns}${id}||${k}`),
        });
        const result = await backend.deleteIfUnchanged([
          // unchanged, with a child and a member that is already gone (both fine)
          [
            member("a", [["meta", "a1"]], ["meta", "h0", "h1"]),
            member("child", [["meta", "c1"]], ["meta"]),
            member("gone-child", [["meta", "x"]], ["meta"]),
          ],
          [member("b", [["meta", "b1"]], ["meta", "h0"])], // changed since: nothing of it goes
          [member("c", [["meta", "c1"]], ["meta"])], // the root is gone
          [member("d", [["meta", "d1"]], ["meta"]), member("b", [["meta", "b1"]], [])], // one member changed
        ]);
        expect(result).toEqual({ outcomes: ["deleted", "changed", "gone", "changed"], keysDeleted: 4 });
        expect(await keysMatching(backend, ns)).toEqual(sorted([`${ns}b||meta`, `${ns}b||h0`, `${ns}d||meta`]));
        expect(await backend.deleteIfUnchanged([])).toEqual({ outcomes: [], keysDeleted: 0 });
      });
    });

    it("reads and writes more keys than one chunk (batching)", async () => {
      await withBackend(async (backend, ns) => {
        const entries = Array.from({ length: 1203 }, (_, i) => [`${ns}bulk||${i}`, Buffer.from(`value ${i}`)] as const);
        await backend.setMany(entries);
        const read = await backend.getMany(entries.map(([k]) => k));
        expect(read.size).toBe(entries.length);
        for (const [key, value] of entries) expect(Buffer.from(read.get(key)!).equals(value), key).toBe(true);
        expect(await backend.deleteMany(entries.map(([k]) => k))).toBe(entries.length);
        expect((await keysMatching(backend, `${ns}bulk||`)).length).toBe(0);
      });
    });
  });
}
