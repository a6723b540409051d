// The landing catalog's rules, pure: which billing period a run is filed under, how the runs of a
// period supersede each other (FinOps hubs' rule: the latest complete run of a month wins), what a new
// run changes among the period's live runs, and the rows a parsed manifest becomes. No I/O: the
// service in services/landings.ts reads and writes, these functions decide.
import type { LandingRecord as ManifestRecord } from './manifest';
import { runFolderOf } from './manifest';

// ------------------------------------------------------------------------------------- data shapes

export type LandingState = 'complete' | 'incomplete' | 'rejected';
export const LANDING_STATES: readonly LandingState[] = ['complete', 'incomplete', 'rejected'];

/** One landed run of one export (one manifest). */
export interface LandingRecord {
  scope: string;
  exportName: string;
  /** Billing period as the run folder names it (e.g. `20250701-20250731`). */
  period: string;
  /** `runInfo.runId` (the run folder). */
  runId: string;
  manifestPath: string;
  manifestVersion?: string;
  /** `exportConfig.type` and `exportConfig.dataVersion`. */
  datasetType?: string;
  datasetVersion?: string;
  format?: string;
  compression?: string;
  overwriteBehavior?: string;
  executionType?: string;
  submittedTime?: string;
  blobCount: number;
  /** Data rows; undefined when the manifest did not say (`dataRowCount` null, seen in 2024-04-01
   * manifests): rows unknown, which is not 0 (a header-only run with nothing to report). */
  rowCount?: number;
  totalBytes: number;
  state: LandingState;
  /** Why a manifest was rejected; free text, redacted. */
  rejectionReason?: string;
  /** Blobs the manifest lists that were not found. Kept to what fits one property (32 Ki characters). */
  missingBlobs: string[];
  /** The full number of missing blobs, even when `missingBlobs` was cut short. Defaults to its length. */
  missingBlobCount?: number;
  superseded: boolean;
  /** Run id of the newer run that superseded this one. */
  supersededBy?: string;
  current: boolean;
  catalogedAt: string;
}

export interface LandingFileRecord {
  /** The landing's PartitionKey (its export key, or its `unresolved|…` partition). */
  landingPartition: string;
  period: string;
  runId: string;
  /** Position in the manifest's `blobs[]` (0-based); stored zero-padded so rows list in order. */
  part: number;
  /** Blob name from the container root. */
  path: string;
  bytes: number;
  rows: number;
}

/** A run of a period that a later run may still change: not rejected, not superseded. */
export interface LiveRun {
  runId: string;
  /** What supersession orders runs by: `submittedTime`, else the run-time folder; absent if neither. */
  runTime?: string;
  catalogedAt: string;
  state: 'complete' | 'incomplete';
  /** False for CreateNewReport: a newer run leaves this run's files (and this run) in place. */
  overwrites: boolean;
  current: boolean;
}

/** New supersession flags for one landing of a period (only these columns change). */
export interface LandingFlagChange {
  runId: string;
  superseded: boolean;
  current: boolean;
  supersededBy?: string;
}

// ------------------------------------------------------------------------------------------ periods

const DATE_RANGE_FOLDER = /^(\d{8})-(\d{8})$/;
const RUN_TIME_FOLDER = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})$/;

/** Facts Azure's folder layout `{root}/{export}/{yyyyMMdd-yyyyMMdd}/[{yyyyMMddHHmm}/]{runId}/manifest.json`
 * gives even when the manifest itself is unreadable. */
export interface PathFacts {
  exportName?: string;
  /** The folders before the export's folder ('' when it is at the container root); set with exportName. */
  rootFolderPath?: string;
  period?: string;
  runTime?: Date;
  runFolder?: string;
}

export function pathFacts(manifestPath: string): PathFacts {
  const folders = runFolderOf(manifestPath)
    .split('/')
    .filter((s) => s !== '');
  let rangeAt = -1;
  folders.forEach((f, i) => {
    if (DATE_RANGE_FOLDER.test(f)) rangeAt = i;
  });
  const facts: PathFacts = {};
  if (folders.length > 0) facts.runFolder = folders[folders.length - 1];
  if (rangeAt < 0) return facts;
  facts.period = folders[rangeAt];
  if (rangeAt >= 1) {
    facts.exportName = folders[rangeAt - 1];
    facts.rootFolderPath = folders.slice(0, rangeAt - 1).join('/');
  }
  const time = RUN_TIME_FOLDER.exec(folders[rangeAt + 1] ?? '');
  if (time) {
    const [y, mo, d, h, mi] = time.slice(1).map(Number) as [number, number, number, number, number];
    const at = new Date(Date.UTC(y, mo - 1, d, h, mi));
    if (!Number.isNaN(at.getTime()) && at.getUTCMonth() === mo - 1) facts.runTime = at;
  }
  return facts;
}

