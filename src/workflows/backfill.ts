// Durable orchestrator bodies for a backfill: the parent keeps a sliding window of per-(dataset, month)
// sub-orchestrations; each child creates a one-month Custom export, runs it, waits for its landing and
// reports one outcome. Deterministic and I/O-free: time is `currentUtcDateTime`, every side effect is
// an activity called by name, and throttling waits are durable timers for the advertised Retry-After.
import type { OrchestrationContext, Task, TimerTask } from 'durable-functions';

import { sasFailure } from '../domain/alertPolicy';
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
  type LandingKey,
  type LandingVerdict,
  type MonthFailure,
  type MonthInput,
  monthInstanceId,
  type MonthOutcome,
  type MonthProgress,
  type MonthResult,
  type MonthTask,
  type ObservedRun,
  type PutExportInput,
  type ReadRunInput,
  type RunExportInput,
} from '../domain/contracts';
import type { ExportDataset } from '../domain/scope';
import { sameScope } from '../domain/scope';

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

/** `YYYY-MM` from the forms a billing month arrives in: `2025-01`, `202501`, `20250101-20250131`. */
export function normaliseBillingMonth(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^(\d{4})-?(0[1-9]|1[0-2])(?:$|\d{2}\b|-\d{2})/.exec(value.trim());
  return m ? `${m[1]}-${m[2]}` : undefined;
}

/** Whether a landing event is this month's current run (events of other exports, months or of
 * earlier attempts are ignored). */
export function isOwnLanding(event: unknown, task: MonthTask, excludeRunIds: readonly string[]): boolean {
  if (typeof event !== 'object' || event === null) return false;
  const e = event as Partial<ExportLandedEvent>;
  if (typeof e.exportName !== 'string' || e.exportName.toLowerCase() !== task.exportName.toLowerCase())
    return false;
  if (normaliseBillingMonth(e.billingMonth) !== task.month) return false;
  if (typeof e.runId !== 'string' || e.runId === '' || excludeRunIds.includes(e.runId)) return false;
  if (typeof e.scope === 'string') {
    try {
      if (!sameScope(e.scope, task.scope)) return false;
    } catch {
      return false;
    }
  }
  return true;
}

function isLandingKey(value: unknown): value is LandingKey {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as LandingKey).partitionKey === 'string' &&
    typeof (value as LandingKey).rowKey === 'string'
  );
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

type Landing =
  | { kind: 'landed'; runId: string; rowCount?: number; landingKey?: LandingKey }
  | { kind: 'noData'; runId: string; status: string }
  | { kind: 'failed'; runId?: string; reason: string; authorization?: string }
  | { kind: 'timedOut'; reason: string };

/** The authorization failure a failed run reports (a SAS token expired, revoked or lacking rights). */
function authorizationOf(run: ObservedRun): { authorization?: string } {
  const label = sasFailure({ status: run.status, at: '', ...(run.error ? { error: run.error } : {}) });
  return label ? { authorization: label } : {};
}

/** Waits for this month's landing event, reading run history when the poll timer fires first. A
 * landing event completes the month only once its run is confirmed in the export's run history; a
 * refused run joins `exclude`, so neither its events nor the history poll take it again. */
