// The landings table: one row per landed run, and in the same partition one row per partition blob
// (file rows) and one period row (the runs a later run can still change), so a landing is one
// entity group transaction.
import {
  LANDING_STATES,
  type LandingFileRecord,
  type LandingRecord,
  type LandingState,
  type LiveRun,
} from '../../domain/landingPlan';
import { parseScope } from '../../domain/scope';
import {
  compact,
  int64,
  isoTimestamp,
  jsonArrayTruncated,
  MAX_STRING_PROPERTY_LENGTH,
  nonEmpty,
  oneOf,
  optional,
  redactSecrets,
  RowReader,
  wholeNumber,
} from './guards';
import { exportKey, landingFileRowKey, landingRowKey, periodRowKey } from './keys';
import type { Row } from './transactions';

export type { LandingFileRecord, LandingRecord, LandingState, LiveRun };
export { LANDING_STATES };

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
