/**
 * Go tabwriter as the Docker CLI configures it (minwidth 10, padding 3, space fill): every column
 * but the last is max(10, longest cell + 3) wide; the last is not padded.
 */
export function renderTable(rows: string[][]): string {
  if (rows.length === 0) return '';
  let cols = 0;
  for (const r of rows) if (r.length > cols) cols = r.length;
  const widths: number[] = new Array<number>(Math.max(0, cols - 1)).fill(10);
  for (const r of rows) {
    for (let c = 0; c < cols - 1; c++) {
      const w = (r[c] ?? '').length + 3;
      if (w > widths[c]!) widths[c] = w;
    }
  }
  // Plain concatenation: at 50k rows, map/join allocations cost more than the padding.
  let out = '';
  for (const r of rows) {
    for (let c = 0; c < r.length; c++) out += c < cols - 1 ? r[c]!.padEnd(widths[c]!) : r[c]!;
    out += '\n';
  }
  return out;
}
