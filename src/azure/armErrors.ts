// Typed failures of Cost Management (ARM) calls, the throttling-header rules that turn a 429 into a
// wait the orchestration can schedule with a durable timer, and the redaction every message passes
// through: SAS tokens travel in export bodies, and services echo bodies back in error messages.
import { isRecord } from '../domain/json';
import { REDACTED, redactSecrets as redactDomain } from '../domain/redact';

/** The adapter operations, named as the CostExportsApi methods. */
export type CostExportsOperation =
  | 'list'
  | 'get'
  | 'createOrUpdate'
  | 'delete'
  | 'run'
  | 'runHistory'
  /** Billing API: the customers of a partner billing account (billingCustomers.ts). */
  | 'listCustomers';

export interface CostManagementErrorContext {
  operation: CostExportsOperation;
  /** Canonical scope (leading slash), when known. */
  scope?: string;
  exportName?: string;
  /** HTTP status; undefined when no response arrived (network failure, credential failure). */
  status?: number;
  /** ARM `error.code`, a Node error code (`ECONNREFUSED`) or our own (`MalformedResponse`). */
  code?: string;
  /** `x-ms-request-id` (or the correlation id) to quote to Azure support. */
  requestId?: string;
}

/** Base class: every failure the adapter throws is one of these. Messages are already redacted. */
export class CostManagementError extends Error {
  readonly status: number | undefined;
  readonly code: string;
  readonly operation: CostExportsOperation;
  readonly scope: string | undefined;
  readonly exportName: string | undefined;
  readonly requestId: string | undefined;
  /** Whether trying the same call again later can succeed (throttling, 5xx, network). */
  readonly transient: boolean = false;

  constructor(context: CostManagementErrorContext, detail: string) {
    super(redactSecrets(describe(context, detail)));
    this.name = new.target.name;
    this.status = context.status;
    this.code = context.code ?? 'Unknown';
    this.operation = context.operation;
    this.scope = context.scope;
    this.exportName = context.exportName;
    this.requestId = context.requestId;
  }

  /** A plain, secret-free record (durable activity outputs, logs). */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      message: this.message,
      status: this.status,
      code: this.code,
      operation: this.operation,
      scope: this.scope,
      exportName: this.exportName,
      requestId: this.requestId,
      transient: this.transient,
    };
  }
}

function describe(context: CostManagementErrorContext, detail: string): string {
  const target = context.exportName
    ? `export "${context.exportName}" at ${context.scope ?? '?'}`
    : `exports at ${context.scope ?? '?'}`;
  const status = context.status === undefined ? 'no response' : `HTTP ${context.status}`;
  return `Cost Management ${context.operation} of ${target} failed (${status}, ${context.code ?? 'Unknown'}): ${detail}`;
}

/** 429: the caller waits `retryAfterMs` (with a durable timer) and tries again. */
export class ThrottledError extends CostManagementError {
  override readonly transient = true;
  constructor(
    context: CostManagementErrorContext,
    detail: string,
    /** How long to wait before the next call, already clamped to [MIN, MAX]_THROTTLE_WAIT_MS. */
    readonly retryAfterMs: number,
    /** The header the wait came from, or `default` when none was usable. */
    readonly retryAfterSource: string,
  ) {
    super(context, detail);
  }
  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), retryAfterMs: this.retryAfterMs, retryAfterSource: this.retryAfterSource };
  }
}

/** 404: the export (or, for list, the scope) does not exist. */
export class ExportNotFoundError extends CostManagementError {}

/** 409 / 412: the eTag sent is stale (someone else updated the export) or the resource is busy. */
export class ConflictError extends CostManagementError {}

/** 401 / 403, or the credential could not produce a token. */
export class AuthorizationError extends CostManagementError {}

/** 400 and other 4xx: the service rejected the request; `code`/`message` are ARM's. */
export class ArmRequestError extends CostManagementError {}

