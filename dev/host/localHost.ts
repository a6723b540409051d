// A local stand-in for the Azure Functions host, built on the registrations captured by the
// functions-core stub: serves httpTriggers on /api/{route}, fires timerTriggers on their NCRONTAB
// schedules, routes new blobs to blobTriggers, runs orchestrations/activities in the in-process
// durable engine, and serves the Durable HTTP API so df.getClient(context) works unchanged.
//
// Keys: like `func start`, requests without a key are accepted at every authLevel. A key, when sent
// (`?code=` or `x-functions-key`), must be this host's key (printed at start; random unless given),
// so clients that send keys are exercised too. `requireKeys: true` makes function/admin levels demand it.
import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import { HttpRequest, HttpResponse, type HttpResponseInit, type Timer } from '@azure/functions';

import { type BlobDelivery, BlobTriggerWatcher, matchBlobPath, parseBlobPath } from './blobTriggers';
import { type Clock, RealClock } from './clock';
import { DurableEngine, type DurableEngineOptions } from './durable/engine';
import {
  closeServer,
  type DurableApiSettings,
  type DurableClientBindingData,
  durableClientBindingData,
  handleDurableApiRequest,
  isDurableApiPath,
  readBytes,
} from './durable/httpApi';
import { type EngineStateWriter, readEngineState, writeEngineStatePeriodically } from './durable/stateFile';
import {
  type CapturedRegistration,
  hooks,
  registrations as capturedRegistrations,
} from './functionsCoreStub';
import { MAX_REQUEST_BODY_BYTES, MAX_URL_BYTES, readBodyWithinLimit, urlTooLong } from './httpLimits';
import { type CompiledRoute, compileRoute, matchRoute } from './httpRoutes';
import { consoleLogger, createInvocationContext, describeError, type HostLogger } from './invocation';
import { type InvocationObserver, timedRegistrations } from './invocationTiming';
import { type HostEnv, resolveSettings } from './settings';
import { TimerTriggerRunner } from './timerTriggers';

export interface LocalHostOptions {
  /** App settings: `%NAME%` in schedules/paths and connection settings resolve here (default process.env). */
  env?: HostEnv;
  /** RealClock by default; a VirtualClock in tests. */
  clock?: Clock;
  /** Loopback port (default 0: a free one). */
  port?: number;
  /** host.json extensions.http.routePrefix (default "api"). */
  routePrefix?: string;
  blobPollIntervalMs?: number;
  /** Fire blobs already in a watched container at start (default true, as the host does without receipts). */
  processExistingBlobs?: boolean;
  /** Task hub name reported to durable clients (default env DURABLE_TASK_HUB or "LocalTaskHub"). */
  taskHub?: string;
  /** The key accepted in `code=` / `x-functions-key` (default random). */
  functionKey?: string;
  requireKeys?: boolean;
  /** Options for the engine the host creates (clock and logger are the host's). */
  durable?: Omit<DurableEngineOptions, 'clock' | 'logger' | 'registrations' | 'createContext'>;
  logger?: HostLogger;
  /** Default: every registration captured so far. */
  registrations?: readonly CapturedRegistration[];
  /** Turn off schedules/watchers when a test drives them by hand (fireTimer / invokeBlob still work). */
  startTimers?: boolean;
  startBlobWatchers?: boolean;
  /** Keep the durable engine's instances in this JSON file and resume them from it at start. */
  durableStateFile?: string;
  /** Told the wall time of every invocation (HTTP, timer, blob, activity, orchestrator episode). */
  onInvocation?: InvocationObserver;
}

export interface LocalHost {
  /** `http://127.0.0.1:PORT/api` (no trailing slash). */
  baseUrl: string;
  origin: string;
  port: number;
  engine: DurableEngine;
  clock: Clock;
  functionKey: string;
  /** What a durableClient input binding receives (for invoking starters by hand). */
  durableClientBindingData: DurableClientBindingData;
  /** Runs a timer function now (as POST /admin/functions/{name} does); resolves with its result. */
  fireTimer(name: string): Promise<unknown>;
  /** Delivers a blob to a blob function directly; `blobPath` is "container/name" and must match its path. */
  invokeBlob(
    name: string,
    blobPath: string,
    content: Buffer | string,
    properties?: Record<string, unknown>,
  ): Promise<unknown>;
  /** Lists every watched container once now (instead of waiting for the poll interval). */
  pollBlobs(): Promise<void>;
  /** Next scheduled run of each timer function. */
  nextTimerRuns(): Record<string, Date | undefined>;
  stop(): Promise<void>;
}

interface HttpFunction {
  registration: CapturedRegistration;
  route: CompiledRoute;
  methods: string[];
  authLevel: string;
}

