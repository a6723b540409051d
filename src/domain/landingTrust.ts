// What a landed manifest may be trusted with. Anyone who can write to the exports container can
// write a manifest.json, so its claims are checked against what only Cost Management or the app
// know: the run against the export's run history before it completes a backfill month, and the
// manifest's names against the folder it was written in. Pure.
import type { LandingVerdict } from './contracts';

/** A run as the export's run history lists it. */
export interface HistoryRun {
  runId?: string;
  status?: string;
}

export interface RunJudgement {
  verdict: LandingVerdict;
  reason?: string;
}

const FAILED = new Set(['failed', 'timeout', 'datanotavailable', 'newdatanotavailable']);

/**
 * Whether a landed run may complete the backfill month of the export whose history this is. The
 * caller has already set aside runs the export had before the month submitted its own (stale) and
 * runs of its failed attempts. A manifest is written last by a running run, so a run still Queued
 * cannot have landed yet (pending), and a run the history does not list is no run of this export.
 */
export function judgeLandedRun(history: readonly HistoryRun[], runId: string): RunJudgement {
  const wanted = runId.toLowerCase();
  const run = history.find((r) => r.runId?.toLowerCase() === wanted);
  if (!run) {
    return {
      verdict: 'refused',
      reason: `run ${runId} is not in the export's run history: no run this app submitted`,
    };
  }
  const status = (run.status ?? '').toLowerCase();
  if (status === 'queued') {
    return { verdict: 'pending', reason: `run ${runId} is still Queued in the run history` };
  }
  if (FAILED.has(status)) {
    return { verdict: 'refused', reason: `run ${runId} ended ${run.status} in the run history` };
  }
  return { verdict: 'confirmed' };
}
