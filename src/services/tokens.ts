// SAS token use cases: register (validate, probe, store), rotate (the same, then push the new token to
// every export that delivers to the account) and list (metadata and days left). The token value goes
// only to the probe, the secret store and the export PUT bodies; everything returned, logged or written
// to a table is metadata: expiry, permissions, secret name and version, and a one-way fingerprint.
//
// The fingerprint is the token's id in the `tokens` table and is written to each export row's
// `destination.tokenRef` when that export is given the token, so after a partial rotation the exports
// table says exactly which exports still carry an older token.
import { ConflictError, isCostManagementError, ThrottledError } from '../azure/armErrors';
import type { Catalog, ExportRecord, Stored, TokenRecord } from '../azure/catalog';
import type { CostExportsApi } from '../azure/costExports';
import type {
  CompressionMode,
  DataOverwriteBehavior,
  Export,
  ExportDefinitionBody,
  ExportPutBody,
  ExportScheduleBody,
  FormatType,
} from '../azure/exportModels';
import type { SasProbe, SasProbeResult } from '../azure/sasProbe';
import { SAS_CONTENT_TYPE, sasSecretName, type SecretStore, SecretStoreError } from '../azure/secrets';
import type { FieldError } from '../domain/fieldError';
import { redactError } from '../domain/redact';
import {
  exportTokenProblems,
  normalizeSasToken,
  parseSasToken,
  type SasProblem,
  type SasToken,
  SasTokenError,
  sasTokenFingerprint,
} from '../domain/sasToken';

// ------------------------------------------------------------------------------------ request parsing

/** A request the caller can fix. `status` is the HTTP answer; `field` names the offending input. */
export class TokenRequestError extends Error {
  constructor(
    readonly status: 400 | 422 | 503,
    readonly code: string,
    readonly field: string | undefined,
    message: string,
    readonly details: { problems?: SasProblem[]; probe?: SasProbeResult } = {},
  ) {
    super(message);
    this.name = 'TokenRequestError';
  }

  /** The field problem, in the API's one error shape (messages come from redacting parsers). */
  get fields(): FieldError[] {
    return this.field ? [{ field: this.field, message: this.message }] : [];
  }
}

export interface RegisterTokenRequest {
  storageAccount: string;
  container: string;
  sasToken: string;
}

export interface RotateTokenRequest {
  storageAccount: string;
  sasToken: string;
  /** Container to probe; default: the container of an export that delivers to the account. */
  container?: string;
}

const STORAGE_ACCOUNT = /^[a-z0-9]{3,24}$/;
const CONTAINER = /^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;
const MAX_TOKEN_LENGTH = 4096;

const bad = (field: string, message: string) => new TokenRequestError(400, 'InvalidRequest', field, message);

function requestObject(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw bad('body', 'expected a JSON object');
  }
  return body as Record<string, unknown>;
}

export function validateStorageAccount(value: unknown, field = 'storageAccount'): string {
  if (value === undefined || value === null || value === '') throw bad(field, `${field} is required`);
  if (typeof value !== 'string' || !STORAGE_ACCOUNT.test(value)) {
    throw bad(field, `${field}: expected a storage account name (3-24 lower-case letters and digits)`);
  }
  return value;
}

function validateContainer(value: unknown, field = 'container'): string {
  if (value === undefined || value === null || value === '') throw bad(field, `${field} is required`);
  if (typeof value !== 'string' || !CONTAINER.test(value)) {
    throw bad(field, `${field}: expected a container name (3-63 lower-case letters, digits, single hyphens)`);
  }
  return value;
}

/** Only the shape is checked here; parseSasToken judges the content. Never echoes the value. */
function validateTokenText(value: unknown, field = 'sasToken'): string {
  if (value === undefined || value === null || value === '') throw bad(field, `${field} is required`);
  if (typeof value !== 'string') throw bad(field, `${field}: expected a string`);
  if (value.length > MAX_TOKEN_LENGTH) {
    throw bad(field, `${field}: longer than ${MAX_TOKEN_LENGTH} characters`);
  }
  return value.trim();
}

