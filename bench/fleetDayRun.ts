// One size of bench/fleetDay.ts: a partner's day at N customer scopes × 2 exports (flexera-csp) on
// the dev stack (Azurite, the Exports emulator with its realistic throttle, the local host serving
// the app's real registrations), each phase measured by PhaseMeter. Run in a process of its own per
// size (the stack's app services live for the process, and the memory figures are the process's).
import { randomUUID } from 'node:crypto';

import { type BlobClient, BlobServiceClient } from '@azure/storage-blob';

import { customerGuid } from '../dev/emulator/billing';
import { deliverRun, type RunDeliveryRequest } from '../dev/emulator/delivery';
import type { HostLogger } from '../dev/host/invocation';
import { EXPORTS_CONTAINER, type RunningStack, startStack } from '../dev/stack';
import { type ExportRecord, mapWithConcurrency } from '../src/azure/catalog';
import { redactSecrets } from '../src/domain/redact';
import type { LedgerSweepOutcome } from '../src/functions/ledger';
import type { SasWatchResult } from '../src/services/alerts';
import { appService } from '../src/services/appServices';
import type { RoundStart } from '../src/services/rounds';
import type { SyncRoundTotals } from '../src/workflows/exportSyncRound';
import type { RoundTotals } from '../src/workflows/outOfBandRound';
import { fleetApi } from './fleetApi';
import { type PhaseFigures, PhaseMeter } from './fleetDayMeter';

export const MPA = '6e0c4c1a-7b2d-4f4e-9a52-3c1d2e3f4a5b:0b9c8d7e-6f5a-4b3c-8d2e-1f0a9b8c7d6e_2019-05-31';
const DESTINATION = {
  resourceId:
    '/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/devstoreaccount1',
  container: EXPORTS_CONTAINER,
  rootFolderPath: 'partner',
};
/** No schedule fires during the bench: every round is started by the bench. */
const NEVER = '0 0 0 1 1 *';
/** Landing events in flight at once (the blob trigger's delivery concurrency on one instance). */
export const LANDING_CONCURRENCY = 16;

export interface SizeFigures {
  scopes: number;
  exports: number;
  /** The whole size, from the stack's start to its stop (set-up and seeding included), ms. */
  wallMs: number;
  /** Onboarding (creates every export): the set-up, reported apart. */
  setup: PhaseFigures;
  phases: PhaseFigures[];
  /** warn/error lines the host and functions logged during the measured phases. */
  problems: number;
  problemSample: string[];
}

function monthOf(d: Date, back: number): string {
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - back, 1)).toISOString().slice(0, 7);
}

/** The landing Cost Management writes for an export's daily month-to-date run today. */
function landingRequest(e: ExportRecord, now: Date): RunDeliveryRequest {
  const from = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  const csp = e.dataset === 'ActualCost' || e.dataset === 'AmortizedCost';
  return {
    exportName: e.exportName,
    scope: e.scope,
    exportResourceId: `${e.scope}/providers/Microsoft.CostManagement/exports/${e.exportName}`,
    apiVersion: '2025-03-01',
    runId: randomUUID(),
    executionType: 'Scheduled',
    submittedTime: new Date(now.getTime() - 60_000),
    from,
    to: now,
    dataset: { type: e.dataset, ...(csp ? { version: '2021-10-01' } : {}), granularity: 'Daily' },
    format: 'Csv',
    compression: 'none',
    partitionData: true,
    overwrite: 'OverwritePreviousReport',
    destination: {
      container: e.destination.container,
      ...(e.destination.rootFolderPath ? { rootFolderPath: e.destination.rootFolderPath } : {}),
      resourceId: DESTINATION.resourceId,
    },
    resourcesPerDay: 2,
    timeFrame: 'MonthToDate',
  };
}

async function allExports(): Promise<ExportRecord[]> {
  const { catalog } = (await appService('sasWatch')).deps;
  const out: ExportRecord[] = [];
  for await (const e of catalog.listExports()) out.push(e);
  return out;
}

