// The one shape of a paged, throttle-aware round (export sync, out-of-band runs, fleet reconcile):
// read one page at the cursor (an activity), run its items in a sliding window of at most
// `concurrency` activities in flight, and when an item was throttled pause on a durable timer for the wait its 429 asked for
// (capped by maxThrottlePauseMs) before more work goes out; an item the definition wants tried again
// goes to the back of the page's queue. Each page ends with continueAsNew carrying the cursor and
// the totals, so thousands of items never make a long history or hit a function timeout.
// A round is a small definition on top of this. Deterministic: no I/O, time is the orchestration's.
import type { OrchestrationContext, Task } from 'durable-functions';

import { logEventLine } from '../domain/logEvent';

export const DEFAULT_MAX_PAUSE_MS = 5 * 60_000;
/** Rounds keep at most this many problems in their totals (the history stays small). */
export const MAX_PROBLEMS = 50;

/** What every round's input carries; the cursor and totals ride along through continueAsNew. */
export interface PagedRoundInput<Totals> {
  /** The tick (or request) that started the round (ISO). */
  tick: string;
  concurrency: number;
  /** Longest single pause after a 429 (default 5 minutes). */
  maxThrottlePauseMs?: number;
  totals?: Totals;
}

/** Totals every round keeps. */
export interface PagedRoundTotals {
  pages: number;
  /** Time spent waiting out 429s (and list retries), in ms. */
  pausedMs: number;
}

/** What reading a page came to. */
export type PageRead<Item, Cursor> =
  /** Items to run; `next` absent on the last page. */
  | { kind: 'page'; items: Item[]; next?: Cursor }
  /** Read this page again after `afterMs` (a list that failed mid-way resumes where it stopped). */
  | { kind: 'again'; afterMs: number; cursor: Cursor }
  /** Nothing (left) to do. */
  | { kind: 'done' };

/** How one item's result counts: the wait it asked for (throttled), and whether to try it again. */
export interface ItemVerdict {
  throttledMs?: number;
  retry?: boolean;
}

/** What a definition's hooks see. */
export interface RoundState<Input, Cursor, Totals> {
  context: OrchestrationContext;
  input: Input;
  totals: Totals;
  cursor: Cursor | undefined;
  /** Waits on a durable timer (at most maxThrottlePauseMs) and counts it in pausedMs. */
  pause(ms: number): Generator<Task, void, unknown>;
}

export interface PagedRoundDefinition<
  Input extends PagedRoundInput<Totals>,
  Cursor,
  Item,
  Result,
  Totals extends PagedRoundTotals,
> {
  emptyTotals(): Totals;
  /** Where this run of the orchestration starts (undefined: the first page). */
  cursor(input: Input): Cursor | undefined;
  /** The input of the next run. */
  withCursor(input: Input, cursor: Cursor, totals: Totals): Input;
  readPage(round: RoundState<Input, Cursor, Totals>): Generator<Task, PageRead<Item, Cursor>, unknown>;
  /** The activity call for one item. */
  run(round: RoundState<Input, Cursor, Totals>, item: Item): Task;
  /** Counts one result into the totals; `attempt` starts at 1. */
  tally(round: RoundState<Input, Cursor, Totals>, item: Item, result: Result, attempt: number): ItemVerdict;
  /** After every item of a page is done (e.g. the fleet's departed customers and backfills). */
  afterPage?(
    round: RoundState<Input, Cursor, Totals>,
    page: { items: Item[]; next?: Cursor },
  ): Generator<Task, void, unknown>;
  /** The custom status shown while the round runs and when it is done. */
  status(round: RoundState<Input, Cursor, Totals>, done: boolean): unknown;
}

/** The orchestrator function of a round. */
export function pagedRound<
  Input extends PagedRoundInput<Totals>,
  Cursor,
  Item,
  Result,
  Totals extends PagedRoundTotals,
