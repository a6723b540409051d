// Export discovery: a timer (`%EXPORT_SYNC_SCHEDULE%`, 05:30 UTC daily by default) and
// `POST /api/exports/sync` (authLevel function) list the exports at every MANAGED_SCOPES scope and
// upsert the exports table (services/exportRegistry.ts). Throttled scopes are reported and retried
// by the next tick.
import {
  app,
  type HttpRequest,
  type HttpResponseInit,
  type InvocationContext,
  type Timer,
} from '@azure/functions';
import { getConfig } from '../config';
import { redactError } from '../domain/redact';
import { getServices } from '../services/appContext';
import { syncExports, type ExportSyncDeps, type ExportSyncReport } from '../services/exportRegistry';

export const EXPORT_SYNC_TIMER = 'exportSync';
export const EXPORT_SYNC_HTTP = 'exportSyncNow';

export interface ExportSyncRuntime extends ExportSyncDeps {
  scopes: readonly string[];
}

let shared: Promise<ExportSyncRuntime> | undefined;

function runtime(): Promise<ExportSyncRuntime> {
  shared ??= (async (): Promise<ExportSyncRuntime> => {
    const services = await getServices();
    return {
      catalog: services.catalog,
      costExports: services.costExports,
      scopes: getConfig().managedScopes,
      now: () => new Date(),
    };
  })().catch((error: unknown) => {
    shared = undefined;
    throw error;
  });
  return shared;
}

/** Tests and the local host hand in their own adapters, scopes and clock; undefined goes back to settings. */
export function useExportSyncRuntime(value: ExportSyncRuntime | undefined): void {
  shared = value ? Promise.resolve(value) : undefined;
}

async function run(context: InvocationContext): Promise<ExportSyncReport> {
  const rt = await runtime();
  const report = await syncExports(rt, rt.scopes);
  const t = report.totals;
  context.log(
    `export sync: ${t.synced}/${t.scopes} scope(s) synced, ${t.exports} export(s), ${t.markedMissing} newly missing, ${t.throttled} throttled, ${t.failed} failed`,
  );
  for (const s of report.scopes.filter((x) => x.status !== 'synced')) {
    context.warn(
      `export sync of ${s.scope}: ${s.status}${s.retryAfterMs ? ` (retry after ${s.retryAfterMs} ms, next tick)` : ''}${s.error ? `: ${s.error}` : ''}`,
    );
  }
  return report;
}

export async function exportSyncTimer(_timer: Timer, context: InvocationContext): Promise<ExportSyncReport> {
  return run(context);
}

export async function exportSyncHttp(
  _request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  try {
    const report = await run(context);
    return { status: 200, jsonBody: report };
  } catch (error) {
    context.error(`export sync failed: ${redactError(error)}`);
    return { status: 500, jsonBody: { error: { code: 'InternalError', message: redactError(error) } } };
  }
}

app.timer(EXPORT_SYNC_TIMER, { schedule: '%EXPORT_SYNC_SCHEDULE%', handler: exportSyncTimer });

app.http(EXPORT_SYNC_HTTP, {
  route: 'exports/sync',
  methods: ['POST'],
  authLevel: 'function',
  handler: exportSyncHttp,
});