function customerScopes(count: number): string[] {
  return Array.from(
    { length: count },
    (_, i) => `/providers/Microsoft.Billing/billingAccounts/${MPA}/customers/${customerGuid(1, i + 1)}`,
  );
}

/** The stack as a partner's app runs it; no timer fires on its own (the bench starts each round). */
function startDayStack(speedFactor: number, meter: PhaseMeter, log: HostLogger) {
  const now = new Date();
  return startStack({
    // MANAGED_SCOPES kept short, as a partner keeps it: export sync finds the customers through the
    // fleet's member rows that onboarding writes.
    managedScopes: customerScopes(1),
    speedFactor,
    // Landing events are delivered by the bench as Event Grid delivers them (manifests only); the
    // local container scan would list the whole container again and again.
    blobPollIntervalMs: 24 * 3_600_000,
    logger: log,
    onInvocation: meter.observe,
    // Its exports, runs and TLS server are not the app's: its memory is reported apart.
    emulatorInOwnProcess: true,
    settings: {
      DURABLE_TASK_HUB: 'fleetday',
      // As bench/fleet.ts: scopes in flight per fleet round (the host runs at most 10 activities).
      FLEET_CONCURRENCY: '16',
      // The same for out-of-band runs: every export is at its own scope's run bucket.
      OUT_OF_BAND_CONCURRENCY: '16',
      SAS_WATCH_SCHEDULE: NEVER,
      OUT_OF_BAND_SCHEDULE: NEVER,
      EXPORT_SYNC_SCHEDULE: NEVER,
      FLEET_RECONCILE_SCHEDULE: NEVER,
      LEDGER_SWEEP_SCHEDULE: NEVER,
      DURABLE_CLEANUP_SCHEDULE: NEVER,
    },
    emulator: {
      // Out-of-band runs find no data (no files): the day's landings are the bench's own phase.
      faults: { noDataMonths: [monthOf(now, 0), monthOf(now, 1)] },
      requestLogLimit: 100,
    },
  });
}

export async function runSize(scopes: number, speedFactor: number): Promise<SizeFigures> {
  const started = Date.now();
  const meter = new PhaseMeter();
  const problems: string[] = [];
  let counting = false;
  const stack = await startDayStack(speedFactor, meter, (level, message) => {
    if (counting && (level === 'warn' || level === 'error'))
      problems.push(redactSecrets(message).slice(0, 300));
  });
  meter.attach(stack);
  try {
    await stack.emulatorAdmin.setBilling({
      customers: { billingAccountId: MPA, count: scopes },
      pageSize: 50,
    });
    const fleet = fleetApi(stack);
    const setup = await meter.phase(
      'onboarding',
      async () =>
        fleet.wait(
          await fleet.start('onboard', {
            billingAccountId: MPA,
            profile: 'flexera-csp',
            destination: DESTINATION,
            backfillMonths: 0,
          }),
        ),
      (t) => `${t.outcomes.created ?? 0} created`,
    );
    counting = true;
    const phases = await day(stack, meter, scopes * 2);
    return {
      scopes,
      exports: scopes * 2,
      wallMs: Date.now() - started,
      setup,
      phases,
      problems: problems.length,
      problemSample: problems.slice(0, 3),
    };
  } finally {
    meter.stop();
    await stack.stop();
  }
}

