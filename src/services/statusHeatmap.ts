// The status page's ledger heatmap: one page of ledger cells (months × exports, grouped by scope as
// the table lists them), read with one query, so the page stays one request however many exports
// there are; a continuation token leads to the next page of exports.
import { odata } from '@azure/data-tables';
import { isRestError } from '@azure/core-rest-pipeline';
import type { Catalog } from '../azure/catalog';
import { expectedMonths, LEDGER_STATES, type LedgerState } from '../domain/ledger';

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
  /** Hand back as `?ledgerPage=` for the next exports. */
  continuationToken?: string;
  tableMissing?: boolean;
}

/** Cells read per page: 50 exports × 13 months. */
export const HEATMAP_PAGE_CELLS = 650;

export async function readHeatmap(
  catalog: Pick<Catalog, 'page'>,
  now: Date,
  horizonMonths: number,
  continuationToken?: string,
): Promise<Heatmap> {
  const months = expectedMonths({ recurrence: 'Daily', active: true }, now, {
    horizonMonths,
    finalAfterDays: 4,
    graceHours: 0,
  }).reverse();
  const byState = Object.fromEntries(LEDGER_STATES.map((s) => [s, 0])) as Record<LedgerState, number>;
  const heatmap: Heatmap = { months, rows: [], byState };
  let page;
  try {
    page = await catalog.page('ledger', odata`month ge ${months[0]!}`, {
      maxPageSize: HEATMAP_PAGE_CELLS,
      ...(continuationToken ? { continuationToken } : {}),
    });
  } catch (error) {
    if (isRestError(error) && error.statusCode === 404) return { ...heatmap, tableMissing: true };
    throw error;
  }
  let row: HeatRow | undefined;
  for (const c of page.items) {
    if (!row || row.scope !== c.scope || row.exportName !== c.exportName) {
      row = { scope: c.scope, exportName: c.exportName, cells: {} };
      heatmap.rows.push(row);
    }
    byState[c.state] += 1;
    row.cells[c.month] = {
      state: c.state,
      reason: c.reason,
      ...(c.current
        ? {
            runId: c.current.runId,
            runTime: c.current.runTime,
            ...(c.current.rows !== undefined ? { rows: c.current.rows } : {}),
          }
        : {}),
      ...(c.healing
        ? { healing: `healing ${c.healing.outcome} ${c.healing.lastAt}, attempt ${c.healing.attempts}` }
        : {}),
    };
  }
  if (page.continuationToken) heatmap.continuationToken = page.continuationToken;
  return heatmap;
}