export function parseRegisterRequest(body: unknown): RegisterTokenRequest {
  const b = requestObject(body);
  return {
    storageAccount: validateStorageAccount(b.storageAccount),
    container: validateContainer(b.container),
    sasToken: validateTokenText(b.sasToken),
  };
}

export function parseRotateRequest(storageAccount: unknown, body: unknown): RotateTokenRequest {
  const account = validateStorageAccount(storageAccount);
  const b = requestObject(body);
  return {
    storageAccount: account,
    sasToken: validateTokenText(b.sasToken),
    ...(b.container === undefined ? {} : { container: validateContainer(b.container) }),
  };
}

/** Parses the token; a malformed one is a 400 naming `sasToken.{param}` (e.g. `sasToken.se`). */
export function parseTokenField(sasToken: string): SasToken {
  try {
    return parseSasToken(sasToken);
  } catch (error) {
    if (error instanceof SasTokenError) {
      const field = error.field === 'token' ? 'sasToken' : `sasToken.${error.field}`;
      throw bad(field, `sasToken: ${error.message}`);
    }
    throw error;
  }
}

// ------------------------------------------------------------------------------------------ use cases

export type TokensCatalog = Pick<Catalog, 'activateToken' | 'listTokens' | 'listExports' | 'modifyExport'>;

export interface RotationLimits {
  /** Attempts per export (GET + PUT each). Default 4. */
  maxAttempts: number;
  /** A 429 asking for a longer wait than this is reported, not waited for. Default 10 s. */
  maxWaitMs: number;
  /** Exports updated at once. Default 4. */
  concurrency: number;
}

export interface TokensDeps {
  catalog: TokensCatalog;
  secrets: SecretStore;
  probe: SasProbe;
  costExports: Pick<CostExportsApi, 'get' | 'createOrUpdate'>;
  now(): Date;
  sleep(ms: number): Promise<void>;
  rotation?: Partial<RotationLimits>;
  /** A token must stay valid at least this long to be accepted. Default 1 day. */
  minValidDays?: number;
  /** Tolerate `spr=https,http`: only when the probe target is plain http on this machine (Azurite
   * enforces `spr`, so an https-only token cannot be probed there). Never in Azure. */
  allowHttpTokens?: boolean;
}

/** What callers see of a token: never its value. */
export interface TokenView {
  storageAccount: string;
  tokenId: string;
  fingerprint: string;
  status: TokenRecord['status'];
  expiresOn: string;
  startsOn?: string;
  daysLeft: number;
  permissions: string;
  services?: string;
  resourceTypes?: string;
  secretName: string;
  secretVersion?: string;
  rotatedAt?: string;
}

export interface RotationResult {
  scope: string;
  exportName: string;
  status: 'updated' | 'failed';
  error?: string;
  attempts: number;
}

export interface RotationOutcome {
  token: TokenView;
  results: RotationResult[];
  updated: number;
  failed: number;
}

const DAY_MS = 86_400_000;
const SERVICE_LETTERS: Record<string, string> = { blob: 'b', file: 'f', queue: 'q', table: 't' };
const RESOURCE_TYPE_LETTERS: Record<string, string> = { service: 's', container: 'c', object: 'o' };

export function tokenView(record: TokenRecord, now: Date): TokenView {
  const daysLeft = Math.floor((Date.parse(record.expiresOn) - now.getTime()) / DAY_MS);
  return {
    storageAccount: record.storageAccount,
    tokenId: record.tokenId,
    fingerprint: record.fingerprint,
    status: record.status,
    expiresOn: record.expiresOn,
    ...(record.startsOn ? { startsOn: record.startsOn } : {}),
    daysLeft,
    permissions: record.permissions,
    ...(record.services ? { services: record.services } : {}),
    ...(record.resourceTypes ? { resourceTypes: record.resourceTypes } : {}),
    secretName: record.secretName,
    ...(record.secretVersion ? { secretVersion: record.secretVersion } : {}),
    ...(record.rotatedAt ? { rotatedAt: record.rotatedAt } : {}),
  };
}

