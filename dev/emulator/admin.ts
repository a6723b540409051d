// The emulator's admin API (`/_admin/...`, HTTPS, no auth: loopback only) and its typed client.
// Tests and benchmarks use it to count calls, inject faults, move the clock and steer runs.
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';

import type { BillingView } from './billing';
import type { Faults } from './faults';
import type { RunError, RunStatus } from './state';
import type { ThrottleLimits } from './throttle';

export interface Counters {
  /** Every API request that matched an operation (throttled and failed ones included). */
  total: number;
  byOperation: Record<string, number>;
  /** canonical scope -> operation -> count */
  byScope: Record<string, Record<string, number>>;
  /** `${canonical scope}/providers/Microsoft.CostManagement/exports/${lower-case name}` -> operation -> count */
  byExport: Record<string, Record<string, number>>;
  byStatus: Record<string, number>;
}

export interface RequestLogEntry {
  /** Wall-clock ms (Date.now()) when the request arrived and when it was answered. */
  receivedAt: number;
  answeredAt: number;
  method: string;
  path: string;
  operation: string;
  status: number;
  scope?: string;
  exportName?: string;
  principal?: string;
  retryAfterSeconds?: number;
}

export interface AdminRunView {
  runId: string;
  id: string;
  scope: string;
  exportName: string;
  status: RunStatus;
  executionType: string;
  submittedBy: string;
  submittedTime: string;
  processingStartTime?: string;
  processingEndTime?: string;
  /** yyyy-MM-dd, inclusive. */
  from: string;
  to: string;
  fileName?: string;
  manifestFile?: string;
  error?: RunError;
  /** A previous-month rerun that run history does not show (days 1-5, daily month-to-date). */
  hidden?: true;
}

export interface AdminExportView {
  id: string;
  scope: string;
  name: string;
  eTag: string;
  /** The export as GET returns it (SAS obfuscated). */
  body: Record<string, unknown>;
  runCount: number;
}

export interface ClockView {
  now: string;
  offsetMs: number;
}

/** What the server exposes to the admin API. */
export interface EmulatorControl {
  counters(): Counters;
  resetCounters(): void;
  requestLog(): RequestLogEntry[];
  faults(): Faults;
  setFaults(update: Partial<Faults>): Faults;
  throttle(): ThrottleLimits;
  setThrottle(update: ThrottleLimits): ThrottleLimits;
  clock(): ClockView;
  setClock(update: { now?: string; offsetMs?: number; advanceMs?: number }): ClockView;
  speedFactor(): number;
  setSpeedFactor(value: number): void;
  exports(): AdminExportView[];
  runs(): AdminRunView[];
  forceRunOutcome(runId: string, status: RunStatus, error?: RunError): AdminRunView;
  /** Submits a run as the scheduler would (executionType Scheduled, submittedBy System). */
  scheduledRun(scope: string, exportName: string): AdminRunView;
  waitForIdle(timeoutMs: number): Promise<void>;
  billing(): BillingView;
  setBilling(update: BillingUpdate): BillingView;
  reset(): void;
  caPem: string;
}

/** Steers the Billing API customer list and the scopes the caller has no rights at. */
export interface BillingUpdate {
  /** Replaces an MPA account's customers with `count` generated ones. */
  customers?: { billingAccountId: string; count: number };
  pageSize?: number;
  /** The next N customer pages after the first answer 503 (a list failing mid-way). */
  failPages?: number;
  /** Exports calls at these scopes answer 403 AuthorizationFailed (replaces the list). */
  forbiddenScopes?: string[];
}

class AdminInputError extends Error {}

function billingUpdate(body: Record<string, unknown>): BillingUpdate {
  const update: BillingUpdate = {};
  const whole = (v: unknown, min: number) => typeof v === 'number' && Number.isInteger(v) && v >= min;
  if (body.customers !== undefined) {
    const c = asObject(body.customers, 'customers');
    if (typeof c.billingAccountId !== 'string' || !whole(c.count, 0) || (c.count as number) > 100_000)
      throw new AdminInputError('customers needs billingAccountId (string) and count (0-100000)');
    update.customers = { billingAccountId: c.billingAccountId, count: c.count as number };
  }
  if (body.pageSize !== undefined) {
    if (!whole(body.pageSize, 1) || (body.pageSize as number) > 1000)
      throw new AdminInputError('pageSize must be 1-1000');
    update.pageSize = body.pageSize as number;
  }
  if (body.failPages !== undefined) {
    if (!whole(body.failPages, 0)) throw new AdminInputError('failPages must be a whole number >= 0');
    update.failPages = body.failPages as number;
  }
  if (body.forbiddenScopes !== undefined) {
    if (!Array.isArray(body.forbiddenScopes) || !body.forbiddenScopes.every((s) => typeof s === 'string'))
      throw new AdminInputError('forbiddenScopes must be a list of scopes');
    update.forbiddenScopes = body.forbiddenScopes;
  }
  return update;
}

