// Export profiles (named sets of desired exports): the built-in ones, parsing a custom one, and the
// export each wants at a scope (name, file shape, destination folder, ownership marker). Comparing
// that with what Azure has is exportDrift.ts. Pure: no I/O.
import { isRecord } from './json';
import {
  datasetsForScope,
  EXPORT_DATASETS,
  type ExportDataset,
  isUncompressedCsvOnly,
  type Scope,
  type ScopeKind,
} from './scope';

export type ProfileFormat = 'Csv' | 'Parquet';
export type ProfileCompression = 'none' | 'gzip' | 'snappy';
export type ProfileOverwrite = 'OverwritePreviousReport' | 'CreateNewReport';
export type ProfileTimeframe = 'MonthToDate' | 'TheLastMonth' | 'TheCurrentMonth' | 'WeekToDate';
export type ProfileRecurrence = 'Daily' | 'Weekly' | 'Monthly';
export type ProfileGranularity = 'Daily' | 'Monthly';

const FORMATS: readonly ProfileFormat[] = ['Csv', 'Parquet'];
const COMPRESSIONS: readonly ProfileCompression[] = ['none', 'gzip', 'snappy'];
const OVERWRITES: readonly ProfileOverwrite[] = ['OverwritePreviousReport', 'CreateNewReport'];
// Scheduled timeframes only: Custom is for one-month backfill runs, not for a standing export.
const TIMEFRAMES: readonly ProfileTimeframe[] = [
  'MonthToDate',
  'TheLastMonth',
  'TheCurrentMonth',
  'WeekToDate',
];
const RECURRENCES: readonly ProfileRecurrence[] = ['Daily', 'Weekly', 'Monthly'];
const GRANULARITIES: readonly ProfileGranularity[] = ['Daily', 'Monthly'];
const COST_DATASETS: readonly ExportDataset[] = ['ActualCost', 'AmortizedCost', 'FocusCost', 'Usage'];

/** One export a profile wants at every scope it is assigned to. */
export interface ProfileExport {
  /** Short slug; the export's name is `{OWNED_PREFIX}{profile}-{key}`. */
  key: string;
  dataset: ExportDataset;
  /** Omitted: the service's latest version for the dataset. */
  dataVersion?: string;
  format: ProfileFormat;
  compression: ProfileCompression;
  partitionData: boolean;
  overwrite: ProfileOverwrite;
  timeframe: ProfileTimeframe;
  recurrence: ProfileRecurrence;
  /** Cost datasets only (the price sheet and reservation datasets take none). */
  granularity?: ProfileGranularity;
  /** Skipped at scopes that do not offer the dataset instead of refusing the assignment. */
  whereAllowed?: boolean;
}

export interface ExportProfile {
  /** Lower-case slug. */
  name: string;
  description: string;
  builtIn: boolean;
  exports: ProfileExport[];
}

/** Exports this app owns start with this; their description carries OWNED_MARKER as well. */
export const OWNED_PREFIX = 'cea-';
export const OWNED_MARKER = '[managed by cost-export-autopilot]';

/** Flexera's CSP bill connect (docs.flexera.com, "Microsoft Cloud Solution Provider (CSP) Partner -
 * Azure MCA"): an actual and an amortized cost export per customer scope, dataset version
 * 2021-10-01, CSV uncompressed, partitioned, overwriting, daily month-to-date. */
export const FLEXERA_CSP: ExportProfile = {
  name: 'flexera-csp',
  description: 'Flexera CSP bill connect: ActualCost + AmortizedCost 2021-10-01, CSV, daily month-to-date',
  builtIn: true,
  exports: (['ActualCost', 'AmortizedCost'] as const).map((dataset) => ({
    key: dataset === 'ActualCost' ? 'actual' : 'amortized',
    dataset,
    dataVersion: '2021-10-01',
    format: 'Csv',
    compression: 'none',
    partitionData: true,
    overwrite: 'OverwritePreviousReport',
    timeframe: 'MonthToDate',
    recurrence: 'Daily',
    granularity: 'Daily',
  })),
};

