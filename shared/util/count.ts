/**
 * Counts for people to read: `12,345` (en-US grouping, whatever the machine's locale, so logs and tests read the
 * same everywhere). Only for text and tables; JSON, YAML and CSV keep plain numbers.
 */
const grouped = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

export function count(n: number): string {
  return grouped.format(n);
}
