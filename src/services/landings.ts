// The landing catalog's use case: a manifest.json landed in the exports container → one landing row
// and one file row per partition blob, older runs of the same export and period superseded, and the
// waiting backfill woken. Every write is keyed by the manifest's own facts, so a redelivered or
// duplicated event writes the same rows again (or nothing); `catalogedAt` is set once, on insert.
// I/O goes through the ports below (the catalog, one blob listing, the durable client), so Azurite
// tests and benchmarks drive the same code as the function.
import { createHash } from 'node:crypto';
import type { ContainerClient } from '@azure/storage-blob';
import type { TableClient } from '@azure/data-tables';
import { isRestError } from '@azure/core-rest-pipeline';
import {
  CatalogConflictError,
  exportKey,
  exportNameKey,
  landingFileToRow,
  landingFromRow,
  landingKeys,
  landingRowKey,
  landingToRow,
  looksLikeSecret,
  type BackfillLookup,
  type Catalog,
  type ExportRecord,
  MAX_TRANSACTION_ACTIONS,
  type LandingFileRecord,
  type LandingFlagChange,
  type LandingRecord,
  type LandingState,
  type LiveRun,
  type PeriodRecord,
  type Row,
  type Stored,
} from '../azure/catalog';
import {
  isManifestBlobName,
  ManifestError,
  parseManifest,
  runFolderOf,
  type LandingRecord as ManifestRecord,
} from '../domain/manifest';
import { blobSize, listBlobNames } from '../azure/blobListing';
import { redactSecrets } from '../domain/redact';
import { parseExportResourceId, parseScope } from '../domain/scope';

// ------------------------------------------------------------------------------------------------ ports

/** The catalog operations this use case needs (Catalog satisfies it). */
export type LandingCatalog = Pick<
  Catalog,
  | 'createLanding'
  | 'getLanding'
  | 'replaceIfMatch'
  | 'landingsByExport'
  | 'upsertLandingFiles'
  | 'getPeriod'
  | 'commitLanding'
  | 'putPeriod'
  | 'findBackfillRun'
  | 'listExports'
>;

export interface ListedBlob {
  name: string;
  /** Content length in bytes, when the listing says. */
  size?: number;
}

/** Reads the exports container: one flat listing under a prefix (paged), or one blob's size. */
export interface ExportBlobLister {
  list(prefix: string): AsyncIterable<ListedBlob>;
  /** One blob's size, or undefined when it does not exist: the check for a run of a single blob. */
  stat?(name: string): Promise<{ size?: number } | undefined>;
}

/** Landings whose scope is unknown (legacy manifests no registered export claims, manifests too broken
 * to name one) live in `unresolved|{export name}` partitions of the landings table, which the
 * catalog's scope-checked mapping cannot write. Rows are otherwise the catalog's landing rows. */
export interface UnresolvedLandingTable {
  /** Inserts unless the row exists; true when this call created it. */
  create(partitionKey: string, record: LandingRecord): Promise<boolean>;
  get(partitionKey: string, rowKey: string): Promise<Stored<LandingRecord> | undefined>;
  /** Replaces the row if its ETag is still `etag`; throws CatalogConflictError otherwise. */
  replaceIfMatch(partitionKey: string, record: LandingRecord, etag: string): Promise<void>;
}

export type RaiseEvent = (instanceId: string, eventName: string, payload: unknown) => Promise<void>;

export interface LandingLog {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface LandingDependencies {
  catalog: LandingCatalog;
  blobs: ExportBlobLister;
  unresolved: UnresolvedLandingTable;
  /** Raises an orchestration event (df.getClient(context).raiseEvent); absent = no backfill wake-up. */
  raiseEvent?: RaiseEvent;
  /** Whether an export name can belong to a backfill at all; false skips the backfillRuns lookup (one
   * round trip per landing). Default: every name can. */
  mayBelongToBackfill?: (exportName: string) => boolean;
  now?: () => Date;
  log?: LandingLog;
}

export interface ManifestLanded {
  /** Container the blob is in (exports destinations: the trigger's container). */
  container: string;
  /** Blob name inside the container. */
  blobName: string;
  /** The blob's bytes as the trigger delivered them. */
  content: Buffer | string;
}

export interface LandingKey {
  partitionKey: string;
  rowKey: string;
}

/** The `exportLanded` event the waiting backfill orchestration receives. */
export interface ExportLandedEvent {
  exportName: string;
  scope: string;
  billingMonth: string;
  runId: string;
  state: LandingState;
  rowCount: number;
  landingKey: LandingKey;
}

export const EXPORT_LANDED_EVENT = 'exportLanded';

export type LandingOutcome =
  | { kind: 'ignored'; reason: string }
  | {
      kind: 'catalogued' | 'rejected';
      state: LandingState;
      landingKey: LandingKey;
      /** The scope was known (the row lives in the export's partition, supersession applies). */
      resolved: boolean;
      /** This call inserted the row / changed it; false for a redelivery that found it as is. */
      created: boolean;
      changed: boolean;
      missingBlobs: string[];
      fileRows: number;
      rejectionReason?: string;
      /** Instance the exportLanded event was raised on. */
      raisedOn?: string;
    };

/** What a use-case step hands to `finish` besides the stored landing. */
interface FinishFacts {
  created: boolean;
  changed: boolean;
  fileRows: number;
  backfill: Promise<BackfillLookup | undefined>;
}

/** Thrown after an incomplete landing has been recorded: the host retries the invocation (blob
 * triggers retry 5 times, then poison-queue the event) and each retry lists the run folder again. */
export class LandingIncompleteError extends Error {
  constructor(
    readonly landingKey: LandingKey,
    readonly missingBlobs: string[],
  ) {
    super(
      `landing ${landingKey.partitionKey}/${landingKey.rowKey} is incomplete: ${missingBlobs.length} listed blob(s) not found yet (first: ${missingBlobs[0] ?? ''}); recorded, will be re-checked`,
    );
    this.name = 'LandingIncompleteError';
  }
}

/** The manifest, or a value derived from it, cannot be catalogued as it is (the cause says why). */
export class LandingInputError extends Error {
  constructor(cause: unknown) {
    super(errorText(cause), { cause });
    this.name = 'LandingInputError';
  }
}

/** Runs pure validation; whatever it throws is bad input, never an I/O failure. */
function validated<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    throw new LandingInputError(error);
  }
}

