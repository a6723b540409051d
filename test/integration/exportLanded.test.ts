// The exportLanded blob trigger as the host sees it: registration metadata captured from the real
// app.storageBlob call, the handler invoked with real InvocationContexts, runs written by the
// emulator's deliverRun into the jest Azurite and routed by the local host, and the backfill
// orchestration woken through the real durable client binding.
import { randomUUID } from 'node:crypto';
import { gunzipSync } from 'node:zlib';

import { TableClient } from '@azure/data-tables';
import { BlobServiceClient, ContainerClient } from '@azure/storage-blob';
import type { OrchestrationContext } from 'durable-functions';
import * as df from 'durable-functions';

import { parseCsv } from '../../dev/emulator/data/csv';
import { deliverRun, type EmulatorStorage, type RunDeliveryRequest } from '../../dev/emulator/delivery';
import type * as FunctionsCoreStub from '../../dev/host/functionsCoreStub';
import { findRegistration } from '../../dev/host/functionsCoreStub';
import { createInvocationContext, type HostLogLevel } from '../../dev/host/invocation';
import { type LocalHost, startLocalHost } from '../../dev/host/localHost';
import { Catalog, exportKey, landingKeys } from '../../src/azure/catalog';
import { tableClientFactory } from '../../src/azure/storageClients';
import { resetConfigCache } from '../../src/config';
import type { ExportLandedEvent } from '../../src/domain/contracts';
import { EXPORT_LANDED_FUNCTION } from '../../src/functions/exportLanded';
import { useAppServices } from '../../src/services/appServices';
import { collect, storageConnection } from '../support/landings';
import { testStorageConnection, uniqueName } from '../support/storage';

const SCOPE = '/subscriptions/6c1f5e0a-8d3b-4f7e-9a21-3b4c5d6e7f80';
const STORAGE_ID = `${SCOPE}/resourceGroups/rg-finops/providers/Microsoft.Storage/storageAccounts/finopsexports`;
const containerName = uniqueName('landed');
const SETTINGS: Record<string, string> = {
  EXPORTS_CONTAINER: containerName,
  SECRET_STORE: 'table',
};

// A tiny backfill stand-in: waits for the event the trigger raises and returns it.
df.app.orchestration('landingWaiter', function* (context: OrchestrationContext) {
  const landed: unknown = yield context.df.waitForExternalEvent('exportLanded');
  return landed;
});

const saved: Record<string, string | undefined> = {};
let catalog: Catalog;

beforeAll(async () => {
  for (const [name, value] of Object.entries({
    ...SETTINGS,
    AzureWebJobsStorage: testStorageConnection(),
    ExportsStorage: testStorageConnection(),
  })) {
    saved[name] = process.env[name];
    process.env[name] = value;
  }
  resetConfigCache();
  useAppServices(undefined);
  await BlobServiceClient.fromConnectionString(testStorageConnection())
    .getContainerClient(containerName)
    .create();
  catalog = new Catalog({ tableClient: tableClientFactory(storageConnection()) });
  await catalog.ensureTables();
});

afterAll(() => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  resetConfigCache();
  useAppServices(undefined);
});

/* eslint-disable @typescript-eslint/no-require-imports -- jest.isolateModules needs require */
/** The functions-core stub of the current isolated module registry. */
function isolatedStub(): typeof FunctionsCoreStub {
  return require('../../dev/host/functionsCoreStub') as typeof FunctionsCoreStub;
}

describe('registration', () => {
  test.each([
    [undefined, 'EventGrid'],
    ['LogsAndContainerScan', 'LogsAndContainerScan'],
    ['logsandcontainerscan', 'LogsAndContainerScan'],
    ['nonsense', 'EventGrid'],
  ])('LANDING_TRIGGER_SOURCE=%s registers source %s', (setting, source) => {
    const before = process.env.LANDING_TRIGGER_SOURCE;
    if (setting === undefined) delete process.env.LANDING_TRIGGER_SOURCE;
    else process.env.LANDING_TRIGGER_SOURCE = setting;
    try {
      jest.isolateModules(() => {
        const stub = isolatedStub();
        require('../../src/functions/exportLanded');
        const registration = stub.findRegistration('exportLanded');
        expect(registration.trigger).toEqual({
          type: 'blobTrigger',
          direction: 'in',
          name: expect.any(String),
          path: '%EXPORTS_CONTAINER%/{blobPath}',
          connection: 'ExportsStorage',
          source,
          // The blob arrives as bytes (no SDK-type deferred binding): manifests are small, even
          // with 1,000 partitions (~250 KB).
          properties: { supportsDeferredBinding: 'false' },
        });
        expect(Object.values(registration.bindings)).toContainEqual(
          expect.objectContaining({ type: 'durableClient', direction: 'in' }),
        );
      });
    } finally {
      if (before === undefined) delete process.env.LANDING_TRIGGER_SOURCE;
      else process.env.LANDING_TRIGGER_SOURCE = before;
    }
  });
});
/* eslint-enable @typescript-eslint/no-require-imports */

