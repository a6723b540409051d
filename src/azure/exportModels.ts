// Typed Cost Management Exports models at api-version 2025-03-01 (the spec in
// shared/azure-specs/costmanagement/2025-03-01): the PUT body and run request we send, the input the
// builder (exportBody.ts) checks, and what the service sends back (read by exportResponses.ts). The
// SDK's 2022-10-01 models drop half of these fields, so nothing here goes through its serializer.
import type { ExportDataset, Scope } from '../domain/scope';

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
// Builder input: what buildExportBody checks as if it came from untyped JSON

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