// ------------------------------------------------------------------------------------ pure: periods

const DATE_RANGE_FOLDER = /^(\d{8})-(\d{8})$/;
const RUN_TIME_FOLDER = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})$/;
const UNRESOLVED_PREFIX = 'unresolved';
const UNKNOWN_EXPORT = '(unknown)';
const UNKNOWN_PERIOD = 'unknown';

/** Facts Azure's folder layout `{root}/{export}/{yyyyMMdd-yyyyMMdd}/[{yyyyMMddHHmm}/]{runId}/manifest.json`
 * gives even when the manifest itself is unreadable. */
export interface PathFacts {
  exportName?: string;
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
  if (rangeAt >= 1) facts.exportName = folders[rangeAt - 1];
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

// ------------------------------------------------------------------------------- pure: supersession

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

function sameFlags(row: LandingRecord, flags: SupersessionFlags): boolean {
  return (
    row.superseded === flags.superseded &&
    row.current === flags.current &&
    (row.supersededBy ?? undefined) === flags.supersededBy
  );
}

function withFlags(row: LandingRecord, flags: SupersessionFlags): LandingRecord {
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

function sameLiveRuns(a: readonly LiveRun[], b: readonly LiveRun[]): boolean {
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
    const rowKey = landingRowKey(landing.period, run.runId);
    if (want.superseded) {
      changes.push({ rowKey, superseded: true, current: false, supersededBy: want.supersededBy! });
      continue;
    }
    if (want.current !== run.current) changes.push({ rowKey, superseded: false, current: want.current });
    after.push({ ...run, current: want.current });
  }
  const settled = withFlags(landing, flags.get(landing)!);
  if (!settled.superseded) after.push(liveRunOf(settled));
  return { landing: settled, changes, live: after };
}

// ---------------------------------------------------------------------------- pure: manifest → rows

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
    rowCount: record.dataRowCount ?? 0,
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

// --------------------------------------------------------------------------------- identity + rejects

interface Identity {
  /** Canonical scope, or undefined for the unresolved partition. */
  scope?: string;
  exportName: string;
  period: string;
  runId: string;
}

function keysOf(identity: Identity): LandingKey {
  if (identity.scope !== undefined) {
    return landingKeys(exportKey(identity.scope, identity.exportName), identity.period, identity.runId);
  }
  return {
    partitionKey: unresolvedPartitionKey(identity.exportName),
    rowKey: landingRowKey(identity.period, identity.runId),
  };
}

/** `unresolved|{export name key}`: no scope key starts with `unresolved|`. */
export function unresolvedPartitionKey(exportName: string): string {
  return `${UNRESOLVED_PREFIX}|${exportNameKey(exportName)}`;
}

const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

function pathHash(path: string): string {
  return `m-${createHash('sha256').update(path).digest('hex').slice(0, 32)}`;
}

/** Where a rejected manifest is filed, best first: its scope and export (when `exportConfig.resourceId`
 * still parses), the folder layout, and finally a hash of its path. Each is validated before use. */
function rejectionIdentities(content: Buffer | string, manifestPath: string, parsed?: Identity): Identity[] {
  const facts = pathFacts(manifestPath);
  const runId =
    facts.runFolder && SAFE_ID.test(facts.runFolder) ? facts.runFolder.toLowerCase() : pathHash(manifestPath);
  const period = facts.period ?? UNKNOWN_PERIOD;
  const candidates: Identity[] = [];
  if (parsed) candidates.push(parsed);
  const fromJson = lenientExportIdentity(content);
  if (fromJson) candidates.push({ ...fromJson, period, runId });
  const exportName = facts.exportName ?? fromJson?.exportName ?? UNKNOWN_EXPORT;
  candidates.push({ exportName, period, runId });
  candidates.push({ exportName: UNKNOWN_EXPORT, period: UNKNOWN_PERIOD, runId: pathHash(manifestPath) });
  return candidates;
}

/** Scope and export name from `exportConfig.resourceId`, read without validating anything else. */
function lenientExportIdentity(content: Buffer | string): { scope: string; exportName: string } | undefined {
  try {
    const text = typeof content === 'string' ? content : content.toString('utf8');
    if (text.length > 32 * 1024 * 1024) return undefined;
    const doc: unknown = JSON.parse(text.replace(/^\uFEFF/, ''));
    if (typeof doc !== 'object' || doc === null) return undefined;
    const config = (doc as { exportConfig?: unknown }).exportConfig;
    if (typeof config !== 'object' || config === null) return undefined;
    const resourceId = (config as { resourceId?: unknown }).resourceId;
    if (typeof resourceId !== 'string' || resourceId.length > 2048) return undefined;
    const { scope, exportName } = parseExportResourceId(resourceId);
    return { scope: scope.canonical, exportName };
  } catch {
    return undefined;
  }
}

function rejectedRecord(
  identity: Identity,
  manifestPath: string,
  reason: string,
  catalogedAt: string,
): LandingRecord {
  return {
    scope: identity.scope ?? '',
    exportName: identity.exportName,
    period: identity.period,
    runId: identity.runId,
    manifestPath,
    blobCount: 0,
    rowCount: 0,
    totalBytes: 0,
    state: 'rejected',
    rejectionReason: redactSecrets(reason).slice(0, 2_000),
    missingBlobs: [],
    missingBlobCount: 0,
    superseded: false,
    current: false,
    catalogedAt,
  };
}

/** A valid scope stands in while mapping an unresolved landing, so the catalog's own validation
 * runs on every other column; the partition key and scope column are then replaced. */
const PLACEHOLDER_SCOPE = '/subscriptions/00000000-0000-0000-0000-000000000000';

/** The row exactly as it will be written; throws (naming the field) when the catalog would refuse it. */
function landingRow(identity: Identity, record: LandingRecord): Row {
  let row: Row;
  if (identity.scope !== undefined) {
    row = landingToRow({ ...record, scope: identity.scope });
  } else {
    row = { ...landingToRow({ ...record, scope: PLACEHOLDER_SCOPE }), ...keysOf(identity), scope: '' };
  }
  for (const [property, value] of Object.entries(row)) {
    if (typeof value === 'string' && looksLikeSecret(value)) {
      throw new TypeError(
        `landings.${property}: the value looks like a secret (SAS signature, key or token)`,
      );
    }
  }
  return row;
}

function fileRowsValid(files: readonly LandingFileRecord[]): void {
  for (const file of files) {
    const row = landingFileToRow(file);
    for (const [property, value] of Object.entries(row)) {
      if (typeof value === 'string' && looksLikeSecret(value)) {
        throw new TypeError(
          `landings file row ${property} (part ${file.part}): the value looks like a secret (SAS signature, key or token)`,
        );
      }
    }
  }
}

function errorText(error: unknown): string {
  return redactSecrets(error instanceof Error ? error.message : String(error));
}

/** Validation failures (the manifest, or a value the catalog refuses) as opposed to I/O failures. */
function isInputError(error: unknown): boolean {
  return error instanceof ManifestError || error instanceof LandingInputError;
}

// ------------------------------------------------------------------------------------------ the use case

const MAX_RECONCILE_ROUNDS = 10;
/** Files written in the landing's own transaction; a run with more writes them beforehand. The rest
 * of the 100 actions hold the landing, the period row and flag changes on other runs. */
const MAX_INLINE_FILES = 90;
const MAX_MODIFY_ATTEMPTS = 5;

export class LandingService {
  private readonly now: () => Date;
  private readonly log: LandingLog;