function contextFor(blobName: string, logs: string[] = []) {
  const registration = findRegistration(EXPORT_LANDED_FUNCTION);
  return createInvocationContext(registration, {
    triggerMetadata: {
      blobPath: blobName,
      blobTrigger: `${containerName}/${blobName}`,
      uri: `http://127.0.0.1:10000/devstoreaccount1/${containerName}/${blobName}`,
      properties: { contentLength: 10 },
      metadata: {},
    },
    logger: (level, message) => logs.push(`${level}: ${message}`),
  });
}

describe('handler with a real InvocationContext', () => {
  test('partition files and other blobs return at once without table or blob calls', async () => {
    const spies = [
      jest.spyOn(TableClient.prototype, 'createTable'),
      jest.spyOn(TableClient.prototype, 'createEntity'),
      jest.spyOn(TableClient.prototype, 'getEntity'),
      jest.spyOn(TableClient.prototype, 'upsertEntity'),
      jest.spyOn(TableClient.prototype, 'listEntities'),
      jest.spyOn(TableClient.prototype, 'submitTransaction'),
      jest.spyOn(ContainerClient.prototype, 'listBlobsFlat'),
    ];
    try {
      const { handler } = findRegistration(EXPORT_LANDED_FUNCTION);
      for (const name of [
        'r/e/20250701-20250731/202507010000/x/part_0_0001.csv',
        'manifest.json.bak',
        'a/Manifest.json',
      ]) {
        await expect(handler(Buffer.from('not json'), contextFor(name))).resolves.toBeUndefined();
      }
      for (const spy of spies) expect(spy).not.toHaveBeenCalled();
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
  });

  test('a broken manifest: a rejected row, an error log, and no throw (no endless retries)', async () => {
    const runId = randomUUID();
    const name = `costs/broken/20250701-20250731/202507150944/${runId}/manifest.json`;
    const logs: string[] = [];
    const { handler } = findRegistration(EXPORT_LANDED_FUNCTION);
    await expect(
      handler(Buffer.from('{"exportConfig": 7}'), contextFor(name, logs)),
    ).resolves.toBeUndefined();
    const rows = await collect(catalog.landingsByExport('unresolved|broken'));
    expect(rows.find((r) => r.runId === runId)).toMatchObject({
      state: 'rejected',
      rejectionReason: 'exportConfig: must be an object, not a number',
    });
    expect(logs.some((l) => l.startsWith('error:') && l.includes('rejected'))).toBe(true);
  });
});

describe('emulator runs through the local host', () => {
  let host: LocalHost;
  const logs: { level: HostLogLevel; message: string }[] = [];
  const storage: EmulatorStorage = {
    blobEndpoint: process.env.TEST_STORAGE_BLOB_ENDPOINT ?? '',
    connectionString: testStorageConnection(),
  };

  beforeAll(async () => {
    host = await startLocalHost({
      env: process.env,
      startTimers: false,
      processExistingBlobs: false,
      blobPollIntervalMs: 3_600_000, // polled by hand
      logger: (level, message) => logs.push({ level, message }),
    });
  });
  afterAll(async () => {
    await host?.stop();
  });

  function request(overrides: Partial<RunDeliveryRequest>): RunDeliveryRequest {
    const exportName = overrides.exportName ?? 'daily-actual';
    return {
      exportName,
      scope: SCOPE,
      exportResourceId: `${SCOPE}/providers/Microsoft.CostManagement/exports/${exportName}`,
      apiVersion: '2025-03-01',
      runId: randomUUID(),
      executionType: 'Scheduled',
      submittedTime: new Date('2025-08-01T09:42:17.123Z'),
      from: new Date('2025-07-01T00:00:00Z'),
      to: new Date('2025-07-31T00:00:00Z'),
      dataset: { type: 'ActualCost', version: '2021-10-01', granularity: 'Daily' },
      format: 'Csv',
      compression: 'gzip',
      partitionData: true,
      overwrite: 'OverwritePreviousReport',
      destination: { container: containerName, rootFolderPath: 'costs', resourceId: STORAGE_ID },
      seed: 7,
      resourcesPerDay: 8,
      rowsPerPartition: 100,
      ...overrides,
    };
  }

  test('a delivered run is catalogued with the byte and row counts of the real blobs', async () => {
    // Registered, as export sync does: only a registered export's scope may file its landings.
    await catalog.upsertExport({
      scope: SCOPE,
      exportName: 'emulated-actual',
      dataset: 'ActualCost',
      destination: {
        storageAccount: 'finopsexports',
        resourceId: STORAGE_ID,
        container: containerName,
        rootFolderPath: 'costs',
        sasDelivered: false,
      },
      missing: false,
      updatedAt: '2025-08-01T00:00:00Z',
    });
    const req = request({ exportName: 'emulated-actual' });
    const result = await deliverRun(storage, req);
    expect(result.blobs.length).toBeGreaterThan(1);
    await host.pollBlobs();

    const key = landingKeys(exportKey(SCOPE, 'emulated-actual'), '20250701-20250731', req.runId);
    const landing = await catalog.getLanding(key.partitionKey, '20250701-20250731', req.runId);
    expect(landing).toMatchObject({
      state: 'complete',
      current: true,
      manifestPath: result.manifestPath,
      blobCount: result.blobs.length,
      format: 'Csv',
      compression: 'gzip',
      executionType: 'Scheduled',
    });

    const container =
      BlobServiceClient.fromConnectionString(testStorageConnection()).getContainerClient(containerName);
    const files = await collect(catalog.landingFilesOf(key.partitionKey, '20250701-20250731', req.runId));
    expect(files.map((f) => f.path)).toEqual(result.blobs.map((b) => b.blobName));
    let rows = 0;
    let bytes = 0;
    for (const file of files) {
      const raw = await container.getBlockBlobClient(file.path).downloadToBuffer();
      const [, ...data] = parseCsv(gunzipSync(raw).toString('utf8')).filter((r) => r.some((c) => c !== ''));
      expect({ path: file.path, bytes: file.bytes, rows: file.rows }).toEqual({
        path: file.path,
        bytes: raw.length,
        rows: data.length,
      });
      rows += data.length;
      bytes += raw.length;
    }
    expect(landing).toMatchObject({ rowCount: rows, totalBytes: bytes });
    expect(logs.filter((l) => l.level === 'error')).toEqual([]);
  });

  test('the waiting backfill orchestration completes when its month lands', async () => {
    const exportName = 'cea-bf-actualcost-202507';
    const instanceId = `bf-${randomUUID()}`;
    host.engine.startNew('landingWaiter', { instanceId });
    await catalog.upsertBackfillRun({
      backfillId: `backfill-${instanceId}`,
      dataset: 'ActualCost',
      month: '2025-07',
      exportName,
      scope: SCOPE,
      instanceId,
      status: 'submitted',
      updatedAt: '2025-08-01T00:00:00Z',
    });
    const req = request({ exportName, executionType: 'OnDemand', resourcesPerDay: 2 });
    const result = await deliverRun(storage, req);
    await host.pollBlobs();

    const status = await host.engine.waitForCompletion(instanceId);
    expect(status.runtimeStatus).toBe('Completed');
    const event = status.output as ExportLandedEvent;
    expect(event).toEqual({
      exportName,
      scope: SCOPE,
      billingMonth: '2025-07',
      runId: req.runId,
      state: 'complete',
      rowCount: result.dataRowCount,
      landingKey: landingKeys(exportKey(SCOPE, exportName), '20250701-20250731', req.runId),
    });
  });

  test('a landing with no waiting instance (finished) is logged, not fatal', async () => {
    const exportName = 'cea-bf-amortizedcost-202507';
    const instanceId = `bf-${randomUUID()}`;
    host.engine.startNew('landingWaiter', { instanceId });
    host.engine.terminate(instanceId, 'cancelled');
    await catalog.upsertBackfillRun({
      backfillId: `backfill-${instanceId}`,
      dataset: 'ActualCost',
      month: '2025-07',
      exportName,
      scope: SCOPE,
      instanceId,
      status: 'cancelled',
      updatedAt: '2025-08-01T00:00:00Z',
    });
    const req = request({ exportName, resourcesPerDay: 1 });
    await deliverRun(storage, req);
    await host.pollBlobs();
    const landing = await catalog.getLanding(exportKey(SCOPE, exportName), '20250701-20250731', req.runId);
    expect(landing).toMatchObject({ state: 'complete' });
    expect(logs.filter((l) => l.level === 'error')).toEqual([]);
  });
});