/** What FinOps hubs ingest: FOCUS cost (1.2-preview, the newest version the FinOps toolkit's
 * New-FinOpsCostExport sends) as Parquet + Snappy daily month-to-date, and the price sheet monthly
 * where the scope offers it (EA billing account, MCA billing profile). */
export const FINOPS_HUBS: ExportProfile = {
  name: 'finops-hubs',
  description: 'FinOps hubs: FocusCost 1.2-preview Parquet/Snappy daily, PriceSheet monthly where allowed',
  builtIn: true,
  exports: [
    {
      key: 'focus',
      dataset: 'FocusCost',
      dataVersion: '1.2-preview',
      format: 'Parquet',
      compression: 'snappy',
      partitionData: true,
      overwrite: 'OverwritePreviousReport',
      timeframe: 'MonthToDate',
      recurrence: 'Daily',
      granularity: 'Daily',
    },
    {
      key: 'prices',
      dataset: 'PriceSheet',
      dataVersion: '2023-05-01',
      format: 'Parquet',
      compression: 'snappy',
      partitionData: true,
      overwrite: 'OverwritePreviousReport',
      timeframe: 'TheCurrentMonth',
      recurrence: 'Monthly',
      whereAllowed: true,
    },
  ],
};

export const BUILT_IN_PROFILES: readonly ExportProfile[] = [FLEXERA_CSP, FINOPS_HUBS];

// ------------------------------------------------------------------------------------ validation

export interface FieldProblem {
  field: string;
  message: string;
}

/** Bad input; `problems` name every offending field. */
export class ProfileInputError extends Error {
  constructor(readonly problems: FieldProblem[]) {
    super(problems.map((p) => `${p.field}: ${p.message}`).join('; '));
    this.name = 'ProfileInputError';
  }
}

const SLUG = /^[a-z][a-z0-9-]{0,22}[a-z0-9]$/;
const KEY = /^[a-z][a-z0-9]{0,15}$/;
// Dataset versions seen: 2021-10-01, 2023-05-01, 1.0, 1.0r2, 1.2-preview, 1.0-preview(v1).
const DATA_VERSION = /^[0-9A-Za-z][0-9A-Za-z.()_-]{0,31}$/;
const MAX_EXPORTS = 8;

function pick<T extends string>(
  problems: FieldProblem[],
  field: string,
  value: unknown,
  allowed: readonly T[],
  fallback?: T,
): T | undefined {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  problems.push({ field, message: `expected one of ${allowed.join(', ')}, got ${JSON.stringify(value)}` });
  return undefined;
}

/** A custom profile from untyped JSON. Throws ProfileInputError naming every bad field. */
export function parseProfile(body: unknown): ExportProfile {
  const problems: FieldProblem[] = [];
  if (!isRecord(body)) throw new ProfileInputError([{ field: 'body', message: 'expected a JSON object' }]);
  const name = body.name;
  if (typeof name !== 'string' || !SLUG.test(name)) {
    problems.push({
      field: 'name',
      message: `expected 2-24 lower-case letters, digits and hyphens starting with a letter, got ${JSON.stringify(name)}`,
    });
  } else if (BUILT_IN_PROFILES.some((p) => p.name === name)) {
    problems.push({ field: 'name', message: `"${name}" is a built-in profile` });
  }
  const description = body.description ?? '';
  if (typeof description !== 'string' || description.length > 200 || /[\p{Cc}]/u.test(description)) {
    problems.push({
      field: 'description',
      message: 'expected at most 200 characters without control characters',
    });
  }
  const exports: ProfileExport[] = [];
  if (!Array.isArray(body.exports) || body.exports.length === 0 || body.exports.length > MAX_EXPORTS) {
    problems.push({ field: 'exports', message: `expected a list of 1-${MAX_EXPORTS} exports` });
  } else {
    const keys = new Set<string>();
    body.exports.forEach((item: unknown, i) => {
      const parsed = parseProfileExport(problems, `exports[${i}]`, item);
      const key = isRecord(item) ? item.key : undefined;
      if (typeof key === 'string' && keys.has(key)) {
        problems.push({ field: `exports[${i}].key`, message: `"${key}" is used twice` });
      }
      if (typeof key === 'string') keys.add(key);
      if (parsed) exports.push(parsed);
    });
  }
  if (problems.length > 0) throw new ProfileInputError(problems);
  return { name: name as string, description: description as string, builtIn: false, exports };
}

