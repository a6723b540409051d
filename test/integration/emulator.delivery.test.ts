// deliverRun against the jest Azurite: files and manifest land where real exports put them, the
// manifest's counts are the files' real rows and bytes, SAS tokens are honoured (and refused ones
// leave nothing behind), overwrite behaviour, and Parquet round trips.
import { gunzipSync } from 'node:zlib';

import {
  AccountSASPermissions,
  AccountSASResourceTypes,
  AccountSASServices,
  BlobServiceClient,
  type ContainerClient,
  generateAccountSASQueryParameters,
  SASProtocol,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';

import { AZURITE_ACCOUNT, AZURITE_KEY } from '../../dev/azurite';
import { parseCsv } from '../../dev/emulator/data/csv';
import {
  deliverRun,
  DeliveryAuthorizationError,
  DeliveryUnsupportedError,
  type EmulatorStorage,
  type RunDeliveryRequest,
  SAS_AUTHORIZATION_MESSAGE,
} from '../../dev/emulator/delivery';
import { parseManifest } from '../../src/domain/manifest';
import { testStorageConnection, uniqueName } from '../support/storage';

const SCOPE = '/subscriptions/11111111-2222-4333-8444-555555555555';
const STORAGE_ID = `${SCOPE}/resourceGroups/rg-finops/providers/Microsoft.Storage/storageAccounts/finopsexports`;

const storage: EmulatorStorage = {
  blobEndpoint: process.env.TEST_STORAGE_BLOB_ENDPOINT ?? '',
  connectionString: testStorageConnection(),
};
const service = BlobServiceClient.fromConnectionString(storage.connectionString);

let runCounter = 0;
function runId(): string {
  runCounter += 1;
  return `0b6e3f4a-1c2d-4e5f-8a9b-${String(runCounter).padStart(12, '0')}`;
}

function request(overrides: Partial<RunDeliveryRequest> = {}): RunDeliveryRequest {
  return {
    exportName: 'daily-focus',
    scope: SCOPE,
    exportResourceId: `${SCOPE}/providers/Microsoft.CostManagement/exports/daily-focus`,
    apiVersion: '2025-03-01',
    runId: runId(),
    executionType: 'Scheduled',
    submittedTime: new Date('2024-02-01T09:42:17.123Z'),
    from: new Date('2024-01-01T00:00:00Z'),
    to: new Date('2024-01-31T00:00:00Z'),
    dataset: { type: 'FocusCost', version: '1.2-preview', granularity: 'Daily' },
    format: 'Csv',
    compression: 'gzip',
    partitionData: true,
    overwrite: 'CreateNewReport',
    destination: { container: uniqueName('exports'), rootFolderPath: 'finops/acme', resourceId: STORAGE_ID },
    seed: 3,
    resourcesPerDay: 10,
    rowsPerPartition: 120,
    ...overrides,
  };
}

function accountSas(permissions: string, expiresOn: Date, resourceTypes = 'sco'): string {
  const credential = new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY);
  return generateAccountSASQueryParameters(
    {
      permissions: AccountSASPermissions.parse(permissions),
      resourceTypes: AccountSASResourceTypes.parse(resourceTypes).toString(),
      services: AccountSASServices.parse('b').toString(),
      expiresOn,
      protocol: SASProtocol.HttpsAndHttp,
    },
    credential,
  ).toString();
}

async function blobNames(container: ContainerClient, prefix = ''): Promise<string[]> {
  if (!(await container.exists())) return [];
  const names: string[] = [];
  for await (const blob of container.listBlobsFlat({ prefix })) names.push(blob.name);
  return names.sort();
}

async function download(container: ContainerClient, name: string): Promise<Buffer> {
  return container.getBlockBlobClient(name).downloadToBuffer();
}

const HOUR = 3_600_000;

