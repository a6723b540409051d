// What both sides of an orchestration agree on: the events it waits for and its activities' inputs and
// outputs. Services (which implement the activities and raise the events) and workflows (which call
// them by name) both import this module and never each other. Pure types and the ids they share.
import type { BackfillWindow } from './backfillPlan';
import type { LandingState } from './landingPlan';
import type { ExportDataset } from './scope';

// ------------------------------------------------------------------------------ the landing event

/** Where the landing catalog filed a run (landings table keys). */
export interface LandingKey {
  partitionKey: string;
  rowKey: string;
}

/** Raised by the landing catalog on the backfill month waiting for that export and month. */
export const EXPORT_LANDED_EVENT = 'exportLanded';

/** The event's payload. Orchestrations check it field by field (it arrives as untyped JSON). */
export interface ExportLandedEvent {
  exportName: string;
  scope: string;
  billingMonth: string;
  runId: string;
  /** `complete`, `incomplete` (blobs still missing; re-checked and raised again) or `rejected`. */
  state: LandingState;
  /** Absent when the manifest did not give a row count (rows unknown, not 0). */
  rowCount?: number;
  landingKey: LandingKey;
}

// -------------------------------------------------------------------------------------- backfill

/** Where the exports deliver. A SAS destination names a registered token, never its value. */
export type BackfillDestination =
  | { resourceId: string; container: string; rootFolderPath?: string }
  | { storageAccount: string; tokenId: string; container: string; rootFolderPath?: string };

export interface BackfillTiming {
  maxAttempts: number;
  /** First history read after a run is submitted (unless the landing event comes first). */
  pollIntervalMs: number;
  /** Reads back off by doubling up to this. */
  maxPollIntervalMs: number;
  /** A run that has neither landed nor ended by then counts as a timed-out attempt. */
  landingTimeoutMs: number;
  /** Back-off after a failed run or a transient API error: base × 2^(n-1), capped. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** Consecutive 429s tolerated on one call before the month fails (each waits its Retry-After). */
  maxThrottleWaits: number;
}

export interface ExportSettings {
  format: 'Csv' | 'Parquet';
  compression: 'gzip' | 'snappy' | 'none';
  dataVersion?: string;
}

export interface BackfillInput extends ExportSettings {
  /** The deterministic instance id (backfillInstanceId). */
  backfillId: string;
  /** 1 for the first run of this id; +1 each time `force` restarts it (keeps child ids unique). */
  run: number;
  /** Canonical scope. */
  scope: string;
  datasets: ExportDataset[];
  /** Planned by the HTTP starter with planBackfill (the plan fixed the instance id). */
  windows: BackfillWindow[];
  destination: BackfillDestination;
  concurrency: number;
  keepExports: boolean;
  exportNamePrefix?: string;
  timing: BackfillTiming;
}

/** One (dataset, month): everything an activity needs, with no secret in it. */
export interface MonthTask extends ExportSettings {
  backfillId: string;
  scope: string;
  dataset: ExportDataset;
  month: string;
  from: string;
  to: string;
  exportName: string;
  destination: BackfillDestination;
}

export interface MonthInput {
  task: MonthTask;
  keepExports: boolean;
  timing: BackfillTiming;
}

export type MonthOutcome = 'Completed' | 'NoData' | 'Failed';

/** Why a month failed: the export could not be created or run, its runs failed, or no landing
 * arrived within the landing timeout (the last attempt decides). */
export type MonthFailure = 'exportNotCreated' | 'runNotStarted' | 'runFailed' | 'landingTimedOut';

export interface MonthResult {
  dataset: ExportDataset;
  month: string;
  outcome: MonthOutcome;
  /** The run that decided the outcome; null when none was identified (e.g. the PUT failed). */
  runId: string | null;
  /** Runs submitted. */
  attempts: number;
  landingKey?: LandingKey;
  rowCount?: number;
  error?: string;
  /** With outcome Failed: why. */
  failure?: MonthFailure;
}

export interface BackfillOutput {
  backfillId: string;
  scope: string;
  total: number;
  counts: Record<MonthOutcome, number>;
  months: MonthResult[];
}

