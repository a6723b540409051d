// The Cost Management Exports API at api-version 2025-03-01.
//
// @azure/arm-costmanagement (1.0.0-beta.2) speaks 2022-10-01 and its serializer silently drops
// dataVersion, compressionMode, dataOverwriteBehavior, exportDescription, identity, location and the
// run body's timePeriod. So we keep its authenticated ARM pipeline (bearer token for ARM, claims
// challenges, user agent, TLS options) and send our own typed bodies through `client.sendRequest`.
//
// Retries: the SDK's default retry policy also honours Retry-After on 429 by sleeping (up to
// minutes). Throttling waits belong to the orchestration's durable timers, so that policy is
// replaced by one that retries only transient failures (408, 5xx other than 501/505, network
// errors), never a response that carries a retry-after hint, with bounded exponential backoff:
// by default at most 3 retries sleeping 0.5–1 s, 1–2 s and 2–4 s, so ≤ 7 s of sleeping and 4
// attempts per call. A 429 comes back at once as ThrottledError carrying the wait. Each call also
// has a deadline (requestTimeoutMs, default 120 s, retries included).
import { rootCertificates } from 'node:tls';

import type * as ArmCostManagement from '@azure/arm-costmanagement';
import type { CostManagementClient } from '@azure/arm-costmanagement';
import type { PipelineResponse, RetryStrategy } from '@azure/core-rest-pipeline';
import {
  createHttpHeaders,
  createPipelineRequest,
  isRestError,
  retryPolicy,
} from '@azure/core-rest-pipeline';
import type { TokenCredential } from '@azure/identity';

import type { AppConfig, Env } from '../config';
import type { Scope } from '../domain/scope';
import { parseScope } from '../domain/scope';
import type { CostExportsOperation, CostManagementErrorContext } from './armErrors';
import {
  ArmResponseError,
  ArmServiceError,
  AuthorizationError,
  DEFAULT_THROTTLE_WAIT_MS,
  errorFromResponse,
  redactSecrets,
  retryAfterFromHeaders,
  ThrottledError,
} from './armErrors';
import { ARM_TOKEN_SCOPE, costManagementAccess } from './credentials';
import { buildRunRequest } from './exportBody';
import type { Export, ExportPutBody, ExportRun } from './exportModels';
import { EXPORTS_API_VERSION } from './exportModels';
import { parseExport, parseExportList, parseRunList, ResponseShapeError } from './exportResponses';
import { lazyModule } from './lazyModule';
import type { BudgetKey, BudgetLevel, BudgetTickets, ThrottleBudget } from './throttleBudget';

// Loaded when the first client is built, not when the host imports the app (see lazyModule.ts).
const costManagementSdk = lazyModule<typeof ArmCostManagement>('@azure/arm-costmanagement');

/** A scope as text (any of the nine kinds, slashes tolerated) or already parsed. */
export type ScopeInput = Scope | string;

export interface CallOptions {
  abortSignal?: AbortSignal;
}

export interface ExpandOptions extends CallOptions {
  /** `$expand=runHistory`: the last run of each export (list) or the last 10 runs (get). */
  expandRunHistory?: boolean;
}

export interface RunOptions extends CallOptions {
  /** Run for this period instead of the export's own (at most one calendar month). */
  timePeriod?: { from: string | Date; to: string | Date };
}

export interface CreateOrUpdateResult {
  export: Export;
  /** True on 201 (created), false on 200 (updated). */
  created: boolean;
}

/**
 * What services depend on. Every method throws only CostManagementError subclasses (see
 * armErrors.ts) for service failures, ExportBodyError / ScopeError for invalid input before any
 * request, or the caller's own AbortError.
 */
