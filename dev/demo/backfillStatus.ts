// Reads the answer of GET /api/backfills/{id} (src/functions/backfill.ts: `progress` is the
// orchestrator's custom status, `result` its output) into what the demo shows. Pure and defensive:
// the demo must explain a surprising answer, not crash on it.
import type { ProgressSnapshot } from './progress';

export interface MonthOutcomeView {
  dataset: string;
  month: string;
  outcome: string;
  runId: string | null;
  attempts: number;
  landingKey?: { partitionKey: string; rowKey: string };
  rowCount?: number;
  error?: string;
}

export interface BackfillView {
  id: string;
  runtimeStatus: string;
  progress: ProgressSnapshot;
  /** Present once the orchestration has finished. */
  months?: MonthOutcomeView[];
}

export const TERMINAL_STATUSES: ReadonlySet<string> = new Set(['Completed', 'Failed', 'Terminated']);

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown, fallback = 0) => (typeof v === 'number' && Number.isFinite(v) ? v : fallback);
const str = (v: unknown, fallback = '') => (typeof v === 'string' ? v : fallback);

function monthView(v: unknown): MonthOutcomeView | undefined {
  if (!isRecord(v) || typeof v.dataset !== 'string' || typeof v.month !== 'string') return undefined;
  const key = v.landingKey;
  return {
    dataset: v.dataset,
    month: v.month,
    outcome: str(v.outcome, 'Unknown'),
    runId: typeof v.runId === 'string' ? v.runId : null,
    attempts: num(v.attempts),
    ...(isRecord(key) && typeof key.partitionKey === 'string' && typeof key.rowKey === 'string'
      ? { landingKey: { partitionKey: key.partitionKey, rowKey: key.rowKey } }
      : {}),
    ...(typeof v.rowCount === 'number' ? { rowCount: v.rowCount } : {}),
    ...(typeof v.error === 'string' ? { error: v.error } : {}),
  };
}

export function parseBackfillView(body: unknown): BackfillView {
  if (!isRecord(body)) throw new Error(`backfill status: expected a JSON object, got ${typeof body}`);
  const runtimeStatus = str(body.runtimeStatus, 'Unknown');
  const custom = isRecord(body.progress)
    ? body.progress
    : isRecord(body.customStatus)
      ? body.customStatus
      : {};
  const output = isRecord(body.result) ? body.result : isRecord(body.output) ? body.output : undefined;
  const counts = isRecord(custom.counts) ? custom.counts : {};
  const rawMonths = output && Array.isArray(output.months) ? output.months : undefined;
  const months = rawMonths?.map(monthView).filter((m): m is MonthOutcomeView => m !== undefined);
  const tallyOf = (outcome: string) =>
    months ? months.filter((m) => m.outcome === outcome).length : num(counts[outcome]);
  return {
    id: str(body.id),
    runtimeStatus,
    progress: {
      runtimeStatus,
      total: num(custom.total, months?.length ?? num(output?.total)),
      completed: tallyOf('Completed'),
      noData: tallyOf('NoData'),
      failed: tallyOf('Failed'),
      running: months ? 0 : num(counts.running),
      inFlight: Array.isArray(custom.inFlight)
        ? custom.inFlight.filter((x): x is string => typeof x === 'string')
        : [],
    },
    ...(months ? { months } : {}),
  };
}
