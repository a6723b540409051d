// Typed Cost Management Exports bodies at api-version 2025-03-01 (the spec in
// shared/azure-specs/costmanagement/2025-03-01): the PUT body we build and validate ourselves,
// the run request, and defensive parsers for what the service sends back. The SDK's 2022-10-01
// models drop half of these fields, so nothing here goes through its serializer.
import type { FieldError } from '../domain/fieldError';
import { isRecord } from '../domain/json';
import { rootFolderPathProblem, toRootFolderPath } from '../domain/rootFolderPath';
import type { ExportDataset, Scope } from '../domain/scope';
import {
  datasetsForScope,
  EXPORT_DATASETS,
  isGranularityAllowed,
  isUncompressedCsvOnly,
  parseScope,
} from '../domain/scope';

export const EXPORTS_API_VERSION = '2025-03-01';

/** A `modelAsString` enum as read from the service: a known value, or any string it may add later. */
export type Open<T extends string> = T | (string & Record<never, never>);

export const FORMATS = ['Csv', 'Parquet'] as const;
export type FormatType = (typeof FORMATS)[number];
export const COMPRESSION_MODES = ['gzip', 'snappy', 'none'] as const;
export type CompressionMode = (typeof COMPRESSION_MODES)[number];
export const OVERWRITE_BEHAVIORS = ['OverwritePreviousReport', 'CreateNewReport'] as const;
export type DataOverwriteBehavior = (typeof OVERWRITE_BEHAVIORS)[number];
export const TIMEFRAMES = [
  'MonthToDate',
  'BillingMonthToDate',
  'TheLastMonth',
  'TheLastBillingMonth',
  'WeekToDate',
  'Custom',
  'TheCurrentMonth',
] as const;
export type Timeframe = (typeof TIMEFRAMES)[number];
export const GRANULARITIES = ['Daily', 'Monthly'] as const;
export type Granularity = (typeof GRANULARITIES)[number];
export const SCHEDULE_STATUSES = ['Active', 'Inactive'] as const;
export type ScheduleStatus = (typeof SCHEDULE_STATUSES)[number];
export const RECURRENCES = ['Daily', 'Weekly', 'Monthly', 'Annually'] as const;
export type Recurrence = (typeof RECURRENCES)[number];
export type ExecutionType = 'OnDemand' | 'Scheduled';
export type ExecutionStatus =
  'Queued' | 'InProgress' | 'Completed' | 'Failed' | 'Timeout' | 'NewDataNotAvailable' | 'DataNotAvailable';

/** Filter values per name, from the `FilterItems.value` description (ReservationRecommendations only). */
export const FILTER_VALUES = {
  ReservationScope: ['Single', 'Shared'],
  LookBackPeriod: ['Last7Days', 'Last30Days', 'Last60Days'],
  ResourceType: [
    'VirtualMachines',
    'SQLDatabases',
    'PostgreSQL',
    'ManagedDisk',
    'MySQL',
    'RedHat',
    'MariaDB',
    'RedisCache',
    'CosmosDB',
    'SqlDataWarehouse',
    'SUSELinux',
    'AppService',
    'BlockBlob',
    'AzureDataExplorer',
    'VMwareCloudSimple',
  ],
} as const;
export type FilterItemName = keyof typeof FILTER_VALUES;

// ---------------------------------------------------------------------------------------------
// Request bodies (what we send: strict types)

export interface ExportTimePeriod {
  /** ISO 8601 UTC, e.g. `2024-01-01T00:00:00.000Z`. */
  from: string;
  to: string;
}

export interface ExportDestinationBody {
  type: 'AzureBlob';
  resourceId?: string;
  storageAccount?: string;
  sasToken?: string;
  container: string;
  rootFolderPath?: string;
}

export interface ExportDefinitionBody {
  type: ExportDataset;
  timeframe: Timeframe;
  timePeriod?: ExportTimePeriod;
  dataSet?: {
    granularity?: Granularity;
    configuration?: {
      columns?: string[];
      dataVersion?: string;
      filters?: { name: FilterItemName; value: string }[];
    };
  };
}

export interface ExportScheduleBody {
  status?: ScheduleStatus;
  recurrence?: Recurrence;
  recurrencePeriod?: { from: string; to?: string };
}

