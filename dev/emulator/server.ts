// The Cost Management Exports emulator: an HTTPS server that answers like the Exports REST API
// 2025-03-01 (List, Get, CreateOrUpdate, Delete, Execute, GetExecutionHistory at the nine scope
// kinds), delivers runs into Azurite through ./delivery, and is steered through /_admin.
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

import { redactError } from '../../src/domain/redact';
import { parseScope, type Scope, ScopeError, scopeKey } from '../../src/domain/scope';
import { createLoopbackCertificate } from '../tls';
import {
  type AdminExportView,
  type AdminRunView,
  type Counters,
  EmulatorAdmin,
  type EmulatorControl,
  handleAdmin,
  type RequestLogEntry,
} from './admin';
import { type BillingSnapshot, BillingState } from './billing';
import type { EmulatorStorage } from './delivery';
import { exportId, exportResponse, runResponse } from './responses';
import {
  DEFAULT_FAULTS,
  ExportStore,
  type Faults,
  type RunRecord,
  type StoreSnapshot,
  validateFaults,
  VirtualClock,
  visibleRuns,
} from './state';
import {
  rateLimitHeaderName,
  remainingHeader,
  Throttle,
  type ThrottleLimits,
  validateThrottleLimits,
} from './throttle';
import {
  ArmError,
  checkApiVersion,
  checkExportRules,
  checkSharedKeyAccess,
  ExportValidator,
} from './validation';

export const API_VERSION = '2025-03-01';

export interface EmulatorOptions {
  /** Listen port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** Azurite for run delivery. Without it runs complete without writing files. */
  storage?: EmulatorStorage;
  /** Run timings (about 20 s queued + 40 s processing in real life) are divided by this; Infinity = as fast as possible. Default 1. */
  speedFactor?: number;
  /** Seed of every random fault decision. Default 1. */
  seed?: number;
  throttle?: ThrottleLimits;
  faults?: Partial<Faults>;
  /** Start the virtual clock at `now`, or offset from real time. */
  clock?: { now?: Date | string; offsetMs?: number };
  /** Accepted api-versions. Default ['2025-03-01']; add e.g. '2022-10-01' for the SDK's default. */
  apiVersions?: string[];
  /** Passed to delivery: data volume per run. */
  data?: { rowsPerPartition?: number; resourcesPerDay?: number };
  maxConcurrentDeliveries?: number;
  /** Write the CA certificate PEM to this path (returned as caPath). */
  caFile?: string;
  /** Requests kept in the admin request log (oldest dropped). Default 5000. */
  requestLogLimit?: number;
  /** Keep exports and runs in this JSON file: loaded at start, written each second and on stop. */
  stateFile?: string;
}

export interface RunningEmulator {
  /** https://127.0.0.1:PORT (no trailing slash): the SDK's `endpoint`. */
  url: string;
  caPem: string;
  caPath?: string;
  admin: EmulatorAdmin;
  stop(): Promise<void>;
}

type Operation =
  | 'Exports_List'
  | 'Exports_Get'
  | 'Exports_CreateOrUpdate'
  | 'Exports_Delete'
  | 'Exports_Execute'
  | 'Exports_GetExecutionHistory';

interface Route {
  operation: Operation;
  scopeText: string;
  exportName?: string;
}

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

function emptyCounters(): Counters {
  return { total: 0, byOperation: {}, byScope: {}, byExport: {}, byStatus: {} };
}

function bump(map: Record<string, number>, key: string): void {
  map[key] = (map[key] ?? 0) + 1;
}