function yyyymmdd(date: Date): string {
  return date.toISOString().slice(0, 10).replace(/-/g, '');
}

/** The billing period a landing is filed under: the `yyyyMMdd-yyyyMMdd` folder Azure wrote the run
 * in (the month folder that all runs of a month share), else the manifest's own start/end dates,
 * else the calendar month of its start date. */
export function landingPeriod(record: ManifestRecord, manifestPath: string): string {
  const folder = pathFacts(manifestPath).period;
  if (folder) return folder;
  const start = record.periodStart;
  const end = record.periodEnd ?? new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 0));
  return `${yyyymmdd(start)}-${yyyymmdd(end)}`;
}

/** The period's last day as `yyyyMMdd-yyyyMMdd` names it, as the instant it ends; undefined if the
 * period is not such a range. */
function periodEnd(period: string): number | undefined {
  const range = DATE_RANGE_FOLDER.exec(period);
  if (!range) return undefined;
  const end = range[2]!;
  const ms = Date.UTC(Number(end.slice(0, 4)), Number(end.slice(4, 6)) - 1, Number(end.slice(6, 8)) + 1);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Whether a run started after its period had ended (so it is most likely the period's first run). */
export function ranAfterPeriod(runTime: number, period: string): boolean {
  const end = periodEnd(period);
  return end !== undefined && Number.isFinite(runTime) && runTime >= end;
}
/** `YYYY-MM` of a `yyyyMMdd-yyyyMMdd` period (its start), or undefined for any other period. */
export function periodMonth(period: string): string | undefined {
  const range = DATE_RANGE_FOLDER.exec(period);
  return range ? `${range[1]!.slice(0, 4)}-${range[1]!.slice(4, 6)}` : undefined;
}

// ------------------------------------------------------------------------------------- supersession

function instant(timestamp: string | undefined): number | undefined {
  if (!timestamp) return undefined;
  const zoned = /(?:Z|[+-]\d{2}:\d{2})$/.test(timestamp) ? timestamp : `${timestamp}Z`;
  const ms = Date.parse(zoned);
  return Number.isNaN(ms) ? undefined : ms;
}

/** When a run happened: `runInfo.submittedTime`, else the `yyyyMMddHHmm` folder Azure wrote it in. */
export function runTimeOf(landing: Pick<LandingRecord, 'submittedTime' | 'manifestPath'>): number {
  return (
    instant(landing.submittedTime) ??
    pathFacts(landing.manifestPath).runTime?.getTime() ??
    Number.NEGATIVE_INFINITY
  );
}

/** Orders runs of one period: run time, then when catalogued, then run id (total, so every writer
 * picks the same newest run). */
export function compareRuns(
  a: Pick<LandingRecord, 'submittedTime' | 'manifestPath' | 'catalogedAt' | 'runId'>,
  b: Pick<LandingRecord, 'submittedTime' | 'manifestPath' | 'catalogedAt' | 'runId'>,
): number {
  const byTime = runTimeOf(a) - runTimeOf(b);
  if (byTime !== 0 && !Number.isNaN(byTime)) return byTime;
  const byCatalog = (instant(a.catalogedAt) ?? 0) - (instant(b.catalogedAt) ?? 0);
  if (byCatalog !== 0) return byCatalog;
  return a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : 0;
}

export interface SupersessionFlags {
  superseded: boolean;
  supersededBy?: string;
  current: boolean;
}

/**
 * The flags every run of one export and period should carry (FinOps hubs' rule: the latest run of a
 * month wins). Only complete runs count: the newest complete run is `current`; a run older than a
 * complete run that overwrote it (OverwritePreviousReport, or no behaviour stated) is `superseded`
 * by the newest complete run; with CreateNewReport older files stay, so older runs stay visible
 * (only `current` moves). Rejected rows carry no flags. Depends only on the set of rows, never on the
 * order they arrived, so a late older run cannot un-supersede a newer one.
 */
export function planSupersession<
  T extends Pick<
    LandingRecord,
    'state' | 'submittedTime' | 'manifestPath' | 'catalogedAt' | 'runId' | 'overwriteBehavior'
  >,
>(rows: readonly T[]): Map<T, SupersessionFlags> {
  const complete = rows.filter((r) => r.state === 'complete').sort(compareRuns);
  const newest = complete[complete.length - 1];
  const flags = new Map<T, SupersessionFlags>();
  for (const row of rows) {
    if (row.state === 'rejected' || !newest) {
      flags.set(row, { superseded: false, current: false });
      continue;
    }
    if (row === newest) {
      flags.set(row, { superseded: false, current: true });
      continue;
    }
    const overwritten = complete.some(
      (n) => n !== row && compareRuns(n, row) > 0 && n.overwriteBehavior !== 'CreateNewReport',
    );
    flags.set(
      row,
      overwritten
        ? { superseded: true, supersededBy: newest.runId, current: false }
        : { superseded: false, current: false },
    );
  }
  return flags;
}

export function sameFlags(row: LandingRecord, flags: SupersessionFlags): boolean {
  return (
    row.superseded === flags.superseded &&
    row.current === flags.current &&
    (row.supersededBy ?? undefined) === flags.supersededBy
  );
}

export function withFlags(row: LandingRecord, flags: SupersessionFlags): LandingRecord {
  const { supersededBy: _old, ...rest } = row;
  return {
    ...rest,
    superseded: flags.superseded,
    current: flags.current,
    ...(flags.supersededBy ? { supersededBy: flags.supersededBy } : {}),
  };
}

/** A landing as its period row remembers it while it is live (not rejected, not superseded). */
export function liveRunOf(landing: LandingRecord): LiveRun {
  const runTime = runTimeOf(landing);
  return {
    runId: landing.runId,
    ...(Number.isFinite(runTime) ? { runTime: new Date(runTime).toISOString() } : {}),
    catalogedAt: landing.catalogedAt,
    state: landing.state === 'complete' ? 'complete' : 'incomplete',
    overwrites: landing.overwriteBehavior !== 'CreateNewReport',
    current: landing.current,
  };
}

/** A live run in the shape planSupersession orders: the same run time, cataloguing time and run id. */
function orderable(run: LiveRun): LandingRecord {
  return {
    scope: '',
    exportName: '',
    period: '',
    runId: run.runId,
    manifestPath: '',
    ...(run.runTime !== undefined ? { submittedTime: run.runTime } : {}),
    ...(run.overwrites ? {} : { overwriteBehavior: 'CreateNewReport' }),
    blobCount: 0,
    rowCount: 0,
    totalBytes: 0,
    state: run.state,
    missingBlobs: [],
    superseded: false,
    current: run.current,
    catalogedAt: run.catalogedAt,
  };
}

export function sameLiveRuns(a: readonly LiveRun[], b: readonly LiveRun[]): boolean {
  return (
    a.length === b.length &&
    a.every((run, i) => {
      const other = b[i]!;
      return (
        run.runId === other.runId &&
        run.runTime === other.runTime &&
        run.catalogedAt === other.catalogedAt &&
        run.state === other.state &&
        run.overwrites === other.overwrites &&
        run.current === other.current
      );
    })
  );
}

/**
 * Where a new run of a period stands among the period's live runs, and what it changes: its own
 * flags, the flag changes on live runs (a newer complete run supersedes or demotes them), and the
 * live runs afterwards. Only live runs need to be known: a superseded run stays superseded, and if
 * one of them is newer than the new run and overwrites, so is a live run (the chain of runs that
 * superseded it ends at one), so planSupersession over the live runs alone gives the same flags. A
 * run keeps the `supersededBy` it was first given, so old rows are not rewritten by every new run.
 */
export function settleNewRun(
  live: readonly LiveRun[],
  landing: LandingRecord,
): { landing: LandingRecord; changes: LandingFlagChange[]; live: LiveRun[] } {
  const known = live.map((run) => ({ run, row: orderable(run) }));
  const flags = planSupersession([...known.map((k) => k.row), landing]);
  const changes: LandingFlagChange[] = [];
  const after: LiveRun[] = [];
  for (const { run, row } of known) {
    const want = flags.get(row)!;
    const { runId } = run;
    if (want.superseded) {
      changes.push({ runId, superseded: true, current: false, supersededBy: want.supersededBy! });
      continue;
    }
    if (want.current !== run.current) changes.push({ runId, superseded: false, current: want.current });
    after.push({ ...run, current: want.current });
  }
  const settled = withFlags(landing, flags.get(landing)!);
  if (!settled.superseded) after.push(liveRunOf(settled));
  return { landing: settled, changes, live: after };
}

/** The run downstream tools read per period: the newest complete run (the one supersession flags
 * `current`), by compareRuns. Takes runs ordered by period (as the catalog lists them) and streams one
 * period at a time. */
export async function* latestRunPerPeriod<
  T extends Pick<
    LandingRecord,
    'period' | 'state' | 'submittedTime' | 'manifestPath' | 'catalogedAt' | 'runId'
  >,
>(runs: AsyncIterable<T>): AsyncGenerator<T, void, undefined> {
  let period: string | undefined;
  let best: T | undefined;
  for await (const run of runs) {
    if (run.period !== period) {
      if (best) yield best;
      best = undefined;
      period = run.period;
    }
    if (run.state !== 'complete') continue;
    if (!best || compareRuns(run, best) > 0) best = run;
  }
  if (best) yield best;
}

// ------------------------------------------------------------------------------ manifest → rows

export interface LandingPlan {
  landing: LandingRecord;
  files: LandingFileRecord[];
  /** Blobs the manifest lists that the listing did not show. */
  missing: string[];
}

/** Builds the landing and file rows of a parsed manifest, given what the listing found (name →
 * size). Sizes fill in byte counts the manifest does not state; unknown row counts are 0. */
export function planLanding(
  record: ManifestRecord,
  target: {
    scope: string;
    /** The landing row's PartitionKey, which its file rows share. */
    landingPartition: string;
    period: string;
    manifestPath: string;
    catalogedAt: string;
  },
  listed: ReadonlyMap<string, number | undefined>,
): LandingPlan {
  const missing: string[] = [];
  const files = record.blobs.map((blob, part): LandingFileRecord => {
    const seen = listed.has(blob.blobName);
    if (!seen) missing.push(blob.blobName);
    return {
      landingPartition: target.landingPartition,
      period: target.period,
      runId: record.runId,
      part,
      path: blob.blobName,
      bytes: blob.byteCount ?? listed.get(blob.blobName) ?? 0,
      rows: blob.dataRowCount ?? 0,
    };
  });
  const totalBytes = record.byteCount ?? files.reduce((n, f) => n + f.bytes, 0);
  const landing: LandingRecord = compactRecord({
    scope: target.scope,
    exportName: record.exportName,
    period: target.period,
    runId: record.runId,
    manifestPath: target.manifestPath,
    manifestVersion: record.manifestVersion,
    datasetType: record.datasetType,
    datasetVersion: record.datasetVersion,
    format: record.format,
    compression: record.compression,
    overwriteBehavior: record.overwriteBehavior,
    executionType: record.executionType,
    submittedTime: record.submittedTime?.toISOString(),
    blobCount: record.blobs.length,
    rowCount: record.dataRowCount,
    totalBytes,
    state: missing.length > 0 ? 'incomplete' : 'complete',
    missingBlobs: missing,
    missingBlobCount: missing.length,
    superseded: false,
    // Optimistic: a complete run is usually the newest of its period; the reconciliation that
    // follows every insert corrects it when it is not.
    current: missing.length === 0,
    catalogedAt: target.catalogedAt,
  });
  return { landing, files, missing };
}

function compactRecord<T extends object>(value: T): T {
  for (const key of Object.keys(value) as (keyof T)[]) if (value[key] === undefined) delete value[key];
  return value;
}

/** The same landing apart from bookkeeping (catalogedAt, supersession flags, keys, ETag)? */
export function sameLandingFacts(a: LandingRecord, b: LandingRecord): boolean {
  return JSON.stringify(landingFacts(a)) === JSON.stringify(landingFacts(b));
}

function landingFacts(l: LandingRecord): unknown[] {
  return [
    l.scope,
    l.exportName,
    l.period,
    l.runId,
    l.manifestPath,
    l.manifestVersion,
    l.datasetType,
    l.datasetVersion,
    l.format,
    l.compression,
    l.overwriteBehavior,
    l.executionType,
    l.submittedTime,
    l.blobCount,
    l.rowCount,
    l.totalBytes,
    l.state,
    l.rejectionReason,
    l.missingBlobs,
    l.missingBlobCount ?? l.missingBlobs.length,
  ];
}

/** Whether a manifest states every blob's byte count (Azure always does): its file rows then do not
 * depend on what the listing finds. */
export function statesEveryByteCount(blobs: readonly { byteCount?: number }[]): boolean {
  return blobs.length > 0 && blobs.every((b) => b.byteCount !== undefined);
}

/** The folders a manifest's blobs live in, so one listing per folder (one for every real run: the
 * run folder) finds them all. Nested folders are covered by their ancestor's listing. */
export function listingPrefixes(blobNames: readonly string[]): string[] {
  const folders = [...new Set(blobNames.map((n) => runFolderOf(n)))].sort();
  const prefixes: string[] = [];
  for (const folder of folders) {
    const prefix = folder === '' ? '' : `${folder}/`;
    if (prefixes.some((p) => prefix.startsWith(p))) continue;
    prefixes.push(prefix);
  }
  return prefixes;
}