/** `Export` as a PUT body: no read-only fields. */
export interface ExportPutBody {
  eTag?: string;
  identity?: { type: 'SystemAssigned' };
  location?: string;
  properties: {
    format: FormatType;
    deliveryInfo: { destination: ExportDestinationBody };
    definition: ExportDefinitionBody;
    partitionData: boolean;
    dataOverwriteBehavior: DataOverwriteBehavior;
    compressionMode: CompressionMode;
    exportDescription?: string;
    schedule?: ExportScheduleBody;
  };
}

/** `ExportRunRequest`: the optional body of POST …/run. */
export interface ExportRunRequest {
  timePeriod?: ExportTimePeriod;
}

// ---------------------------------------------------------------------------------------------
// Response models (what we read: every field optional except what the spec requires, enums open)

export interface ExportDestination {
  type?: Open<'AzureBlob'>;
  resourceId?: string;
  storageAccount?: string;
  /** Always obfuscated by the service; never the real token. */
  sasToken?: string;
  container: string;
  rootFolderPath?: string;
}

export interface ExportDefinition {
  type: Open<ExportDataset>;
  timeframe: Open<Timeframe>;
  timePeriod?: ExportTimePeriod;
  dataSet?: {
    granularity?: Open<Granularity>;
    configuration?: {
      columns?: string[];
      dataVersion?: string;
      filters?: { name: Open<FilterItemName>; value: string }[];
    };
  };
}

export interface CommonExportProperties {
  format?: Open<FormatType>;
  deliveryInfo: { destination: ExportDestination };
  definition: ExportDefinition;
  partitionData?: boolean;
  dataOverwriteBehavior?: Open<DataOverwriteBehavior>;
  compressionMode?: Open<CompressionMode>;
  exportDescription?: string;
  nextRunTimeEstimate?: string;
  systemSuspensionContext?: { suspensionCode?: string; suspensionReason?: string; suspensionTime?: string };
  /** Present with `$expand=runHistory`: the last run (list) or last 10 runs (get). */
  runHistory?: ExportRun[];
}

export interface Export {
  id?: string;
  name?: string;
  type?: string;
  eTag?: string;
  identity?: { type: Open<'SystemAssigned' | 'None'>; principalId?: string; tenantId?: string };
  location?: string;
  properties: CommonExportProperties & {
    schedule?: {
      status?: Open<ScheduleStatus>;
      recurrence?: Open<Recurrence>;
      recurrencePeriod?: { from?: string; to?: string };
    };
  };
}

export interface ExportRun {
  /** `…/exports/{name}/Run/{runId}`. */
  id?: string;
  /** The GUID after `/Run/` in `id` (our convenience; not a service field). */
  runId?: string;
  eTag?: string;
  executionType?: Open<ExecutionType>;
  status?: Open<ExecutionStatus>;
  submittedBy?: string;
  submittedTime?: string;
  processingStartTime?: string;
  processingEndTime?: string;
  startDate?: string;
  endDate?: string;
  fileName?: string;
  manifestFile?: string;
  runSettings?: CommonExportProperties;
  error?: { code?: string; message?: string };
}

// ---------------------------------------------------------------------------------------------
// Builder: a validated input → a 2025-03-01 PUT body

export type DestinationInput =
  | { resourceId: string; container: string; rootFolderPath?: string }
  | { storageAccount: string; sasToken: string; container: string; rootFolderPath?: string };

/** A date as `YYYY-MM-DD` (midnight UTC), a full ISO 8601 date-time with zone, or a Date. */
export type DateInput = string | Date;

export interface ExportBodyInput {
  dataset: ExportDataset;
  timeframe: Timeframe;
  /** Required with (and only with) timeframe Custom; at most one calendar month. */
  timePeriod?: { from: DateInput; to: DateInput };
  destination: DestinationInput;
  /** Default Csv. */
  format?: FormatType;
  /** Default none. gzip needs Csv, snappy needs Parquet. */
  compression?: CompressionMode;
  /** Default: Daily for the cost datasets, omitted for the price sheet and reservation datasets. */
  granularity?: Granularity;
  dataVersion?: string;
  columns?: string[];
  /** ReservationRecommendations only. */
  filters?: { name: FilterItemName; value: string }[];
  /** Default true (a manifest.json per run, which the landing catalog relies on). */
  partitionData?: boolean;
  /** Default CreateNewReport (the service default). */
  dataOverwriteBehavior?: DataOverwriteBehavior;
  description?: string;
  /** Default for Custom: `{ status: 'Inactive' }` (a one-time export, run on demand). */
  schedule?: {
    status: ScheduleStatus;
    recurrence?: Recurrence;
    recurrencePeriod?: { from: DateInput; to?: DateInput };
  };
  /** Deliver with the export's system-assigned identity; `location` of that identity (e.g. `centralus`). */
  managedIdentity?: { location: string };
  /** The eTag from a GET, required by the service to update an existing export. */
  eTag?: string;
  /** When given, the dataset must be offered at this scope kind. */
  scope?: Scope | string;
}

