// One export sync round: page through MANAGED_SCOPES and sync each scope (one list call with its
// run history) with at most `concurrency` activities in flight, pausing on a durable timer for the
// wait a 429 asked for before the next batch. A throttled scope is not retried in this round: the
// next tick takes it. Each page ends with continueAsNew, so thousands of scopes never hit a
// function timeout and the history stays one page long. Deterministic: no I/O, no clock but the
// orchestration's.
import type { OrchestrationContext, Task } from 'durable-functions';
import { batches } from '../domain/outOfBandPolicy';
import type { ExportSyncReport, ScopeSyncResult } from '../domain/contracts';

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
  /** Time spent waiting out 429s, in ms. */
  pausedMs: number;
  /** The first scopes that were not synced, and why (at most MAX_PROBLEMS). */
  problems: { scope: string; status: 'throttled' | 'failed'; error?: string }[];
};

export interface SyncRoundInput {
  /** The tick (or request) that started the round (ISO). */
  tick: string;
  concurrency: number;
  pageSize: number;
  /** Longest pause after a throttled batch (default 5 minutes). */
  maxThrottlePauseMs?: number;
  offset?: number;
  totals?: SyncRoundTotals;
}

export interface ScopesPageInput {
  offset: number;
  pageSize: number;
}

export interface ScopesPage {
  scopes: string[];
  /** Where the next page starts; absent on the last page. */
  nextOffset?: number;
}

export const MAX_PROBLEMS = 50;
const DEFAULT_MAX_PAUSE_MS = 5 * 60_000;

export function emptySyncTotals(): SyncRoundTotals {
  return {
    pages: 0,
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

export function* exportSyncRound(
  context: OrchestrationContext,
): Generator<Task, SyncRoundTotals | undefined, unknown> {
  const input = context.df.getInput<SyncRoundInput>();
  const totals: SyncRoundTotals = { ...emptySyncTotals(), ...input.totals };
  const maxPause = input.maxThrottlePauseMs ?? DEFAULT_MAX_PAUSE_MS;

  const pageInput: ScopesPageInput = { offset: input.offset ?? 0, pageSize: input.pageSize };
  const page = (yield context.df.callActivity(SCOPES_PAGE_ACTIVITY, pageInput)) as ScopesPage;
  totals.pages += 1;

  const groups = batches(page.scopes, input.concurrency);
  for (const [index, group] of groups.entries()) {
    const tasks = group.map((scope) => context.df.callActivity(SYNC_SCOPE_ACTIVITY, scope));
    const results = (yield context.df.Task.all(tasks)) as ScopeSyncOutcome[];
    let wait = 0;
    for (const r of results) {
      totals.scopes += 1;
      totals[r.status] += 1;
      totals.exports += r.exports ?? 0;
      totals.markedMissing += r.markedMissing ?? 0;
      if (r.status === 'synced') continue;
      if (totals.problems.length < MAX_PROBLEMS) {
        totals.problems.push({ scope: r.scope, status: r.status, ...(r.error ? { error: r.error } : {}) });
      }
      if (r.status === 'throttled') wait = Math.max(wait, r.retryAfterMs ?? maxPause);
    }
    context.df.setCustomStatus({ tick: input.tick, ...totals, problems: totals.problems.length });
    const moreWork = index < groups.length - 1 || page.nextOffset !== undefined;
    if (wait > 0 && moreWork) {
      const pause = Math.min(wait, maxPause);
      totals.pausedMs += pause;
      yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + pause));
    }
  }

  if (page.nextOffset !== undefined) {
    context.df.continueAsNew({ ...input, offset: page.nextOffset, totals });
    return undefined;
  }
  context.df.setCustomStatus({ tick: input.tick, ...totals, problems: totals.problems.length, done: true });
  return totals;
}
