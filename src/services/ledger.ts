// Keeps the completeness ledger current: one cell per (export, billing month), updated right after each
// landing and each backfill month's outcome, and by a daily sweep that moves the cells whose state
// changes with time alone (Open → Stale, closed → Final is by landing; never-landed → Missing) and
// creates the cells of months that are expected but never landed. Pages, status and healing read the
// cells; nothing here scans the landings per request.
//
// Cost of the sweep: one pass over the exports table and one over the ledger table (1,000 rows a
// request), both in PartitionKey (scope) order so one scope's exports and cells are in memory at a
// time; one pass over the backfill run rows; writes only for cells that changed, in transactions.
import {
  allBackfillRuns,
  allRows,
  type BackfillRunRecord,
  type Catalog,
  exportKeys,
  type ExportRecord,
  exportsOfScopeAndDataset,
  type LandingRecord,
  type LedgerCellRecord,
  ledgerCells,
  ledgerKeys,
  type Page,
  type Stored,
} from '../azure/catalog';
import { DEFAULT_BACKFILL_PREFIX, parseBackfillExportName } from '../domain/backfillPlan';
import {
  type Cadence,
  type CellAttempt,
  type CellFacts,
  cellState,
  DEFAULT_LEDGER_SETTINGS,
  expectedMonths,
  foldAttempt,
  foldLanding,
  instantOf,
  type LedgerSettings,
  type LedgerState,
  monthOfTime,
} from '../domain/ledger';
import { type ExportDataset, parseScope } from '../domain/scope';

export type LedgerCatalog = Pick<
  Catalog,
  'get' | 'page' | 'query' | 'upsert' | 'upsertMany' | 'replaceIfMatch' | 'getExport'
>;

export interface LedgerDependencies {
  catalog: LedgerCatalog;
  settings?: Partial<LedgerSettings>;
  now?: () => Date;
}

/** Which cell a landing or a backfill month belongs to. */
interface CellTarget {
  scope: string;
  exportName: string;
  dataset?: ExportDataset;
  cadence: Cadence;
}

export interface SweepResult {
  exports: number;
  cellsRead: number;
  cellsWritten: number;
  byState: Record<LedgerState, number>;
}

export interface LedgerQuery {
  scope?: string;
  exportName?: string;
  /** `YYYY-MM`, inclusive. */
  fromMonth?: string;
  toMonth?: string;
  states?: readonly LedgerState[];
  continuationToken?: string;
  pageSize?: number;
}

const NO_CADENCE: Cadence = { active: false };

export function cadenceOf(e: Pick<ExportRecord, 'schedule'> | undefined): Cadence {
  if (!e?.schedule) return NO_CADENCE;
  return {
    recurrence: e.schedule.recurrence,
    active: e.schedule.status === 'Active',
    ...(e.schedule.from ? { from: e.schedule.from } : {}),
  };
}

/** `20250701-20250731` → `2025-07` (the folder the run landed under); undefined when it is not one. */
export function monthOfPeriod(period: string): string | undefined {
  const m = /^(\d{4})(\d{2})\d{2}(?:-\d{8})?$/.exec(period);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 12) return undefined;
  return `${m[1]}-${m[2]}`;
}

/** The ledger name of a backfill dataset that no registered export of the scope carries. */
export function backfillLedgerName(dataset: ExportDataset): string {
  return `${DEFAULT_BACKFILL_PREFIX}-${dataset.toLowerCase()}`;
}

function emptyFacts(month: string): CellFacts {
  return { month, runs: 0, supersededRuns: 0 };
}

export class LedgerService {
  private readonly catalog: LedgerCatalog;
  private readonly settings: LedgerSettings;
  private readonly now: () => Date;

  constructor(deps: LedgerDependencies) {
    this.catalog = deps.catalog;
    this.settings = { ...DEFAULT_LEDGER_SETTINGS, ...deps.settings };
    this.now = deps.now ?? (() => new Date());
  }

  // ------------------------------------------------------------------------------------ landing path

  /** Folds one catalogued landing into its month's cell(s). A backfill's one-month export counts for
   * every registered export of the scope with the same dataset. Idempotent for a redelivery. */
  async recordLanding(landing: LandingRecord): Promise<LedgerCellRecord[]> {
    const month = monthOfPeriod(landing.period);
    if (!month) return [];
    const targets = await this.targetsOf(landing.scope, landing.exportName);
    const usable = landing.state === 'complete';
    const run = {
      runId: landing.runId,
      runTime: landing.submittedTime ?? landing.catalogedAt,
      rows: landing.rowCount,
      bytes: landing.totalBytes,
      noData: usable && landing.rowCount === 0,
      catalogedAt: landing.catalogedAt,
      current: landing.current,
      usable,
    };
    const written: LedgerCellRecord[] = [];
    for (const target of targets) {
      written.push(await this.change(target, month, (facts) => foldLanding(facts, run)));
    }
    return written;
  }

