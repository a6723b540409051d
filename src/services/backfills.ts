// Backfill use cases: validate an HTTP request into an orchestration input (every field checked, each
// problem naming its field), check the SAS token it relies on, and the per-month activities, with the
// Cost Management, catalog and secret-store adapters passed in. Token values are fetched here, inside
// an activity, and never reach orchestration input, history, tables or logs.
import { ExportNotFoundError, isCostManagementError, ThrottledError } from '../azure/armErrors';
import type {
  BackfillRunDestination,
  BackfillRunRecord,
  BackfillRunStatus,
  TokenRecord,
} from '../azure/catalog';
import type { CostExportsApi } from '../azure/costExports';
import { buildExportBody, ExportBodyError } from '../azure/exportBody';
import type { ExportBodyInput } from '../azure/exportModels';
import type { SecretStore } from '../azure/secrets';
import type { AppConfig } from '../config';
import {
  backfillInstanceId,
  BackfillPlanError,
  type BackfillWindow,
  DEFAULT_BACKFILL_PREFIX,
  planBackfill,
} from '../domain/backfillPlan';
import {
  type BackfillDestination,
  type BackfillInput,
  type BackfillTiming,
  type CallResult,
  type ConfirmLandingInput,
  type ConfirmLandingResult,
  type FinishMonthInput,
  monthInstanceId,
  type MonthResult,
  type MonthTask,
  type PutExportInput,
  type ReadRunInput,
  type ReadRunResult,
  type RunExportInput,
  type RunExportResult,
} from '../domain/contracts';
import type { FieldError } from '../domain/fieldError';
import { isRecord } from '../domain/json';
import { judgeLandedRun } from '../domain/landingTrust';
import { redactSecrets } from '../domain/redact';
import {
  datasetsForScope,
  EXPORT_DATASETS,
  type ExportDataset,
  isUncompressedCsvOnly,
  parseScope,
  type Scope,
  ScopeError,
  scopeKey,
} from '../domain/scope';
import { MissingETagError, putExportKeepingETag } from './exportWrites';
import type { LandingRefusals } from './landingRefusals';
import type { LedgerService } from './ledger';

// ---------------------------------------------------------------------------------- the request

export type { FieldError } from '../domain/fieldError';

export interface BackfillRequest {
  scope: Scope;
  datasets: ExportDataset[];
  months?: number;
  from?: string;
  to?: string;
  destination: BackfillRequestDestination;
  format: 'Csv' | 'Parquet';
  compression: 'gzip' | 'snappy' | 'none';
  dataVersion?: string;
  concurrency: number;
  keepExports: boolean;
  force: boolean;
}

/** As requested: a SAS destination may leave the token id out (the account's active token is used). */
export type BackfillRequestDestination =
  | { resourceId: string; container: string; rootFolderPath?: string }
  | { storageAccount: string; tokenId?: string; container: string; rootFolderPath?: string };

export interface ParsedBackfill {
  request: BackfillRequest;
  windows: BackfillWindow[];
  instanceId: string;
}

export type ParseResult = { ok: true; value: ParsedBackfill } | { ok: false; errors: FieldError[] };

const TOP_FIELDS = [
  'scope',
  'datasets',
  'months',
  'from',
  'to',
  'destination',
  'format',
  'compression',
  'dataVersion',
  'concurrency',
  'keepExports',
  'force',
] as const;
const DESTINATION_FIELDS = [
  'resourceId',
  'storageAccount',
  'tokenId',
  'container',
  'rootFolderPath',
] as const;
const TOKEN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** Any well-formed SAS, only so the export body builder can check everything else in the request. */
const PLACEHOLDER_SAS = 'sv=2022-11-02&ss=b&srt=sco&sp=rwdlac&se=2099-01-01T00:00:00Z&sig=placeholder';

function describe(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}

/**
 * Validates a POST /api/backfills body. Pure (the clock is an argument); collects every problem.
 * The token check, which reads the catalog, is `checkBackfillToken`.
 */