function checkExportKey(problems: FieldProblem[], at: string, key: unknown): void {
  if (typeof key !== 'string' || !KEY.test(key)) {
    problems.push({
      field: `${at}.key`,
      message: `expected 1-16 lower-case letters and digits starting with a letter, got ${JSON.stringify(key)}`,
    });
  }
}

/** Format and compression, checked against each other (gzip is for Csv, snappy for Parquet) and
 * against datasets Azure delivers only as uncompressed Csv. */
function parseFileShape(
  problems: FieldProblem[],
  at: string,
  item: Record<string, unknown>,
  dataset: ExportDataset | undefined,
): { format?: ProfileFormat; compression?: ProfileCompression } {
  const format = pick(problems, `${at}.format`, item.format, FORMATS, 'Csv');
  const compression = pick(problems, `${at}.compression`, item.compression, COMPRESSIONS, 'none');
  if (
    format &&
    compression &&
    ((format === 'Csv' && compression === 'snappy') || (format === 'Parquet' && compression === 'gzip'))
  ) {
    problems.push({
      field: `${at}.compression`,
      message: `${compression} cannot be used with ${format} (gzip is for Csv, snappy for Parquet)`,
    });
  }
  if (dataset && isUncompressedCsvOnly(undefined, dataset)) {
    if (format && format !== 'Csv')
      problems.push({ field: `${at}.format`, message: `${dataset} is delivered as Csv only` });
    else if (compression && compression !== 'none')
      problems.push({
        field: `${at}.compression`,
        message: `${dataset} is delivered uncompressed: use none`,
      });
  }
  return { format, compression };
}

/** Cost datasets take a granularity (default Daily); the others refuse one. */
function parseGranularity(
  problems: FieldProblem[],
  at: string,
  item: Record<string, unknown>,
  dataset: ExportDataset | undefined,
): ProfileGranularity | undefined {
  if (dataset && COST_DATASETS.includes(dataset)) {
    return pick(problems, `${at}.granularity`, item.granularity, GRANULARITIES, 'Daily');
  }
  if (item.granularity !== undefined) {
    problems.push({ field: `${at}.granularity`, message: `not accepted for dataset ${String(dataset)}` });
  }
  return undefined;
}

/** dataVersion, partitionData and whereAllowed: optional, checked only when given. */
function checkOptionalExportFields(
  problems: FieldProblem[],
  at: string,
  item: Record<string, unknown>,
): void {
  if (
    item.dataVersion !== undefined &&
    (typeof item.dataVersion !== 'string' || !DATA_VERSION.test(item.dataVersion))
  ) {
    problems.push({
      field: `${at}.dataVersion`,
      message: `expected a dataset version like 2021-10-01 or 1.0r2, got ${JSON.stringify(item.dataVersion)}`,
    });
  }
  if (item.partitionData !== undefined && typeof item.partitionData !== 'boolean') {
    problems.push({ field: `${at}.partitionData`, message: 'expected true or false' });
  }
  if (item.whereAllowed !== undefined && typeof item.whereAllowed !== 'boolean') {
    problems.push({ field: `${at}.whereAllowed`, message: 'expected true or false' });
  }
}