function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8').trim();
      if (!text) return resolve({});
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(new AdminInputError('body is not valid JSON'));
      }
    });
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body?: unknown): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function asObject(value: unknown, name: string): Record<string, unknown> {
  if (!value || typeof value !== 'object' || Array.isArray(value))
    throw new AdminInputError(`${name} must be an object`);
  return value as Record<string, unknown>;
}

/** An admin route: answers 200 with what it returns (as JSON). */
type AdminRoute = (control: EmulatorControl, req: IncomingMessage, url: URL) => unknown;

const bodyOf = async (req: IncomingMessage, name: string) => asObject(await readJson(req), name);

/** `METHOD /_admin/path` -> its handler (the run outcome route has an id in it: see handleAdmin). */
const ADMIN_ROUTES: Record<string, AdminRoute> = {
  'GET /_admin/counters': (control) => control.counters(),
  'POST /_admin/counters/reset': (control) => {
    control.resetCounters();
    return control.counters();
  },
  'GET /_admin/requests': (control) => control.requestLog(),
  'GET /_admin/faults': (control) => control.faults(),
  'PUT /_admin/faults': async (control, req) => control.setFaults(await bodyOf(req, 'faults')),
  'GET /_admin/throttle': (control) => control.throttle(),
  'PUT /_admin/throttle': async (control, req) => control.setThrottle(await bodyOf(req, 'throttle')),
  'GET /_admin/clock': (control) => control.clock(),
  'PUT /_admin/clock': async (control, req) => control.setClock(await bodyOf(req, 'clock')),
  'GET /_admin/speed': (control) => ({ speedFactor: control.speedFactor() }),
  'PUT /_admin/speed': async (control, req) => {
    const value = (await bodyOf(req, 'speed')).speedFactor;
    const speed = value === 'max' ? Infinity : value;
    if (typeof speed !== 'number' || !(speed > 0))
      throw new AdminInputError('speedFactor must be > 0 or "max"');
    control.setSpeedFactor(speed);
    return { speedFactor: control.speedFactor() };
  },
  'GET /_admin/exports': (control) => control.exports(),
  'GET /_admin/runs': (control) => control.runs(),
  'POST /_admin/scheduled-runs': async (control, req) => {
    const body = await bodyOf(req, 'body');
    if (typeof body.scope !== 'string' || typeof body.exportName !== 'string')
      throw new AdminInputError('scope and exportName are required strings');
    return control.scheduledRun(body.scope, body.exportName);
  },
  'POST /_admin/idle': async (control, _req, url) => {
    const timeoutMs = Number(url.searchParams.get('timeoutMs') ?? '30000');
    await control.waitForIdle(Number.isFinite(timeoutMs) ? timeoutMs : 30_000);
    return { idle: true };
  },
  'GET /_admin/billing': (control) => control.billing(),
  'PUT /_admin/billing': async (control, req) =>
    control.setBilling(billingUpdate(await bodyOf(req, 'billing'))),
  'POST /_admin/reset': (control) => {
    control.reset();
    return { reset: true };
  },
};

const RUN_OUTCOME = /^POST \/_admin\/runs\/([0-9a-fA-F-]{36})\/outcome$/;

async function forceRunOutcome(control: EmulatorControl, req: IncomingMessage, runId: string) {
  const body = await bodyOf(req, 'body');
  return control.forceRunOutcome(runId, body.status as RunStatus, body.error as RunError | undefined);
}

