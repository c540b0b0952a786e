/** String order by UTF-8 bytes, as databases in C collation, etcd and Go order keys. */

/**
 * Compares strings by their UTF-8 bytes (= code points), the order of etcd keys and of Go's `<` on strings. JS `<`
 * compares UTF-16 code units, which differs when a surrogate pair meets a character in U+E000..U+FFFF.
 */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) return fixup(x) - fixup(y);
    return x - y;
  }
  return a.length - b.length;
}

function fixup(c: number): number {
  if (c >= 0xe000) return c - 0x800;
  if (c >= 0xd800) return c + 0x2000;
  return c;
}
