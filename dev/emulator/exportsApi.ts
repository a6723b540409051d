// The Exports REST API itself: routing `{scope}/providers/Microsoft.CostManagement/exports[...]`,
// then, in ARM's order, authentication, api-version, scope access, throttling and injected 5xx
// faults, then the operation against the store. Every answered request is counted and logged for
// the admin API (requestLog.ts).
import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

import { redactError } from '../../src/domain/redact';
import { parseScope, type Scope, ScopeError, scopeKey } from '../../src/domain/scope';
import type { RequestLogEntry } from './admin';
import type { BillingState } from './billing';
import type { Operation, RequestRecorder, Route } from './requestLog';
import { exportResponse, runResponse } from './responses';
import { type ExportStore, visibleRuns } from './state';
import { rateLimitHeaderName, remainingHeader, type Throttle } from './throttle';
import type { VirtualClock } from './time';
import {
  ArmError,
  checkApiVersion,
  checkExportRules,
  checkSharedKeyAccess,
  type ExportValidator,
} from './validation';

// `{scope}/providers/Microsoft.CostManagement/exports[/{name}[/run|/runHistory]]`, any casing,
// scope with or without its leading slash (the SDK may send `//subscriptions/...`).
const ROUTE =
  /^\/*(.+?)\/+providers\/microsoft\.costmanagement\/exports(?:\/([^/]+)(?:\/(run|runhistory))?)?\/*$/i;

function matchRoute(method: string, pathname: string): Route | 'method' | undefined {
  const m = ROUTE.exec(pathname);
  if (!m) return undefined;
  const scopeText = m[1]!;
  let exportName: string | undefined;
  if (m[2] !== undefined) {
    try {
      exportName = decodeURIComponent(m[2]);
    } catch {
      return undefined;
    }
  }
  const action = m[3]?.toLowerCase();
  const pick = (operation: Operation): Route => ({
    operation,
    scopeText,
    ...(exportName ? { exportName } : {}),
  });
  if (!exportName) return method === 'GET' ? pick('Exports_List') : 'method';
  if (action === 'run') return method === 'POST' ? pick('Exports_Execute') : 'method';
  if (action === 'runhistory') return method === 'GET' ? pick('Exports_GetExecutionHistory') : 'method';
  if (method === 'GET') return pick('Exports_Get');
  if (method === 'PUT') return pick('Exports_CreateOrUpdate');
  if (method === 'DELETE') return pick('Exports_Delete');
  return 'method';
}

/** The route, or ARM's 404 for an unknown path and 405 for a known path with another method. */
function requireRoute(method: string, pathname: string): Route {
  const route = matchRoute(method, pathname);
  if (route === undefined) {
    throw new ArmError(
      404,
      'NotFound',
      `No HTTP resource was found that matches the request URI '${pathname}'.`,
    );
  }
  if (route === 'method') {
    throw new ArmError(
      405,
      'MethodNotAllowed',
      `The requested resource does not support http method '${method}'.`,
    );
  }
  return route;
}

interface Principal {
  /** Throttling key: the token's oid/sub, else a hash of the token; plus the ClientType header. */
  key: string;
  displayName: string;
}

function principalOf(token: string, clientType: string | undefined): Principal {
  let claims: Record<string, unknown> | undefined;
  const parts = token.split('.');
  if (parts.length === 3) {
    try {
      claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
    } catch {
      claims = undefined;
    }
  }
  const str = (k: string) => (typeof claims?.[k] === 'string' ? claims[k] : undefined);
  const id =
    str('oid') ?? str('sub') ?? `token-${createHash('sha256').update(token).digest('hex').slice(0, 16)}`;
  const displayName = str('upn') ?? str('email') ?? str('unique_name') ?? str('oid') ?? str('appid') ?? id;
  return { key: `${id}|${clientType ?? 'Default'}`, displayName };
}

/** The caller from the bearer token, or ARM's 401 (with its WWW-Authenticate header) without one. */
function authenticate(
  req: IncomingMessage,
  clientType: string | undefined,
  headers: Record<string, string>,
): Principal {
  const token = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
  if (!token) {
    headers['www-authenticate'] =
      'Bearer authorization_uri="https://login.microsoftonline.com/common", error="invalid_token", error_description="The authentication failed because of missing \'Authorization\' header."';
    throw new ArmError(
      401,
      'AuthenticationFailed',
      "Authentication failed. The 'Authorization' header is missing.",
    );
  }
  return principalOf(token, clientType);
}

/** The scope, or why the text is not one (answered 400 InvalidScope after the checks ARM makes first). */
function parsedScope(text: string): Scope | ScopeError {
  try {
    return parseScope(text);
  } catch (err) {
    if (err instanceof ScopeError) return err;
    throw err;
  }
}

