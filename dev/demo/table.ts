// The demo's closing table: one row per (month, dataset) with its outcome and what the landing catalog
// holds for it. Pure formatting, no I/O.

export interface MonthRow {
  month: string;
  dataset: string;
  outcome: string;
  attempts: number;
  /** From the catalog; undefined when nothing was catalogued (NoData, Failed). */
  files?: number;
  rows?: number;
  bytes?: number;
  error?: string;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

const count = (n: number | undefined) => (n === undefined ? '-' : n.toLocaleString('en-US'));

/** Newest month first, datasets alphabetically within a month. */
export function sortRows(rows: readonly MonthRow[]): MonthRow[] {
  return [...rows].sort((a, b) => b.month.localeCompare(a.month) || a.dataset.localeCompare(b.dataset));
}

/** An aligned text table with a totals line; errors follow the table, one per failed row. */
export function renderTable(rows: readonly MonthRow[]): string {
  const header = ['Month', 'Dataset', 'Outcome', 'Attempts', 'Files', 'Rows', 'Size'];
  const right = [false, false, false, true, true, true, true];
  const sorted = sortRows(rows);
  const body = sorted.map((r) => [
    r.month,
    r.dataset,
    r.outcome,
    String(r.attempts),
    count(r.files),
    count(r.rows),
    r.bytes === undefined ? '-' : formatBytes(r.bytes),
  ]);
  const sum = (pick: (r: MonthRow) => number | undefined) => rows.reduce((s, r) => s + (pick(r) ?? 0), 0);
  const completed = rows.filter((r) => r.outcome === 'Completed').length;
  const distinct = (pick: (r: MonthRow) => string) => new Set(rows.map(pick)).size;
  const totals = [
    'Total',
    `${distinct((r) => r.month)} month(s) × ${distinct((r) => r.dataset)}`,
    `${completed} Completed`,
    String(sum((r) => r.attempts)),
    count(sum((r) => r.files)),
    count(sum((r) => r.rows)),
    formatBytes(sum((r) => r.bytes)),
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...[...body, totals].map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  const errors = sorted.filter((r) => r.error).map((r) => `  ${r.month} ${r.dataset}: ${r.error!}`);
  return [
    line(header),
    rule,
    ...body.map(line),
    rule,
    line(totals),
    ...(errors.length > 0 ? ['', 'Errors:', ...errors] : []),
  ].join('\n');
}
