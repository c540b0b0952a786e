/**
 * The Dapr CLI's table (cli:utils/utils.go WriteTable over olekukonko/tablewriter v0.0.5): no borders, no header
 * line, left aligned, no wrapping, cells separated by two spaces, headers upper-cased with `_` turned into a space,
 * each cell's whitespace collapsed to single spaces, and columns whose cells are all blank dropped (all columns are
 * kept when every column is blank).
 *
 * Streaming: column widths and blank columns do not depend on row order, so a caller can `observe()` every row as it
 * is produced (e.g. while feeding an external sort), then print `header()` and `line()` for each row in any order
 * without holding the rows.
 *
 * Two deliberate differences from Dapr's bytes: Dapr left-trims each rendered line, which shifts a row whose first
 * cell is blank out of alignment — we keep the columns aligned; and Dapr pads the last column and ends every line
 * with two spaces — we drop that trailing whitespace.
 */

const GO_SPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;

/** Dapr's sanitizeCell: line breaks to spaces, whitespace runs collapsed (Go strings.Fields), trimmed. */
export function sanitizeCell(value: string): string {
  return value
    .split(GO_SPACE)
    .filter((part) => part !== "")
    .join(" ");
}

/** tablewriter Title(): `_` to space, `.` to space unless between digits/spaces, trimmed, upper-cased. */
export function titleCase(name: string): string {
  const chars = [...name];
  const numOrSpace = (c: string | undefined) => c !== undefined && /[0-9 ]/.test(c);
  const out = chars.map((c, i) => {
    if (c === "_") return " ";
    if (c === "." && ((i !== 0 && !numOrSpace(chars[i - 1])) || (i !== chars.length - 1 && !numOrSpace(chars[i + 1]))))
      return " ";
    return c;
  });
  const trimmed = out.join("").trim();
  return (trimmed === "" && name.length > 0 ? " " : trimmed).toUpperCase();
}

/**
 * Terminal display width (go-runewidth StringWidth, approximated): East Asian wide/fullwidth and emoji count 2,
 * combining marks and zero-width characters 0, everything else 1.
 */
export function displayWidth(text: string): number {
  let width = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x300) {
      width += cp < 0x20 || (cp >= 0x7f && cp < 0xa0) ? 0 : 1;
    } else if (
      (cp >= 0x300 && cp <= 0x36f) ||
      (cp >= 0x200b && cp <= 0x200f) ||
      (cp >= 0xfe00 && cp <= 0xfe0f) ||
      cp === 0xfeff
    ) {
      // combining marks, zero-width spaces/joiners, variation selectors
    } else if (
      (cp >= 0x1100 && cp <= 0x115f) ||
      (cp >= 0x2e80 && cp <= 0x303e) ||
      (cp >= 0x3041 && cp <= 0x33ff) ||
      (cp >= 0x3400 && cp <= 0x4dbf) ||
      (cp >= 0x4e00 && cp <= 0x9fff) ||
      (cp >= 0xa000 && cp <= 0xa4cf) ||
      (cp >= 0xac00 && cp <= 0xd7a3) ||
      (cp >= 0xf900 && cp <= 0xfaff) ||
      (cp >= 0xfe30 && cp <= 0xfe4f) ||
      (cp >= 0xff00 && cp <= 0xff60) ||
      (cp >= 0xffe0 && cp <= 0xffe6) ||
      (cp >= 0x1f300 && cp <= 0x1f64f) ||
      (cp >= 0x1f900 && cp <= 0x1f9ff) ||
      (cp >= 0x20000 && cp <= 0x3fffd)
    ) {
      width += 2;
    } else {
      width += 1;
    }
  }
  return width;
}

export class TableLayout {
  private readonly titles: string[];
  private readonly widths: number[];
  private readonly nonBlank: boolean[];
  private rows = 0;

  /** `headers` as Dapr's csv tags spell them (e.g. `Name`, `EXECUTION_ID`); they are title-cased for display. */
  constructor(headers: readonly string[]) {
    this.titles = headers.map(titleCase);
    this.widths = this.titles.map(displayWidth);
    this.nonBlank = headers.map(() => false);
  }

  /** Accounts for one row's cells (raw values; sanitized here). */
  observe(cells: readonly string[]): void {
    this.rows++;
    this.titles.forEach((_, i) => {
      const cell = sanitizeCell(cells[i] ?? "");
      if (cell !== "") this.nonBlank[i] = true;
      const w = displayWidth(cell);
      if (w > this.widths[i]!) this.widths[i] = w;
    });
  }

  get rowCount(): number {
    return this.rows;
  }

  private kept(): number[] {
    const keep = this.titles.map((_, i) => i).filter((i) => this.nonBlank[i]);
    return keep.length > 0 ? keep : this.titles.map((_, i) => i);
  }

  private render(cells: readonly string[]): string {
    const parts = this.kept().map((i) => {
      const cell = cells[i]!;
      return cell + " ".repeat(Math.max(0, this.widths[i]! - displayWidth(cell)));
    });
    return parts.join("  ").trimEnd();
  }

  /** The header line (no newline). */
  header(): string {
    return this.render(this.titles);
  }

  /** One row's line (no newline); the row must have been observed. */
  line(cells: readonly string[]): string {
    return this.render(this.titles.map((_, i) => sanitizeCell(cells[i] ?? "")));
  }
}

/** Renders a whole table (header + rows), each line ending in "\n". */
export function renderTable(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const layout = new TableLayout(headers);
  for (const row of rows) layout.observe(row);
  return [layout.header(), ...rows.map((row) => layout.line(row))].map((l) => `${l}\n`).join("");
}
