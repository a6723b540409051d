// One export sync round: page through MANAGED_SCOPES, then through the fleet's member scopes (the
// fleet table's continuation token as the cursor), and sync each scope (one list call with its
// run history), on the paged-round shape (pagedRound.ts): bounded concurrency, a durable pause for
// the wait a 429 asked for before the next batch, continueAsNew per page. A throttled scope is not
// retried in this round: the next tick takes it.
import type { ExportSyncReport, ScopeSyncResult } from '../domain/contracts';
import { cursorOf, type SyncCursor } from '../domain/syncCursor';
import { MAX_PROBLEMS, noteProblem, pagedRound, type PagedRoundInput } from './pagedRound';

export const EXPORT_SYNC_ROUND = 'exportSyncRound';
export const SCOPES_PAGE_ACTIVITY = 'exportSyncScopesPage';
export const SYNC_SCOPE_ACTIVITY = 'exportSyncScope';

/** What a scope's sync answers: the part of the registry's result a round keeps in its history. */
export type ScopeSyncOutcome = Pick<
  ScopeSyncResult,
  'scope' | 'status' | 'exports' | 'markedMissing' | 'retryAfterMs' | 'error'
>;

/** The inline sync's totals, plus what a round adds. */
export type SyncRoundTotals = ExportSyncReport['totals'] & {
  pages: number;
  /** Scopes that came from the fleet's members (the rest are MANAGED_SCOPES). */
  fleetScopes: number;
  /** Time spent waiting out 429s, in ms. */
  pausedMs: number;
  /** The first scopes that were not synced, and why (at most MAX_PROBLEMS). */
  problems: { scope: string; status: 'throttled' | 'failed'; error?: string }[];
};

export interface SyncRoundInput extends PagedRoundInput<SyncRoundTotals> {
  pageSize: number;
  cursor?: SyncCursor;
  /** The cursor of rounds started before the fleet part (an offset into MANAGED_SCOPES). */
  offset?: number;
}

export interface ScopesPageInput {
  /** Absent: the first page. */
  cursor?: SyncCursor;
  pageSize: number;
}

export interface ScopesPage {
  scopes: string[];
  /** Where the next page starts; absent on the last page. */
  next?: SyncCursor;
  /** How many of `scopes` came from the fleet. */
  fromFleet: number;
}

export { MAX_PROBLEMS };

export function emptySyncTotals(): SyncRoundTotals {
  return {
    pages: 0,
    fleetScopes: 0,
    scopes: 0,
    synced: 0,
    throttled: 0,
    failed: 0,
    exports: 0,
    markedMissing: 0,
    pausedMs: 0,
    problems: [],
  };
}

export const exportSyncRound = pagedRound<
  SyncRoundInput,
  SyncCursor,
  string,
  ScopeSyncOutcome,
  SyncRoundTotals
>({
  emptyTotals: emptySyncTotals,
  cursor: cursorOf,
  withCursor: ({ offset: _legacy, ...input }, cursor, totals) => ({ ...input, cursor, totals }),
  *readPage({ context, input, totals, cursor }) {
    const pageInput: ScopesPageInput = { ...(cursor ? { cursor } : {}), pageSize: input.pageSize };
    const page = (yield context.df.callActivity(SCOPES_PAGE_ACTIVITY, pageInput)) as ScopesPage;
    totals.pages += 1;
    totals.fleetScopes += page.fromFleet ?? 0;
    return { kind: 'page', items: page.scopes, ...(page.next ? { next: page.next } : {}) };
  },
  run: ({ context }, scope) => context.df.callActivity(SYNC_SCOPE_ACTIVITY, scope),
  tally({ totals }, _scope, r) {
    totals.scopes += 1;
    totals[r.status] += 1;
    totals.exports += r.exports ?? 0;
    totals.markedMissing += r.markedMissing ?? 0;
    if (r.status === 'synced') return {};
    noteProblem(totals.problems, {
      scope: r.scope,
      status: r.status,
      ...(r.error ? { error: r.error } : {}),
    });
    return r.status === 'throttled' ? { throttledMs: r.retryAfterMs ?? Number.MAX_SAFE_INTEGER } : {};
  },
  status: ({ input, totals }, done) => ({
    tick: input.tick,
    ...totals,
    problems: totals.problems.length,
    ...(done ? { done: true } : {}),
  }),
});