export async function startLocalHost(options: LocalHostOptions = {}): Promise<LocalHost> {
  const env = options.env ?? process.env;
  const clock = options.clock ?? new RealClock();
  const logger = options.logger ?? consoleLogger;
  const all = timedRegistrations(options.registrations ?? capturedRegistrations, options.onInvocation);
  const routePrefix = (options.routePrefix ?? 'api').replace(/^\/+|\/+$/g, '');
  const functionKey = options.functionKey ?? randomBytes(24).toString('base64url');
  const taskHub = options.taskHub ?? env.DURABLE_TASK_HUB ?? 'LocalTaskHub';
  // Known once the server listens (URLs need its port); used only by requests after that.
  const bound: { durable?: DurableApiSettings } = {};

  const extraInputs = (binding: { type: string }) =>
    binding.type === 'durableClient' || binding.type === 'orchestrationClient'
      ? durableClientBindingData(bound.durable!)
      : undefined;
  const contextFor = (registration: CapturedRegistration, triggerMetadata?: Record<string, unknown>) =>
    createInvocationContext(registration, { triggerMetadata, extraInputs, logger });

  const engine = new DurableEngine({
    ...options.durable,
    clock,
    logger,
    registrations: all,
    createContext: (registration) => contextFor(registration),
  });

  // ---- index the functions -------------------------------------------------------------------
  const httpFunctions: HttpFunction[] = [];
  const timers = new Map<string, TimerTriggerRunner>();
  const blobs = new Map<string, CapturedRegistration>();
  const watchers: BlobTriggerWatcher[] = [];

  const invokeTimer = (registration: CapturedRegistration, timer: Timer) =>
    runHandler(registration, () => registration.handler(timer, contextFor(registration)));
  const invokeBlobDelivery = (registration: CapturedRegistration, d: BlobDelivery) =>
    runHandler(registration, () =>
      registration.handler(
        d.content,
        contextFor(registration, {
          ...d.params,
          blobTrigger: d.blobPath,
          uri: d.uri,
          properties: d.properties,
          metadata: d.metadata,
        }),
      ),
    );

  async function runHandler(registration: CapturedRegistration, call: () => unknown): Promise<unknown> {
    try {
      return await clock.track(Promise.resolve().then(call));
    } catch (err) {
      logger('error', `[${registration.name}] failed: ${describeError(err)}`);
      throw err;
    }
  }

  for (const registration of all) {
    const type = registration.trigger.type;
    if (type === 'httpTrigger') {
      const route =
        typeof registration.trigger.route === 'string' ? registration.trigger.route : registration.name;
      const methods = Array.isArray(registration.trigger.methods)
        ? (registration.trigger.methods as string[]).map((m) => m.toUpperCase())
        : [];
      httpFunctions.push({
        registration,
        route: compileRoute(route),
        methods,
        authLevel:
          typeof registration.trigger.authLevel === 'string'
            ? registration.trigger.authLevel.toLowerCase()
            : 'anonymous',
      });
    } else if (type === 'timerTrigger') {
      timers.set(registration.name, new TimerTriggerRunner(registration, env, clock, invokeTimer));
    } else if (type === 'blobTrigger') {
      blobs.set(registration.name, registration);
      if (options.startBlobWatchers !== false) {
        watchers.push(
          new BlobTriggerWatcher(registration, env, clock, invokeBlobDelivery, {
            pollIntervalMs: options.blobPollIntervalMs ?? 1000,
            processExisting: options.processExistingBlobs ?? true,
            logger,
          }),
        );
      }
    } else if (type !== 'activityTrigger' && type !== 'orchestrationTrigger') {
      logger('warn', `[${registration.name}] ${type} is not served by the local host`);
    }
  }
  httpFunctions.sort((a, b) => b.route.specificity - a.route.specificity);
  if (hooks.length > 0)
    logger('warn', `${hooks.length} app hook(s) registered; the local host does not run hooks`);

  // ---- HTTP ----------------------------------------------------------------------------------
  const server = http.createServer((req, res) => {
    void clock.track(serve(req, res)).catch((err) => {
      logger('error', `HTTP ${req.method} ${redactUrl(req.url)}: ${describeError(err)}`);
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });

  async function serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (urlTooLong(req.url))
      return sendText(res, 414, `URI Too Long (the host allows ${MAX_URL_BYTES} bytes)`);
    const url = new URL(req.url ?? '/', bound.durable!.origin);
    if (isDurableApiPath(url.pathname)) return handleDurableApiRequest(engine, bound.durable!, req, res);
    if (url.pathname.startsWith('/admin/functions/') && req.method === 'POST')
      return serveAdmin(req, res, url);
    const prefix = routePrefix ? `/${routePrefix}` : '';
    const lowerPath = url.pathname.toLowerCase();
    if (prefix && lowerPath !== prefix && !lowerPath.startsWith(`${prefix}/`))
      return sendText(res, 404, 'Not Found');
    const path = url.pathname.slice(prefix.length);
    const method = (req.method ?? 'GET').toUpperCase();
    for (const fn of httpFunctions) {
      if (fn.methods.length > 0 && !fn.methods.includes(method)) continue;
      const params = matchRoute(fn.route, path);
      if (!params) continue;
      const denied = checkKey(fn.authLevel, req, url);
      if (denied) return sendText(res, 401, denied);
      return invokeHttp(fn, req, res, url, params);
    }
    return sendText(res, 404, 'Not Found');
  }

  function checkKey(authLevel: string, req: http.IncomingMessage, url: URL): string | undefined {
    if (authLevel === 'anonymous') return undefined;
    const header = req.headers['x-functions-key'];
    const key = url.searchParams.get('code') ?? (Array.isArray(header) ? header[0] : header);
    if (key === undefined || key === '')
      return options.requireKeys ? `This function needs a key (authLevel ${authLevel})` : undefined;
    return key === functionKey ? undefined : 'The key is not valid for this host';
  }

  async function invokeHttp(
    fn: HttpFunction,
    req: http.IncomingMessage,
    res: http.ServerResponse,
    url: URL,
    params: Record<string, string>,
  ): Promise<void> {
    const read = await readBodyWithinLimit(req);
    if (read.kind === 'tooLarge')
      return sendText(res, 413, `Payload Too Large (the host allows ${MAX_REQUEST_BODY_BYTES} bytes)`);
    const body = read.body;
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    const request = new HttpRequest({
      method: req.method ?? 'GET',
      url: url.toString(),
      headers,
      params,
      body: body.length > 0 ? { bytes: body } : undefined,
    });
    const context = contextFor(fn.registration);
    let result: unknown;
    try {
      result = await fn.registration.handler(request, context);
    } catch (err) {
      logger(
        'error',
        `[${fn.registration.name}] ${request.method} ${redactUrl(url.pathname)} failed: ${describeError(err)}`,
      );
      return sendText(res, 500, 'Internal Server Error');
    }
    if (result === undefined) {
      const out = Object.entries(fn.registration.bindings).find(
        ([n, b]) => b.type === 'http' && n !== '$return',
      );
      result = out ? context.extraOutputs.get(out[0]) : undefined;
    }
    if (result === undefined || result === null) {
      res.writeHead(204);
      res.end();
      return;
    }
    await writeHttpResponse(res, result);
  }

  async function serveAdmin(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    const name = decodeURIComponent(url.pathname.slice('/admin/functions/'.length));
    const denied = checkKey('admin', req, url);
    if (denied) return sendText(res, 401, denied);
    const text = (await readBytes(req)).toString('utf8');
    let input: unknown;
    try {
      input = text ? (JSON.parse(text) as { input?: unknown }).input : undefined;
    } catch {
      return sendText(res, 400, 'Body must be JSON: {"input": "..."}');
    }
    if (timers.has(name)) {
      void host.fireTimer(name).catch(() => undefined);
      return sendText(res, 202, '');
    }
    if (blobs.has(name) && typeof input === 'string') {
      const registration = blobs.get(name)!;
      const watcher = watchers.find((w) => w.registration === registration);
      if (!watcher)
        return sendText(res, 400, `Blob function ${name} has no watcher (startBlobWatchers: false)`);
      void watcher.pollNow();
      return sendText(res, 202, '');
    }
    return sendText(res, 404, `No timer or blob function named ${name}`);
  }

  // ---- start ---------------------------------------------------------------------------------
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const origin = `http://127.0.0.1:${port}`;
  const durableSettings: DurableApiSettings = { origin, taskHub, systemKey: functionKey };
  bound.durable = durableSettings;

  // durable-functions rewrites client URLs to localhost:7071 when WEBSITE_HOSTNAME is unset or 0.0.0.0.
  const previousHostname = process.env.WEBSITE_HOSTNAME;
  const setHostname = !previousHostname || previousHostname.includes('0.0.0.0');
  if (setHostname) process.env.WEBSITE_HOSTNAME = `127.0.0.1:${port}`;

  // Resumed only now: activities of resumed orchestrations need the durable client binding's URLs.
  let stateWriter: EngineStateWriter | undefined;
  if (options.durableStateFile) {
    const saved = readEngineState(options.durableStateFile);
    if (saved) {
      engine.importState(saved);
      const running = saved.instances.filter(
        (i) => !['Completed', 'Failed', 'Terminated'].includes(i.runtimeStatus),
      );
      logger(
        'info',
        `Durable state: ${saved.instances.length} instance(s) loaded, ${running.length} resumed`,
      );
    }
    stateWriter = writeEngineStatePeriodically(engine, options.durableStateFile);
  }

  if (options.startTimers !== false) for (const t of timers.values()) t.start();
  try {
    await Promise.all(watchers.map((w) => w.start()));
  } catch (err) {
    await closeServer(server);
    throw err;
  }
  logger(
    'info',
    `Local Functions host on ${origin}/${routePrefix} · ${httpFunctions.length} HTTP, ${timers.size} timer, ` +
      `${blobs.size} blob function(s) · key for function/admin routes: ${functionKey}`,
  );

  let stopped = false;
  const host: LocalHost = {
    baseUrl: `${origin}${routePrefix ? `/${routePrefix}` : ''}`,
    origin,
    port,
    engine,
    clock,
    functionKey,
    durableClientBindingData: durableClientBindingData(durableSettings),
    fireTimer(name) {
      const runner = timers.get(name);
      if (!runner)
        return Promise.reject(
          new Error(
            `No timer function named "${name}"; timers: ${[...timers.keys()].join(', ') || '(none)'}`,
          ),
        );
      return runner.fireNow();
    },
    invokeBlob(name, blobPath, content, properties = {}) {
      const registration = blobs.get(name);
      if (!registration) return Promise.reject(new Error(`No blob function named "${name}"`));
      // Same %SETTING% resolution as the watchers, so `%EXPORTS_CONTAINER%/{blobPath}` works here too.
      const pattern = parseBlobPath(
        resolveSettings(String(registration.trigger.path), env, `function ${name}`),
      );
      const [container, ...rest] = blobPath.replace(/^\/+/, '').split('/');
      const blobName = rest.join('/');
      const params = container === pattern.container ? matchBlobPath(pattern, blobName) : undefined;
      if (!params) {
        return Promise.reject(
          new Error(
            `blobPath "${blobPath}" does not match ${name}'s path "${String(registration.trigger.path)}"`,
          ),
        );
      }
      const bytes = typeof content === 'string' ? Buffer.from(content) : content;
      return invokeBlobDelivery(registration, {
        blobPath: `${container}/${blobName}`,
        content: bytes,
        uri: `${origin}/devstoreaccount1/${container}/${blobName}`,
        params,
        properties: {
          contentLength: bytes.length,
          eTag: `"0x${randomUUID().replace(/-/g, '').slice(0, 15).toUpperCase()}"`,
          ...properties,
        },
        metadata: {},
      });
    },
    async pollBlobs() {
      await Promise.all(watchers.map((w) => w.pollNow()));
    },
    nextTimerRuns() {
      return Object.fromEntries([...timers].map(([name, t]) => [name, t.nextRun]));
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const t of timers.values()) t.stop();
      for (const w of watchers) w.stop();
      engine.stop();
      stateWriter?.stop();
      await closeServer(server);
      if (setHostname && process.env.WEBSITE_HOSTNAME === `127.0.0.1:${port}`) {
        if (previousHostname === undefined) delete process.env.WEBSITE_HOSTNAME;
        else process.env.WEBSITE_HOSTNAME = previousHostname;
      }
    },
  };
  return host;
}

