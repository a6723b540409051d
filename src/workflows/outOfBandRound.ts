// One out-of-band round: page through the exports that have a policy and run the due ones, on the
// paged-round shape (pagedRound.ts): bounded concurrency, a durable pause (never a sleep) for the
// wait a 429 asked for before the next batch, continueAsNew per page. A throttled export is not
// retried in this round: it stays due and the next tick takes it.
import { pagedRound, type PagedRoundInput } from './pagedRound';

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

export interface RoundInput extends PagedRoundInput<RoundTotals> {
  pageSize: number;
  continuationToken?: string;
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

type DueExport = FindDueOutput['due'][number];

export const outOfBandRound = pagedRound<RoundInput, string, DueExport, RunExportOutput, RoundTotals>({
  emptyTotals: () => ({ ...EMPTY_TOTALS }),
  cursor: (input) => input.continuationToken,
  withCursor: (input, continuationToken, totals) => ({ ...input, continuationToken, totals }),
  *readPage({ context, input, totals, cursor }) {
    const findInput: FindDueInput = {
      now: context.df.currentUtcDateTime.toISOString(),
      pageSize: input.pageSize,
      ...(cursor ? { continuationToken: cursor } : {}),
    };
    const page = (yield context.df.callActivity(FIND_DUE_ACTIVITY, findInput)) as FindDueOutput;
    totals.pages += 1;
    totals.scanned += page.scanned;
    totals.due += page.due.length;
    totals.notDue += Object.values(page.skipped).reduce((sum, n) => sum + n, 0);
    return {
      kind: 'page',
      items: page.due,
      ...(page.continuationToken ? { next: page.continuationToken } : {}),
    };
  },
  run: ({ context }, e) =>
    context.df.callActivity(RUN_EXPORT_ACTIVITY, {
      scope: e.scope,
      exportName: e.exportName,
      now: context.df.currentUtcDateTime.toISOString(),
    } satisfies RunExportInput),
  tally({ totals }, _e, r) {
    totals[r.outcome] += 1;
    return r.outcome === 'throttled' ? { throttledMs: r.retryAfterMs ?? Number.MAX_SAFE_INTEGER } : {};
  },
  status: ({ input, totals }, done) => ({ tick: input.tick, ...totals, ...(done ? { done: true } : {}) }),
});
