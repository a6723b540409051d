// Delivers one completed emulator run into Azurite the way Cost Management does: partitioned data
// files under {root}/{export}/{yyyyMMdd-yyyyMMdd}/{yyyyMMddHHmm}/{runId}/, then manifest.json last.
// A destination with storageAccount + sasToken is written with that token (so an expired or
// under-privileged token fails the run, leaving nothing behind); one with resourceId is written with
// the emulator's own access. Every storage account name maps to the one Azurite account.
import { BlobServiceClient, ContainerClient, RestError } from '@azure/storage-blob';

import { redactSecrets } from '../../src/domain/redact';
import { parseScope } from '../../src/domain/scope';
import { UnsupportedDatasetError } from './data/columns';
import { type DatasetPlan, encodeFile, partitionRows, planDataset } from './data/dataset';
import { DAY_MS, dotnetTimestamp, isoNoZone, isoSeconds, utcDay } from './data/format';
import {
  type Compression,
  normalizeRootFolder,
  partitionFileName,
  periodFolder,
  runFolder,
} from './data/layout';
import { buildManifest, type ManifestBlob, serializeManifest } from './data/manifest';
import { ensureParquetAvailable, ParquetUnavailableError } from './data/parquet';
import { hashKey } from './data/prng';

export interface EmulatorStorage {
  /** e.g. http://127.0.0.1:PORT/devstoreaccount1 */
  blobEndpoint: string;
  connectionString: string;
}

export interface RunDeliveryRequest {
  exportName: string;
  /** Canonical scope. */
  scope: string;
  exportResourceId: string;
  apiVersion: string;
  /** Lower-case GUID. */
  runId: string;
  executionType: 'OnDemand' | 'Scheduled';
  submittedTime: Date;
  /** The run's period, UTC, inclusive days. */
  from: Date;
  to: Date;
  dataset: { type: string; version?: string; granularity?: string };
  format: 'Csv' | 'Parquet';
  compression: 'none' | 'gzip' | 'snappy';
  partitionData: boolean;
  overwrite: 'OverwritePreviousReport' | 'CreateNewReport';
  destination: {
    container: string;
    rootFolderPath?: string;
    resourceId?: string;
    storageAccount?: string;
    sasToken?: string;
  };
  seed?: number;
  /** Rows per data file when partitioning (default 5000). */
  rowsPerPartition?: number;
  /** Resources billed each day, i.e. usage rows per day (default 20; 0 makes an empty run). */
  resourcesPerDay?: number;
  /** The export's definition.timeframe, for manifest exportConfig.timeFrame (default: MonthToDate
   * for scheduled runs, Custom for on-demand ones). */
  timeFrame?: string;
  /** Overrides the EA/MCA column style chosen from the scope. */
  agreement?: 'EA' | 'MCA';
}

export interface DeliveredBlob {
  blobName: string;
  byteCount: number;
  dataRowCount: number;
}

export interface RunDeliveryResult {
  /** Blob name of manifest.json (path from the container root). */
  manifestPath: string;
  runFolder: string;
  /** Data files only, in partition order. */
  blobs: DeliveredBlob[];
  dataRowCount: number;
  byteCount: number;
}

/** Verbatim from Microsoft Learn (SAS token exports). */
export const SAS_AUTHORIZATION_MESSAGE =
  'Please ensure the SAS token is valid for blob service, is valid for container and object resource types, and has permissions: add create read write delete. (Storage service error code: AuthorizationResourceTypeMismatch)';

/** Storage refused the SAS token: the emulator marks the run Failed. */
export class DeliveryAuthorizationError extends Error {
  constructor(message: string = SAS_AUTHORIZATION_MESSAGE) {
    super(message);
    this.name = 'DeliveryAuthorizationError';
  }
}

/** The run asks for something the emulator does not write (a dataset, a version, a format). */
export class DeliveryUnsupportedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeliveryUnsupportedError';
  }
}

/** The request itself is malformed (a programming error in the caller); `field` names the culprit. */
export class DeliveryRequestError extends Error {
  constructor(
    readonly field: string,
    problem: string,
  ) {
    super(`delivery request: ${field} ${problem}`);
    this.name = 'DeliveryRequestError';
  }
}

export const DEFAULT_ROWS_PER_PARTITION = 5000;
export const DEFAULT_RESOURCES_PER_DAY = 20;
const MAX_RESOURCES_PER_DAY = 10_000;
/** A Custom export covers at most one calendar month; 366 days leaves room for Monthly granularity. */
const MAX_PERIOD_DAYS = 366;
const UPLOAD_CONCURRENCY = 4;
const CONTENT_TYPE = 'application/octet-stream'; // what real export blobs carry

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const CONTAINER = /^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;

