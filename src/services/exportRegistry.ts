// Export discovery: list the exports at each scope (MANAGED_SCOPES, then the fleet's member scopes:
// exportSyncScopes.ts), one ARM call per scope with `$expand=runHistory` for the last run, and upsert
// them into the `exports` table. What this app owns
// on a row (out-of-band policy and attempts, the token fingerprint an export carries) is kept; what
// Cost Management owns (dataset, destination, schedule, last run) is refreshed. Exports that vanished
// are marked `missing`, never deleted, so their history stays readable. A throttled scope is reported
// with its wait and picked up by the next tick; nothing here loops on a 429.
import { isCostManagementError, ThrottledError } from '../azure/armErrors';
import type {
  Catalog,
  ExportDestination,
  ExportLastRun,
  ExportRecord,
  ExportSchedule,
  Stored,
} from '../azure/catalog';
import { mapWithConcurrency } from '../azure/catalog';
import type { CostExportsApi } from '../azure/costExports';
import type { Export, ExportDestination as ArmExportDestination, ExportRun } from '../azure/exportModels';
import type { FleetStore } from '../azure/fleetStore';
import type { ExportSyncReport, ScopeSyncResult } from '../domain/contracts';
import { redactError } from '../domain/redact';
import { EXPORT_DATASETS, type ExportDataset, parseScope, ScopeError } from '../domain/scope';

export type RegistryCatalog = Pick<Catalog, 'listExports' | 'upsertMany'>;

export interface ExportSyncDeps {
  catalog: RegistryCatalog;
  costExports: Pick<CostExportsApi, 'list'>;
  now(): Date;
  /** Scopes listed at once. Default DEFAULT_SYNC_CONCURRENCY. */
  concurrency?: number;
}

/** The fleet table reads that give export sync the fleet's member scopes (exportSyncScopes.ts). */
export type FleetMemberSource = Pick<FleetStore, 'get' | 'list' | 'pageByPrefix'>;

/** What export sync (the timer, the HTTP call and the round's activities) uses. */
export interface ExportSyncRuntime extends ExportSyncDeps {
  /** MANAGED_SCOPES. */
  scopes: readonly string[];
  /** The export fleet, whose member scopes are synced after `scopes`; absent: `scopes` only. */
  fleet?: FleetMemberSource;
  /** Scopes per orchestration generation. Default 200. */
  pageSize?: number;
  /** Longest pause of a round after a throttled batch. Default 5 minutes. */
  maxThrottlePauseMs?: number;
}

/** Scopes listed at once, inline or in an export sync round. */
export const DEFAULT_SYNC_CONCURRENCY = 4;

const STORAGE_ACCOUNT_ID = /\/providers\/Microsoft\.Storage\/storageAccounts\/([^/]+)$/i;

