// Durable orchestrator bodies for a backfill: the parent keeps a sliding window of per-(dataset, month)
// sub-orchestrations; each child creates a one-month Custom export, runs it, waits for its landing and
// reports one outcome. Deterministic and I/O-free: time is `currentUtcDateTime`, every side effect is
// an activity called by name, and throttling waits are durable timers for the advertised Retry-After.
import type { OrchestrationContext, Task, TimerTask } from 'durable-functions';

import {
  isLandingKey,
  isOwnLanding,
  type Landing,
  landingOfEvent,
  landingOfRun,
  monthSucceeded,
} from '../domain/backfillLanding';
import { backfillExportName } from '../domain/backfillPlan';
import { shortError, withRecent } from '../domain/backfillProgress';
import {
  type BackfillInput,
  type BackfillOutput,
  type BackfillProgress,
  type BackfillTiming,
  type CallResult,
  type ConfirmLandingInput,
  EXPORT_LANDED_EVENT,
  type ExportLandedEvent,
  type FinishMonthInput,
  type LandingVerdict,
  type MonthFailure,
  type MonthInput,
  monthInstanceId,
  type MonthOutcome,
  type MonthProgress,
  type MonthResult,
  type ObservedRun,
  type PutExportInput,
  type ReadRunInput,
  type RunExportInput,
} from '../domain/contracts';
import type { ExportDataset } from '../domain/scope';

export const BACKFILL_ORCHESTRATOR = 'backfill';
export const BACKFILL_MONTH_ORCHESTRATOR = 'backfillMonth';
export const BACKFILL_ACTIVITIES = {
  putExport: 'backfillPutExport',
  runExport: 'backfillRunExport',
  readRun: 'backfillReadRun',
  confirmLanding: 'backfillConfirmLanding',
  finishMonth: 'backfillFinishMonth',
} as const;

// ---------------------------------------------------------------------------------------- helpers

export function backoffMs(timing: BackfillTiming, attempt: number): number {
  return Math.min(timing.retryMaxMs, timing.retryBaseMs * 2 ** Math.max(0, attempt - 1));
}

type Step<T> = Generator<Task, T, unknown>;

function nowMs(ctx: OrchestrationContext): number {
  return ctx.df.currentUtcDateTime.getTime();
}

/** Calls an activity, waiting out 429s for exactly the advertised time (a durable timer from the
 * moment the answer arrived) and retrying transient errors with back-off. */
function* callActivity<T extends object>(
  ctx: OrchestrationContext,
  name: string,
  input: unknown,
  timing: BackfillTiming,
): Step<CallResult<T>> {
  let throttles = 0;
  let transientFailures = 0;
  for (;;) {
    const result = (yield ctx.df.callActivity(name, input)) as CallResult<T>;
    if (result.kind === 'throttled') {
      throttles++;
      if (throttles > timing.maxThrottleWaits) {
        return {
          kind: 'error',
          transient: true,
          message: `still throttled after ${timing.maxThrottleWaits} waits: ${result.message}`,
        };
      }
      yield ctx.df.createTimer(new Date(nowMs(ctx) + Math.max(0, result.retryAfterMs)));
      continue;
    }
    if (result.kind === 'error' && result.transient && transientFailures + 1 < timing.maxAttempts) {
      transientFailures++;
      yield ctx.df.createTimer(new Date(nowMs(ctx) + backoffMs(timing, transientFailures)));
      continue;
    }
    return result;
  }
}

/** Waits for this month's landing event, reading run history when the poll timer fires first. A
 * landing event completes the month only once its run is confirmed in the export's run history; a
 * refused run joins `exclude`, so neither its events nor the history poll take it again. */
function* awaitLanding(ctx: OrchestrationContext, input: MonthInput, exclude: string[]): Step<Landing> {
  const { timing } = input;
  const deadline = nowMs(ctx) + timing.landingTimeoutMs;
  let delay = timing.pollIntervalMs;
  let lastSeen = 'not yet listed in run history';
  let timer: TimerTask | undefined;
  for (;;) {
    timer ??= ctx.df.createTimer(new Date(Math.min(nowMs(ctx) + delay, deadline)));
    const landed = ctx.df.waitForExternalEvent(EXPORT_LANDED_EVENT);
    const winner = (yield ctx.df.Task.any([landed, timer])) as Task;
    if (winner === landed) {
      const landing = yield* takeLandingEvent(ctx, input, exclude, landed.result as ExportLandedEvent);
      if (!landing) continue;
      // The poll timer may have fired while the run was being confirmed.
      if (!timer.isCompleted) timer.cancel();
      return landing;
    }
    timer = undefined;
    const polled = yield* pollRunHistory(ctx, input, exclude);
    if (polled.landing) return polled.landing;
    lastSeen = polled.lastSeen ?? lastSeen;
    if (nowMs(ctx) >= deadline) {
      return {
        kind: 'timedOut',
        reason: `no landing within ${Math.round(timing.landingTimeoutMs / 60_000)} minutes (last status: ${lastSeen})`,
      };
    }
    delay = Math.min(delay * 2, timing.maxPollIntervalMs);
  }
}

