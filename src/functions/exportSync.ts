// Export discovery: a timer (`%EXPORT_SYNC_SCHEDULE%`, 05:30 UTC daily by default) and `POST
// /api/exports/sync` (a function key, or an Entra role with AUTH_MODE=entra) list the exports at
// every MANAGED_SCOPES scope and every member scope of the export fleet, and upsert the exports
// table (services/exportRegistry.ts, exportSyncScopes.ts). The timer starts an exportSyncRound
// orchestration (one per tick) that syncs the scopes a page at a time with bounded concurrency, so
// thousands of scopes never run into the function timeout. The HTTP call syncs inline and answers
// with the report when one small read shows at most INLINE_SYNC_MAX_SCOPES scopes in all (the
// managed ones and at most that many fleet member rows: never a count of the whole fleet); otherwise
// it starts the same round and answers 202 with the URL of GET
// /api/exports/sync/{id} (the app's own route: the durable extension's management URLs carry its
// system key, which must never leave the app). Throttled scopes are reported and retried by the
// next tick.
import {
  app,
  type HttpRequest,
  type HttpResponseInit,
  type InvocationContext,
  type Timer,
} from '@azure/functions';
import * as df from 'durable-functions';

import { instanceStatus } from '../azure/durableClient';
import type { ExportSyncReport } from '../domain/contracts';
import { redactError } from '../domain/redact';
import { appService } from '../services/appServices';
import {
  DEFAULT_SYNC_CONCURRENCY,
  type ExportSyncRuntime,
  syncExports,
  syncScope,
} from '../services/exportRegistry';
import { inlineDecision, syncScopesPage } from '../services/exportSyncScopes';
import { logRoundStart, type RoundStart, startRoundOnce } from '../services/rounds';
import {
  EXPORT_SYNC_ROUND,
  exportSyncRound,
  SCOPES_PAGE_ACTIVITY,
  type ScopesPage,
  type ScopesPageInput,
  type ScopeSyncOutcome,
  SYNC_SCOPE_ACTIVITY,
  type SyncRoundInput,
} from '../workflows/exportSyncRound';
import { logEvent } from './eventLog';
import { httpHandler, json, notFound, routeAuthLevel } from './http';

export const EXPORT_SYNC_TIMER = 'exportSync';
export const EXPORT_SYNC_HTTP = 'exportSyncNow';
export const EXPORT_SYNC_STATUS_HTTP = 'exportSyncStatus';

/** Up to this many scopes, POST /api/exports/sync answers with the report itself. */
export const INLINE_SYNC_MAX_SCOPES = 50;

function roundInput(rt: ExportSyncRuntime, now: Date): SyncRoundInput {
  return {
    tick: now.toISOString(),
    concurrency: rt.concurrency ?? DEFAULT_SYNC_CONCURRENCY,
    pageSize: rt.pageSize ?? 200,
    ...(rt.maxThrottlePauseMs !== undefined ? { maxThrottlePauseMs: rt.maxThrottlePauseMs } : {}),
  };
}

export async function exportSyncTimer(timer: Timer, context: InvocationContext): Promise<RoundStart> {
  const rt = await appService('exportSync');
  const now = rt.now();
  const result = await startRoundOnce(df.getClient(context), {
    orchestrator: EXPORT_SYNC_ROUND,
    now,
    timer,
    input: roundInput(rt, now),
  });
  logRoundStart(context, 'exportSync', result, {
    managedScopes: rt.scopes.length,
    fleetMembers: rt.fleet !== undefined,
  });
  return result;
}

export async function exportSyncHttp(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const rt = await appService('exportSync');
  const decision = await inlineDecision(rt, INLINE_SYNC_MAX_SCOPES);
  if (!decision.inline) {
    const now = rt.now();
    const instanceId = `${EXPORT_SYNC_ROUND}-http-${now.getTime()}`;
    const client = df.getClient(context);
    await client.startNew(EXPORT_SYNC_ROUND, { instanceId, input: roundInput(rt, now) });
    // The fleet's scopes are not counted up front (that would read every member row): the round's
    // status says how many it synced.
    const { managedScopes, fleetScopesSeen } = decision;
    logEvent(context, 'info', 'round.started', {
      round: 'exportSync',
      instanceId,
      managedScopes,
      fleetScopesSeen,
      trigger: 'http',
    });
    // The app's own status route: the durable management URLs carry the extension's system key.
    const statusUrl = roundStatusUrl(request, instanceId);
    return json(
      202,
      { instanceId, managedScopes, fleetScopesSeen, statusUrl },
      { Location: statusUrl, 'Retry-After': '30' },
    );
  }
  const report = await syncExports(rt, decision.scopes);
  logReport(context, report);
  return json(200, report);
}

