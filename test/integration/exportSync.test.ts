// Export discovery end to end: the timer and POST /api/exports/sync served by the local host, exports
// listed from the Exports emulator (one call per scope, with runHistory), rows upserted into Azurite.
import { findRegistration } from '../../dev/host/functionsCoreStub';
import { startLocalHost, type LocalHost } from '../../dev/host/localHost';
import { startEmulator, type RunningEmulator } from '../../dev/emulator/server';
import { Catalog } from '../../src/azure/catalog';
import { CostExportsClient } from '../../src/azure/costExports';
import { LoopbackTokenCredential } from '../../src/azure/credentials';
import { buildExportBody } from '../../src/azure/exportModels';
import { tableClientFactory } from '../../src/azure/storageClients';
import { EXPORT_SYNC_HTTP, EXPORT_SYNC_TIMER, useExportSyncRuntime } from '../../src/functions/exportSync';
import type { ExportSyncReport } from '../../src/services/exportRegistry';
import { testStorageConnection, uniqueName } from '../support/storage';

const SUB = (n: number) => `/subscriptions/00000000-0000-0000-0000-0000000000b${n}`;
const SIG = 'RXhwb3J0U3luY1Rlc3RTaWduYXR1cmVWYWx1ZTEyMzQ1Njc=';
const SAS = `sv=2024-11-04&ss=b&srt=sco&sp=racwdl&se=2030-01-01T00:00:00Z&spr=https&sig=${encodeURIComponent(SIG)}`;
const STORAGE_ID =
  '/subscriptions/00000000-0000-0000-0000-0000000000b1/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/ownaccount01';

describe('export sync through the local host (Exports emulator, Azurite)', () => {
  let emulator: RunningEmulator;
  let host: LocalHost;
  let catalog: Catalog;
  let costExports: CostExportsClient;
  const scopes = [SUB(1), SUB(2), SUB(3), SUB(4), SUB(5)];
  const inFlight = { now: 0, max: 0 };
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

    useExportSyncRuntime({
      catalog,
      costExports: {
        list: async (...args: Parameters<CostExportsClient['list']>) => {
          inFlight.max = Math.max(inFlight.max, ++inFlight.now);
          try {
            return await costExports.list(...args);
          } finally {
            inFlight.now--;
          }
        },
      },
      scopes: [...scopes, '/not/a/scope'],
      concurrency: 2,
      now: () => now,
    });
    host = await startLocalHost({
      env: { EXPORT_SYNC_SCHEDULE: '0 30 5 * * *' },
      registrations: [EXPORT_SYNC_TIMER, EXPORT_SYNC_HTTP].map(findRegistration),
      startTimers: false,
      startBlobWatchers: false,
      logger: () => undefined,
    });
  });

  afterAll(async () => {
    useExportSyncRuntime(undefined);
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
    expect(report.totals).toEqual({
      scopes: 6,
      synced: 5,
      throttled: 0,
      failed: 1,
      exports: 6,
      markedMissing: 0,
    });
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

  it('reports throttled scopes with their wait and does not retry them (the next tick will)', async () => {
    await emulator.admin.setThrottle({ otherPerScope: { limit: 1, windowSeconds: 600 } });
    try {
      await sync(); // uses each scope's one call
      await emulator.admin.resetCounters();
      const report = (await host.fireTimer(EXPORT_SYNC_TIMER)) as ExportSyncReport;
      expect(report.totals).toMatchObject({ synced: 0, throttled: 5, failed: 1 });
      for (const s of report.scopes.slice(0, 5)) {
        expect(s.status).toBe('throttled');
        expect(s.retryAfterMs).toBeGreaterThan(0);
      }
      expect((await emulator.admin.counters()).byOperation.Exports_List).toBe(5);
    } finally {
      await emulator.admin.setThrottle({ otherPerScope: null });
    }
  });
});