  constructor(private readonly deps: LandingDependencies) {
    this.now = deps.now ?? (() => new Date());
    this.log = deps.log ?? { info: () => undefined, warn: () => undefined, error: () => undefined };
  }

  /** Catalogues one landed blob. Non-manifests return at once without I/O. Throws only for I/O
   * failures (the host retries; every write is idempotent) and LandingIncompleteError. */
  async catalogue(event: ManifestLanded): Promise<LandingOutcome> {
    if (!isManifestBlobName(event.blobName)) return { kind: 'ignored', reason: 'not a manifest' };
    const manifestPath = event.blobName.replace(/^\/+/, '');
    let record: ManifestRecord;
    try {
      record = parseManifest(event.content, { blobPath: manifestPath });
    } catch (error) {
      return this.reject(event, manifestPath, error);
    }
    const identity = await this.identityOf(record, event.container, manifestPath);
    try {
      return await this.catalogueParsed(event, manifestPath, record, identity);
    } catch (error) {
      if (!(error instanceof LandingInputError)) throw error;
      return this.reject(event, manifestPath, error, identity);
    }
  }

  private async identityOf(
    record: ManifestRecord,
    container: string,
    manifestPath: string,
  ): Promise<Identity> {
    const period = landingPeriod(record, manifestPath);
    let scope: string | undefined;
    if (!record.legacy && record.scopeKind !== undefined) scope = record.scope;
    else if (record.legacy)
      scope = await this.registeredScope(record.exportName, container, record.rootFolderPath);
    return {
      ...(scope !== undefined ? { scope } : {}),
      exportName: record.exportName,
      period,
      runId: record.runId,
    };
  }