function parseProfileExport(problems: FieldProblem[], at: string, item: unknown): ProfileExport | undefined {
  if (!isRecord(item)) {
    problems.push({ field: at, message: 'expected an object' });
    return undefined;
  }
  const before = problems.length;
  checkExportKey(problems, at, item.key);
  const dataset = pick(problems, `${at}.dataset`, item.dataset, EXPORT_DATASETS);
  const { format, compression } = parseFileShape(problems, at, item, dataset);
  const overwrite = pick(problems, `${at}.overwrite`, item.overwrite, OVERWRITES, 'OverwritePreviousReport');
  const timeframe = pick(problems, `${at}.timeframe`, item.timeframe, TIMEFRAMES, 'MonthToDate');
  const recurrence = pick(problems, `${at}.recurrence`, item.recurrence, RECURRENCES, 'Daily');
  const granularity = parseGranularity(problems, at, item, dataset);
  checkOptionalExportFields(problems, at, item);
  if (problems.length > before) return undefined;
  return {
    key: item.key as string,
    dataset: dataset!,
    ...(typeof item.dataVersion === 'string' ? { dataVersion: item.dataVersion } : {}),
    format: format!,
    compression: compression!,
    partitionData: item.partitionData !== false,
    overwrite: overwrite!,
    timeframe: timeframe!,
    recurrence: recurrence!,
    ...(granularity ? { granularity } : {}),
    ...(item.whereAllowed === true ? { whereAllowed: true } : {}),
  };
}

/** The profile's exports a scope kind takes: `whereAllowed` ones are dropped where the dataset is
 * not offered; any other export whose dataset the scope refuses is a problem naming its field. */
export function exportsForScope(
  profile: ExportProfile,
  scope: ScopeKind | Scope,
): { exports: ProfileExport[]; problems: FieldProblem[] } {
  const exports: ProfileExport[] = [];
  const problems: FieldProblem[] = [];
  const kind = typeof scope === 'string' ? scope : scope.kind;
  profile.exports.forEach((e, i) => {
    if (datasetsForScope(scope).includes(e.dataset)) exports.push(e);
    else if (!e.whereAllowed) {
      problems.push({
        field: `profile.exports[${i}].dataset`,
        message: `${e.dataset} is not offered at ${kind} scope (offered: ${datasetsForScope(scope).join(', ')})`,
      });
    }
  });
  return { exports, problems };
}

// ------------------------------------------------------------------------------ desired exports

/** Where an assignment delivers: a SAS-delivered account (the token is the account's registered
 * one) or a storage resource id (the export's managed identity writes). */
export type DestinationSpec =
  { storageAccount: string; container: string } | { resourceId: string; container: string };

export interface DesiredExport {
  name: string;
  dataset: ExportDataset;
  dataVersion?: string;
  format: ProfileFormat;
  compression: ProfileCompression;
  partitionData: boolean;
  overwrite: ProfileOverwrite;
  timeframe: ProfileTimeframe;
  granularity?: ProfileGranularity;
  recurrence: ProfileRecurrence;
  destination: DestinationSpec & { rootFolderPath: string };
  description: string;
}

export const DEFAULT_ROOT_FOLDER_TEMPLATE = '{scopeId}/{dataset}';
const PLACEHOLDERS = [
  'scopeId',
  'customerId',
  'billingAccountId',
  'subscriptionId',
  'dataset',
  'export',
  'profile',
] as const;
type Placeholder = (typeof PLACEHOLDERS)[number];

