// Export discovery end to end: the timer (through the exportSyncRound orchestration) and POST
// /api/exports/sync served by the local host, exports listed from the Exports emulator (one call per
// scope, with runHistory), rows upserted into Azurite.
import { type RunningEmulator, startEmulator } from '../../dev/emulator/server';
import { findRegistration } from '../../dev/host/functionsCoreStub';
import { type LocalHost, startLocalHost } from '../../dev/host/localHost';
import { Catalog } from '../../src/azure/catalog';
import { CostExportsClient } from '../../src/azure/costExports';
import { LoopbackTokenCredential } from '../../src/azure/credentials';
import { buildExportBody } from '../../src/azure/exportBody';
import { FleetStore } from '../../src/azure/fleetStore';
import { tableClientFactory } from '../../src/azure/storageClients';
import type { ExportSyncReport } from '../../src/domain/contracts';
import type { Assignment } from '../../src/domain/fleetAssignment';
import type { AssignmentSummary } from '../../src/domain/fleetContracts';
import {
  EXPORT_SYNC_HTTP,
  EXPORT_SYNC_STATUS_HTTP,
  EXPORT_SYNC_TIMER,
  INLINE_SYNC_MAX_SCOPES,
} from '../../src/functions/exportSync';
import { useAppServices } from '../../src/services/appServices';
import type { ExportSyncRuntime } from '../../src/services/exportRegistry';
import { ASSIGNMENT_PK, markMembers, SUMMARY_PK } from '../../src/services/fleetRows';
import type { RoundStart } from '../../src/services/rounds';
import {
  EXPORT_SYNC_ROUND,
  SCOPES_PAGE_ACTIVITY,
  SYNC_SCOPE_ACTIVITY,
  type SyncRoundTotals,
} from '../../src/workflows/exportSyncRound';
import { testStorageConnection, uniqueName } from '../support/storage';

const SUB = (n: number) => `/subscriptions/00000000-0000-0000-0000-0000000000b${n}`;
/** A partner's customer scope, onboarded into the fleet (not in MANAGED_SCOPES). */
const CUSTOMER = (n: number) =>
  `/subscriptions/00000000-0000-0000-0000-0000000f${String(n).padStart(4, '0')}`;
const SIG = 'RXhwb3J0U3luY1Rlc3RTaWduYXR1cmVWYWx1ZTEyMzQ1Njc=';
const SAS = `sv=2024-11-04&ss=b&srt=sco&sp=racwdl&se=2030-01-01T00:00:00Z&spr=https&sig=${encodeURIComponent(SIG)}`;
const STORAGE_ID =
  '/subscriptions/00000000-0000-0000-0000-0000000000b1/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/ownaccount01';

/** Five scopes with six exports, and one entry that is not a scope. */
const FIRST_SYNC = { scopes: 6, synced: 5, throttled: 0, failed: 1, exports: 6, markedMissing: 0 };

