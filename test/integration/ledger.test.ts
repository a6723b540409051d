// The completeness ledger over the jest Azurite: landings and backfill outcomes folded into cells, the
// daily sweep, healing with its cool-down, and GET /api/ledger through the local Functions host.
import { findRegistration } from '../../dev/host/functionsCoreStub';
import { type LocalHost, startLocalHost } from '../../dev/host/localHost';
import {
  Catalog,
  type ExportRecord,
  type LandingRecord,
  type LedgerCellRecord,
} from '../../src/azure/catalog';
import { tableClientFactory } from '../../src/azure/storageClients';
import { type AppConfig, loadConfig } from '../../src/config';
import { LEDGER_FUNCTION, runLedgerSweep } from '../../src/functions/ledger';
import { useAppServices } from '../../src/services/appServices';
import type { StartBackfill } from '../../src/services/healing';
import { LedgerService } from '../../src/services/ledger';
import { readHeatmap } from '../../src/services/statusHeatmap';
import { testStorageConnection, uniqueName } from '../support/storage';

const SUB = '/subscriptions/00000000-0000-0000-0000-0000000000ab';
const MPA =
  '/providers/Microsoft.Billing/billingAccounts/aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa:bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb_2019-05-31';
const ACCOUNT = 'acctledger01';

let host: LocalHost;
let clock = new Date('2026-12-04T12:00:00Z');
const now = () => clock;

function configFor(extra: Record<string, string> = {}): AppConfig {
  return loadConfig({
    AzureWebJobsStorage: testStorageConnection(),
    ExportsStorage: testStorageConnection(),
    SECRET_STORE: 'table',
    HEALING_SCOPES: `${SUB}=heal`,
    ...extra,
  });
}

async function freshCatalog(): Promise<Catalog> {
  const catalog = new Catalog({
    tableClient: tableClientFactory(configFor().storage.catalog),
    tablePrefix: uniqueName('lg'),
  });
  await catalog.ensureTables();
  return catalog;
}

function exportRecord(scope: string, exportName: string, sasDelivered = true): ExportRecord {
  return {
    scope,
    exportName,
    dataset: 'ActualCost',
    destination: {
      storageAccount: ACCOUNT,
      container: 'msexports',
      rootFolderPath: 'cm',
      sasDelivered,
      tokenRef: 'tok1',
    },
    schedule: { recurrence: 'Daily', status: 'Active', from: '2026-09-01T00:00:00Z' },
    missing: false,
    updatedAt: '2026-09-01T00:00:00Z',
  };
}

function landing(
  scope: string,
  exportName: string,
  period: string,
  submittedTime: string,
  /** null: the manifest gave no count (rows unknown). */
  rowCount: number | null = 42,
): LandingRecord {
  return {
    scope,
    exportName,
    period,
    runId: uniqueName('run'),
    manifestPath: `msexports/cm/${exportName}/${period}/x/manifest.json`,
    submittedTime,
    blobCount: 1,
    ...(rowCount !== null ? { rowCount } : {}),
    totalBytes: 1234,
    state: 'complete',
    missingBlobs: [],
    superseded: false,
    current: true,
    catalogedAt: submittedTime,
  };
}

beforeAll(async () => {
  host = await startLocalHost({
    registrations: [findRegistration(LEDGER_FUNCTION)],
    requireKeys: true,
    startTimers: false,
    startBlobWatchers: false,
    logger: () => undefined,
  });
});

afterEach(() => useAppServices(undefined));
afterAll(async () => host?.stop());