const MAX_BODY = 1_000_000;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(
          new ArmError(413, 'RequestEntityTooLarge', `The request body is larger than ${MAX_BODY} bytes.`),
        );
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseJsonBody(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ArmError(
      400,
      'InvalidRequestContent',
      `The request content was invalid and could not be deserialized: ${(err as Error).message}`,
    );
  }
}

function responseHeaders(req: IncomingMessage): Record<string, string> {
  const requestId = randomUUID();
  const headers: Record<string, string> = {
    'x-ms-request-id': requestId,
    'x-ms-correlation-request-id':
      (req.headers['x-ms-correlation-request-id'] as string | undefined) ?? requestId,
  };
  const clientRequestId = req.headers['x-ms-client-request-id'];
  if (typeof clientRequestId === 'string') headers['x-ms-client-request-id'] = clientRequestId;
  return headers;
}

interface Answer {
  status: number;
  body?: unknown;
}

/** An admitted request: what the operation runs on. */
interface Call {
  route: Route;
  scope: Scope;
  name: string;
  text: string;
  req: IncomingMessage;
  principal: Principal;
  apiVersion: string;
  url: URL;
}

export interface ExportsApiDeps {
  store: ExportStore;
  billing: BillingState;
  throttle: Throttle;
  clock: VirtualClock;
  validator: ExportValidator;
  acceptedVersions: readonly string[];
  recorder: RequestRecorder;
}

export class ExportsApi {
  private readonly pendingLatency = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  private readonly operations: Record<Operation, (call: Call) => Answer>;

  constructor(private readonly deps: ExportsApiDeps) {
    this.operations = {
      Exports_List: (call) => this.list(call),
      Exports_Get: (call) => this.get(call),
      Exports_CreateOrUpdate: (call) => this.createOrUpdate(call),
      Exports_Delete: (call) => {
        this.deps.store.delete(call.scope, call.name);
        return { status: 200 };
      },
      Exports_Execute: (call) => this.execute(call),
      Exports_GetExecutionHistory: (call) => ({
        status: 200,
        body: { value: visibleRuns(this.deps.store.require(call.scope, call.name)).map(runResponse) },
      }),
    };
  }

  /** Answers one API request (any error as ARM's error body), then counts and logs it. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const receivedAt = Date.now();
    const url = new URL(`https://emulator${req.url ?? '/'}`);
    const method = (req.method ?? 'GET').toUpperCase();
    const headers = responseHeaders(req);
    const entry: RequestLogEntry = {
      receivedAt,
      answeredAt: 0,
      method,
      path: url.pathname,
      operation: 'Unknown',
      status: 0,
    };
    let answer: Answer;
    try {
      answer = await this.answer(req, url, method, headers, entry);
    } catch (err) {
      answer = errorAnswer(err, headers);
    }
    const { store } = this.deps;
    if (store.faults.latencyMs > 0) await this.delay(store.faults.latencyMs);
    const text = answer.body === undefined ? '' : JSON.stringify(answer.body);
    if (text) headers['content-type'] = 'application/json; charset=utf-8';
    headers['content-length'] = String(Buffer.byteLength(text));
    res.writeHead(answer.status, headers);
    res.end(text);
    entry.status = answer.status;
    entry.answeredAt = Date.now();
    this.deps.recorder.answered(entry);
  }

  /** Ends the injected latency of requests still waiting, so the server can close. */
  stop(): void {
    for (const p of this.pendingLatency) {
      clearTimeout(p.timer);
      p.resolve();
    }
  }