  /** A legacy manifest names no scope: the registered export delivering there does, when exactly one
   * matches (name, container and root folder). Legacy manifests are rare, so a registry scan is fine. */
  private async registeredScope(
    exportName: string,
    container: string,
    rootFolderPath: string | undefined,
  ): Promise<string | undefined> {
    const root = (rootFolderPath ?? '').replace(/^\/+|\/+$/g, '');
    const matches: ExportRecord[] = [];
    for await (const e of this.deps.catalog.listExports()) {
      if (
        e.exportName.toLowerCase() === exportName.toLowerCase() &&
        e.destination.container === container &&
        e.destination.rootFolderPath.replace(/^\/+|\/+$/g, '') === root
      ) {
        matches.push(e);
        if (matches.length > 1) return undefined;
      }
    }
    try {
      return matches[0] ? parseScope(matches[0].scope).canonical : undefined;
    } catch {
      return undefined; // a registry row with a broken scope claims nothing
    }
  }

  private async catalogueParsed(
    event: ManifestLanded,
    manifestPath: string,
    record: ManifestRecord,
    identity: Identity,
  ): Promise<LandingOutcome> {
    const key = validated(() => keysOf(identity));
    // The backfill lookup does not depend on the listing: run both at once.
    const backfill =
      identity.scope !== undefined &&
      /^\d{4}-\d{2}$/.test(record.billingMonth) &&
      (this.deps.mayBelongToBackfill?.(record.exportName) ?? true)
        ? this.deps.catalog.findBackfillRun(identity.scope, record.exportName, record.billingMonth)
        : Promise.resolve(undefined);
    backfill.catch(() => undefined); // awaited below; never an unhandled rejection
    const catalogedAt = this.now().toISOString();
    const target = {
      scope: identity.scope ?? '',
      landingPartition: key.partitionKey,
      period: identity.period,
      manifestPath,
      catalogedAt,
    };
    // Validate every row before the first write, so bad input never leaves a partial landing. With
    // every byte count in the manifest (Azure always writes them) the file rows do not depend on the
    // listing: they are checked once.
    const sized = record.blobs.length > 0 && record.blobs.every((b) => b.byteCount !== undefined);
    let checkedFiles: LandingFileRecord[] | undefined;
    const planWith = (listed: ReadonlyMap<string, number | undefined>) =>
      validated(() => {
        const planned = planLanding(record, target, listed);
        landingRow(identity, planned.landing);
        if (checkedFiles) return { ...planned, files: checkedFiles };
        fileRowsValid(planned.files);
        if (sized) checkedFiles = planned.files;
        return planned;
      });
    // A run's file rows go into the landing's own transaction when they fit. More than that, and
    // when they do not depend on the listing, they are written while it runs. Planned with nothing
    // listed, the landing row is at its largest, so if that validates, so does any.
    const resolved = identity.scope !== undefined;
    const inline = resolved && record.blobs.length <= MAX_INLINE_FILES;
    let earlyFiles: Promise<number> | undefined;
    if (!inline && sized) {
      earlyFiles = this.writeFiles(planWith(new Map()).files);
      earlyFiles.catch(() => undefined); // awaited below
    }
    // The period row is read while the folder is listed: a new run needs nothing else to settle.
    const periodRead = resolved
      ? this.periodBeforeCommit(
          runTimeOf({ submittedTime: record.submittedTime?.toISOString(), manifestPath }),
          identity.period,
          key,
        )
      : undefined;
    periodRead?.catch(() => undefined); // awaited below
    const listed = await this.listBlobs(record.blobs.map((b) => b.blobName));
    const plan = planWith(listed);

    const table = this.tableFor(identity);
    if (plan.missing.length > 0) {
      // Unusual path: a late redelivery after an overwriting run deleted these files, or a race.
      // A landing once complete stays complete (its files were there when it was catalogued).
      const existing = await table.get(key);
      if (existing && existing.state === 'complete') {
        return this.finish(identity, key, existing, {
          created: false,
          changed: false,
          fileRows: await (earlyFiles ?? 0), // rewritten unchanged if at all: the same manifest
          backfill,
        });
      }
    }
    if (periodRead) {
      // A missing period row the period's landings should have had is rebuilt by reconcile below.
      const { period, read } = await periodRead;
      const rebuild = read && !period && (await this.periodRowMissing(key, identity.period, identity.runId));
      const landed = rebuild ? undefined : await this.commitNewRun(key, plan, period, earlyFiles);
      if (landed) return this.settled(identity, key, landed.landing, { ...landed, backfill });
    }
    // Catalogued before (a redelivery, a retried incomplete run), or not under an export's scope.
    // Files first: a landing row never points at file rows that are not there.
    const fileRows = await (earlyFiles ?? this.writeFiles(plan.files));
    let created = false;
    let changed = false;
    let stored: LandingRecord = plan.landing;
    if (await table.create(plan.landing)) {
      created = true;
    } else {
      ({ record: stored, changed } = await this.update(table, key, plan.landing));
    }
    if (resolved && stored.state !== 'rejected') {
      stored = (await this.reconcile(identity, key, created || changed)) ?? stored;
    }
    return this.settled(identity, key, stored, { created, changed, fileRows, backfill });
  }

