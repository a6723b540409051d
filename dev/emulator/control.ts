// What the admin API steers (admin.ts's EmulatorControl), over the emulator's parts: counters and
// request log, faults, throttle limits, the virtual clock, exports and runs, the billing customers.
import { parseScope, type Scope } from '../../src/domain/scope';
import type { AdminExportView, AdminRunView, BillingUpdate, ClockView, EmulatorControl } from './admin';
import type { BillingState } from './billing';
import { validateFaults } from './faults';
import type { RequestRecorder } from './requestLog';
import { exportId, exportResponse } from './responses';
import { type ExportStore, type RunError, type RunRecord, type RunStatus, visibleRuns } from './state';
import { type Throttle, type ThrottleLimits, validateThrottleLimits } from './throttle';
import type { VirtualClock } from './time';
import { ArmError } from './validation';

export interface ControlDeps {
  caPem: string;
  store: ExportStore;
  billing: BillingState;
  throttle: Throttle;
  clock: VirtualClock;
  recorder: RequestRecorder;
  /** The api-version scheduled runs are submitted with. */
  apiVersion: string;
}

export class Control implements EmulatorControl {
  readonly caPem: string;

  constructor(private readonly deps: ControlDeps) {
    this.caPem = deps.caPem;
  }

  counters() {
    return this.deps.recorder.snapshot();
  }

  resetCounters(): void {
    this.deps.recorder.reset();
  }

  requestLog() {
    return this.deps.recorder.requests();
  }

  faults() {
    return { ...this.deps.store.faults };
  }

  setFaults(update: Parameters<EmulatorControl['setFaults']>[0]) {
    const { store } = this.deps;
    store.setFaults(validateFaults(update, store.faults));
    return { ...store.faults };
  }

  throttle(): ThrottleLimits {
    return this.deps.throttle.getLimits();
  }

  setThrottle(update: ThrottleLimits): ThrottleLimits {
    this.deps.throttle.setLimits(validateThrottleLimits(update));
    return this.deps.throttle.getLimits();
  }

  clock(): ClockView {
    const { clock } = this.deps;
    return { now: new Date(clock.now()).toISOString(), offsetMs: clock.getOffsetMs() };
  }

  setClock(update: { now?: string; offsetMs?: number; advanceMs?: number }): ClockView {
    const { clock } = this.deps;
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
    this.deps.store.kick();
    return this.clock();
  }

  speedFactor(): number {
    return this.deps.store.speedFactor;
  }

  setSpeedFactor(value: number): void {
    this.deps.store.setSpeedFactor(value);
  }

  exports(): AdminExportView[] {
    const { store, clock } = this.deps;
    return store.all().map((e): AdminExportView => ({
      id: exportId(e),
      scope: e.scope.canonical,
      name: e.name,
      eTag: e.eTag,
      body: exportResponse(e, { now: clock.now() }),
      runCount: visibleRuns(e).length,
    }));
  }

  runs(): AdminRunView[] {
    return this.deps.store.allRuns().map(runView);
  }

  forceRunOutcome(runId: string, status: RunStatus, error?: RunError): AdminRunView {
    return runView(this.deps.store.forceOutcome(runId, status, error));
  }

  scheduledRun(scopeText: string, exportName: string): AdminRunView {
    let scope: Scope;
    try {
      scope = parseScope(scopeText);
    } catch (err) {
      throw new ArmError(400, 'InvalidScope', (err as Error).message);
    }
    return runView(
      this.deps.store.run(
        scope,
        exportName,
        undefined,
        { displayName: 'System' },
        this.deps.apiVersion,
        'Scheduled',
      ),
    );
  }

  waitForIdle(timeoutMs: number): Promise<void> {
    return this.deps.store.waitForIdle(timeoutMs);
  }

  billing() {
    return this.deps.billing.view();
  }

  setBilling(update: BillingUpdate) {
    const { billing } = this.deps;
    try {
      if (update.customers) billing.setCustomers(update.customers.billingAccountId, update.customers.count);
      if (update.forbiddenScopes) billing.setForbidden(update.forbiddenScopes);
    } catch (err) {
      throw new ArmError(400, 'BadRequest', (err as Error).message);
    }
    if (update.pageSize !== undefined) billing.pageSize = update.pageSize;
    if (update.failPages !== undefined) billing.failPages = update.failPages;
    return billing.view();
  }

  reset(): void {
    this.deps.billing.reset();
    this.deps.store.reset();
    this.deps.throttle.reset();
    this.deps.recorder.reset();
  }
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
