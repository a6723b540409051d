// The export fleet end to end through the local host: the Exports emulator and its Billing API
// customer list over HTTPS, the fleet table in Azurite, rounds through the durable engine.
// Onboarding 3 customers of an MPA account with flexera-csp creates exactly the 6 exports Flexera's
// CSP bill connect asks for and 3 backfills; an edit in the emulator shows in plan mode and
// reconcile restores it; a throttled round pauses per Retry-After and loses no scope.
import '../../src/functions/backfill'; // registers the backfill's functions
import '../../src/functions/fleet'; // registers the fleet's functions

import { randomUUID } from 'node:crypto';

import { BlobServiceClient } from '@azure/storage-blob';

import { deliverRun } from '../../dev/emulator/delivery';
import { type RunningEmulator, startEmulator } from '../../dev/emulator/server';
import { findRegistration } from '../../dev/host/functionsCoreStub';
import { type LocalHost, startLocalHost } from '../../dev/host/localHost';
import { BillingCustomersClient } from '../../src/azure/billingCustomers';
import { containerBlobLister } from '../../src/azure/blobListing';
import { Catalog } from '../../src/azure/catalog';
import { CostExportsClient } from '../../src/azure/costExports';
import { LoopbackTokenCredential } from '../../src/azure/credentials';
import { FleetStore } from '../../src/azure/fleetStore';
import { unresolvedLandingTable } from '../../src/azure/landingRows';
import { createTableClient, tableClientFactory } from '../../src/azure/storageClients';
import { loadConfig } from '../../src/config';
import { useAppServices } from '../../src/services/appServices';
import type { FleetRuntime } from '../../src/services/fleetDeps';
import { fleetStatus } from '../../src/services/fleetSummary';
import { LandingOwners } from '../../src/services/landingOwners';
import { LandingService } from '../../src/services/landings';
import {
  BACKFILL_ACTIVITIES,
  BACKFILL_MONTH_ORCHESTRATOR,
  BACKFILL_ORCHESTRATOR,
} from '../../src/workflows/backfill';
import {
  FLEET_ASSIGNMENT_DONE_ACTIVITY,
  FLEET_BACKFILLS_ACTIVITY,
  FLEET_ROUND,
  FLEET_SCOPE_ACTIVITY,
  FLEET_TARGETS_ACTIVITY,
  type FleetRoundTotals,
} from '../../src/workflows/fleetRound';
import { testStorageConnection, uniqueName } from '../support/storage';

const MPA = '6e0c4c1a-7b2d-4f4e-9a52-3c1d2e3f4a5b:0b9c8d7e-6f5a-4b3c-8d2e-1f0a9b8c7d6e_2019-05-31';
const SIG = 'RmxlZXRUZXN0U2lnbmF0dXJlVmFsdWUxMjM0NTY3ODkw';
const SAS = `sv=2024-11-04&ss=b&srt=sco&sp=racwdl&se=2030-01-01T00:00:00Z&spr=https&sig=${encodeURIComponent(SIG)}`;
const FUNCTIONS = [
  'fleetProfiles',
  'fleetProfile',
  'fleetAssignments',
  'fleetAssignment',
  'fleetPlan',
  'fleetReconcileNow',
  'fleetRound',
  'fleetOnboard',
  'fleetOnboarding',
  FLEET_ROUND,
  FLEET_TARGETS_ACTIVITY,
  FLEET_SCOPE_ACTIVITY,
  FLEET_ASSIGNMENT_DONE_ACTIVITY,
  FLEET_BACKFILLS_ACTIVITY,
  'backfillStatus',
  BACKFILL_ORCHESTRATOR,
  BACKFILL_MONTH_ORCHESTRATOR,
  ...Object.values(BACKFILL_ACTIVITIES),
];

interface Json {
  [key: string]: unknown;
}

