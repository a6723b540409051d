// The backfill's per-month activities, with the Cost Management, catalog and secret-store adapters
// passed in: write the one-month Custom export, run it, read its run history, confirm a landing and
// record the month's outcome. Token values are fetched here, inside an activity, and never reach
// orchestration input, history, tables or logs. Every adapter failure becomes a `CallResult` the
// orchestrator acts on (services/backfills.ts and workflows/backfill.ts).
import { ExportNotFoundError, isCostManagementError, ThrottledError } from '../azure/armErrors';
import type {
  BackfillRunDestination,
  BackfillRunRecord,
  BackfillRunStatus,
  TokenRecord,
} from '../azure/catalog';
import type { CostExportsApi } from '../azure/costExports';
import { buildExportBody, ExportBodyError } from '../azure/exportBody';
import type { ExportBodyInput, ExportRun } from '../azure/exportModels';
import type { SecretStore } from '../azure/secrets';
import type {
  BackfillDestination,
  CallResult,
  ConfirmLandingInput,
  ConfirmLandingResult,
  FinishMonthInput,
  MonthResult,
  MonthTask,
  PutExportInput,
  ReadRunInput,
  ReadRunResult,
  RunExportInput,
  RunExportResult,
} from '../domain/contracts';
import { judgeLandedRun } from '../domain/landingTrust';
import { redactMessage, redactSecrets } from '../domain/redact';
import { normaliseFolder } from '../domain/rootFolderPath';
import { activeToken } from './backfillToken';
import { MissingETagError, putExportKeepingETag } from './exportWrites';
import type { LandingRefusals } from './landingRefusals';
import type { LedgerService } from './ledger';

export interface BackfillCatalog {
  upsertBackfillRun(record: BackfillRunRecord): Promise<void>;
  listBackfillRuns(backfillId: string): AsyncIterable<BackfillRunRecord>;
  getToken(storageAccount: string, tokenId: string): Promise<TokenRecord | undefined>;
  listTokens(storageAccount: string): AsyncIterable<TokenRecord>;
}

export interface BackfillDeps {
  costExports: CostExportsApi;
  catalog: BackfillCatalog;
  secrets: Pick<SecretStore, 'get'>;
  /** Timestamps for catalog rows (the orchestration keeps its own time). */
  now?: () => Date;
  /** The completeness ledger: a month that ended without data is written into its cell at once
   * (landed months reach it through the landing path). */
  ledger?: Pick<LedgerService, 'recordBackfillMonth'>;
  /** Marks a landing whose run the month refused as rejected in the catalog. */
  refusals?: Pick<LandingRefusals, 'refuse'>;
}

/** Anything an adapter threw → a result the orchestrator can act on, secrets redacted. */
export function toCallResult(error: unknown): CallResult<never> {
  if (error instanceof ThrottledError) {
    return { kind: 'throttled', retryAfterMs: error.retryAfterMs, message: error.message };
  }
  if (isCostManagementError(error)) {
    return { kind: 'error', transient: error.transient, message: error.message, code: error.code };
  }
  if (error instanceof ExportBodyError) return { kind: 'error', transient: false, message: error.message };
  if (error instanceof PermanentError || error instanceof MissingETagError) {
    return { kind: 'error', transient: false, message: error.message };
  }
  const message = redactMessage(error);
  // Storage, secret store and network hiccups: worth another try after a back-off.
  return { kind: 'error', transient: true, message };
}

class PermanentError extends Error {}

function runRecord(
  task: MonthTask,
  instanceId: string,
  status: BackfillRunStatus,
  now: Date,
  extra: Partial<Pick<BackfillRunRecord, 'runId' | 'attempts' | 'error'>> = {},
): BackfillRunRecord {
  return {
    backfillId: task.backfillId,
    dataset: task.dataset,
    month: task.month,
    exportName: task.exportName,
    scope: task.scope,
    instanceId,
    status,
    ...extra,
    destination: runDestination(task.destination),
    updatedAt: now.toISOString(),
  };
}

const STORAGE_ACCOUNT_ID = /\/providers\/Microsoft\.Storage\/storageAccounts\/([^/]+)$/i;