export interface CostExportsApi {
  list(scope: ScopeInput, options?: ExpandOptions): Promise<Export[]>;
  get(scope: ScopeInput, exportName: string, options?: ExpandOptions): Promise<Export>;
  /** PUT; for an update, `body.eTag` must be the current one (409/412 → ConflictError). */
  createOrUpdate(
    scope: ScopeInput,
    exportName: string,
    body: ExportPutBody,
    options?: CallOptions,
  ): Promise<CreateOrUpdateResult>;
  /** 404 → ExportNotFoundError (callers wanting idempotent deletes catch it). */
  delete(scope: ScopeInput, exportName: string, options?: CallOptions): Promise<void>;
  /** POST …/run. The service queues the run and returns no run id: read runHistory to find it. */
  run(scope: ScopeInput, exportName: string, options?: RunOptions): Promise<void>;
  runHistory(scope: ScopeInput, exportName: string, options?: CallOptions): Promise<ExportRun[]>;
}

export interface TransientRetryOptions {
  /** Retries after the first attempt. Default 3. */
  maxRetries?: number;
  /** Backoff base: retry n sleeps between ½ and 1 × min(max, base × 2ⁿ). Default 1000. */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
}

export interface CostExportsClientOptions {
  credential: TokenCredential;
  /** Sent as the `ClientType` header: the app's own throttling bucket. */
  clientType: string;
  /** Default https://management.azure.com; must be https (the bearer policy refuses http). */
  endpoint?: string;
  /** An extra CA certificate (PEM) to trust, on top of Node's bundled roots. */
  caPem?: string;
  retry?: TransientRetryOptions;
  /** Deadline for a whole call, retries included. Default 120 s. */
  requestTimeoutMs?: number;
  /** The wait a 429 without usable headers asks for. Default 60 s. */
  defaultThrottleWaitMs?: number;
  /** Clock for HTTP-date Retry-After values. */
  now?: () => number;
  /** The shared pacing budget (throttleBudget.ts): every call waits for its slot there, and every
   * 429 teaches it. Without one, calls go out unpaced. */
  budget?: ThrottleBudget;
}

export const DEFAULT_ENDPOINT = 'https://management.azure.com';
export const DEFAULT_TRANSIENT_RETRY: Required<TransientRetryOptions> = {
  maxRetries: 3,
  retryDelayMs: 1000,
  maxRetryDelayMs: 8000,
};
const USER_AGENT_PREFIX = 'cost-export-autopilot';
const CLIENT_TYPE = /^[\w.-]{1,64}$/;
export const SDK_DEFAULT_RETRY_POLICY = 'defaultRetryPolicy';
export const SDK_DESERIALIZATION_POLICY = 'deserializationPolicy';
// The spec gives no rule for export names; refuse only what would break or redirect the URL.
const UNSAFE_NAME = /[/\\?#%\u0000-\u001f]/;
const NETWORK_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'ECONNABORTED',
  'REQUEST_SEND_ERROR',
]);
const HINT_HEADER =
  /^(retry-after|retry-after-ms|x-ms-retry-after-ms|x-ms-ratelimit-[a-z0-9.-]*retry-after)$/i;

/** Retries transient failures only, and never one that says how long to wait (see file header). */
export function transientRetryStrategy(options: Required<TransientRetryOptions>): RetryStrategy {
  return {
    name: 'costExportsTransientRetry',
    retry({ retryCount, response, responseError }) {
      if (response) {
        const s = response.status;
        const transient = s === 408 || (s >= 500 && s !== 501 && s !== 505);
        const hinted = [...response.headers].some(([name]) => HINT_HEADER.test(name));
        if (!transient || hinted) return { skipStrategy: true };
      } else if (!responseError?.code || !NETWORK_ERRORS.has(responseError.code)) {
        return { skipStrategy: true };
      }
      const cap = Math.min(options.maxRetryDelayMs, options.retryDelayMs * 2 ** retryCount);
      return { retryAfterInMs: Math.round(cap / 2 + Math.random() * (cap / 2)) };
    },
  };
}

interface Target {
  operation: CostExportsOperation;
  scope: Scope;
  exportName?: string;
}

