// HTTP start / status / cancel of durable backfills, and the registrations of their orchestrations
// and activities. Thin: validation lives in services/backfillRequest.ts and backfillToken.ts, the
// activities in services/backfillActivities.ts, the orchestrator bodies in workflows/backfill.ts.
//
// Instance ids are deterministic: backfillInstanceId(scope, datasets, months). A repeated POST while
// the backfill runs returns it (202); after it finished, 200 with its result. `force: true` purges the
// finished instance's history and starts it again under the same id with `run` = previous run + 1;
// sub-orchestration ids carry that run number, so a late landing event of the previous run can never
// reach the new one (the backfillRuns lookup rows are rewritten to the new child ids on its PUT).
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import type { DurableClient, DurableOrchestrationStatus } from 'durable-functions';
import * as df from 'durable-functions';

import { instanceStatus } from '../azure/durableClient';
import type { AppConfig } from '../config';
import {
  backfillOutcome,
  byMonthThenDataset,
  cancelledProgress,
  cancelledResult,
  datasetProgress,
  inFlightMonth,
  type MonthRow,
} from '../domain/backfillView';
import {
  type BackfillInput,
  type ConfirmLandingInput,
  type ConfirmLandingResult,
  type FinishMonthInput,
  monthInstanceId,
  type RunExportInput,
} from '../domain/contracts';
import { logEventLine } from '../domain/logEvent';
import type { ExportDataset } from '../domain/scope';
import { appService } from '../services/appServices';
import {
  type BackfillActivities,
  createBackfillActivities,
  toCallResult,
} from '../services/backfillActivities';
import { parseBackfillRequest } from '../services/backfillRequest';
import { backfillTiming, buildBackfillInput, cleanupBackfill, monthInstanceIds } from '../services/backfills';
import { checkBackfillToken } from '../services/backfillToken';
import {
  BACKFILL_ACTIVITIES,
  BACKFILL_MONTH_ORCHESTRATOR,
  BACKFILL_ORCHESTRATOR,
  backfillMonthOrchestrator,
  backfillOrchestrator,
} from '../workflows/backfill';
import {
  badRequest,
  type FieldError,
  httpHandler,
  json,
  notFound,
  readJsonBody,
  routeAuthLevel,
} from './http';

export const BACKFILL_START_FUNCTION = 'backfillStart';
export const BACKFILL_STATUS_FUNCTION = 'backfillStatus';
const ID = /^bf-\d{6}-\d{6}-[0-9a-f]{32}$/;
const ACTIVE = new Set(['Pending', 'Running', 'ContinuedAsNew', 'Suspended']);
const CANCEL_REASON = 'cancelled by DELETE /api/backfills';

// ---------------------------------------------------------------------------------- registrations

df.app.orchestration(BACKFILL_ORCHESTRATOR, backfillOrchestrator);
df.app.orchestration(BACKFILL_MONTH_ORCHESTRATOR, backfillMonthOrchestrator);

/** Each activity answers with a CallResult even when the adapters cannot be built, so a broken
 * setting shows up as the month's error rather than as a crashed orchestration. */
function registerActivity<K extends keyof BackfillActivities>(name: string, key: K): void {
  df.app.activity(name, {
    handler: async (input: unknown, context: InvocationContext) => {
      try {
        const activities = createBackfillActivities(await appService('backfills'));
        const call = activities[key] as (input: unknown) => Promise<unknown>;
        const result = await call(input);
        logActivity(context, key, input, result);
        return result;
      } catch (error) {
        return toCallResult(error);
      }
    },
  });
}
registerActivity(BACKFILL_ACTIVITIES.putExport, 'putExport');
registerActivity(BACKFILL_ACTIVITIES.runExport, 'runExport');
registerActivity(BACKFILL_ACTIVITIES.readRun, 'readRun');
registerActivity(BACKFILL_ACTIVITIES.confirmLanding, 'confirmLanding');
registerActivity(BACKFILL_ACTIVITIES.finishMonth, 'finishMonth');

app.http(BACKFILL_START_FUNCTION, {
  route: 'backfills',
  methods: ['POST'],
  authLevel: routeAuthLevel(),
  extraInputs: [df.input.durableClient()],
  handler: httpHandler('backfill start', startBackfill),
});

app.http(BACKFILL_STATUS_FUNCTION, {
  route: 'backfills/{id}',
  methods: ['GET', 'DELETE'],
  authLevel: routeAuthLevel(),
  extraInputs: [df.input.durableClient()],
  handler: httpHandler('backfill status', backfillStatus),
});