describe('export sync through the local host (Exports emulator, Azurite)', () => {
  let emulator: RunningEmulator;
  let host: LocalHost;
  let catalog: Catalog;
  let costExports: CostExportsClient;
  const scopes = [SUB(1), SUB(2), SUB(3), SUB(4), SUB(5)];
  const inFlight = { now: 0, max: 0 };
  /** Every scope listed, in order: a scope synced twice in a round shows up twice. */
  const listed: string[] = [];
  let runtime: ExportSyncRuntime;
  /** Fires the timer and waits for the round it started. */
  const tick = async (): Promise<SyncRoundTotals> => {
    const start = (await host.fireTimer(EXPORT_SYNC_TIMER)) as RoundStart;
    expect(start).toMatchObject({ started: true });
    const done = await host.engine.waitForCompletion(start.instanceId);
    expect(done.runtimeStatus).toBe('Completed');
    return done.output as SyncRoundTotals;
  };
  let now = new Date('2025-07-02T06:00:00Z');

  const sync = async (): Promise<ExportSyncReport> => {
    const response = await fetch(`${host.baseUrl}/exports/sync`, { method: 'POST' });
    expect(response.status).toBe(200);
    return (await response.json()) as ExportSyncReport;
  };
  const put = (
    scope: string,
    name: string,
    destination: Parameters<typeof buildExportBody>[0]['destination'],
  ) =>
    costExports.createOrUpdate(
      scope,
      name,
      buildExportBody({
        dataset: name.startsWith('focus') ? 'FocusCost' : 'ActualCost',
        timeframe: 'MonthToDate',
        destination,
        schedule: { status: 'Active', recurrence: 'Daily', recurrencePeriod: { from: '2025-07-01' } },
      }),
    );

  beforeAll(async () => {
    emulator = await startEmulator({ speedFactor: Infinity });
    catalog = new Catalog({
      tableClient: tableClientFactory({
        kind: 'connectionString',
        name: 'AzureWebJobsStorage',
        connectionString: testStorageConnection(),
      }),
      tablePrefix: uniqueName('sync'),
    });
    await catalog.ensureTables();
    costExports = new CostExportsClient({
      endpoint: emulator.url,
      credential: new LoopbackTokenCredential(emulator.url),
      clientType: 'exportSyncTest',
      caPem: emulator.caPem,
      retry: { maxRetries: 0 },
    });
    for (const scope of scopes) {
      await put(scope, 'daily-sas', { storageAccount: 'partnerx01', sasToken: SAS, container: 'exports' });
    }
    await put(SUB(1), 'focus-own', {
      resourceId: STORAGE_ID,
      container: 'msexports',
      rootFolderPath: 'focus',
    });
    await costExports.run(SUB(1), 'daily-sas');
    await emulator.admin.waitForIdle();
    await emulator.admin.resetCounters();

    runtime = {
      catalog,
      costExports: {
        list: async (...args: Parameters<CostExportsClient['list']>) => {
          inFlight.max = Math.max(inFlight.max, ++inFlight.now);
          listed.push(typeof args[0] === 'string' ? args[0] : args[0].canonical);
          try {
            return await costExports.list(...args);
          } finally {
            inFlight.now--;
          }
        },
      },
      scopes: [...scopes, '/not/a/scope'],
      concurrency: 2,
      maxThrottlePauseMs: 200,
      now: () => now,
    };
    useAppServices({ exportSync: runtime });
    host = await startLocalHost({
      env: { EXPORT_SYNC_SCHEDULE: '0 30 5 * * *' },
      registrations: [
        EXPORT_SYNC_TIMER,
        EXPORT_SYNC_HTTP,
        EXPORT_SYNC_STATUS_HTTP,
        EXPORT_SYNC_ROUND,
        SCOPES_PAGE_ACTIVITY,
        SYNC_SCOPE_ACTIVITY,
      ].map(findRegistration),
      startTimers: false,
      startBlobWatchers: false,
      logger: () => undefined,
    });
  });

  afterAll(async () => {
    useAppServices(undefined);
    await host?.stop();
    await emulator?.stop();
  });

  it('registers the timer on %EXPORT_SYNC_SCHEDULE% and POST exports/sync at authLevel function', () => {
    expect(findRegistration(EXPORT_SYNC_TIMER).trigger).toMatchObject({
      type: 'timerTrigger',
      schedule: '%EXPORT_SYNC_SCHEDULE%',
    });
    expect(findRegistration(EXPORT_SYNC_HTTP).trigger).toMatchObject({
      type: 'httpTrigger',
      route: 'exports/sync',
      methods: ['POST'],
      authLevel: 'function',
    });
  });

  it('upserts every export with one list call per scope, bounded concurrency, and reports a bad scope', async () => {
    const report = await sync();
    expect(report.totals).toEqual(FIRST_SYNC);
    expect(report.scopes.at(-1)).toMatchObject({ scope: '/not/a/scope', status: 'failed' });
    expect(report.scopes[0]).toMatchObject({ status: 'synced', exports: 2, added: 2, updated: 0 });
    const counters = await emulator.admin.counters();
    expect(counters.byOperation.Exports_List).toBe(5);
    expect(inFlight.max).toBeLessThanOrEqual(2);

    const sas = (await catalog.getExport(SUB(1), 'daily-sas'))!;
    expect(sas).toMatchObject({
      dataset: 'ActualCost',
      destination: {
        storageAccount: 'partnerx01',
        container: 'exports',
        rootFolderPath: '',
        sasDelivered: true,
      },
      schedule: { recurrence: 'Daily', status: 'Active' },
      lastRun: { status: 'Completed' },
      missing: false,
    });
    const own = (await catalog.getExport(SUB(1), 'focus-own'))!;
    expect(own).toMatchObject({
      dataset: 'FocusCost',
      destination: {
        storageAccount: 'ownaccount01',
        container: 'msexports',
        rootFolderPath: 'focus',
        sasDelivered: false,
        // What a backfill (or healing) to this managed-identity destination names it by.
        resourceId: STORAGE_ID,
      },
    });
    expect(own.lastRun).toBeUndefined();
  });

  it("keeps this app's own columns (token fingerprint, out-of-band policy) across syncs", async () => {
    await catalog.modifyExport(SUB(2), 'daily-sas', (r) => ({
      ...r,
      destination: { ...r.destination, tokenRef: 'abcdef012345' },
      outOfBand: { minIntervalMinutes: 360 },
    }));
    now = new Date('2025-07-03T06:00:00Z');
    await sync();
    const row = (await catalog.getExport(SUB(2), 'daily-sas'))!;
    expect(row.destination.tokenRef).toBe('abcdef012345');
    expect(row.outOfBand).toEqual({ minIntervalMinutes: 360 });
    expect(row.updatedAt).toBe('2025-07-03T06:00:00.000Z');
  });

  it('marks a vanished export missing (never deletes it) and clears the mark when it returns', async () => {
    await costExports.delete(SUB(3), 'daily-sas');
    now = new Date('2025-07-04T06:00:00Z');
    const report = await sync();
    expect(report.totals.markedMissing).toBe(1);
    expect(await catalog.getExport(SUB(3), 'daily-sas')).toMatchObject({
      missing: true,
      missingSince: '2025-07-04T06:00:00.000Z',
      destination: { storageAccount: 'partnerx01' },
    });
    now = new Date('2025-07-05T06:00:00Z');
    expect((await sync()).totals.markedMissing).toBe(0); // already marked: not counted again
    expect((await catalog.getExport(SUB(3), 'daily-sas'))!.missingSince).toBe('2025-07-04T06:00:00.000Z');

    await put(SUB(3), 'daily-sas', { storageAccount: 'partnerx01', sasToken: SAS, container: 'exports' });
    await sync();
    const back = (await catalog.getExport(SUB(3), 'daily-sas'))!;
    expect(back.missing).toBe(false);
    expect(back.missingSince).toBeUndefined();
  });

  it('the timer syncs through a durable round, a page of scopes per generation, with the same result', async () => {
    runtime.pageSize = 2; // 6 scopes: 3 pages, continueAsNew between them
    now = new Date('2025-07-05T05:30:00Z');
    await emulator.admin.resetCounters();
    inFlight.max = 0;
    try {
      const totals = await tick();
      expect(totals).toMatchObject({ pages: 3, ...FIRST_SYNC });
      expect(totals.problems).toEqual([expect.objectContaining({ scope: '/not/a/scope', status: 'failed' })]);
      expect((await emulator.admin.counters()).byOperation.Exports_List).toBe(5);
      expect(inFlight.max).toBeLessThanOrEqual(2);
      expect((await catalog.getExport(SUB(4), 'daily-sas'))!.updatedAt).toBe('2025-07-05T05:30:00.000Z');
      // The same tick delivered again starts nothing.
      expect(await host.fireTimer(EXPORT_SYNC_TIMER)).toMatchObject({
        started: false,
        reason: 'alreadyStarted',
      });
    } finally {
      delete runtime.pageSize;
    }
  });

  it(`POST with more than ${INLINE_SYNC_MAX_SCOPES} scopes starts the round and answers 202 with its status URL`, async () => {
    const many = Array.from({ length: INLINE_SYNC_MAX_SCOPES + 1 }, (_, i) => SUB((i % 5) + 1));
    const before = runtime.scopes;
    runtime.scopes = many;
    try {
      const response = await fetch(`${host.baseUrl}/exports/sync`, { method: 'POST' });
      expect(response.status).toBe(202);
      const text = await response.text();
      const body = JSON.parse(text) as { instanceId: string; managedScopes: number; statusUrl: string };
      expect(body.managedScopes).toBe(INLINE_SYNC_MAX_SCOPES + 1);
      // The app's own route, never the durable webhook with its system key (the host's key here).
      expect(body.statusUrl).toBe(`${host.baseUrl}/exports/sync/${body.instanceId}`);
      expect(response.headers.get('location')).toBe(body.statusUrl);
      for (const leak of [text, response.headers.get('location') ?? '']) {
        expect(leak).not.toContain(host.functionKey);
        expect(leak).not.toMatch(/[?&]code=|runtime\/webhooks/);
      }
      const done = await host.engine.waitForCompletion(body.instanceId);
      expect(done.output).toMatchObject({
        scopes: INLINE_SYNC_MAX_SCOPES + 1,
        synced: INLINE_SYNC_MAX_SCOPES + 1,
      });
      const status = await fetch(body.statusUrl);
      expect(status.status).toBe(200);
      const view = await status.text();
      expect(JSON.parse(view)).toMatchObject({
        instanceId: body.instanceId,
        runtimeStatus: 'Completed',
        result: { scopes: INLINE_SYNC_MAX_SCOPES + 1 },
      });
      expect(view).not.toContain(host.functionKey);
      const unknown = await fetch(`${host.baseUrl}/exports/sync/exportSyncRound-http-1`);
      expect(unknown.status).toBe(404);
      expect(await unknown.json()).toMatchObject({ error: { code: 'NotFound', fields: [{ field: 'id' }] } });
    } finally {
      runtime.scopes = before;
    }
  });

  it('reports throttled scopes with their wait and does not retry them (the next tick will)', async () => {
    await emulator.admin.setThrottle({ otherPerScope: { limit: 1, windowSeconds: 600 } });
    try {
      await sync(); // uses each scope's one call
      await emulator.admin.resetCounters();
      now = new Date('2025-07-06T05:30:00Z');
      const totals = await tick();
      expect(totals).toMatchObject({ scopes: 6, synced: 0, throttled: 5, failed: 1 });
      expect(totals.problems.filter((p) => p.status === 'throttled')).toHaveLength(5);
      // Paused (durable timer, capped for the test) after each throttled batch that had work after it.
      expect(totals.pausedMs).toBeGreaterThan(0);
      expect((await emulator.admin.counters()).byOperation.Exports_List).toBe(5);
    } finally {
      await emulator.admin.setThrottle({ otherPerScope: null });
    }
  });

  describe("with the export fleet's member scopes (fleet table in Azurite)", () => {
    const LAST_ROUND = '2025-07-01T05:00:00.000Z';
    const EARLIER_ROUND = '2025-06-01T05:00:00.000Z';
    /** Members that count and are in no other part of the round: synced once each. */
    const FLEET_SYNCED = [1, 2, 3, 4, 5, 6, 7, 9].map(CUSTOMER);
    const MANAGED_SYNCED = [...scopes]; // and '/not/a/scope', reported failed without a list call
    let store: FleetStore;

    const assignment = (id: string): Assignment => ({
      id,
      target: { billingAccountId: '1234567' },
      profile: 'flexera-csp',
      destination: { storageAccount: 'partnerx01', container: 'flexera' },
      rootFolderTemplate: '{customerId}/{dataset}',
      createdAt: EARLIER_ROUND,
    });
    const sortedListed = () => [...listed].sort();

    beforeAll(async () => {
      store = new FleetStore(
        tableClientFactory({
          kind: 'connectionString',
          name: 'AzureWebJobsStorage',
          connectionString: testStorageConnection(),
        }),
        uniqueName('syncfleet'),
      );
      for (let n = 1; n <= 10; n++) {
        await put(CUSTOMER(n), 'fleet-daily', {
          storageAccount: 'partnerx01',
          sasToken: SAS,
          container: 'flexera',
        });
      }
      // alpha: seven customers, one also in MANAGED_SCOPES (SUB(2)), one that left before its last round.
      await store.put(ASSIGNMENT_PK, 'alpha', assignment('alpha'));
      await markMembers(store, 'alpha', [...[1, 2, 3, 4, 5, 6, 7].map(CUSTOMER), SUB(2)], LAST_ROUND);
      await markMembers(store, 'alpha', [CUSTOMER(8)], EARLIER_ROUND);
      const summary: AssignmentSummary = {
        assignmentId: 'alpha',
        tick: LAST_ROUND,
        at: LAST_ROUND,
        scopes: 8,
        exports: 16,
        byOutcome: {},
        attention: [],
        departed: 1,
      };
      await store.put(SUMMARY_PK, 'alpha', summary);
      // beta (no round finished yet): two of alpha's customers and one of its own.
      await store.put(ASSIGNMENT_PK, 'beta', assignment('beta'));
      await markMembers(store, 'beta', [3, 4, 9].map(CUSTOMER), LAST_ROUND);
      // gone: an assignment since removed; its member rows stay behind.
      await markMembers(store, 'gone', [CUSTOMER(10)], LAST_ROUND);
      runtime.fleet = store;
    });

    afterAll(() => {
      delete runtime.fleet;
      delete runtime.pageSize;
    });

    it.each([
      [3, 2 + 5], // 6 managed entries, then 13 member rows, 3 a page
      [1, 6 + 13],
    ])(
      'a round catalogues every member scope once after MANAGED_SCOPES, skipping removed assignments and departed customers (page size %i)',
      async (pageSize, pages) => {
        runtime.pageSize = pageSize;
        now = new Date(`2025-07-1${pageSize}T05:30:00Z`);
        listed.length = 0;
        const totals = await tick();
        expect(totals).toMatchObject({
          pages,
          scopes: 6 + FLEET_SYNCED.length,
          fleetScopes: FLEET_SYNCED.length,
          synced: 5 + FLEET_SYNCED.length,
          failed: 1,
          throttled: 0,
        });
        // Each scope listed exactly once: SUB(2) (managed and alpha's) and alpha's and beta's customers.
        expect(sortedListed()).toEqual([...MANAGED_SYNCED, ...FLEET_SYNCED].sort());
        for (const scope of FLEET_SYNCED) {
          expect(await catalog.getExport(scope, 'fleet-daily')).toMatchObject({
            scope,
            destination: { storageAccount: 'partnerx01', container: 'flexera', sasDelivered: true },
            updatedAt: now.toISOString(),
          });
        }
        for (const skipped of [CUSTOMER(8), CUSTOMER(10)]) {
          expect(await catalog.getExport(skipped, 'fleet-daily')).toBeUndefined();
        }
      },
    );

    it('POST syncs inline when one small read shows the fleet and MANAGED_SCOPES within the limit', async () => {
      listed.length = 0;
      const report = await sync();
      expect(report.totals).toMatchObject({ scopes: 6 + FLEET_SYNCED.length, failed: 1 });
      expect(sortedListed()).toEqual([...MANAGED_SYNCED, ...FLEET_SYNCED].sort());
    });

    it(`POST starts a round when the fleet brings the total over ${INLINE_SYNC_MAX_SCOPES}, without counting the whole fleet`, async () => {
      const many = Array.from({ length: INLINE_SYNC_MAX_SCOPES }, (_, i) => CUSTOMER(100 + i));
      await store.put(ASSIGNMENT_PK, 'gamma', assignment('gamma'));
      await markMembers(store, 'gamma', many, LAST_ROUND);
      listed.length = 0;
      try {
        const response = await fetch(`${host.baseUrl}/exports/sync`, { method: 'POST' });
        expect(response.status).toBe(202);
        const body = (await response.json()) as { instanceId: string; managedScopes: number };
        expect(body.managedScopes).toBe(6);
        const done = await host.engine.waitForCompletion(body.instanceId);
        expect(done.output).toMatchObject({
          scopes: 6 + FLEET_SYNCED.length + many.length,
          fleetScopes: FLEET_SYNCED.length + many.length,
          failed: 1,
        });
        expect(sortedListed()).toEqual([...MANAGED_SYNCED, ...FLEET_SYNCED, ...many].sort());
      } finally {
        await store.remove(ASSIGNMENT_PK, 'gamma');
      }
    });
  });
});
