// Reading Cost Management Exports responses (api-version 2025-03-01): tolerant of extra or
// wrongly-typed optional fields, strict on the shape the spec requires (an export without definition
// or destination is not something we can act on).
import { isRecord } from '../domain/json';
import type {
  CommonExportProperties,
  Export,
  ExportDefinition,
  ExportDestination,
  ExportRun,
  ExportTimePeriod,
} from './exportModels';

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
