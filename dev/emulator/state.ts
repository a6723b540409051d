// The emulator's memory: exports per canonical scope + case-insensitive name, their runs, and the
// run state machine Queued -> InProgress -> Completed | Failed | Timeout | DataNotAvailable.
// Time is the emulator's virtual clock; transitions are due at virtual instants and one real timer
// wakes the machine for the next one, so tests can also move the clock instead of waiting.
import { randomUUID } from 'node:crypto';

import { redactError } from '../../src/domain/redact';
import { parseScope, type Scope } from '../../src/domain/scope';
import { mulberry32 } from './data/prng';
import {
  deliverRun,
  DeliveryAuthorizationError,
  DeliveryUnsupportedError,
  type EmulatorStorage,
  SAS_AUTHORIZATION_MESSAGE,
} from './delivery';
import { type Faults } from './faults';
import { runDeliveryRequest } from './runRequest';
import {
  checkRunPeriod,
  DAY,
  monthsOf,
  parsePeriod,
  resolveTimeframe,
  utcDay,
  type VirtualClock,
} from './time';
import { ArmError, type ExportInput, type ExportPropertiesInput, type TimePeriodInput } from './validation';

export type RunStatus =
  'Queued' | 'InProgress' | 'Completed' | 'Failed' | 'Timeout' | 'NewDataNotAvailable' | 'DataNotAvailable';

export const TERMINAL_STATUSES: readonly RunStatus[] = [
  'Completed',
  'Failed',
  'Timeout',
  'NewDataNotAvailable',
  'DataNotAvailable',
];

export interface StoredExport {
  key: string;
  scope: Scope;
  name: string;
  eTag: string;
  identity?: { type: string; principalId?: string; tenantId?: string };
  location?: string;
  /** As accepted, with the real SAS token. */
  properties: ExportPropertiesInput;
  createdAt: number;
  updatedAt: number;
  runs: RunRecord[];
}

/** The runs run history shows: every run but the hidden previous-month reruns. */
export function visibleRuns(exp: StoredExport): RunRecord[] {
  return exp.runs.filter((run) => !run.hidden);
}

export interface StoreSnapshot {
  version: 1;
  exports: (Omit<StoredExport, 'scope' | 'runs'> & {
    scope: string;
    runs: (Omit<RunRecord, 'from' | 'to' | 'finishing'> & { from: string; to: string })[];
  })[];
}

export interface RunError {
  code: string;
  message: string;
}

export interface RunRecord {
  id: string;
  exportKey: string;
  scope: string;
  exportName: string;
  apiVersion: string;
  executionType: 'OnDemand' | 'Scheduled';
  status: RunStatus;
  submittedBy: string;
  submittedTime: number;
  processingStartTime?: number;
  processingEndTime?: number;
  /** The run's period, UTC days, inclusive. */
  from: Date;
  to: Date;
  /** The export's settings when the run was submitted (real SAS token). */
  runSettings: ExportPropertiesInput;
  error?: RunError;
  fileName?: string;
  manifestFile?: string;
  /** Virtual instant of the next transition. */
  dueAt: number;
  /** Drawn when submitted so the outcome is deterministic for a seed and a call sequence. */
  planned: 'deliver' | 'fail' | 'timeout';
  forced?: { status: RunStatus; error?: RunError };
  finishing?: boolean;
  /** The previous month's rerun a daily month-to-date export makes on days 1-5: it delivers, but
   * run history never shows it (Learn, tutorial-export-acm-data). */
  hidden?: boolean;
}

export interface StoreOptions {
  clock: VirtualClock;
  /** Run timings are divided by this; Infinity makes runs finish as fast as delivery allows. */
  speedFactor: number;
  seed: number;
  storage?: EmulatorStorage;
  faults: Faults;
  /** How many deliveries may write to storage at once. */
  maxConcurrentDeliveries?: number;
  /** Passed through to delivery (data volume). */
  data?: { rowsPerPartition?: number; resourcesPerDay?: number };
  /** Runs kept per export (oldest dropped first). */
  historyLimit?: number;
  /** Real-world durations before speedFactor: time Queued, time InProgress. */
  queuedMs?: number;
  processingMs?: number;
}

export const OBFUSCATED_SAS = '**********';

/** The documented message for a SAS the storage account refused (Microsoft Learn, SAS exports). */
export const SAS_FAILURE_MESSAGE = SAS_AUTHORIZATION_MESSAGE;

