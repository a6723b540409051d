// What a backfill month makes of what it hears about its run: whether a landing event is its own,
// what a landing event or a run-history answer means for the month, and the month's result when the
// run landed or ended without data. Pure: the month orchestrator (workflows/backfill.ts) decides
// with these between the durable actions it yields.
import { sasFailure } from './alertPolicy';
import type { ExportLandedEvent, LandingKey, MonthResult, MonthTask, ObservedRun } from './contracts';
import { sameScope } from './scope';

/** `YYYY-MM` from the forms a billing month arrives in: `2025-01`, `202501`, `20250101-20250131`. */
export function normaliseBillingMonth(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^(\d{4})-?(0[1-9]|1[0-2])(?:$|\d{2}\b|-\d{2})/.exec(value.trim());
  return m ? `${m[1]}-${m[2]}` : undefined;
}

/** Whether a landing event is this month's current run (events of other exports, months or of
 * earlier attempts are ignored). */
export function isOwnLanding(event: unknown, task: MonthTask, excludeRunIds: readonly string[]): boolean {
  if (typeof event !== 'object' || event === null) return false;
  const e = event as Partial<ExportLandedEvent>;
  if (typeof e.exportName !== 'string' || e.exportName.toLowerCase() !== task.exportName.toLowerCase())
    return false;
  if (normaliseBillingMonth(e.billingMonth) !== task.month) return false;
  if (typeof e.runId !== 'string' || e.runId === '' || excludeRunIds.includes(e.runId)) return false;
  if (typeof e.scope === 'string') {
    try {
      if (!sameScope(e.scope, task.scope)) return false;
    } catch {
      return false;
    }
  }
  return true;
}

export function isLandingKey(value: unknown): value is LandingKey {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as LandingKey).partitionKey === 'string' &&
    typeof (value as LandingKey).rowKey === 'string'
  );
}

/** How one attempt of a month ended. */
export type Landing =
  | { kind: 'landed'; runId: string; rowCount?: number; landingKey?: LandingKey }
  | { kind: 'noData'; runId: string; status: string }
  | { kind: 'failed'; runId?: string; reason: string; authorization?: string }
  | { kind: 'timedOut'; reason: string };

/** The authorization failure a failed run reports (a SAS token expired, revoked or lacking rights). */
function authorizationOf(run: ObservedRun): { authorization?: string } {
  const label = sasFailure({ status: run.status, at: '', ...(run.error ? { error: run.error } : {}) });
  return label ? { authorization: label } : {};
}

/** What a (confirmed, or not complete) landing event of this month's run means. */
export function landingOfEvent(event: ExportLandedEvent): Landing {
  if (event.state !== 'complete') {
    return { kind: 'failed', runId: event.runId, reason: `run ${event.runId} landed ${event.state}` };
  }
  return {
    kind: 'landed',
    runId: event.runId,
    ...(typeof event.rowCount === 'number' ? { rowCount: event.rowCount } : {}),
    ...(isLandingKey(event.landingKey) ? { landingKey: event.landingKey } : {}),
  };
}

/** What a run the history lists means for the month; undefined while it is queued or in progress. */
export function landingOfRun(run: ObservedRun): Landing | undefined {
  switch (run.status) {
    case 'Completed':
      return { kind: 'landed', runId: run.runId };
    case 'DataNotAvailable':
    case 'NewDataNotAvailable':
      return { kind: 'noData', runId: run.runId, status: run.status };
    case 'Failed':
    case 'Timeout':
      return {
        kind: 'failed',
        runId: run.runId,
        reason: `run ${run.runId} ended ${run.status}${run.error ? `: ${run.error}` : ''}`,
        ...authorizationOf(run),
      };
    default:
      return undefined; // Queued, InProgress: keep waiting
  }
}

/** The month's result for a run that landed or ended without data. */
export function monthSucceeded(
  base: Pick<MonthResult, 'dataset' | 'month'>,
  landing: Extract<Landing, { kind: 'landed' | 'noData' }>,
  attempts: number,
): MonthResult {
  if (landing.kind === 'noData') {
    return { ...base, outcome: 'NoData', runId: landing.runId, attempts, rowCount: 0 };
  }
  if (landing.rowCount === 0) {
    // A run with nothing to report lands one header-only file: the month has no data. A
    // manifest without a row count (dataRowCount null) is "rows unknown" and stays Completed.
    const result: MonthResult = { ...base, outcome: 'NoData', runId: landing.runId, attempts, rowCount: 0 };
    if (landing.landingKey !== undefined) result.landingKey = landing.landingKey;
    return result;
  }
  return {
    ...base,
    outcome: 'Completed',
    runId: landing.runId,
    attempts,
    ...(landing.landingKey !== undefined ? { landingKey: landing.landingKey } : {}),
    ...(landing.rowCount !== undefined ? { rowCount: landing.rowCount } : {}),
  };
}