/** 5xx or no response after the pipeline's bounded retries. */
export class ArmServiceError extends CostManagementError {
  override readonly transient = true;
  constructor(
    context: CostManagementErrorContext,
    detail: string,
    /** Set when the service said how long to wait (503 + Retry-After). */
    readonly retryAfterMs?: number,
  ) {
    super(context, detail);
  }
  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), retryAfterMs: this.retryAfterMs };
  }
}

/** A success status whose body is not what the 2025-03-01 contract promises (malformed JSON, wrong shape). */
export class ArmResponseError extends CostManagementError {}

export function isCostManagementError(error: unknown): error is CostManagementError {
  return error instanceof CostManagementError;
}

// ---------------------------------------------------------------------------------------------
// Throttling headers

/** Used when a 429 carries no usable wait: FinOps toolkit's choice for Cost Management throttling. */
export const DEFAULT_THROTTLE_WAIT_MS = 60_000;
/** A zero or past wait still waits this long, so a throttled caller never hot-loops. */
export const MIN_THROTTLE_WAIT_MS = 1_000;
/** A nonsense wait (days) is capped so an orchestration re-checks within the hour. */
export const MAX_THROTTLE_WAIT_MS = 3_600_000;

// Retry-After (RFC 9110) and every `x-ms-ratelimit-<provider>[-<bucket>]-retry-after` that ARM and
// Cost Management send (qpu, entity, tenant, client, clienttype; consumption), all in seconds.
const SECONDS_HEADER = /^(retry-after|x-ms-ratelimit-[a-z0-9.-]*retry-after)$/;
const MILLISECONDS_HEADER = /^(retry-after-ms|x-ms-retry-after-ms)$/;

export interface RetryAfter {
  retryAfterMs: number;
  /** Lower-case header name the wait came from, or `default`. */
  source: string;
}

/** The longest wait any throttling header asks for (seconds, milliseconds or HTTP-date), clamped;
 * `fallbackMs` when none parses. Returns undefined when `fallbackMs` is undefined and none parses. */
export function retryAfterFromHeaders(
  headers: Iterable<[string, string]>,
  nowMs: number,
  fallbackMs: number,
): RetryAfter;
export function retryAfterFromHeaders(
  headers: Iterable<[string, string]>,
  nowMs: number,
  fallbackMs?: number,
): RetryAfter | undefined;
export function retryAfterFromHeaders(
  headers: Iterable<[string, string]>,
  nowMs: number,
  fallbackMs?: number,
): RetryAfter | undefined {
  let best: RetryAfter | undefined;
  for (const [rawName, value] of headers) {
    const name = rawName.toLowerCase();
    let ms: number | undefined;
    if (MILLISECONDS_HEADER.test(name)) ms = parseNumber(value);
    else if (SECONDS_HEADER.test(name)) ms = parseSecondsOrDate(value, nowMs);
    if (ms !== undefined && (!best || ms > best.retryAfterMs)) best = { retryAfterMs: ms, source: name };
  }
  if (!best) return fallbackMs === undefined ? undefined : { retryAfterMs: fallbackMs, source: 'default' };
  return { retryAfterMs: clamp(best.retryAfterMs), source: best.source };
}

function parseNumber(value: string): number | undefined {
  const text = value.trim();
  if (!/^\d+(\.\d+)?$/.test(text)) return undefined;
  return Number(text);
}

function parseSecondsOrDate(value: string, nowMs: number): number | undefined {
  const seconds = parseNumber(value);
  if (seconds !== undefined) return Math.ceil(seconds * 1000);
  // HTTP-date ("Wed, 21 Oct 2015 07:28:00 GMT"); a bare number was handled above.
  if (!/[a-z]/i.test(value)) return undefined;
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - nowMs) : undefined;
}

function clamp(ms: number): number {
  return Math.min(MAX_THROTTLE_WAIT_MS, Math.max(MIN_THROTTLE_WAIT_MS, Math.ceil(ms)));
}

