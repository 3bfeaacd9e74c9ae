/**
 * Go tabwriter as the Docker CLI configures it (minwidth 10, padding 3, space fill): every column
 * but the last is max(10, longest cell + 3) wide; the last is not padded.
 */
export function renderTable(rows: string[][]): string {
  if (rows.length === 0) return '';
  const cols = Math.max(...rows.map((r) => r.length));
  const widths: number[] = [];
  for (let c = 0; c < cols - 1; c++) {
    widths.push(Math.max(10, ...rows.map((r) => (r[c] ?? '').length + 3)));
  }
  return rows
    .map((r) => r.map((cell, c) => (c < cols - 1 ? cell.padEnd(widths[c]!) : cell)).join('') + '\n')
    .join('');
}