export function parseBackfillRequest(
  body: unknown,
  options: { now: Date; maxConcurrency: number },
): ParseResult {
  const errors: FieldError[] = [];
  const add = (field: string, message: string) => errors.push({ field, message });
  if (!isRecord(body)) {
    return { ok: false, errors: [{ field: 'body', message: 'expected a JSON object' }] };
  }
  for (const key of Object.keys(body)) {
    if (!(TOP_FIELDS as readonly string[]).includes(key))
      add(key, `unknown field; allowed: ${TOP_FIELDS.join(', ')}`);
  }

  // scope
  let scope: Scope | undefined;
  if (typeof body.scope !== 'string' || body.scope.trim() === '')
    add('scope', 'required: a billing or RBAC scope');
  else {
    try {
      scope = parseScope(body.scope);
    } catch (error) {
      add('scope', error instanceof ScopeError ? error.message : 'is not a scope');
    }
  }

  // datasets
  const datasets: ExportDataset[] = [];
  if (!Array.isArray(body.datasets) || body.datasets.length === 0) {
    add('datasets', `required: a non-empty list of ${EXPORT_DATASETS.join(', ')}`);
  } else {
    (body.datasets as unknown[]).forEach((value, i) => {
      const dataset = EXPORT_DATASETS.find(
        (d) => typeof value === 'string' && d.toLowerCase() === value.toLowerCase(),
      );
      if (!dataset)
        add(`datasets[${i}]`, `expected one of ${EXPORT_DATASETS.join(', ')}, got ${describe(value)}`);
      else if (datasets.includes(dataset)) add(`datasets[${i}]`, `${dataset} is listed twice`);
      else if (scope && !datasetsForScope(scope).includes(dataset))
        add(
          `datasets[${i}]`,
          `${dataset} is not offered at ${scope.kind} scope (allowed: ${datasetsForScope(scope).join(', ')})`,
        );
      else datasets.push(dataset);
    });
  }

  // months / from / to
  for (const field of ['from', 'to'] as const) {
    if (body[field] !== undefined && typeof body[field] !== 'string') add(field, 'expected a month YYYY-MM');
  }
  if (body.months !== undefined && typeof body.months !== 'number') add('months', 'expected a whole number');
  let windows: BackfillWindow[] | undefined;
  const periodTyped =
    (body.months === undefined || typeof body.months === 'number') &&
    (body.from === undefined || typeof body.from === 'string') &&
    (body.to === undefined || typeof body.to === 'string');
  if (periodTyped) {
    const planFor = (dataset?: ExportDataset) =>
      planBackfill({
        now: options.now,
        ...(body.months !== undefined ? { months: body.months as number } : {}),
        ...(body.from !== undefined ? { from: body.from as string } : {}),
        ...(body.to !== undefined ? { to: body.to as string } : {}),
        ...(dataset ? { dataset } : {}),
      });
    try {
      windows = planFor();
      // The same months for every dataset, or the dataset whose history limit is exceeded is named.
      for (const dataset of datasets) planFor(dataset);
    } catch (error) {
      if (error instanceof BackfillPlanError) {
        const field = ['months', 'from', 'to'].includes(error.field) ? error.field : 'months';
        add(field, error.message);
      } else throw error;
      windows = undefined;
    }
  }

  // destination
  let destination: BackfillRequestDestination | undefined;
  const d = body.destination;
  if (!isRecord(d)) {
    add('destination', 'required: { resourceId, container } or { storageAccount, tokenId?, container }');
  } else {
    for (const key of Object.keys(d)) {
      if (key === 'sasToken')
        add(
          'destination.sasToken',
          'not accepted here: register the token (POST /api/tokens) and name it by tokenId',
        );
      else if (!(DESTINATION_FIELDS as readonly string[]).includes(key))
        add(`destination.${key}`, `unknown field; allowed: ${DESTINATION_FIELDS.join(', ')}`);
    }
    const common = {
      container: d.container as string,
      ...(d.rootFolderPath !== undefined ? { rootFolderPath: d.rootFolderPath as string } : {}),
    };
    if (d.resourceId !== undefined && d.storageAccount !== undefined) {
      add('destination', 'give either resourceId or storageAccount, not both');
    } else if (d.resourceId !== undefined) {
      if (d.tokenId !== undefined) add('destination.tokenId', 'only with storageAccount');
      destination = { resourceId: d.resourceId as string, ...common };
    } else if (d.storageAccount !== undefined) {
      if (d.tokenId !== undefined && (typeof d.tokenId !== 'string' || !TOKEN_ID.test(d.tokenId)))
        add('destination.tokenId', `expected a registered token id, got ${describe(d.tokenId)}`);
      destination = {
        storageAccount: d.storageAccount as string,
        ...(typeof d.tokenId === 'string' ? { tokenId: d.tokenId } : {}),
        ...common,
      };
    } else if (!Object.keys(d).includes('sasToken')) {
      add('destination', 'needs resourceId, or storageAccount with a registered token');
    }
  }

  // format, compression, dataVersion: checked by the same builder the activity uses
  // Absent fields take defaults; an explicit null is a wrong value, not an absent one.
  const format = body.format === undefined ? 'Csv' : body.format;
  // Reservation datasets (and anything at a management group) come only as uncompressed CSV.
  const csvOnly = datasets.filter((dataset) => isUncompressedCsvOnly(scope, dataset));
  const compression =
    body.compression === undefined
      ? format === 'Parquet'
        ? 'snappy'
        : csvOnly.length > 0
          ? 'none'
          : 'gzip'
      : body.compression;
  if (csvOnly.length > 0) {
    const what = scope?.kind === 'managementGroup' ? 'at management group scope' : csvOnly.join(', ');
    if (format === 'Parquet') add('format', `${what}: delivered as Csv only`);
    else if (compression === 'gzip' || compression === 'snappy')
      add('compression', `${what}: delivered uncompressed, use none`);
  }
  const probe: ExportBodyInput = {
    dataset: datasets[0] ?? 'ActualCost',
    timeframe: 'Custom',
    timePeriod: { from: '2024-01-01', to: '2024-01-31' },
    destination: destination
      ? 'resourceId' in destination
        ? destination
        : {
            storageAccount: destination.storageAccount,
            sasToken: PLACEHOLDER_SAS,
            container: destination.container,
            ...(destination.rootFolderPath !== undefined
              ? { rootFolderPath: destination.rootFolderPath }
              : {}),
          }
      : { resourceId: 'x', container: 'x' },
    format: format as ExportBodyInput['format'],
    compression: compression as ExportBodyInput['compression'],
    ...(body.dataVersion !== undefined ? { dataVersion: body.dataVersion as string } : {}),
  };
  try {
    buildExportBody(probe);
  } catch (error) {
    if (!(error instanceof ExportBodyError)) throw error;
    for (const problem of error.problems) {
      if (problem.field.startsWith('destination') && !destination) continue; // reported above
      if (problem.field === 'destination.sasToken') continue;
      add(problem.field, problem.message);
    }
  }

  const concurrency = body.concurrency === undefined ? 1 : body.concurrency;
  if (
    typeof concurrency !== 'number' ||
    !Number.isInteger(concurrency) ||
    concurrency < 1 ||
    concurrency > options.maxConcurrency
  ) {
    add(
      'concurrency',
      `expected a whole number from 1 to ${options.maxConcurrency}, got ${describe(concurrency)}`,
    );
  }
  for (const field of ['keepExports', 'force'] as const) {
    if (body[field] !== undefined && typeof body[field] !== 'boolean') add(field, 'expected true or false');
  }

  if (errors.length > 0 || !scope || !windows || !destination || datasets.length === 0) {
    if (errors.length === 0) add('body', 'incomplete request');
    return { ok: false, errors };
  }
  const request: BackfillRequest = {
    scope,
    datasets,
    ...(body.months !== undefined ? { months: body.months as number } : {}),
    ...(body.from !== undefined ? { from: body.from as string } : {}),
    ...(body.to !== undefined ? { to: body.to as string } : {}),
    destination: normaliseDestination(destination),
    format: format as BackfillRequest['format'],
    compression: compression as BackfillRequest['compression'],
    ...(body.dataVersion !== undefined ? { dataVersion: body.dataVersion as string } : {}),
    concurrency: concurrency as number,
    keepExports: body.keepExports === true,
    force: body.force === true,
  };
  const instanceId = backfillInstanceId(
    scopeKey(scope),
    datasets,
    windows.map((w) => w.month),
  );
  return { ok: true, value: { request, windows, instanceId } };
}

