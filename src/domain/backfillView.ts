// What GET/DELETE /api/backfills/{id} tell a person beyond Durable Functions' own status: the
// overall outcome, each month in flight with its attempt, last error and next retry, and for a
// cancelled backfill the same `result` shape as a finished one, with the cancelled months named.
// Pure: the HTTP function gathers the orchestration, its months' statuses and the backfillRuns rows.
import type { BackfillOutput, MonthProgress, MonthResult } from './contracts';
import type { ExportDataset } from './scope';

export type BackfillOutcome = 'Succeeded' | 'PartiallySucceeded' | 'Failed' | 'Cancelled';

export interface InFlightMonth {
  dataset: string;
  month: string;
  phase: string;
  /** The run being waited for (1-based); 0 while the export is being created. */
  attempt: number;
  maxAttempts: number | null;
  lastError: string | null;
  /** When the next run starts, while backing off after a failed one. */
  nextRetryAt: string | null;
}

export type ViewMonthOutcome = MonthResult['outcome'] | 'Cancelled';

/** A month as the view lists it once the backfill ended (MonthResult, or a cancelled month). */
export type ViewMonth =
  | MonthResult
  | { dataset: ExportDataset; month: string; outcome: 'Cancelled'; runId: string | null; attempts: number };

/** Overall outcome; null while the orchestration has not ended. */
export function backfillOutcome(runtimeStatus: string, output: unknown): BackfillOutcome | null {
  if (runtimeStatus === 'Terminated') return 'Cancelled';
  if (runtimeStatus === 'Failed') return 'Failed';
  if (runtimeStatus !== 'Completed') return null;
  const counts = isOutput(output) ? output.counts : undefined;
  if (!counts) return 'Failed';
  const good = (counts.Completed ?? 0) + (counts.NoData ?? 0);
  if ((counts.Failed ?? 0) === 0) return 'Succeeded';
  return good > 0 ? 'PartiallySucceeded' : 'Failed';
}

export function inFlightMonth(
  where: { dataset: string; month: string },
  customStatus: unknown,
): InFlightMonth {
  const s = (
    typeof customStatus === 'object' && customStatus !== null ? customStatus : {}
  ) as Partial<MonthProgress>;
  return {
    dataset: where.dataset,
    month: where.month,
    phase: typeof s.phase === 'string' ? s.phase : 'starting',
    attempt: typeof s.attempts === 'number' ? s.attempts : 0,
    maxAttempts: typeof s.maxAttempts === 'number' ? s.maxAttempts : null,
    lastError: typeof s.lastError === 'string' && s.lastError !== '' ? s.lastError : null,
    nextRetryAt: s.phase === 'backingOff' && typeof s.nextRetryAt === 'string' ? s.nextRetryAt : null,
  };
}

/** Newest month first, then dataset: the order the backfill works in. */
export function byMonthThenDataset(
  a: { dataset: string; month: string },
  b: { dataset: string; month: string },
): number {
  return b.month.localeCompare(a.month) || a.dataset.localeCompare(b.dataset);
}

export type CancelledResult = Omit<BackfillOutput, 'counts' | 'months'> & {
  counts: Record<ViewMonthOutcome, number>;
  months: ViewMonth[];
  /** Why it ended (the termination reason). */
  reason: string;
};

/** What a backfillRuns row says about one month once the orchestration stopped. */
export interface MonthRow {
  dataset: ExportDataset;
  month: string;
  status: string;
  runId?: string;
  attempts?: number;
  error?: string;
}

/**
 * The result of a cancelled backfill, in the shape of a finished one: every (dataset, month) of
 * the request, finished ones with their outcome (from backfillRuns), the rest `Cancelled`.
 */
export function cancelledResult(
  input: { backfillId: string; scope: string; datasets: readonly ExportDataset[]; months: readonly string[] },
  rows: readonly MonthRow[],
  reason: string,
): CancelledResult {
  const byKey = new Map(rows.map((r) => [`${r.dataset.toLowerCase()}|${r.month}`, r]));
  const counts: Record<ViewMonthOutcome, number> = { Completed: 0, NoData: 0, Failed: 0, Cancelled: 0 };
  const months: ViewMonth[] = [];
  for (const month of input.months) {
    for (const dataset of input.datasets) {
      const row = byKey.get(`${dataset.toLowerCase()}|${month}`);
      const base = { dataset, month, runId: row?.runId ?? null, attempts: row?.attempts ?? 0 };
      let entry: ViewMonth;
      switch (row?.status) {
        case 'landed':
          entry = { ...base, outcome: 'Completed' };
          break;
        case 'dataNotAvailable':
          entry = { ...base, outcome: 'NoData' };
          break;
        case 'failed':
        case 'timedOut':
          entry = { ...base, outcome: 'Failed', ...(row.error ? { error: row.error } : {}) };
          break;
        default:
          entry = { ...base, outcome: 'Cancelled' };
      }
      counts[entry.outcome]++;
      months.push(entry);
    }
  }
  return {
    backfillId: input.backfillId,
    scope: input.scope,
    total: months.length,
    counts,
    months,
    reason,
  };
}

/** The last progress of a cancelled backfill, corrected: nothing runs or waits any more, and the
 * months that never finished are named (`"ActualCost 2025-10"`). */
export function cancelledProgress(progress: unknown, cancelled: readonly string[]): unknown {
  if (typeof progress !== 'object' || progress === null) return progress;
  const p = progress as { counts?: Record<string, number>; inFlight?: unknown };
  return {
    ...p,
    counts: { ...(p.counts ?? {}), pending: 0, running: 0, Cancelled: cancelled.length },
    inFlight: [],
    cancelled: [...cancelled],
  };
}

export interface DatasetProgress {
  dataset: string;
  total: number;
  Completed: number;
  NoData: number;
  Failed: number;
  running: number;
  pending: number;
}

/** Months done, running and waiting per dataset, from the backfillRuns rows (one per month started). */
export function datasetProgress(
  datasets: readonly string[],
  months: readonly string[],
  rows: readonly MonthRow[],
): DatasetProgress[] {
  const wanted = new Set(months);
  return datasets.map((dataset) => {
    const p: DatasetProgress = {
      dataset,
      total: months.length,
      Completed: 0,
      NoData: 0,
      Failed: 0,
      running: 0,
      pending: 0,
    };
    for (const row of rows) {
      if (row.dataset.toLowerCase() !== dataset.toLowerCase() || !wanted.has(row.month)) continue;
      if (row.status === 'landed') p.Completed++;
      else if (row.status === 'dataNotAvailable') p.NoData++;
      else if (row.status === 'failed' || row.status === 'timedOut') p.Failed++;
      else if (row.status === 'pending' || row.status === 'submitted') p.running++;
    }
    p.pending = Math.max(0, p.total - p.Completed - p.NoData - p.Failed - p.running);
    return p;
  });
}

function isOutput(value: unknown): value is BackfillOutput {
  return typeof value === 'object' && value !== null && typeof (value as BackfillOutput).counts === 'object';
}
