// The four catalog tables: typed records, validated on the way in and checked on the way
// out. Timestamps are ISO 8601 strings everywhere (Azure's 7-digit fractions survive; Edm.DateTime
// would cut them to milliseconds); arrays are JSON strings; bytes and row counts are Edm.Int64.
import {
  LANDING_STATES,
  type LandingFileRecord,
  type LandingRecord,
  type LandingState,
  type LiveRun,
} from '../../domain/landingPlan';
import type { OutOfBandPolicy } from '../../domain/outOfBandPolicy';
import { EXPORT_DATASETS, type ExportDataset, parseScope } from '../../domain/scope';
import {
  compact,
  int64,
  isoTimestamp,
  jsonArrayTruncated,
  MAX_STRING_PROPERTY_LENGTH,
  month,
  nonEmpty,
  oneOf,
  redactSecrets,
  RowReader,
  wholeNumber,
} from './guards';
import {
  backfillLookupPartitionKey,
  backfillRowKey,
  exportKey,
  exportNameKey,
  landingFileRowKey,
  landingRowKey,
  periodRowKey,
  scopePartitionKey,
  tableKey,
} from './keys';
import { ledgerCellFromRow, type LedgerCellRecord, ledgerCellToRow } from './ledgerRecords';
import type { Row } from './transactions';

export type TableKind = 'exports' | 'tokens' | 'landings' | 'backfillRuns' | 'ledger';
export const TABLE_KINDS: readonly TableKind[] = ['exports', 'tokens', 'landings', 'backfillRuns', 'ledger'];

/** A record as read back: its keys and the ETag for conditional updates. */
export type Stored<T> = T & { partitionKey: string; rowKey: string; etag: string };

// ---------------------------------------------------------------------------------------------- exports

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
export type { LandingFileRecord, LandingRecord, LandingState, LiveRun };
export { LANDING_STATES };

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

const STORAGE_ACCOUNT = /^[a-z0-9]{3,24}$/;
const CONTAINER = /^(?!.*--)[a-z0-9$][a-z0-9-]{1,61}[a-z0-9]$/;

function storageAccount(field: string, value: string): string {
  if (typeof value !== 'string' || !STORAGE_ACCOUNT.test(value)) {
    throw new TypeError(
      `${field}: expected a storage account name (3-24 lower-case letters and digits), got "${String(value)}"`,
    );
  }
  return value;
}