export function exportKey(scope: Scope, name: string): string {
  return `${scope.canonical.toLowerCase()}|${name.toLowerCase()}`;
}

function newETag(): string {
  return `"${randomUUID()}"`;
}

function unquote(etag: string): string {
  return etag.trim().replace(/^W\//, '').replace(/^"|"$/g, '').toLowerCase();
}

export interface Caller {
  /** Shown as the run's submittedBy: the token's e-mail/upn, else its object id. */
  displayName: string;
}

export class ExportStore {
  private readonly exports = new Map<string, StoredExport>();
  private readonly active = new Set<RunRecord>();
  private readonly runsById = new Map<string, RunRecord>();
  private readonly inflight = new Set<Promise<void>>();
  /** Virtual instant each export's last run ended (the next queued run starts no earlier). */
  private readonly freedAt = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private timerDueAt = Infinity;
  private delivering = 0;
  private stopped = false;
  private random: () => number;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly options: StoreOptions) {
    this.random = mulberry32(options.seed);
  }

  get clock(): VirtualClock {
    return this.options.clock;
  }

  get faults(): Faults {
    return this.options.faults;
  }

  setFaults(faults: Faults): void {
    this.options.faults = faults;
  }

  setSpeedFactor(speedFactor: number): void {
    this.options.speedFactor = speedFactor;
    this.kick();
  }

  get speedFactor(): number {
    return this.options.speedFactor;
  }

  /** Draws from the seeded generator (also used by the server for 5xx faults). */
  draw(): number {
    return this.random();
  }

  get(scope: Scope, name: string): StoredExport | undefined {
    return this.exports.get(exportKey(scope, name));
  }

  require(scope: Scope, name: string): StoredExport {
    const found = this.get(scope, name);
    if (!found) {
      throw new ArmError(404, 'NotFound', `Export '${name}' was not found at scope '${scope.canonical}'.`);
    }
    return found;
  }

  list(scope: Scope): StoredExport[] {
    const prefix = `${scope.canonical.toLowerCase()}|`;
    return [...this.exports.values()]
      .filter((e) => e.key.startsWith(prefix))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  all(): StoredExport[] {
    return [...this.exports.values()];
  }

  allRuns(): RunRecord[] {
    return [...this.runsById.values()];
  }

  getRun(id: string): RunRecord | undefined {
    return this.runsById.get(id.toLowerCase());
  }

  /** Create or update. Update needs the current eTag (body `eTag` or If-Match): missing -> 400
   * (the message Cost Management returns, code "400"), stale -> 412 PreconditionFailed. */
  put(
    scope: Scope,
    name: string,
    input: ExportInput,
    ifMatch: string | undefined,
  ): { created: boolean; export: StoredExport } {
    const now = this.clock.now();
    const existing = this.get(scope, name);
    const props = structuredClone(input.properties);
    // `type` of the destination is accepted but never echoed (the examples' responses omit it).
    delete props.deliveryInfo.destination.type;
    if (!existing) {
      const created: StoredExport = {
        key: exportKey(scope, name),
        scope,
        name,
        eTag: newETag(),
        ...(input.identity ? { identity: this.newIdentity(input.identity.type) } : {}),
        ...(input.location !== undefined ? { location: input.location } : {}),
        properties: props,
        createdAt: now,
        updatedAt: now,
        runs: [],
      };
      if (created.properties.deliveryInfo.destination.sasToken === OBFUSCATED_SAS) {
        throw new ArmError(
          400,
          'BadRequest',
          "'properties.deliveryInfo.destination.sasToken' is the obfuscated placeholder; a real SAS token is required.",
        );
      }
      this.exports.set(created.key, created);
      return { created: true, export: created };
    }
    const given = input.eTag ?? ifMatch;
    if (!given) {
      throw new ArmError(
        400,
        '400',
        `Etag value required for update operation of report: ${existing.name}.Please get the latest to avoid overwrite.`,
      );
    }
    if (given.trim() !== '*' && unquote(given) !== unquote(existing.eTag)) {
      throw new ArmError(
        412,
        'PreconditionFailed',
        `The eTag '${given}' does not match the current eTag of export '${existing.name}'. Get the export again and retry with its eTag.`,
      );
    }
    if (
      input.location !== undefined &&
      existing.location !== undefined &&
      input.location !== existing.location
    ) {
      throw new ArmError(
        400,
        'BadRequest',
        `'location' cannot be changed after creation (was '${existing.location}', got '${input.location}').`,
      );
    }
    const dest = props.deliveryInfo.destination;
    if (dest.sasToken === OBFUSCATED_SAS) {
      // The documented contract: sending back the obfuscated value keeps the stored token.
      const old = existing.properties.deliveryInfo.destination.sasToken;
      if (old === undefined) {
        throw new ArmError(
          400,
          'BadRequest',
          "'properties.deliveryInfo.destination.sasToken' is the obfuscated placeholder but the export has no SAS token.",
        );
      }
      dest.sasToken = old;
    }
    existing.properties = props;
    if (input.identity && !existing.identity) existing.identity = this.newIdentity(input.identity.type);
    if (input.identity && existing.identity) existing.identity.type = input.identity.type;
    if (input.location !== undefined) existing.location = input.location;
    existing.eTag = newETag();
    existing.updatedAt = now;
    return { created: false, export: existing };
  }

  private newIdentity(type: string): StoredExport['identity'] {
    if (type.toLowerCase() === 'none') return { type };
    return { type, principalId: randomUUID(), tenantId: '00000000-0000-0000-0000-000000000000' };
  }

  delete(scope: Scope, name: string): void {
    const found = this.require(scope, name);
    this.exports.delete(found.key);
    this.freedAt.delete(found.key);
    for (const run of found.runs) {
      if (!run.finishing) this.active.delete(run);
      this.runsById.delete(run.id);
    }
  }

  /** POST .../run. `body` undefined = no body: the export's own definition. */
  run(
    scope: Scope,
    name: string,
    body: { timePeriod?: TimePeriodInput } | undefined,
    caller: Caller,
    apiVersion: string,
    executionType: 'OnDemand' | 'Scheduled' = 'OnDemand',
  ): RunRecord {
    const exp = this.require(scope, name);
    const now = this.clock.now();
    let period: { from: Date; to: Date };
    const settings = structuredClone(exp.properties);
    delete settings.schedule;
    if (body === undefined) {
      period = resolveTimeframe(exp.properties.definition, now);
      if (exp.properties.definition.timeframe.toLowerCase() === 'custom')
        checkRunPeriod(period.from, period.to, now);
    } else {
      // A body without a period (e.g. `{}`) is read as "export selected dates" with none given.
      if (!body.timePeriod) throw new ArmError(400, 'BadRequest', 'Invalid time period provided.');
      period = parsePeriod(body.timePeriod);
      checkRunPeriod(period.from, period.to, now);
      settings.definition = { ...settings.definition, timeframe: 'Custom', timePeriod: body.timePeriod };
    }
    const roll = this.random();
    const f = this.faults;
    const planned: RunRecord['planned'] =
      roll < f.runFailureRate ? 'fail' : roll < f.runFailureRate + f.runTimeoutRate ? 'timeout' : 'deliver';
    const run: RunRecord = {
      id: randomUUID().toLowerCase(),
      exportKey: exp.key,
      scope: exp.scope.canonical,
      exportName: exp.name,
      apiVersion,
      executionType,
      status: 'Queued',
      submittedBy: executionType === 'Scheduled' ? 'System' : caller.displayName,
      submittedTime: now,
      from: period.from,
      to: period.to,
      runSettings: settings,
      dueAt: now + this.scaled(this.options.queuedMs ?? 20_000),
      planned,
    };
    exp.runs.push(run);
    const rerun = executionType === 'Scheduled' ? this.hiddenRerun(exp, run, now) : undefined;
    if (rerun) exp.runs.push(rerun);
    const limit = this.options.historyLimit ?? 100;
    while (exp.runs.length > limit) {
      const dropped = exp.runs.shift()!;
      if (!this.active.has(dropped)) this.runsById.delete(dropped.id);
    }
    for (const r of rerun ? [run, rerun] : [run]) {
      this.runsById.set(r.id, r);
      this.active.add(r);
    }
    this.kick();
    return run;
  }

  /** On days 1-5 (UTC) a daily month-to-date export also reruns the whole previous month; that run
   * is not in run history (Learn, tutorial-export-acm-data, "Export runs twice a day for the first
   * five days of the month"). An export whose schedule starts this month has no such rerun (the
   * same page: the schedule starts from the date of creation). */
  private hiddenRerun(exp: StoredExport, visible: RunRecord, now: number): RunRecord | undefined {
    const def = exp.properties.definition;
    const timeframe = def.timeframe.toLowerCase();
    if (timeframe !== 'monthtodate' && timeframe !== 'billingmonthtodate') return undefined;
    if (exp.properties.schedule?.recurrence?.toLowerCase() !== 'daily') return undefined;
    const today = utcDay(now);
    if (today.getUTCDate() > 5) return undefined;
    const monthStart = Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), 1);
    const startsAt = Date.parse(exp.properties.schedule.recurrencePeriod?.from ?? '');
    if ((Number.isNaN(startsAt) ? exp.createdAt : startsAt) >= monthStart) return undefined;
    return {
      ...visible,
      id: randomUUID().toLowerCase(),
      runSettings: structuredClone(visible.runSettings),
      from: new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth() - 1, 1)),
      to: new Date(monthStart - DAY),
      planned: 'deliver',
      hidden: true,
    };
  }

  /** Admin: make a run end now with the given status (Completed still delivers files). */
  forceOutcome(runId: string, status: RunStatus, error?: RunError): RunRecord {
    const run = this.getRun(runId);
    if (!run) throw new ArmError(404, 'NotFound', `Run '${runId}' was not found.`);
    if (!TERMINAL_STATUSES.includes(status)) {
      throw new ArmError(400, 'BadRequest', `status must be one of ${TERMINAL_STATUSES.join(', ')}`);
    }
    if (TERMINAL_STATUSES.includes(run.status) || run.finishing) {
      throw new ArmError(409, 'Conflict', `Run '${runId}' has already finished (${run.status}).`);
    }
    run.forced = { status, ...(error ? { error } : {}) };
    const now = this.clock.now();
    if (run.status === 'Queued') {
      run.status = 'InProgress';
      run.processingStartTime = now;
    }
    run.dueAt = now;
    this.kick();
    return run;
  }

  private scaled(ms: number): number {
    const speed = this.options.speedFactor;
    return speed === Infinity ? 0 : ms / speed;
  }

  /** Re-evaluates due transitions now (after a clock move or a finished delivery). */
  kick(): void {
    if (this.stopped) return;
    this.tick();
  }

  private tick(): void {
    const now = this.clock.now();
    const maxDeliveries = this.options.maxConcurrentDeliveries ?? 8;
    const busyExports = new Set<string>();
    for (const run of this.active) if (run.status === 'InProgress') busyExports.add(run.exportKey);
    // Oldest first, so each export's runs are processed in submission order, one at a time.
    const ordered = [...this.active].sort((a, b) => a.submittedTime - b.submittedTime);
    let next = Infinity;
    for (const run of ordered) {
      if (run.status === 'Queued') {
        if (busyExports.has(run.exportKey)) continue;
        if (run.dueAt <= now) {
          // Start when it was due (or when the export's previous run ended), not when the clock
          // was looked at: one big clock move then carries a run through every state.
          const startAt = Math.min(now, Math.max(run.dueAt, this.freedAt.get(run.exportKey) ?? 0));
          run.status = 'InProgress';
          run.processingStartTime = startAt;
          run.dueAt = startAt + this.scaled(this.options.processingMs ?? 40_000);
          busyExports.add(run.exportKey);
        } else {
          next = Math.min(next, run.dueAt);
          busyExports.add(run.exportKey); // later runs of the export wait behind it
          continue;
        }
      }
      if (run.status === 'InProgress' && !run.finishing) {
        if (run.dueAt > now) {
          next = Math.min(next, run.dueAt);
        } else if (this.delivering < maxDeliveries || run.forced || run.planned !== 'deliver') {
          this.finish(run);
        }
      }
    }
    this.schedule(next, now);
    if (this.active.size === 0) this.notifyIdle();
  }

  private schedule(dueAt: number, now: number): void {
    if (dueAt === Infinity) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      this.timerDueAt = Infinity;
      return;
    }
    if (this.timer && this.timerDueAt <= dueAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerDueAt = dueAt;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerDueAt = Infinity;
        this.kick();
      },
      Math.max(0, dueAt - now),
    );
  }

  private finish(run: RunRecord): void {
    run.finishing = true;
    const task = this.complete(run)
      .catch((err: unknown) => {
        this.end(run, 'Failed', { code: 'InternalServerError', message: redactError(err) });
      })
      .finally(() => {
        this.inflight.delete(task);
        this.active.delete(run);
        run.finishing = false;
        this.kick();
      });
    this.inflight.add(task);
  }

  private async complete(run: RunRecord): Promise<void> {
    if (run.forced) {
      if (run.forced.status === 'Completed') return this.deliver(run);
      return this.end(run, run.forced.status, run.forced.error ?? defaultError(run.forced.status));
    }
    const noData = new Set(this.faults.noDataMonths);
    if (monthsOf(run.from, run.to).some((m) => noData.has(m))) return this.end(run, 'DataNotAvailable');
    if (run.planned === 'fail') return this.end(run, 'Failed', defaultError('Failed'));
    if (run.planned === 'timeout') return this.end(run, 'Timeout', defaultError('Timeout'));
    return this.deliver(run);
  }

  private async deliver(run: RunRecord): Promise<void> {
    const storage = this.options.storage;
    if (!storage) return this.end(run, 'Completed');
    this.delivering += 1;
    try {
      const result = await deliverRun(
        storage,
        runDeliveryRequest(run, {
          seed: this.options.seed,
          data: this.options.data,
          emptyMonths: this.faults.emptyMonths,
        }),
      );
      if (this.stopped) return;
      run.manifestFile = result.manifestPath;
      const first = result.blobs[0];
      if (first) run.fileName = first.blobName;
      this.end(run, 'Completed');
    } catch (err) {
      if (err instanceof DeliveryAuthorizationError) {
        this.end(run, 'Failed', {
          code: 'StorageAuthorizationFailed',
          message: err.message || SAS_FAILURE_MESSAGE,
        });
      } else if (err instanceof DeliveryUnsupportedError) {
        this.end(run, 'Failed', { code: 'BadRequest', message: redactError(err) });
      } else {
        throw err;
      }
    } finally {
      this.delivering -= 1;
    }
  }

  private end(run: RunRecord, status: RunStatus, error?: RunError): void {
    if (TERMINAL_STATUSES.includes(run.status)) return;
    const now = this.clock.now();
    run.status = status;
    run.processingStartTime ??= now;
    run.processingEndTime = Math.max(run.processingStartTime, Math.min(now, run.dueAt));
    this.freedAt.set(run.exportKey, run.processingEndTime);
    if (error) run.error = error;
  }

  /** Resolves when no run is Queued or InProgress (or after timeoutMs, rejecting). */
  waitForIdle(timeoutMs = 30_000): Promise<void> {
    if (this.active.size === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.idleWaiters = this.idleWaiters.filter((w) => w !== done);
        reject(new Error(`runs still active after ${timeoutMs} ms: ${this.active.size}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.idleWaiters.push(done);
    });
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  activeCount(): number {
    return this.active.size;
  }

  /** Every export and its runs, JSON-safe, for `npm run dev --data-dir` (real SAS tokens included:
   * the file is this machine's emulator state, next to Azurite's). */
  snapshot(): StoreSnapshot {
    return {
      version: 1,
      exports: [...this.exports.values()].map((e) => ({
        ...e,
        scope: e.scope.canonical,
        runs: e.runs.map((run) => {
          const { finishing: _finishing, ...rest } = run;
          return { ...rest, from: run.from.toISOString(), to: run.to.toISOString() };
        }),
      })),
    };
  }

  /** Loads a snapshot into an empty store. Runs that had not finished carry on from their state; a
   * run stopped mid-delivery delivers again (its files are overwritten, as a retried run's are). */
  restore(snapshot: StoreSnapshot): void {
    if (snapshot.version !== 1 || !Array.isArray(snapshot.exports))
      throw new Error('emulator state: expected {"version":1,"exports":[...]}');
    for (const saved of snapshot.exports) {
      const exp: StoredExport = {
        ...saved,
        scope: parseScope(saved.scope),
        runs: saved.runs.map((run) => ({ ...run, from: new Date(run.from), to: new Date(run.to) })),
      };
      this.exports.set(exp.key, exp);
      for (const run of exp.runs) {
        this.runsById.set(run.id, run);
        if (!TERMINAL_STATUSES.includes(run.status)) this.active.add(run);
      }
    }
    this.kick();
  }

  /** Forgets every export and run (pending runs are dropped). */
  reset(): void {
    this.exports.clear();
    this.runsById.clear();
    this.freedAt.clear();
    for (const run of [...this.active]) if (!run.finishing) this.active.delete(run);
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await Promise.allSettled([...this.inflight]);
    this.notifyIdle();
  }
}

function defaultError(status: RunStatus): RunError | undefined {
  switch (status) {
    case 'Failed':
      return {
        code: 'InternalServerError',
        message: 'The export run failed because of an internal error. Please retry the export run.',
      };
    case 'Timeout':
      return { code: 'Timeout', message: 'The export run did not finish within the allotted time.' };
    default:
      return undefined;
  }
}