describe('deliverRun into Azurite', () => {
  test('with the connection string: partitioned gzip CSV whose manifest matches the files', async () => {
    const req = request();
    const result = await deliverRun(storage, req);
    const container = service.getContainerClient(req.destination.container);

    const folder = `finops/acme/daily-focus/20240101-20240131/202402010942/${req.runId}`;
    expect(result.runFolder).toBe(folder);
    expect(result.manifestPath).toBe(`${folder}/manifest.json`);
    // 10 resources x 31 days + 1 reservation purchase = 311 rows in files of at most 120.
    expect(result.blobs.map((b) => b.blobName)).toEqual([
      `${folder}/part_0_0001.csv.gz`,
      `${folder}/part_1_0001.csv.gz`,
      `${folder}/part_2_0001.csv.gz`,
    ]);
    expect(await blobNames(container)).toEqual(
      [...result.blobs.map((b) => b.blobName), result.manifestPath].sort(),
    );

    const manifestText = (await download(container, result.manifestPath)).toString('utf8');
    expect(manifestText).toContain('\r\n  "manifestVersion": "2024-04-01",\r\n');
    const manifest = JSON.parse(manifestText);
    expect(manifest).toMatchObject({
      blobCount: 3,
      dataRowCount: 311,
      exportConfig: {
        exportName: 'daily-focus',
        resourceId: req.exportResourceId,
        dataVersion: '1.2-preview',
        apiVersion: '2025-03-01',
        type: 'FocusCost',
        timeFrame: 'MonthToDate',
        granularity: 'Daily',
      },
      deliveryConfig: {
        partitionData: true,
        dataOverwriteBehavior: 'CreateNewReport',
        fileFormat: 'Csv',
        compressionMode: 'Gzip',
        containerUri: STORAGE_ID,
        rootFolderPath: 'finops/acme',
      },
      runInfo: {
        executionType: 'Scheduled',
        runId: req.runId,
        startDate: '2024-01-01T00:00:00',
        endDate: '2024-01-31T00:00:00',
      },
    });
    expect(manifest.runInfo.submittedTime).toMatch(/^2024-02-01T09:42:17\.123\d{4}Z$/);

    let rows = 0;
    let bytes = 0;
    let billed = 0;
    for (const blob of manifest.blobs) {
      const raw = await download(container, blob.blobName);
      const [header, ...data] = parseCsv(gunzipSync(raw).toString('utf8'));
      expect(blob.byteCount).toBe(raw.length);
      expect(blob.dataRowCount).toBe(data.length);
      expect(header).toHaveLength(105);
      const billedAt = header!.indexOf('BilledCost');
      billed += data.reduce((sum, row) => sum + Number(row[billedAt]), 0);
      rows += data.length;
      bytes += raw.length;
    }
    expect([manifest.dataRowCount, manifest.byteCount]).toEqual([rows, bytes]);
    expect([result.dataRowCount, result.byteCount]).toEqual([rows, bytes]);
    expect(billed).toBeGreaterThan(0);

    // The app's own manifest parser accepts what the emulator writes.
    const landing = parseManifest(manifestText, { blobPath: result.manifestPath });
    expect(landing).toMatchObject({
      legacy: false,
      runId: req.runId,
      dataRowCount: 311,
      billingMonth: '2024-01',
    });
  });

  test('month-to-date runs land in the whole month folder; with OverwritePreviousReport the next day replaces the last', async () => {
    const container = uniqueName('mtd');
    const day = (d: number, runId: string) =>
      request({
        runId,
        timeFrame: 'MonthToDate',
        overwrite: 'OverwritePreviousReport',
        submittedTime: new Date(Date.UTC(2024, 2, d + 1, 6)),
        from: new Date('2024-03-01T00:00:00Z'),
        to: new Date(Date.UTC(2024, 2, d)),
        destination: { container, rootFolderPath: 'mtd', resourceId: STORAGE_ID },
      });
    const first = await deliverRun(storage, day(5, '11111111-1111-4111-8111-111111111111'));
    expect(first.manifestPath).toBe(
      'mtd/daily-focus/20240301-20240331/202403060600/11111111-1111-4111-8111-111111111111/manifest.json',
    );
    const client = service.getContainerClient(container);
    const manifest = JSON.parse((await download(client, first.manifestPath)).toString('utf8'));
    expect(manifest.runInfo).toMatchObject({
      startDate: '2024-03-01T00:00:00',
      endDate: '2024-03-05T00:00:00',
    });
    expect(parseManifest(manifest, { blobPath: first.manifestPath }).billingMonth).toBe('2024-03');

    const second = await deliverRun(storage, day(6, '22222222-2222-4222-8222-222222222222'));
    const left = await blobNames(client, 'mtd/daily-focus/20240301-20240331/');
    expect(left.length).toBeGreaterThan(0);
    expect(left.every((n) => n.startsWith(second.manifestPath.replace(/manifest\.json$/, '')))).toBe(true);
  });

  test('a second delivery of the same run writes byte-identical files', async () => {
    const base = request({ partitionData: false });
    const otherContainer = uniqueName('again');
    const first = await deliverRun(storage, base);
    const again = await deliverRun(storage, {
      ...base,
      destination: { ...base.destination, container: otherContainer },
    });
    const a = await download(
      service.getContainerClient(base.destination.container),
      first.blobs[0]!.blobName,
    );
    const b = await download(service.getContainerClient(otherContainer), again.blobs[0]!.blobName);
    expect(first.blobs).toHaveLength(1);
    expect(first.blobs[0]!.blobName).toMatch(/\/part_0_0001\.csv\.gz$/);
    expect(a.equals(b)).toBe(true);
  });

  test('with a valid account SAS: writes with the token, creating the container', async () => {
    const sas = accountSas('racwdl', new Date(Date.now() + HOUR));
    const req = request({
      executionType: 'OnDemand',
      format: 'Csv',
      compression: 'none',
      dataset: { type: 'ActualCost' },
      partitionData: false,
      destination: {
        container: uniqueName('sas'),
        rootFolderPath: 'partner',
        storageAccount: 'partnerexports',
        sasToken: `?${sas}`,
      },
    });
    const result = await deliverRun(storage, req);
    const container = service.getContainerClient(req.destination.container);
    const manifest = JSON.parse((await download(container, result.manifestPath)).toString('utf8'));
    expect(manifest.deliveryConfig).toMatchObject({
      containerUri: 'partnerexports',
      compressionMode: 'None',
    });
    expect(manifest.exportConfig).toMatchObject({
      type: 'ActualCost',
      dataVersion: '2021-10-01',
      timeFrame: 'Custom',
    });
    expect(manifest.runInfo).toMatchObject({
      startDate: '2024-01-01T00:00:00Z',
      endDate: '2024-01-31T00:00:00Z',
    });
    const [header, ...data] = parseCsv(
      (await download(container, result.blobs[0]!.blobName)).toString('utf8'),
    );
    expect(header!.slice(0, 4)).toEqual([
      'InvoiceSectionName',
      'AccountName',
      'AccountOwnerId',
      'SubscriptionId',
    ]);
    expect(data.length).toBe(manifest.dataRowCount);
    expect(JSON.stringify(manifest)).not.toContain('sig=');
  });

  test.each([
    ['an expired', () => accountSas('racwdl', new Date(Date.now() - HOUR))],
    ['a read-only (rl)', () => accountSas('rl', new Date(Date.now() + HOUR))],
    ['a no-delete (racwl)', () => accountSas('racwl', new Date(Date.now() + HOUR))],
    ['an object-only (srt=so)', () => accountSas('racwdl', new Date(Date.now() + HOUR), 'so')],
  ])('%s SAS fails with the documented message and leaves no blobs', async (_label, makeSas) => {
    const container = service.getContainerClient(uniqueName('refused'));
    await container.create();
    const sas = makeSas();
    const req = request({
      destination: { container: container.containerName, storageAccount: 'partnerexports', sasToken: sas },
    });
    const failure = await deliverRun(storage, req).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(DeliveryAuthorizationError);
    expect((failure as Error).message).toBe(SAS_AUTHORIZATION_MESSAGE);
    expect(JSON.stringify(failure)).not.toContain(sas.slice(sas.indexOf('sig=')));
    expect(await blobNames(container)).toEqual([]);
  });

  test('CreateNewReport keeps earlier runs; OverwritePreviousReport removes them from the period only', async () => {
    const container = uniqueName('overwrite');
    const destination = { container, rootFolderPath: 'root', resourceId: STORAGE_ID };
    const base = { destination, compression: 'none' as const, partitionData: false, resourcesPerDay: 2 };
    const jan1 = await deliverRun(
      storage,
      request({ ...base, submittedTime: new Date('2024-02-01T09:42:00Z') }),
    );
    const jan2 = await deliverRun(
      storage,
      request({ ...base, submittedTime: new Date('2024-02-02T09:42:00Z') }),
    );
    const feb = await deliverRun(
      storage,
      request({ ...base, from: new Date('2024-02-01T00:00:00Z'), to: new Date('2024-02-29T00:00:00Z') }),
    );
    const client = service.getContainerClient(container);
    const manifests = async () => (await blobNames(client)).filter((n) => n.endsWith('/manifest.json'));
    expect(await manifests()).toEqual([jan1.manifestPath, jan2.manifestPath, feb.manifestPath].sort());
    expect(feb.runFolder).toContain('/20240201-20240229/');

    const jan3 = await deliverRun(
      storage,
      request({
        ...base,
        overwrite: 'OverwritePreviousReport',
        submittedTime: new Date('2024-02-03T09:42:00Z'),
      }),
    );
    expect(await manifests()).toEqual([jan3.manifestPath, feb.manifestPath].sort());
    expect(await blobNames(client, 'root/daily-focus/20240101-20240131/')).toEqual(
      [jan3.blobs[0]!.blobName, jan3.manifestPath].sort(),
    );
  });

  test('Parquet with Snappy round-trips through hyparquet', async () => {
    const req = request({ format: 'Parquet', compression: 'snappy', rowsPerPartition: 200 });
    const result = await deliverRun(storage, req);
    const container = service.getContainerClient(req.destination.container);
    expect(result.blobs.map((b) => b.blobName.slice(result.runFolder.length + 1))).toEqual([
      'part_0_0001.snappy.parquet',
      'part_1_0001.snappy.parquet',
    ]);
    const manifest = JSON.parse((await download(container, result.manifestPath)).toString('utf8'));
    expect(manifest.deliveryConfig).toMatchObject({ fileFormat: 'Parquet', compressionMode: 'Snappy' });
    const { parquetReadObjects } = await import('hyparquet');
    let total = 0;
    for (const blob of manifest.blobs) {
      const raw = await download(container, blob.blobName);
      const file = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength) as ArrayBuffer;
      const rows = await parquetReadObjects({ file });
      expect(rows).toHaveLength(blob.dataRowCount);
      expect(blob.byteCount).toBe(raw.length);
      expect(Object.keys(rows[0]!)).toHaveLength(105);
      total += rows.length;
      const usage = rows.find((r) => r['ChargeCategory'] === 'Usage')!;
      expect(typeof usage['BilledCost']).toBe('number');
      expect(String(usage['ResourceId'])).toMatch(/^\/subscriptions\//);
    }
    expect(total).toBe(311);
  });

  test.each<[Partial<RunDeliveryRequest>, RegExp]>([
    [{ dataset: { type: 'ReservationDetails' } }, /ReservationDetails is not emulated/],
    [{ format: 'Csv', compression: 'snappy' }, /snappy is only available for Parquet/],
    [{ format: 'Parquet', compression: 'gzip' }, /gzip is only available for Csv/],
  ])('unsupported request %j is refused before anything is written', async (overrides, message) => {
    const req = request(overrides);
    const failure = await deliverRun(storage, req).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(DeliveryUnsupportedError);
    expect((failure as Error).message).toMatch(message);
    expect(await blobNames(service.getContainerClient(req.destination.container))).toEqual([]);
  });

  test.each([
    [{ runId: 'NOT-A-GUID' }, 'runId'],
    [{ from: new Date('2024-02-01'), to: new Date('2024-01-01') }, 'to'],
    [{ destination: { container: 'Bad_Name' } }, 'destination.container'],
    [{ destination: { container: 'okname' } }, 'destination'],
    [{ resourcesPerDay: -1 }, 'resourcesPerDay'],
    [{ scope: '/nope' }, 'scope'],
  ])('a malformed request %j names the field', async (overrides, field) => {
    await expect(
      deliverRun(storage, request(overrides as Partial<RunDeliveryRequest>)),
    ).rejects.toMatchObject({ field });
  });
});