interface ValidRequest extends RunDeliveryRequest {
  granularity: 'Daily' | 'Monthly';
  seed: number;
  rowsPerPartition: number;
  resourcesPerDay: number;
}

function validDate(value: unknown, field: string): Date {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) {
    throw new DeliveryRequestError(field, 'must be a valid Date');
  }
  return value;
}

function nonEmpty(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new DeliveryRequestError(field, 'must be a non-empty string');
  }
  return value;
}

function integer(value: unknown, field: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new DeliveryRequestError(field, `must be an integer from ${min} to ${max}`);
  }
  return value;
}

function oneOf<T extends string>(value: unknown, field: string, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) {
    throw new DeliveryRequestError(field, `must be one of ${allowed.join(', ')}`);
  }
  return value as T;
}

function validate(request: RunDeliveryRequest): ValidRequest {
  if (typeof request !== 'object' || request === null) {
    throw new DeliveryRequestError('request', 'must be an object');
  }
  validateIdentity(request);
  const { from, to } = validatePeriod(request);
  const granularity = validateShape(request);
  validateDestination(request.destination);
  if (request.agreement !== undefined) oneOf(request.agreement, 'agreement', ['EA', 'MCA'] as const);
  return {
    ...request,
    from,
    to,
    granularity: granularity === 'monthly' ? 'Monthly' : 'Daily',
    seed: integer(request.seed, 'seed', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, 0),
    rowsPerPartition: integer(
      request.rowsPerPartition,
      'rowsPerPartition',
      1,
      10_000_000,
      DEFAULT_ROWS_PER_PARTITION,
    ),
    resourcesPerDay: integer(
      request.resourcesPerDay,
      'resourcesPerDay',
      0,
      MAX_RESOURCES_PER_DAY,
      DEFAULT_RESOURCES_PER_DAY,
    ),
  };
}

/** Which export and run: name, scope, ids, execution type and submission time. */
function validateIdentity(request: RunDeliveryRequest): void {
  const exportName = nonEmpty(request.exportName, 'exportName');
  if (/[/\\]/.test(exportName)) throw new DeliveryRequestError('exportName', 'must not contain / or \\');
  try {
    parseScope(nonEmpty(request.scope, 'scope'));
  } catch (error) {
    if (error instanceof DeliveryRequestError) throw error;
    throw new DeliveryRequestError('scope', `is not an export scope (${(error as Error).message})`);
  }
  nonEmpty(request.exportResourceId, 'exportResourceId');
  nonEmpty(request.apiVersion, 'apiVersion');
  if (typeof request.runId !== 'string' || !GUID.test(request.runId)) {
    throw new DeliveryRequestError('runId', 'must be a lower-case GUID');
  }
  oneOf(request.executionType, 'executionType', ['OnDemand', 'Scheduled'] as const);
  validDate(request.submittedTime, 'submittedTime');
}

/** The run's period as UTC days, from ≤ to, at most MAX_PERIOD_DAYS long. */
function validatePeriod(request: RunDeliveryRequest): { from: Date; to: Date } {
  const from = utcDay(validDate(request.from, 'from'));
  const to = utcDay(validDate(request.to, 'to'));
  if (from.getTime() > to.getTime()) throw new DeliveryRequestError('to', 'must not be before from');
  if ((to.getTime() - from.getTime()) / DAY_MS + 1 > MAX_PERIOD_DAYS) {
    throw new DeliveryRequestError('to', `must be at most ${MAX_PERIOD_DAYS} days after from`);
  }
  return { from, to };
}

/** Dataset, format, compression, partitioning and overwrite; returns the granularity (lower case). */
function validateShape(request: RunDeliveryRequest): 'daily' | 'monthly' {
  if (typeof request.dataset !== 'object' || request.dataset === null) {
    throw new DeliveryRequestError('dataset', 'must be an object');
  }
  nonEmpty(request.dataset.type, 'dataset.type');
  const granularity = oneOf((request.dataset.granularity ?? 'Daily').toLowerCase(), 'dataset.granularity', [
    'daily',
    'monthly',
  ] as const);
  oneOf(request.format, 'format', ['Csv', 'Parquet'] as const);
  oneOf(request.compression, 'compression', ['none', 'gzip', 'snappy'] as const);
  if (typeof request.partitionData !== 'boolean') {
    throw new DeliveryRequestError('partitionData', 'must be a boolean');
  }
  oneOf(request.overwrite, 'overwrite', ['OverwritePreviousReport', 'CreateNewReport'] as const);
  return granularity;
}

