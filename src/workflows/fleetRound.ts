// One fleet reconcile round, on the paged-round shape (pagedRound.ts): for each assignment, page
// through its scopes (one scope, or the customers of a billing account one Billing API page at a
// time) and reconcile each scope with at most `concurrency` activities in flight. A page of the
// customer list that fails is read again from the same nextLink after a durable back-off (the
// cursor lives in the input, so nothing is listed twice); a throttled scope pauses the round for
// the wait its 429 asked for and goes to the back of the page's queue; a scope without rights is
// counted with the role to grant and the round goes on. An onboarding round also starts one
// backfill per reconciled scope, a bounded batch per activity, page by page. When an assignment's
// last page is done its summary (counts by outcome) is written, so status reads one row per
// assignment. Deterministic: no I/O.
import type { Task } from 'durable-functions';

import { addToTally, type AssignmentTally, type AttentionItem, emptyTally } from '../domain/fleetContracts';
import {
  type ItemVerdict,
  MAX_PROBLEMS,
  noteProblem,
  pagedRound,
  type PagedRoundInput,
  type PageRead,
  type RoundState,
} from './pagedRound';

export { MAX_PROBLEMS };
export const FLEET_ROUND = 'fleetReconcileRound';
export const FLEET_TARGETS_ACTIVITY = 'fleetTargetsPage';
export const FLEET_SCOPE_ACTIVITY = 'fleetReconcileScope';
export const FLEET_ASSIGNMENT_DONE_ACTIVITY = 'fleetAssignmentDone';
export const FLEET_BACKFILLS_ACTIVITY = 'fleetStartBackfills';

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
  /** Per export, as planned or applied (created, updated, unchanged, not-owned, failed, pending). */
  outcomes: Record<string, number>;
  /** Per export, as recorded (what status shows: pending becomes forbidden/throttled/failed). */
  recorded?: Record<string, number>;
  attention?: AttentionItem[];
  calls: { list: number; put: number };
  retryAfterMs?: number;
  roleToGrant?: string;
  error?: string;
}

export interface AssignmentDoneInput {
  assignmentId: string;
  tick: string;
  tally: AssignmentTally;
}

export interface BackfillsInput {
  onboardingId: string;
  assignmentId: string;
  months: number;
  scopes: string[];
}

export interface BackfillsOutput {
  started: number;
  /** Already started by an earlier run of this onboarding (nothing new). */
  existing: number;
  refused: number;
  problems: { scope: string; error: string }[];
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
  /** Onboarding rounds: backfills started, found already started, refused. */
  backfills?: { started: number; existing: number; refused: number };
}

export interface FleetCursor {
  index: number;
  nextLink?: string;
  listFailures?: number;
  /** The current assignment's counts so far (carried across its pages). */
  tally?: AssignmentTally;
  /** Scopes of the current page that reconciled (not carried: the page's backfills). */
  reconciled?: string[];
  /** The current page could not be listed: the assignment is skipped (not carried). */
  listFailed?: boolean;
}

export interface FleetRoundInput extends PagedRoundInput<FleetRoundTotals> {
  assignmentIds: string[];
  apply: boolean;
  /** Tries per scope while throttled, each after the wait its 429 asked for (default 10). */
  maxScopeAttempts?: number;
  /** Reads of one customer page that fail (not throttled) before the assignment is reported and
   * skipped (default 5). */
  maxListAttempts?: number;
  /** Onboarding: one backfill of `months` per reconciled scope, `perCall` per activity (default 20). */
  backfill?: { onboardingId: string; months: number; perCall?: number };
  cursor?: FleetCursor;
}

/** Throttled reads of one customer page, each after its Retry-After, before the assignment is
 * reported and skipped. */
const MAX_LIST_THROTTLES = 20;
const DEFAULT_BACKFILLS_PER_CALL = 20;

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

type Round = RoundState<FleetRoundInput, FleetCursor, FleetRoundTotals>;

function current(round: Round): FleetCursor & { tally: AssignmentTally; reconciled: string[] } {
  // The cursor is a copy made per run (cursor() below), so it may be written to.
  const cursor = round.cursor!;
  cursor.tally ??= emptyTally();
  cursor.reconciled ??= [];
  return cursor as FleetCursor & { tally: AssignmentTally; reconciled: string[] };
}

/** The next assignment, or undefined when this was the last one. */
function nextAssignment(round: Round): FleetCursor | undefined {
  const index = current(round).index + 1;
  return index < round.input.assignmentIds.length ? { index } : undefined;
}

function* readTargets(round: Round): Generator<Task, PageRead<string, FleetCursor>, unknown> {
  const { context, input, totals } = round;
  const cursor = current(round);
  if (cursor.index >= input.assignmentIds.length) return { kind: 'done' };
  const assignmentId = input.assignmentIds[cursor.index]!;
  const pageInput: TargetsPageInput = {
    assignmentId,
    tick: input.tick,
    ...(cursor.nextLink ? { nextLink: cursor.nextLink } : {}),
  };
  const page = (yield context.df.callActivity(FLEET_TARGETS_ACTIVITY, pageInput)) as TargetsPageOutput;
  if (page.ok) {
    totals.pages += 1;
    const next: FleetCursor | undefined = page.nextLink
      ? { index: cursor.index, nextLink: page.nextLink, tally: cursor.tally }
      : nextAssignment(round);
    return { kind: 'page', items: page.scopes, ...(next ? { next } : {}) };
  }
  // A throttled read waits its Retry-After and does not count as a failure; others back off.
  const throttled = page.retryAfterMs !== undefined;
  const failures = (cursor.listFailures ?? 0) + 1;
  const limit = throttled ? MAX_LIST_THROTTLES : (input.maxListAttempts ?? 5);
  if (!page.gone && failures < limit) {
    totals.listRetries += 1;
    return {
      kind: 'again',
      afterMs: page.retryAfterMs ?? 30_000 * 2 ** (failures - 1),
      cursor: {
        index: cursor.index,
        ...(cursor.nextLink ? { nextLink: cursor.nextLink } : {}),
        tally: cursor.tally,
        listFailures: failures,
      },
    };
  }
  noteProblem(totals.problems, { assignmentId, status: 'listFailed', error: page.error });
  // The assignment is skipped: its summary stays the one of its last complete round.
  cursor.listFailed = true;
  const next = nextAssignment(round);
  return { kind: 'page', items: [], ...(next ? { next } : {}) };
}