/** A landing event's outcome for the month, or undefined to keep waiting: another run's or month's,
 * an incomplete landing that will be raised again, or a run history does not (yet) confirm. */
function* takeLandingEvent(
  ctx: OrchestrationContext,
  input: MonthInput,
  exclude: string[],
  event: ExportLandedEvent,
): Step<Landing | undefined> {
  if (!isOwnLanding(event, input.task, exclude) || event.state === 'incomplete') return undefined;
  if (event.state === 'complete') {
    const verdict = yield* confirmRun(ctx, input, event);
    if (verdict === 'refused') exclude.push(event.runId);
    if (verdict !== 'confirmed') return undefined;
  }
  return landingOfEvent(event);
}

/** Reads the run history: the month's landing if its run ended, and the status to report if not. */
function* pollRunHistory(
  ctx: OrchestrationContext,
  input: MonthInput,
  exclude: readonly string[],
): Step<{ landing?: Landing; lastSeen?: string }> {
  const read = yield* callActivity<{ run?: ObservedRun }>(
    ctx,
    BACKFILL_ACTIVITIES.readRun,
    { task: input.task, excludeRunIds: [...exclude] } satisfies ReadRunInput,
    input.timing,
  );
  if (read.kind !== 'ok') return { lastSeen: `history unreadable (${read.message})` };
  if (!read.run) return {};
  const landing = landingOfRun(read.run);
  return { lastSeen: read.run.status, ...(landing ? { landing } : {}) };
}

/** The run history's word on a landed run; unreadable history leaves it to the history poll. */
function* confirmRun(
  ctx: OrchestrationContext,
  input: MonthInput,
  event: ExportLandedEvent,
): Step<LandingVerdict> {
  const confirm = yield* callActivity<{ verdict: LandingVerdict }>(
    ctx,
    BACKFILL_ACTIVITIES.confirmLanding,
    {
      task: input.task,
      instanceId: ctx.df.instanceId,
      runId: event.runId,
      ...(isLandingKey(event.landingKey) ? { landingKey: event.landingKey } : {}),
    } satisfies ConfirmLandingInput,
    input.timing,
  );
  return confirm.kind === 'ok' ? confirm.verdict : 'pending';
}

// ---------------------------------------------------------------------------------- orchestrators

/** One (dataset, month) orchestration, as its steps see it. */
interface MonthRun {
  ctx: OrchestrationContext;
  input: MonthInput;
  instanceId: string;
  base: Pick<MonthResult, 'dataset' | 'month'>;
}

/** What the attempts so far leave to the next attempt and to the month's result. */
interface Attempts {
  count: number;
  /** Runs never taken for this month's: earlier attempts', and those listed before the first. */
  excluded: string[];
  /** An export this month did not create (left by an interrupted earlier backfill) may have runs
   * already: they are read before the first submission and never taken for this month's. */
  readPriorRuns: boolean;
  lastError: string;
  lastFailure: MonthFailure;
  lastRunId: string | null;
  /** A run refused by the destination's authorization would fail again with the token the export
   * carries: the next attempt first writes the export again, with the account's current token. */
  rewriteExport: boolean;
}

function setStatus(month: MonthRun, progress: MonthProgress): void {
  month.ctx.df.setCustomStatus({
    ...progress,
    maxAttempts: month.input.timing.maxAttempts,
  } satisfies MonthProgress);
}

function writeExport(month: MonthRun): Step<CallResult<{ created: boolean }>> {
  return callActivity<{ created: boolean }>(
    month.ctx,
    BACKFILL_ACTIVITIES.putExport,
    { task: month.input.task, instanceId: month.instanceId } satisfies PutExportInput,
    month.input.timing,
  );
}

