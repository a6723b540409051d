// The one HTTP edge every HTTP trigger goes through: reading a JSON body within size and depth
// limits, answering JSON, and one error shape
//   { "error": { "code": "...", "message": "...", "fields": [ { "field": "...", "message": "..." } ] } }
// Messages are capped, so no answer echoes more than a short prefix of what the caller sent, and an
// unexpected failure answers a generic message (with the invocation id) while the log gets the
// redacted detail.
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';

import { isDependencyFailure } from '../azure/dependencyFaults';
import { ConfigError, getConfig } from '../config';
import {
  type CallerRole,
  decideAccess,
  defaultRequiredRole,
  parseClientPrincipal,
} from '../domain/callerRoles';
import type { FieldError } from '../domain/fieldError';
import { redactError, redactSecrets } from '../domain/redact';

export type { FieldError } from '../domain/fieldError';

/** Largest request body read, in bytes; larger answers 413. Every body the API takes is < 8 KiB. */
export const MAX_BODY_BYTES = 64 * 1024;
/** Deepest nesting of objects and arrays in a body; deeper answers 400. The API's bodies use 3. */
export const MAX_BODY_DEPTH = 16;
const MAX_MESSAGE_CHARS = 300;
const MAX_FIELD_CHARS = 64;
const MAX_FIELDS = 50;

export interface ErrorBody {
  error: { code: string; message: string; fields: FieldError[]; [detail: string]: unknown };
}

/** An answer a handler (or the body reader) decides on; the edge turns it into the error shape. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields: readonly FieldError[] = [],
    /** Extra members of `error` (e.g. a token probe's steps); must hold nothing secret. */
    readonly details: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