export class CostExportsClient implements CostExportsApi {
  private readonly client: CostManagementClient;
  private readonly endpoint: string;
  private readonly clientType: string;
  private readonly timeoutMs: number;
  private readonly defaultThrottleWaitMs: number;
  private readonly now: () => number;
  private readonly budget: ThrottleBudget | undefined;

  constructor(options: CostExportsClientOptions) {
    this.budget = options.budget;
    this.endpoint = validateEndpoint(options.endpoint ?? DEFAULT_ENDPOINT);
    if (!CLIENT_TYPE.test(options.clientType)) {
      throw new Error(
        `clientType: expected letters, digits, . _ - (at most 64), got "${options.clientType}"`,
      );
    }
    this.clientType = options.clientType;
    this.timeoutMs = options.requestTimeoutMs ?? 120_000;
    if (!Number.isInteger(this.timeoutMs) || this.timeoutMs <= 0) {
      throw new Error(`requestTimeoutMs: expected a positive whole number, got ${this.timeoutMs}`);
    }
    this.defaultThrottleWaitMs = options.defaultThrottleWaitMs ?? DEFAULT_THROTTLE_WAIT_MS;
    this.now = options.now ?? Date.now;
    const retry = validateRetry({ ...DEFAULT_TRANSIENT_RETRY, ...options.retry });

    this.client = new (costManagementSdk().CostManagementClient)(options.credential, {
      endpoint: this.endpoint,
      // Keep ARM's audience even when requests go to the emulator.
      credentialScopes: [ARM_TOKEN_SCOPE],
      userAgentOptions: { userAgentPrefix: USER_AGENT_PREFIX },
      ...(options.caPem ? { tlsOptions: { ca: [...rootCertificates, options.caPem] } } : {}),
    });
    const pipeline = this.client.pipeline;
    // We parse bodies ourselves; the SDK's parser would throw on malformed JSON with the body quoted.
    pipeline.removePolicy({ name: SDK_DESERIALIZATION_POLICY });
    pipeline.removePolicy({ name: SDK_DEFAULT_RETRY_POLICY });
    pipeline.addPolicy(retryPolicy([transientRetryStrategy(retry)], { maxRetries: retry.maxRetries }), {
      phase: 'Retry',
    });
    // Fail loudly if a future SDK renames its retry policy: a sleeping 429 retry must never return.
    const leftovers = pipeline.getOrderedPolicies().filter((p) => /throttl|defaultRetry/i.test(p.name));
    if (leftovers.length > 0) {
      throw new Error(
        `unexpected retry policies in the ARM pipeline: ${leftovers.map((p) => p.name).join(', ')}`,
      );
    }
  }

  async list(scope: ScopeInput, options: ExpandOptions = {}): Promise<Export[]> {
    const target = { operation: 'list' as const, scope: toScope(scope) };
    const response = await this.send(target, 'GET', '', options, { expand: options.expandRunHistory });
    this.expectStatus(target, response, [200]);
    return this.parse(target, response, parseExportList);
  }

  async get(scope: ScopeInput, exportName: string, options: ExpandOptions = {}): Promise<Export> {
    const target = this.target('get', scope, exportName);
    const response = await this.send(target, 'GET', '', options, { expand: options.expandRunHistory });
    this.expectStatus(target, response, [200]);
    return this.parse(target, response, (json) => parseExport(json));
  }

  async createOrUpdate(
    scope: ScopeInput,
    exportName: string,
    body: ExportPutBody,
    options: CallOptions = {},
  ): Promise<CreateOrUpdateResult> {
    const target = this.target('createOrUpdate', scope, exportName);
    const sasToken = body.properties?.deliveryInfo?.destination?.sasToken;
    const secrets = sasToken ? secretForms(sasToken) : [];
    const response = await this.send(target, 'PUT', '', options, { body, secrets });
    this.expectStatus(target, response, [200, 201], secrets);
    return {
      export: this.parse(target, response, (json) => parseExport(json)),
      created: response.status === 201,
    };
  }

