// Wire shapes of the emulator's answers, following the 2025-03-01 examples: key order, ids,
// `recurrence: "None"` for a schedule without one, the SAS token always obfuscated.
import { OBFUSCATED_SAS, type RunRecord, type StoredExport, visibleRuns } from './state';
import { isoSeconds, nextRunTimeEstimate } from './time';
import type { ExportPropertiesInput } from './validation';

type Json = Record<string, unknown>;

/** The service re-serialises date-times (`2025-04-03T00:00:00.000Z` comes back as `...T00:00:00Z`). */
function normaliseDateTime(value: string): string {
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? value : isoSeconds(ms);
}

function normalisePeriod<T extends { from: string; to?: string }>(period: T): T {
  return {
    ...period,
    from: normaliseDateTime(period.from),
    ...(period.to ? { to: normaliseDateTime(period.to) } : {}),
  };
}

export const EXPORT_TYPE = 'Microsoft.CostManagement/exports';

export function exportId(exp: Pick<StoredExport, 'scope' | 'name'>): string {
  return `${exp.scope.canonical}/providers/Microsoft.CostManagement/exports/${exp.name}`;
}

function destination(props: ExportPropertiesInput): Json {
  const d = props.deliveryInfo.destination;
  const out: Json = {};
  if (d.resourceId !== undefined) out.resourceId = d.resourceId;
  out.container = d.container;
  if (d.rootFolderPath !== undefined) out.rootFolderPath = d.rootFolderPath;
  if (d.storageAccount !== undefined) out.storageAccount = d.storageAccount;
  if (d.sasToken !== undefined) out.sasToken = OBFUSCATED_SAS;
  return out;
}

/** CommonExportProperties in the examples' order, only the fields that were set. */
export function commonProperties(props: ExportPropertiesInput): Json {
  const out: Json = {};
  if (props.format !== undefined) out.format = props.format;
  out.deliveryInfo = { destination: destination(props) };
  const definition = structuredClone(props.definition);
  if (definition.timePeriod) definition.timePeriod = normalisePeriod(definition.timePeriod);
  out.definition = definition;
  for (const key of [
    'partitionData',
    'dataOverwriteBehavior',
    'compressionMode',
    'exportDescription',
  ] as const) {
    if (props[key] !== undefined) out[key] = props[key];
  }
  return out;
}

export function runResponse(run: RunRecord): Json {
  const p: Json = {
    executionType: run.executionType,
    status: run.status,
    submittedBy: run.submittedBy,
    submittedTime: new Date(run.submittedTime).toISOString(),
  };
  if (run.processingStartTime !== undefined)
    p.processingStartTime = new Date(run.processingStartTime).toISOString();
  if (run.processingEndTime !== undefined)
    p.processingEndTime = new Date(run.processingEndTime).toISOString();
  p.startDate = isoSeconds(run.from);
  p.endDate = isoSeconds(run.to);
  if (run.manifestFile !== undefined) p.manifestFile = run.manifestFile;
  if (run.fileName !== undefined) p.fileName = run.fileName;
  p.runSettings = commonProperties(run.runSettings);
  if (run.error) p.error = { ...run.error };
  return {
    id: `${run.scope}/providers/Microsoft.CostManagement/exports/${run.exportName}/Run/${run.id}`,
    properties: p,
  };
}

export interface ExportResponseOptions {
  now: number;
  /** With $expand=runHistory: how many of the most recent runs to embed. */
  runHistory?: number;
}

export function exportResponse(exp: StoredExport, options: ExportResponseOptions): Json {
  const props: Json = {};
  const schedule = exp.properties.schedule;
  if (schedule) {
    const out: Json = {};
    if (schedule.status !== undefined) out.status = schedule.status;
    out.recurrence = schedule.recurrence ?? 'None';
    if (schedule.recurrencePeriod) out.recurrencePeriod = normalisePeriod(schedule.recurrencePeriod);
    props.schedule = out;
  }
  const next = nextRunTimeEstimate(exp.properties, options.now);
  if (next) props.nextRunTimeEstimate = isoSeconds(next);
  Object.assign(props, commonProperties(exp.properties));
  if (options.runHistory !== undefined) {
    props.runHistory = { value: visibleRuns(exp).slice(-options.runHistory).map(runResponse) };
  }
  const out: Json = { id: exportId(exp), name: exp.name, type: EXPORT_TYPE, eTag: exp.eTag };
  if (exp.identity) out.identity = { ...exp.identity };
  if (exp.location !== undefined) out.location = exp.location;
  out.properties = props;
  return out;
}