  /** The landing path's hook: folds the landing the catalog just wrote (by its keys). */
  async recordLandingAt(landingKey: { partitionKey: string; rowKey: string }): Promise<LedgerCellRecord[]> {
    const landing = await this.catalog.get('landings', landingKey);
    return landing ? this.recordLanding(landing) : [];
  }

  /** Records a backfill month that ended without data (failed, timed out, DataNotAvailable). */
  async recordBackfillMonth(
    run: Pick<
      BackfillRunRecord,
      | 'scope'
      | 'exportName'
      | 'dataset'
      | 'month'
      | 'status'
      | 'attempts'
      | 'error'
      | 'backfillId'
      | 'updatedAt'
    >,
  ): Promise<void> {
    const attempt = attemptOfBackfillRun(run);
    if (!attempt) return;
    for (const target of await this.targetsOf(run.scope, run.exportName, run.dataset)) {
      await this.change(target, run.month, (facts) => foldAttempt(facts, attempt));
    }
  }

  /** Reads the cell, applies `fold`, recomputes the state, writes it back on its ETag. */
  async change(
    target: CellTarget,
    month: string,
    fold: (facts: CellFacts) => CellFacts,
    extra: (cell: LedgerCellRecord) => LedgerCellRecord = (c) => c,
  ): Promise<LedgerCellRecord> {
    const keys = ledgerKeys(target.scope, target.exportName, month);
    for (let attempt = 1; ; attempt++) {
      const stored = await this.catalog.get('ledger', keys);
      const next = extra(this.cellOf(target, month, fold(stored ?? emptyFacts(month)), stored));
      try {
        if (stored) await this.catalog.replaceIfMatch('ledger', next, stored.etag);
        else await this.catalog.upsert('ledger', next);
        return next;
      } catch (error) {
        if (attempt >= 5 || !(error instanceof Error && error.name === 'CatalogConflictError')) throw error;
      }
    }
  }

  private async targetsOf(
    scopeText: string,
    exportName: string,
    datasetHint?: ExportDataset,
  ): Promise<CellTarget[]> {
    const scope = parseScope(scopeText).canonical;
    const backfill = parseBackfillExportName(exportName);
    if (!backfill) {
      const registered = await this.catalog.getExport(scope, exportName);
      return [
        {
          scope,
          exportName: registered?.exportName ?? exportName,
          ...(registered ? { dataset: registered.dataset } : datasetHint ? { dataset: datasetHint } : {}),
          cadence: cadenceOf(registered),
        },
      ];
    }
    const targets: CellTarget[] = [];
    for await (const e of this.catalog.query(exportsOfScopeAndDataset(scope, backfill.dataset))) {
      if (!e.missing)
        targets.push({ scope, exportName: e.exportName, dataset: e.dataset, cadence: cadenceOf(e) });
    }
    if (targets.length > 0) return targets;
    return [
      {
        scope,
        exportName: backfillLedgerName(backfill.dataset),
        dataset: backfill.dataset,
        cadence: NO_CADENCE,
      },
    ];
  }

  private cellOf(
    target: CellTarget,
    month: string,
    facts: CellFacts,
    stored: LedgerCellRecord | undefined,
  ): LedgerCellRecord {
    const now = this.now();
    const verdict = cellState(facts, target.cadence, now, this.settings);
    const { month: _m, ...rest } = facts;
    return {
      ...rest,
      month,
      scope: target.scope,
      exportName: target.exportName,
      ...(target.dataset ? { dataset: target.dataset } : stored?.dataset ? { dataset: stored.dataset } : {}),
      state: verdict.state,
      reason: verdict.reason,
      ...(verdict.recheckAt ? { recheckAt: verdict.recheckAt } : {}),
      stateSince: stored && stored.state === verdict.state ? stored.stateSince : now.toISOString(),
      ...(stored?.healing ? { healing: stored.healing } : {}),
      updatedAt: now.toISOString(),
    };
  }

  // ----------------------------------------------------------------------------------------- sweep