  private delay(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const entry = {
        resolve,
        timer: setTimeout(() => {
          this.pendingLatency.delete(entry);
          resolve();
        }, ms),
      };
      this.pendingLatency.add(entry);
    });
  }

  private async answer(
    req: IncomingMessage,
    url: URL,
    method: string,
    headers: Record<string, string>,
    entry: RequestLogEntry,
  ): Promise<Answer> {
    const route = requireRoute(method, url.pathname);
    entry.operation = route.operation;
    const parsed = parsedScope(route.scopeText);
    const scope = parsed instanceof ScopeError ? undefined : parsed;
    this.deps.recorder.count(route, scope);
    if (scope) entry.scope = scope.canonical;
    if (route.exportName) entry.exportName = route.exportName;

    const clientTypeHeader = req.headers.clienttype;
    const clientType = typeof clientTypeHeader === 'string' ? clientTypeHeader : undefined;
    const principal = authenticate(req, clientType, headers);
    entry.principal = principal.key;

    const apiVersion = checkApiVersion(url.searchParams.get('api-version'), this.deps.acceptedVersions);
    this.checkAccess(scope, principal, method);
    this.checkThrottle(route, scope, principal, clientType, headers, entry);
    this.checkServerFault();
    if (parsed instanceof ScopeError) throw new ArmError(400, 'InvalidScope', parsed.message);
    const text = await readBody(req);
    return this.operations[route.operation]({
      route,
      scope: parsed,
      name: route.exportName!,
      text,
      req,
      principal,
      apiVersion,
      url,
    });
  }

  /** Scopes the admin API marked forbidden answer 403 AuthorizationFailed. */
  private checkAccess(scope: Scope | undefined, principal: Principal, method: string): void {
    if (!scope || !this.deps.billing.isForbidden(scopeKey(scope))) return;
    throw new ArmError(
      403,
      'AuthorizationFailed',
      `The client '${principal.displayName}' does not have authorization to perform action 'Microsoft.CostManagement/exports/${method === 'GET' ? 'read' : 'write'}' over scope '${scope.canonical}' or the scope is invalid.`,
    );
  }

  /** 429 with Retry-After when a bucket is empty; otherwise the remaining-calls headers. */
  private checkThrottle(
    route: Route,
    scope: Scope | undefined,
    principal: Principal,
    clientType: string | undefined,
    headers: Record<string, string>,
    entry: RequestLogEntry,
  ): void {
    // Scope buckets are per scope and ClientType: another client type has its own budget.
    const decision = this.deps.throttle.check(
      route.operation === 'Exports_Execute' ? 'run' : 'other',
      principal.key,
      `${scope?.canonical.toLowerCase() ?? route.scopeText.toLowerCase()}|${clientType ?? 'Default'}`,
    );
    if (!decision.allowed) {
      const seconds = String(decision.retryAfterSeconds);
      entry.retryAfterSeconds = decision.retryAfterSeconds!;
      throw new ArmError(429, 'TooManyRequests', 'Too many requests. Please retry.', {
        'retry-after': seconds,
        [rateLimitHeaderName(decision.rule!)]: seconds,
      });
    }
    for (const { rule, remaining } of decision.remaining ?? []) {
      const [name, value] = remainingHeader(rule, remaining);
      headers[name] = value;
    }
  }

  private checkServerFault(): void {
    const { store } = this.deps;
    if (store.faults.serverErrorRate > 0 && store.draw() < store.faults.serverErrorRate) {
      throw new ArmError(503, 'ServiceUnavailable', 'The service is temporarily unavailable. Please retry.', {
        'retry-after': '1',
      });
    }
  }

  private expandRunHistory(call: Call): boolean {
    return call.url.searchParams.get('$expand')?.toLowerCase() === 'runhistory';
  }

  private list(call: Call): Answer {
    const now = this.deps.clock.now();
    const expand = this.expandRunHistory(call);
    return {
      status: 200,
      body: {
        value: this.deps.store
          .list(call.scope)
          .map((e) => exportResponse(e, { now, ...(expand ? { runHistory: 1 } : {}) })),
      },
    };
  }

  private get(call: Call): Answer {
    const now = this.deps.clock.now();
    const expand = this.expandRunHistory(call);
    return {
      status: 200,
      body: exportResponse(this.deps.store.require(call.scope, call.name), {
        now,
        ...(expand ? { runHistory: 10 } : {}),
      }),
    };
  }

  private createOrUpdate(call: Call): Answer {
    const now = this.deps.clock.now();
    const { store, validator } = this.deps;
    const input = validator.parseExport(call.text.trim() ? parseJsonBody(call.text) : undefined);
    checkExportRules(input, call.scope.kind);
    checkSharedKeyAccess(input, store.faults.sharedKeyDisabledAccounts);
    const ifMatch = call.req.headers['if-match'];
    const result = store.put(call.scope, call.name, input, typeof ifMatch === 'string' ? ifMatch : undefined);
    return { status: result.created ? 201 : 200, body: exportResponse(result.export, { now }) };
  }

  private execute(call: Call): Answer {
    // No body, or a blank one (FinOps hubs send ' '), runs the export's own definition.
    const runBody = call.text.trim()
      ? this.deps.validator.parseRunRequest(parseJsonBody(call.text))
      : undefined;
    this.deps.store.run(
      call.scope,
      call.name,
      runBody,
      { displayName: call.principal.displayName },
      call.apiVersion,
    );
    return { status: 200 };
  }
}

function errorAnswer(err: unknown, headers: Record<string, string>): Answer {
  if (err instanceof ArmError) {
    Object.assign(headers, err.headers);
    return { status: err.status, body: err.body() };
  }
  console.error('emulator: unexpected error', redactError(err));
  return {
    status: 500,
    body: { error: { code: 'InternalServerError', message: 'The emulator failed unexpectedly.' } },
  };
}
