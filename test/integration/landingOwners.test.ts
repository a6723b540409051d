// The landing owner check over real Azurite (catalog tables, the exports container) and the Exports
// emulator over HTTPS (the one GET for an export neither table knows): a manifest is filed under the
// scope it names only when that scope's export writes into the folder it was written to. Runs are
// written by the emulator's own deliverRun, so the folders and manifests are Azure's layout.
import { randomUUID } from 'node:crypto';

import { deliverRun, type RunDeliveryRequest } from '../../dev/emulator/delivery';
import { type RunningEmulator, startEmulator } from '../../dev/emulator/server';
import { exportKey } from '../../src/azure/catalog';
import { CostExportsClient } from '../../src/azure/costExports';
import { LoopbackTokenCredential } from '../../src/azure/credentials';
import { buildExportBody } from '../../src/azure/exportBody';
import { parseBackfillExportName } from '../../src/domain/backfillPlan';
import { LandingOwners } from '../../src/services/landingOwners';
import type { LandingOutcome, LandingService } from '../../src/services/landings';
import { collect, type LandingWorld, landingWorld } from '../support/landings';
import { testStorageConnection } from '../support/storage';

const SUB_A = '/subscriptions/6c1f5e0a-8d3b-4f7e-9a21-3b4c5d6e7f80';
const SUB_B = '/subscriptions/11111111-2222-4333-8444-555555555555';
const SIG = 'T3duZXJUZXN0U2lnbmF0dXJlVmFsdWUxMjM0NTY3ODkw';
const SAS = `sv=2024-11-04&ss=b&srt=sco&sp=racwdl&se=2030-01-01T00:00:00Z&spr=https&sig=${encodeURIComponent(SIG)}`;

let world: LandingWorld;
let emulator: RunningEmulator;
let costExports: CostExportsClient;
let service: LandingService;
let get: jest.SpyInstance;

beforeAll(async () => {
  world = await landingWorld();
  emulator = await startEmulator({ speedFactor: Infinity });
  costExports = new CostExportsClient({
    endpoint: emulator.url,
    credential: new LoopbackTokenCredential(emulator.url),
    caPem: emulator.caPem,
    clientType: 'ownerTest',
    retry: { maxRetries: 0 },
  });
  const mayBelongToBackfill = (name: string) => parseBackfillExportName(name) !== undefined;
  // As appServices wires it; Azurite's path-style endpoint names no account, so none is compared.
  service = world.service({
    mayBelongToBackfill,
    owners: new LandingOwners({ catalog: world.catalog, costExports, mayBelongToBackfill }),
  });
});

afterAll(async () => {
  await emulator?.stop();
});

beforeEach(() => {
  get = jest.spyOn(costExports, 'get');
});
afterEach(() => get.mockRestore());

/** A run of `exportName` claiming `claimedScope`, written by deliverRun under `root` of the test
 * container, then catalogued as the blob trigger would. */
async function land(
  exportName: string,
  claimedScope: string,
  root = 'costs',
): Promise<{ outcome: LandingOutcome; runId: string; manifestPath: string }> {
  const runId = randomUUID();
  const request: RunDeliveryRequest = {
    exportName,
    scope: claimedScope,
    exportResourceId: `${claimedScope}/providers/Microsoft.CostManagement/exports/${exportName}`,
    apiVersion: '2025-03-01',
    runId,
    executionType: 'OnDemand',
    submittedTime: new Date('2025-08-01T09:42:17.123Z'),
    from: new Date('2025-07-01T00:00:00Z'),
    to: new Date('2025-07-31T00:00:00Z'),
    dataset: { type: 'ActualCost', version: '2021-10-01', granularity: 'Daily' },
    format: 'Csv',
    compression: 'none',
    partitionData: true,
    overwrite: 'OverwritePreviousReport',
    destination: {
      container: world.containerName,
      rootFolderPath: root,
      resourceId: `${SUB_A}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/partnerexports`,
    },
    resourcesPerDay: 1,
  };
  const storage = {
    blobEndpoint: process.env.TEST_STORAGE_BLOB_ENDPOINT ?? '',
    connectionString: testStorageConnection(),
  };
  const { manifestPath } = await deliverRun(storage, request);
  const content = await world.container.getBlockBlobClient(manifestPath).downloadToBuffer();
  const outcome = await service.catalogue({
    container: world.containerName,
    blobName: manifestPath,
    content,
  });
  return { outcome, runId, manifestPath };
}

async function register(scope: string, exportName: string, rootFolderPath = 'costs'): Promise<void> {
  await world.catalog.upsertExport({
    scope,
    exportName,
    dataset: 'ActualCost',
    destination: {
      storageAccount: 'partnerexports',
      container: world.containerName,
      rootFolderPath,
      sasDelivered: true,
    },
    missing: false,
    updatedAt: '2025-08-01T00:00:00Z',
  });
}

/** Creates the export in the emulator (Cost Management), delivering to the test container. */
async function createInCostManagement(scope: string, exportName: string, rootFolderPath = 'costs') {
  const body = buildExportBody({
    dataset: 'ActualCost',
    timeframe: 'Custom',
    timePeriod: { from: '2025-07-01', to: '2025-07-31' },
    destination: {
      storageAccount: 'partnerexports',
      sasToken: SAS,
      container: world.containerName,
      rootFolderPath,
    },
    dataVersion: '2021-10-01',
  });
  await costExports.createOrUpdate(scope, exportName, body);
}

async function landingsOf(scope: string, exportName: string) {
  return collect(world.catalog.landingsByExport(exportKey(scope, exportName)));
}

