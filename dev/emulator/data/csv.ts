// CSV as Azure writes it: RFC 4180 quoting, CRLF line ends, a header row, no BOM.
import type { Cell, CellKind, DateStyle } from './columns';
import { formatDecimal, isoMinutes, isoSeconds, usDate } from './format';

export const CRLF = '\r\n';

/** What a file encoder needs to know about a table. */
export interface TableShape {
  columns: readonly { name: string; kind: CellKind }[];
  dateStyle: DateStyle;
  booleanStyle: 'title' | 'lower';
}

/** Quotes a field when it holds a comma, quote, CR or LF (doubling inner quotes). */
export function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

const DATE_FORMATTERS: Record<DateStyle, (date: Date) => string> = {
  usDate,
  isoMinutes,
  isoSeconds,
};
// Files repeat a handful of dates thousands of times: format each once per style.
const dateTexts: Record<DateStyle, Map<number, string>> = {
  usDate: new Map(),
  isoMinutes: new Map(),
  isoSeconds: new Map(),
};

function formatDate(date: Date, style: DateStyle): string {
  const cache = dateTexts[style];
  const time = date.getTime();
  let text = cache.get(time);
  if (text === undefined) {
    if (cache.size > 10_000) cache.clear();
    text = DATE_FORMATTERS[style](date);
    cache.set(time, text);
  }
  return text;
}

export function formatCell(cell: Cell, shape: Pick<TableShape, 'dateStyle' | 'booleanStyle'>): string {
  if (cell === null) return '';
  if (cell instanceof Date) return formatDate(cell, shape.dateStyle);
  if (typeof cell === 'number') return formatDecimal(cell);
  if (typeof cell === 'boolean') {
    if (shape.booleanStyle === 'lower') return cell ? 'true' : 'false';
    return cell ? 'True' : 'False';
  }
  return cell;
}

/** A whole CSV file: the header plus one CRLF-terminated line per row. */
export function encodeCsv(shape: TableShape, rows: readonly Cell[][]): string {
  const lines: string[] = [shape.columns.map((c) => csvField(c.name)).join(',')];
  for (const row of rows) lines.push(row.map((cell) => csvField(formatCell(cell, shape))).join(','));
  return lines.join(CRLF) + CRLF;
}

/** Splits CSV text into rows of fields (RFC 4180; quoted fields may hold CR/LF). Used to read
 * files back in tests and benchmarks. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\r' || ch === '\n') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += ch;
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}