const NO_STORE = { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' };

export function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponseInit {
  return { status, jsonBody: body, headers: { ...NO_STORE, ...headers } };
}

function cap(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

export function errorBody(
  code: string,
  message: string,
  fields: readonly FieldError[] = [],
  details: Record<string, unknown> = {},
): ErrorBody {
  const shown = fields.slice(0, MAX_FIELDS).map((f) => ({
    field: cap(redactSecrets(f.field), MAX_FIELD_CHARS),
    message: cap(redactSecrets(f.message), MAX_MESSAGE_CHARS),
  }));
  if (fields.length > MAX_FIELDS) {
    shown.push({ field: 'body', message: `and ${fields.length - MAX_FIELDS} more problem(s)` });
  }
  return {
    error: { ...details, code, message: cap(redactSecrets(message), MAX_MESSAGE_CHARS), fields: shown },
  };
}

export function errorAnswer(
  status: number,
  code: string,
  message: string,
  fields: readonly FieldError[] = [],
  details: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): HttpResponseInit {
  return json(status, errorBody(code, message, fields, details), headers);
}

/** 400 InvalidRequest listing every field problem. */
export function badRequest(fields: readonly FieldError[], message?: string): HttpResponseInit {
  const summary =
    message ??
    (fields.length === 1
      ? `${fields[0]!.field}: ${fields[0]!.message}`
      : `${fields.length} problems with the request; see fields`);
  return errorAnswer(400, 'InvalidRequest', summary, fields);
}

export function notFound(field: string, message: string): HttpResponseInit {
  return errorAnswer(404, 'NotFound', message, [{ field, message }]);
}

export interface ReadBodyOptions {
  maxBytes?: number;
  maxDepth?: number;
  /** An empty body reads as undefined instead of a 400. */
  optional?: boolean;
  /** Shown in the 400 for a body that is not JSON, e.g. an example. */
  expected?: string;
}

/**
 * Reads the body as JSON within the limits, or throws an HttpError: 413 BodyTooLarge past
 * maxBytes (stops reading there), 400 InvalidJson, 400 BodyTooDeep past maxDepth (checked before
 * parsing, so no validator ever recurses into a hostile depth).
 */
export async function readJsonBody(request: HttpRequest, options: ReadBodyOptions = {}): Promise<unknown> {
  const maxBytes = options.maxBytes ?? MAX_BODY_BYTES;
  const maxDepth = options.maxDepth ?? MAX_BODY_DEPTH;
  const text = await readText(request, maxBytes);
  if (text.trim() === '') {
    if (options.optional) return undefined;
    throw invalidBody('InvalidJson', `the body is empty; expected ${options.expected ?? 'a JSON object'}`);
  }
  const depth = jsonDepth(text, maxDepth);
  if (depth > maxDepth) {
    throw invalidBody('BodyTooDeep', `the body nests objects or arrays deeper than ${maxDepth} levels`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw invalidBody(
      'InvalidJson',
      `the body is not valid JSON; expected ${options.expected ?? 'a JSON object'}`,
    );
  }
}

function invalidBody(code: string, message: string): HttpError {
  return new HttpError(400, code, message, [{ field: 'body', message }]);
}

function tooLarge(maxBytes: number): HttpError {
  const message = `the body is larger than ${maxBytes} bytes`;
  return new HttpError(413, 'BodyTooLarge', message, [{ field: 'body', message }]);
}

async function readText(request: HttpRequest, maxBytes: number): Promise<string> {
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge(maxBytes);
  const stream = request.body;
  if (!stream) return '';
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = (await reader.read()) as { done: boolean; value?: Uint8Array | string };
    if (done) break;
    const chunk = typeof value === 'string' ? Buffer.from(value) : (value ?? new Uint8Array());
    size += chunk.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(maxBytes);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Nesting depth of a JSON text (outside strings), counted until it passes `stopAbove`. Linear. */
export function jsonDepth(text: string, stopAbove = Infinity): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > stopAbove) return deepest;
      }
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return deepest;
}

export type HttpHandler = (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>;

/**
 * Wraps a handler so that every outcome is a JSON answer in the one shape: HttpError as itself;
 * a settings problem 500 Misconfigured; a dependency (storage, Key Vault, Cost Management, the
 * network) failing or timing out 503 DependencyUnavailable; anything else 500 InternalError. The
 * caller sees a generic message with the invocation id; the log gets the redacted detail.
 */
export function httpHandler(
  action: string,
  handler: HttpHandler,
  options: HttpHandlerOptions = {},
): HttpHandler {
  return async (request, context) => {
    try {
      checkCaller(request, options);
      return await handler(request, context);
    } catch (error) {
      return failureAnswer(action, context, error);
    }
  };
}

/**
 * The authLevel of every route that goes through httpHandler: `function` (a function key), unless
 * AUTH_MODE is entra. Then App Service Authentication in front of the app and the role check here
 * are the one gate (a shared key would be a second secret to hand out), so the route is anonymous;
 * getConfig refuses entra in Azure while App Service Authentication is off, which fails every such
 * route closed (500 Misconfigured). Read as the routes register; any other value keeps the key.
 */
export function routeAuthLevel(env: NodeJS.ProcessEnv = process.env): 'function' | 'anonymous' {
  return env.AUTH_MODE?.trim().toLowerCase() === 'entra' ? 'anonymous' : 'function';
}

export interface HttpHandlerOptions {
  /** The app role an Entra caller needs (AUTH_MODE=entra); default reader for GET, operator otherwise. */
  role?: CallerRole | ((method: string) => CallerRole);
}

/** With AUTH_MODE=entra, refuses (401/403) a caller without the route's app role. An unset
 * AUTH_MODE is functionKey without loading the settings; a bad value fails closed (500 Misconfigured). */
function checkCaller(request: HttpRequest, options: HttpHandlerOptions): void {
  if (!process.env.AUTH_MODE?.trim() || getConfig().auth.mode !== 'entra') return;
  const method = request.method ?? 'GET';
  const role =
    typeof options.role === 'function' ? options.role(method) : (options.role ?? defaultRequiredRole(method));
  const decision = decideAccess(parseClientPrincipal(request.headers.get('x-ms-client-principal')), role);
  if (!decision.allowed) {
    const headers: Record<string, string> = decision.status === 401 ? { 'WWW-Authenticate': 'Bearer' } : {};
    throw new HttpError(
      decision.status,
      decision.code,
      decision.message,
      [{ field: decision.status === 401 ? 'x-ms-client-principal' : 'roles', message: decision.message }],
      {},
      headers,
    );
  }
}

export function failureAnswer(action: string, context: InvocationContext, error: unknown): HttpResponseInit {
  if (error instanceof HttpError) {
    const fields = error.fields.map((f) => f.field).join(', ');
    context.warn(`${action} refused: ${error.status} ${error.code}${fields ? ` (${fields})` : ''}`);
    return errorAnswer(error.status, error.code, error.message, error.fields, error.details, error.headers);
  }
  context.error(`${action} failed: ${redactError(error)}`);
  const see = `see the function logs (invocation ${context.invocationId})`;
  if (error instanceof ConfigError) {
    return errorAnswer(500, 'Misconfigured', `${action} failed: the app is misconfigured; ${see}`);
  }
  if (isDependencyFailure(error)) {
    return errorAnswer(
      503,
      'DependencyUnavailable',
      `${action} failed: a service the app depends on is unavailable; try again later (${see})`,
      [],
      {},
      { 'Retry-After': '30' },
    );
  }
  return errorAnswer(500, 'InternalError', `${action} failed; ${see}`);
}