function isHttpResponse(value: unknown): value is HttpResponse {
  return (
    value instanceof HttpResponse ||
    (typeof value === 'object' &&
      value !== null &&
      typeof (value as HttpResponse).arrayBuffer === 'function' &&
      (value as HttpResponse).headers instanceof Headers)
  );
}

async function writeHttpResponse(res: http.ServerResponse, result: unknown): Promise<void> {
  const response = isHttpResponse(result) ? result : new HttpResponse(result as HttpResponseInit);
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  const cookies = (response.cookies ?? []).map(
    (c) =>
      `${c.name}=${c.value}` +
      (c.path ? `; Path=${c.path}` : '') +
      (c.domain ? `; Domain=${c.domain}` : '') +
      (c.maxAge !== undefined ? `; Max-Age=${c.maxAge}` : '') +
      (c.expires ? `; Expires=${new Date(c.expires).toUTCString()}` : '') +
      (c.secure ? '; Secure' : '') +
      (c.httpOnly ? '; HttpOnly' : '') +
      (c.sameSite ? `; SameSite=${c.sameSite}` : ''),
  );
  if (cookies.length > 0) headers['set-cookie'] = cookies;
  const body = Buffer.from(await response.arrayBuffer());
  res.writeHead(response.status, headers);
  res.end(body);
}

function sendText(res: http.ServerResponse, status: number, text: string): void {
  res.writeHead(status, text ? { 'Content-Type': 'text/plain; charset=utf-8' } : {});
  res.end(text);
}

/** Query strings may carry SAS tokens or keys: logs get the path only. */
function redactUrl(url: string | undefined): string {
  return (url ?? '').split('?')[0] ?? '';
}
