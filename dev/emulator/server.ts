// The Cost Management Exports emulator: an HTTPS server that answers like the Exports REST API
// 2025-03-01 (List, Get, CreateOrUpdate, Delete, Execute, GetExecutionHistory at the nine scope
// kinds), delivers runs into Azurite through ./delivery, and is steered through /_admin.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

import { redactError } from '../../src/domain/redact';
import { createLoopbackCertificate } from '../tls';
import { EmulatorAdmin, handleAdmin } from './admin';
import { type BillingSnapshot, BillingState } from './billing';
import { Control } from './control';
import type { EmulatorStorage } from './delivery';
import { ExportsApi } from './exportsApi';
import { DEFAULT_FAULTS, type Faults, validateFaults } from './faults';
import { RequestRecorder } from './requestLog';
import { ExportStore, type StoreSnapshot } from './state';
import { Throttle, type ThrottleLimits, validateThrottleLimits } from './throttle';
import { VirtualClock } from './time';
import { ExportValidator } from './validation';

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

export async function startEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const cert = await createLoopbackCertificate();
  const clock = new VirtualClock(options.clock?.offsetMs ?? 0);
  if (options.clock?.now !== undefined) clock.set(new Date(options.clock.now));
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
  const recorder = new RequestRecorder(options.requestLogLimit ?? 5000);
  const api = new ExportsApi({
    store,
    billing,
    throttle,
    clock,
    validator: new ExportValidator(),
    acceptedVersions: options.apiVersions ?? [API_VERSION],
    recorder,
  });
  const control = new Control({
    caPem: cert.cert,
    store,
    billing,
    throttle,
    clock,
    recorder,
    apiVersion: API_VERSION,
  });

  let baseUrl = '';
  const server = https.createServer({ cert: cert.cert, key: cert.key }, (req, res) => {
    void (async () => {
      try {
        if (await handleAdmin(control, req, res)) return;
        if (billing.handle(req, res, baseUrl)) return;
        await api.handle(req, res);
      } catch (err) {
        console.error('emulator: request failed', redactError(err));
        if (!res.headersSent) res.writeHead(500);
        res.end();
      }
    })();
  });
  const url = await listen(server, options.port ?? 0);
  baseUrl = url;
  if (options.caFile) writeFileSync(options.caFile, cert.cert);
  const admin = new EmulatorAdmin(url, cert.cert);
  let stopped: Promise<void> | undefined;
  return {
    url,
    caPem: cert.cert,
    ...(options.caFile ? { caPath: options.caFile } : {}),
    admin,
    stop: () =>
      (stopped ??= (async () => {
        api.stop();
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

/** Listens on 127.0.0.1 and returns the server's https origin. */
async function listen(server: https.Server, port: number): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
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