function validateDestination(destination: RunDeliveryRequest['destination'] | undefined): void {
  if (typeof destination !== 'object' || destination === null) {
    throw new DeliveryRequestError('destination', 'must be an object');
  }
  if (typeof destination.container !== 'string' || !CONTAINER.test(destination.container)) {
    throw new DeliveryRequestError(
      'destination.container',
      'must be 3-63 lower-case letters, digits and single hyphens',
    );
  }
  if (!(destination.storageAccount && destination.sasToken) && !destination.resourceId) {
    throw new DeliveryRequestError(
      'destination',
      'needs resourceId, or storageAccount together with sasToken',
    );
  }
}

/** Gzip is for CSV and Snappy for Parquet (Exports API, compressionMode). */
function checkCombination(format: 'Csv' | 'Parquet', compression: Compression): void {
  if (format === 'Csv' && compression === 'snappy') {
    throw new DeliveryUnsupportedError(
      'compression snappy is only available for Parquet; use none or gzip for Csv',
    );
  }
  if (format === 'Parquet' && compression === 'gzip') {
    throw new DeliveryUnsupportedError(
      'compression gzip is only available for Csv; use none or snappy for Parquet',
    );
  }
}

function containerFor(
  storage: EmulatorStorage,
  destination: RunDeliveryRequest['destination'],
): ContainerClient {
  if (destination.storageAccount && destination.sasToken) {
    const token = destination.sasToken.replace(/^\?/, '');
    return new ContainerClient(
      `${storage.blobEndpoint.replace(/\/+$/, '')}/${destination.container}?${token}`,
    );
  }
  return BlobServiceClient.fromConnectionString(storage.connectionString).getContainerClient(
    destination.container,
  );
}

/** Storage errors carry the request URL (and so the SAS signature): keep only a redacted message. */
function deliveryFailure(runId: string, error: unknown): Error {
  if (error instanceof RestError && error.statusCode === 403) return new DeliveryAuthorizationError();
  if (error instanceof DeliveryUnsupportedError || error instanceof DeliveryAuthorizationError) return error;
  if (error instanceof ParquetUnavailableError) return new DeliveryUnsupportedError(error.message);
  const message = error instanceof Error ? error.message : String(error);
  return new Error(`delivery of run ${runId} failed: ${redactSecrets(message)}`);
}

/** Fails before any data is written when the token lacks what a run needs: container create (c on
 * the container resource type), delete (d), read (r) and list (l); writes need c or w. */
async function checkAccess(container: ContainerClient, runFolderPath: string): Promise<void> {
  await container.createIfNotExists();
  const probe = container.getBlockBlobClient(`${runFolderPath}/.access-probe`);
  await probe.deleteIfExists(); // 403 without d; a missing blob is fine
  await probe.exists(); // 403 without r
  await container
    .listBlobsFlat({ prefix: `${runFolderPath}/` })
    .byPage({ maxPageSize: 1 })
    .next(); // 403 without l
}

/** OverwritePreviousReport: removes the earlier runs of the same period (everything under the
 * period folder except this run's own folder). */
async function deletePreviousRuns(
  container: ContainerClient,
  period: string,
  ownRunFolder: string,
): Promise<void> {
  const stale: string[] = [];
  for await (const blob of container.listBlobsFlat({ prefix: `${period}/` })) {
    if (!blob.name.startsWith(`${ownRunFolder}/`)) stale.push(blob.name);
  }
  await inPool(stale, UPLOAD_CONCURRENCY, (name) => container.getBlockBlobClient(name).deleteIfExists());
}

/** Runs `work` over `items` (pulled lazily) with at most `concurrency` in flight, keeping order. */
async function inPool<T, R>(
  items: Iterable<T>,
  concurrency: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const iterator = items[Symbol.iterator]();
  const results: R[] = [];
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed) {
      const step = iterator.next();
      if (step.done) return;
      const index = next++;
      try {
        results[index] = await work(step.value, index);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  // Settle every worker before failing, so cleanup never races an upload still in flight.
  const settled = await Promise.allSettled(Array.from({ length: concurrency }, worker));
  const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failure) throw failure.reason;
  return results;
}

function plan(request: ValidRequest): DatasetPlan {
  try {
    return planDataset({
      seed: request.seed,
      scope: request.scope,
      type: request.dataset.type,
      ...(request.dataset.version ? { version: request.dataset.version } : {}),
      granularity: request.granularity,
      from: request.from,
      to: request.to,
      resourcesPerDay: request.resourcesPerDay,
      ...(request.agreement ? { agreement: request.agreement } : {}),
    });
  } catch (error) {
    if (error instanceof UnsupportedDatasetError) throw new DeliveryUnsupportedError(error.message);
    throw error;
  }
}

/** Where a run lands. A month-to-date run lands in its whole month's folder (yyyyMM01-yyyyMMdd of
 * the last day) while its manifest says the run's own end date (2024-04-01 manifests; Learn
 * improved-exports FAQ), so with OverwritePreviousReport each day's run replaces the day before's. */
