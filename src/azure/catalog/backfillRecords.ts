// The backfillRuns table: one row per (dataset, month) of a backfill, and a lookup row per month
// keyed by scope and export name, which the blob trigger reads to raise the landing event.
import { EXPORT_DATASETS, type ExportDataset, parseScope } from '../../domain/scope';
import {
  checkDestinationFolder,
  compact,
  isoTimestamp,
  month,
  nonEmpty,
  oneOf,
  optional,
  redactSecrets,
  RowReader,
  storageAccount,
  wholeNumber,
} from './guards';
import { backfillLookupPartitionKey, backfillRowKey, tableKey } from './keys';
import type { Row } from './transactions';

export type BackfillRunStatus =
  'pending' | 'submitted' | 'landed' | 'failed' | 'dataNotAvailable' | 'timedOut' | 'cancelled';
export const BACKFILL_RUN_STATUSES: readonly BackfillRunStatus[] = [
  'pending',
  'submitted',
  'landed',
  'failed',
  'dataNotAvailable',
  'timedOut',
  'cancelled',
];

/** One (dataset, month) of one backfill. */
export interface BackfillRunRecord {
  backfillId: string;
  dataset: ExportDataset;
  /** `YYYY-MM`. */
  month: string;
  /** The one-month export this run uses; the blob trigger finds the run by it. */
  exportName: string;
  scope: string;
  /** The (sub-)orchestration instance waiting for the `exportLanded` event. */
  instanceId: string;
  status: BackfillRunStatus;
  runId?: string;
  attempts?: number;
  error?: string;
  /** Where the temporary export delivers, recorded before it is PUT: the blob trigger checks a landing
   * against it even after the export is deleted. Absent on rows written before it was recorded. */
  destination?: BackfillRunDestination;
  updatedAt: string;
}

export interface BackfillRunDestination {
  /** Storage account name, when the destination names it (a resource id or a SAS destination). */
  storageAccount?: string;
  container: string;
  /** '' for the container root. */
  rootFolderPath: string;
}

/** What the blob trigger needs to raise the event: stored in a lookup partition keyed by scope and
 * export name, one row per month. */
export interface BackfillLookup {
  backfillId: string;
  instanceId: string;
  dataset: ExportDataset;
  month: string;
  exportName: string;
  scope: string;
  destination?: BackfillRunDestination;
}

function backfillDestinationColumns(d: BackfillRunDestination | undefined): Record<string, string> {
  if (!d) return {};
  checkDestinationFolder(d);
  return {
    ...(d.storageAccount !== undefined
      ? { destinationAccount: storageAccount('destination.storageAccount', d.storageAccount) }
      : {}),
    destinationContainer: d.container,
    destinationRootFolderPath: d.rootFolderPath,
  };
}

function backfillDestinationOf(r: RowReader): BackfillRunDestination | undefined {
  const container = r.optionalString('destinationContainer');
  if (container === undefined) return undefined;
  const account = r.optionalString('destinationAccount');
  return {
    ...(account !== undefined ? { storageAccount: account } : {}),
    container,
    rootFolderPath: r.optionalString('destinationRootFolderPath') ?? '',
  };
}

export function backfillKeys(
  backfillId: string,
  dataset: string,
  monthValue: string,
): { partitionKey: string; rowKey: string } {
  return {
    partitionKey: tableKey(nonEmpty('backfillId', backfillId, 256), 'backfillId'),
    rowKey: backfillRowKey(
      oneOf('dataset', dataset as ExportDataset, EXPORT_DATASETS),
      month('month', monthValue),
    ),
  };
}

export function backfillLookupKeys(
  scope: string,
  exportName: string,
  monthValue: string,
): { partitionKey: string; rowKey: string } {
  return {
    partitionKey: backfillLookupPartitionKey(scope, nonEmpty('exportName', exportName, 256)),
    rowKey: month('month', monthValue),
  };
}

/** The run row, then its lookup row (another partition, so not in one transaction: both are
 * idempotent upserts and the lookup holds only fields that never change). */
export function backfillToRows(b: BackfillRunRecord): [Row, Row] {
  const scope = parseScope(b.scope).canonical;
  const instanceId = nonEmpty('instanceId', b.instanceId, 256);
  const destination = backfillDestinationColumns(b.destination);
  const main = compact({
    ...backfillKeys(b.backfillId, b.dataset, b.month),
    kind: 'run',
    backfillId: b.backfillId,
    dataset: b.dataset,
    month: b.month,
    exportName: b.exportName,
    scope,
    instanceId,
    status: oneOf('status', b.status, BACKFILL_RUN_STATUSES),
    runId: optional(b.runId, (v) => nonEmpty('runId', v, 128)),
    attempts: optional(b.attempts, (v) => wholeNumber('attempts', v, 0, 1000)),
    error: optional(b.error, (v) => redactSecrets(v).slice(0, 8_000)),
    ...destination,
    updatedAt: isoTimestamp('updatedAt', b.updatedAt),
  });
  const lookup = {
    ...backfillLookupKeys(scope, b.exportName, b.month),
    kind: 'lookup',
    backfillId: b.backfillId,
    instanceId,
    dataset: b.dataset,
    month: b.month,
    exportName: b.exportName,
    scope,
    ...destination,
  };
  return [main, lookup];
}

export function backfillFromRow(row: Record<string, unknown>): BackfillRunRecord {
  const r = new RowReader('backfillRuns', row);
  return compact({
    backfillId: r.string('backfillId'),
    dataset: r.oneOf('dataset', EXPORT_DATASETS),
    month: r.string('month'),
    exportName: r.string('exportName'),
    scope: r.string('scope'),
    instanceId: r.string('instanceId'),
    status: r.oneOf('status', BACKFILL_RUN_STATUSES),
    runId: r.optionalString('runId'),
    attempts: r.optionalNumber('attempts'),
    error: r.optionalString('error'),
    destination: backfillDestinationOf(r),
    updatedAt: r.string('updatedAt'),
  });
}

export function backfillLookupFromRow(row: Record<string, unknown>): BackfillLookup {
  const r = new RowReader('backfillRuns', row);
  const destination = backfillDestinationOf(r);
  return {
    backfillId: r.string('backfillId'),
    instanceId: r.string('instanceId'),
    dataset: r.oneOf('dataset', EXPORT_DATASETS),
    month: r.string('month'),
    exportName: r.string('exportName'),
    scope: r.string('scope'),
    ...(destination ? { destination } : {}),
  };
}