/** One structured line per month attempt and per month outcome (domain/logEvent.ts). */
function logActivity(
  context: InvocationContext,
  key: keyof BackfillActivities,
  input: unknown,
  result: unknown,
): void {
  const kind = (result as { kind?: string } | null)?.kind;
  // A throttled call is tried again after the advertised wait: not an attempt of its own.
  if (key === 'runExport' && kind !== 'throttled') {
    const { task, attempt } = input as RunExportInput;
    const line = logEventLine('backfill.month.attempt', {
      backfillId: task.backfillId,
      scope: task.scope,
      dataset: task.dataset,
      month: task.month,
      attempt,
      submitted: kind === 'ok',
      error: kind === 'ok' ? undefined : ((result as { message?: string }).message ?? kind),
    });
    if (kind === 'ok') context.log(line);
    else context.warn(line);
  } else if (key === 'confirmLanding' && kind === 'ok') {
    const refused = result as Extract<ConfirmLandingResult, { kind: 'ok' }>;
    if (refused.verdict !== 'refused') return;
    const { task, runId, landingKey } = input as ConfirmLandingInput;
    context.warn(
      logEventLine('backfill.landing.refused', {
        backfillId: task.backfillId,
        scope: task.scope,
        exportName: task.exportName,
        dataset: task.dataset,
        month: task.month,
        runId,
        landing: landingKey ? `${landingKey.partitionKey}/${landingKey.rowKey}` : undefined,
        landingRow: refused.landingRow,
        reason: refused.reason,
      }),
    );
  } else if (key === 'finishMonth') {
    const { task, result: month } = input as FinishMonthInput;
    const line = logEventLine('backfill.month.finished', {
      backfillId: task.backfillId,
      scope: task.scope,
      dataset: task.dataset,
      month: task.month,
      outcome: month.outcome,
      attempts: month.attempts,
      runId: month.runId,
      rowCount: month.rowCount,
      error: month.error,
    });
    if (month.outcome === 'Failed') context.warn(line);
    else context.log(line);
  }
}

// ---------------------------------------------------------------------------------------- handlers

function statusUrl(request: HttpRequest, id: string): string {
  const url = new URL(request.url);
  const base = url.pathname.replace(/\/backfills(\/.*)?$/i, '/backfills');
  return `${url.origin}${base}/${id}`; // no query: never echo a function key
}

function getStatus(client: DurableClient, id: string): Promise<DurableOrchestrationStatus | undefined> {
  return instanceStatus(client, id, { showInput: true });
}

function view(request: HttpRequest, status: DurableOrchestrationStatus): Record<string, unknown> {
  const url = statusUrl(request, status.instanceId);
  return {
    id: status.instanceId,
    runtimeStatus: status.runtimeStatus,
    outcome: backfillOutcome(status.runtimeStatus, status.output),
    createdTime: status.createdTime,
    lastUpdatedTime: status.lastUpdatedTime,
    statusUrl: url,
    cancelUrl: url,
    progress: status.customStatus ?? null,
    inFlight: [],
    result: status.output ?? null,
  };
}

/** The view with what the orchestration's own status cannot say: each month in flight with its
 * attempt, last error and next retry (read from the month orchestrations), and for a cancelled
 * backfill its months from backfillRuns in the shape of a finished result. */
async function fullView(
  request: HttpRequest,
  client: DurableClient,
  status: DurableOrchestrationStatus,
): Promise<Record<string, unknown>> {
  const base = view(request, status);
  const input = status.input as Partial<BackfillInput> | null | undefined;
  if (!input || !Array.isArray(input.windows) || !Array.isArray(input.datasets)) return base;
  const datasets = input.datasets;
  const months = input.windows.map((w) => w.month);
  const rows: MonthRow[] = [];
  for await (const row of (await appService('catalog')).listBackfillRuns(status.instanceId)) rows.push(row);
  const byDataset = datasetProgress(datasets, months, rows);
  const run = previousRun(status);
  if (ACTIVE.has(status.runtimeStatus)) {
    const labels = (status.customStatus as { inFlight?: unknown } | null)?.inFlight;
    const inFlight = (Array.isArray(labels) ? labels : [])
      .map((label) => /^(\S+) (\d{4}-\d{2})$/.exec(String(label)))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ dataset: m[1]!, month: m[2]! }));
    const details = await Promise.all(
      inFlight.map(async (where) => {
        const child = await instanceStatus(
          client,
          monthInstanceId(status.instanceId, run, where.dataset as ExportDataset, where.month),
        );
        return inFlightMonth(where, child?.customStatus);
      }),
    );
    return { ...base, byDataset, inFlight: details.sort(byMonthThenDataset) };
  }
  if (status.runtimeStatus !== df.OrchestrationRuntimeStatus.Terminated) return { ...base, byDataset };
  const result = cancelledResult(
    { backfillId: status.instanceId, scope: String(input.scope ?? ''), datasets, months },
    rows,
    typeof status.output === 'string' ? status.output : 'terminated',
  );
  const cancelled = result.months
    .filter((m) => m.outcome === 'Cancelled')
    .map((m) => `${m.dataset} ${m.month}`);
  return {
    ...base,
    byDataset: byDataset.map((d) => ({ ...d, running: 0, pending: 0, Cancelled: d.running + d.pending })),
    progress: cancelledProgress(status.customStatus ?? null, cancelled),
    result,
  };
}