export interface BackfillProgress {
  backfillId: string;
  total: number;
  counts: Record<MonthOutcome | 'pending' | 'running', number>;
  /** `Dataset YYYY-MM` of the months in flight. */
  inFlight: string[];
  /** The last few months finished, newest last, errors cut short (src/domain/backfillProgress.ts);
   * the output and the backfillRuns table hold every month in full. */
  recent: { dataset: ExportDataset; month: string; outcome: MonthOutcome; error?: string }[];
}

/** One month's own custom status (instance id `monthInstanceId(...)`): where it is, which attempt,
 * the last failure cut short, and when a backed-off attempt is due. */
export interface MonthProgress {
  phase: 'creatingExport' | 'running' | 'waitingForLanding' | 'backingOff' | 'finishing';
  attempts: number;
  /** BACKFILL_MAX_ATTEMPTS when the month started. */
  maxAttempts?: number;
  lastError?: string;
  /** ISO time the next attempt starts (phase backingOff). */
  nextRetryAt?: string;
  outcome?: MonthOutcome;
}

/** Every activity answers with one of these; a 429 is a result, not an exception, because durable
 * retry policies cannot wait for a Retry-After the service advertised. */
export type CallResult<T extends object = object> =
  | ({ kind: 'ok' } & T)
  | { kind: 'throttled'; retryAfterMs: number; message: string }
  | { kind: 'error'; transient: boolean; message: string; code?: string };

export interface PutExportInput {
  task: MonthTask;
  instanceId: string;
}
export interface RunExportInput {
  task: MonthTask;
  instanceId: string;
  attempt: number;
  /** Read the export's run history before submitting and answer its run ids: the export was not
   * created by this month (a left-over of an interrupted backfill), so runs it already has are not
   * this month's and must never complete it. */
  readPriorRuns?: boolean;
}
export type RunExportResult = CallResult<{ priorRunIds?: string[] }>;
export interface ReadRunInput {
  task: MonthTask;
  /** Runs of earlier attempts, never to be taken for this attempt's. */
  excludeRunIds: string[];
}
export interface ObservedRun {
  runId: string;
  status: string;
  error?: string;
}
export type ReadRunResult = CallResult<{ run?: ObservedRun }>;

/** A landing event names a run: before it completes the month, its run is checked against the
 * export's run history (a manifest anyone can write; the history only Cost Management can). */
export interface ConfirmLandingInput {
  task: MonthTask;
  instanceId: string;
  runId: string;
  /** Where the catalog filed the landing: marked rejected when the run is refused. */
  landingKey?: LandingKey;
}
/** `confirmed`: a run of this export that is running or done. `pending`: listed but still Queued
 * (its files cannot be there yet; the history poll decides). `refused`: not a run of this export in
 * its history, or one that failed: the landing is marked rejected and the month keeps waiting. */
export type LandingVerdict = 'confirmed' | 'pending' | 'refused';
export type ConfirmLandingResult = CallResult<{
  verdict: LandingVerdict;
  reason?: string;
  /** For a refused run: whether its catalog row was marked rejected (`refused`), already was, or
   * was not found. */
  landingRow?: 'refused' | 'alreadyRejected' | 'notFound';
}>;
export interface FinishMonthInput {
  task: MonthTask;
  instanceId: string;
  result: MonthResult;
  deleteExport: boolean;
}

/** Child instance id: unique per backfill run, dataset and month, and free of `/ \ # ?`. */
export function monthInstanceId(
  backfillId: string,
  run: number,
  dataset: ExportDataset,
  month: string,
): string {
  return `${backfillId}:${run}:${dataset.toLowerCase()}:${month.replace('-', '')}`;
}

// ------------------------------------------------------------------------------------ export sync

/** One scope's sync: what the registry found and changed there. */
export interface ScopeSyncResult {
  scope: string;
  status: 'synced' | 'throttled' | 'failed';
  /** Exports seen at the scope. */
  exports?: number;
  added?: number;
  updated?: number;
  /** Newly marked missing in this run. */
  markedMissing?: number;
  /** Exports at the scope this app cannot register (unsupported dataset, unreadable destination). */
  skipped?: { exportName: string; reason: string }[];
  retryAfterMs?: number;
  error?: string;
}

export interface ExportSyncReport {
  startedAt: string;
  scopes: ScopeSyncResult[];
  totals: {
    scopes: number;
    synced: number;
    throttled: number;
    failed: number;
    exports: number;
    markedMissing: number;
  };
}