/** Serves `/_admin/...`. Returns false if the path is not an admin path. */
export async function handleAdmin(
  control: EmulatorControl,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<boolean> {
  const url = new URL(`https://emulator${req.url ?? '/'}`);
  if (!url.pathname.startsWith('/_admin/')) return false;
  const route = `${req.method ?? 'GET'} ${url.pathname.replace(/\/+$/, '')}`;
  if (route === 'GET /_admin/ca') {
    res.writeHead(200, { 'content-type': 'application/x-pem-file' });
    res.end(control.caPem);
    return true;
  }
  try {
    const runOutcome = RUN_OUTCOME.exec(route);
    const handler = ADMIN_ROUTES[route];
    if (runOutcome) send(res, 200, await forceRunOutcome(control, req, runOutcome[1]!));
    else if (handler) send(res, 200, await handler(control, req, url));
    else send(res, 404, { error: { code: 'NotFound', message: `no admin route ${route}` } });
  } catch (err) {
    sendAdminError(res, err);
  }
  return true;
}

function sendAdminError(res: ServerResponse, err: unknown): void {
  const status =
    typeof (err as { status?: unknown }).status === 'number' ? (err as { status: number }).status : 400;
  const code = (err as { code?: string }).code ?? 'BadRequest';
  send(res, err instanceof AdminInputError || status < 500 ? status : 500, {
    error: { code, message: err instanceof Error ? err.message : String(err) },
  });
}

/** Typed client for the admin API, returned by startEmulator (works against `npm run emulator` too). */
export class EmulatorAdmin {
  private readonly agent: https.Agent;

  constructor(
    readonly baseUrl: string,
    caPem: string,
  ) {
    this.agent = new https.Agent({ ca: caPem, keepAlive: false });
  }

  private request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const url = new URL(path, this.baseUrl);
    const text = body === undefined ? undefined : JSON.stringify(body);
    return new Promise<T>((resolve, reject) => {
      const req = https.request(
        url,
        {
          method,
          agent: this.agent,
          headers: text
            ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }
            : {},
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const raw = Buffer.concat(chunks).toString('utf8');
            if ((res.statusCode ?? 500) >= 400) {
              return reject(new Error(`admin ${method} ${path} -> ${res.statusCode}: ${raw}`));
            }
            try {
              resolve((raw ? JSON.parse(raw) : undefined) as T);
            } catch {
              resolve(raw as T);
            }
          });
        },
      );
      req.on('error', reject);
      req.end(text);
    });
  }

  counters(): Promise<Counters> {
    return this.request('GET', '/_admin/counters');
  }
  resetCounters(): Promise<Counters> {
    return this.request('POST', '/_admin/counters/reset');
  }
  requests(): Promise<RequestLogEntry[]> {
    return this.request('GET', '/_admin/requests');
  }
  faults(): Promise<Faults> {
    return this.request('GET', '/_admin/faults');
  }
  setFaults(update: Partial<Faults>): Promise<Faults> {
    return this.request('PUT', '/_admin/faults', update);
  }
  throttle(): Promise<ThrottleLimits> {
    return this.request('GET', '/_admin/throttle');
  }
  setThrottle(update: ThrottleLimits): Promise<ThrottleLimits> {
    return this.request('PUT', '/_admin/throttle', update);
  }
  clock(): Promise<ClockView> {
    return this.request('GET', '/_admin/clock');
  }
  /** Sets the virtual clock to `now`, or its offset, or moves it forward; due runs progress at once. */
  setClock(update: { now?: Date | string; offsetMs?: number; advanceMs?: number }): Promise<ClockView> {
    const now = update.now instanceof Date ? update.now.toISOString() : update.now;
    return this.request('PUT', '/_admin/clock', { ...update, ...(now ? { now } : {}) });
  }
  advanceClock(ms: number): Promise<ClockView> {
    return this.setClock({ advanceMs: ms });
  }
  setSpeedFactor(speedFactor: number | 'max'): Promise<{ speedFactor: number }> {
    return this.request('PUT', '/_admin/speed', { speedFactor });
  }
  exports(): Promise<AdminExportView[]> {
    return this.request('GET', '/_admin/exports');
  }
  runs(): Promise<AdminRunView[]> {
    return this.request('GET', '/_admin/runs');
  }
  forceRunOutcome(runId: string, status: RunStatus, error?: RunError): Promise<AdminRunView> {
    return this.request('POST', `/_admin/runs/${runId}/outcome`, { status, ...(error ? { error } : {}) });
  }
  triggerScheduledRun(scope: string, exportName: string): Promise<AdminRunView> {
    return this.request('POST', '/_admin/scheduled-runs', { scope, exportName });
  }
  /** Resolves once no run is Queued or InProgress. */
  waitForIdle(timeoutMs = 30_000): Promise<void> {
    return this.request<unknown>('POST', `/_admin/idle?timeoutMs=${timeoutMs}`).then(() => undefined);
  }
  billing(): Promise<BillingView> {
    return this.request('GET', '/_admin/billing');
  }
  setBilling(update: BillingUpdate): Promise<BillingView> {
    return this.request('PUT', '/_admin/billing', update);
  }
  reset(): Promise<void> {
    return this.request<unknown>('POST', '/_admin/reset').then(() => undefined);
  }

  close(): void {
    this.agent.destroy();
  }
}
