// A POST /api/backfills body → the request, its month windows and its instance id. Pure (the clock is
// an argument); every problem is collected and names its field. One small check per field group;
// format, compression and dataVersion are checked by the same export-body builder the activity uses.
// The SAS token check, which reads the catalog, is `checkBackfillToken` (services/backfillToken.ts).
import { buildExportBody, ExportBodyError } from '../azure/exportBody';
import type { ExportBodyInput } from '../azure/exportModels';
import {
  backfillInstanceId,
  BackfillPlanError,
  type BackfillWindow,
  planBackfill,
} from '../domain/backfillPlan';
import type { FieldError } from '../domain/fieldError';
import { isRecord } from '../domain/json';
import { normaliseFolder } from '../domain/rootFolderPath';
import {
  datasetsForScope,
  EXPORT_DATASETS,
  type ExportDataset,
  isUncompressedCsvOnly,
  parseScope,
  type Scope,
  ScopeError,
  scopeKey,
} from '../domain/scope';

export type { FieldError } from '../domain/fieldError';

export interface BackfillRequest {
  scope: Scope;
  datasets: ExportDataset[];
  months?: number;
  from?: string;
  to?: string;
  destination: BackfillRequestDestination;
  format: 'Csv' | 'Parquet';
  compression: 'gzip' | 'snappy' | 'none';
  dataVersion?: string;
  concurrency: number;
  keepExports: boolean;
  force: boolean;
}

/** As requested: a SAS destination may leave the token id out (the account's active token is used). */
export type BackfillRequestDestination =
  | { resourceId: string; container: string; rootFolderPath?: string }
  | { storageAccount: string; tokenId?: string; container: string; rootFolderPath?: string };

export interface ParsedBackfill {
  request: BackfillRequest;
  windows: BackfillWindow[];
  instanceId: string;
}

export type ParseResult = { ok: true; value: ParsedBackfill } | { ok: false; errors: FieldError[] };

const TOP_FIELDS = [
  'scope',
  'datasets',
  'months',
  'from',
  'to',
  'destination',
  'format',
  'compression',
  'dataVersion',
  'concurrency',
  'keepExports',
  'force',
] as const;
const DESTINATION_FIELDS = [
  'resourceId',
  'storageAccount',
  'tokenId',
  'container',
  'rootFolderPath',
] as const;
const TOKEN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** Any well-formed SAS, only so the export body builder can check everything else in the request. */
const PLACEHOLDER_SAS = 'sv=2022-11-02&ss=b&srt=sco&sp=rwdlac&se=2099-01-01T00:00:00Z&sig=placeholder';

type Body = Record<string, unknown>;
/** Records one problem with the request. */
type Add = (field: string, message: string) => void;
type Period = Pick<BackfillRequest, 'months' | 'from' | 'to'>;
type Delivery = Pick<BackfillRequest, 'format' | 'compression' | 'dataVersion'>;

function describe(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}

/**
 * Validates a POST /api/backfills body. Pure (the clock is an argument); collects every problem.
 * The token check, which reads the catalog, is `checkBackfillToken`.
 */
export function parseBackfillRequest(
  body: unknown,
  options: { now: Date; maxConcurrency: number },
): ParseResult {
  const errors: FieldError[] = [];
  const add: Add = (field, message) => errors.push({ field, message });
  if (!isRecord(body)) {
    return { ok: false, errors: [{ field: 'body', message: 'expected a JSON object' }] };
  }
  checkTopFields(body, add);
  const scope = scopeField(body.scope, add);
  const datasets = datasetsField(body.datasets, scope, add);
  const { period, windows } = periodFields(body, datasets, options.now, add);
  const destination = destinationField(body.destination, add);
  const delivery = deliveryFields(body, scope, datasets, destination, add);
  const concurrency = concurrencyField(body.concurrency, options.maxConcurrency, add);
  checkFlags(body, add);

  if (errors.length > 0 || !scope || !windows || !destination || datasets.length === 0) {
    if (errors.length === 0) add('body', 'incomplete request');
    return { ok: false, errors };
  }
  const request: BackfillRequest = {
    scope,
    datasets,
    ...period,
    destination: normaliseDestination(destination),
    ...delivery,
    concurrency: concurrency!,
    keepExports: body.keepExports === true,
    force: body.force === true,
  };
  const instanceId = backfillInstanceId(
    scopeKey(scope),
    datasets,
    windows.map((w) => w.month),
  );
  return { ok: true, value: { request, windows, instanceId } };
}

function checkTopFields(body: Body, add: Add): void {
  for (const key of Object.keys(body)) {
    if (!(TOP_FIELDS as readonly string[]).includes(key))
      add(key, `unknown field; allowed: ${TOP_FIELDS.join(', ')}`);
  }
}

