// A daily month-to-date export as Azure runs it, through the app's real registrations (local host,
// blob trigger, HTTP API) with the emulator delivering into Azurite: each day's run lands in the whole
// month's folder and replaces the day before (OverwritePreviousReport), and on days 1-5 a hidden rerun
// of the previous month lands too, though run history never shows it (Learn tutorial-export-acm-data).
// The catalog files every run under its billing month, the ledger counts the hidden one for the
// previous month, and sync (which reads run history) neither errs nor takes the hidden run for the
// export's last run.

import { Catalog, type LandingRecord } from '../../src/azure/catalog';
import { exportKey } from '../../src/azure/catalog/keys';
import { tableClientFactory } from '../../src/azure/storageClients';
import { loadConfig } from '../../src/config';
import { type AppHost, startAppHost } from '../support/appHost';
import { emulatorCall, type EmulatorReply } from '../support/emulatorHttp';

jest.setTimeout(120_000);

const SCOPE = '/providers/Microsoft.Billing/billingAccounts/12345678'; // a scope the app manages
const NAME = 'daily-actual';
const DAY = 86_400_000;

let app: AppHost;
beforeAll(async () => {
  app = await startAppHost();
}, 120_000);
afterAll(async () => app?.stop());

/** This export's ARM URL, called as Azure's own clients would (the emulator's CA trusted). */
function azure(method: string, path: string, body?: unknown): Promise<EmulatorReply> {
  return emulatorCall(
    { url: app.emulatorUrl, caPem: app.emulatorCa },
    method,
    `${SCOPE}/providers/Microsoft.CostManagement/exports/${NAME}${path}`,
    { body },
  );
}

async function api(method: string, path: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${app.api}${path}`, { method });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

const yyyymmdd = (ms: number) => new Date(ms).toISOString().slice(0, 10).replace(/-/g, '');
/** `yyyyMM01-yyyyMMdd` of the month `offset` months from the real current one. */
function monthFolder(offset: number): { folder: string; month: string } {
  const now = new Date();
  const start = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 1);
  const end = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset + 1, 1) - DAY;
  return { folder: `${yyyymmdd(start)}-${yyyymmdd(end)}`, month: new Date(start).toISOString().slice(0, 7) };
}

async function landings(catalog: Catalog, count: number): Promise<LandingRecord[]> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const rows: LandingRecord[] = [];
    for await (const row of catalog.landingsByExport(exportKey(SCOPE, NAME))) rows.push(row);
    const settled = rows.filter((r) => r.state === 'complete');
    if (settled.length >= count) return rows;
    if (Date.now() > deadline) throw new Error(`${settled.length} of ${count} landings after 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

test('daily runs on consecutive days: one current run per month, the hidden reruns filed under the previous month', async () => {
  // Days 2 and 3 of last month (always in the past); the hidden reruns are of the month before.
  const now = new Date();
  const day = (d: number) => new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, d, 6));
  const thisMonth = monthFolder(-1);
  const previous = monthFolder(-2);
  await app.emulatorAdmin.setClock({ now: day(2) });
  const created = await azure('PUT', '', {
    properties: {
      format: 'Csv',
      partitionData: true,
      dataOverwriteBehavior: 'OverwritePreviousReport',
      deliveryInfo: {
        destination: {
          type: 'AzureBlob',
          resourceId:
            '/subscriptions/6c1f5e0a-8d3b-4f7e-9a21-3b4c5d6e7f80/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/devstoreaccount1',
          container: app.container,
          rootFolderPath: 'mtd',
        },
      },
      definition: { type: 'ActualCost', timeframe: 'MonthToDate', dataSet: { granularity: 'Daily' } },
      schedule: {
        status: 'Active',
        recurrence: 'Daily',
        recurrencePeriod: {
          from: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 3, 1)).toISOString(),
          to: new Date(Date.UTC(now.getUTCFullYear() + 1, 0, 1)).toISOString(),
        },
      },
    },
  });
  expect(created.status).toBe(201);
  // Registered first, so the ledger counts every landing against the export's daily cadence.
  expect((await api('POST', '/exports/sync')).status).toBe(200);

  const catalog = new Catalog({ tableClient: tableClientFactory(loadConfig(process.env).storage.catalog) });
  const first = await app.emulatorAdmin.triggerScheduledRun(SCOPE, NAME);
  await app.emulatorAdmin.waitForIdle();
  // A day passes between daily runs: the first run and its hidden rerun are catalogued before the
  // next run's OverwritePreviousReport deletes their files (the trigger polls the container here).
  await landings(catalog, 2);
  await app.emulatorAdmin.setClock({ now: day(3) });
  const second = await app.emulatorAdmin.triggerScheduledRun(SCOPE, NAME);
  await app.emulatorAdmin.waitForIdle();
  const runs = await app.emulatorAdmin.runs();
  const hidden = runs.filter((r) => r.hidden);
  expect(hidden.map((r) => [r.from.slice(0, 7), r.status])).toEqual([
    [previous.month, 'Completed'],
    [previous.month, 'Completed'],
  ]);
  const history = (await azure('GET', '/runHistory')).body as { value: { id: string }[] };
  expect(history.value.map((r) => r.id.split('/').pop())).toEqual([first.runId, second.runId]);

  const rows = await landings(catalog, 4);
  const view = (period: string) =>
    rows
      .filter((r) => r.period === period)
      .sort((a, b) => a.manifestPath.localeCompare(b.manifestPath))
      .map((r) => ({ runId: r.runId, current: r.current, superseded: r.superseded }));
  // The month's own runs: the day before superseded by the newest, both in the whole-month folder.
  expect(view(thisMonth.folder)).toEqual([
    { runId: first.runId, current: false, superseded: true },
    { runId: second.runId, current: true, superseded: false },
  ]);
  expect(view(previous.folder)).toEqual([
    { runId: hidden[0]!.runId, current: false, superseded: true },
    { runId: hidden[1]!.runId, current: true, superseded: false },
  ]);
  expect(rows).toHaveLength(4);

  // Sync reads run history: it succeeds, and the export's last run is the visible one.
  const sync = await api('POST', '/exports/sync');
  expect(sync.status).toBe(200);
  expect(sync.json.totals).toMatchObject({ synced: 1, failed: 0 });
  const registered = await catalog.getExport(SCOPE, NAME);
  expect(registered?.lastRun?.runId).toBe(second.runId);

  // The ledger counts each month's runs, the hidden rerun as the previous month's current run.
  const ledger = await api('GET', `/ledger?scope=${encodeURIComponent(SCOPE)}&export=${NAME}`);
  expect(ledger.status).toBe(200);
  const cells = ledger.json.cells as { month: string; runs: number; current?: { runId: string } }[];
  const cell = (month: string) => cells.find((c) => c.month === month);
  expect(cell(thisMonth.month)).toMatchObject({ runs: 2, current: { runId: second.runId } });
  expect(cell(previous.month)).toMatchObject({ runs: 2, current: { runId: hidden[1]!.runId } });
});