function normaliseDestination(d: BackfillRequestDestination): BackfillRequestDestination {
  const root = d.rootFolderPath?.trim().replace(/^\/+|\/+$/g, '');
  const rest = { container: d.container, ...(root ? { rootFolderPath: root } : {}) };
  return 'resourceId' in d
    ? { resourceId: d.resourceId, ...rest }
    : { storageAccount: d.storageAccount, ...(d.tokenId ? { tokenId: d.tokenId } : {}), ...rest };
}

// ----------------------------------------------------------------------------- the SAS token check

/** A generous per-run allowance (Cost Management usually lands a month in minutes; retries and
 * queueing can take hours) used to decide whether a token outlives the backfill. */
export const ESTIMATED_MINUTES_PER_RUN = 60;

/** How long the backfill should take: waves of `concurrency` runs, an hour each, plus an hour. */
export function estimateBackfillMs(chunks: number, concurrency: number): number {
  return (Math.ceil(chunks / Math.max(1, concurrency)) + 1) * ESTIMATED_MINUTES_PER_RUN * 60_000;
}

export interface TokenMetadataReader {
  getToken(storageAccount: string, tokenId: string): Promise<TokenRecord | undefined>;
  listTokens(storageAccount: string): AsyncIterable<TokenRecord>;
}

