// The whole app on a laptop, shared by `npm run dev` and `npm run demo`: Azurite (in memory), the
// Cost Management Exports emulator (HTTPS, delivering into that Azurite), and the local Functions
// host serving the REAL registrations of src/index.ts on the real clock. The app reads its settings
// from process.env (src/config.ts), so startStack sets them before the app is imported and puts the
// previous values back on stop. One stack per process: the app's registrations and its lazily built
// clients (services/appServices.ts) live for the process.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { BlobServiceClient } from '@azure/storage-blob';

import { resetConfigCache } from '../src/config';
import { redactSecrets } from '../src/domain/redact';
import { type AzuriteInstance, startAzurite } from './azurite';
import type { EmulatorAdmin } from './emulator/admin';
import { startEmulatorProcess } from './emulator/ownProcess';
import { type EmulatorOptions, type RunningEmulator, startEmulator } from './emulator/server';
import { REALISTIC_THROTTLE } from './emulator/throttle';
import { RealClock } from './host/clock';
import { installFunctionsCoreStub } from './host/installFunctionsCoreStub';
import type { HostLogger } from './host/invocation';
import type { InvocationObserver } from './host/invocationTiming';
import { type LocalHost, startLocalHost } from './host/localHost';

/** The billing account the local stack manages unless told otherwise (an EA enrollment: its id is digits). */
export const DEFAULT_SCOPE = '/providers/Microsoft.Billing/billingAccounts/12345678';
export const EXPORTS_CONTAINER = 'msexports';

export interface StackOptions {
  /** Emulator run timings (20 s queued + 40 s in progress in real life) are divided by this. Default 20. */
  speedFactor?: number;
  /** How often the blob trigger lists the exports container. Default 500 ms. */
  blobPollIntervalMs?: number;
  /** MANAGED_SCOPES. Default [DEFAULT_SCOPE]. */
  managedScopes?: string[];
  /** Extra app settings, applied last (e.g. BACKFILL_MAX_CONCURRENCY). */
  settings?: Record<string, string>;
  /** Host and function logs. Default: redacted, to stderr (stdout belongs to the caller). */
  logger?: HostLogger;
  /** Emulator seed (generated data and fault decisions). Default 1. */
  seed?: number;
  /** Generated data volume per run (emulator delivery). */
  data?: { rowsPerPartition?: number; resourcesPerDay?: number };
  /** More emulator options (throttle limits, faults, request log size), applied last. */
  emulator?: Omit<EmulatorOptions, 'storage' | 'caFile'>;
  /** Stop everything on the first SIGINT/SIGTERM (even mid-start) and exit the process with this code. */
  exitOnSignal?: (signal: NodeJS.Signals) => number;
  /** Keep state here across restarts: Azurite's data, the emulator's exports and runs, the durable
   * engine's orchestrations and the function key. Default: everything in memory, a new key each start. */
  dataDir?: string;
  /** Told the wall time of every function invocation the host makes (benchmarks). */
  onInvocation?: InvocationObserver;
  /** Run the emulator in a Node process of its own (benchmarks: this process's memory and CPU are
   * then the app's and the host's alone). Default: in this process. */
  emulatorInOwnProcess?: boolean;
}

export interface RunningStack {
  /** `http://127.0.0.1:PORT/api`: the app's HTTP functions. */
  api: string;
  /** `https://127.0.0.1:PORT`: the Exports emulator (the app's COST_MANAGEMENT_ENDPOINT). */
  emulator: string;
  /** Path of the emulator's self-signed CA certificate (PEM). */
  emulatorCa: string;
  /** Azurite connection string (well-known development key). */
  storage: string;
  /** The key function and admin routes accept (`x-functions-key`). */
  functionKey: string;
  /** Where state is kept across restarts (absolute), when asked. */
  dataDir?: string;
  /** The app settings this stack put in process.env. */
  settings: Readonly<Record<string, string>>;
  host: LocalHost;
  emulatorAdmin: EmulatorAdmin;
  /** The emulator's process id when it runs in a process of its own (emulatorInOwnProcess). */
  emulatorPid?: number;
  azurite: AzuriteInstance;
  /** Stops host, emulator and Azurite, removes temp files, restores process.env. Idempotent. */
  stop(): Promise<void>;
}

/** Default logger: stderr, secrets redacted, debug dropped. */
export const stderrLogger: HostLogger = (level, message) => {
  if (level === 'debug') return;
  process.stderr.write(`${level === 'info' ? '' : `${level}: `}${redactSecrets(message)}\n`);
};

/** `Values` of local.settings.sample.json: every setting the app documents, with its local default. */
export function sampleSettings(
  file = path.join(__dirname, '..', 'local.settings.sample.json'),
): Record<string, string> {
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as { Values?: Record<string, unknown> };
  return Object.fromEntries(
    Object.entries(parsed.Values ?? {}).filter((e): e is [string, string] => typeof e[1] === 'string'),
  );
}