/** The measured phases, in the order of a day's schedule. */
async function day(stack: RunningStack, meter: PhaseMeter, exports: number): Promise<PhaseFigures[]> {
  const now = new Date();
  const fleet = fleetApi(stack);
  return [
    await meter.phase(
      'no-change reconcile',
      async () => fleet.wait(await fleet.start('reconcile', {})),
      (t) => `${t.outcomes.unchanged ?? 0}/${exports} unchanged`,
    ),
    await meter.phase(
      'export sync',
      () => timerRound<SyncRoundTotals>(stack, 'exportSync'),
      (t) => `${t.synced}/${t.scopes} scopes synced, ${t.exports} exports, ${t.pages} pages`,
    ),
    await outOfBandPhase(stack, meter, now),
    await meter.phase(
      'SAS watch',
      async () => (await stack.host.fireTimer('sasWatch')) as SasWatchResult,
      (r) => `${r.exportsScanned} exports, ${r.tokensScanned} tokens scanned, mail ${r.mail}`,
    ),
    await landingsPhase(stack, meter, now),
    await meter.phase(
      'ledger refresh',
      async () => (await stack.host.fireTimer('ledgerSweep')) as LedgerSweepOutcome,
      (r) => `${r.sweep.exports} exports, ${r.sweep.cellsRead} cells read, ${r.sweep.cellsWritten} written`,
    ),
  ];
}

/** Fires a timer that starts a round orchestration and waits for the round's output. */
async function timerRound<T>(stack: RunningStack, timer: string): Promise<T> {
  const start = (await stack.host.fireTimer(timer)) as RoundStart;
  if (!start.started) throw new Error(`${timer}: round not started (${start.reason})`);
  const status = await stack.host.engine.waitForCompletion(start.instanceId);
  if (status.runtimeStatus !== 'Completed') throw new Error(`${timer}: round ${status.runtimeStatus}`);
  return status.output as T;
}

/** Every export gets a policy (every 6 hours); none has run yet, so the round finds all of them due.
 * Set-up, not measured: the rows are written a scope's partition per transaction (what the policy
 * route would write one export at a time, with a read before each write). */
async function outOfBandPhase(stack: RunningStack, meter: PhaseMeter, now: Date): Promise<PhaseFigures> {
  const catalog = await appService('catalog');
  const records: ExportRecord[] = [];
  for await (const { partitionKey: _p, rowKey: _r, etag: _e, ...record } of catalog.listExports()) {
    records.push({ ...record, outOfBand: { minIntervalMinutes: 360 }, updatedAt: now.toISOString() });
  }
  await catalog.upsertMany('exports', records);
  return meter.phase(
    'out-of-band round',
    () => timerRound<RoundTotals>(stack, 'outOfBandRuns'),
    (t) =>
      `${t.due} due, ${t.submitted} submitted, ${t.throttled} throttled, ${t.failed} failed, ${t.pages} pages`,
  );
}

async function readBlob(blob: BlobClient): Promise<Buffer> {
  const body = (await blob.download()).readableStreamBody;
  if (!body) throw new Error(`${blob.name}: no body`);
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}

/** The files and manifest of each export's run of today are written first (not measured); the
 * phase delivers each manifest's blob event to exportLanded, LANDING_CONCURRENCY at a time. */
async function landingsPhase(stack: RunningStack, meter: PhaseMeter, now: Date): Promise<PhaseFigures> {
  const records = await allExports();
  const storage = { blobEndpoint: stack.azurite.blobEndpoint, connectionString: stack.storage };
  const manifests: string[] = [];
  await mapWithConcurrency(records, 16, async (e) => {
    manifests.push((await deliverRun(storage, landingRequest(e, now))).manifestPath);
  });
  const container = BlobServiceClient.fromConnectionString(stack.storage).getContainerClient(
    EXPORTS_CONTAINER,
  );
  return meter.phase(
    'landings',
    async () => {
      let failed = 0;
      await mapWithConcurrency(manifests, LANDING_CONCURRENCY, async (m) => {
        // The host reads the blob for the trigger's input binding: counted with the phase (one GET;
        // downloadToBuffer would ask for the blob's properties first).
        const content = await readBlob(container.getBlobClient(m));
        await stack.host
          .invokeBlob('exportLanded', `${EXPORTS_CONTAINER}/${m}`, content)
          .catch(() => failed++);
      });
      return { landings: manifests.length, failed };
    },
    (r) => `${r.landings} manifests catalogued, ${r.failed} failed`,
  );
}