/** Where the month's export delivers, as the blob trigger compares it with a landing's folder. */
export function runDestination(d: BackfillDestination): BackfillRunDestination {
  const account = 'resourceId' in d ? STORAGE_ACCOUNT_ID.exec(d.resourceId)?.[1] : d.storageAccount;
  return {
    ...(account ? { storageAccount: account.toLowerCase() } : {}),
    container: d.container,
    rootFolderPath: normaliseFolder(d.rootFolderPath),
  };
}

async function sasTokenFor(deps: BackfillDeps, account: string, tokenId: string): Promise<string> {
  let token = await deps.catalog.getToken(account, tokenId);
  if (!token || token.status !== 'active') {
    // Rotated since the backfill started: the account's active token takes over.
    token = (await activeToken(deps.catalog, account)) ?? token;
  }
  if (!token)
    throw new PermanentError(`SAS token "${tokenId}" for storage account ${account} is not registered`);
  const value = await deps.secrets.get(token.secretName, token.secretVersion);
  if (!value) throw new PermanentError(`the secret for SAS token "${token.tokenId}" (${account}) is missing`);
  return value;
}

async function exportBody(deps: BackfillDeps, task: MonthTask, eTag?: string) {
  const d = task.destination;
  const root = d.rootFolderPath !== undefined ? { rootFolderPath: d.rootFolderPath } : {};
  const destination: ExportBodyInput['destination'] =
    'resourceId' in d
      ? { resourceId: d.resourceId, container: d.container, ...root }
      : {
          storageAccount: d.storageAccount,
          sasToken: await sasTokenFor(deps, d.storageAccount, d.tokenId),
          container: d.container,
          ...root,
        };
  return buildExportBody({
    dataset: task.dataset,
    timeframe: 'Custom',
    timePeriod: { from: task.from, to: task.to },
    destination,
    format: task.format,
    compression: task.compression,
    ...(task.dataVersion !== undefined ? { dataVersion: task.dataVersion } : {}),
    schedule: { status: 'Inactive' },
    description: `Backfill ${task.backfillId}: ${task.dataset} ${task.month} (temporary)`,
    scope: task.scope,
    ...(eTag ? { eTag } : {}),
  });
}

/** The activities, bound to their adapters. */
export function createBackfillActivities(deps: BackfillDeps) {
  const now = deps.now ?? (() => new Date());
  return {
    /** Records the (dataset, month) → instance mapping, then PUTs the one-month Custom export. */
    putExport: (input: PutExportInput) => putExport(deps, now, input),
    /** POST …/run for the month's period. */
    runExport: (input: RunExportInput) => runExport(deps, now, input),
    /** The newest run of the export for this month's period that is not an earlier attempt's. */
    readRun: (input: ReadRunInput) => readRun(deps, input),
    /** Checks a landed run against the export's run history before it may complete the month. A
     * refused landing is marked rejected in the catalog (the trigger logs it); the month keeps waiting. */
    confirmLanding: (input: ConfirmLandingInput) => confirmLanding(deps, input),
    /** Records the month's outcome and deletes its temporary export (a missing export is fine). */
    finishMonth: (input: FinishMonthInput) => finishMonth(deps, now, input),
  };
}

export type BackfillActivities = ReturnType<typeof createBackfillActivities>;

async function putExport(
  deps: BackfillDeps,
  now: () => Date,
  { task, instanceId }: PutExportInput,
): Promise<CallResult<{ created: boolean }>> {
  try {
    await deps.catalog.upsertBackfillRun(runRecord(task, instanceId, 'pending', now()));
    // A temporary export left by an interrupted earlier run is updated with its current eTag.
    const result = await putExportKeepingETag(
      deps.costExports,
      task.scope,
      task.exportName,
      (eTag) => exportBody(deps, task, eTag),
      { expectNew: true },
    );
    return { kind: 'ok', created: result.created };
  } catch (error) {
    return toCallResult(error);
  }
}

