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

import { matchBlobPath, parseBlobPath } from './blobTriggers';
import { type Clock, RealClock } from './clock';
import { DurableEngine, type DurableEngineOptions } from './durable/engine';
import {
  closeServer,
  type DurableApiSettings,
  type DurableClientBindingData,
  durableClientBindingData,
} from './durable/httpApi';
import { type EngineStateWriter, readEngineState, writeEngineStatePeriodically } from './durable/stateFile';
import {
  type ContextFor,
  type FunctionIndex,
  type IndexDeps,
  indexFunctions,
  invokeBlobDelivery,
} from './functionIndex';
import {
  type CapturedRegistration,
  hooks,
  registrations as capturedRegistrations,
} from './functionsCoreStub';
import { HostHttp, redactUrl } from './hostHttp';
import { consoleLogger, createInvocationContext, describeError, type HostLogger } from './invocation';
import { type InvocationObserver, timedRegistrations } from './invocationTiming';
import { type HostEnv, resolveSettings } from './settings';

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
  const contextFor: ContextFor = (registration, triggerMetadata) =>
    createInvocationContext(registration, { triggerMetadata, extraInputs, logger });

  const engine = new DurableEngine({
    ...options.durable,
    clock,
    logger,
    registrations: all,
    createContext: (registration) => contextFor(registration),
  });
  const indexDeps: IndexDeps = {
    env,
    clock,
    logger,
    contextFor,
    startBlobWatchers: options.startBlobWatchers !== false,
    blobPollIntervalMs: options.blobPollIntervalMs ?? 1000,
    processExistingBlobs: options.processExistingBlobs ?? true,
  };
  const index = indexFunctions(all, indexDeps);
  if (hooks.length > 0)
    logger('warn', `${hooks.length} app hook(s) registered; the local host does not run hooks`);

  const hostHttp = new HostHttp({
    engine,
    index,
    contextFor,
    logger,
    routePrefix,
    functionKey,
    requireKeys: options.requireKeys ?? false,
    durable: () => bound.durable!,
  });
  const server = hostServer(hostHttp, clock, logger);
  const port = await listen(server, options.port ?? 0);
  const origin = `http://127.0.0.1:${port}`;
  bound.durable = { origin, taskHub, systemKey: functionKey };
  const restoreHostname = pointDurableClientsAt(port);

  // Resumed only now: activities of resumed orchestrations need the durable client binding's URLs.
  const stateWriter = options.durableStateFile
    ? resumeDurableState(engine, options.durableStateFile, logger)
    : undefined;

  await startTriggers(index, options.startTimers !== false, server);
  logger(
    'info',
    `Local Functions host on ${origin}/${routePrefix} · ${index.http.length} HTTP, ${index.timers.size} timer, ` +
      `${index.blobs.size} blob function(s) · key for function/admin routes: ${functionKey}`,
  );
  return new RunningLocalHost({
    baseUrl: `${origin}${routePrefix ? `/${routePrefix}` : ''}`,
    origin,
    port,
    engine,
    clock,
    functionKey,
    durableClientBindingData: durableClientBindingData(bound.durable),
    env,
    index,
    indexDeps,
    stop: async () => {
      engine.stop();
      stateWriter?.stop();
      await closeServer(server);
      restoreHostname();
    },
  });
}