describe('the ledger', () => {
  it('folds landings and a Failed month, sweeps, heals once per cool-down, and turns the healed month Final', async () => {
    clock = new Date('2026-12-04T12:00:00Z');
    const catalog = await freshCatalog();
    const config = configFor();
    const ledger = new LedgerService({ catalog, now });
    await catalog.upsertExport(exportRecord(SUB, 'daily-actual'));
    await ledger.recordLanding(landing(SUB, 'daily-actual', '20261201-20261231', '2026-12-04T09:42:00Z'));
    await ledger.recordLanding(landing(SUB, 'daily-actual', '20261101-20261130', '2026-12-03T09:42:00Z'));
    await ledger.recordLanding(landing(SUB, 'daily-actual', '20261001-20261031', '2026-11-05T09:42:00Z'));
    const failed = {
      backfillId: 'bf-202609-202609-0123456789abcdef0123456789abcdef',
      dataset: 'ActualCost' as const,
      month: '2026-09',
      exportName: 'cea-bf-actualcost-202609',
      scope: SUB,
      instanceId: 'bf-x:1',
      status: 'failed' as const,
      attempts: 3,
      error: 'run failed 3 times',
      updatedAt: '2026-12-01T10:00:00Z',
    };
    await catalog.upsertBackfillRun(failed);
    await ledger.recordBackfillMonth(failed);

    const starts: unknown[] = [];
    const start: StartBackfill = async (body) => {
      starts.push(body);
      return { kind: 'started', id: 'bf-202609-202609-fedcba9876543210fedcba9876543210' };
    };
    const first = await runLedgerSweep({ config, catalog, now }, start, () => undefined);
    expect(first.sweep).toMatchObject({ exports: 1, cellsRead: 4 });
    expect(first.sweep.byState).toMatchObject({ Open: 2, Final: 1, Failed: 1 });
    expect(first.healing).toMatchObject({ started: 1, considered: 1 });
    expect(starts).toEqual([
      {
        scope: SUB,
        datasets: ['ActualCost'],
        from: '2026-09',
        to: '2026-09',
        destination: {
          storageAccount: ACCOUNT,
          container: 'msexports',
          rootFolderPath: 'cm',
          tokenId: 'tok1',
        },
        force: true,
      },
    ]);
    const cell = (await ledger.cell(SUB, 'daily-actual', '2026-09'))!;
    expect(cell).toMatchObject({
      state: 'Failed',
      reason: expect.stringContaining('failed after 3 attempt(s)'),
      healing: {
        attempts: 1,
        outcome: 'started',
        backfillId: 'bf-202609-202609-fedcba9876543210fedcba9876543210',
      },
    });

    // The same sweep an hour later: the cool-down holds, and nothing changed, so nothing is written.
    clock = new Date('2026-12-04T13:00:00Z');
    const again = await runLedgerSweep({ config, catalog, now }, start, () => undefined);
    expect(again.healing).toMatchObject({ started: 0, skipped: 1 });
    expect(starts).toHaveLength(1);

    // The healing backfill lands (its one-month export): the registered export's month is Final.
    await ledger.recordLanding(
      landing(SUB, 'cea-bf-actualcost-202609', '20260901-20260930', '2026-12-04T13:30:00Z'),
    );
    const healed = (await ledger.cell(SUB, 'daily-actual', '2026-09'))!;
    expect(healed).toMatchObject({ state: 'Final', current: { rows: 42 }, healing: { attempts: 1 } });

    // No landing since the 4th: by the 6th noon December is overdue and November's closing run never
    // came (close window + 24 h + 12 h grace); a late re-run from the 5th still makes November Final.
    clock = new Date('2026-12-06T12:00:00Z');
    const later = await runLedgerSweep({ config, catalog, now }, start, () => undefined);
    expect(later.sweep.byState).toMatchObject({ Stale: 2, Final: 2 });
    await ledger.recordLanding(landing(SUB, 'daily-actual', '20261101-20261130', '2026-12-05T09:42:00Z'));
    expect((await ledger.cell(SUB, 'daily-actual', '2026-11'))!.state).toBe('Final');
  });

  it('creates Missing months for an export that never landed, and reports under report without healing', async () => {
    clock = new Date('2026-12-04T12:00:00Z');
    const catalog = await freshCatalog();
    await catalog.upsertExport(exportRecord(MPA, 'monthly-focus'));
    const start: StartBackfill = () => Promise.reject(new Error('must not start'));
    const result = await runLedgerSweep({ config: configFor(), catalog, now }, start, () => undefined);
    expect(result.sweep.byState).toMatchObject({ Missing: 3, Stale: 1 });
    expect(result.healing.started).toBe(0);
    const cells = (await new LedgerService({ catalog, now }).page({ scope: MPA })).items;
    expect(cells.map((c) => [c.month, c.state])).toEqual([
      ['2026-09', 'Missing'],
      ['2026-10', 'Missing'],
      ['2026-11', 'Missing'],
      ['2026-12', 'Stale'],
    ]);
  });
});

describe('healing a managed-identity export', () => {
  it('backfills to the account by its resource id, and says what to do when the id is not recorded', async () => {
    clock = new Date('2026-12-04T12:00:00Z');
    const catalog = await freshCatalog();
    const resourceId = `/subscriptions/00000000-0000-0000-0000-0000000000ab/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/${ACCOUNT}`;
    const mi = (name: string, withId: boolean): ExportRecord => {
      const e = exportRecord(SUB, name, false);
      const { tokenRef: _t, ...destination } = e.destination;
      return {
        ...e,
        destination: { ...destination, ...(withId ? { resourceId } : {}) },
        schedule: { recurrence: 'Daily', status: 'Active', from: '2026-11-01T00:00:00Z' },
      };
    };
    await catalog.upsertExport(mi('mi-actual', true));
    await catalog.upsertExport(mi('mi-legacy', false));
    expect((await catalog.getExport(SUB, 'mi-actual'))!.destination.resourceId).toBe(resourceId);
    const starts: unknown[] = [];
    const start: StartBackfill = async (body) => {
      starts.push(body);
      return { kind: 'started', id: 'bf-202611-202611-0123456789abcdef0123456789abcdef' };
    };
    const result = await runLedgerSweep({ config: configFor(), catalog, now }, start, () => undefined);
    // November never landed (Missing) and December is overdue (Stale), for both exports.
    expect(result.healing).toMatchObject({ started: 2, refused: 2 });
    expect(starts).toContainEqual({
      scope: SUB,
      datasets: ['ActualCost'],
      from: '2026-11',
      to: '2026-11',
      destination: { resourceId, container: 'msexports', rootFolderPath: 'cm' },
      force: true,
    });
    const ledger = new LedgerService({ catalog, now });
    expect((await ledger.cell(SUB, 'mi-actual', '2026-11'))!.healing).toMatchObject({ outcome: 'started' });
    expect((await ledger.cell(SUB, 'mi-legacy', '2026-11'))!.healing!.outcome).toMatch(
      /^refused: .*managed identity.*the next export sync records it/,
    );
  });
});