/** Validation, live probe and storage shared by register and rotate. Writes the metadata row only
 * after the secret store accepted the value, so a failure leaves no row without a secret. */
async function acceptToken(
  deps: TokensDeps,
  storageAccount: string,
  container: string,
  sasToken: string,
): Promise<{ record: TokenRecord; replacedTokenId?: string }> {
  const now = deps.now();
  const parsed = parseTokenField(sasToken);
  const problems = exportTokenProblems(parsed, now, { minValidDays: deps.minValidDays ?? 1 }).filter(
    (p) => !(deps.allowHttpTokens && p.code === 'httpAllowed'),
  );
  if (problems.length > 0) {
    throw new TokenRequestError(
      422,
      'TokenNotFitForExports',
      'sasToken',
      `sasToken: ${problems.map((p) => p.message).join('; ')}`,
      { problems },
    );
  }
  const normalized = normalizeSasToken(sasToken);
  const probe = await deps.probe({ storageAccount, container, sasToken: normalized });
  if (!probe.ok) throw probeError(probe);

  const fingerprint = sasTokenFingerprint(normalized);
  const secretName = sasSecretName(storageAccount);
  let stored;
  try {
    stored = await deps.secrets.set(secretName, normalized, {
      expiresOn: parsed.expiresOn,
      contentType: SAS_CONTENT_TYPE,
      tags: { storageAccount, fingerprint, purpose: 'cost-export-sas' },
    });
  } catch (error) {
    if (error instanceof SecretStoreError) {
      throw new TokenRequestError(
        503,
        'SecretStoreUnavailable',
        undefined,
        `the token was not registered: ${error.message}; nothing was written, try again later`,
      );
    }
    throw error;
  }
  const record: TokenRecord = {
    storageAccount,
    tokenId: fingerprint,
    expiresOn: parsed.expiresOn.toISOString(),
    ...(parsed.startsOn ? { startsOn: parsed.startsOn.toISOString() } : {}),
    permissions: parsed.permissionLetters,
    services: parsed.services.map((s) => SERVICE_LETTERS[s]).join(''),
    ...(parsed.resourceTypes.length > 0
      ? { resourceTypes: parsed.resourceTypes.map((t) => RESOURCE_TYPE_LETTERS[t]).join('') }
      : {}),
    secretName,
    secretVersion: stored.version,
    fingerprint,
    status: 'active',
  };
  // Older active tokens of the account are superseded (the secret's newest version is this one), in
  // one ETag-guarded transaction, so parallel registrations leave exactly one active token.
  const { replacedTokenId } = await deps.catalog.activateToken(record, now.toISOString());
  return { record, ...(replacedTokenId !== undefined ? { replacedTokenId } : {}) };
}

/** Codes of a probe step that got no answer at all: the network or the service, not the token. */
const NO_ANSWER = new Set([
  'REQUEST_SEND_ERROR',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'Timeout',
]);

function probeError(probe: SasProbeResult): TokenRequestError {
  const failed = probe.steps.find((s) => !s.ok);
  const code = failed?.code ?? '';
  // No answer (a network failure) or a 5xx: the service failed, so the token is not to blame.
  const noAnswer = failed?.status === undefined && NO_ANSWER.has(code);
  if (failed && (noAnswer || (failed.status ?? 0) >= 500)) {
    return new TokenRequestError(
      503,
      'StorageUnavailable',
      undefined,
      `the storage account did not answer the probe (${failed.step}: ${failed.status === undefined ? 'no answer' : `HTTP ${failed.status}`}); the token was not judged and nothing was registered, try again later`,
    );
  }
  // Which input is wrong, as far as the storage answer tells.
  const field =
    code === 'ContainerNotFound'
      ? 'container'
      : /AccountNotFound|ENOTFOUND|EAI_AGAIN|InvalidResourceName|AccountIsDisabled/.test(code)
        ? 'storageAccount'
        : 'sasToken';
  return new TokenRequestError(
    field === 'storageAccount' ? 400 : 422,
    'ProbeFailed',
    field,
    `the storage service refused the token: ${probe.message ?? 'probe failed'}`,
    { probe },
  );
}