describe('export fleet (local host, Exports + Billing emulator, Azurite)', () => {
  let emulator: RunningEmulator;
  let host: LocalHost;
  let costExports: CostExportsClient;
  let token = { fingerprint: 'token-1' };
  let store: FleetStore;
  let runtime: FleetRuntime;
  let catalog: Catalog;
  const now = new Date('2026-12-04T06:00:00Z');

  const call = async (
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: Json }> => {
    const response = await fetch(`${host.baseUrl}/fleet/${path}`, {
      method,
      ...(body === undefined
        ? {}
        : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    });
    const text = await response.text();
    return { status: response.status, json: (text ? JSON.parse(text) : {}) as Json };
  };
  const finish = async (id: string): Promise<FleetRoundTotals> => {
    const done = await host.engine.waitForCompletion(id);
    expect(done.runtimeStatus).toBe('Completed');
    return done.output as FleetRoundTotals;
  };
  const waitFor = async (condition: () => boolean): Promise<void> => {
    for (let i = 0; i < 600 && !condition(); i++) await new Promise((r) => setTimeout(r, 50));
    expect(condition()).toBe(true);
  };
  const onboardBody = {
    billingAccountId: MPA,
    profile: 'flexera-csp',
    destination: {
      storageAccount: 'partnerx01',
      container: 'flexera',
      storageTenantId: '11111111-2222-4333-8444-555555555555',
    },
    rootFolderTemplate: '{customerId}/{dataset}',
    backfillMonths: 1,
  };

  beforeAll(async () => {
    emulator = await startEmulator({ speedFactor: Infinity, clock: { now } });
    const endpoint = {
      endpoint: emulator.url,
      credential: new LoopbackTokenCredential(emulator.url),
      caPem: emulator.caPem,
    };
    costExports = new CostExportsClient({ ...endpoint, clientType: 'fleetTest', retry: { maxRetries: 0 } });
    store = new FleetStore(
      tableClientFactory({
        kind: 'connectionString',
        name: 'AzureWebJobsStorage',
        connectionString: testStorageConnection(),
      }),
      uniqueName('fleet'),
    );
    const storage = testStorageConnection();
    const config = loadConfig({
      AzureWebJobsStorage: storage,
      ExportsStorage: storage,
      SECRET_STORE: 'table',
    });
    catalog = new Catalog({
      tableClient: tableClientFactory(config.storage.catalog),
      tablePrefix: uniqueName('fleetcat').replace(/[^A-Za-z0-9]/g, ''),
    });
    await catalog.ensureTables();
    runtime = {
      store,
      costExports,
      customers: new BillingCustomersClient({
        ...endpoint,
        clientType: 'fleetTest',
        retry: { maxRetries: 0 },
      }),
      tokens: {
        current: async (account) =>
          account === 'partnerx01' ? { fingerprint: token.fingerprint, value: async () => SAS } : undefined,
      },
      registry: catalog,
      now: () => now,
      concurrency: 2,
      maxThrottlePauseMs: 50,
    };
    await catalog.upsertToken({
      storageAccount: 'partnerx01',
      tokenId: 'token-1',
      expiresOn: '2030-01-01T00:00:00Z',
      permissions: 'racwdl',
      secretName: 'sas-partnerx01',
      fingerprint: 'token-1',
      status: 'active',
    });
    useAppServices({
      fleet: runtime,
      config,
      catalog,
      backfills: { catalog, costExports, secrets: { get: async () => SAS }, now: () => now },
    });
    host = await startLocalHost({
      env: { FLEET_RECONCILE_SCHEDULE: '0 45 5 * * *' },
      registrations: FUNCTIONS.map(findRegistration),
      startTimers: false,
      startBlobWatchers: false,
      logger: () => undefined,
    });
    await emulator.admin.setBilling({ customers: { billingAccountId: MPA, count: 3 }, pageSize: 2 });
  });

  afterAll(async () => {
    useAppServices(undefined);
    await host?.stop();
    await emulator?.stop();
  });

  it('onboards 3 customers of an MPA account with flexera-csp: exactly the 6 exports Flexera documents and 3 backfills', async () => {
    await emulator.admin.resetCounters();
    const first = await call('POST', 'onboard', onboardBody);
    expect(first.status).toBe(202);
    const id = first.json.id as string;
    expect(first.json.statusUrl).toBe(`${host.baseUrl}/fleet/onboardings/${id}`);
    const totals = await finish(id);
    expect(totals).toMatchObject({
      scopes: 3,
      outcomes: { created: 6 },
      calls: { list: 3, put: 6 },
      problems: [],
      backfills: { started: 3, existing: 0, refused: 0 },
    });

    // The standing exports (the backfills' one-month exports, cea-bf-…, are theirs).
    const exports = (await emulator.admin.exports()).filter(
      (e) => e.scope.includes(MPA) && e.name.startsWith('cea-flexera-csp-'),
    );
    expect(exports).toHaveLength(6);
    for (const e of exports) {
      const p = e.body.properties as Json;
      const definition = p.definition as {
        type: string;
        timeframe: string;
        dataSet: { configuration: { dataVersion: string } };
      };
      expect(e.name).toMatch(/^cea-flexera-csp-(actual|amortized)$/);
      expect(e.scope).toMatch(new RegExp(`/customers/[0-9a-f-]{36}$`));
      expect(['ActualCost', 'AmortizedCost']).toContain(definition.type);
      expect(definition.timeframe).toBe('MonthToDate');
      expect(definition.dataSet.configuration.dataVersion).toBe('2021-10-01');
      expect(p).toMatchObject({
        format: 'Csv',
        compressionMode: 'none',
        partitionData: true,
        dataOverwriteBehavior: 'OverwritePreviousReport',
      });
      expect((p.schedule as Json).recurrence).toBe('Daily');
      expect((p.schedule as Json).status).toBe('Active');
      const destination = (p.deliveryInfo as { destination: Json }).destination;
      expect(destination).toMatchObject({ storageAccount: 'partnerx01', container: 'flexera' });
      expect(destination.rootFolderPath).toBe(
        `${e.scope.split('/').at(-1)}/${definition.type.toLowerCase()}`,
      );
    }

    // One backfill per customer scope: both datasets, one month, under the customer's folder.
    const backfills = () =>
      host.engine.listInstances({ showInput: true }).filter((i) => i.name === BACKFILL_ORCHESTRATOR);
    expect(backfills()).toHaveLength(3);
    for (const b of backfills()) {
      const input = b.input as { scope: string; datasets: string[]; windows: unknown[]; destination: Json };
      expect(input.scope).toMatch(/\/customers\/[0-9a-f-]{36}$/);
      expect(input.datasets).toEqual(['ActualCost', 'AmortizedCost']);
      expect(input.windows).toHaveLength(1);
      expect(input.destination).toMatchObject({
        storageAccount: 'partnerx01',
        container: 'flexera',
        rootFolderPath: input.scope.split('/').at(-1),
      });
    }

    // The same request again is the same onboarding, and starts nothing.
    const again = await call('POST', 'onboard', onboardBody);
    expect(again.status).toBe(200);
    expect(again.json).toMatchObject({ id, started: false, backfillMonths: 1 });
    expect(backfills()).toHaveLength(3);

    // The one status URL: token check, exports ensured, and each scope's backfill with its progress.
    await waitFor(() => backfills().every((b) => (b.customStatus as { total?: number } | null)?.total === 2));
    const view = await call('GET', `onboardings/${id}`);
    expect(view.json).toMatchObject({
      id,
      runtimeStatus: 'Completed',
      tokenCheck: { kind: 'sasToken', storageAccount: 'partnerx01', fingerprint: 'token-1' },
      result: { scopes: 3, outcomes: { created: 6 } },
      backfills: { shown: 3, truncated: false },
    });
    const scopes = (view.json.backfills as { scopes: Json[] }).scopes;
    expect(scopes).toHaveLength(3);
    for (const b of scopes) {
      expect(b).toMatchObject({
        state: 'started',
        runtimeStatus: 'Running',
        outcome: null,
        statusUrl: `${host.baseUrl}/backfills/${b.backfillId as string}`,
        progress: { total: 2, counts: expect.any(Object) },
      });
    }
    expect(JSON.stringify(view.json)).not.toContain(SIG);
    // The backfills would go on for hours (their months wait for landings): stop them here.
    for (const i of host.engine.listInstances()) {
      if (i.runtimeStatus === 'Running' || i.runtimeStatus === 'Pending')
        host.engine.terminate(i.instanceId, 'test');
    }
    const handOff = (
      view.json.assignment as { handOff: { exportUrls: Record<string, string>; storageTenantId: string }[] }
    ).handOff;
    expect(handOff).toHaveLength(3);
    expect(handOff[0]!.storageTenantId).toBe('11111111-2222-4333-8444-555555555555');
    expect(handOff[0]!.exportUrls.actual).toMatch(
      /^https:\/\/partnerx01\.blob\.core\.windows\.net\/flexera\/[0-9a-f-]{36}\/actualcost\/cea-flexera-csp-actual$/,
    );
  });

  it('registers the exports it created in the exports table, so their landings are filed without an ARM call', async () => {
    const created = (await emulator.admin.exports()).filter(
      (e) => e.scope.includes(MPA) && e.name.startsWith('cea-flexera-csp-'),
    );
    expect(created).toHaveLength(6);
    for (const e of created) {
      const row = await catalog.getExport(e.scope, e.name);
      const root = (e.body.properties as { deliveryInfo: { destination: { rootFolderPath: string } } })
        .deliveryInfo.destination.rootFolderPath;
      expect(row).toMatchObject({
        exportName: e.name,
        dataset: e.name.endsWith('-actual') ? 'ActualCost' : 'AmortizedCost',
        destination: {
          storageAccount: 'partnerx01',
          container: 'flexera',
          rootFolderPath: root,
          sasDelivered: true,
        },
        missing: false,
      });
    }

    // A run of one of them lands: the owner check's point read finds it, Cost Management is not asked.
    const target = created.find((e) => e.name === 'cea-flexera-csp-actual')!;
    const customerId = target.scope.split('/').at(-1)!;
    const blobs = BlobServiceClient.fromConnectionString(testStorageConnection());
    const container = blobs.getContainerClient('flexera');
    await container.createIfNotExists();
    const runId = randomUUID();
    const { manifestPath } = await deliverRun(
      {
        blobEndpoint: process.env.TEST_STORAGE_BLOB_ENDPOINT ?? '',
        connectionString: testStorageConnection(),
      },
      {
        exportName: target.name,
        scope: target.scope,
        exportResourceId: `${target.scope}/providers/Microsoft.CostManagement/exports/${target.name}`,
        apiVersion: '2025-03-01',
        runId,
        executionType: 'Scheduled',
        submittedTime: now,
        from: new Date('2026-12-01T00:00:00Z'),
        to: new Date('2026-12-03T00:00:00Z'),
        dataset: { type: 'ActualCost', version: '2021-10-01', granularity: 'Daily' },
        format: 'Csv',
        compression: 'none',
        partitionData: true,
        overwrite: 'OverwritePreviousReport',
        destination: {
          container: 'flexera',
          rootFolderPath: `${customerId}/actualcost`,
          resourceId:
            '/subscriptions/6c1f5e0a-8d3b-4f7e-9a21-3b4c5d6e7f80/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/partnerx01',
        },
        resourcesPerDay: 1,
      },
    );
    const landings = new LandingService({
      catalog,
      blobs: containerBlobLister(container),
      unresolved: unresolvedLandingTable(
        createTableClient(
          {
            kind: 'connectionString',
            name: 'AzureWebJobsStorage',
            connectionString: testStorageConnection(),
          },
          catalog.tableName('landings'),
        ),
      ),
      owners: new LandingOwners({ catalog, costExports }),
    });
    await emulator.admin.resetCounters();
    const outcome = await landings.catalogue({
      container: 'flexera',
      blobName: manifestPath,
      content: await container.getBlockBlobClient(manifestPath).downloadToBuffer(),
    });
    expect(outcome).toMatchObject({ kind: 'catalogued', state: 'complete', resolved: true });
    expect((await emulator.admin.counters()).byOperation).toEqual({});
  });

  it('a no-change reconcile costs one List per scope and no PUT', async () => {
    await emulator.admin.resetCounters();
    const started = await call('POST', 'reconcile', {});
    expect(started.status).toBe(202);
    const totals = await finish(started.json.id as string);
    expect(totals).toMatchObject({ scopes: 3, outcomes: { unchanged: 6 }, calls: { list: 3, put: 0 } });
    const counters = await emulator.admin.counters();
    expect(counters.byOperation).toEqual({ Exports_List: 3 });
  });

  it('an export edited in the emulator shows in plan mode and reconcile restores it', async () => {
    const assignmentId = ((await call('GET', 'assignments')).json.assignments as { id: string }[])[0]!.id;
    const victim = (await emulator.admin.exports()).find((e) => e.name === 'cea-flexera-csp-amortized')!;
    const current = await costExports.get(victim.scope, victim.name);
    const p = current.properties;
    await costExports.createOrUpdate(victim.scope, victim.name, {
      eTag: current.eTag!,
      properties: {
        format: 'Csv',
        compressionMode: 'gzip',
        partitionData: true,
        dataOverwriteBehavior: 'CreateNewReport',
        exportDescription: p.exportDescription!,
        definition: {
          type: 'AmortizedCost',
          timeframe: 'MonthToDate',
          dataSet: { granularity: 'Daily', configuration: { dataVersion: '2021-10-01' } },
        },
        deliveryInfo: {
          destination: {
            type: 'AzureBlob',
            storageAccount: 'partnerx01',
            sasToken: SAS,
            container: 'flexera',
            rootFolderPath: 'moved',
          },
        },
        schedule: {
          status: 'Inactive',
          recurrence: 'Daily',
          recurrencePeriod: { from: '2026-12-04T06:00:00.000Z', to: '2031-12-04T06:00:00.000Z' },
        },
      },
    });

    await emulator.admin.resetCounters();
    const plan = await call(
      'POST',
      `assignments/${assignmentId}/plan?scope=${encodeURIComponent(victim.scope)}`,
    );
    expect(plan.status).toBe(200);
    const planned = (
      plan.json.scopes as {
        exports: { exportName: string; outcome: string; fields?: { field: string }[] }[];
      }[]
    )[0]!.exports;
    expect(planned.find((e) => e.exportName === 'cea-flexera-csp-actual')).toMatchObject({
      outcome: 'unchanged',
    });
    const drift = planned.find((e) => e.exportName === 'cea-flexera-csp-amortized')!;
    expect(drift.outcome).toBe('update');
    expect(drift.fields!.map((f) => f.field)).toEqual([
      'compressionMode',
      'dataOverwriteBehavior',
      'deliveryInfo.destination.rootFolderPath',
      'schedule.status',
    ]);
    expect((await emulator.admin.counters()).byOperation).toEqual({ Exports_List: 1 }); // plan never PUTs

    const round = await call('POST', 'reconcile', { assignmentId });
    const totals = await finish(round.json.id as string);
    expect(totals).toMatchObject({ outcomes: { unchanged: 5, updated: 1 }, calls: { list: 3, put: 1 } });
    const restored = await costExports.get(victim.scope, victim.name);
    expect(restored.properties).toMatchObject({
      compressionMode: 'none',
      dataOverwriteBehavior: 'OverwritePreviousReport',
      schedule: { status: 'Active' },
    });
    expect(restored.properties.deliveryInfo.destination.rootFolderPath).toBe(
      `${victim.scope.split('/').at(-1)}/amortizedcost`,
    );
  });

  it('leaves an export it does not own alone, and reports it', async () => {
    const assignmentId = ((await call('GET', 'assignments')).json.assignments as { id: string }[])[0]!.id;
    const scope = (await emulator.admin.exports())[0]!.scope;
    const current = await costExports.get(scope, 'cea-flexera-csp-actual');
    await costExports.createOrUpdate(scope, 'cea-flexera-csp-actual', {
      eTag: current.eTag!,
      properties: {
        format: 'Parquet',
        compressionMode: 'snappy',
        partitionData: true,
        dataOverwriteBehavior: 'OverwritePreviousReport',
        exportDescription: 'hand made by the customer',
        definition: { type: 'ActualCost', timeframe: 'MonthToDate' },
        deliveryInfo: {
          destination: {
            type: 'AzureBlob',
            storageAccount: 'partnerx01',
            sasToken: SAS,
            container: 'flexera',
          },
        },
      },
    });
    const round = await call('POST', 'reconcile', { assignmentId });
    const totals = await finish(round.json.id as string);
    expect(totals.outcomes['not-owned']).toBe(1);
    expect((await costExports.get(scope, 'cea-flexera-csp-actual')).properties.format).toBe('Parquet');
    const view = await call('GET', `assignments/${assignmentId}`);
    expect(
      (view.json.outcomes as { scope: string; exportName: string; outcome: string }[]).find(
        (o) => o.scope === scope && o.exportName === 'cea-flexera-csp-actual',
      ),
    ).toMatchObject({ outcome: 'not-owned' });
  });

  it('a rotated token, a new customer, a forbidden scope and a customer page failing mid-list in one round', async () => {
    const assignmentId = ((await call('GET', 'assignments')).json.assignments as { id: string }[])[0]!.id;
    token = { fingerprint: 'token-2' };
    await emulator.admin.setBilling({ customers: { billingAccountId: MPA, count: 4 }, failPages: 1 });
    const customers = (await emulator.admin.exports()).map((e) => e.scope);
    await emulator.admin.setBilling({ forbiddenScopes: [customers[0]!] });
    const round = await call('POST', 'reconcile', { assignmentId });
    const totals = await finish(round.json.id as string);
    expect(totals.listRetries).toBe(1);
    expect(totals.scopes).toBe(4);
    expect(totals.forbidden).toBe(1);
    expect(totals.problems).toEqual([
      expect.objectContaining({
        scope: customers[0],
        status: 'forbidden',
        roleToGrant: expect.stringContaining('billing'),
      }),
    ]);
    // 2 new exports for the new customer; the new token on the 4 exports of the 2 reachable old customers.
    expect(totals.outcomes).toMatchObject({ created: 2, updated: 4 });
    expect(totals.calls).toEqual({ list: 4, put: 6 });

    // What /api/status shows: every export's last outcome, and the ones that need a person.
    const status = await fleetStatus(store);
    expect(status).toMatchObject({
      assignments: 1,
      exports: 8,
      byOutcome: { forbidden: 2, created: 2, updated: 4 },
      notReconciled: 0,
    });
    const view = await call('GET', `assignments/${assignmentId}`);
    expect(view.json.summary).toMatchObject({ assignmentId, scopes: 4, exports: 8, departed: 0 });
    expect(status.attention.map((o) => [o.scope, o.outcome])).toEqual([
      [customers[0], 'forbidden'],
      [customers[0], 'forbidden'],
    ]);
    await emulator.admin.setBilling({ forbiddenScopes: [] });
  });

  it('names every bad field, in one error shape', async () => {
    const bad = await call('POST', 'assignments', {
      billingAccountId: '8611537',
      profile: 'flexera-csp',
      destination: { storageAccount: 'Bad_Account', container: 'x', sasToken: SAS },
      rootFolderTemplate: '{tenant}',
    });
    expect(bad.status).toBe(400);
    const error = bad.json.error as { code: string; message: string; fields: { field: string }[] };
    expect(error.code).toBe('InvalidRequest');
    expect(error.fields.map((f) => f.field)).toEqual([
      'billingAccountId',
      'destination.container',
      'destination.sasToken',
      'destination.storageAccount',
      'rootFolderTemplate',
    ]);
    expect(JSON.stringify(bad.json)).not.toContain(SIG);
    const pricesAtCustomer = await call('POST', 'profiles', {
      name: 'prices-only',
      exports: [{ key: 'p', dataset: 'PriceSheet' }],
    });
    expect(pricesAtCustomer.status).toBe(201);
    const refused = await call('POST', 'assignments', {
      ...onboardBody,
      backfillMonths: undefined,
      profile: 'prices-only',
    });
    expect(refused.status).toBe(400);
    expect((refused.json.error as { fields: { field: string }[] }).fields[0]!.field).toBe(
      'profile.exports[0].dataset',
    );
  });

  it('a throttled round pauses per Retry-After on durable timers and resumes, losing no scope', async () => {
    const assignmentId = ((await call('GET', 'assignments')).json.assignments as { id: string }[])[0]!.id;
    // Waits as long as each 429 asks (whole seconds), not the short cap the other cases use.
    // Every scope of a page at once against a burst of 2 calls and one a second after: a scope
    // needs a List and a PUT in a row, so most of them wait several times.
    runtime.maxThrottlePauseMs = 60_000;
    runtime.concurrency = 4;
    await emulator.admin.setThrottle({ otherPerPrincipal: { limit: 2, windowSeconds: 2 } });
    await emulator.admin.resetCounters();
    try {
      const round = await call('POST', 'reconcile', { assignmentId });
      const id = round.json.id as string;
      const totals = await finish(id);
      const counters = await emulator.admin.counters();
      expect(counters.byStatus['429']).toBeGreaterThan(4);
      // Every customer reconciled, none left throttled: 4 scopes, 8 exports, no problem.
      expect(totals).toMatchObject({ scopes: 4, throttled: 0, failed: 0, forbidden: 0, problems: [] });
      expect(Object.values(totals.outcomes).reduce((a, b) => a + b, 0)).toBe(8);
      // The pauses are whole multiples of the waits the 429s asked for (whole seconds), on durable timers.
      expect(totals.pausedMs).toBeGreaterThanOrEqual(1000);
      expect(totals.pausedMs % 1000).toBe(0);
      const status = await fleetStatus(store);
      expect(status).toMatchObject({ exports: 8, byOutcome: expect.not.objectContaining({ throttled: 1 }) });
      expect(status.byOutcome.throttled).toBeUndefined();
    } finally {
      await emulator.admin.setThrottle({ otherPerPrincipal: null });
      runtime.maxThrottlePauseMs = 50;
      runtime.concurrency = 2;
    }
  });
});
