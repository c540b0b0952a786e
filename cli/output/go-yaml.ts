/**
 * YAML as the Dapr CLI prints it: `gopkg.in/yaml.v2` v2.4.0 `yaml.Marshal` of a list of flat records (dapr/cli
 * utils.PrintDetail). Written for exactly that shape — a block sequence of block mappings whose values are strings,
 * integers, booleans or null — following yaml.v2's rules:
 *  - encode.go `stringv`: a string YAML 1.1 would read as something else (resolve.go: bool `on`/`yes`/`y`…, null,
 *    int `1_000`/`0x1F`, float, timestamp `2026-01-01`, base-60 `1:20`) is double-quoted; one with "\n" asks for a
 *    literal block; everything else asks for plain style;
 *  - emitterc.go `yaml_emitter_analyze_scalar` / `select_scalar_style`: plain falls back to single quotes, single
 *    quotes to double quotes, a literal block to double quotes, by what the text contains;
 *  - the writers fold plain and quoted scalars at spaces past column 80, as libyaml does.
 */

const BEST_WIDTH = 80;
const BEST_INDENT = 2;
/** Mapping values inside a sequence item: the item's keys at column 2, continuation lines at 4. */
const VALUE_INDENT = 2 * BEST_INDENT;

export interface GoYamlOptions {
  /**
   * Keys whose values are Go `time.Time` fields in the Dapr CLI's structs, given as their RFC 3339 text: yaml.v2
   * writes those plain, never quoted (encode.go `timev`), unlike a string that looks like a time.
   */
  times?: readonly string[];
}

/** `yaml.Marshal(list)`: `[]\n` for an empty list. */
export function goYamlList(items: readonly object[], options: GoYamlOptions = {}): string {
  if (items.length === 0) return "[]\n";
  return items.map((item) => goYamlListItem(item, options)).join("");
}

/**
 * One `- key: value` block of a list, ending in a newline. Values are strings, integers, booleans or null;
 * undefined values are left out (as `omitempty` fields).
 */
export function goYamlListItem(item: object, options: GoYamlOptions = {}): string {
  const out = new Emitter();
  out.indicator("-", true, true);
  let empty = true;
  for (const [key, value] of Object.entries(item)) {
    if (value === undefined) continue;
    empty = false;
    out.writeIndent(BEST_INDENT);
    out.plain(key, false); // keys are simple plain scalars, never folded
    out.indicator(":", false);
    if (typeof value === "string") out.scalar(value, options.times?.includes(key) === true);
    else if (value === null || typeof value === "boolean" || Number.isInteger(value)) out.plain(String(value), true);
    else throw new TypeError(`cannot write ${typeof value} ${String(value)} as a yaml.v2 record value`);
  }
  if (empty) return "- {}\n";
  // What the next item's (or the document end's) write_indent adds: a line break unless one was just written.
  out.writeIndent(0);
  return out.text;
}

// ---------------------------------------------------------------------------------------------------------------
// yaml.v2 resolve.go: what a plain scalar would be read back as.

const RESOLVE_MAP = new Set([
  ..."y Y yes Yes YES true True TRUE on On ON n N no No NO false False FALSE off Off OFF".split(" "),
  ..."~ null Null NULL .nan .NaN .NAN .inf .Inf .INF +.inf +.Inf +.INF -.inf -.Inf -.INF".split(" "),
  "",
]);
const YAML_STYLE_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const BASE60_FLOAT = /^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$/;

/** True when yaml.v2 would resolve `s`, written plain, to anything but a string (or it is a base-60 float). */
export function resolvesToNonString(s: string): boolean {
  // Only a first character in resolve.go's hint table leads to a look-up (so `<<` stays a string here).
  if (RESOLVE_MAP.has(s)) return true;
  const c = s[0]!;
  if (c === ".") return goParseFloat(s);
  if (!"+-0123456789".includes(c)) return false;
  if (BASE60_FLOAT.test(s)) return true; // encode.go isBase60Float: quoted for older parsers
  if (isTimestamp(s)) return true;
  const plain = s.replaceAll("_", "");
  if (goParseInt(plain)) return true;
  if (YAML_STYLE_FLOAT.test(plain) && Number.isFinite(Number(plain))) return true; // overflow: ParseFloat fails
  if (/^-?0b[01]+$/.test(plain)) return true;
  return false;
}