function tallyScope(round: Round, r: ScopeSummary, attempt: number): ItemVerdict {
  const { input, totals } = round;
  totals.calls.list += r.calls.list;
  totals.calls.put += r.calls.put;
  if (r.status === 'throttled' && attempt < (input.maxScopeAttempts ?? 10)) {
    // At least the Retry-After, longer with each try: a scope needs a List and a PUT in a row, and
    // waiting for exactly one call's worth again and again can starve it while others take it.
    return { throttledMs: (r.retryAfterMs ?? Number.MAX_SAFE_INTEGER) * attempt, retry: true };
  }
  const cursor = current(round);
  const assignmentId = input.assignmentIds[cursor.index]!;
  totals.scopes += 1;
  for (const [k, v] of Object.entries(r.outcomes)) totals.outcomes[k] = (totals.outcomes[k] ?? 0) + v;
  addToTally(cursor.tally, r.recorded ?? {}, r.attention ?? []);
  if (r.status === 'ok') {
    cursor.reconciled.push(r.scope);
    return {};
  }
  totals[r.status] += 1;
  noteProblem(totals.problems, {
    assignmentId,
    scope: r.scope,
    status: r.status,
    ...(r.error ? { error: r.error } : {}),
    ...(r.roleToGrant ? { roleToGrant: r.roleToGrant } : {}),
  });
  return r.status === 'throttled' ? { throttledMs: r.retryAfterMs ?? Number.MAX_SAFE_INTEGER } : {};
}

/** Onboarding: the page's reconciled scopes get their backfills, `perCall` per activity, so a
 * partner with thousands of customers never starts them all in one invocation. */
function* startBackfills(round: Round): Generator<Task, void, unknown> {
  const { context, input, totals } = round;
  const backfill = input.backfill;
  const cursor = current(round);
  if (!backfill || backfill.months <= 0 || !input.apply || cursor.reconciled.length === 0) return;
  const counts = (totals.backfills ??= { started: 0, existing: 0, refused: 0 });
  const perCall = Math.max(1, backfill.perCall ?? DEFAULT_BACKFILLS_PER_CALL);
  const assignmentId = input.assignmentIds[cursor.index]!;
  for (let i = 0; i < cursor.reconciled.length; i += perCall) {
    const request: BackfillsInput = {
      onboardingId: backfill.onboardingId,
      assignmentId,
      months: backfill.months,
      scopes: cursor.reconciled.slice(i, i + perCall),
    };
    const out = (yield context.df.callActivity(FLEET_BACKFILLS_ACTIVITY, request)) as BackfillsOutput;
    counts.started += out.started;
    counts.existing += out.existing;
    counts.refused += out.refused;
    for (const p of out.problems) {
      noteProblem(totals.problems, {
        assignmentId,
        scope: p.scope,
        status: 'backfillRefused',
        error: p.error,
      });
    }
  }
}

export const fleetRound = pagedRound<FleetRoundInput, FleetCursor, string, ScopeSummary, FleetRoundTotals>({
  emptyTotals: emptyFleetTotals,
  // A copy per run: the hooks write the tally and the page's reconciled scopes into it.
  cursor: (input) => structuredClone({ index: 0, ...input.cursor, reconciled: [], listFailed: false }),
  withCursor: (input, cursor, totals) => ({ ...input, cursor, totals }),
  readPage: readTargets,
  run: (round, scope) =>
    round.context.df.callActivity(FLEET_SCOPE_ACTIVITY, {
      assignmentId: round.input.assignmentIds[current(round).index]!,
      scope,
      apply: round.input.apply,
    } satisfies ScopeActivityInput),
  tally: (round, _scope, result, attempt) => tallyScope(round, result, attempt),
  *afterPage(round, page) {
    yield* startBackfills(round);
    const { context, input, totals } = round;
    const cursor = current(round);
    const assignmentDone = page.next === undefined || page.next.index !== cursor.index;
    if (!assignmentDone || !input.apply || cursor.listFailed) return;
    const assignmentId = input.assignmentIds[cursor.index]!;
    const done: AssignmentDoneInput = { assignmentId, tick: input.tick, tally: cursor.tally };
    const departed = (yield context.df.callActivity(FLEET_ASSIGNMENT_DONE_ACTIVITY, done)) as string[];
    if (departed.length > 0) {
      totals.departed.push({ assignmentId, scopes: departed.slice(0, MAX_PROBLEMS), total: departed.length });
    }
  },
  status: ({ input, totals, cursor }, done) => ({
    tick: input.tick,
    assignment: cursor?.index ?? 0,
    ...totals,
    problems: totals.problems.length,
    done,
  }),
});