function scopeField(value: unknown, add: Add): Scope | undefined {
  if (typeof value !== 'string' || value.trim() === '') {
    add('scope', 'required: a billing or RBAC scope');
    return undefined;
  }
  try {
    return parseScope(value);
  } catch (error) {
    add('scope', error instanceof ScopeError ? error.message : 'is not a scope');
    return undefined;
  }
}

function datasetsField(value: unknown, scope: Scope | undefined, add: Add): ExportDataset[] {
  const datasets: ExportDataset[] = [];
  if (!Array.isArray(value) || value.length === 0) {
    add('datasets', `required: a non-empty list of ${EXPORT_DATASETS.join(', ')}`);
    return datasets;
  }
  (value as unknown[]).forEach((item, i) => {
    const dataset = EXPORT_DATASETS.find(
      (d) => typeof item === 'string' && d.toLowerCase() === item.toLowerCase(),
    );
    if (!dataset)
      add(`datasets[${i}]`, `expected one of ${EXPORT_DATASETS.join(', ')}, got ${describe(item)}`);
    else if (datasets.includes(dataset)) add(`datasets[${i}]`, `${dataset} is listed twice`);
    else if (scope && !datasetsForScope(scope).includes(dataset))
      add(
        `datasets[${i}]`,
        `${dataset} is not offered at ${scope.kind} scope (allowed: ${datasetsForScope(scope).join(', ')})`,
      );
    else datasets.push(dataset);
  });
  return datasets;
}

/** months / from / to, and the windows they plan (the same months for every dataset). */
function periodFields(
  body: Body,
  datasets: readonly ExportDataset[],
  now: Date,
  add: Add,
): { period: Period; windows?: BackfillWindow[] } {
  for (const field of ['from', 'to'] as const) {
    if (body[field] !== undefined && typeof body[field] !== 'string') add(field, 'expected a month YYYY-MM');
  }
  if (body.months !== undefined && typeof body.months !== 'number') add('months', 'expected a whole number');
  const period: Period = {
    ...(body.months !== undefined ? { months: body.months as number } : {}),
    ...(body.from !== undefined ? { from: body.from as string } : {}),
    ...(body.to !== undefined ? { to: body.to as string } : {}),
  };
  const periodTyped =
    (body.months === undefined || typeof body.months === 'number') &&
    (body.from === undefined || typeof body.from === 'string') &&
    (body.to === undefined || typeof body.to === 'string');
  if (!periodTyped) return { period };
  const planFor = (dataset?: ExportDataset) =>
    planBackfill({ now, ...period, ...(dataset ? { dataset } : {}) });
  try {
    const windows = planFor();
    // The same months for every dataset, or the dataset whose history limit is exceeded is named.
    for (const dataset of datasets) planFor(dataset);
    return { period, windows };
  } catch (error) {
    if (!(error instanceof BackfillPlanError)) throw error;
    add(['months', 'from', 'to'].includes(error.field) ? error.field : 'months', error.message);
    return { period };
  }
}

function destinationField(value: unknown, add: Add): BackfillRequestDestination | undefined {
  if (!isRecord(value)) {
    add('destination', 'required: { resourceId, container } or { storageAccount, tokenId?, container }');
    return undefined;
  }
  const d = value;
  checkDestinationKeys(d, add);
  const common = {
    container: d.container as string,
    ...(d.rootFolderPath !== undefined ? { rootFolderPath: d.rootFolderPath as string } : {}),
  };
  if (d.resourceId !== undefined && d.storageAccount !== undefined) {
    add('destination', 'give either resourceId or storageAccount, not both');
  } else if (d.resourceId !== undefined) {
    if (d.tokenId !== undefined) add('destination.tokenId', 'only with storageAccount');
    return { resourceId: d.resourceId as string, ...common };
  } else if (d.storageAccount !== undefined) {
    if (d.tokenId !== undefined && (typeof d.tokenId !== 'string' || !TOKEN_ID.test(d.tokenId)))
      add('destination.tokenId', `expected a registered token id, got ${describe(d.tokenId)}`);
    return {
      storageAccount: d.storageAccount as string,
      ...(typeof d.tokenId === 'string' ? { tokenId: d.tokenId } : {}),
      ...common,
    };
  } else if (!Object.keys(d).includes('sasToken')) {
    add('destination', 'needs resourceId, or storageAccount with a registered token');
  }
  return undefined;
}