/** Go strconv.ParseInt/ParseUint(s, 0, 64) succeeds (underscores already removed): sign, 0x/0o/0b/0 prefixes. */
function goParseInt(s: string): boolean {
  const m = /^([-+]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (!m) return false;
  const body = m[2]!;
  const digits = /^0[xXoObB]/.test(body) ? body : body.length > 1 && body[0] === "0" ? `0o${body.slice(1)}` : body;
  const n = BigInt(digits);
  if (m[1] === "-") return n <= 2n ** 63n;
  return n < 2n ** 64n; // ParseUint for the values past int64
}

/** Go strconv.ParseFloat(s, 64) succeeds for an `s` starting with "." (no underscores allowed without a prefix). */
function goParseFloat(s: string): boolean {
  return /^\.[0-9]+([eE][-+]?[0-9]+)?$/.test(s) && Number.isFinite(Number(s));
}

/** resolve.go parseTimestamp: `2006-1-2T15:4:5.999999999Z07:00` (T or t), `2006-1-2 15:4:5.999999999`, `2006-1-2`. */
function isTimestamp(s: string): boolean {
  const m =
    /^(\d{4})-(\d{1,2})-(\d{1,2})(?:(?:[Tt](\d{1,2}):(\d{1,2}):(\d{1,2})(?:[.,]\d{1,9})?(?:Z|[-+]\d{2}:\d{2}))|(?: (\d{1,2}):(\d{1,2}):(\d{1,2})(?:[.,]\d{1,9})?))?$/.exec(
      s,
    );
  if (!m) return false;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (month < 1 || month > 12 || day < 1) return false;
  if (day > new Date(Date.UTC(year, month, 0)).getUTCDate()) return false; // Go: "day out of range"
  // Go's time.Parse (as of the reference's Go): at most 9 fraction digits, `.` or `,`; zone offsets unchecked.
  const [hour, minute, second] = [m[4] ?? m[7], m[5] ?? m[8], m[6] ?? m[9]].map(Number);
  return !(hour! > 23 || minute! > 59 || second! > 59);
}

// ---------------------------------------------------------------------------------------------------------------
// yaml.v2 emitterc.go, for a mapping value inside a block sequence item.

const isSpace = (c: string | undefined) => c === " ";
const isBreak = (c: string | undefined) =>
  c === "\r" || c === "\n" || c === "\u0085" || c === "\u2028" || c === "\u2029";
const isBlank = (c: string | undefined) => c === " " || c === "\t";

/** yamlprivateh.go is_printable, by code point. */
function isPrintable(c: string): boolean {
  const cp = c.codePointAt(0)!;
  return (
    cp === 0x0a ||
    (cp >= 0x20 && cp <= 0x7e) ||
    (cp >= 0xa0 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd && cp !== 0xfeff)
  );
}

interface Analysis {
  multiline: boolean;
  blockPlainAllowed: boolean;
  singleQuotedAllowed: boolean;
  blockAllowed: boolean;
}

/** yaml_emitter_analyze_scalar (block context: flow-only indicators do not matter). */
function analyze(chars: readonly string[]): Analysis {
  if (chars.length === 0) {
    return { multiline: false, blockPlainAllowed: true, singleQuotedAllowed: true, blockAllowed: false };
  }
  let blockIndicators = false;
  let lineBreaks = false;
  let special = false;
  let leadingSpace = false;
  let leadingBreak = false;
  let trailingSpace = false;
  let trailingBreak = false;
  let breakSpace = false;
  let spaceBreak = false;
  let precededByWhitespace = true;
  let previousSpace = false;
  let previousBreak = false;
  const head = chars.slice(0, 3).join("");
  if (head === "---" || head === "...") blockIndicators = true;
  chars.forEach((c, i) => {
    const followedByWhitespace = i + 1 >= chars.length || isBlank(chars[i + 1]);
    if (i === 0) {
      if ("#,[]{}&*!|>'\"%@`".includes(c)) blockIndicators = true;
      else if ((c === "?" || c === ":" || c === "-") && followedByWhitespace) blockIndicators = true;
    } else if ((c === ":" && followedByWhitespace) || (c === "#" && precededByWhitespace)) {
      blockIndicators = true;
    }
    if (!isPrintable(c)) special = true;
    if (isSpace(c)) {
      if (i === 0) leadingSpace = true;
      if (i === chars.length - 1) trailingSpace = true;
      if (previousBreak) breakSpace = true;
      previousSpace = true;
      previousBreak = false;
    } else if (isBreak(c)) {
      lineBreaks = true;
      if (i === 0) leadingBreak = true;
      if (i === chars.length - 1) trailingBreak = true;
      if (previousSpace) spaceBreak = true;
      previousSpace = false;
      previousBreak = true;
    } else {
      previousSpace = false;
      previousBreak = false;
    }
    precededByWhitespace = isBlank(c) || isBreak(c);
  });
  const a: Analysis = { multiline: lineBreaks, blockPlainAllowed: true, singleQuotedAllowed: true, blockAllowed: true };
  if (leadingSpace || leadingBreak || trailingSpace || trailingBreak) a.blockPlainAllowed = false;
  if (trailingSpace) a.blockAllowed = false;
  if (breakSpace) {
    a.blockPlainAllowed = false;
    a.singleQuotedAllowed = false;
  }
  if (spaceBreak || special) {
    a.blockPlainAllowed = false;
    a.singleQuotedAllowed = false;
    a.blockAllowed = false;
  }
  if (lineBreaks || blockIndicators) a.blockPlainAllowed = false;
  return a;
}

const ESCAPES: Record<number, string> = {
  0: "0",
  7: "a",
  8: "b",
  9: "t",
  10: "n",
  11: "v",
  12: "f",
  13: "r",
  27: "e",
  34: '"',
  92: "\\",
  133: "N",
  160: "_",
  8232: "L",
  8233: "P",
};

class Emitter {
  text = "";
  /** In code points, as libyaml counts. */
  column = 0;
  whitespace = true;
  indention = true;

  /** A string (or time) value: encode.go stringv's (or timev's) requested style, then select_scalar_style. */
  scalar(s: string, isTime = false): void {
    const chars = [...s];
    const a = analyze(chars);
    let style: "plain" | "single" | "double" | "literal" = isTime
      ? "plain"
      : s.includes("\n")
        ? "literal"
        : resolvesToNonString(s)
          ? "double"
          : "plain";
    if (style === "plain" && !a.blockPlainAllowed) style = "single";
    if (style === "single" && !a.singleQuotedAllowed) style = "double";
    if (style === "literal" && !a.blockAllowed) style = "double";
    if (style === "plain") this.plain(s, true);
    else if (style === "single") this.singleQuoted(chars);
    else if (style === "double") this.doubleQuoted(chars);
    else this.literal(chars);
  }

  private put(c: string): void {
    this.text += c;
    this.column++;
  }

  private putBreak(): void {
    this.text += "\n";
    this.column = 0;
  }

  /** write_break: "\n" as a line break, any other break character as itself, then a new line. */
  private writeBreak(c: string): void {
    if (c === "\n") this.putBreak();
    else {
      this.text += c;
      this.column = 0;
    }
  }

  writeIndent(indent = VALUE_INDENT): void {
    if (!this.indention || this.column > indent || (this.column === indent && !this.whitespace)) this.putBreak();
    while (this.column < indent) this.put(" ");
    this.whitespace = true;
    this.indention = true;
  }

  indicator(indicator: string, needWhitespace: boolean, isIndention = false): void {
    if (needWhitespace && !this.whitespace) this.put(" ");
    for (const c of indicator) this.put(c);
    this.whitespace = false;
    this.indention = this.indention && isIndention;
  }

  /** write_plain_scalar; breaks (folding) are allowed for values, not for keys. */
  plain(s: string, allowBreaks = true): void {
    const chars = [...s];
    if (!this.whitespace) this.put(" ");
    let spaces = false;
    chars.forEach((c, i) => {
      if (isSpace(c)) {
        if (allowBreaks && !spaces && this.column > BEST_WIDTH && !isSpace(chars[i + 1])) this.writeIndent();
        else this.put(c);
        spaces = true;
      } else {
        this.put(c);
        this.indention = false;
        spaces = false;
      }
    });
    this.whitespace = false;
    this.indention = false;
  }

  private singleQuoted(chars: readonly string[]): void {
    this.indicator("'", true);
    let spaces = false;
    let breaks = false;
    chars.forEach((c, i) => {
      if (isSpace(c)) {
        if (!spaces && this.column > BEST_WIDTH && i > 0 && i < chars.length - 1 && !isSpace(chars[i + 1])) {
          this.writeIndent();
        } else this.put(c);
        spaces = true;
      } else if (isBreak(c)) {
        if (!breaks && c === "\n") this.putBreak();
        this.writeBreak(c);
        this.indention = true;
        breaks = true;
      } else {
        if (breaks) this.writeIndent();
        if (c === "'") this.put("'");
        this.put(c);
        this.indention = false;
        spaces = false;
        breaks = false;
      }
    });
    this.indicator("'", false);
  }

  private doubleQuoted(chars: readonly string[]): void {
    this.indicator('"', true);
    let spaces = false;
    // yamlprivateh.go is_bom looks at the first character whatever the index: after a leading BOM, every
    // character is escaped.
    const bom = chars[0] === "\ufeff";
    chars.forEach((c, i) => {
      const cp = c.codePointAt(0)!;
      if (bom || !isPrintable(c) || isBreak(c) || c === '"' || c === "\\") {
        const named = ESCAPES[cp];
        const hex = (width: number) => cp.toString(16).toUpperCase().padStart(width, "0");
        const text = named ?? (cp <= 0xff ? `x${hex(2)}` : cp <= 0xffff ? `u${hex(4)}` : `U${hex(8)}`);
        for (const e of `\\${text}`) this.put(e);
        spaces = false;
      } else if (isSpace(c)) {
        if (!spaces && this.column > BEST_WIDTH && i > 0 && i < chars.length - 1) {
          this.writeIndent();
          if (isSpace(chars[i + 1])) this.put("\\");
        } else this.put(c);
        spaces = true;
      } else {
        this.put(c);
        spaces = false;
      }
    });
    this.indicator('"', false);
  }

  private literal(chars: readonly string[]): void {
    this.indicator("|", true);
    // write_block_scalar_hints: an indentation hint before leading space, a chomping hint for the trailing breaks.
    if (isSpace(chars[0]) || isBreak(chars[0])) this.indicator(String(BEST_INDENT), false);
    const last = chars.length - 1;
    if (!isBreak(chars[last])) this.indicator("-", false);
    else if (last === 0 || isBreak(chars[last - 1])) this.indicator("+", false);
    this.putBreak();
    this.indention = true;
    this.whitespace = true;
    let breaks = true;
    for (const c of chars) {
      if (isBreak(c)) {
        this.writeBreak(c);
        this.indention = true;
        breaks = true;
      } else {
        if (breaks) this.writeIndent();
        this.put(c);
        this.indention = false;
        breaks = false;
      }
    }
  }
}