  /** Recomputes every cell in the horizon and creates the expected ones that are missing. */
  async sweep(): Promise<SweepResult> {
    const now = this.now();
    const result: SweepResult = {
      exports: 0,
      cellsRead: 0,
      cellsWritten: 0,
      byState: { Final: 0, Open: 0, Stale: 0, Missing: 0, Failed: 0, NoData: 0 },
    };
    const attempts = await this.backfillAttempts();
    const horizon = new Set(expectedMonths({ recurrence: 'Daily', active: true }, now, this.settings));
    const exportsIt = peekable(this.catalog.query(allRows('exports')));
    const cellsIt = peekable(this.catalog.query(allRows('ledger')));
    for (;;) {
      const [e, c] = [await exportsIt.peek(), await cellsIt.peek()];
      if (!e && !c) break;
      // Both tables are partitioned by scope key and list in PartitionKey order: take the smaller.
      const partition = !e
        ? c!.partitionKey
        : !c
          ? e.partitionKey
          : e.partitionKey <= c.partitionKey
            ? e.partitionKey
            : c.partitionKey;
      const exports: Stored<ExportRecord>[] = [];
      const cells: Stored<LedgerCellRecord>[] = [];
      while ((await exportsIt.peek())?.partitionKey === partition) exports.push((await exportsIt.next())!);
      while ((await cellsIt.peek())?.partitionKey === partition) cells.push((await cellsIt.next())!);
      result.exports += exports.length;
      result.cellsRead += cells.length;
      const writes = this.sweepPartition(exports, cells, attempts, horizon, now);
      for (const cell of writes.all) result.byState[cell.state] += 1;
      if (writes.changed.length > 0) {
        await this.catalog.upsertMany('ledger', writes.changed);
        result.cellsWritten += writes.changed.length;
      }
    }
    return result;
  }

  private sweepPartition(
    exports: readonly Stored<ExportRecord>[],
    cells: readonly Stored<LedgerCellRecord>[],
    attempts: ReadonlyMap<string, CellAttempt>,
    horizon: ReadonlySet<string>,
    now: Date,
  ): { all: LedgerCellRecord[]; changed: LedgerCellRecord[] } {
    const byExport = new Map<string, Stored<LedgerCellRecord>[]>();
    for (const cell of cells) {
      const name = cell.exportName.toLowerCase();
      byExport.set(name, [...(byExport.get(name) ?? []), cell]);
    }
    const targets: { target: CellTarget; lastRun?: ExportRecord['lastRun'] }[] = exports.map((e) => ({
      target: { scope: e.scope, exportName: e.exportName, dataset: e.dataset, cadence: cadenceOf(e) },
      ...(e.lastRun ? { lastRun: e.lastRun } : {}),
    }));
    const registered = new Set(exports.map((e) => e.exportName.toLowerCase()));
    for (const [name, list] of byExport) {
      if (registered.has(name)) continue;
      const first = list[0]!;
      targets.push({
        target: {
          scope: first.scope,
          exportName: first.exportName,
          ...(first.dataset ? { dataset: first.dataset } : {}),
          cadence: NO_CADENCE,
        },
      });
    }
    const all: LedgerCellRecord[] = [];
    const changed: LedgerCellRecord[] = [];
    for (const { target, lastRun } of targets) {
      const stored = new Map((byExport.get(target.exportName.toLowerCase()) ?? []).map((c) => [c.month, c]));
      const months = new Set([...expectedMonths(target.cadence, now, this.settings), ...stored.keys()]);
      for (const month of months) {
        if (!horizon.has(month)) continue; // older cells stay as they are
        const cell = stored.get(month);
        let facts: CellFacts = cell ?? emptyFacts(month);
        const backfill =
          target.dataset && attempts.get(`${target.scope.toLowerCase()}|${target.dataset}|${month}`);
        if (backfill) facts = foldAttempt(facts, backfill);
        const exportAttempt = attemptOfExportRun(lastRun);
        if (exportAttempt && monthOfTime(instantOf(exportAttempt.at)) === month)
          facts = foldAttempt(facts, exportAttempt);
        const next = this.cellOf(target, month, facts, cell);
        all.push(next);
        if (!cell || differs(cell, next)) changed.push(next);
      }
    }
    return { all, changed };
  }

  /** scope|dataset|month → the newest backfill attempt that ended without data (a later landed run of
   * the same month drops it: the landing path has already recorded that run). */
  private async backfillAttempts(): Promise<Map<string, CellAttempt>> {
    const newest = new Map<string, BackfillRunRecord>();
    for await (const run of this.catalog.query(allBackfillRuns())) {
      const key = `${run.scope.toLowerCase()}|${run.dataset}|${run.month}`;
      const known = newest.get(key);
      if (!known || instantOf(run.updatedAt) > instantOf(known.updatedAt)) newest.set(key, run);
    }
    const attempts = new Map<string, CellAttempt>();
    for (const [key, run] of newest) {
      const attempt = attemptOfBackfillRun(run);
      if (attempt) attempts.set(key, attempt);
    }
    return attempts;
  }