  /** Finishes a catalogued landing; an incomplete one that is still live throws for a retry. */
  private async settled(
    identity: Identity,
    key: LandingKey,
    stored: LandingRecord,
    extra: FinishFacts,
  ): Promise<LandingOutcome> {
    const outcome = await this.finish(identity, key, stored, extra);
    if (stored.state === 'incomplete' && !stored.superseded) {
      throw new LandingIncompleteError(key, stored.missingBlobs);
    }
    return outcome;
  }

  /** The period row a new run settles against. A run made after its period ended (a backfill month,
   * a monthly export of last month) is usually the period's first, so it commits as if there were no
   * period row, and reads it only if the commit finds one; a run during its month usually follows an
   * earlier run, so it reads first. `read` says whether an absent row was actually looked for. */
  private async periodBeforeCommit(
    runTime: number,
    period: string,
    key: LandingKey,
  ): Promise<{ period?: Stored<PeriodRecord>; read: boolean }> {
    if (ranAfterPeriod(runTime, period)) return { read: false };
    const stored = await this.deps.catalog.getPeriod(key.partitionKey, period);
    return stored ? { period: stored, read: true } : { read: true };
  }

  /** Whether the period has catalogued runs (other than `runId`) though its period row is missing: a
   * row deleted by hand, or landings from before period rows. Once per export and month at most. */
  private async periodRowMissing(key: LandingKey, period: string, runId: string): Promise<boolean> {
    for await (const row of this.deps.catalog.landingsByExport(key.partitionKey, { period })) {
      if (row.runId !== runId && row.state !== 'rejected') return true;
    }
    return false;
  }

  /**
   * A run not catalogued before: its row, its files (when they fit), the flags it changes and the
   * period row, in one transaction conditional on the period row as read. A lost race reads the
   * period again. Undefined when the run turns out to be catalogued already (the caller updates it).
   */
  private async commitNewRun(
    key: LandingKey,
    plan: LandingPlan,
    period: Stored<PeriodRecord> | undefined,
    earlyFiles: Promise<number> | undefined,
  ): Promise<{ landing: LandingRecord; created: true; changed: true; fileRows: number } | undefined> {
    const { catalog } = this.deps;
    let filesWritten = earlyFiles ? await earlyFiles : 0;
    for (let attempt = 1; attempt <= MAX_RECONCILE_ROUNDS; attempt++) {
      if (period?.live.some((run) => run.runId === plan.landing.runId)) return undefined;
      const settled = settleNewRun(period?.live ?? [], plan.landing);
      const fits = plan.files.length + settled.changes.length + 2 <= MAX_TRANSACTION_ACTIONS;
      if (!earlyFiles && !fits && filesWritten === 0) filesWritten = await this.writeFiles(plan.files);
      const inlineFiles = !earlyFiles && fits ? plan.files : [];
      const committed = await catalog.commitLanding({
        files: inlineFiles,
        landing: settled.landing,
        flags: settled.changes,
        period: {
          landingPartition: key.partitionKey,
          period: plan.landing.period,
          live: settled.live,
          updatedAt: this.now().toISOString(),
        },
        ...(period ? { periodEtag: period.etag } : {}),
      });
      if (committed) {
        return {
          landing: settled.landing,
          created: true,
          changed: true,
          fileRows: inlineFiles.length > 0 ? inlineFiles.length : filesWritten,
        };
      }
      // Lost a race with another landing of the period, or the row exists (catalogued before).
      const [again, existing] = await Promise.all([
        catalog.getPeriod(key.partitionKey, plan.landing.period),
        catalog.getLanding(key.partitionKey, plan.landing.period, plan.landing.runId),
      ]);
      if (existing) return undefined;
      period = again;
    }
    throw new Error(
      `landings ${key.partitionKey} period ${plan.landing.period}: the period row kept changing; retry`,
    );
  }