/** Settings known before anything starts: the sample's values, then this stack's choices. */
export function staticSettings(
  managedScopes: readonly string[],
  base: Record<string, string> = sampleSettings(),
): Record<string, string> {
  return {
    ...base,
    EXPORTS_CONTAINER,
    // The local host serves both sources by listing; this one needs no Event Grid subscription.
    LANDING_TRIGGER_SOURCE: 'LogsAndContainerScan',
    COST_MANAGEMENT_CLIENT_TYPE: 'CostExportAutopilotLocal',
    MANAGED_SCOPES: managedScopes.join(','),
    // No Key Vault locally: SAS values go to a dev-only table in Azurite.
    SECRET_STORE: 'table',
    KEY_VAULT_URI: '',
    ALERT_MAIL_TRANSPORT: 'none',
    BACKFILL_MAX_CONCURRENCY: '6',
    BACKFILL_MAX_ATTEMPTS: '3',
    // The shortest the settings allow: landings normally wake the backfill through exportLanded first.
    BACKFILL_POLL_INTERVAL_MINUTES: '1',
    BACKFILL_LANDING_TIMEOUT_MINUTES: '10',
    DURABLE_TASK_HUB: 'localdev',
  };
}

/** Settings that point the app at the running Azurite and emulator. */
export function connectionSettings(input: {
  storage: string;
  blobOrigin: string;
  emulatorUrl: string;
  emulatorCa: string;
}): Record<string, string> {
  return {
    AzureWebJobsStorage: input.storage,
    ExportsStorage: input.storage,
    // Azurite's path-style URLs: the SAS probe reaches `devstoreaccount1` at {origin}/devstoreaccount1.
    STORAGE_BLOB_ENDPOINT_TEMPLATE: `${input.blobOrigin}/{account}`,
    COST_MANAGEMENT_ENDPOINT: input.emulatorUrl,
    COST_MANAGEMENT_CA_FILE: input.emulatorCa,
  };
}

/** What a starting stack has started and changed, so that stopping can undo it. */
interface StackParts {
  tempDir: string;
  logger: HostLogger;
  /** Environment variables set, with their values before. */
  previousEnv: Map<string, string | undefined>;
  started: { azurite?: AzuriteInstance; emulator?: RunningEmulator; host?: LocalHost };
}

/** Stops what was started (outside in), puts the environment back and removes the temp files; the
 * returned function is idempotent. If the process exits without it having finished (process.exit
 * elsewhere, a forced exit), Azurite and the temp files go down with it: only SIGKILL of this
 * process can leave them behind. */
function stackStopper(parts: StackParts): () => Promise<void> {
  const { tempDir, logger, previousEnv, started } = parts;
  const lastResort = () => {
    killQuietly(started.azurite?.pid);
    rmSync(tempDir, { recursive: true, force: true });
  };
  process.once('exit', lastResort);
  let stopped: Promise<void> | undefined;
  return (): Promise<void> => {
    stopped ??= (async () => {
      const problems: unknown[] = [];
      const attempt = async (step: () => Promise<void> | undefined) => {
        try {
          await step();
        } catch (error) {
          problems.push(error);
        }
      };
      // Outside in: no new work from the host, then no new deliveries, then storage.
      await attempt(() => started.host?.stop());
      await attempt(() => started.emulator?.stop());
      await attempt(() => started.azurite?.stop());
      rmSync(tempDir, { recursive: true, force: true });
      for (const [name, value] of previousEnv) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      resetConfigCache();
      process.off('exit', lastResort);
      if (problems.length > 0) {
        logger(
          'warn',
          `stack stopped with ${problems.length} problem(s): ${problems.map(describe).join('; ')}`,
        );
      }
    })();
    return stopped;
  };
}

/** Starts Azurite while the app's modules load (CPU-bound module evaluation next to another process's
 * start-up: the slowest steps), then creates the partner's exports container. */
async function startAzuriteWithApp(parts: StackParts, dataDir: string | undefined): Promise<AzuriteInstance> {
  if (dataDir) mkdirSync(path.join(dataDir, 'azurite'), { recursive: true });
  const azuriteStarting = startAzurite(dataDir ? { location: path.join(dataDir, 'azurite') } : {}).then(
    (a) => (parts.started.azurite = a),
  );
  const appLoading = (async () => {
    installFunctionsCoreStub();
    await import('../src/index.js'); // the REAL registrations
  })();
  const [azuriteResult, appResult] = await Promise.allSettled([azuriteStarting, appLoading]);
  if (azuriteResult.status === 'rejected') throw azuriteResult.reason;
  if (appResult.status === 'rejected') throw appResult.reason;
  const azurite = azuriteResult.value;
  // The partner's storage account comes with its exports container; the SAS probe needs it to exist.
  await BlobServiceClient.fromConnectionString(azurite.connectionString)
    .getContainerClient(EXPORTS_CONTAINER)
    .createIfNotExists();
  return azurite;
}