/** The active token of an account with the latest expiry. */
async function activeToken(tokens: TokenMetadataReader, account: string): Promise<TokenRecord | undefined> {
  let best: TokenRecord | undefined;
  for await (const token of tokens.listTokens(account)) {
    if (token.status !== 'active') continue;
    if (!best || Date.parse(token.expiresOn) > Date.parse(best.expiresOn)) best = token;
  }
  return best;
}

/**
 * A SAS destination needs a registered, active token that does not expire before the backfill can
 * finish. Returns the token id to use, or the problems. Resource-id destinations pass unchanged.
 */
export async function checkBackfillToken(
  parsed: ParsedBackfill,
  tokens: TokenMetadataReader,
  now: Date,
): Promise<{ ok: true; destination: BackfillDestination } | { ok: false; errors: FieldError[] }> {
  const d = parsed.request.destination;
  if ('resourceId' in d) return { ok: true, destination: d };
  let token: TokenRecord | undefined;
  if (d.tokenId) {
    token = await tokens.getToken(d.storageAccount, d.tokenId);
    if (!token) {
      return fail(
        'destination.tokenId',
        `token "${d.tokenId}" is not registered for storage account ${d.storageAccount}`,
      );
    }
    if (token.status !== 'active')
      return fail('destination.tokenId', `token "${d.tokenId}" is ${token.status}, not active`);
  } else {
    token = await activeToken(tokens, d.storageAccount);
    if (!token) {
      return fail(
        'destination.storageAccount',
        `no active SAS token is registered for storage account ${d.storageAccount}; register one with POST /api/tokens`,
      );
    }
  }
  const chunks = parsed.windows.length * parsed.request.datasets.length;
  const finishBy = now.getTime() + estimateBackfillMs(chunks, parsed.request.concurrency);
  const expires = Date.parse(token.expiresOn);
  if (!Number.isFinite(expires) || expires < finishBy) {
    return fail(
      d.tokenId ? 'destination.tokenId' : 'destination.storageAccount',
      `the SAS token "${token.tokenId}" expires ${token.expiresOn}, before the backfill can finish ` +
        `(${chunks} runs at concurrency ${parsed.request.concurrency}: allow until ${new Date(finishBy).toISOString()}); rotate it first`,
    );
  }
  const { tokenId: _ignored, ...rest } = d;
  return { ok: true, destination: { ...rest, tokenId: token.tokenId } };
}

function fail(field: string, message: string): { ok: false; errors: FieldError[] } {
  return { ok: false, errors: [{ field, message }] };
}

// ------------------------------------------------------------------------- the orchestration input

/** Orchestration timing from settings. */
export function backfillTiming(settings: AppConfig['backfill']): BackfillTiming {
  const poll = settings.pollIntervalMinutes * 60_000;
  return {
    maxAttempts: settings.maxAttempts,
    pollIntervalMs: poll,
    maxPollIntervalMs: Math.max(poll, Math.min(poll * 8, 120 * 60_000)),
    landingTimeoutMs: settings.landingTimeoutMinutes * 60_000,
    retryBaseMs: 60_000,
    retryMaxMs: 30 * 60_000,
    maxThrottleWaits: 100,
  };
}

export function buildBackfillInput(
  parsed: ParsedBackfill,
  destination: BackfillDestination,
  timing: BackfillTiming,
  run = 1,
): BackfillInput {
  const r = parsed.request;
  return {
    backfillId: parsed.instanceId,
    run,
    scope: r.scope.canonical,
    datasets: r.datasets,
    windows: parsed.windows,
    destination,
    format: r.format,
    compression: r.compression,
    ...(r.dataVersion !== undefined ? { dataVersion: r.dataVersion } : {}),
    concurrency: r.concurrency,
    keepExports: r.keepExports,
    exportNamePrefix: DEFAULT_BACKFILL_PREFIX,
    timing,
  };
}

/** The sub-orchestration ids a backfill run uses (for DELETE, which terminates them too). */
export function monthInstanceIds(
  input: Pick<BackfillInput, 'backfillId' | 'run' | 'datasets' | 'windows'>,
): string[] {
  return input.windows.flatMap((w) =>
    input.datasets.map((d) => monthInstanceId(input.backfillId, input.run, d, w.month)),
  );
}