  /** Brings an existing row up to date with a redelivered manifest, keeping `catalogedAt` and the
   * supersession flags; a complete row is never downgraded. */
  private async update(
    table: LandingTable,
    key: LandingKey,
    next: LandingRecord,
  ): Promise<{ record: LandingRecord; changed: boolean }> {
    for (let attempt = 1; ; attempt++) {
      const existing = await table.get(key);
      if (!existing) {
        if (await table.create(next)) return { record: next, changed: true };
        if (attempt >= MAX_MODIFY_ATTEMPTS) {
          throw new Error(`landing ${key.partitionKey}/${key.rowKey} kept appearing and vanishing; retry`);
        }
        continue;
      }
      const merged: LandingRecord = {
        ...withFlags(next, existing),
        catalogedAt: existing.catalogedAt,
      };
      if (
        sameLandingFacts(existing, merged) ||
        (existing.state === 'complete' && merged.state !== 'complete')
      ) {
        return { record: existing, changed: false };
      }
      try {
        await table.replaceIfMatch(merged, existing.etag);
        return { record: merged, changed: true };
      } catch (error) {
        if (!(error instanceof CatalogConflictError) || attempt >= MAX_MODIFY_ATTEMPTS) throw error;
      }
    }
  }

  /** Lists the period's runs and writes the flags planSupersession asks for, each write conditional on
   * the ETag the decision was made from, then the period row, conditional on the ETag it had before
   * the listing: so a new run committed meanwhile (which only the period row shows) makes this round
   * start again. A lost race re-lists and decides again. Returns this run's row as it ends up. */
  private async reconcile(
    identity: Identity,
    key: LandingKey,
    /** This call wrote the landing row: the period row is rewritten even if it looks the same, so a
     * new run committed meanwhile (settled without this row) makes the write fail. */
    wroteLanding: boolean,
  ): Promise<LandingRecord | undefined> {
    const partition = key.partitionKey;
    for (let round = 1; ; round++) {
      const period = await this.deps.catalog.getPeriod(partition, identity.period);
      const rows: Stored<LandingRecord>[] = [];
      for await (const row of this.deps.catalog.landingsByExport(partition, { period: identity.period })) {
        rows.push(row);
      }
      const flags = planSupersession(rows);
      let conflict = false;
      let wrote = wroteLanding;
      let own: LandingRecord | undefined;
      const settled: LandingRecord[] = [];
      await Promise.all(
        rows.map(async (row) => {
          const want = flags.get(row)!;
          // A superseded run keeps the run it was first superseded by (see settleNewRun).
          const same = sameFlags(row, want) || (row.superseded && want.superseded);
          const result = same ? row : withFlags(row, want);
          settled.push(result);
          if (row.rowKey === key.rowKey) own = result;
          if (result === row) return;
          wrote = true;
          try {
            await this.deps.catalog.replaceIfMatch('landings', result, row.etag);
          } catch (error) {
            if (!(error instanceof CatalogConflictError)) throw error;
            conflict = true;
          }
        }),
      );
      if (!conflict) {
        const live = settled
          .filter((r) => r.state !== 'rejected' && !r.superseded)
          .sort(compareRuns)
          .map(liveRunOf);
        // A redelivery that changed nothing leaves the period row as it is too.
        if (!wrote && period && sameLiveRuns(period.live, live)) return own;
        const record = {
          landingPartition: partition,
          period: identity.period,
          live,
          updatedAt: this.now().toISOString(),
        };
        if (await this.deps.catalog.putPeriod(record, period?.etag)) return own;
      }
      if (round >= MAX_RECONCILE_ROUNDS) {
        throw new Error(
          `landings ${partition} period ${identity.period}: supersession kept conflicting; retry`,
        );
      }
    }
  }

  private async finish(
    identity: Identity,
    key: LandingKey,
    landing: LandingRecord,
    extra: FinishFacts,
  ): Promise<LandingOutcome> {
    const lookup = await extra.backfill;
    let raisedOn: string | undefined;
    if (lookup && landing.state !== 'incomplete') {
      raisedOn = await this.raise(lookup, identity, key, landing);
    }
    const outcome: LandingOutcome = {
      kind: landing.state === 'rejected' ? 'rejected' : 'catalogued',
      state: landing.state,
      landingKey: key,
      resolved: identity.scope !== undefined,
      created: extra.created,
      changed: extra.changed,
      missingBlobs: landing.missingBlobs,
      fileRows: extra.fileRows,
      ...(landing.rejectionReason ? { rejectionReason: landing.rejectionReason } : {}),
      ...(raisedOn ? { raisedOn } : {}),
    };
    this.log.info(
      `landing ${landing.exportName} ${landing.period} run ${landing.runId}: ${landing.state}` +
        `${extra.created ? ' (new)' : extra.changed ? ' (updated)' : ' (unchanged)'}` +
        `${landing.current ? ', current' : ''}${landing.superseded ? `, superseded by ${landing.supersededBy ?? '?'}` : ''}` +
        `, ${landing.blobCount} blob(s), ${landing.rowCount} row(s), ${landing.totalBytes} byte(s)`,
    );
    return outcome;
  }