function accepted(request: HttpRequest, id: string, body: Record<string, unknown>): HttpResponseInit {
  const url = statusUrl(request, id);
  return json(202, { id, statusUrl: url, cancelUrl: url, ...body }, { Location: url, 'Retry-After': '30' });
}

function previousRun(status: DurableOrchestrationStatus): number {
  const run = (status.input as Partial<BackfillInput> | null | undefined)?.run;
  return typeof run === 'number' && Number.isInteger(run) && run > 0 ? run : 1;
}

/** What starting a backfill came to; shared by POST /api/backfills and ledger healing. */
export type BeginResult =
  | { kind: 'invalid'; errors: FieldError[] }
  | { kind: 'running'; id: string; runtimeStatus: string }
  | { kind: 'finished'; id: string; status: DurableOrchestrationStatus }
  | { kind: 'started'; id: string; run: number; input: BackfillInput };

/** Validates a backfill request body and starts it, unless the same backfill runs (or finished and
 * `force` is not set). Throws for an unavailable dependency. */
export async function beginBackfill(
  client: DurableClient,
  body: unknown,
  now: Date,
  config: AppConfig,
): Promise<BeginResult> {
  const parsed = parseBackfillRequest(body, { now, maxConcurrency: config.backfill.maxConcurrency });
  if (!parsed.ok) return { kind: 'invalid', errors: parsed.errors };
  const id = parsed.value.instanceId;
  const existing = await getStatus(client, id);
  if (existing && ACTIVE.has(existing.runtimeStatus)) {
    return { kind: 'running', id, runtimeStatus: existing.runtimeStatus };
  }
  if (existing && !parsed.value.request.force) return { kind: 'finished', id, status: existing };

  const token = await checkBackfillToken(parsed.value, (await appService('backfills')).catalog, now);
  if (!token.ok) return { kind: 'invalid', errors: token.errors };
  const run = existing ? previousRun(existing) + 1 : 1;
  if (existing) await client.purgeInstanceHistory(id);
  const input = buildBackfillInput(parsed.value, token.destination, backfillTiming(config.backfill), run);
  try {
    await client.startNew(BACKFILL_ORCHESTRATOR, { instanceId: id, input });
  } catch (error) {
    // Two identical requests raced: the other one started it.
    const now2 = await getStatus(client, id);
    if (now2 && ACTIVE.has(now2.runtimeStatus))
      return { kind: 'running', id, runtimeStatus: now2.runtimeStatus };
    throw error;
  }
  return { kind: 'started', id, run, input };
}

export async function startBackfill(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const body = await readJsonBody(request);
  const result = await beginBackfill(df.getClient(context), body, new Date(), await appService('config'));
  switch (result.kind) {
    case 'invalid':
      return badRequest(result.errors);
    case 'running':
      return accepted(request, result.id, { runtimeStatus: result.runtimeStatus, started: false });
    case 'finished':
      return json(200, { ...view(request, result.status), started: false });
    case 'started': {
      const { id, run, input } = result;
      context.log(
        logEventLine('backfill.started', {
          backfillId: id,
          run,
          scope: input.scope,
          datasets: input.datasets.join(','),
          months: input.windows.length,
          from: input.windows[input.windows.length - 1]?.month,
          to: input.windows[0]?.month,
          concurrency: input.concurrency,
        }),
      );
      return accepted(request, id, {
        runtimeStatus: 'Pending',
        started: true,
        run,
        months: input.windows.map((w) => w.month),
        datasets: input.datasets,
      });
    }
  }
}

export async function backfillStatus(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const id = request.params.id ?? '';
  if (!ID.test(id)) return notFound('id', 'not a backfill id');
  const client = df.getClient(context);
  const status = await getStatus(client, id);
  if (!status) return notFound('id', `no backfill ${id}`);
  if (request.method.toUpperCase() === 'GET') return json(200, await fullView(request, client, status));

  // DELETE: stop the parent and its months in flight, then remove their temporary exports.
  const input = status.input as BackfillInput | null | undefined;
  let terminated = false;
  if (ACTIVE.has(status.runtimeStatus)) {
    await client.terminate(id, CANCEL_REASON);
    terminated = true;
    if (input && Array.isArray(input.windows) && Array.isArray(input.datasets)) {
      await Promise.all(
        monthInstanceIds(input).map((child) =>
          client.terminate(child, 'backfill cancelled').catch(() => undefined),
        ),
      );
    }
  }
  const cleanup = await cleanupBackfill(await appService('backfills'), id);
  const after = (await getStatus(client, id)) ?? status;
  const answer = await fullView(request, client, after);
  if (terminated) {
    const cancelled = (answer.progress as { cancelled?: string[] } | null)?.cancelled ?? [];
    context.log(
      logEventLine('backfill.cancelled', {
        backfillId: id,
        cancelledMonths: cancelled.length,
        cancelled: cancelled.join(','),
        exportsDeleted: cleanup.deleted.length,
        exportsNotDeleted: cleanup.failed.length,
      }),
    );
  }
  return json(200, { ...answer, terminated, cleanup });
}