describe('rows unknown and NoData', () => {
  it('keeps a month without a row count apart from a header-only month, in the cell and the heatmap', async () => {
    clock = new Date('2026-12-04T12:00:00Z');
    const catalog = await freshCatalog();
    const ledger = new LedgerService({ catalog, now });
    await catalog.upsertExport(exportRecord(SUB, 'daily-actual'));
    // October: the closing run's manifest said `dataRowCount: null`. November: one header-only file.
    await ledger.recordLanding(
      landing(SUB, 'daily-actual', '20261001-20261031', '2026-11-05T09:42:00Z', null),
    );
    await ledger.recordLanding(landing(SUB, 'daily-actual', '20261101-20261130', '2026-12-03T09:42:00Z', 0));
    const october = (await ledger.cell(SUB, 'daily-actual', '2026-10'))!;
    expect(october.state).toBe('Final');
    expect(october.current).toBeDefined();
    expect(october.current).not.toHaveProperty('rows');
    expect(october.current!.noData).toBe(false);
    const november = (await ledger.cell(SUB, 'daily-actual', '2026-11'))!;
    expect(november).toMatchObject({ state: 'NoData', current: { rows: 0, noData: true } });

    const heatmap = await readHeatmap(catalog, clock, 13);
    const cells = heatmap.rows.find((r) => r.exportName === 'daily-actual')!.cells;
    expect(cells['2026-10']).toMatchObject({ state: 'Final', runId: october.current!.runId });
    expect(cells['2026-10']).not.toHaveProperty('rows');
    expect(cells['2026-11']).toMatchObject({ state: 'NoData', rows: 0 });
  });
});

describe('GET /api/ledger', () => {
  async function get(query: string): Promise<Response> {
    return fetch(`${host.baseUrl}/ledger${query}`, { headers: { 'x-functions-key': host.functionKey } });
  }

  it('filters by scope, export, months and state, a page at a time', async () => {
    clock = new Date('2026-12-04T12:00:00Z');
    const catalog = await freshCatalog();
    const config = configFor();
    await catalog.upsertExport(exportRecord(SUB, 'daily-actual'));
    await catalog.upsertExport(exportRecord(SUB, 'daily-actual-2'));
    await catalog.upsertExport(exportRecord(MPA, 'daily-actual'));
    const ledger = new LedgerService({ catalog, now });
    await ledger.recordLanding(landing(SUB, 'daily-actual', '20261001-20261031', '2026-11-05T09:42:00Z'));
    await runLedgerSweep(
      { config, catalog, now },
      async () => ({ kind: 'running', id: 'x' }),
      () => undefined,
    );
    useAppServices({ config, catalog, now });

    expect((await fetch(`${host.baseUrl}/ledger`)).status).toBe(401);
    const one = await get(`?scope=${encodeURIComponent(SUB)}&export=daily-actual&from=2026-10&to=2026-11`);
    expect(one.status).toBe(200);
    const body = (await one.json()) as { cells: LedgerCellRecord[] };
    expect(body.cells.map((c) => [c.exportName, c.month, c.state])).toEqual([
      ['daily-actual', '2026-10', 'Final'],
      ['daily-actual', '2026-11', 'Missing'],
    ]);
    expect(body.cells[0]).toMatchObject({ runs: 1, current: { rows: 42, bytes: 1234 } });

    const missing = (await (await get('?state=Missing&pageSize=4')).json()) as {
      cells: LedgerCellRecord[];
      continuationToken?: string;
    };
    expect(missing.cells).toHaveLength(4);
    expect(missing.continuationToken).toEqual(expect.any(String));
    const rest = (await (
      await get(
        `?state=Missing&pageSize=4&continuationToken=${encodeURIComponent(missing.continuationToken!)}`,
      )
    ).json()) as { cells: LedgerCellRecord[] };
    // Three exports × three past months, less October of SUB's daily-actual, which landed.
    expect(missing.cells.length + rest.cells.length).toBe(8);

    const bad = await get('?scope=nope&from=2026-13&state=Done&pageSize=0&extra=1');
    expect(bad.status).toBe(400);
    const answer = (await bad.json()) as { error: { code: string; fields: { field: string }[] } };
    expect(answer.error.code).toBe('InvalidRequest');
    const errors = answer.error.fields.map((e) => e.field).sort();
    expect(errors).toEqual(['extra', 'from', 'pageSize', 'scope', 'state']);
  });
});