/** One (dataset, month): PUT the export, run it (retrying failed runs), wait for the landing, clean up. */
export function* backfillMonthOrchestrator(ctx: OrchestrationContext): Step<MonthResult> {
  const input = ctx.df.getInput<MonthInput>();
  const { task, timing } = input;
  const month: MonthRun = {
    ctx,
    input,
    instanceId: ctx.df.instanceId,
    base: { dataset: task.dataset, month: task.month },
  };
  setStatus(month, { phase: 'creatingExport', attempts: 0 });
  const put = yield* writeExport(month);
  let result: MonthResult;
  if (put.kind === 'ok') {
    result = yield* runAttempts(month, !put.created);
  } else {
    result = {
      ...month.base,
      outcome: 'Failed',
      runId: null,
      attempts: 0,
      error: `creating the export failed: ${put.message}`,
      failure: 'exportNotCreated',
    };
  }

  setStatus(month, { phase: 'finishing', attempts: result.attempts, outcome: result.outcome });
  const finish = yield* callActivity<{ deleted: boolean }>(
    ctx,
    BACKFILL_ACTIVITIES.finishMonth,
    {
      task,
      instanceId: month.instanceId,
      result,
      deleteExport: !input.keepExports,
    } satisfies FinishMonthInput,
    timing,
  );
  if (finish.kind !== 'ok' && result.outcome !== 'Failed') {
    // The data landed; only the clean-up failed. Say so without hiding the outcome.
    result = { ...result, error: `the temporary export was not deleted: ${finish.message}` };
  }
  return result;
}

/** Runs the export up to `maxAttempts` times until a run lands or ends without data. */
function* runAttempts(month: MonthRun, readPriorRuns: boolean): Step<MonthResult> {
  const { timing } = month.input;
  const state: Attempts = {
    count: 0,
    excluded: [],
    readPriorRuns,
    lastError: '',
    lastFailure: 'runNotStarted',
    lastRunId: null,
    rewriteExport: false,
  };
  while (state.count < timing.maxAttempts) {
    state.count++;
    const landing = yield* attempt(month, state);
    if (!landing) break; // the export could not be written again or run: `state` says why
    if (landing.kind === 'landed' || landing.kind === 'noData') {
      return monthSucceeded(month.base, landing, state.count);
    }
    yield* afterFailedLanding(month, state, landing);
  }
  return {
    ...month.base,
    outcome: 'Failed',
    runId: state.lastRunId,
    attempts: state.count,
    error:
      state.count >= timing.maxAttempts
        ? `${state.lastError} (after ${state.count} attempts)`
        : state.lastError,
    failure: state.lastFailure,
  };
}

/** One attempt: write the export again if the last run's token was refused, run it, await its
 * landing. Undefined when the export could not be written or run (the reason is in `state`). */
function* attempt(month: MonthRun, state: Attempts): Step<Landing | undefined> {
  const { ctx, input } = month;
  if (state.rewriteExport) {
    state.rewriteExport = false;
    setStatus(month, {
      phase: 'creatingExport',
      attempts: state.count,
      lastError: shortError(state.lastError),
    });
    const again = yield* writeExport(month);
    if (again.kind !== 'ok') {
      state.lastError = `writing the export again with the account's current SAS token failed: ${again.message}`;
      state.lastFailure = 'exportNotCreated';
      return undefined;
    }
  }
  setStatus(month, {
    phase: 'running',
    attempts: state.count,
    ...(state.lastError ? { lastError: shortError(state.lastError) } : {}),
  });
  const run = yield* callActivity<{ priorRunIds?: string[] }>(
    ctx,
    BACKFILL_ACTIVITIES.runExport,
    {
      task: input.task,
      instanceId: month.instanceId,
      attempt: state.count,
      ...(state.readPriorRuns ? { readPriorRuns: state.readPriorRuns } : {}),
    } satisfies RunExportInput,
    input.timing,
  );
  if (run.kind !== 'ok') {
    state.lastError = `running the export failed: ${run.message}`;
    state.lastFailure = 'runNotStarted';
    return undefined;
  }
  state.readPriorRuns = false;
  state.excluded.push(...(run.priorRunIds ?? []));
  setStatus(month, { phase: 'waitingForLanding', attempts: state.count });
  return yield* awaitLanding(ctx, input, state.excluded);
}

