// One out-of-band round: page through the exports that have a policy, run the due ones with at most
// `concurrency` activities in flight, and pause (durable timer, never a sleep) for the wait a 429
// asked for before the next batch. A throttled export is not retried in this round: it stays due and
// the next tick takes it. Each page ends with continueAsNew, so the history stays one page long
// however many thousands of exports there are. Deterministic: time is the orchestration's clock.
import type { OrchestrationContext, Task } from 'durable-functions';
import { batches } from '../domain/outOfBandPolicy';

export const OUT_OF_BAND_ROUND = 'outOfBandRound';
export const FIND_DUE_ACTIVITY = 'outOfBandFindDue';
export const RUN_EXPORT_ACTIVITY = 'outOfBandRunExport';

export interface RoundTotals {
  pages: number;
  scanned: number;
  /** Exports with a policy that were not due (running, too soon, outside their window). */
  notDue: number;
  due: number;
  submitted: number;
  throttled: number;
  failed: number;
  skipped: number;
  /** Time spent waiting out 429s, in ms. */
  pausedMs: number;
}

export interface RoundInput {
  /** The timer tick that started the round (ISO). */
  tick: string;
  concurrency: number;
  pageSize: number;
  /** Longest pause after a throttled batch (default 5 minutes). */
  maxThrottlePauseMs?: number;
  continuationToken?: string;
  totals?: RoundTotals;
}

export interface FindDueInput {
  now: string;
  pageSize: number;
  continuationToken?: string;
}

export interface FindDueOutput {
  due: { scope: string; exportName: string }[];
  scanned: number;
  /** Not-due counts by reason. */
  skipped: Record<string, number>;
  continuationToken?: string;
}

export interface RunExportInput {
  scope: string;
  exportName: string;
  now: string;
}

export interface RunExportOutput {
  scope: string;
  exportName: string;
  outcome: 'submitted' | 'throttled' | 'failed' | 'skipped';
  retryAfterMs?: number;
}

export const EMPTY_TOTALS: RoundTotals = {
  pages: 0,
  scanned: 0,
  notDue: 0,
  due: 0,
  submitted: 0,
  throttled: 0,
  failed: 0,
  skipped: 0,
  pausedMs: 0,
};

const DEFAULT_MAX_PAUSE_MS = 5 * 60_000;

export function* outOfBandRound(
  context: OrchestrationContext,
): Generator<Task, RoundTotals | undefined, unknown> {
  const input = context.df.getInput<RoundInput>();
  const totals: RoundTotals = { ...EMPTY_TOTALS, ...input.totals };
  const maxPause = input.maxThrottlePauseMs ?? DEFAULT_MAX_PAUSE_MS;

  const findInput: FindDueInput = {
    now: context.df.currentUtcDateTime.toISOString(),
    pageSize: input.pageSize,
    ...(input.continuationToken ? { continuationToken: input.continuationToken } : {}),
  };
  const page = (yield context.df.callActivity(FIND_DUE_ACTIVITY, findInput)) as FindDueOutput;
  totals.pages += 1;
  totals.scanned += page.scanned;
  totals.due += page.due.length;
  totals.notDue += Object.values(page.skipped).reduce((sum, n) => sum + n, 0);

  const groups = batches(page.due, input.concurrency);
  for (const [index, group] of groups.entries()) {
    const now = context.df.currentUtcDateTime.toISOString();
    const tasks = group.map((e) =>
      context.df.callActivity(RUN_EXPORT_ACTIVITY, { scope: e.scope, exportName: e.exportName, now }),
    );
    const results = (yield context.df.Task.all(tasks)) as RunExportOutput[];
    let wait = 0;
    for (const r of results) {
      totals[r.outcome] += 1;
      if (r.outcome === 'throttled') wait = Math.max(wait, r.retryAfterMs ?? maxPause);
    }
    context.df.setCustomStatus({ tick: input.tick, ...totals });
    const moreWork = index < groups.length - 1 || page.continuationToken !== undefined;
    if (wait > 0 && moreWork) {
      const pause = Math.min(wait, maxPause);
      totals.pausedMs += pause;
      yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + pause));
    }
  }

  if (page.continuationToken) {
    context.df.continueAsNew({ ...input, continuationToken: page.continuationToken, totals });
    return undefined;
  }
  context.df.setCustomStatus({ tick: input.tick, ...totals, done: true });
  return totals;
}
