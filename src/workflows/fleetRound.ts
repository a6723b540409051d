// One fleet reconcile round: for each assignment, page through its scopes (one scope, or the
// customers of a billing account one Billing API page at a time) and reconcile each scope with at
// most `concurrency` activities in flight. A page of the customer list that fails is read again
// from the same nextLink after a durable back-off (the cursor lives in the input, so nothing is
// listed twice); a throttled scope pauses the round for the wait its 429 asked for and is tried
// again; a scope without rights is counted with the role to grant and the round goes on. Each page
// ends with continueAsNew, so 2,000 customers never make a long history. Deterministic: no I/O.
import type { OrchestrationContext, Task } from 'durable-functions';
import { batches } from '../domain/outOfBandPolicy';

export const FLEET_ROUND = 'fleetReconcileRound';
export const FLEET_TARGETS_ACTIVITY = 'fleetTargetsPage';
export const FLEET_SCOPE_ACTIVITY = 'fleetReconcileScope';
export const FLEET_DEPARTED_ACTIVITY = 'fleetDeparted';

export interface TargetsPageInput {
  assignmentId: string;
  tick: string;
  nextLink?: string;
}

export type TargetsPageOutput =
  | { ok: true; scopes: string[]; nextLink?: string }
  | { ok: false; error: string; retryAfterMs?: number; gone?: boolean };

export interface ScopeActivityInput {
  assignmentId: string;
  scope: string;
  apply: boolean;
}

/** What a scope's reconcile answers: counts only, so the round's history stays small. */
export interface ScopeSummary {
  scope: string;
  status: 'ok' | 'throttled' | 'forbidden' | 'failed';
  outcomes: Record<string, number>;
  calls: { list: number; put: number };
  retryAfterMs?: number;
  roleToGrant?: string;
  error?: string;
}

export interface FleetRoundTotals {
  pages: number;
  scopes: number;
  /** Per export outcome: created, updated, unchanged, not-owned, failed, pending. */
  outcomes: Record<string, number>;
  calls: { list: number; put: number };
  throttled: number;
  forbidden: number;
  failed: number;
  pausedMs: number;
  listRetries: number;
  /** First problems (scope, status, error, role to grant). */
  problems: { assignmentId: string; scope?: string; status: string; error?: string; roleToGrant?: string }[];
  /** Scopes an assignment reached before and not in this round (customers that left). */
  departed: { assignmentId: string; scopes: string[]; total: number }[];
}

export interface FleetRoundInput {
  tick: string;
  assignmentIds: string[];
  apply: boolean;
  concurrency: number;
  /** Longest single pause after a 429 (default 5 minutes). */
  maxThrottlePauseMs?: number;
  /** Tries per scope when throttled (default 3). */
  maxScopeAttempts?: number;
  /** Reads of one customer page before the assignment is reported and skipped (default 5). */
  maxListAttempts?: number;
  cursor?: { index: number; nextLink?: string; listFailures?: number };
  totals?: FleetRoundTotals;
}

export const MAX_PROBLEMS = 50;
const DEFAULT_MAX_PAUSE_MS = 5 * 60_000;

export function emptyFleetTotals(): FleetRoundTotals {
  return {
    pages: 0,
    scopes: 0,
    outcomes: {},
    calls: { list: 0, put: 0 },
    throttled: 0,
    forbidden: 0,
    failed: 0,
    pausedMs: 0,
    listRetries: 0,
    problems: [],
    departed: [],
  };
}