function startStackEmulator(
  options: StackOptions,
  azurite: AzuriteInstance,
  emulatorCa: string,
  dataDir: string | undefined,
): Promise<RunningEmulator & { pid?: number }> {
  return (options.emulatorInOwnProcess ? startEmulatorProcess : startEmulator)({
    speedFactor: options.speedFactor ?? 20,
    seed: options.seed ?? 1,
    ...(options.data ? { data: options.data } : {}),
    storage: { blobEndpoint: azurite.blobEndpoint, connectionString: azurite.connectionString },
    caFile: emulatorCa, // written by the emulator; removed with tempDir on stop
    ...(dataDir ? { stateFile: path.join(dataDir, 'emulator.json') } : {}),
    // Throttled as Azure is; `emulator.throttle` (or PUT /_admin/throttle) changes it.
    throttle: { ...REALISTIC_THROTTLE },
    ...options.emulator,
  });
}

function startStackHost(
  options: StackOptions,
  logger: HostLogger,
  taskHub: string | undefined,
  dataDir: string | undefined,
): Promise<LocalHost> {
  return startLocalHost({
    env: process.env,
    clock: new RealClock(),
    blobPollIntervalMs: options.blobPollIntervalMs ?? 500,
    taskHub,
    logger,
    ...(options.onInvocation ? { onInvocation: options.onInvocation } : {}),
    ...(dataDir
      ? {
          durableStateFile: path.join(dataDir, 'durable.json'),
          functionKey: persistentFunctionKey(path.join(dataDir, 'function-key')),
        }
      : {}),
  });
}

export async function startStack(options: StackOptions = {}): Promise<RunningStack> {
  const logger = options.logger ?? stderrLogger;
  const tempDir = mkdtempSync(path.join(os.tmpdir(), 'cost-export-autopilot-'));
  const emulatorCa = path.join(tempDir, 'emulator-ca.pem');
  const parts: StackParts = { tempDir, logger, previousEnv: new Map(), started: {} };
  const { previousEnv, started } = parts;
  const stop = stackStopper(parts);
  if (options.exitOnSignal) stopOnSignals(stop, () => started.azurite?.pid, options.exitOnSignal);

  const applySettings = (values: Record<string, string>) => {
    for (const [name, value] of Object.entries(values)) {
      if (!previousEnv.has(name)) previousEnv.set(name, process.env[name]);
      process.env[name] = value;
    }
    resetConfigCache();
  };

  try {
    // Function files read some settings at import, so the static ones come first.
    applySettings({ ...staticSettings(options.managedScopes ?? [DEFAULT_SCOPE]), ...options.settings });
    const dataDir = options.dataDir ? path.resolve(options.dataDir) : undefined;
    const azurite = await startAzuriteWithApp(parts, dataDir);
    const emulator = await startStackEmulator(options, azurite, emulatorCa, dataDir);
    started.emulator = emulator;

    applySettings({
      ...connectionSettings({
        storage: azurite.connectionString,
        blobOrigin: new URL(azurite.blobEndpoint).origin,
        emulatorUrl: emulator.url,
        emulatorCa,
      }),
      ...options.settings,
    });
    const settings = Object.fromEntries(
      [...previousEnv.keys()].map((name) => [name, process.env[name] ?? '']),
    );

    const host = await startStackHost(options, logger, settings.DURABLE_TASK_HUB, dataDir);
    started.host = host;

    return {
      api: host.baseUrl,
      emulator: emulator.url,
      emulatorCa,
      storage: azurite.connectionString,
      functionKey: host.functionKey,
      ...(dataDir ? { dataDir } : {}),
      settings,
      host,
      emulatorAdmin: emulator.admin,
      ...(emulator.pid !== undefined ? { emulatorPid: emulator.pid } : {}),
      azurite,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Runs `stop` on the first SIGINT or SIGTERM, then exits with `exitCode(signal)`. Later signals only
 * say that shutdown is under way; if stopping hangs, Azurite is killed and the process exits 1. */
export function stopOnSignals(
  stop: () => Promise<void>,
  azuritePid: () => number | undefined,
  exitCode: (signal: NodeJS.Signals) => number,
  log: (message: string) => void = (m) => process.stderr.write(`${m}\n`),
): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      log(`${signal}: already stopping...`);
      return;
    }
    stopping = true;
    log(`${signal}: stopping Azurite, the emulator and the host...`);
    const force = setTimeout(() => {
      log('stopping took too long; killing Azurite');
      killQuietly(azuritePid());
      process.exit(1);
    }, 20_000);
    force.unref();
    void stop().finally(() => process.exit(exitCode(signal)));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

/** The same key across restarts of one data folder, so scripts and the CLI keep working. */
function persistentFunctionKey(file: string): string {
  if (existsSync(file)) {
    const key = readFileSync(file, 'utf8').trim();
    if (key) return key;
  }
  const key = randomBytes(24).toString('base64url');
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return key;
}

function killQuietly(pid: number | undefined): void {
  try {
    if (pid !== undefined && pid > 0) process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function describe(error: unknown): string {
  return redactSecrets(error instanceof Error ? error.message : String(error));
}
