// The exports table: one row per registered export (scope, dataset, destination, schedule,
// out-of-band policy, last run and last out-of-band attempt), keyed by scope and export name.
import type { OutOfBandPolicy } from '../../domain/outOfBandPolicy';
import { EXPORT_DATASETS, type ExportDataset, parseScope } from '../../domain/scope';
import {
  checkDestinationFolder,
  compact,
  isoTimestamp,
  nonEmpty,
  oneOf,
  optional,
  redactSecrets,
  RowReader,
  storageAccount,
  wholeNumber,
} from './guards';
import { exportNameKey, scopePartitionKey } from './keys';
import type { Row } from './transactions';

export interface ExportDestination {
  /** Storage account name (3-24 lower-case letters and digits). */
  storageAccount: string;
  container: string;
  /** Folder under the container; may be empty. */
  rootFolderPath: string;
  /** Delivered with a SAS token (cross-tenant) rather than through the export's managed identity. */
  sasDelivered: boolean;
  /** Token id in the tokens table, under `storageAccount`. */
  tokenRef?: string;
  /** The storage account's ARM id, for a managed-identity destination (what a backfill to it needs). */
  resourceId?: string;
}

export interface ExportSchedule {
  /** ARM `schedule.recurrence`: Daily, Weekly, Monthly, Annually. */
  recurrence: string;
  status: 'Active' | 'Inactive';
  from?: string;
  to?: string;
}

/** This app's latest out-of-band attempt on an export. */
export interface OutOfBandAttempt {
  /** `submitted`, `throttled`, `failed`, `skipped` (domain OutOfBandOutcome). */
  status: string;
  at: string;
}

export interface ExportLastRun {
  runId?: string;
  /** ARM run status: Queued, InProgress, Completed, Failed, Timeout, DataNotAvailable, ... */
  status: string;
  /** Free text; secrets are redacted before it is written. */
  error?: string;
  at: string;
}

export type { OutOfBandPolicy };

export interface ExportRecord {
  /** Canonical scope (`Scope.canonical`). */
  scope: string;
  exportName: string;
  dataset: ExportDataset;
  destination: ExportDestination;
  schedule?: ExportSchedule;
  outOfBand?: OutOfBandPolicy;
  lastRun?: ExportLastRun;
  lastOutOfBand?: OutOfBandAttempt;
  /** The export vanished from Cost Management (deleted outside the app). */
  missing: boolean;
  missingSince?: string;
  updatedAt: string;
}

function hour(field: string, value: number): number {
  return wholeNumber(field, value, 0, 24);
}

export function exportKeys(scope: string, exportName: string): { partitionKey: string; rowKey: string } {
  return { partitionKey: scopePartitionKey(scope), rowKey: exportNameKey(exportName) };
}

export function exportToRow(r: ExportRecord): Row {
  const scope = parseScope(r.scope).canonical;
  const d = r.destination;
  if (typeof d !== 'object' || d === null) throw new TypeError('destination: required');
  checkDestinationFolder(d);
  if (r.schedule) oneOf('schedule.status', r.schedule.status, ['Active', 'Inactive']);
  return compact({
    ...exportKeys(scope, nonEmpty('exportName', r.exportName, 256)),
    scope,
    exportName: r.exportName,
    dataset: oneOf('dataset', r.dataset, EXPORT_DATASETS),
    destinationAccount: storageAccount('destination.storageAccount', d.storageAccount),
    destinationContainer: d.container,
    destinationRootFolderPath: d.rootFolderPath,
    sasDelivered: Boolean(d.sasDelivered),
    tokenRef: optional(d.tokenRef, (v) => nonEmpty('destination.tokenRef', v, 256)),
    destinationResourceId: optional(d.resourceId, (v) => nonEmpty('destination.resourceId', v, 1024)),
    scheduleRecurrence: optional(r.schedule?.recurrence, (v) => nonEmpty('schedule.recurrence', v, 32)),
    scheduleStatus: r.schedule?.status,
    scheduleFrom: optional(r.schedule?.from, (v) => isoTimestamp('schedule.from', v)),
    scheduleTo: optional(r.schedule?.to, (v) => isoTimestamp('schedule.to', v)),
    oobMinIntervalMinutes: optional(r.outOfBand?.minIntervalMinutes, (v) =>
      wholeNumber('outOfBand.minIntervalMinutes', v, 1, 525_600),
    ),
    oobFromHourUtc: optional(r.outOfBand?.hoursWindow?.fromHourUtc, (v) =>
      hour('outOfBand.hoursWindow.fromHourUtc', v),
    ),
    oobToHourUtc: optional(r.outOfBand?.hoursWindow?.toHourUtc, (v) =>
      hour('outOfBand.hoursWindow.toHourUtc', v),
    ),
    ...lastRunProperties(r.lastRun),
    ...outOfBandAttemptProperties(r.lastOutOfBand),
    missing: Boolean(r.missing),
    missingSince: optional(r.missingSince, (v) => isoTimestamp('missingSince', v)),
    updatedAt: isoTimestamp('updatedAt', r.updatedAt),
  });
}