// ---------------------------------------------------------------------------------------------
// Mapping a failed response to a typed error

export interface FailedResponse {
  status: number;
  headers: Iterable<[string, string]>;
  bodyText?: string;
}

/** ARM's `{ error: { code, message } }`, or a bare `{ code, message }`, or nothing usable. */
export function parseArmError(bodyText: string | undefined): { code?: string; message?: string } {
  if (!bodyText) return {};
  let json: unknown;
  try {
    json = JSON.parse(bodyText);
  } catch {
    return {};
  }
  if (!isRecord(json)) return {};
  const inner = isRecord(json.error) ? json.error : json;
  return {
    ...(typeof inner.code === 'string' && inner.code ? { code: inner.code } : {}),
    ...(typeof inner.message === 'string' && inner.message ? { message: inner.message } : {}),
  };
}

/** Maps a non-success response to the typed error for its status. `secrets` are exact values
 * (e.g. the SAS token just sent) to blank out wherever the service echoes them. */
export function errorFromResponse(
  context: Omit<CostManagementErrorContext, 'status' | 'code' | 'requestId'>,
  response: FailedResponse,
  options: { nowMs: number; defaultThrottleWaitMs: number; secrets?: readonly string[] },
): CostManagementError {
  const headers = [...response.headers];
  const arm = parseArmError(response.bodyText);
  const header = (name: string) => headers.find(([n]) => n.toLowerCase() === name)?.[1];
  const full: CostManagementErrorContext = {
    ...context,
    status: response.status,
    code: arm.code ?? defaultCode(response.status),
    ...optional('requestId', header('x-ms-request-id') ?? header('x-ms-correlation-request-id')),
  };
  const detail = redactSecrets(arm.message ?? statusText(response.status), options.secrets);
  const status = response.status;
  if (status === 429) {
    const wait = retryAfterFromHeaders(headers, options.nowMs, options.defaultThrottleWaitMs);
    return new ThrottledError(full, detail, wait.retryAfterMs, wait.source);
  }
  if (status === 404) return new ExportNotFoundError(full, detail);
  if (status === 409 || status === 412) return new ConflictError(full, detail);
  if (status === 401 || status === 403) return new AuthorizationError(full, detail);
  if (status >= 500) {
    return new ArmServiceError(full, detail, retryAfterFromHeaders(headers, options.nowMs)?.retryAfterMs);
  }
  return new ArmRequestError(full, detail);
}

function optional<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  return value ? ({ [key]: value } as Record<K, string>) : {};
}

function defaultCode(status: number): string {
  const codes: Record<number, string> = {
    400: 'BadRequest',
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'NotFound',
    409: 'Conflict',
    412: 'PreconditionFailed',
    429: 'TooManyRequests',
    500: 'InternalServerError',
    502: 'BadGateway',
    503: 'ServiceUnavailable',
    504: 'GatewayTimeout',
  };
  return codes[status] ?? `Http${status}`;
}

function statusText(status: number): string {
  return `the service answered HTTP ${status} without an ARM error body`;
}

// ---------------------------------------------------------------------------------------------
// Redaction

// A SAS signature anywhere (URLs, bare tokens, `sig%3D` encoded), replaced pair and all so not even
// `sig=` survives in our messages; src/domain/redact.ts then handles every other secret shape.
const SIGNATURE = /(?<![A-Za-z])sig(=|%(25)*3D)[^&\s"'\\,;}]*/gi;

/** Blanks secrets out of `text` (see src/domain/redact.ts), plus any exact `secrets` such as the
 * SAS token just sent, in their plain, URL-encoded and JSON-escaped forms. */
export function redactSecrets(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length < 8) continue; // too short to be a secret; replacing it would mangle text
    for (const form of new Set([secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1)])) {
      out = out.split(form).join(REDACTED);
    }
  }
  return redactDomain(out.replace(SIGNATURE, REDACTED));
}