  /** Wakes the backfill waiting for this export and month. A finished or missing instance is logged,
   * not fatal; other failures throw so the host retries (the catalogue writes are idempotent). */
  private async raise(
    lookup: BackfillLookup,
    identity: Identity,
    key: LandingKey,
    landing: LandingRecord,
  ): Promise<string | undefined> {
    if (!this.deps.raiseEvent) {
      this.log.warn(
        `landing ${landing.exportName} ${landing.period}: backfill ${lookup.backfillId} waits, but no durable client is bound`,
      );
      return undefined;
    }
    const payload: ExportLandedEvent = {
      exportName: landing.exportName,
      scope: identity.scope ?? landing.scope,
      billingMonth: lookup.month,
      runId: landing.runId,
      state: landing.state,
      rowCount: landing.rowCount,
      landingKey: key,
    };
    try {
      await this.deps.raiseEvent(lookup.instanceId, EXPORT_LANDED_EVENT, payload);
      return lookup.instanceId;
    } catch (error) {
      const text = errorText(error);
      if (/No instance with ID|not found|404|410|completed|terminated|failed/i.test(text)) {
        this.log.warn(`backfill instance ${lookup.instanceId} did not take ${EXPORT_LANDED_EVENT}: ${text}`);
        return undefined;
      }
      throw error;
    }
  }

  private async reject(
    event: ManifestLanded,
    manifestPath: string,
    error: unknown,
    parsed?: Identity,
  ): Promise<LandingOutcome> {
    if (!isInputError(error)) throw error;
    const reason = errorText(error instanceof LandingInputError ? error.cause : error);
    this.log.error(`manifest ${redactSecrets(`${event.container}/${manifestPath}`)} rejected: ${reason}`);
    const catalogedAt = this.now().toISOString();
    for (const identity of rejectionIdentities(event.content, manifestPath, parsed)) {
      let record: LandingRecord;
      let key: LandingKey;
      try {
        key = keysOf(identity);
        record = rejectedRecord(identity, manifestPath, reason, catalogedAt);
        landingRow(identity, record);
      } catch {
        continue; // this identity cannot be stored; try the next, coarser one
      }
      const table = this.tableFor(identity);
      if (await table.create(record)) {
        return this.finish(identity, key, record, {
          created: true,
          changed: true,
          fileRows: 0,
          backfill: this.backfillFor(identity, record),
        });
      }
      const existing = await table.get(key);
      if (existing && existing.state !== 'rejected') {
        // The same run was catalogued from a valid manifest: a broken copy does not undo it.
        this.log.warn(
          `landing ${key.partitionKey}/${key.rowKey} kept: it was catalogued from a valid manifest`,
        );
        return this.finish(identity, key, existing, {
          created: false,
          changed: false,
          fileRows: 0,
          backfill: Promise.resolve(undefined),
        });
      }
      const { record: stored, changed } = await this.update(table, key, record);
      return this.finish(identity, key, stored, {
        created: false,
        changed,
        fileRows: 0,
        backfill: Promise.resolve(undefined),
      });
    }
    // Unreachable: the last identity (hashed path) always maps.
    throw new Error(`manifest ${manifestPath}: could not record the rejection`);
  }

  private backfillFor(identity: Identity, record: LandingRecord): Promise<BackfillLookup | undefined> {
    if (identity.scope === undefined || !(this.deps.mayBelongToBackfill?.(record.exportName) ?? true)) {
      return Promise.resolve(undefined);
    }
    const period = DATE_RANGE_FOLDER.exec(record.period);
    if (!period) return Promise.resolve(undefined);
    const month = `${period[1]!.slice(0, 4)}-${period[1]!.slice(4, 6)}`;
    return this.deps.catalog.findBackfillRun(identity.scope, record.exportName, month);
  }

  private async listBlobs(names: readonly string[]): Promise<Map<string, number | undefined>> {
    const wanted = new Set(names);
    const found = new Map<string, number | undefined>();
    if (wanted.size === 0) return found;
    // One blob: one read of it is the same single request as a listing, and a cheaper one.
    if (wanted.size === 1 && this.deps.blobs.stat) {
      const [name] = wanted;
      const stat = await this.deps.blobs.stat(name!);
      if (stat) found.set(name!, stat.size);
      return found;
    }
    for (const prefix of listingPrefixes(names)) {
      for await (const blob of this.deps.blobs.list(prefix)) {
        if (wanted.has(blob.name)) found.set(blob.name, blob.size);
      }
    }
    return found;
  }

  private async writeFiles(files: readonly LandingFileRecord[]): Promise<number> {
    if (files.length === 0) return 0;
    return (await this.deps.catalog.upsertLandingFiles(files)).rows;
  }