const ROUND_ID = /^exportSyncRound-[A-Za-z0-9-]{1,64}$/;

function roundStatusUrl(request: HttpRequest, instanceId: string): string {
  const url = new URL(request.url);
  const base = url.pathname.replace(/\/exports\/sync(\/.*)?$/i, '/exports/sync');
  return `${url.origin}${base}/${instanceId}`; // no query: never echo a key
}

/** GET /api/exports/sync/{id}: a round's progress and totals, without the durable system key. */
export async function exportSyncStatusHttp(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const id = request.params.id ?? '';
  if (!ROUND_ID.test(id)) return notFound('id', 'not an export sync round id');
  const status = await instanceStatus(df.getClient(context), id);
  if (!status) return notFound('id', `no export sync round ${id}`);
  return json(200, {
    instanceId: status.instanceId,
    runtimeStatus: status.runtimeStatus,
    createdTime: status.createdTime,
    lastUpdatedTime: status.lastUpdatedTime,
    statusUrl: roundStatusUrl(request, id),
    progress: status.customStatus ?? null,
    result: status.output ?? null,
  });
}

function logReport(context: InvocationContext, report: ExportSyncReport): void {
  const t = report.totals;
  logEvent(context, t.failed > 0 ? 'warn' : 'info', 'sync.finished', {
    scopes: t.scopes,
    synced: t.synced,
    exports: t.exports,
    markedMissing: t.markedMissing,
    throttled: t.throttled,
    failed: t.failed,
  });
  for (const s of report.scopes.filter((x) => x.status !== 'synced')) {
    logEvent(context, 'warn', 'sync.scope', {
      scope: s.scope,
      status: s.status,
      retryAfterMs: s.retryAfterMs,
      error: s.error,
    });
  }
}

app.timer(EXPORT_SYNC_TIMER, {
  schedule: '%EXPORT_SYNC_SCHEDULE%',
  extraInputs: [df.input.durableClient()],
  handler: exportSyncTimer,
});

app.http(EXPORT_SYNC_HTTP, {
  route: 'exports/sync',
  methods: ['POST'],
  authLevel: routeAuthLevel(),
  extraInputs: [df.input.durableClient()],
  handler: httpHandler('export sync', exportSyncHttp),
});

app.http(EXPORT_SYNC_STATUS_HTTP, {
  route: 'exports/sync/{id}',
  methods: ['GET'],
  authLevel: routeAuthLevel(),
  extraInputs: [df.input.durableClient()],
  handler: httpHandler('export sync status', exportSyncStatusHttp),
});

// -------------------------------------------------------------------------- orchestration + activities

df.app.orchestration(EXPORT_SYNC_ROUND, exportSyncRound);

export async function scopesPageActivity(input: ScopesPageInput): Promise<ScopesPage> {
  return syncScopesPage(await appService('exportSync'), input.cursor, input.pageSize);
}

/** Never throws: a scope that cannot be synced is reported, and the round goes on with the rest. */
export async function syncScopeActivity(scope: string): Promise<ScopeSyncOutcome> {
  try {
    const {
      scope: canonical,
      status,
      exports,
      markedMissing,
      retryAfterMs,
      error,
    } = await syncScope(await appService('exportSync'), scope);
    return {
      scope: canonical,
      status,
      ...(exports !== undefined ? { exports } : {}),
      ...(markedMissing !== undefined ? { markedMissing } : {}),
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      ...(error !== undefined ? { error } : {}),
    };
  } catch (error) {
    return { scope, status: 'failed', error: redactError(error).slice(0, 300) };
  }
}

df.app.activity(SCOPES_PAGE_ACTIVITY, { handler: scopesPageActivity });
df.app.activity(SYNC_SCOPE_ACTIVITY, { handler: syncScopeActivity });