/** The last-run columns. For a Merge (which cannot delete properties) absent optional fields are
 * written as '' so an earlier run's id or error does not linger; reading maps '' back to absent. */
export function lastRunProperties(
  run: ExportLastRun | undefined,
  mode: 'replace' | 'merge' = 'replace',
): Record<string, string | undefined> {
  if (!run) return {};
  const absent = mode === 'merge' ? '' : undefined;
  return {
    lastRunId: optional(run.runId, (v) => nonEmpty('lastRun.runId', v, 128)) ?? absent,
    lastRunStatus: nonEmpty('lastRun.status', run.status, 64),
    lastRunError: optional(run.error, (v) => redactSecrets(v).slice(0, 8_000)) ?? absent,
    lastRunAt: isoTimestamp('lastRun.at', run.at),
  };
}

/** The out-of-band attempt columns alone, for a Merge. */
export function outOfBandAttemptProperties(attempt: OutOfBandAttempt | undefined): Record<string, string> {
  if (!attempt) return {};
  return {
    oobLastStatus: nonEmpty('lastOutOfBand.status', attempt.status, 64),
    oobLastAt: isoTimestamp('lastOutOfBand.at', attempt.at),
  };
}

export function exportFromRow(row: Record<string, unknown>): ExportRecord {
  const r = new RowReader('exports', row);
  const recurrence = r.optionalString('scheduleRecurrence');
  const minInterval = r.optionalNumber('oobMinIntervalMinutes');
  const fromHour = r.optionalNumber('oobFromHourUtc');
  const toHour = r.optionalNumber('oobToHourUtc');
  const lastRunStatus = r.optionalString('lastRunStatus');
  const tokenRef = r.optionalString('tokenRef');
  const oobLastStatus = r.optionalString('oobLastStatus');
  return compact({
    scope: r.string('scope'),
    exportName: r.string('exportName'),
    dataset: r.oneOf('dataset', EXPORT_DATASETS),
    destination: compact({
      storageAccount: r.string('destinationAccount'),
      container: r.string('destinationContainer'),
      rootFolderPath: r.string('destinationRootFolderPath'),
      sasDelivered: r.boolean('sasDelivered', false),
      tokenRef,
      resourceId: r.optionalString('destinationResourceId'),
    }),
    schedule:
      recurrence === undefined
        ? undefined
        : compact({
            recurrence,
            status: r.oneOf('scheduleStatus', ['Active', 'Inactive'] as const),
            from: r.optionalString('scheduleFrom'),
            to: r.optionalString('scheduleTo'),
          }),
    outOfBand:
      minInterval === undefined
        ? undefined
        : compact({
            minIntervalMinutes: minInterval,
            hoursWindow:
              fromHour === undefined || toHour === undefined
                ? undefined
                : { fromHourUtc: fromHour, toHourUtc: toHour },
          }),
    lastRun:
      lastRunStatus === undefined
        ? undefined
        : compact({
            runId: r.optionalString('lastRunId') || undefined,
            status: lastRunStatus,
            error: r.optionalString('lastRunError') || undefined,
            at: r.string('lastRunAt'),
          }),
    lastOutOfBand:
      oobLastStatus === undefined ? undefined : { status: oobLastStatus, at: r.string('oobLastAt') },
    missing: r.boolean('missing', false),
    missingSince: r.optionalString('missingSince'),
    updatedAt: r.string('updatedAt'),
  });
}
