// Out-of-band runs: the timer (`%OUT_OF_BAND_SCHEDULE%`, every 6 hours by default) starts one
// outOfBandRound orchestration per tick, whose activities find the due exports a page at a time and
// run them (services/outOfBand.ts); and `PUT|DELETE /api/exports/{scopeKey}/{exportName}/outOfBand`
// sets or removes an export's policy.
//
// The instance id is derived from the tick, so a tick delivered twice finds its round and starts
// nothing; a tick that finds the previous round still running skips (its exports are claimed with
// ETags anyway, so even overlapping rounds never run one export twice).
import {
  app,
  type HttpRequest,
  type HttpResponseInit,
  type InvocationContext,
  type Timer,
} from '@azure/functions';
import * as df from 'durable-functions';

import { validateOutOfBandPolicy } from '../domain/outOfBandPolicy';
import { ScopeError, scopeFromKey } from '../domain/scope';
import { appService } from '../services/appServices';
import { findDueExports, runOutOfBandExport, setOutOfBandPolicy } from '../services/outOfBand';
import { logRoundStart, type RoundStart, startRoundOnce } from '../services/rounds';
import {
  FIND_DUE_ACTIVITY,
  type FindDueInput,
  type FindDueOutput,
  OUT_OF_BAND_ROUND,
  outOfBandRound,
  type RoundInput,
  RUN_EXPORT_ACTIVITY,
  type RunExportInput,
  type RunExportOutput,
} from '../workflows/outOfBandRound';
import { logEvent } from './eventLog';
import { badRequest, httpHandler, json, notFound, readJsonBody, routeAuthLevel } from './http';

export const OUT_OF_BAND_TIMER = 'outOfBandRuns';
export const OUT_OF_BAND_POLICY_FUNCTION = 'setOutOfBandPolicy';

// ------------------------------------------------------------------------------------------ timer

export type TickResult = RoundStart;

export async function outOfBandTimerHandler(timer: Timer, context: InvocationContext): Promise<TickResult> {
  const rt = await appService('outOfBand');
  const now = rt.now();
  const input: RoundInput = {
    tick: now.toISOString(),
    concurrency: rt.concurrency,
    pageSize: rt.pageSize ?? 200,
  };
  const result = await startRoundOnce(df.getClient(context), {
    orchestrator: OUT_OF_BAND_ROUND,
    now,
    timer,
    input,
  });
  logRoundStart(context, 'outOfBand', result, { concurrency: rt.concurrency });
  return result;
}

app.timer(OUT_OF_BAND_TIMER, {
  schedule: '%OUT_OF_BAND_SCHEDULE%',
  extraInputs: [df.input.durableClient()],
  handler: outOfBandTimerHandler,
});

// -------------------------------------------------------------------------- orchestration + activities

df.app.orchestration(OUT_OF_BAND_ROUND, outOfBandRound);

export async function findDueActivity(input: FindDueInput): Promise<FindDueOutput> {
  const rt = await appService('outOfBand');
  const page = await findDueExports(rt.catalog, {
    now: new Date(input.now),
    pageSize: input.pageSize,
    ...(input.continuationToken ? { continuationToken: input.continuationToken } : {}),
  });
  const skipped: Record<string, number> = {};
  for (const [reason, count] of Object.entries(page.skipped)) skipped[reason] = count ?? 0;
  return {
    due: page.due,
    scanned: page.scanned,
    skipped,
    ...(page.continuationToken ? { continuationToken: page.continuationToken } : {}),
  };
}

export async function runExportActivity(
  input: RunExportInput,
  context: InvocationContext,
): Promise<RunExportOutput> {
  const rt = await appService('outOfBand');
  const result = await runOutOfBandExport(rt.catalog, rt.costExports, {
    scope: input.scope,
    exportName: input.exportName,
    now: new Date(input.now),
  });
  if (result.outcome === 'failed') {
    logEvent(context, 'warn', 'outOfBand.refused', {
      exportName: input.exportName,
      scope: input.scope,
      error: result.error,
    });
  }
  return {
    scope: result.scope,
    exportName: result.exportName,
    outcome: result.outcome,
    ...(result.retryAfterMs !== undefined ? { retryAfterMs: result.retryAfterMs } : {}),
  };
}

df.app.activity(FIND_DUE_ACTIVITY, { handler: (input: FindDueInput) => findDueActivity(input) });
df.app.activity(RUN_EXPORT_ACTIVITY, {
  handler: (input: RunExportInput, context: InvocationContext) => runExportActivity(input, context),
});

// ------------------------------------------------------------------------------------- HTTP policy

export async function outOfBandPolicyHandler(
  request: HttpRequest,
  _context: InvocationContext,
): Promise<HttpResponseInit> {
  // The host hands route parameters over decoded once; decoding again would turn %2527 into '.
  const { scopeKey = '', exportName: name = '' } = request.params;
  let scope: string;
  try {
    scope = scopeFromKey(scopeKey).canonical;
  } catch (error) {
    if (error instanceof ScopeError) return badRequest([{ field: 'scopeKey', message: error.message }]);
    throw error;
  }
  if (!name || name.length > 256) {
    return badRequest([{ field: 'exportName', message: 'expected 1-256 characters' }]);
  }

  let policy;
  if (request.method.toUpperCase() === 'PUT') {
    const body = await readJsonBody(request, {
      expected: 'JSON like {"minIntervalMinutes": 360, "hoursUtc": {"from": 6, "to": 18}}',
    });
    const validation = validateOutOfBandPolicy(body);
    if (!validation.ok) return badRequest(validation.problems);
    policy = validation.policy;
  }

  const rt = await appService('outOfBand');
  const result = await setOutOfBandPolicy(rt.catalog, scope, name, policy, rt.now());
  if (!result.found) return notFound('exportName', `export "${name}" is not registered at ${scope}`);
  const record = result.record;
  return json(200, {
    scope: record.scope,
    exportName: record.exportName,
    outOfBand: record.outOfBand ?? null,
    lastOutOfBand: record.lastOutOfBand ?? null,
  });
}

app.http(OUT_OF_BAND_POLICY_FUNCTION, {
  route: 'exports/{scopeKey}/{exportName}/outOfBand',
  methods: ['PUT', 'DELETE'],
  authLevel: routeAuthLevel(),
  handler: httpHandler('out-of-band policy', outOfBandPolicyHandler),
});