export function* fleetRound(
  context: OrchestrationContext,
): Generator<Task, FleetRoundTotals | undefined, unknown> {
  const input = context.df.getInput<FleetRoundInput>();
  // A deep copy: the input object may be shared between replays, and totals are mutated below.
  const totals: FleetRoundTotals = structuredClone({ ...emptyFleetTotals(), ...input.totals });
  const maxPause = input.maxThrottlePauseMs ?? DEFAULT_MAX_PAUSE_MS;
  const cursor = input.cursor ?? { index: 0 };
  const status = (done = false) =>
    context.df.setCustomStatus({
      tick: input.tick,
      assignment: cursor.index,
      ...totals,
      problems: totals.problems.length,
      done,
    });
  const pause = function* (ms: number): Generator<Task, void, unknown> {
    const wait = Math.min(ms, maxPause);
    totals.pausedMs += wait;
    yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + wait));
  };
  const problem = (p: FleetRoundTotals['problems'][number]) => {
    if (totals.problems.length < MAX_PROBLEMS) totals.problems.push(p);
  };

  if (cursor.index >= input.assignmentIds.length) {
    status(true);
    return totals;
  }
  const assignmentId = input.assignmentIds[cursor.index]!;
  const pageInput: TargetsPageInput = {
    assignmentId,
    tick: input.tick,
    ...(cursor.nextLink ? { nextLink: cursor.nextLink } : {}),
  };
  const page = (yield context.df.callActivity(FLEET_TARGETS_ACTIVITY, pageInput)) as TargetsPageOutput;
  let next: FleetRoundInput['cursor'];
  if (!page.ok) {
    const failures = (cursor.listFailures ?? 0) + 1;
    if (!page.gone && failures < (input.maxListAttempts ?? 5)) {
      // Read the same page again later: a list failing mid-way resumes where it stopped.
      totals.listRetries += 1;
      status();
      yield* pause(page.retryAfterMs ?? 30_000 * 2 ** (failures - 1));
      context.df.continueAsNew({ ...input, cursor: { ...cursor, listFailures: failures }, totals });
      return undefined;
    }
    problem({ assignmentId, status: 'listFailed', error: page.error });
    next = { index: cursor.index + 1 };
  } else {
    totals.pages += 1;
    let queue = page.scopes.map((scope) => ({ scope, attempts: 0 }));
    while (queue.length > 0) {
      const retry: typeof queue = [];
      let wait = 0;
      for (const group of batches(queue, input.concurrency)) {
        const tasks = group.map((item) =>
          context.df.callActivity(FLEET_SCOPE_ACTIVITY, {
            assignmentId,
            scope: item.scope,
            apply: input.apply,
          } satisfies ScopeActivityInput),
        );
        const results = (yield context.df.Task.all(tasks)) as ScopeSummary[];
        results.forEach((r, i) => {
          totals.calls.list += r.calls.list;
          totals.calls.put += r.calls.put;
          const attempts = group[i]!.attempts + 1;
          if (r.status === 'throttled' && attempts < (input.maxScopeAttempts ?? 3)) {
            wait = Math.max(wait, r.retryAfterMs ?? maxPause);
            retry.push({ scope: r.scope, attempts });
            return;
          }
          totals.scopes += 1;
          for (const [k, v] of Object.entries(r.outcomes)) totals.outcomes[k] = (totals.outcomes[k] ?? 0) + v;
          if (r.status === 'ok') return;
          totals[r.status] += 1;
          problem({
            assignmentId,
            scope: r.scope,
            status: r.status,
            ...(r.error ? { error: r.error } : {}),
            ...(r.roleToGrant ? { roleToGrant: r.roleToGrant } : {}),
          });
        });
        status();
      }
      if (retry.length > 0) {
        yield* pause(wait);
      }
      queue = retry;
    }
    if (page.nextLink) next = { index: cursor.index, nextLink: page.nextLink };
    else {
      if (input.apply) {
        const departed = (yield context.df.callActivity(FLEET_DEPARTED_ACTIVITY, {
          assignmentId,
          tick: input.tick,
        })) as string[];
        if (departed.length > 0) {
          totals.departed.push({
            assignmentId,
            scopes: departed.slice(0, MAX_PROBLEMS),
            total: departed.length,
          });
        }
      }
      next = { index: cursor.index + 1 };
    }
  }
  context.df.continueAsNew({ ...input, cursor: next, totals });
  return undefined;
}