/** An export field the builder refuses, in the app's one field-error shape. */
export type FieldProblem = FieldError;

/** An input the builder (or a run request) refuses; `problems` name every offending field. */
export class ExportBodyError extends Error {
  constructor(readonly problems: FieldProblem[]) {
    super(`Invalid export request:\n- ${problems.map((p) => `${p.field}: ${p.message}`).join('\n- ')}`);
    this.name = 'ExportBodyError';
  }
  get fields(): string[] {
    return this.problems.map((p) => p.field);
  }
}

const COST_DATASETS: readonly string[] = ['ActualCost', 'AmortizedCost', 'FocusCost', 'Usage'];
const CONTAINER = /^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;
const STORAGE_ACCOUNT = /^[a-z0-9]{3,24}$/;
const STORAGE_RESOURCE_ID =
  /^\/subscriptions\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\/resourceGroups\/[-\w.()]{1,90}\/providers\/Microsoft\.Storage\/storageAccounts\/[a-z0-9]{3,24}$/i;
// Dataset versions seen: 2021-10-01, 2023-05-01, 1.0, 1.0r2, 1.2-preview, 1.0-preview(v1).
const DATA_VERSION = /^[0-9A-Za-z][0-9A-Za-z.()_-]{0,31}$/;
const LOCATION = /^[a-z][a-z0-9]{1,39}$/;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2})$/;
/** Our own bound: the spec gives none, and a description is a label, not a document. */
export const MAX_DESCRIPTION_LENGTH = 1000;

/** Where validators record problems (collects all of them rather than stopping at the first). */
export interface ProblemSink {
  add(field: string, message: string): void;
}

class Problems implements ProblemSink {
  readonly list: FieldProblem[] = [];
  add(field: string, message: string): void {
    this.list.push({ field, message });
  }
}