>(
  def: PagedRoundDefinition<Input, Cursor, Item, Result, Totals>,
): (context: OrchestrationContext) => Generator<Task, Totals | undefined, unknown> {
  return function* (context) {
    const input = context.df.getInput<Input>();
    // A deep copy: the input object may be shared between replays, and totals are mutated below.
    const totals = structuredClone<Totals>({ ...def.emptyTotals(), ...input.totals });
    const maxPause = input.maxThrottlePauseMs ?? DEFAULT_MAX_PAUSE_MS;
    const round: RoundState<Input, Cursor, Totals> = {
      context,
      input,
      totals,
      cursor: def.cursor(input),
      *pause(ms) {
        const wait = Math.min(ms, maxPause);
        totals.pausedMs += wait;
        yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + wait));
      },
    };
    const finish = () => {
      context.df.setCustomStatus(def.status(round, true));
      // Once per round, on the run that really finishes it (not on its replays).
      if (!context.df.isReplaying) context.log(roundFinishedLine(context.df.instanceId, totals));
      return totals;
    };

    const read = yield* def.readPage(round);
    if (read.kind === 'done') return finish();
    if (read.kind === 'again') {
      context.df.setCustomStatus(def.status(round, false));
      yield* round.pause(read.afterMs);
      context.df.continueAsNew(def.withCursor(input, read.cursor, totals));
      return undefined;
    }

    yield* runPage(def, round, read);
    if (def.afterPage) yield* def.afterPage(round, read);

    if (read.next === undefined) return finish();
    context.df.continueAsNew(def.withCursor(input, read.next, totals));
    return undefined;
  };
}

/**
 * Runs a page's items in a sliding window: up to `concurrency` activities in flight, the next one
 * sent as soon as any finishes (one slow item never holds back the rest of a batch). An item that
 * asks for a wait (throttled) stops new work: the items in flight finish, then the round pauses for
 * the longest wait asked (when anything is left), then goes on. An item the definition wants tried
 * again goes to the back of the queue. A failed activity fails the round, as Task.all would.
 */
function* runPage<
  Input extends PagedRoundInput<Totals>,
  Cursor,
  Item,
  Result,
  Totals extends PagedRoundTotals,
>(
  def: PagedRoundDefinition<Input, Cursor, Item, Result, Totals>,
  round: RoundState<Input, Cursor, Totals>,
  page: { items: Item[]; next?: Cursor },
): Generator<Task, void, unknown> {
  const { context, input } = round;
  const concurrency = Math.max(1, input.concurrency);
  const queue = page.items.map((item) => ({ item, attempts: 0 }));
  const inFlight: { item: Item; attempts: number; task: Task }[] = [];
  let wait = 0;
  while (queue.length > 0 || inFlight.length > 0) {
    while (wait === 0 && inFlight.length < concurrency && queue.length > 0) {
      const next = queue.shift()!;
      inFlight.push({ ...next, task: def.run(round, next.item) });
    }
    yield context.df.Task.any(inFlight.map((f) => f.task));
    // Several may have finished in the same episode: take every finished one.
    for (let i = 0; i < inFlight.length;) {
      const { item, attempts, task } = inFlight[i]!;
      if (!task.isCompleted && !task.isFaulted) {
        i++;
        continue;
      }
      inFlight.splice(i, 1);
      if (task.isFaulted) throw task.result;
      const verdict = def.tally(round, item, task.result as Result, attempts + 1);
      if (verdict.throttledMs !== undefined) wait = Math.max(wait, verdict.throttledMs);
      if (verdict.retry) queue.push({ item, attempts: attempts + 1 });
    }
    context.df.setCustomStatus(def.status(round, false));
    if (wait > 0 && inFlight.length === 0) {
      if (queue.length > 0 || page.next !== undefined) yield* round.pause(wait);
      wait = 0;
    }
  }
}

/** The `round.finished` event: the round's numeric totals, one field each. */
export function roundFinishedLine(instanceId: string, totals: PagedRoundTotals): string {
  const numbers = Object.entries(totals).filter((e): e is [string, number] => typeof e[1] === 'number');
  return logEventLine('round.finished', {
    round: instanceId.split('-')[0],
    instanceId,
    ...Object.fromEntries(numbers),
  });
}

/** Adds a problem unless the round already keeps MAX_PROBLEMS of them. */
export function noteProblem<P>(problems: P[], problem: P): void {
  if (problems.length < MAX_PROBLEMS) problems.push(problem);
}