/** Timestamps as the catalog stores them (ISO 8601, zone kept); undefined when unreadable. */
function iso(text: string | undefined): string | undefined {
  if (!text) return undefined;
  const ms = Date.parse(/(?:Z|[+-]\d{2}:\d{2})$/.test(text) || !/T/.test(text) ? text : `${text}Z`);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

function lastRunOf(run: ExportRun | undefined): ExportLastRun | undefined {
  if (!run?.status) return undefined;
  const at = iso(run.processingEndTime) ?? iso(run.processingStartTime) ?? iso(run.submittedTime);
  if (!at) return undefined;
  const error = run.error ? [run.error.code, run.error.message].filter(Boolean).join(': ') : '';
  return {
    ...(run.runId ? { runId: run.runId.slice(0, 128) } : {}),
    status: run.status.slice(0, 64),
    ...(error ? { error } : {}),
    at,
  };
}

function scheduleOf(e: Export): ExportSchedule | undefined {
  const s = e.properties.schedule;
  if (!s?.recurrence) return undefined;
  const from = iso(s.recurrencePeriod?.from);
  const to = iso(s.recurrencePeriod?.to);
  return {
    recurrence: s.recurrence.slice(0, 32),
    status: s.status === 'Inactive' ? 'Inactive' : 'Active',
    ...(from ? { from } : {}),
    ...(to ? { to } : {}),
  };
}

/** The row for a listed export, keeping this app's own columns from `existing`. Throws a reason. */
export function exportRecordFrom(
  scope: string,
  e: Export,
  existing: ExportRecord | undefined,
  now: Date,
): ExportRecord {
  const name = e.name;
  if (!name) throw new Error('the export has no name');
  const dataset = managedDataset(e.properties.definition.type);
  const destination = destinationOf(e.properties.deliveryInfo.destination, existing);
  const lastRun = lastRunOf(e.properties.runHistory?.[0]) ?? existing?.lastRun;
  const schedule = scheduleOf(e);
  return {
    scope,
    exportName: name,
    dataset,
    destination,
    ...(schedule ? { schedule } : {}),
    ...(existing?.outOfBand ? { outOfBand: existing.outOfBand } : {}),
    ...(lastRun ? { lastRun } : {}),
    ...(existing?.lastOutOfBand ? { lastOutOfBand: existing.lastOutOfBand } : {}),
    missing: false,
    updatedAt: now.toISOString(),
  };
}

function managedDataset(dataset: string): ExportDataset {
  if (!(EXPORT_DATASETS as readonly string[]).includes(dataset)) {
    throw new Error(`dataset "${dataset}" is not one this app manages`);
  }
  return dataset as ExportDataset;
}

/** Where the export delivers, as Cost Management says, with the token this app gave it (kept only
 * while the account stays the same). Throws when the account cannot be read. */
function destinationOf(d: ArmExportDestination, existing: ExportRecord | undefined): ExportDestination {
  const account = (d.storageAccount ?? STORAGE_ACCOUNT_ID.exec(d.resourceId ?? '')?.[1] ?? '').toLowerCase();
  if (!/^[a-z0-9]{3,24}$/.test(account)) throw new Error('the destination storage account cannot be read');
  const sameAccount = existing?.destination.storageAccount === account;
  return {
    storageAccount: account,
    container: d.container,
    rootFolderPath: d.rootFolderPath ?? '',
    // A SAS-delivered (cross-tenant) destination names the account instead of a resource id.
    sasDelivered: Boolean(d.storageAccount),
    ...(!d.storageAccount && d.resourceId ? { resourceId: d.resourceId } : {}),
    // The token an export carries is only known to this app (set by rotation); a new account voids it.
    ...(sameAccount && existing.destination.tokenRef ? { tokenRef: existing.destination.tokenRef } : {}),
  };
}

/** Syncs one scope: one list call, one partition read, transactional upserts. */
export async function syncScope(deps: ExportSyncDeps, scopeText: string): Promise<ScopeSyncResult> {
  let scope: string;
  try {
    scope = parseScope(scopeText).canonical;
  } catch (error) {
    const reason = error instanceof ScopeError ? error.message : redactError(error);
    return { scope: scopeText, status: 'failed', error: reason };
  }
  let listed: Export[];
  try {
    listed = await deps.costExports.list(scope, { expandRunHistory: true });
  } catch (error) {
    if (error instanceof ThrottledError) {
      return { scope, status: 'throttled', retryAfterMs: error.retryAfterMs, error: error.code };
    }
    const reason = isCostManagementError(error)
      ? `${error.code}${error.status === undefined ? '' : ` (HTTP ${error.status})`}`
      : redactError(error).slice(0, 300);
    return { scope, status: 'failed', error: reason };
  }

  const now = deps.now();
  const existing = new Map<string, Stored<ExportRecord>>();
  for await (const row of deps.catalog.listExports(scope)) existing.set(row.exportName, row);

  const records: ExportRecord[] = [];
  const skipped: { exportName: string; reason: string }[] = [];
  const seen = new Set<string>();
  let added = 0;
  for (const e of listed) {
    try {
      const record = exportRecordFrom(scope, e, existing.get(e.name ?? ''), now);
      if (!existing.has(record.exportName)) added++;
      seen.add(record.exportName);
      records.push(record);
    } catch (error) {
      skipped.push({ exportName: e.name ?? '?', reason: redactError(error).replace(/^Error: /, '') });
    }
  }
  let markedMissing = 0;
  for (const [name, row] of existing) {
    if (seen.has(name) || row.missing) continue;
    const { partitionKey: _p, rowKey: _r, etag: _e, ...record } = row;
    records.push({ ...record, missing: true, missingSince: now.toISOString(), updatedAt: now.toISOString() });
    markedMissing++;
  }
  if (records.length > 0) await deps.catalog.upsertMany('exports', records);
  return {
    scope,
    status: 'synced',
    exports: listed.length,
    added,
    updated: records.length - added - markedMissing,
    markedMissing,
    ...(skipped.length > 0 ? { skipped } : {}),
  };
}

/** Syncs every scope with bounded concurrency; one scope's failure never stops the others. */
export async function syncExports(
  deps: ExportSyncDeps,
  scopes: readonly string[],
): Promise<ExportSyncReport> {
  const startedAt = deps.now().toISOString();
  const results: ScopeSyncResult[] = new Array<ScopeSyncResult>(scopes.length);
  await mapWithConcurrency(scopes, deps.concurrency ?? DEFAULT_SYNC_CONCURRENCY, async (scope, index) => {
    results[index] = await syncScope(deps, scope);
  });
  const count = (status: ScopeSyncResult['status']) => results.filter((r) => r.status === status).length;
  return {
    startedAt,
    scopes: results,
    totals: {
      scopes: results.length,
      synced: count('synced'),
      throttled: count('throttled'),
      failed: count('failed'),
      exports: results.reduce((n, r) => n + (r.exports ?? 0), 0),
      markedMissing: results.reduce((n, r) => n + (r.markedMissing ?? 0), 0),
    },
  };
}
