// The status page's ledger heatmap: one page of ledger cells (months × exports, grouped by scope as
// the table lists them), read with one query, so the page stays one request however many exports
// there are. A page ends on an export boundary: the table's own continuation would cut an export's
// months in two (exports have 1 to 13 cells), so the page drops its last, possibly partial, export
// and the "next exports" key is where that export's cells start (scope partition and RowKey).
import { type Catalog, type LedgerCellRecord, ledgerCells, type Stored } from '../azure/catalog';
import { storageRefusal } from '../azure/storageRefusal';
import { expectedMonths, healingSummary, LEDGER_STATES, type LedgerState } from '../domain/ledger';

export interface HeatCell {
  state: LedgerState;
  reason: string;
  runId?: string;
  runTime?: string;
  rows?: number;
  healing?: string;
}

export interface HeatRow {
  scope: string;
  exportName: string;
  cells: Record<string, HeatCell>;
}

export interface Heatmap {
  /** Columns, oldest first. */
  months: string[];
  rows: HeatRow[];
  /** Cells of this page by state. */
  byState: Record<LedgerState, number>;
  /** Hand back as `?ledgerPage=` for the next exports (see heatmapPageKey). */
  continuationToken?: string;
  tableMissing?: boolean;
}

/** Cells read per page: 50 exports × 13 months. */
export const HEATMAP_PAGE_CELLS = 650;

/** Where a heatmap page starts: the first cell of an export (its scope partition and RowKey), or,
 * after table pages that matched nothing, where the table's scan stopped. */
export type HeatmapPageKey = { partitionKey: string; rowKey: string } | { tableToken: string };

/** The `?ledgerPage=` value of a page key: base64url of its JSON, opaque to the reader. */
export function formatHeatmapPageKey(key: HeatmapPageKey): string {
  const value = 'tableToken' in key ? [key.tableToken] : [key.partitionKey, key.rowKey];
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

/** The page key a "next exports" link carries; undefined when it is not one this page wrote. */
export function parseHeatmapPageKey(text: string): HeatmapPageKey | undefined {
  if (!/^[A-Za-z0-9_-]{1,2048}$/.test(text)) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (
      Array.isArray(value) &&
      (value.length === 1 || value.length === 2) &&
      value.every((v) => typeof v === 'string' && v.length > 0 && v.length <= 1024)
    ) {
      const [first, second] = value as string[];
      return second === undefined ? { tableToken: first! } : { partitionKey: first!, rowKey: second };
    }
  } catch {
    // not JSON: not ours
  }
  return undefined;
}

/** Table pages read at most per heatmap page: a filtered query may answer empty pages with a
 * continuation (Azure Tables stops a scan after 5 s or at a partition boundary). */
const MAX_TABLE_PAGES = 10;

export async function readHeatmap(
  catalog: Pick<Catalog, 'page'>,
  now: Date,
  horizonMonths: number,
  start?: HeatmapPageKey,
): Promise<Heatmap> {
  const months = expectedMonths({ recurrence: 'Daily', active: true }, now, {
    horizonMonths,
    finalAfterDays: 4,
    graceHours: 0,
  }).reverse();
  const byState = Object.fromEntries(LEDGER_STATES.map((s) => [s, 0])) as Record<LedgerState, number>;
  const heatmap: Heatmap = { months, rows: [], byState };
  const read = await readCells(catalog, months[0]!, start);
  if (read === 'tableMissing') return { ...heatmap, tableMissing: true };
  const page = endOnExportBoundary(read.items, read.more);
  if (page.next) heatmap.continuationToken = formatHeatmapPageKey(page.next);
  let row: HeatRow | undefined;
  for (const c of page.cells) {
    if (!row || row.scope !== c.scope || row.exportName !== c.exportName) {
      row = { scope: c.scope, exportName: c.exportName, cells: {} };
      heatmap.rows.push(row);
    }
    byState[c.state] += 1;
    row.cells[c.month] = heatCell(c);
  }
  return heatmap;
}

/** Up to a page of cells from `start` on, and the table's continuation when it has more. */
async function readCells(
  catalog: Pick<Catalog, 'page'>,
  fromMonth: string,
  start: HeatmapPageKey | undefined,
): Promise<{ items: Stored<LedgerCellRecord>[]; more: string | undefined } | 'tableMissing'> {
  const query = ledgerCells({
    fromMonth,
    ...(start && !('tableToken' in start) ? { fromKey: start } : {}),
  });
  const items: Stored<LedgerCellRecord>[] = [];
  let more = start && 'tableToken' in start ? start.tableToken : undefined;
  try {
    for (let pages = 0; pages < MAX_TABLE_PAGES; pages++) {
      const page = await catalog.page(query, {
        maxPageSize: HEATMAP_PAGE_CELLS - items.length,
        ...(more ? { continuationToken: more } : {}),
      });
      items.push(...page.items);
      more = page.continuationToken;
      if (!more || items.length >= HEATMAP_PAGE_CELLS) break;
    }
  } catch (error) {
    if (storageRefusal(error) === 'missing') return 'tableMissing';
    throw error;
  }
  return { items, more };
}

/** The cells this page shows and where the next page starts (none when the table has no more). */
function endOnExportBoundary(
  items: Stored<LedgerCellRecord>[],
  more: string | undefined,
): { cells: Stored<LedgerCellRecord>[]; next?: HeatmapPageKey } {
  if (!more) return { cells: items };
  // Only empty table pages so far: the next page goes on where the table's scan stopped.
  if (items.length === 0) return { cells: items, next: { tableToken: more } };
  // More cells follow: the last export may go on in them, so it starts the next page instead.
  const last = items[items.length - 1]!;
  let cut = items.length;
  while (cut > 0 && sameExport(items[cut - 1]!, last)) cut -= 1;
  if (cut === 0) {
    // One export filled the page (not with 13 months a row): go on after its cells, whose RowKeys
    // are `{export key}|{month}` and sort before `{export key}}` (ledgerExportRange).
    const afterExport = `${last.rowKey.slice(0, last.rowKey.lastIndexOf('|'))}}`;
    return { cells: items, next: { partitionKey: last.partitionKey, rowKey: afterExport } };
  }
  return {
    cells: items.slice(0, cut),
    next: { partitionKey: last.partitionKey, rowKey: items[cut]!.rowKey },
  };
}

function heatCell(c: LedgerCellRecord): HeatCell {
  return {
    state: c.state,
    reason: c.reason,
    ...(c.current
      ? {
          runId: c.current.runId,
          runTime: c.current.runTime,
          ...(c.current.rows !== undefined ? { rows: c.current.rows } : {}),
        }
      : {}),
    ...(c.healing ? { healing: healingSummary(c.healing) } : {}),
  };
}

function sameExport(a: Stored<LedgerCellRecord>, b: Stored<LedgerCellRecord>): boolean {
  return a.partitionKey === b.partitionKey && a.scope === b.scope && a.exportName === b.exportName;
}