/** The host's HTTP server: every request tracked on the clock; an unexpected failure answers 500. */
function hostServer(hostHttp: HostHttp, clock: Clock, logger: HostLogger): http.Server {
  return http.createServer((req, res) => {
    void clock.track(hostHttp.serve(req, res)).catch((err) => {
      logger('error', `HTTP ${req.method} ${redactUrl(req.url)}: ${describeError(err)}`);
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
}

/** Starts the timer schedules (unless a test drives them) and the blob watchers; a watcher that
 * cannot start closes the server. */
async function startTriggers(index: FunctionIndex, startTimers: boolean, server: http.Server): Promise<void> {
  if (startTimers) for (const t of index.timers.values()) t.start();
  try {
    await Promise.all(index.watchers.map((w) => w.start()));
  } catch (err) {
    await closeServer(server);
    throw err;
  }
}

async function listen(server: http.Server, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

/** durable-functions rewrites client URLs to localhost:7071 when WEBSITE_HOSTNAME is unset or
 * 0.0.0.0: point it at this host. Returns what puts the previous value back. */
function pointDurableClientsAt(port: number): () => void {
  const previousHostname = process.env.WEBSITE_HOSTNAME;
  const setHostname = !previousHostname || previousHostname.includes('0.0.0.0');
  if (setHostname) process.env.WEBSITE_HOSTNAME = `127.0.0.1:${port}`;
  return () => {
    if (setHostname && process.env.WEBSITE_HOSTNAME === `127.0.0.1:${port}`) {
      if (previousHostname === undefined) delete process.env.WEBSITE_HOSTNAME;
      else process.env.WEBSITE_HOSTNAME = previousHostname;
    }
  };
}

/** Loads the engine's saved instances (if the file exists) and keeps writing them to it. */
function resumeDurableState(engine: DurableEngine, file: string, logger: HostLogger): EngineStateWriter {
  const saved = readEngineState(file);
  if (saved) {
    engine.importState(saved);
    const running = saved.instances.filter(
      (i) => !['Completed', 'Failed', 'Terminated'].includes(i.runtimeStatus),
    );
    logger('info', `Durable state: ${saved.instances.length} instance(s) loaded, ${running.length} resumed`);
  }
  return writeEngineStatePeriodically(engine, file);
}

interface RunningParts {
  baseUrl: string;
  origin: string;
  port: number;
  engine: DurableEngine;
  clock: Clock;
  functionKey: string;
  durableClientBindingData: DurableClientBindingData;
  env: HostEnv;
  index: FunctionIndex;
  indexDeps: IndexDeps;
  /** Stops the engine, the state file and the server (after timers and watchers are stopped). */
  stop: () => Promise<void>;
}

class RunningLocalHost implements LocalHost {
  readonly baseUrl: string;
  readonly origin: string;
  readonly port: number;
  readonly engine: DurableEngine;
  readonly clock: Clock;
  readonly functionKey: string;
  readonly durableClientBindingData: DurableClientBindingData;
  private stopped = false;

  constructor(private readonly parts: RunningParts) {
    this.baseUrl = parts.baseUrl;
    this.origin = parts.origin;
    this.port = parts.port;
    this.engine = parts.engine;
    this.clock = parts.clock;
    this.functionKey = parts.functionKey;
    this.durableClientBindingData = parts.durableClientBindingData;
  }

  fireTimer(name: string): Promise<unknown> {
    const timers = this.parts.index.timers;
    const runner = timers.get(name);
    if (!runner)
      return Promise.reject(
        new Error(`No timer function named "${name}"; timers: ${[...timers.keys()].join(', ') || '(none)'}`),
      );
    return runner.fireNow();
  }

  invokeBlob(
    name: string,
    blobPath: string,
    content: Buffer | string,
    properties: Record<string, unknown> = {},
  ): Promise<unknown> {
    const registration = this.parts.index.blobs.get(name);
    if (!registration) return Promise.reject(new Error(`No blob function named "${name}"`));
    // Same %SETTING% resolution as the watchers, so `%EXPORTS_CONTAINER%/{blobPath}` works here too.
    const pattern = parseBlobPath(
      resolveSettings(String(registration.trigger.path), this.parts.env, `function ${name}`),
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
    return invokeBlobDelivery(this.parts.indexDeps, registration, {
      blobPath: `${container}/${blobName}`,
      content: bytes,
      uri: `${this.origin}/devstoreaccount1/${container}/${blobName}`,
      params,
      properties: {
        contentLength: bytes.length,
        eTag: `"0x${randomUUID().replace(/-/g, '').slice(0, 15).toUpperCase()}"`,
        ...properties,
      },
      metadata: {},
    });
  }

  async pollBlobs(): Promise<void> {
    await Promise.all(this.parts.index.watchers.map((w) => w.pollNow()));
  }

  nextTimerRuns(): Record<string, Date | undefined> {
    return Object.fromEntries([...this.parts.index.timers].map(([name, t]) => [name, t.nextRun]));
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.parts.index.timers.values()) t.stop();
    for (const w of this.parts.index.watchers) w.stop();
    await this.parts.stop();
  }
}