function optional<T, R>(value: T | undefined, map: (v: T) => R): R | undefined {
  return value === undefined ? undefined : map(value);
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
  if (typeof d.container !== 'string' || !CONTAINER.test(d.container)) {
    throw new TypeError(
      `destination.container: expected a storage container name, got "${String(d.container)}"`,
    );
  }
  if (typeof d.rootFolderPath !== 'string' || d.rootFolderPath.length > 1024) {
    throw new TypeError('destination.rootFolderPath: expected a string of at most 1024 characters');
  }
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

// ----------------------------------------------------------------------------------------------- tokens

export type TokenStatus = 'active' | 'rotated' | 'expired' | 'revoked';
export const TOKEN_STATUSES: readonly TokenStatus[] = ['active', 'rotated', 'expired', 'revoked'];

/** SAS token metadata. The token itself lives in the secret store (`secretName`/`secretVersion`). */
export interface TokenRecord {
  storageAccount: string;
  tokenId: string;
  expiresOn: string;
  startsOn?: string;
  /** SAS `sp`, e.g. `racwl`. */
  permissions: string;
  /** Account SAS `ss`, e.g. `b`. */
  services?: string;
  /** Account SAS `srt`, e.g. `sco`. */
  resourceTypes?: string;
  secretName: string;
  secretVersion?: string;
  /** A one-way fingerprint (e.g. SHA-256) that identifies the token without revealing it. */
  fingerprint: string;
  /** The smallest alert threshold (days before expiry) already alerted, for de-duplication. */
  lastAlertThresholdDays?: number;
  lastAlertAt?: string;
  rotatedAt?: string;
  status: TokenStatus;
}

export function tokenKeys(account: string, tokenId: string): { partitionKey: string; rowKey: string } {
  return {
    partitionKey: tableKey(storageAccount('storageAccount', account), 'storageAccount'),
    rowKey: tableKey(nonEmpty('tokenId', tokenId, 256), 'tokenId'),
  };
}

function sasLetters(field: string, value: string, letters: RegExp): string {
  if (typeof value !== 'string' || !letters.test(value)) {
    throw new TypeError(`${field}: expected SAS letters matching ${letters.source}, got "${String(value)}"`);
  }
  return value;
}

export function tokenToRow(t: TokenRecord): Row {
  return compact({
    ...tokenKeys(t.storageAccount, t.tokenId),
    storageAccount: t.storageAccount,
    tokenId: t.tokenId,
    expiresOn: isoTimestamp('expiresOn', t.expiresOn),
    startsOn: optional(t.startsOn, (v) => isoTimestamp('startsOn', v)),
    permissions: sasLetters('permissions', t.permissions, /^[a-z]{1,20}$/),
    services: optional(t.services, (v) => sasLetters('services', v, /^[bfqt]{1,4}$/)),
    resourceTypes: optional(t.resourceTypes, (v) => sasLetters('resourceTypes', v, /^[sco]{1,3}$/)),
    secretName: nonEmpty('secretName', t.secretName, 127),
    secretVersion: optional(t.secretVersion, (v) => nonEmpty('secretVersion', v, 64)),
    fingerprint: nonEmpty('fingerprint', t.fingerprint, 128),
    lastAlertThresholdDays: optional(t.lastAlertThresholdDays, (v) =>
      wholeNumber('lastAlertThresholdDays', v, 0, 999),
    ),
    lastAlertAt: optional(t.lastAlertAt, (v) => isoTimestamp('lastAlertAt', v)),
    rotatedAt: optional(t.rotatedAt, (v) => isoTimestamp('rotatedAt', v)),
    status: oneOf('status', t.status, TOKEN_STATUSES),
  });
}

export function tokenFromRow(row: Record<string, unknown>): TokenRecord {
  const r = new RowReader('tokens', row);
  return compact({
    storageAccount: r.string('storageAccount'),
    tokenId: r.string('tokenId'),
    expiresOn: r.string('expiresOn'),
    startsOn: r.optionalString('startsOn'),
    permissions: r.string('permissions'),
    services: r.optionalString('services'),
    resourceTypes: r.optionalString('resourceTypes'),
    secretName: r.string('secretName'),
    secretVersion: r.optionalString('secretVersion'),
    fingerprint: r.string('fingerprint'),
    lastAlertThresholdDays: r.optionalNumber('lastAlertThresholdDays'),
    lastAlertAt: r.optionalString('lastAlertAt'),
    rotatedAt: r.optionalString('rotatedAt'),
    status: r.oneOf('status', TOKEN_STATUSES),
  });
}

// --------------------------------------------------------------------------------------------- landings

export function landingKeys(
  exportKeyValue: string,
  period: string,
  runId: string,
): { partitionKey: string; rowKey: string } {
  return { partitionKey: nonEmpty('exportKey', exportKeyValue), rowKey: landingRowKey(period, runId) };
}

const shortText = (field: string) => (v: string) => nonEmpty(field, v, 128);

export function landingToRow(l: LandingRecord): Row {
  const scope = parseScope(l.scope).canonical;
  const missing = l.missingBlobs ?? [];
  if (!Array.isArray(missing) || missing.some((m) => typeof m !== 'string')) {
    throw new TypeError('missingBlobs: expected an array of blob names');
  }
  const { json, truncated } = jsonArrayTruncated(missing);
  return compact({
    ...landingKeys(exportKey(scope, l.exportName), l.period, l.runId),
    kind: 'landing',
    scope,
    exportName: l.exportName,
    period: l.period,
    runId: l.runId,
    manifestPath: nonEmpty('manifestPath', l.manifestPath),
    manifestVersion: optional(l.manifestVersion, shortText('manifestVersion')),
    datasetType: optional(l.datasetType, shortText('datasetType')),
    datasetVersion: optional(l.datasetVersion, shortText('datasetVersion')),
    format: optional(l.format, shortText('format')),
    compression: optional(l.compression, shortText('compression')),
    overwriteBehavior: optional(l.overwriteBehavior, shortText('overwriteBehavior')),
    executionType: optional(l.executionType, shortText('executionType')),
    submittedTime: optional(l.submittedTime, (v) => isoTimestamp('submittedTime', v)),
    blobCount: int64('blobCount', l.blobCount),
    rowCount: optional(l.rowCount, (v) => int64('rowCount', v)),
    totalBytes: int64('totalBytes', l.totalBytes),
    state: oneOf('state', l.state, LANDING_STATES),
    rejectionReason: optional(l.rejectionReason, (v) => redactSecrets(v).slice(0, 8_000)),
    missingBlobs: json,
    missingBlobCount: wholeNumber('missingBlobCount', l.missingBlobCount ?? missing.length),
    missingBlobsTruncated: truncated,
    superseded: Boolean(l.superseded),
    supersededBy: optional(l.supersededBy, (v) => nonEmpty('supersededBy', v, 128)),
    current: Boolean(l.current),
    catalogedAt: isoTimestamp('catalogedAt', l.catalogedAt),
  });
}

export function landingFromRow(row: Record<string, unknown>): LandingRecord {
  const r = new RowReader('landings', row);
  return compact({
    scope: r.string('scope'),
    exportName: r.string('exportName'),
    period: r.string('period'),
    runId: r.string('runId'),
    manifestPath: r.string('manifestPath'),
    manifestVersion: r.optionalString('manifestVersion'),
    datasetType: r.optionalString('datasetType'),
    datasetVersion: r.optionalString('datasetVersion'),
    format: r.optionalString('format'),
    compression: r.optionalString('compression'),
    overwriteBehavior: r.optionalString('overwriteBehavior'),
    executionType: r.optionalString('executionType'),
    submittedTime: r.optionalString('submittedTime'),
    blobCount: r.number('blobCount'),
    rowCount: r.optionalNumber('rowCount'),
    totalBytes: r.number('totalBytes'),
    state: r.oneOf('state', LANDING_STATES),
    rejectionReason: r.optionalString('rejectionReason'),
    missingBlobs: r.stringArray('missingBlobs'),
    missingBlobCount: r.optionalNumber('missingBlobCount') ?? 0,
    superseded: r.boolean('superseded', false),
    supersededBy: r.optionalString('supersededBy'),
    current: r.boolean('current', false),
    catalogedAt: r.string('catalogedAt'),
  });
}

// ------------------------------------------------------------------------- landing files, period rows
// Both live in the landings table, in the partition of the landing they belong to, so a landing, its
// files and its period row can be written in one entity group transaction. Their RowKeys start with
// `~`, after every landing RowKey, and each row has a `kind` column (landing, file, period).

export function landingFileKeys(
  f: Pick<LandingFileRecord, 'landingPartition' | 'period' | 'runId' | 'part'>,
): { partitionKey: string; rowKey: string } {
  return {
    partitionKey: nonEmpty('landingPartition', f.landingPartition),
    rowKey: landingFileRowKey(f.period, f.runId, f.part),
  };
}

export function landingFileToRow(f: LandingFileRecord): Row {
  return {
    ...landingFileKeys(f),
    kind: 'file',
    period: f.period,
    runId: f.runId,
    part: f.part,
    path: nonEmpty('path', f.path),
    bytes: int64('bytes', f.bytes),
    rows: int64('rows', f.rows),
  };
}

export function landingFileFromRow(row: Record<string, unknown>): LandingFileRecord {
  const r = new RowReader('landings', row);
  return {
    landingPartition: r.string('partitionKey'),
    period: r.string('period'),
    runId: r.string('runId'),
    part: r.number('part'),
    path: r.string('path'),
    bytes: r.number('bytes'),
    rows: r.number('rows'),
  };
}

/** The period row: which runs of one export and period are live. Every change to a period's
 * supersession flags is written in one transaction with this row, conditional on its ETag, so
 * concurrent landings of a period serialise on it; and a new run needs one point read, not a query. */
export interface PeriodRecord {
  landingPartition: string;
  period: string;
  live: LiveRun[];
  updatedAt: string;
}

/** `live` is JSON split over `live`, `live1`, … (32 Ki characters each): about 250 runs a property. */
const LIVE_PROPERTIES = 12;

export function periodKeys(
  landingPartition: string,
  period: string,
): { partitionKey: string; rowKey: string } {
  return { partitionKey: nonEmpty('landingPartition', landingPartition), rowKey: periodRowKey(period) };
}

export function periodToRow(p: PeriodRecord): Row {
  const entries = p.live.map((run) => [
    nonEmpty('live.runId', run.runId, 128),
    run.runTime === undefined ? null : isoTimestamp('live.runTime', run.runTime),
    isoTimestamp('live.catalogedAt', run.catalogedAt),
    run.state === 'complete' ? 'c' : 'i',
    run.overwrites ? 1 : 0,
    run.current ? 1 : 0,
  ]);
  const json = JSON.stringify(entries);
  const chunks = Math.ceil(json.length / MAX_STRING_PROPERTY_LENGTH);
  if (chunks > LIVE_PROPERTIES) {
    throw new RangeError(
      `live: ${p.live.length} live runs in period ${p.period} take ${json.length} characters; a period row holds ${LIVE_PROPERTIES * MAX_STRING_PROPERTY_LENGTH}`,
    );
  }
  const row: Row = {
    ...periodKeys(p.landingPartition, p.period),
    kind: 'period',
    period: p.period,
    liveCount: p.live.length,
    currentRunId: p.live.find((r) => r.current)?.runId,
    updatedAt: isoTimestamp('updatedAt', p.updatedAt),
  };
  for (let i = 0; i < Math.max(chunks, 1); i++) {
    row[i === 0 ? 'live' : `live${i}`] = json.slice(
      i * MAX_STRING_PROPERTY_LENGTH,
      (i + 1) * MAX_STRING_PROPERTY_LENGTH,
    );
  }
  return compact(row);
}

export function periodFromRow(row: Record<string, unknown>): PeriodRecord {
  const r = new RowReader('landings', row);
  let json = r.string('live');
  for (let i = 1; i < LIVE_PROPERTIES; i++) {
    const more = r.optionalString(`live${i}`);
    if (more === undefined) break;
    json += more;
  }
  let entries: unknown;
  try {
    entries = JSON.parse(json);
  } catch {
    entries = undefined;
  }
  const bad = (): never => r.fail('live', 'a JSON array of live runs');
  const live = (Array.isArray(entries) ? entries : bad()).map((e: unknown): LiveRun => {
    if (
      !Array.isArray(e) ||
      typeof e[0] !== 'string' ||
      !(e[1] === null || typeof e[1] === 'string') ||
      typeof e[2] !== 'string' ||
      (e[3] !== 'c' && e[3] !== 'i')
    ) {
      return bad();
    }
    const run: LiveRun = {
      runId: e[0],
      catalogedAt: e[2],
      state: e[3] === 'c' ? 'complete' : 'incomplete',
      overwrites: e[4] === 1,
      current: e[5] === 1,
    };
    if (typeof e[1] === 'string') run.runTime = e[1];
    return run;
  });
  return {
    landingPartition: r.string('partitionKey'),
    period: r.string('period'),
    live,
    updatedAt: r.string('updatedAt'),
  };
}

// ----------------------------------------------------------------------------------------- backfillRuns

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
  if (typeof d.container !== 'string' || !CONTAINER.test(d.container)) {
    throw new TypeError(
      `destination.container: expected a storage container name, got "${String(d.container)}"`,
    );
  }
  if (typeof d.rootFolderPath !== 'string' || d.rootFolderPath.length > 1024) {
    throw new TypeError('destination.rootFolderPath: expected a string of at most 1024 characters');
  }
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

// ------------------------------------------------------------------------------------------- registry

export interface RecordTypes {
  exports: ExportRecord;
  tokens: TokenRecord;
  landings: LandingRecord;
  backfillRuns: BackfillRunRecord;
  ledger: LedgerCellRecord;
}

interface TableMapping<T> {
  /** The rows one record is stored as; the first is the record's own row. */
  toRows(record: T): Row[];
  fromRow(row: Record<string, unknown>): T;
}

export const MAPPINGS: { [K in TableKind]: TableMapping<RecordTypes[K]> } = {
  exports: { toRows: (r) => [exportToRow(r)], fromRow: exportFromRow },
  tokens: { toRows: (r) => [tokenToRow(r)], fromRow: tokenFromRow },
  landings: { toRows: (r) => [landingToRow(r)], fromRow: landingFromRow },
  backfillRuns: { toRows: (r) => backfillToRows(r), fromRow: backfillFromRow },
  ledger: { toRows: (r) => [ledgerCellToRow(r)], fromRow: ledgerCellFromRow },
};