function* awaitLanding(ctx: OrchestrationContext, input: MonthInput, exclude: string[]): Step<Landing> {
  const { task, timing } = input;
  const started = nowMs(ctx);
  const deadline = started + timing.landingTimeoutMs;
  let delay = timing.pollIntervalMs;
  let lastSeen = 'not yet listed in run history';
  let timer: TimerTask | undefined;
  for (;;) {
    timer ??= ctx.df.createTimer(new Date(Math.min(nowMs(ctx) + delay, deadline)));
    const landed = ctx.df.waitForExternalEvent(EXPORT_LANDED_EVENT);
    const winner = (yield ctx.df.Task.any([landed, timer])) as Task;
    if (winner === landed) {
      const event = landed.result as ExportLandedEvent;
      // Another run's or month's, or an incomplete landing that will be raised again: keep waiting.
      if (!isOwnLanding(event, task, exclude) || event.state === 'incomplete') continue;
      if (event.state === 'complete') {
        const verdict = yield* confirmRun(ctx, input, event);
        if (verdict === 'refused') exclude.push(event.runId);
        if (verdict !== 'confirmed') continue;
      }
      // The poll timer may have fired while the run was being confirmed.
      if (!timer.isCompleted) timer.cancel();
      if (event.state !== 'complete') {
        return { kind: 'failed', runId: event.runId, reason: `run ${event.runId} landed ${event.state}` };
      }
      return {
        kind: 'landed',
        runId: event.runId,
        ...(typeof event.rowCount === 'number' ? { rowCount: event.rowCount } : {}),
        ...(isLandingKey(event.landingKey) ? { landingKey: event.landingKey } : {}),
      };
    }
    timer = undefined;
    const read = yield* callActivity<{ run?: ObservedRun }>(
      ctx,
      BACKFILL_ACTIVITIES.readRun,
      { task, excludeRunIds: [...exclude] } satisfies ReadRunInput,
      timing,
    );
    if (read.kind === 'ok' && read.run) {
      const run = read.run;
      lastSeen = run.status;
      switch (run.status) {
        case 'Completed':
          return { kind: 'landed', runId: run.runId };
        case 'DataNotAvailable':
        case 'NewDataNotAvailable':
          return { kind: 'noData', runId: run.runId, status: run.status };
        case 'Failed':
        case 'Timeout':
          return {
            kind: 'failed',
            runId: run.runId,
            reason: `run ${run.runId} ended ${run.status}${run.error ? `: ${run.error}` : ''}`,
            ...authorizationOf(run),
          };
        default:
          break; // Queued, InProgress: keep waiting
      }
    } else if (read.kind !== 'ok') {
      lastSeen = `history unreadable (${read.message})`;
    }
    if (nowMs(ctx) >= deadline) {
      return {
        kind: 'timedOut',
        reason: `no landing within ${Math.round(timing.landingTimeoutMs / 60_000)} minutes (last status: ${lastSeen})`,
      };
    }
    delay = Math.min(delay * 2, timing.maxPollIntervalMs);
  }
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

/** One (dataset, month): PUT the export, run it (retrying failed runs), wait for the landing, clean up. */
export function* backfillMonthOrchestrator(ctx: OrchestrationContext): Step<MonthResult> {
  const input = ctx.df.getInput<MonthInput>();
  const { task, timing } = input;
  const instanceId = ctx.df.instanceId;
  const excluded: string[] = [];
  let attempts = 0;
  let result: MonthResult | undefined;
  const base = { dataset: task.dataset, month: task.month };

  const status = (progress: MonthProgress): void =>
    ctx.df.setCustomStatus({ ...progress, maxAttempts: timing.maxAttempts } satisfies MonthProgress);
  const writeExport = () =>
    callActivity<{ created: boolean }>(
      ctx,
      BACKFILL_ACTIVITIES.putExport,
      { task, instanceId } satisfies PutExportInput,
      timing,
    );
  status({ phase: 'creatingExport', attempts });
  const put = yield* writeExport();
  if (put.kind !== 'ok') {
    result = {
      ...base,
      outcome: 'Failed',
      runId: null,
      attempts,
      error: `creating the export failed: ${put.message}`,
      failure: 'exportNotCreated',
    };
  }

  // An export this month did not create (left by an interrupted earlier backfill) may have runs
  // already: they are read before the first submission and never taken for this month's.
  let readPriorRuns = put.kind === 'ok' && !put.created;
  let lastError = '';
  let lastFailure: MonthFailure = 'runNotStarted';
  let lastRunId: string | null = null;
  // A run refused by the destination's authorization would fail again with the token the export
  // carries: the next attempt first writes the export again, with the account's current token.
  let rewriteExport = false;
  while (!result && attempts < timing.maxAttempts) {
    attempts++;
    if (rewriteExport) {
      rewriteExport = false;
      status({ phase: 'creatingExport', attempts, lastError: shortError(lastError) });
      const again = yield* writeExport();
      if (again.kind !== 'ok') {
        lastError = `writing the export again with the account's current SAS token failed: ${again.message}`;
        lastFailure = 'exportNotCreated';
        break;
      }
    }
    status({ phase: 'running', attempts, ...(lastError ? { lastError: shortError(lastError) } : {}) });
    const run = yield* callActivity<{ priorRunIds?: string[] }>(
      ctx,
      BACKFILL_ACTIVITIES.runExport,
      {
        task,
        instanceId,
        attempt: attempts,
        ...(readPriorRuns ? { readPriorRuns } : {}),
      } satisfies RunExportInput,
      timing,
    );
    if (run.kind !== 'ok') {
      lastError = `running the export failed: ${run.message}`;
      lastFailure = 'runNotStarted';
      break;
    }
    readPriorRuns = false;
    excluded.push(...(run.priorRunIds ?? []));
    status({ phase: 'waitingForLanding', attempts });
    const landing = yield* awaitLanding(ctx, input, excluded);
    if (landing.kind === 'landed' && landing.rowCount === 0) {
      // A run with nothing to report lands one header-only file: the month has no data. A
      // manifest without a row count (dataRowCount null) is "rows unknown" and stays Completed.
      result = { ...base, outcome: 'NoData', runId: landing.runId, attempts, rowCount: 0 };
      if (landing.landingKey !== undefined) result.landingKey = landing.landingKey;
    } else if (landing.kind === 'landed') {
      result = {
        ...base,
        outcome: 'Completed',
        runId: landing.runId,
        attempts,
        ...(landing.landingKey !== undefined ? { landingKey: landing.landingKey } : {}),
        ...(landing.rowCount !== undefined ? { rowCount: landing.rowCount } : {}),
      };
    } else if (landing.kind === 'noData') {
      result = { ...base, outcome: 'NoData', runId: landing.runId, attempts, rowCount: 0 };
    } else {
      lastError = landing.reason;
      lastFailure = landing.kind === 'timedOut' ? 'landingTimedOut' : 'runFailed';
      if (landing.kind === 'failed' && landing.runId) {
        excluded.push(landing.runId);
        lastRunId = landing.runId;
      }
      if (landing.kind === 'failed' && landing.authorization && 'tokenId' in task.destination) {
        rewriteExport = true;
        lastError +=
          " (the destination refused the SAS token: the next attempt writes the export with the account's current token; rotate it if it expired)";
      }
      if (attempts < timing.maxAttempts) {
        const retryAt = new Date(nowMs(ctx) + backoffMs(timing, attempts));
        status({
          phase: 'backingOff',
          attempts,
          lastError: shortError(lastError),
          nextRetryAt: retryAt.toISOString(),
        });
        yield ctx.df.createTimer(retryAt);
      }
    }
  }
  result ??= {
    ...base,
    outcome: 'Failed',
    runId: lastRunId,
    attempts,
    error: attempts >= timing.maxAttempts ? `${lastError} (after ${attempts} attempts)` : lastError,
    failure: lastFailure,
  };

  status({ phase: 'finishing', attempts, outcome: result.outcome });
  const finish = yield* callActivity<{ deleted: boolean }>(
    ctx,
    BACKFILL_ACTIVITIES.finishMonth,
    { task, instanceId, result, deleteExport: !input.keepExports } satisfies FinishMonthInput,
    timing,
  );
  if (finish.kind !== 'ok' && result.outcome !== 'Failed') {
    // The data landed; only the clean-up failed. Say so without hiding the outcome.
    result = { ...result, error: `the temporary export was not deleted: ${finish.message}` };
  }
  return result;
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