  async delete(scope: ScopeInput, exportName: string, options: CallOptions = {}): Promise<void> {
    const target = this.target('delete', scope, exportName);
    const response = await this.send(target, 'DELETE', '', options);
    this.expectStatus(target, response, [200, 204]);
  }

  async run(scope: ScopeInput, exportName: string, options: RunOptions = {}): Promise<void> {
    const target = this.target('run', scope, exportName);
    const body = buildRunRequest(options.timePeriod);
    const response = await this.send(target, 'POST', '/run', options, body ? { body } : {});
    this.expectStatus(target, response, [200, 202, 204]);
  }

  async runHistory(scope: ScopeInput, exportName: string, options: CallOptions = {}): Promise<ExportRun[]> {
    const target = this.target('runHistory', scope, exportName);
    const response = await this.send(target, 'GET', '/runHistory', options);
    this.expectStatus(target, response, [200]);
    return this.parse(target, response, (json) => parseRunList(json));
  }

  /** `{endpoint}{scope}/providers/Microsoft.CostManagement/exports[/{name}{suffix}]?api-version=…`. */
  url(scope: ScopeInput, exportName?: string, suffix = '', expand = false): string {
    const base = `${this.endpoint}${toScope(scope).canonical}/providers/Microsoft.CostManagement/exports`;
    const path = exportName === undefined ? base : `${base}/${encodeURIComponent(exportName)}${suffix}`;
    return `${path}?api-version=${EXPORTS_API_VERSION}${expand ? '&$expand=runHistory' : ''}`;
  }

  private target(operation: CostExportsOperation, scope: ScopeInput, exportName: string): Target {
    return { operation, scope: toScope(scope), exportName: validateExportName(exportName) };
  }

  private context(target: Target): Omit<CostManagementErrorContext, 'status' | 'code' | 'requestId'> {
    return {
      operation: target.operation,
      scope: target.scope.canonical,
      ...(target.exportName !== undefined ? { exportName: target.exportName } : {}),
    };
  }

  private async send(
    target: Target,
    method: 'GET' | 'PUT' | 'POST' | 'DELETE',
    suffix: string,
    options: CallOptions,
    extra: { body?: unknown; expand?: boolean | undefined; secrets?: string[] } = {},
  ): Promise<PipelineResponse> {
    const headers = createHttpHeaders({ Accept: 'application/json', ClientType: this.clientType });
    if (extra.body !== undefined) headers.set('Content-Type', 'application/json');
    const budgetKey: BudgetKey = {
      service: new URL(this.endpoint).host,
      clientType: this.clientType,
      kind: target.operation === 'run' ? 'run' : 'other',
      scope: target.scope.canonical,
    };
    let tickets: BudgetTickets | undefined;
    if (this.budget) {
      const decision = await this.budget.acquire(budgetKey, options.abortSignal);
      if (decision.kind === 'defer') {
        // Nothing was sent: the caller waits exactly as for the service's own 429.
        throw new ThrottledError(
          { ...this.context(target), code: 'PacedByBudget' },
          'the shared pacing budget has no slot for this call yet',
          decision.retryAfterMs,
          'budget',
        );
      }
      tickets = decision.tickets;
    }
    // Our own deadline rather than the request's `timeout`: the SDK's http client leaves that timer
    // running after a connection error (keeping a process alive for its full length), while
    // AbortSignal.timeout's timer is unref'd. It bounds the whole call, retries included.
    const deadline = AbortSignal.timeout(this.timeoutMs);
    const request = createPipelineRequest({
      url: this.url(target.scope, target.exportName, suffix, extra.expand === true),
      method,
      headers,
      abortSignal: options.abortSignal ? AbortSignal.any([options.abortSignal, deadline]) : deadline,
      ...(extra.body !== undefined ? { body: JSON.stringify(extra.body) } : {}),
    });
    let response: PipelineResponse;
    try {
      response = await this.client.sendRequest(request);
    } catch (error) {
      throw this.transportError(target, error, options.abortSignal, extra.secrets ?? []);
    }
    if (response.status === 429 && this.budget) {
      const wait = retryAfterFromHeaders(response.headers, this.now(), this.defaultThrottleWaitMs);
      await this.budget.observeThrottle(budgetKey, throttledBucket(response), wait.retryAfterMs, tickets);
    } else if (this.budget) {
      await this.budget.observeAnswer(budgetKey, Object.fromEntries(remainingCounts(response)), tickets);
    }
    return response;
  }