function oneOf<T extends string>(
  problems: Problems,
  field: string,
  value: unknown,
  allowed: readonly T[],
): T | undefined {
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  problems.add(field, `expected one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
  return undefined;
}

/** Parses a DateInput to a UTC Date, or records why it cannot. */
export function parseDateInput(problems: ProblemSink, field: string, value: unknown): Date | undefined {
  let date: Date | undefined;
  if (value instanceof Date) date = value;
  else if (typeof value === 'string' && DATE_ONLY.test(value)) date = new Date(`${value}T00:00:00Z`);
  else if (typeof value === 'string' && DATE_TIME.test(value)) date = new Date(value);
  if (!date || Number.isNaN(date.getTime())) {
    problems.add(
      field,
      `expected a date (YYYY-MM-DD) or an ISO 8601 date-time with zone, got ${JSON.stringify(value)}`,
    );
    return undefined;
  }
  // `2024-02-30` parses to 1 March; refuse rather than silently move a month boundary.
  if (typeof value === 'string' && DATE_ONLY.test(value) && date.toISOString().slice(0, 10) !== value) {
    problems.add(field, `${value} is not a calendar date`);
    return undefined;
  }
  return date;
}

/** `date` plus one calendar month, the day clamped to the target month's length (31 Jan → 29 Feb). */
export function addOneCalendarMonth(date: Date): Date {
  const y = date.getUTCFullYear();
  const m = date.getUTCMonth() + 1;
  const lastDay = new Date(Date.UTC(y, m + 1, 0)).getUTCDate();
  const result = new Date(date.getTime());
  result.setUTCFullYear(y, m, Math.min(date.getUTCDate(), lastDay));
  return result;
}

/**
 * Validates a Custom (or run-request) time period: `from` ≤ `to`, and the range no longer than one
 * calendar month as the 2025-03-01 spec says. Our reading: `to` must fall before the same day of
 * the next month (inclusive end dates, as the service uses: 1 Jan – 31 Jan is a month; to 1 Feb is
 * one day over). Returns the period in the service's ISO form.
 */
export function validateTimePeriod(
  value: unknown,
  field = 'timePeriod',
  problems: ProblemSink = new Problems(),
): ExportTimePeriod | undefined {
  if (!isRecord(value)) {
    problems.add(field, 'expected { from, to }');
    return undefined;
  }
  const from = parseDateInput(problems, `${field}.from`, value.from);
  const to = parseDateInput(problems, `${field}.to`, value.to);
  if (!from || !to) return undefined;
  if (to.getTime() < from.getTime()) {
    problems.add(`${field}.to`, `must not be before ${field}.from (${from.toISOString()})`);
    return undefined;
  }
  if (to.getTime() >= addOneCalendarMonth(from).getTime()) {
    problems.add(
      field,
      `spans more than one calendar month (${from.toISOString()} to ${to.toISOString()}); split it into monthly runs`,
    );
    return undefined;
  }
  return { from: from.toISOString(), to: to.toISOString() };
}

/** Validates a run request's optional time period, throwing ExportBodyError naming the field. */
export function buildRunRequest(timePeriod: unknown): ExportRunRequest | undefined {
  if (timePeriod === undefined) return undefined;
  const problems = new Problems();
  const period = validateTimePeriod(timePeriod, 'timePeriod', problems);
  if (!period) throw new ExportBodyError(problems.list);
  return { timePeriod: period };
}

function buildDestination(problems: Problems, value: unknown): ExportDestinationBody | undefined {
  if (!isRecord(value)) {
    problems.add(
      'destination',
      'expected { resourceId, container } or { storageAccount, sasToken, container }',
    );
    return undefined;
  }
  const destination: ExportDestinationBody = { type: 'AzureBlob', container: '' };
  const hasResourceId = value.resourceId !== undefined;
  const hasSas = value.storageAccount !== undefined || value.sasToken !== undefined;
  if (hasResourceId && hasSas) {
    problems.add('destination', 'give either resourceId, or storageAccount with sasToken, not both');
  } else if (hasResourceId) {
    if (typeof value.resourceId === 'string' && STORAGE_RESOURCE_ID.test(value.resourceId)) {
      destination.resourceId = value.resourceId;
    } else {
      problems.add(
        'destination.resourceId',
        `expected a storage account resource id /subscriptions/{guid}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/{name}, got ${JSON.stringify(value.resourceId)}`,
      );
    }
  } else if (hasSas) {
    if (typeof value.storageAccount === 'string' && STORAGE_ACCOUNT.test(value.storageAccount)) {
      destination.storageAccount = value.storageAccount;
    } else {
      problems.add(
        'destination.storageAccount',
        `expected a storage account name (3-24 lower-case letters and digits), got ${JSON.stringify(value.storageAccount)}`,
      );
    }
    const sas = typeof value.sasToken === 'string' ? value.sasToken.trim().replace(/^\?/, '') : undefined;
    // Never echo the token: it is a credential.
    if (!sas) problems.add('destination.sasToken', 'required with storageAccount (value not shown)');
    else if (!isSasToken(sas)) {
      problems.add('destination.sasToken', 'is not a SAS token: expected sv=…&…&sig=… (value not shown)');
    } else destination.sasToken = sas;
  } else {
    problems.add('destination', 'needs resourceId, or storageAccount with sasToken');
  }

  if (typeof value.container === 'string' && CONTAINER.test(value.container)) {
    destination.container = value.container;
  } else {
    problems.add(
      'destination.container',
      `expected a container name (3-63 lower-case letters, digits, single hyphens), got ${JSON.stringify(value.container)}`,
    );
  }
  if (value.rootFolderPath !== undefined) {
    const root = rootFolder(problems, value.rootFolderPath);
    if (root) destination.rootFolderPath = root;
  }
  return destination;
}

function isSasToken(token: string): boolean {
  const params = new URLSearchParams(token);
  return Boolean(params.get('sv') && params.get('sig'));
}

function rootFolder(problems: Problems, value: unknown): string | undefined {
  const field = 'destination.rootFolderPath';
  if (typeof value !== 'string') {
    problems.add(field, `expected a string, got ${JSON.stringify(value)}`);
    return undefined;
  }
  // A leading or trailing "/" names the same folder; the service refuses a leading one, so drop both.
  const trimmed = value.trim().replace(/^\/+|\/+$/g, '');
  if (trimmed === '') return undefined;
  const problem = rootFolderPathProblem(trimmed);
  if (problem) {
    const suggestion = toRootFolderPath(trimmed);
    problems.add(
      field,
      `${problem}; Cost Management refuses such paths${suggestion ? ` (for example use "${suggestion}")` : ''}`,
    );
    return undefined;
  }
  return trimmed;
}

function buildDataSet(
  problems: Problems,
  input: ExportBodyInput,
  dataset: ExportDataset | undefined,
): ExportDefinitionBody['dataSet'] {
  const granularity =
    input.granularity === undefined
      ? dataset && COST_DATASETS.includes(dataset)
        ? 'Daily'
        : undefined
      : oneOf(problems, 'granularity', input.granularity, GRANULARITIES);
  const configuration: NonNullable<NonNullable<ExportDefinitionBody['dataSet']>['configuration']> = {};
  if (input.dataVersion !== undefined) {
    if (typeof input.dataVersion === 'string' && DATA_VERSION.test(input.dataVersion)) {
      configuration.dataVersion = input.dataVersion;
    } else {
      problems.add(
        'dataVersion',
        `expected a dataset version like 2023-05-01 or 1.0r2, got ${JSON.stringify(input.dataVersion)}`,
      );
    }
  }
  if (input.columns !== undefined) {
    const columns: unknown = input.columns;
    if (
      Array.isArray(columns) &&
      columns.length > 0 &&
      columns.every((c): c is string => typeof c === 'string' && /^\w{1,128}$/.test(c)) &&
      new Set(columns).size === columns.length
    ) {
      configuration.columns = [...columns];
    } else {
      problems.add('columns', 'expected a non-empty list of distinct column names (letters, digits, _)');
    }
  }
  if (input.filters !== undefined) {
    const filters: unknown = input.filters;
    if (dataset !== 'ReservationRecommendations') {
      problems.add('filters', 'only supported for dataset ReservationRecommendations');
    } else if (!Array.isArray(filters)) {
      problems.add('filters', 'expected a list of { name, value }');
    } else {
      const built: { name: FilterItemName; value: string }[] = [];
      filters.forEach((f: unknown, i) => {
        const item = isRecord(f) ? f : {};
        const name = oneOf(
          problems,
          `filters[${i}].name`,
          item.name,
          Object.keys(FILTER_VALUES) as FilterItemName[],
        );
        if (!name) return;
        const value = oneOf(problems, `filters[${i}].value`, item.value, FILTER_VALUES[name]);
        if (value) built.push({ name, value });
      });
      configuration.filters = built;
    }
  }
  const dataSet: NonNullable<ExportDefinitionBody['dataSet']> = {};
  if (granularity) dataSet.granularity = granularity;
  if (Object.keys(configuration).length > 0) dataSet.configuration = configuration;
  return Object.keys(dataSet).length > 0 ? dataSet : undefined;
}

function buildSchedule(
  problems: Problems,
  value: unknown,
  timeframe: Timeframe | undefined,
): ExportScheduleBody | undefined {
  if (value === undefined) return timeframe === 'Custom' ? { status: 'Inactive' } : undefined;
  if (!isRecord(value)) {
    problems.add('schedule', 'expected { status, recurrence?, recurrencePeriod? }');
    return undefined;
  }
  const schedule: ExportScheduleBody = {};
  const status = oneOf(problems, 'schedule.status', value.status, SCHEDULE_STATUSES);
  if (status) schedule.status = status;
  if (value.recurrence !== undefined) {
    const recurrence = oneOf(problems, 'schedule.recurrence', value.recurrence, RECURRENCES);
    if (recurrence) schedule.recurrence = recurrence;
  } else if (status === 'Active') {
    problems.add('schedule.recurrence', 'required when schedule.status is Active');
  }
  if (value.recurrencePeriod !== undefined) {
    const period = isRecord(value.recurrencePeriod) ? value.recurrencePeriod : {};
    const from = parseDateInput(problems, 'schedule.recurrencePeriod.from', period.from);
    const to =
      period.to === undefined
        ? undefined
        : parseDateInput(problems, 'schedule.recurrencePeriod.to', period.to);
    if (from && to && to.getTime() <= from.getTime()) {
      problems.add('schedule.recurrencePeriod.to', 'must be after schedule.recurrencePeriod.from');
    } else if (from) {
      schedule.recurrencePeriod = { from: from.toISOString(), ...(to ? { to: to.toISOString() } : {}) };
    }
  } else if (status === 'Active') {
    problems.add(
      'schedule.recurrencePeriod',
      'required when schedule.status is Active (its from is the first run)',
    );
  }
  return schedule;
}

/**
 * Builds a 2025-03-01 `Export` PUT body from a typed input, checking it as if it came from
 * untyped JSON. Throws ExportBodyError listing every problem, each naming its input field.
 */
export function buildExportBody(input: ExportBodyInput): ExportPutBody {
  const problems = new Problems();
  if (!isRecord(input)) throw new ExportBodyError([{ field: 'input', message: 'expected an object' }]);

  const dataset = oneOf(problems, 'dataset', input.dataset, EXPORT_DATASETS);
  if (dataset && input.scope !== undefined) {
    try {
      const scope = typeof input.scope === 'string' ? parseScope(input.scope) : input.scope;
      const allowed = datasetsForScope(scope);
      if (!allowed.includes(dataset)) {
        problems.add(
          'dataset',
          `${dataset} is not offered at ${scope.kind} scope ${scope.canonical} (allowed: ${allowed.join(', ')})`,
        );
      }
      if (typeof input.granularity === 'string' && !isGranularityAllowed(scope, dataset, input.granularity)) {
        problems.add('granularity', `${dataset} at ${scope.kind} scope does not accept ${input.granularity}`);
      }
    } catch (error) {
      problems.add('scope', error instanceof Error ? error.message : String(error));
    }
  }

  const timeframe = oneOf(problems, 'timeframe', input.timeframe, TIMEFRAMES);
  let timePeriod: ExportTimePeriod | undefined;
  if (timeframe === 'Custom') {
    if (input.timePeriod === undefined) problems.add('timePeriod', 'required when timeframe is Custom');
    else timePeriod = validateTimePeriod(input.timePeriod, 'timePeriod', problems);
  } else if (input.timePeriod !== undefined && timeframe) {
    problems.add('timePeriod', `only allowed with timeframe Custom, not ${timeframe}`);
  }

  const format = input.format === undefined ? 'Csv' : oneOf(problems, 'format', input.format, FORMATS);
  const compression =
    input.compression === undefined
      ? 'none'
      : oneOf(problems, 'compression', input.compression, COMPRESSION_MODES);
  if (format === 'Csv' && compression === 'snappy')
    problems.add('compression', 'snappy is for Parquet; use gzip or none with Csv');
  if (format === 'Parquet' && compression === 'gzip')
    problems.add('compression', 'gzip is for Csv; use snappy or none with Parquet');
  if (dataset && format && compression) {
    let scope: Scope | undefined;
    try {
      scope = typeof input.scope === 'string' ? parseScope(input.scope) : input.scope;
    } catch {
      scope = undefined; // reported above
    }
    if (isUncompressedCsvOnly(scope, dataset)) {
      const what = scope?.kind === 'managementGroup' ? 'at management group scope' : dataset;
      if (format !== 'Csv') problems.add('format', `${what} is delivered as Csv only, not ${format}`);
      else if (compression !== 'none')
        problems.add('compression', `${what} is delivered uncompressed: use none, not ${compression}`);
    }
  }

  const partitionData = input.partitionData ?? true;
  if (typeof partitionData !== 'boolean') problems.add('partitionData', 'expected true or false');
  const overwrite =
    input.dataOverwriteBehavior === undefined
      ? 'CreateNewReport'
      : oneOf(problems, 'dataOverwriteBehavior', input.dataOverwriteBehavior, OVERWRITE_BEHAVIORS);

  let description: string | undefined;
  if (input.description !== undefined) {
    if (typeof input.description !== 'string' || input.description.length > MAX_DESCRIPTION_LENGTH) {
      problems.add('description', `expected a string of at most ${MAX_DESCRIPTION_LENGTH} characters`);
    } else if (input.description.trim() !== '') description = input.description;
  }

  let location: string | undefined;
  if (input.managedIdentity !== undefined) {
    const raw: unknown = isRecord(input.managedIdentity) ? input.managedIdentity.location : undefined;
    const normalised = typeof raw === 'string' ? raw.trim().toLowerCase().replace(/\s+/g, '') : '';
    if (LOCATION.test(normalised)) location = normalised;
    else
      problems.add(
        'managedIdentity.location',
        `expected an Azure region name like centralus, got ${JSON.stringify(raw)}`,
      );
  }

  let eTag: string | undefined;
  if (input.eTag !== undefined) {
    if (typeof input.eTag === 'string' && input.eTag.trim() !== '') eTag = input.eTag;
    else problems.add('eTag', 'expected the non-empty eTag string from a GET');
  }

  const destination = buildDestination(problems, input.destination);
  const dataSet = buildDataSet(problems, input, dataset);
  const schedule = buildSchedule(problems, input.schedule, timeframe);

  if (
    problems.list.length > 0 ||
    !dataset ||
    !timeframe ||
    !format ||
    !compression ||
    !overwrite ||
    !destination
  ) {
    throw new ExportBodyError(problems.list);
  }
  return {
    ...(eTag ? { eTag } : {}),
    ...(location ? { identity: { type: 'SystemAssigned' as const }, location } : {}),
    properties: {
      format,
      deliveryInfo: { destination },
      definition: {
        type: dataset,
        timeframe,
        ...(timePeriod ? { timePeriod } : {}),
        ...(dataSet ? { dataSet } : {}),
      },
      partitionData,
      dataOverwriteBehavior: overwrite,
      compressionMode: compression,
      ...(description ? { exportDescription: description } : {}),
      ...(schedule ? { schedule } : {}),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Response parsing: tolerant of extra or wrongly-typed optional fields, strict on the shape the
// spec requires (an export without definition or destination is not something we can act on).

/** A response that does not have the shape the contract promises; `path` locates the problem. */
export class ResponseShapeError extends Error {
  constructor(
    readonly path: string,
    expected: string,
  ) {
    super(`response ${path || 'body'}: expected ${expected}`);
    this.name = 'ResponseShapeError';
  }
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const bool = (v: unknown): boolean | undefined => (typeof v === 'boolean' ? v : undefined);

/** Copies the keys whose values are defined, so parsed objects carry no `key: undefined`. */
function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function record(value: unknown, path: string): Record<string, unknown> {
  if (!isRecord(value)) throw new ResponseShapeError(path, 'an object');
  return value;
}

function requiredString(value: unknown, path: string): string {
  if (typeof value !== 'string') throw new ResponseShapeError(path, 'a string');
  return value;
}

function optionalRecord(value: unknown): Record<string, unknown> | undefined {
  return isRecord(value) ? value : undefined;
}

function parseTimePeriod(value: unknown): ExportTimePeriod | undefined {
  const v = optionalRecord(value);
  const from = str(v?.from);
  const to = str(v?.to);
  return from && to ? { from, to } : undefined;
}

function parseDefinition(value: unknown, path: string): ExportDefinition {
  const v = record(value, path);
  const dataSetRaw = optionalRecord(v.dataSet);
  const configRaw = optionalRecord(dataSetRaw?.configuration);
  const configuration = configRaw
    ? defined({
        columns: Array.isArray(configRaw.columns)
          ? configRaw.columns.filter((c): c is string => typeof c === 'string')
          : undefined,
        dataVersion: str(configRaw.dataVersion),
        filters: Array.isArray(configRaw.filters)
          ? configRaw.filters.filter(isRecord).flatMap((f) => {
              const name = str(f.name);
              const value = str(f.value);
              return name !== undefined && value !== undefined ? [{ name, value }] : [];
            })
          : undefined,
      })
    : undefined;
  const dataSet = dataSetRaw
    ? defined({ granularity: str(dataSetRaw.granularity), configuration })
    : undefined;
  return defined({
    type: requiredString(v.type, `${path}.type`),
    timeframe: requiredString(v.timeframe, `${path}.timeframe`),
    timePeriod: parseTimePeriod(v.timePeriod),
    dataSet,
  });
}

function parseDestination(value: unknown, path: string): ExportDestination {
  const v = record(value, path);
  return defined({
    type: str(v.type),
    resourceId: str(v.resourceId),
    storageAccount: str(v.storageAccount),
    sasToken: str(v.sasToken),
    container: requiredString(v.container, `${path}.container`),
    rootFolderPath: str(v.rootFolderPath),
  });
}

function parseCommonProperties(value: unknown, path: string): CommonExportProperties {
  const v = record(value, path);
  const deliveryInfo = record(v.deliveryInfo, `${path}.deliveryInfo`);
  const suspension = optionalRecord(v.systemSuspensionContext);
  const history = optionalRecord(v.runHistory);
  return defined({
    format: str(v.format),
    deliveryInfo: {
      destination: parseDestination(deliveryInfo.destination, `${path}.deliveryInfo.destination`),
    },
    definition: parseDefinition(v.definition, `${path}.definition`),
    partitionData: bool(v.partitionData),
    dataOverwriteBehavior: str(v.dataOverwriteBehavior),
    compressionMode: str(v.compressionMode),
    exportDescription: str(v.exportDescription),
    nextRunTimeEstimate: str(v.nextRunTimeEstimate),
    systemSuspensionContext: suspension
      ? defined({
          suspensionCode: str(suspension.suspensionCode),
          suspensionReason: str(suspension.suspensionReason),
          suspensionTime: str(suspension.suspensionTime),
        })
      : undefined,
    runHistory: history ? parseRunList(history, `${path}.runHistory`) : undefined,
  });
}

/** Parses one `Export` from a response body (GET / PUT, or an item of a list). */
export function parseExport(value: unknown, path = ''): Export {
  const v = record(value, path);
  const propsPath = path ? `${path}.properties` : 'properties';
  const props = record(v.properties, propsPath);
  const common = parseCommonProperties(props, propsPath);
  const scheduleRaw = optionalRecord(props.schedule);
  const periodRaw = optionalRecord(scheduleRaw?.recurrencePeriod);
  const identityRaw = optionalRecord(v.identity);
  const identityType = str(identityRaw?.type);
  return defined({
    id: str(v.id),
    name: str(v.name),
    type: str(v.type),
    eTag: str(v.eTag),
    identity:
      identityRaw && identityType
        ? defined({
            type: identityType,
            principalId: str(identityRaw.principalId),
            tenantId: str(identityRaw.tenantId),
          })
        : undefined,
    location: str(v.location),
    properties: defined({
      ...common,
      schedule: scheduleRaw
        ? defined({
            status: str(scheduleRaw.status),
            recurrence: str(scheduleRaw.recurrence),
            recurrencePeriod: periodRaw
              ? defined({ from: str(periodRaw.from), to: str(periodRaw.to) })
              : undefined,
          })
        : undefined,
    }),
  });
}

/** Parses `ExportListResult` (`{ value: Export[] }`). */
export function parseExportList(value: unknown): Export[] {
  const v = record(value, '');
  if (!Array.isArray(v.value)) throw new ResponseShapeError('value', 'an array of exports');
  return v.value.map((item, i) => parseExport(item, `value[${i}]`));
}

const RUN_ID = /\/run\/([^/]+)$/i;

/** Parses one `ExportRun`. */
export function parseExportRun(value: unknown, path = ''): ExportRun {
  const v = record(value, path);
  const p = optionalRecord(v.properties) ?? {};
  const id = str(v.id);
  const errorRaw = optionalRecord(p.error);
  const settingsPath = `${path ? `${path}.` : ''}properties.runSettings`;
  return defined({
    id,
    runId: id ? RUN_ID.exec(id)?.[1] : undefined,
    eTag: str(v.eTag),
    executionType: str(p.executionType),
    status: str(p.status),
    submittedBy: str(p.submittedBy),
    submittedTime: str(p.submittedTime),
    processingStartTime: str(p.processingStartTime),
    processingEndTime: str(p.processingEndTime),
    startDate: str(p.startDate),
    endDate: str(p.endDate),
    fileName: str(p.fileName),
    manifestFile: str(p.manifestFile),
    runSettings: parseRunSettings(p.runSettings, settingsPath),
    error: errorRaw ? defined({ code: str(errorRaw.code), message: str(errorRaw.message) }) : undefined,
  });
}

// Run settings are informative only: a partial copy must not make the whole run history unreadable.
function parseRunSettings(value: unknown, path: string): CommonExportProperties | undefined {
  if (!isRecord(value)) return undefined;
  try {
    return parseCommonProperties(value, path);
  } catch (error) {
    if (error instanceof ResponseShapeError) return undefined;
    throw error;
  }
}

/** Parses `ExportExecutionListResult` (`{ value: ExportRun[] }`). */
export function parseRunList(value: unknown, path = ''): ExportRun[] {
  const v = record(value, path);
  const valuePath = path ? `${path}.value` : 'value';
  if (!Array.isArray(v.value)) throw new ResponseShapeError(valuePath, 'an array of export runs');
  return v.value.map((item, i) => parseExportRun(item, `${valuePath}[${i}]`));
}