/** Records why the attempt failed and, if another attempt follows, waits out its back-off. */
function* afterFailedLanding(
  month: MonthRun,
  state: Attempts,
  landing: Extract<Landing, { kind: 'failed' | 'timedOut' }>,
): Step<void> {
  const { ctx, input } = month;
  state.lastError = landing.reason;
  state.lastFailure = landing.kind === 'timedOut' ? 'landingTimedOut' : 'runFailed';
  if (landing.kind === 'failed' && landing.runId) {
    state.excluded.push(landing.runId);
    state.lastRunId = landing.runId;
  }
  if (landing.kind === 'failed' && landing.authorization && 'tokenId' in input.task.destination) {
    state.rewriteExport = true;
    state.lastError +=
      " (the destination refused the SAS token: the next attempt writes the export with the account's current token; rotate it if it expired)";
  }
  if (state.count < input.timing.maxAttempts) {
    const retryAt = new Date(nowMs(ctx) + backoffMs(input.timing, state.count));
    setStatus(month, {
      phase: 'backingOff',
      attempts: state.count,
      lastError: shortError(state.lastError),
      nextRetryAt: retryAt.toISOString(),
    });
    yield ctx.df.createTimer(retryAt);
  }
}

function emptyCounts(): Record<MonthOutcome, number> {
  return { Completed: 0, NoData: 0, Failed: 0 };
}

/** The whole backfill: (month, dataset) chunks newest first, at most `concurrency` in flight. */
export function* backfillOrchestrator(ctx: OrchestrationContext): Step<BackfillOutput> {
  const input = ctx.df.getInput<BackfillInput>();
  const chunks = input.windows.flatMap((window) => input.datasets.map((dataset) => ({ dataset, window })));
  const results: (MonthResult | undefined)[] = chunks.map(() => undefined);
  let recent: BackfillProgress['recent'] = [];
  const inFlight: { index: number; task: Task }[] = [];
  const counts = emptyCounts();
  const concurrency = Math.max(1, Math.floor(input.concurrency));
  let next = 0;

  const label = (index: number) => `${chunks[index]!.dataset} ${chunks[index]!.window.month}`;
  const progress = (): BackfillProgress => ({
    backfillId: input.backfillId,
    total: chunks.length,
    counts: { ...counts, pending: chunks.length - next, running: inFlight.length },
    inFlight: inFlight.map((f) => label(f.index)),
    recent,
  });

  while (next < chunks.length || inFlight.length > 0) {
    while (inFlight.length < concurrency && next < chunks.length) {
      const { dataset, window } = chunks[next]!;
      const monthInput: MonthInput = {
        task: {
          backfillId: input.backfillId,
          scope: input.scope,
          dataset,
          month: window.month,
          from: window.from,
          to: window.to,
          exportName: backfillExportName(dataset, window.month, input.exportNamePrefix),
          destination: input.destination,
          format: input.format,
          compression: input.compression,
          ...(input.dataVersion !== undefined ? { dataVersion: input.dataVersion } : {}),
        },
        keepExports: input.keepExports,
        timing: input.timing,
      };
      const childId = monthInstanceId(input.backfillId, input.run, dataset, window.month);
      inFlight.push({
        index: next,
        task: ctx.df.callSubOrchestrator(BACKFILL_MONTH_ORCHESTRATOR, monthInput, childId),
      });
      next++;
    }
    ctx.df.setCustomStatus(progress());
    yield ctx.df.Task.any(inFlight.map((f) => f.task));
    // Several may have finished in the same episode: take every completed one, in window order.
    for (let i = 0; i < inFlight.length;) {
      const { index, task } = inFlight[i]!;
      if (!task.isCompleted && !task.isFaulted) {
        i++;
        continue;
      }
      inFlight.splice(i, 1);
      const { dataset, window } = chunks[index]!;
      const result: MonthResult = task.isFaulted
        ? {
            dataset,
            month: window.month,
            outcome: 'Failed',
            runId: null,
            attempts: 0,
            error: `the month's orchestration failed: ${errorText(task.result)}`,
          }
        : (task.result as MonthResult);
      results[index] = result;
      counts[result.outcome]++;
      recent = withRecent(recent, result);
    }
  }
  ctx.df.setCustomStatus(progress());
  return {
    backfillId: input.backfillId,
    scope: input.scope,
    total: chunks.length,
    counts,
    months: results.map((r, i) => r ?? missingResult(chunks[i]!.dataset, chunks[i]!.window.month)),
  };
}

/** Unreachable by construction; present so the output can never silently lose a month. */
function missingResult(dataset: ExportDataset, month: string): MonthResult {
  return { dataset, month, outcome: 'Failed', runId: null, attempts: 0, error: 'no result was recorded' };
}

function errorText(value: unknown): string {
  if (value instanceof Error) return value.message;
  return typeof value === 'string' ? value : JSON.stringify(value ?? 'unknown error');
}