  /** Errors raised before any usable response: network failures after retries, timeouts, tokens. */
  private transportError(
    target: Target,
    error: unknown,
    signal: AbortSignal | undefined,
    secrets: string[],
  ): unknown {
    const context = this.context(target);
    if (typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'AbortError') {
      if (signal?.aborted) return error; // the caller's own cancellation
      return new ArmServiceError(
        { ...context, code: 'RequestTimeout' },
        `no response within ${this.timeoutMs} ms`,
      );
    }
    if (isRestError(error)) {
      if (error.response && error.response.status >= 200 && error.response.status < 300) {
        return new ArmResponseError(
          { ...context, status: error.response.status, code: 'MalformedResponse' },
          'the response could not be read',
        );
      }
      if (error.response) {
        // A policy raised a RestError carrying a response: map it like any failed response.
        return errorFromResponse(
          context,
          {
            status: error.response.status,
            headers: error.response.headers,
            bodyText: error.response.bodyAsText ?? '',
          },
          { nowMs: this.now(), defaultThrottleWaitMs: this.defaultThrottleWaitMs, secrets },
        );
      }
      return new ArmServiceError(
        { ...context, code: error.code ?? 'RequestSendError' },
        redactSecrets(error.message, secrets),
      );
    }
    if (error instanceof Error && /Credential|Authentication/.test(error.name)) {
      return new AuthorizationError(
        { ...context, code: error.name },
        `could not get a token for ${ARM_TOKEN_SCOPE}: ${redactSecrets(error.message, secrets)}`,
      );
    }
    return error;
  }

  private expectStatus(
    target: Target,
    response: PipelineResponse,
    ok: number[],
    secrets: string[] = [],
  ): void {
    if (ok.includes(response.status)) return;
    const context = this.context(target);
    if (response.status >= 200 && response.status < 400) {
      throw new ArmResponseError(
        { ...context, status: response.status, code: 'UnexpectedStatus' },
        `expected HTTP ${ok.join(' or ')}`,
      );
    }
    throw errorFromResponse(
      context,
      { status: response.status, headers: response.headers, bodyText: response.bodyAsText ?? '' },
      { nowMs: this.now(), defaultThrottleWaitMs: this.defaultThrottleWaitMs, secrets },
    );
  }

  private parse<T>(target: Target, response: PipelineResponse, parser: (json: unknown) => T): T {
    const context = { ...this.context(target), status: response.status };
    const text = response.bodyAsText ?? '';
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      // Never quote the body: it may echo what we sent.
      throw new ArmResponseError(
        { ...context, code: 'MalformedResponse' },
        `response body is not JSON (${text.length} characters)`,
      );
    }
    try {
      return parser(json);
    } catch (error) {
      if (error instanceof ResponseShapeError) {
        throw new ArmResponseError({ ...context, code: 'UnexpectedResponseShape' }, error.message);
      }
      throw error;
    }
  }
}

/** Which bucket a 429 speaks for: the client-wide ones (client, tenant, qpu, clienttype headers)
 * or, by default and for the entity header, the scope's. */