  private tableFor(identity: Identity): LandingTable {
    const { catalog, unresolved } = this.deps;
    if (identity.scope === undefined) {
      const partitionKey = unresolvedPartitionKey(identity.exportName);
      return {
        create: (record) => unresolved.create(partitionKey, record),
        get: (key) => unresolved.get(key.partitionKey, key.rowKey),
        replaceIfMatch: (record, etag) => unresolved.replaceIfMatch(partitionKey, record, etag),
      };
    }
    const scope = identity.scope;
    return {
      create: (record) => catalog.createLanding({ ...record, scope }),
      get: async (key) => {
        const row = await catalog.getLanding(key.partitionKey, identity.period, identity.runId);
        return row && row.rowKey === key.rowKey ? row : undefined;
      },
      replaceIfMatch: async (record, etag) => {
        await catalog.replaceIfMatch('landings', { ...record, scope }, etag);
      },
    };
  }

  // ------------------------------------------------------------------------------------ query helpers

  /** Every landing of one export, ordered by period then run id (streams). */
  landingsByExport(
    scope: string,
    exportName: string,
  ): AsyncGenerator<Stored<LandingRecord>, void, undefined> {
    return this.deps.catalog.landingsByExport(exportKey(parseScope(scope).canonical, exportName));
  }

  /** The runs of one export in one period (`yyyyMMdd-yyyyMMdd`), newest last. */
  async landingsByPeriod(
    scope: string,
    exportName: string,
    period: string,
  ): Promise<Stored<LandingRecord>[]> {
    const rows: Stored<LandingRecord>[] = [];
    const key = exportKey(parseScope(scope).canonical, exportName);
    for await (const row of this.deps.catalog.landingsByExport(key, { period })) rows.push(row);
    return rows.sort(compareRuns);
  }

  /** Per period, the run downstream tools should read: the newest complete run (the one flagged
   * `current`), by the same ordering supersession uses. Streams one period at a time. */
  async *latestPerPeriod(
    scope: string,
    exportName: string,
  ): AsyncGenerator<Stored<LandingRecord>, void, undefined> {
    let period: string | undefined;
    let best: Stored<LandingRecord> | undefined;
    for await (const row of this.landingsByExport(scope, exportName)) {
      if (row.period !== period) {
        if (best) yield best;
        best = undefined;
        period = row.period;
      }
      if (row.state !== 'complete') continue;
      if (!best || compareRuns(row, best) > 0) best = row;
    }
    if (best) yield best;
  }
}

interface LandingTable {
  create(record: LandingRecord): Promise<boolean>;
  get(key: LandingKey): Promise<Stored<LandingRecord> | undefined>;
  replaceIfMatch(record: LandingRecord, etag: string): Promise<void>;
}

/** Convenience for one-off calls. */
export function catalogueManifest(deps: LandingDependencies, event: ManifestLanded): Promise<LandingOutcome> {
  return new LandingService(deps).catalogue(event);
}

// ------------------------------------------------------------------------------------------ adapters

/** The exports container as an ExportBlobLister: names and sizes only (see azure/blobListing.ts). */
export function containerBlobLister(container: ContainerClient): ExportBlobLister {
  return {
    list: (prefix: string) => listBlobNames(container, prefix),
    stat: (name: string) => blobSize(container, name),
  };
}

/** Unresolved landings over the landings table's own client (`catalog.tableName('landings')`). */
export function unresolvedLandingTable(
  client: Pick<TableClient, 'createEntity' | 'getEntity' | 'updateEntity'>,
): UnresolvedLandingTable {
  const rowOf = (partitionKey: string, record: LandingRecord): Row => {
    const row = landingRow(
      { exportName: record.exportName, period: record.period, runId: record.runId },
      record,
    );
    if (row.partitionKey !== partitionKey) throw new TypeError('unresolved landing: partition key mismatch');
    return row;
  };
  return {
    async create(partitionKey, record) {
      try {
        await client.createEntity(rowOf(partitionKey, record));
        return true;
      } catch (error) {
        if (isRestError(error) && error.statusCode === 409) return false;
        throw error;
      }
    },
    async get(partitionKey, rowKey) {
      try {
        const row = await client.getEntity<Record<string, unknown>>(partitionKey, rowKey);
        return { ...landingFromRow(row), partitionKey, rowKey, etag: row.etag };
      } catch (error) {
        if (isRestError(error) && error.statusCode === 404) return undefined;
        throw error;
      }
    },
    async replaceIfMatch(partitionKey, record, etag) {
      const row = rowOf(partitionKey, record);
      try {
        await client.updateEntity(row, 'Replace', { etag });
      } catch (error) {
        if (isRestError(error) && (error.statusCode === 412 || error.statusCode === 404)) {
          throw new CatalogConflictError(
            'landings',
            row.partitionKey,
            row.rowKey,
            error.statusCode === 412 ? 'changed' : 'missing',
            { cause: error },
          );
        }
        throw error;
      }
    },
  };
}