export async function registerToken(deps: TokensDeps, request: RegisterTokenRequest): Promise<TokenView> {
  const { record } = await acceptToken(deps, request.storageAccount, request.container, request.sasToken);
  return tokenView(record, deps.now());
}

export async function listTokens(deps: Pick<TokensDeps, 'catalog' | 'now'>): Promise<TokenView[]> {
  const now = deps.now();
  const out: TokenView[] = [];
  for await (const record of deps.catalog.listTokens()) out.push(tokenView(record, now));
  return out;
}

/** SAS-delivered exports that write to `storageAccount`. */
async function exportsOfAccount(
  catalog: TokensCatalog,
  storageAccount: string,
): Promise<Stored<ExportRecord>[]> {
  const out: Stored<ExportRecord>[] = [];
  for await (const row of catalog.listExports()) {
    if (row.destination.storageAccount === storageAccount && row.destination.sasDelivered && !row.missing) {
      out.push(row);
    }
  }
  return out;
}

export async function rotateToken(deps: TokensDeps, request: RotateTokenRequest): Promise<RotationOutcome> {
  const { storageAccount } = request;
  const targets = await exportsOfAccount(deps.catalog, storageAccount);
  let known = targets.length > 0;
  if (!known) {
    for await (const _ of deps.catalog.listTokens(storageAccount)) {
      known = true;
      break;
    }
  }
  if (!known) {
    throw bad(
      'storageAccount',
      `storageAccount: "${storageAccount}" has no registered token and no export delivers to it; register a token first (POST /api/tokens)`,
    );
  }
  const container = request.container ?? targets[0]?.destination.container;
  if (!container) throw bad('container', 'container is required: no export of this account names one');

  // The token it supersedes is what an export this rotation cannot reach still carries.
  const { record, replacedTokenId } = await acceptToken(deps, storageAccount, container, request.sasToken);
  const sasToken = normalizeSasToken(request.sasToken);
  const limits: RotationLimits = { maxAttempts: 4, maxWaitMs: 10_000, concurrency: 4, ...deps.rotation };

  const results: RotationResult[] = new Array<RotationResult>(targets.length);
  let next = 0;
  const worker = async () => {
    while (next < targets.length) {
      const index = next++;
      const target = targets[index]!;
      const result = await pushToken(deps, limits, target, sasToken, record.fingerprint);
      if (result.status === 'failed') await recordOldToken(deps, target, replacedTokenId);
      results[index] = result;
    }
  };
  await Promise.all(Array.from({ length: Math.min(limits.concurrency, targets.length) }, worker));
  const updated = results.filter((r) => r.status === 'updated').length;
  return { token: tokenView(record, deps.now()), results, updated, failed: results.length - updated };
}

/** An export the rotation could not reach keeps its old token. Its row must say so even when no
 * rotation reached it before (no tokenRef yet): the watch compares tokenRef with the account's
 * current token and names the export in every digest until a rotation reaches it. */
async function recordOldToken(
  deps: TokensDeps,
  target: Stored<ExportRecord>,
  previousTokenId: string | undefined,
): Promise<void> {
  if (target.destination.tokenRef !== undefined) return; // already names the token it carries
  try {
    await deps.catalog.modifyExport(target.scope, target.exportName, (row) =>
      row.destination.tokenRef !== undefined
        ? undefined
        : {
            ...row,
            destination: { ...row.destination, tokenRef: previousTokenId ?? UNREGISTERED_TOKEN_REF },
            updatedAt: deps.now().toISOString(),
          },
    );
  } catch {
    // The answer still lists this export as failed; the next rotation tries it again.
  }
}

/** tokenRef of an export that carries a token this app never registered (set before the app). */
export const UNREGISTERED_TOKEN_REF = 'unregistered';