function throttledBucket(response: PipelineResponse): BudgetLevel {
  for (const [name] of response.headers) {
    if (/^x-ms-ratelimit-microsoft\.costmanagement-(client|clienttype|tenant|qpu)-retry-after$/i.test(name)) {
      return 'client';
    }
  }
  return 'entity';
}

/** The remaining-call counts an answer reports, per bucket level: "DefaultQuota:7" in
 * x-ms-ratelimit-remaining-microsoft.costmanagement-{entity,tenant,clienttype,client}-requests
 * (microsoft/AzureTRE#2835, electrolux-oss/azure-cost-exporter#8). Several quotas in one value or
 * several headers for one level: the smallest counts. Anything unreadable is ignored. */
export function remainingCounts(response: Pick<PipelineResponse, 'headers'>): Map<BudgetLevel, number> {
  const counts = new Map<BudgetLevel, number>();
  for (const [name, value] of response.headers) {
    const bucket =
      /^x-ms-ratelimit-remaining-microsoft\.costmanagement-(entity|tenant|clienttype|client)-requests$/i.exec(
        name,
      )?.[1];
    if (!bucket) continue;
    const level: BudgetLevel = bucket.toLowerCase() === 'entity' ? 'entity' : 'client';
    for (const part of value.split(',')) {
      const match = /^\s*[A-Za-z0-9]+:(\d{1,9})\s*$/.exec(part);
      if (!match) continue;
      const n = Number(match[1]);
      counts.set(level, Math.min(n, counts.get(level) ?? n));
    }
  }
  return counts;
}

/** Exact forms of a SAS token to blank out of echoed messages, including its bare signature. */
function secretForms(sasToken: string): string[] {
  const sig = new URLSearchParams(sasToken.replace(/^\?/, '')).get('sig');
  return sig ? [sasToken, sig] : [sasToken];
}

function toScope(scope: ScopeInput): Scope {
  return typeof scope === 'string' ? parseScope(scope) : parseScope(scope.canonical);
}

function validateExportName(name: string): string {
  if (typeof name !== 'string' || name.trim() === '' || name.length > 256 || UNSAFE_NAME.test(name)) {
    throw new Error(
      `exportName: expected 1-256 characters without / \\ ? # % or control characters, got ${JSON.stringify(name)}`,
    );
  }
  return name;
}

function validateRetry(retry: Required<TransientRetryOptions>): Required<TransientRetryOptions> {
  const ok = (n: number, max: number) => Number.isInteger(n) && n >= 0 && n <= max;
  if (!ok(retry.maxRetries, 10)) throw new Error(`retry.maxRetries: expected 0-10, got ${retry.maxRetries}`);
  if (!ok(retry.retryDelayMs, 60_000) || !ok(retry.maxRetryDelayMs, 60_000)) {
    throw new Error(
      'retry.retryDelayMs and retry.maxRetryDelayMs: expected whole milliseconds from 0 to 60000',
    );
  }
  return retry;
}

export function validateEndpoint(endpoint: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new Error(`endpoint: expected an absolute https URL, got "${endpoint}"`);
  }
  if (url.protocol !== 'https:') {
    throw new Error(`endpoint: bearer tokens are only sent over https, got "${endpoint}"`);
  }
  if (url.search || url.hash) throw new Error(`endpoint: expected no query or fragment, got "${endpoint}"`);
  return endpoint.replace(/\/+$/, '');
}

/** The adapter as configured for this app: credential by the loopback rule, CA from the CA file. */
export function createCostExportsClient(
  settings: AppConfig['costManagement'],
  overrides: Partial<CostExportsClientOptions> & { env?: Env } = {},
): CostExportsClient {
  const { env, ...rest } = overrides;
  const access = costManagementAccess(settings, env ? { env } : {});
  return new CostExportsClient({
    endpoint: access.endpoint,
    credential: access.credential,
    clientType: access.clientType,
    ...(access.caPem ? { caPem: access.caPem } : {}),
    ...rest,
  });
}