export async function startEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const cert = await createLoopbackCertificate();
  const clock = new VirtualClock(options.clock?.offsetMs ?? 0);
  if (options.clock?.now !== undefined) clock.set(new Date(options.clock.now));
  const acceptedVersions = options.apiVersions ?? [API_VERSION];
  const validator = new ExportValidator();
  const throttle = new Throttle(validateThrottleLimits(options.throttle));
  const store = new ExportStore({
    clock,
    speedFactor: options.speedFactor ?? 1,
    seed: options.seed ?? 1,
    faults: validateFaults(options.faults, DEFAULT_FAULTS),
    ...(options.storage ? { storage: options.storage } : {}),
    ...(options.data ? { data: options.data } : {}),
    ...(options.maxConcurrentDeliveries ? { maxConcurrentDeliveries: options.maxConcurrentDeliveries } : {}),
  });
  const billing = new BillingState();
  const stateWriter = options.stateFile ? keepStateInFile(store, billing, options.stateFile) : undefined;
  let counters = emptyCounters();
  const log: RequestLogEntry[] = [];
  const logLimit = options.requestLogLimit ?? 5000;
  const pendingLatency = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();

  const delay = (ms: number) =>
    new Promise<void>((resolve) => {
      const entry = {
        resolve,
        timer: setTimeout(() => {
          pendingLatency.delete(entry);
          resolve();
        }, ms),
      };
      pendingLatency.add(entry);
    });

  async function handleApi(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const receivedAt = Date.now();
    const url = new URL(`https://emulator${req.url ?? '/'}`);
    const method = (req.method ?? 'GET').toUpperCase();
    const requestId = randomUUID();
    const headers: Record<string, string> = {
      'x-ms-request-id': requestId,
      'x-ms-correlation-request-id':
        (req.headers['x-ms-correlation-request-id'] as string | undefined) ?? requestId,
    };
    const clientRequestId = req.headers['x-ms-client-request-id'];
    if (typeof clientRequestId === 'string') headers['x-ms-client-request-id'] = clientRequestId;
    const entry: RequestLogEntry = {
      receivedAt,
      answeredAt: 0,
      method,
      path: url.pathname,
      operation: 'Unknown',
      status: 0,
    };
    let status = 500;
    let body: unknown;
    try {
      const route = matchRoute(method, url.pathname);
      if (route === undefined) {
        throw new ArmError(
          404,
          'NotFound',
          `No HTTP resource was found that matches the request URI '${url.pathname}'.`,
        );
      }
      if (route === 'method') {
        throw new ArmError(
          405,
          'MethodNotAllowed',
          `The requested resource does not support http method '${method}'.`,
        );
      }
      entry.operation = route.operation;
      let scope: Scope | undefined;
      try {
        scope = parseScope(route.scopeText);
      } catch (err) {
        if (!(err instanceof ScopeError)) throw err;
      }
      count(route, scope);
      if (scope) entry.scope = scope.canonical;
      if (route.exportName) entry.exportName = route.exportName;

      const auth = req.headers.authorization;
      const token = /^Bearer\s+(\S+)\s*$/i.exec(auth ?? '')?.[1];
      if (!token) {
        headers['www-authenticate'] =
          'Bearer authorization_uri="https://login.microsoftonline.com/common", error="invalid_token", error_description="The authentication failed because of missing \'Authorization\' header."';
        throw new ArmError(
          401,
          'AuthenticationFailed',
          "Authentication failed. The 'Authorization' header is missing.",
        );
      }
      const clientType = req.headers.clienttype;
      const principal = principalOf(token, typeof clientType === 'string' ? clientType : undefined);
      entry.principal = principal.key;

      const apiVersion = checkApiVersion(url.searchParams.get('api-version'), acceptedVersions);
      if (scope && billing.isForbidden(scopeKey(scope))) {
        throw new ArmError(
          403,
          'AuthorizationFailed',
          `The client '${principal.displayName}' does not have authorization to perform action 'Microsoft.CostManagement/exports/${method === 'GET' ? 'read' : 'write'}' over scope '${scope.canonical}' or the scope is invalid.`,
        );
      }

      // Scope buckets are per scope and ClientType: another client type has its own budget.
      const decision = throttle.check(
        route.operation === 'Exports_Execute' ? 'run' : 'other',
        principal.key,
        `${scope?.canonical.toLowerCase() ?? route.scopeText.toLowerCase()}|${typeof clientType === 'string' ? clientType : 'Default'}`,
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
      if (store.faults.serverErrorRate > 0 && store.draw() < store.faults.serverErrorRate) {
        throw new ArmError(
          503,
          'ServiceUnavailable',
          'The service is temporarily unavailable. Please retry.',
          {
            'retry-after': '1',
          },
        );
      }
      if (!scope) {
        try {
          parseScope(route.scopeText);
        } catch (err) {
          throw new ArmError(400, 'InvalidScope', (err as Error).message);
        }
      }
      const resolved = scope!;
      const text = await readBody(req);
      ({ status, body } = handleOperation(route, resolved, text, req, principal, apiVersion, url));
    } catch (err) {
      if (err instanceof ArmError) {
        status = err.status;
        body = err.body();
        Object.assign(headers, err.headers);
      } else {
        status = 500;
        body = { error: { code: 'InternalServerError', message: 'The emulator failed unexpectedly.' } };
        console.error('emulator: unexpected error', redactError(err));
      }
    }
    if (store.faults.latencyMs > 0) await delay(store.faults.latencyMs);
    const text = body === undefined ? '' : JSON.stringify(body);
    if (text) headers['content-type'] = 'application/json; charset=utf-8';
    headers['content-length'] = String(Buffer.byteLength(text));
    res.writeHead(status, headers);
    res.end(text);
    entry.status = status;
    entry.answeredAt = Date.now();
    if (entry.operation !== 'Unknown') bump(counters.byStatus, String(status));
    log.push(entry);
    if (log.length > logLimit) log.splice(0, log.length - logLimit);
  }

  function count(route: Route, scope: Scope | undefined): void {
    counters.total += 1;
    bump(counters.byOperation, route.operation);
    const scopeKey = scope?.canonical ?? route.scopeText;
    bump((counters.byScope[scopeKey] ??= {}), route.operation);
    if (route.exportName) {
      const key = `${scopeKey}/providers/Microsoft.CostManagement/exports/${route.exportName.toLowerCase()}`;
      bump((counters.byExport[key] ??= {}), route.operation);
    }
  }

  function handleOperation(
    route: Route,
    scope: Scope,
    text: string,
    req: IncomingMessage,
    principal: Principal,
    apiVersion: string,
    url: URL,
  ): { status: number; body?: unknown } {
    const expand = url.searchParams.get('$expand')?.toLowerCase() === 'runhistory';
    const now = clock.now();
    const name = route.exportName!;
    switch (route.operation) {
      case 'Exports_List':
        return {
          status: 200,
          body: {
            value: store
              .list(scope)
              .map((e) => exportResponse(e, { now, ...(expand ? { runHistory: 1 } : {}) })),
          },
        };
      case 'Exports_Get':
        return {
          status: 200,
          body: exportResponse(store.require(scope, name), { now, ...(expand ? { runHistory: 10 } : {}) }),
        };
      case 'Exports_CreateOrUpdate': {
        let parsed: unknown;
        try {
          parsed = text.trim() ? JSON.parse(text) : undefined;
        } catch (err) {
          throw new ArmError(
            400,
            'InvalidRequestContent',
            `The request content was invalid and could not be deserialized: ${(err as Error).message}`,
          );
        }
        const input = validator.parseExport(parsed);
        checkExportRules(input, scope.kind);
        checkSharedKeyAccess(input, store.faults.sharedKeyDisabledAccounts);
        const ifMatch = req.headers['if-match'];
        const result = store.put(scope, name, input, typeof ifMatch === 'string' ? ifMatch : undefined);
        return { status: result.created ? 201 : 200, body: exportResponse(result.export, { now }) };
      }
      case 'Exports_Delete':
        store.delete(scope, name);
        return { status: 200 };
      case 'Exports_Execute': {
        // No body, or a blank one (FinOps hubs send ' '), runs the export's own definition.
        let runBody: { timePeriod?: { from: string; to: string } } | undefined;
        if (text.trim()) {
          let parsed: unknown;
          try {
            parsed = JSON.parse(text);
          } catch (err) {
            throw new ArmError(
              400,
              'InvalidRequestContent',
              `The request content was invalid and could not be deserialized: ${(err as Error).message}`,
            );
          }
          runBody = validator.parseRunRequest(parsed);
        }
        store.run(scope, name, runBody, { displayName: principal.displayName }, apiVersion);
        return { status: 200 };
      }
      case 'Exports_GetExecutionHistory':
        return { status: 200, body: { value: visibleRuns(store.require(scope, name)).map(runResponse) } };
    }
  }

  const control: EmulatorControl = {
    caPem: cert.cert,
    counters: () => structuredClone(counters),
    resetCounters: () => {
      counters = emptyCounters();
      log.length = 0;
    },
    requestLog: () => [...log],
    faults: () => ({ ...store.faults }),
    setFaults: (update) => {
      store.setFaults(validateFaults(update, store.faults));
      return { ...store.faults };
    },
    throttle: () => throttle.getLimits(),
    setThrottle: (update) => {
      throttle.setLimits(validateThrottleLimits(update));
      return throttle.getLimits();
    },
    clock: () => ({ now: new Date(clock.now()).toISOString(), offsetMs: clock.getOffsetMs() }),
    setClock: (update) => {
      if (update.now !== undefined) {
        const at = Date.parse(update.now);
        if (Number.isNaN(at)) throw new ArmError(400, 'BadRequest', 'clock.now must be an ISO date-time');
        clock.set(at);
      }
      if (update.offsetMs !== undefined) {
        if (typeof update.offsetMs !== 'number')
          throw new ArmError(400, 'BadRequest', 'clock.offsetMs must be a number');
        clock.setOffsetMs(update.offsetMs);
      }
      if (update.advanceMs !== undefined) {
        if (typeof update.advanceMs !== 'number' || update.advanceMs < 0)
          throw new ArmError(400, 'BadRequest', 'clock.advanceMs must be a number >= 0');
        clock.advance(update.advanceMs);
      }
      store.kick();
      return { now: new Date(clock.now()).toISOString(), offsetMs: clock.getOffsetMs() };
    },
    speedFactor: () => store.speedFactor,
    setSpeedFactor: (value) => store.setSpeedFactor(value),
    exports: () =>
      store.all().map((e): AdminExportView => ({
        id: exportId(e),
        scope: e.scope.canonical,
        name: e.name,
        eTag: e.eTag,
        body: exportResponse(e, { now: clock.now() }),
        runCount: visibleRuns(e).length,
      })),
    runs: () => store.allRuns().map(runView),
    forceRunOutcome: (runId, status, error) => runView(store.forceOutcome(runId, status, error)),
    scheduledRun: (scopeText, exportName) => {
      let scope: Scope;
      try {
        scope = parseScope(scopeText);
      } catch (err) {
        throw new ArmError(400, 'InvalidScope', (err as Error).message);
      }
      return runView(
        store.run(scope, exportName, undefined, { displayName: 'System' }, API_VERSION, 'Scheduled'),
      );
    },
    waitForIdle: (timeoutMs) => store.waitForIdle(timeoutMs),
    billing: () => billing.view(),
    setBilling: (update) => {
      try {
        if (update.customers) billing.setCustomers(update.customers.billingAccountId, update.customers.count);
        if (update.forbiddenScopes) billing.setForbidden(update.forbiddenScopes);
      } catch (err) {
        throw new ArmError(400, 'BadRequest', (err as Error).message);
      }
      if (update.pageSize !== undefined) billing.pageSize = update.pageSize;
      if (update.failPages !== undefined) billing.failPages = update.failPages;
      return billing.view();
    },
    reset: () => {
      billing.reset();
      store.reset();
      throttle.reset();
      counters = emptyCounters();
      log.length = 0;
    },
  };

  let baseUrl = '';
  const server = https.createServer({ cert: cert.cert, key: cert.key }, (req, res) => {
    void (async () => {
      try {
        if (await handleAdmin(control, req, res)) return;
        if (billing.handle(req, res, baseUrl)) return;
        await handleApi(req, res);
      } catch (err) {
        console.error('emulator: request failed', redactError(err));
        if (!res.headersSent) res.writeHead(500);
        res.end();
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `https://127.0.0.1:${port}`;
  baseUrl = url;
  let caPath: string | undefined;
  if (options.caFile) {
    writeFileSync(options.caFile, cert.cert);
    caPath = options.caFile;
  }
  const admin = new EmulatorAdmin(url, cert.cert);
  let stopped: Promise<void> | undefined;
  return {
    url,
    caPem: cert.cert,
    ...(caPath ? { caPath } : {}),
    admin,
    stop: () =>
      (stopped ??= (async () => {
        for (const p of pendingLatency) {
          clearTimeout(p.timer);
          p.resolve();
        }
        await store.stop();
        stateWriter?.stop();
        admin.close();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      })()),
  };
}

/** The exports and the billing accounts' customers, kept across restarts (the billing key is
 * optional, so a file written before it existed still loads). */
type StateFile = StoreSnapshot & { billing?: BillingSnapshot };

function keepStateInFile(store: ExportStore, billing: BillingState, file: string): { stop(): void } {
  if (existsSync(file)) {
    let snapshot: StateFile;
    try {
      snapshot = JSON.parse(readFileSync(file, 'utf8')) as StateFile;
    } catch (error) {
      throw new Error(
        `emulator state file ${file} is not valid JSON (${error instanceof Error ? error.message : String(error)})`,
      );
    }
    store.restore(snapshot);
    if (snapshot.billing) billing.restore(snapshot.billing);
  }
  mkdirSync(path.dirname(file), { recursive: true });
  let last = '';
  const flush = () => {
    const text = JSON.stringify({ ...store.snapshot(), billing: billing.snapshot() } satisfies StateFile);
    if (text === last) return;
    writeFileSync(`${file}.tmp`, text);
    renameSync(`${file}.tmp`, file);
    last = text;
  };
  const timer = setInterval(flush, 1_000);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      flush();
    },
  };
}

function runView(run: RunRecord): AdminRunView {
  const day = (d: Date) => d.toISOString().slice(0, 10);
  return {
    runId: run.id,
    id: `${run.scope}/providers/Microsoft.CostManagement/exports/${run.exportName}/Run/${run.id}`,
    scope: run.scope,
    exportName: run.exportName,
    status: run.status,
    executionType: run.executionType,
    submittedBy: run.submittedBy,
    submittedTime: new Date(run.submittedTime).toISOString(),
    ...(run.processingStartTime !== undefined
      ? { processingStartTime: new Date(run.processingStartTime).toISOString() }
      : {}),
    ...(run.processingEndTime !== undefined
      ? { processingEndTime: new Date(run.processingEndTime).toISOString() }
      : {}),
    from: day(run.from),
    to: day(run.to),
    ...(run.fileName !== undefined ? { fileName: run.fileName } : {}),
    ...(run.manifestFile !== undefined ? { manifestFile: run.manifestFile } : {}),
    ...(run.error ? { error: run.error } : {}),
    ...(run.hidden ? { hidden: true } : {}),
  };
}