/** Problems with a root folder template (unknown placeholders, bad characters), field-named. */
export function rootFolderTemplateProblems(template: unknown, field = 'rootFolderTemplate'): FieldProblem[] {
  if (typeof template !== 'string' || template.trim() === '' || template.length > 200) {
    return [{ field, message: 'expected a path template of 1-200 characters, e.g. {customerId}/{dataset}' }];
  }
  const unknown = [...template.matchAll(/\{([^}]*)\}/g)]
    .map((m) => m[1]!)
    .filter((p) => !(PLACEHOLDERS as readonly string[]).includes(p));
  if (unknown.length > 0) {
    return [
      {
        field,
        message: `unknown placeholder(s) ${unknown.map((u) => `{${u}}`).join(', ')}; known: ${PLACEHOLDERS.map((p) => `{${p}}`).join(' ')}`,
      },
    ];
  }
  if (/[\\?#\p{Cc}]/u.test(template.replace(/\{[^}]*\}/g, ''))) {
    return [{ field, message: 'must not contain \\ ? # or control characters' }];
  }
  return [];
}

/** A path segment that is valid in every export's rootFolderPath: ids such as MPA accounts carry
 * ':' (a reserved character in blob paths the service refuses), so anything outside letters,
 * digits, `-`, `_`, `.` becomes `-`. */
function safeSegment(text: string): string {
  const cleaned = text.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[.-]+|[.-]+$/g, '');
  return cleaned === '' ? '_' : cleaned;
}

/** The template with its placeholders filled, as a valid rootFolderPath (no leading '/', no empty,
 * '.' or '..' segments, reserved characters replaced). A placeholder the scope has no value for
 * (e.g. {customerId} at a subscription) becomes the scope's own id. */
export function rootFolderPathFor(
  template: string,
  scope: Scope,
  profile: string,
  e: Pick<ProfileExport, 'key' | 'dataset'>,
): string {
  const scopeId = lastId(scope);
  const values: Record<Placeholder, string> = {
    scopeId,
    customerId: scope.customerId ?? scopeId,
    billingAccountId: scope.billingAccountId ?? scopeId,
    subscriptionId: scope.subscriptionId ?? scopeId,
    dataset: e.dataset.toLowerCase(),
    export: e.key,
    profile,
  };
  const filled = template.replace(/\{([a-zA-Z]+)\}/g, (_, p: string) =>
    (PLACEHOLDERS as readonly string[]).includes(p) ? `/${safeSegment(values[p as Placeholder])}/` : p,
  );
  const segments = filled
    .split('/')
    .map((s) => s.trim())
    .filter((s) => s !== '' && s !== '.' && s !== '..')
    .map((s) => s.replace(/[^A-Za-z0-9._\-()=+ ]+/g, '-'));
  return segments.join('/').slice(0, 1024);
}

function lastId(scope: Scope): string {
  return (
    scope.customerId ??
    scope.invoiceSectionId ??
    scope.billingProfileId ??
    scope.departmentId ??
    scope.enrollmentAccountId ??
    scope.resourceGroupName ??
    scope.subscriptionId ??
    scope.managementGroupId ??
    scope.billingAccountId ??
    scope.canonical
  );
}

export function ownedExportName(profile: string, key: string): string {
  return `${OWNED_PREFIX}${profile}-${key}`;
}

export function ownedDescription(profile: string, assignmentId: string): string {
  return `${OWNED_MARKER} profile ${profile}, assignment ${assignmentId}; edits are reverted on reconcile`;
}

export function desiredExport(
  profile: ExportProfile,
  e: ProfileExport,
  context: { scope: Scope; assignmentId: string; destination: DestinationSpec; rootFolderTemplate: string },
): DesiredExport {
  return {
    name: ownedExportName(profile.name, e.key),
    dataset: e.dataset,
    ...(e.dataVersion ? { dataVersion: e.dataVersion } : {}),
    format: e.format,
    compression: e.compression,
    partitionData: e.partitionData,
    overwrite: e.overwrite,
    timeframe: e.timeframe,
    ...(e.granularity ? { granularity: e.granularity } : {}),
    recurrence: e.recurrence,
    destination: {
      ...context.destination,
      rootFolderPath: rootFolderPathFor(context.rootFolderTemplate, context.scope, profile.name, e),
    },
    description: ownedDescription(profile.name, context.assignmentId),
  };
}