  // ------------------------------------------------------------------------------------------- reads

  /** One page of cells: a scope is one partition, an export a RowKey range in it; months and states
   * filter on columns. Ordered by scope, export, month. */
  async page(query: LedgerQuery): Promise<Page<LedgerCellRecord>> {
    const { scope, continuationToken, pageSize, ...columns } = query;
    const selection = ledgerCells({
      ...columns,
      ...(scope !== undefined ? { scope: parseScope(scope).canonical } : {}),
    });
    const page = await this.catalog.page(selection, {
      ...(pageSize !== undefined ? { maxPageSize: pageSize } : {}),
      ...(continuationToken ? { continuationToken } : {}),
    });
    return {
      items: page.items.map(({ partitionKey: _p, rowKey: _r, etag: _e, ...cell }) => cell),
      ...(page.continuationToken ? { continuationToken: page.continuationToken } : {}),
    };
  }

  /** The cell of one export and month (point read). */
  async cell(scope: string, exportName: string, month: string): Promise<LedgerCellRecord | undefined> {
    const stored = await this.catalog.get(
      'ledger',
      ledgerKeys(parseScope(scope).canonical, exportName, month),
    );
    if (!stored) return undefined;
    const { partitionKey: _p, rowKey: _r, etag: _e, ...cell } = stored;
    return cell;
  }

  /** Where a registered export's row is, for callers that hold a cell. */
  static exportKeysOf(cell: Pick<LedgerCellRecord, 'scope' | 'exportName'>): {
    partitionKey: string;
    rowKey: string;
  } {
    return exportKeys(cell.scope, cell.exportName);
  }
}

export function attemptOfBackfillRun(
  run: Pick<BackfillRunRecord, 'status' | 'updatedAt' | 'error' | 'attempts' | 'backfillId'>,
): CellAttempt | undefined {
  if (run.status !== 'failed' && run.status !== 'timedOut' && run.status !== 'dataNotAvailable')
    return undefined;
  const tries = run.attempts === undefined ? '' : ` after ${run.attempts} attempt(s)`;
  return {
    at: run.updatedAt,
    outcome: run.status === 'dataNotAvailable' ? 'noData' : 'failed',
    reason:
      run.status === 'dataNotAvailable'
        ? `backfill ${run.backfillId}: DataNotAvailable`
        : `backfill ${run.backfillId} ${run.status}${tries}${run.error ? `: ${run.error.slice(0, 500)}` : ''}`,
    source: 'backfill',
    backfillId: run.backfillId,
    ...(run.attempts !== undefined ? { attempts: run.attempts } : {}),
  };
}

export function attemptOfExportRun(lastRun: ExportRecord['lastRun']): CellAttempt | undefined {
  if (!lastRun || !/^(failed|timeout)$/i.test(lastRun.status)) return undefined;
  return {
    at: lastRun.at,
    outcome: 'failed',
    reason:
      `run ${lastRun.runId ?? ''} ${lastRun.status}${lastRun.error ? `: ${lastRun.error.slice(0, 500)}` : ''}`.replace(
        '  ',
        ' ',
      ),
    source: 'export',
  };
}

/** Whether a recomputed cell says anything new (updatedAt alone is not a change). */
function differs(a: LedgerCellRecord, b: LedgerCellRecord): boolean {
  const ignored = new Set(['updatedAt', 'partitionKey', 'rowKey', 'etag']);
  const canonical = (value: unknown, top = false): string => {
    if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'undefined';
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([k, v]) => v !== undefined && !(top && ignored.has(k)))
      .sort(([x], [y]) => (x < y ? -1 : 1));
    return `{${entries.map(([k, v]) => `${k}:${canonical(v)}`).join(',')}}`;
  };
  return canonical(a, true) !== canonical(b, true);
}

interface Peekable<T> {
  peek(): Promise<T | undefined>;
  next(): Promise<T | undefined>;
}

function peekable<T>(source: AsyncIterator<T>): Peekable<T> {
  let head: { value: T | undefined } | undefined;
  const fill = async () => {
    if (!head) {
      const r = await source.next();
      head = { value: r.done ? undefined : r.value };
    }
    return head.value;
  };
  return {
    peek: fill,
    async next() {
      const value = await fill();
      head = undefined;
      return value;
    },
  };
}