async function runExport(
  deps: BackfillDeps,
  now: () => Date,
  { task, instanceId, attempt, readPriorRuns }: RunExportInput,
): Promise<RunExportResult> {
  try {
    // Read before submitting: every run listed now is older than this month's own.
    const prior = readPriorRuns
      ? (await deps.costExports.runHistory(task.scope, task.exportName)).flatMap((r) =>
          r.runId ? [r.runId] : [],
        )
      : undefined;
    await deps.catalog.upsertBackfillRun(
      runRecord(task, instanceId, 'submitted', now(), { attempts: attempt }),
    );
    await deps.costExports.run(task.scope, task.exportName, {
      timePeriod: { from: task.from, to: task.to },
    });
    return { kind: 'ok', ...(prior ? { priorRunIds: prior } : {}) };
  } catch (error) {
    return toCallResult(error);
  }
}

async function readRun(deps: BackfillDeps, { task, excludeRunIds }: ReadRunInput): Promise<ReadRunResult> {
  try {
    const runs = await deps.costExports.runHistory(task.scope, task.exportName);
    const run = newestRunOfMonth(runs, task, excludeRunIds);
    if (!run) return { kind: 'ok' };
    return {
      kind: 'ok',
      run: {
        runId: run.runId!,
        status: run.status ?? 'Unknown',
        ...(run.error?.message || run.error?.code
          ? { error: redactSecrets([run.error.code, run.error.message].filter(Boolean).join(': ')) }
          : {}),
      },
    };
  } catch (error) {
    return toCallResult(error);
  }
}

/** The newest run for the month's period (by submission time) that is not excluded. */
function newestRunOfMonth(
  runs: ExportRun[],
  task: MonthTask,
  excludeRunIds: readonly string[],
): ExportRun | undefined {
  const day = (iso: string | undefined) => iso?.slice(0, 10);
  const candidates = runs.filter(
    (r) =>
      r.runId !== undefined &&
      !excludeRunIds.includes(r.runId) &&
      (r.startDate === undefined || day(r.startDate) === day(task.from)),
  );
  candidates.sort((a, b) => Date.parse(b.submittedTime ?? '') - Date.parse(a.submittedTime ?? '') || 0);
  return candidates[0];
}

async function confirmLanding(
  deps: BackfillDeps,
  { task, runId, landingKey }: ConfirmLandingInput,
): Promise<ConfirmLandingResult> {
  try {
    const history = await deps.costExports.runHistory(task.scope, task.exportName);
    const judged = judgeLandedRun(history, runId);
    if (judged.verdict !== 'refused') return { kind: 'ok', ...judged };
    const reason = `refused for backfill ${task.backfillId} (${task.dataset} ${task.month}): ${judged.reason ?? 'not a submitted run'}`;
    const marked = landingKey ? await deps.refusals?.refuse(landingKey, reason) : undefined;
    return { kind: 'ok', verdict: 'refused', reason, ...(marked ? { landingRow: marked } : {}) };
  } catch (error) {
    return toCallResult(error);
  }
}

async function finishMonth(
  deps: BackfillDeps,
  now: () => Date,
  { task, instanceId, result, deleteExport }: FinishMonthInput,
): Promise<CallResult<{ deleted: boolean }>> {
  try {
    const record = runRecord(task, instanceId, statusOf(result), now(), {
      attempts: result.attempts,
      ...(result.runId ? { runId: result.runId } : {}),
      ...(result.error ? { error: result.error } : {}),
    });
    await deps.catalog.upsertBackfillRun(record);
    await deps.ledger?.recordBackfillMonth(record);
    if (!deleteExport) return { kind: 'ok', deleted: false };
    await deleteExportIfPresent(deps.costExports, task.scope, task.exportName);
    return { kind: 'ok', deleted: true };
  } catch (error) {
    return toCallResult(error);
  }
}

/** Deletes an export; one already gone is fine. */
export async function deleteExportIfPresent(
  costExports: Pick<CostExportsApi, 'delete'>,
  scope: string,
  exportName: string,
): Promise<void> {
  try {
    await costExports.delete(scope, exportName);
  } catch (error) {
    if (!(error instanceof ExportNotFoundError)) throw error;
  }
}

function statusOf(result: MonthResult): BackfillRunStatus {
  if (result.outcome === 'Completed') return 'landed';
  if (result.outcome === 'NoData') return 'dataNotAvailable';
  return result.failure === 'landingTimedOut' ? 'timedOut' : 'failed';
}