/** GET for a fresh eTag, PUT with it; conflicts retried at once, 429s after their wait (capped). */
async function pushToken(
  deps: TokensDeps,
  limits: RotationLimits,
  target: Stored<ExportRecord>,
  sasToken: string,
  fingerprint: string,
): Promise<RotationResult> {
  const base = { scope: target.scope, exportName: target.exportName };
  let lastError = 'not attempted';
  for (let attempt = 1; attempt <= limits.maxAttempts; attempt++) {
    try {
      const current = await deps.costExports.get(target.scope, target.exportName);
      await deps.costExports.createOrUpdate(target.scope, target.exportName, rotationBody(current, sasToken));
      await deps.catalog.modifyExport(target.scope, target.exportName, (row) => ({
        ...row,
        destination: { ...row.destination, tokenRef: fingerprint },
        updatedAt: deps.now().toISOString(),
      }));
      return { ...base, status: 'updated', attempts: attempt };
    } catch (error) {
      lastError = describeCostError(error);
      if (error instanceof ConflictError) continue;
      if (error instanceof ThrottledError && error.retryAfterMs <= limits.maxWaitMs) {
        if (attempt < limits.maxAttempts) await deps.sleep(error.retryAfterMs);
        continue;
      }
      return { ...base, status: 'failed', error: lastError, attempts: attempt };
    }
  }
  return {
    ...base,
    status: 'failed',
    error: `gave up after ${limits.maxAttempts} attempts: ${lastError}`,
    attempts: limits.maxAttempts,
  };
}

function describeCostError(error: unknown): string {
  if (isCostManagementError(error)) {
    const wait = error instanceof ThrottledError ? `, retry after ${error.retryAfterMs} ms` : '';
    return `${error.code}${error.status === undefined ? '' : ` (HTTP ${error.status})`}${wait}`;
  }
  return redactError(error).slice(0, 300);
}

/** The export as it is, with the new token: every writable field carried over from the GET. */
export function rotationBody(current: Export, sasToken: string): ExportPutBody {
  const p = current.properties;
  const d = p.deliveryInfo.destination;
  const schedule = p.schedule;
  const scheduleBody: ExportScheduleBody | undefined = schedule
    ? {
        ...(schedule.status ? { status: schedule.status as ExportScheduleBody['status'] } : {}),
        ...(schedule.recurrence
          ? { recurrence: schedule.recurrence as ExportScheduleBody['recurrence'] }
          : {}),
        ...(schedule.recurrencePeriod?.from
          ? {
              recurrencePeriod: {
                from: schedule.recurrencePeriod.from,
                ...(schedule.recurrencePeriod.to ? { to: schedule.recurrencePeriod.to } : {}),
              },
            }
          : {}),
      }
    : undefined;
  return {
    ...(current.eTag ? { eTag: current.eTag } : {}),
    ...(current.identity?.type === 'SystemAssigned' ? { identity: { type: 'SystemAssigned' as const } } : {}),
    ...(current.location ? { location: current.location } : {}),
    properties: {
      format: (p.format ?? 'Csv') as FormatType,
      deliveryInfo: {
        destination: {
          type: 'AzureBlob',
          ...(d.resourceId ? { resourceId: d.resourceId } : {}),
          ...(d.storageAccount ? { storageAccount: d.storageAccount } : {}),
          container: d.container,
          // An export made before the service refused a leading "/" may still carry one: the
          // same folder without it keeps the PUT valid.
          ...(d.rootFolderPath !== undefined ? { rootFolderPath: d.rootFolderPath.replace(/^\/+/, '') } : {}),
          sasToken,
        },
      },
      definition: p.definition as ExportDefinitionBody,
      partitionData: p.partitionData ?? true,
      dataOverwriteBehavior: (p.dataOverwriteBehavior ?? 'OverwritePreviousReport') as DataOverwriteBehavior,
      compressionMode: (p.compressionMode ?? 'none') as CompressionMode,
      ...(p.exportDescription ? { exportDescription: p.exportDescription } : {}),
      ...(scheduleBody ? { schedule: scheduleBody } : {}),
    },
  };
}

/** Default sleep for rotation waits (tests pass their own). */
export const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