function checkDestinationKeys(d: Body, add: Add): void {
  for (const key of Object.keys(d)) {
    if (key === 'sasToken')
      add(
        'destination.sasToken',
        'not accepted here: register the token (POST /api/tokens) and name it by tokenId',
      );
    else if (!(DESTINATION_FIELDS as readonly string[]).includes(key))
      add(`destination.${key}`, `unknown field; allowed: ${DESTINATION_FIELDS.join(', ')}`);
  }
}

/** format, compression, dataVersion: checked by the same builder the activity uses. Absent fields
 * take defaults; an explicit null is a wrong value, not an absent one. */
function deliveryFields(
  body: Body,
  scope: Scope | undefined,
  datasets: readonly ExportDataset[],
  destination: BackfillRequestDestination | undefined,
  add: Add,
): Delivery {
  const format = body.format === undefined ? 'Csv' : body.format;
  // Reservation datasets (and anything at a management group) come only as uncompressed CSV.
  const csvOnly = datasets.filter((dataset) => isUncompressedCsvOnly(scope, dataset));
  const compression = body.compression === undefined ? defaultCompression(format, csvOnly) : body.compression;
  if (csvOnly.length > 0) {
    const what = scope?.kind === 'managementGroup' ? 'at management group scope' : csvOnly.join(', ');
    if (format === 'Parquet') add('format', `${what}: delivered as Csv only`);
    else if (compression === 'gzip' || compression === 'snappy')
      add('compression', `${what}: delivered uncompressed, use none`);
  }
  const delivery: Delivery = {
    format: format as BackfillRequest['format'],
    compression: compression as BackfillRequest['compression'],
    ...(body.dataVersion !== undefined ? { dataVersion: body.dataVersion as string } : {}),
  };
  probeExportBody(datasets, destination, delivery, add);
  return delivery;
}

function defaultCompression(format: unknown, csvOnly: readonly ExportDataset[]): string {
  if (format === 'Parquet') return 'snappy';
  return csvOnly.length > 0 ? 'none' : 'gzip';
}

/** Builds the first dataset's export body with a placeholder SAS and reports what the builder refuses
 * (destination problems only when the destination itself was well-formed: the rest is reported above). */
function probeExportBody(
  datasets: readonly ExportDataset[],
  destination: BackfillRequestDestination | undefined,
  delivery: Delivery,
  add: Add,
): void {
  const probe: ExportBodyInput = {
    dataset: datasets[0] ?? 'ActualCost',
    timeframe: 'Custom',
    timePeriod: { from: '2024-01-01', to: '2024-01-31' },
    destination: probeDestination(destination),
    format: delivery.format,
    compression: delivery.compression,
    ...(delivery.dataVersion !== undefined ? { dataVersion: delivery.dataVersion } : {}),
  };
  try {
    buildExportBody(probe);
  } catch (error) {
    if (!(error instanceof ExportBodyError)) throw error;
    for (const problem of error.problems) {
      if (problem.field.startsWith('destination') && !destination) continue; // reported above
      if (problem.field === 'destination.sasToken') continue;
      add(problem.field, problem.message);
    }
  }
}

function probeDestination(
  destination: BackfillRequestDestination | undefined,
): ExportBodyInput['destination'] {
  if (!destination) return { resourceId: 'x', container: 'x' };
  if ('resourceId' in destination) return destination;
  return {
    storageAccount: destination.storageAccount,
    sasToken: PLACEHOLDER_SAS,
    container: destination.container,
    ...(destination.rootFolderPath !== undefined ? { rootFolderPath: destination.rootFolderPath } : {}),
  };
}

function concurrencyField(value: unknown, maxConcurrency: number, add: Add): number | undefined {
  const concurrency = value === undefined ? 1 : value;
  if (
    typeof concurrency !== 'number' ||
    !Number.isInteger(concurrency) ||
    concurrency < 1 ||
    concurrency > maxConcurrency
  ) {
    add('concurrency', `expected a whole number from 1 to ${maxConcurrency}, got ${describe(concurrency)}`);
    return undefined;
  }
  return concurrency;
}

function checkFlags(body: Body, add: Add): void {
  for (const field of ['keepExports', 'force'] as const) {
    if (body[field] !== undefined && typeof body[field] !== 'boolean') add(field, 'expected true or false');
  }
}

function normaliseDestination(d: BackfillRequestDestination): BackfillRequestDestination {
  const root = normaliseFolder(d.rootFolderPath?.trim());
  const rest = { container: d.container, ...(root ? { rootFolderPath: root } : {}) };
  return 'resourceId' in d
    ? { resourceId: d.resourceId, ...rest }
    : { storageAccount: d.storageAccount, ...(d.tokenId ? { tokenId: d.tokenId } : {}), ...rest };
}