function runLocation(req: ValidRequest) {
  const timeFrame = (
    req.timeFrame ?? (req.executionType === 'Scheduled' ? 'MonthToDate' : 'Custom')
  ).toLowerCase();
  const monthToDate = timeFrame === 'monthtodate' || timeFrame === 'billingmonthtodate';
  return {
    exportName: req.exportName,
    from: req.from,
    to: monthToDate ? new Date(Date.UTC(req.from.getUTCFullYear(), req.from.getUTCMonth() + 1, 0)) : req.to,
    ...(req.destination.rootFolderPath !== undefined
      ? { rootFolderPath: req.destination.rootFolderPath }
      : {}),
  };
}

function runManifest(req: ValidRequest, dataset: DatasetPlan, blobs: ManifestBlob[]) {
  return buildManifest({
    exportConfig: {
      exportName: req.exportName,
      resourceId: req.exportResourceId,
      dataVersion: dataset.dataVersion,
      apiVersion: req.apiVersion,
      type: req.dataset.type,
      timeFrame: req.timeFrame ?? (req.executionType === 'Scheduled' ? 'MonthToDate' : 'Custom'),
      granularity: req.granularity,
    },
    deliveryConfig: {
      partitionData: req.partitionData,
      dataOverwriteBehavior: req.overwrite,
      fileFormat: req.format,
      compression: req.compression,
      // The storage account's ARM id; a SAS destination only has the account name.
      containerUri: req.destination.resourceId ?? req.destination.storageAccount ?? '',
      rootFolderPath: normalizeRootFolder(req.destination.rootFolderPath),
    },
    runInfo: {
      executionType: req.executionType,
      submittedTime: dotnetTimestamp(req.submittedTime, hashKey(req.runId)),
      runId: req.runId,
      // As in real manifests: on-demand runs carry a Z, scheduled ones no zone.
      startDate: req.executionType === 'OnDemand' ? isoSeconds(req.from) : isoNoZone(req.from),
      endDate: req.executionType === 'OnDemand' ? isoSeconds(req.to) : isoNoZone(req.to),
    },
    blobs,
  });
}

/** Writes one run's data files, then its manifest; see the module comment. */
export async function deliverRun(
  storage: EmulatorStorage,
  request: RunDeliveryRequest,
): Promise<RunDeliveryResult> {
  const req = validate(request);
  checkCombination(req.format, req.compression);
  const dataset = plan(req);
  if (req.format === 'Parquet') {
    try {
      await ensureParquetAvailable();
    } catch (error) {
      throw deliveryFailure(req.runId, error);
    }
  }

  const location = runLocation(req);
  const folder = runFolder({ ...location, runTime: req.submittedTime, runId: req.runId });
  const container = containerFor(storage, req.destination);

  try {
    await checkAccess(container, folder);
    if (req.overwrite === 'OverwritePreviousReport') {
      await deletePreviousRuns(container, periodFolder(location), folder);
    }
  } catch (error) {
    throw deliveryFailure(req.runId, error);
  }

  const written: string[] = [];
  try {
    const partitions = partitionRows(dataset.rows(), req.partitionData, req.rowsPerPartition);
    const blobs = await inPool(partitions, UPLOAD_CONCURRENCY, async (rows, index): Promise<ManifestBlob> => {
      const blobName = `${folder}/${partitionFileName(index, req.format, req.compression)}`;
      const bytes = await encodeFile(dataset.shape, rows, req.format, req.compression);
      written.push(blobName);
      await container
        .getBlockBlobClient(blobName)
        .uploadData(bytes, { blobHTTPHeaders: { blobContentType: CONTENT_TYPE } });
      return { blobName, byteCount: bytes.byteLength, dataRowCount: rows.length };
    });

    const manifest = runManifest(req, dataset, blobs);
    const manifestPath = `${folder}/manifest.json`;
    const manifestBytes = Buffer.from(serializeManifest(manifest), 'utf8');
    written.push(manifestPath);
    await container
      .getBlockBlobClient(manifestPath)
      .uploadData(manifestBytes, { blobHTTPHeaders: { blobContentType: CONTENT_TYPE } });
    return {
      manifestPath,
      runFolder: folder,
      blobs: manifest.blobs,
      dataRowCount: manifest.dataRowCount,
      byteCount: manifest.byteCount,
    };
  } catch (error) {
    // A half-written run must not look like a landing: remove what this run wrote.
    await Promise.allSettled(written.map((name) => container.getBlockBlobClient(name).deleteIfExists()));
    throw deliveryFailure(req.runId, error);
  }
}