// -------------------------------------------------------------------------------------- activities

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
  const message = redactSecrets(error instanceof Error ? error.message : String(error));
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
    rootFolderPath: (d.rootFolderPath ?? '').replace(/^\/+|\/+$/g, ''),
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
    async putExport({ task, instanceId }: PutExportInput): Promise<CallResult<{ created: boolean }>> {
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
    },

    /** POST …/run for the month's period. */
    async runExport({ task, instanceId, attempt, readPriorRuns }: RunExportInput): Promise<RunExportResult> {
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
    },

    /** The newest run of the export for this month's period that is not an earlier attempt's. */
    async readRun({ task, excludeRunIds }: ReadRunInput): Promise<ReadRunResult> {
      try {
        const runs = await deps.costExports.runHistory(task.scope, task.exportName);
        const day = (iso: string | undefined) => iso?.slice(0, 10);
        const candidates = runs.filter(
          (r) =>
            r.runId !== undefined &&
            !excludeRunIds.includes(r.runId) &&
            (r.startDate === undefined || day(r.startDate) === day(task.from)),
        );
        candidates.sort((a, b) => Date.parse(b.submittedTime ?? '') - Date.parse(a.submittedTime ?? '') || 0);
        const run = candidates[0];
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
    },

    /** Checks a landed run against the export's run history before it may complete the month. A
     * refused landing is marked rejected in the catalog (the trigger logs it); the month keeps waiting. */
    async confirmLanding({ task, runId, landingKey }: ConfirmLandingInput): Promise<ConfirmLandingResult> {
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
    },

    /** Records the month's outcome and deletes its temporary export (a missing export is fine). */
    async finishMonth({
      task,
      instanceId,
      result,
      deleteExport,
    }: FinishMonthInput): Promise<CallResult<{ deleted: boolean }>> {
      try {
        const record = runRecord(task, instanceId, statusOf(result), now(), {
          attempts: result.attempts,
          ...(result.runId ? { runId: result.runId } : {}),
          ...(result.error ? { error: result.error } : {}),
        });
        await deps.catalog.upsertBackfillRun(record);
        await deps.ledger?.recordBackfillMonth(record);
        if (!deleteExport) return { kind: 'ok', deleted: false };
        try {
          await deps.costExports.delete(task.scope, task.exportName);
        } catch (error) {
          if (!(error instanceof ExportNotFoundError)) throw error;
        }
        return { kind: 'ok', deleted: true };
      } catch (error) {
        return toCallResult(error);
      }
    },
  };
}

export type BackfillActivities = ReturnType<typeof createBackfillActivities>;

function statusOf(result: MonthResult): BackfillRunStatus {
  if (result.outcome === 'Completed') return 'landed';
  if (result.outcome === 'NoData') return 'dataNotAvailable';
  return result.failure === 'landingTimedOut' ? 'timedOut' : 'failed';
}

// ------------------------------------------------------------------------------------ cancellation

export interface CleanupSummary {
  deleted: string[];
  failed: { exportName: string; error: string }[];
}

/** After DELETE terminated the orchestration: removes the exports of months still in flight and
 * marks them cancelled. Finished months already cleaned up after themselves. */
export async function cleanupBackfill(deps: BackfillDeps, backfillId: string): Promise<CleanupSummary> {
  const now = deps.now ?? (() => new Date());
  const summary: CleanupSummary = { deleted: [], failed: [] };
  for await (const run of deps.catalog.listBackfillRuns(backfillId)) {
    if (run.status !== 'pending' && run.status !== 'submitted') continue;
    try {
      try {
        await deps.costExports.delete(run.scope, run.exportName);
      } catch (error) {
        if (!(error instanceof ExportNotFoundError)) throw error;
      }
      await deps.catalog.upsertBackfillRun({
        backfillId: run.backfillId,
        dataset: run.dataset,
        month: run.month,
        exportName: run.exportName,
        scope: run.scope,
        instanceId: run.instanceId,
        status: 'cancelled',
        ...(run.runId !== undefined ? { runId: run.runId } : {}),
        ...(run.attempts !== undefined ? { attempts: run.attempts } : {}),
        ...(run.destination ? { destination: run.destination } : {}),
        updatedAt: now().toISOString(),
      });
      summary.deleted.push(run.exportName);
    } catch (error) {
      const result = toCallResult(error);
      summary.failed.push({
        exportName: run.exportName,
        error:
          result.kind === 'throttled'
            ? 'throttled; delete it later'
            : result.kind === 'error'
              ? result.message
              : '',
      });
    }
  }
  return summary;
}