test('a registered export landing under its own scope is filed with one point read, no ARM call', async () => {
  await register(SUB_A, 'owned-daily');
  const { outcome, runId } = await land('owned-daily', SUB_A);
  expect(outcome).toMatchObject({ kind: 'catalogued', state: 'complete', resolved: true });
  expect((await landingsOf(SUB_A, 'owned-daily')).map((l) => l.runId)).toEqual([runId]);
  expect(get).not.toHaveBeenCalled();
});

test("a manifest naming another scope than its folder's export: rejected scopeMismatch, filed under neither scope", async () => {
  await register(SUB_A, 'tenant-a-daily');
  // Written into SUB_A's export folder, claiming SUB_B.
  const { outcome, runId, manifestPath } = await land('tenant-a-daily', SUB_B);
  expect(outcome).toMatchObject({
    kind: 'rejected',
    state: 'rejected',
    resolved: false,
    rejectionKind: 'scopeMismatch',
  });
  if (outcome.kind !== 'rejected') throw new Error('expected a rejection');
  expect(outcome.rejectionReason).toMatch(
    /^scopeMismatch: the manifest names scope .*11111111-2222-4333-8444-555555555555/,
  );
  expect(outcome.rejectionReason).toContain('6c1f5e0a-8d3b-4f7e-9a21-3b4c5d6e7f80');
  expect(await landingsOf(SUB_B, 'tenant-a-daily')).toEqual([]);
  expect(await landingsOf(SUB_A, 'tenant-a-daily')).toEqual([]);
  // Where operators find it: the rejected row, by its path alone.
  const rows = await collect(world.catalog.landingsByExport('unresolved|tenant-a-daily'));
  expect(rows.find((r) => r.runId === runId)).toMatchObject({ state: 'rejected', manifestPath, scope: '' });
  expect(get).not.toHaveBeenCalled(); // another scope owns the folder: no question for Cost Management
  expect(world.logs.some((l) => l.level === 'warn' && l.message.includes('scopeMismatch'))).toBe(true);
});

test('an export nobody registered and Cost Management does not have: rejected unregisteredExport after one GET; filed once registered and written again', async () => {
  const { outcome, manifestPath } = await land('nobody-knows', SUB_A);
  expect(outcome).toMatchObject({ kind: 'rejected', resolved: false, rejectionKind: 'unregisteredExport' });
  if (outcome.kind !== 'rejected') throw new Error('expected a rejection');
  expect(outcome.rejectionReason).toMatch(/^unregisteredExport: no registered export "nobody-knows"/);
  expect(outcome.rejectionReason).toMatch(/Cost Management did not confirm the export: \w+ \(HTTP 404\)$/);
  expect(get).toHaveBeenCalledTimes(1);
  expect(await landingsOf(SUB_A, 'nobody-knows')).toEqual([]);
  expect(world.logs.some((l) => l.message.includes('"event":"landing.owner.unconfirmed"'))).toBe(true);

  // Registered (export sync, the fleet), the same manifest written again is filed normally.
  await register(SUB_A, 'nobody-knows');
  const content = await world.container.getBlockBlobClient(manifestPath).downloadToBuffer();
  const again = await service.catalogue({ container: world.containerName, blobName: manifestPath, content });
  expect(again).toMatchObject({ kind: 'catalogued', state: 'complete', resolved: true });
  expect(get).toHaveBeenCalledTimes(1);
});

test('an unregistered export Cost Management confirms writes there is filed (one GET); one writing elsewhere is not', async () => {
  await createInCostManagement(SUB_A, 'portal-made');
  const { outcome } = await land('portal-made', SUB_A);
  expect(outcome).toMatchObject({ kind: 'catalogued', state: 'complete', resolved: true });
  expect(get).toHaveBeenCalledTimes(1);

  await createInCostManagement(SUB_A, 'portal-elsewhere', 'other-root');
  const elsewhere = await land('portal-elsewhere', SUB_A);
  expect(elsewhere.outcome).toMatchObject({ kind: 'rejected', rejectionKind: 'unregisteredExport' });
  expect(get).toHaveBeenCalledTimes(2);
  expect(await landingsOf(SUB_A, 'portal-elsewhere')).toEqual([]);
});

test("a deleted backfill export's late landing is filed through its lookup row, without an ARM call", async () => {
  const exportName = 'cea-bf-actualcost-202507';
  await createInCostManagement(SUB_A, exportName, 'backfills');
  await world.catalog.upsertBackfillRun({
    backfillId: `backfill-${randomUUID()}`,
    dataset: 'ActualCost',
    month: '2025-07',
    exportName,
    scope: SUB_A,
    instanceId: `bf-${randomUUID()}`,
    status: 'submitted',
    destination: {
      storageAccount: 'partnerexports',
      container: world.containerName,
      rootFolderPath: 'backfills',
    },
    updatedAt: '2025-08-01T00:00:00Z',
  });
  // The month ended (timed out, cancelled) and deleted its export before the manifest was catalogued.
  await costExports.delete(SUB_A, exportName);
  get.mockClear();
  const { outcome, runId } = await land(exportName, SUB_A, 'backfills');
  expect(outcome).toMatchObject({ kind: 'catalogued', state: 'complete', resolved: true });
  expect((await landingsOf(SUB_A, exportName)).map((l) => l.runId)).toContain(runId);
  expect(get).not.toHaveBeenCalled();

  // The same name from another scope into that folder is the backfill's scope's, not its own.
  const forged = await land(exportName, SUB_B, 'backfills');
  expect(forged.outcome).toMatchObject({ kind: 'rejected', rejectionKind: 'scopeMismatch' });
  expect(await landingsOf(SUB_B, exportName)).toEqual([]);
});
