// The catalog against a real Azurite: keys, idempotent writes, transactions, paging, ETags, secrets.
import { TableServiceClient } from '@azure/data-tables';
import type { TokenCredential } from '@azure/identity';

import {
  type BackfillRunRecord,
  Catalog,
  CatalogConflictError,
  CatalogDataError,
  CatalogSecretError,
  exportKey,
  type ExportRecord,
  fromTableKey,
  type LandingFileRecord,
  type LandingRecord,
  landingRowKey,
  looksLikeSecret,
  MAX_KEY_LENGTH,
  planTransactions,
  tableKey,
  TableKeyError,
  type TokenRecord,
} from '../../src/azure/catalog';
import {
  blobAccountName,
  createBlobServiceClient,
  createTableClient,
  isLoopbackHttp,
  serviceEndpoint,
  StorageConnectionError,
  tableClientFactory,
} from '../../src/azure/storageClients';
import type { StorageConnection } from '../../src/config';
import { latestRunPerPeriod } from '../../src/domain/landingPlan';
import { redactSecrets } from '../../src/domain/redact';
import { scopeKey } from '../../src/domain/scope';
import { testStorageConnection, uniqueName } from '../support/storage';

const SCOPE = '/subscriptions/00000000-0000-0000-0000-0000000000a1';
const BILLING_SCOPE =
  '/providers/Microsoft.Billing/billingAccounts/aaaaaaaa-0000-4000-8000-000000000001:bbbbbbbb-0000-4000-8000-000000000002_2019-05-31';
const AT = '2025-08-01T09:43:00.000Z';

function connection(): StorageConnection {
  return { kind: 'connectionString', name: 'AzureWebJobsStorage', connectionString: testStorageConnection() };
}

function newCatalog(prefix = uniqueName('cat')): Catalog {
  return new Catalog({ tableClient: tableClientFactory(connection()), tablePrefix: prefix });
}

function exportRecord(overrides: Partial<ExportRecord> = {}): ExportRecord {
  return {
    scope: SCOPE,
    exportName: 'daily-actual',
    dataset: 'ActualCost',
    destination: {
      storageAccount: 'partnerexports',
      container: 'msexports',
      rootFolderPath: 'costs/contoso',
      sasDelivered: true,
      tokenRef: 'token-1',
    },
    schedule: { recurrence: 'Daily', status: 'Active', from: '2025-01-01T00:00:00Z' },
    outOfBand: { minIntervalMinutes: 180, hoursWindow: { fromHourUtc: 6, toHourUtc: 22 } },
    missing: false,
    updatedAt: AT,
    ...overrides,
  };
}

function landing(overrides: Partial<LandingRecord> = {}): LandingRecord {
  return {
    scope: SCOPE,
    exportName: 'daily-actual',
    period: '20250701-20250731',
    runId: '5d1c2f8e-0000-4000-8000-000000000001',
    manifestPath: 'costs/contoso/daily-actual/20250701-20250731/202508010943/5d1c2f8e/manifest.json',
    manifestVersion: '2024-04-01',
    datasetType: 'ActualCost',
    datasetVersion: '2021-10-01',
    format: 'Csv',
    compression: 'None',
    overwriteBehavior: 'CreateNewReport',
    executionType: 'Scheduled',
    submittedTime: '2025-08-01T09:42:11.1234567Z',
    blobCount: 2,
    rowCount: 2525,
    totalBytes: 5_000_000_000,
    state: 'complete',
    missingBlobs: [],
    superseded: false,
    current: true,
    catalogedAt: AT,
    ...overrides,
  };
}

function token(overrides: Partial<TokenRecord> = {}): TokenRecord {
  return {
    storageAccount: 'partnerexports',
    tokenId: 'token-1',
    expiresOn: '2026-01-31T00:00:00Z',
    startsOn: '2025-01-01T00:00:00Z',
    permissions: 'racwl',
    services: 'b',
    resourceTypes: 'co',
    secretName: 'sas-partnerexports-token-1',
    secretVersion: 'v1',
    fingerprint: 'sha256:4f2a9c0e1b7d6a5f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a09',
    status: 'active',
    ...overrides,
  };
}

function backfillRun(overrides: Partial<BackfillRunRecord> = {}): BackfillRunRecord {
  return {
    backfillId: 'bf-0001',
    dataset: 'AmortizedCost',
    month: '2025-03',
    exportName: 'autopilot-bf-0001-amortized-202503',
    scope: SCOPE,
    instanceId: 'bf-0001:AmortizedCost:2025-03',
    status: 'submitted',
    attempts: 0,
    updatedAt: AT,
    ...overrides,
  };
}

const FILES_PARTITION = exportKey(SCOPE, 'files-only');
const FILES_PERIOD = '20250701-20250731';

function files(runId: string, count: number, landingPartition = FILES_PARTITION): LandingFileRecord[] {
  return Array.from({ length: count }, (_, part) => ({
    landingPartition,
    period: FILES_PERIOD,
    runId,
    part,
    path: `costs/contoso/daily-actual/20250701-20250731/202508010943/${runId}/part_0_${String(part + 1).padStart(4, '0')}.csv`,
    bytes: 1_000 + part,
    rows: 10 + part,
  }));
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** The record as read back, without what the service sets on every write. */
function content<T extends { etag: string }>(stored: T): Omit<T, 'etag'> {
  const { etag: _etag, ...rest } = stored;
  return rest;
}

describe('tableKey', () => {
  const tricky = [
    'plain',
    'a/b',
    'a\\b',
    'a#b',
    'a?b',
    'a%b',
    "a'b",
    'a|b',
    'a~b',
    '~2F',
    'a~2Fb',
    '~',
    '/',
    'tab\there',
    'nul\u0000x',
    'del\u007f',
    'c1\u0085\u009f',
    'ünïcødé',
    'emoji 😀',
    ' spaces ',
  ];

  it.each(tricky)('round-trips %j and leaves no forbidden or fragile character', (text) => {
    const key = tableKey(text);
    expect(fromTableKey(key)).toBe(text);
    expect(key).not.toMatch(/[/\\#?%'|\u0000-\u001f\u007f-\u009f]/);
  });

  it('is injective: distinct texts never share a key', () => {
    const keys = new Set(tricky.map((t) => tableKey(t)));
    expect(keys.size).toBe(tricky.length);
    // Escaping, not stripping: these would collide if the forbidden characters were dropped.
    expect(tableKey('a/b')).not.toBe(tableKey('ab'));
    expect(tableKey('a~2Fb')).not.toBe(tableKey('a/b'));
  });

  it.each([
    ['', 'non-empty'],
    ['\ud800x', 'well-formed'],
    ['x'.repeat(MAX_KEY_LENGTH + 1), 'allows'],
    ['/'.repeat(200), 'allows'],
  ])('rejects %#: %s', (text, message) => {
    expect(() => tableKey(text, 'runId')).toThrow(TableKeyError);
    expect(() => tableKey(text, 'runId')).toThrow(new RegExp(`runId: .*${message}`));
  });

  it('composes export and landing keys injectively even when names contain the separator', () => {
    expect(exportKey(SCOPE, 'a|b')).not.toBe(exportKey(SCOPE, 'a~7Cb'));
    expect(exportKey(SCOPE, 'daily')).toBe('subscriptions|00000000-0000-0000-0000-0000000000a1|daily');
    expect(landingRowKey('2025|07', 'run')).not.toBe(landingRowKey('2025', '07|run'));
    expect(exportKey(BILLING_SCOPE, 'x')).toBe(`${scopeKey(BILLING_SCOPE)}|x`);
  });
});

describe('secret guard and redaction', () => {
  it.each([
    ['sv=2022-11-02&ss=b&srt=co&sp=rl&se=2026-01-01T00:00:00Z&sig=abcDEF%2Bghi%3D', true],
    ['https://a.blob.core.windows.net/c?sp=r&sig=abc', true],
    ['sig%3Dabc123', true],
    ['DefaultEndpointsProtocol=https;AccountName=a;AccountKey=abc==', true],
    ['Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig', true],
    [`${'A'.repeat(86)}==`, true],
    ['sig=[REDACTED]', false],
    ['https://a.blob.core.windows.net/c?sp=r&sig=REDACTED', false],
    ['AccountName=a;AccountKey=REDACTED', false],
    ['signature checked', false],
    ['sha256:4f2a9c0e1b7d6a5f3e2d1c0b9a8f7e6d', false],
    ['racwl', false],
  ])('looksLikeSecret(%j) is %s', (text, expected) => {
    expect(looksLikeSecret(text)).toBe(expected);
  });

  it('redacts secrets out of free text so the result passes the guard', () => {
    const text =
      'PUT https://a.blob.core.windows.net/c/x?sv=2022&sig=abc%2Bdef failed; conn AccountKey=xyz==;EndpointSuffix=core';
    const redacted = redactSecrets(text);
    expect(redacted).not.toContain('abc%2Bdef');
    expect(redacted).not.toContain('xyz==');
    expect(looksLikeSecret(redacted)).toBe(false);
    expect(redacted).toContain('EndpointSuffix=core');
  });
});

describe('transaction planning', () => {
  it('chunks per partition at 100 actions and lets the last write of a row win', () => {
    const rows = [
      ...Array.from({ length: 250 }, (_, i) => ({ partitionKey: 'p1', rowKey: String(i), v: 1 })),
      { partitionKey: 'p1', rowKey: '7', v: 2 },
      { partitionKey: 'p2', rowKey: 'a', v: 1 },
    ];
    const chunks = planTransactions(rows);
    expect(chunks.map((c) => c.length)).toEqual([100, 100, 50, 1]);
    expect(chunks.every((c) => new Set(c.map((r) => r.partitionKey)).size === 1)).toBe(true);
    expect(chunks.flat().filter((r) => r.rowKey === '7')).toEqual([
      { partitionKey: 'p1', rowKey: '7', v: 2 },
    ]);
  });

  it('splits a partition by body size before the 4 MiB batch limit', () => {
    const big = 'x'.repeat(30_000);
    const rows = Array.from({ length: 100 }, (_, i) => ({
      partitionKey: 'p',
      rowKey: String(i),
      big,
      big2: big,
    }));
    const chunks = planTransactions(rows);
    expect(chunks.length).toBeGreaterThan(1);
    for (const chunk of chunks) expect(JSON.stringify(chunk).length).toBeLessThan(4 * 1024 * 1024);
  });
});

describe('storage clients', () => {
  const key = 'c2VjcmV0LWtleS10aGF0LW11c3Qtbm90LWxlYWs=';

  it.each([
    ['http://127.0.0.1:10002/devstoreaccount1', true],
    ['http://localhost:10002/devstoreaccount1', true],
    ['http://[::1]:10002/devstoreaccount1', true],
    ['https://127.0.0.1:10002/devstoreaccount1', false],
    ['http://azurite:10002/devstoreaccount1', false],
    ['http://127.0.0.1.example.com/x', false],
  ])('isLoopbackHttp(%s) is %s', (url, expected) => {
    expect(isLoopbackHttp(url)).toBe(expected);
  });

  it.each([
    ['UseDevelopmentStorage=true', 'http://127.0.0.1:10002/devstoreaccount1'],
    [
      `DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=${key}`,
      'https://acct.table.core.windows.net',
    ],
    [
      `DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=${key};EndpointSuffix=core.chinacloudapi.cn`,
      'https://acct.table.core.chinacloudapi.cn',
    ],
    [`AccountName=a;AccountKey=${key};TableEndpoint=http://127.0.0.1:1/a`, 'http://127.0.0.1:1/a'],
  ])('resolves the table endpoint of %s', (text, endpoint) => {
    expect(serviceEndpoint(text, 'table')).toBe(endpoint);
  });

  it.each([
    ['UseDevelopmentStorage=true', undefined],
    [
      `AccountName=devstoreaccount1;AccountKey=${key};BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1`,
      undefined,
    ],
    [`DefaultEndpointsProtocol=https;AccountName=FinOpsExports;AccountKey=${key}`, 'finopsexports'],
    [`AccountName=a;AccountKey=${key};BlobEndpoint=https://exports.contoso.com`, undefined],
  ])('names the blob account of %s only when its host does (%s)', (text, account) => {
    const exportsConnection: StorageConnection = {
      kind: 'connectionString',
      name: 'ExportsStorage',
      connectionString: text,
    };
    expect(blobAccountName(exportsConnection)).toBe(account);
  });

  it('names the blob account of an identity connection by its blob service URI', () => {
    const identity: StorageConnection = {
      kind: 'identity',
      name: 'ExportsStorage',
      blobServiceUri: 'https://finopsexports.blob.core.windows.net',
      tableServiceUri: 'https://finopsexports.table.core.windows.net',
      queueServiceUri: 'https://finopsexports.queue.core.windows.net',
    };
    expect(blobAccountName(identity)).toBe('finopsexports');
  });

  it('reaches Azurite over http with an explicit connection string (allowInsecureConnection on loopback)', async () => {
    const name = uniqueName('sc');
    const client = createTableClient(connection(), name);
    await client.createTable();
    await client.upsertEntity({ partitionKey: 'p', rowKey: 'r', v: 1 });
    expect((await client.getEntity('p', 'r')).v).toBe(1);
    const blobs = createBlobServiceClient(connection());
    expect(blobs.url).toContain('127.0.0.1');
  });

  it('builds development-storage clients without network access', () => {
    const dev: StorageConnection = {
      kind: 'connectionString',
      name: 'AzureWebJobsStorage',
      connectionString: 'UseDevelopmentStorage=true',
    };
    expect(createTableClient(dev, 'exports').url).toBe('http://127.0.0.1:10002/devstoreaccount1');
  });

  it('refuses http to another host and never puts the key in the error', () => {
    const remote: StorageConnection = {
      kind: 'connectionString',
      name: 'ExportsStorage',
      connectionString: `DefaultEndpointsProtocol=http;AccountName=acct;AccountKey=${key};TableEndpoint=http://storage.example.com/acct`,
    };
    expect(() => createTableClient(remote, 'exports')).toThrow(StorageConnectionError);
    expect(() => createTableClient(remote, 'exports')).toThrow(/ExportsStorage/);
    try {
      createTableClient(remote, 'exports');
    } catch (error) {
      expect(String((error as Error).message)).not.toContain(key);
    }
  });

  it('reports a malformed connection string by setting name, without its value', () => {
    const broken: StorageConnection = {
      kind: 'connectionString',
      name: 'AzureWebJobsStorage',
      connectionString: `AccountKey=${key};Nonsense=1`,
    };
    let message = '';
    try {
      createTableClient(broken, 'exports');
    } catch (error) {
      expect(error).toBeInstanceOf(StorageConnectionError);
      message = (error as Error).message;
    }
    expect(message).toMatch(/^AzureWebJobsStorage: /);
    expect(message).not.toContain(key);
  });

  it('uses managed identity with the service URIs, and names a missing URI setting', () => {
    const credential: TokenCredential = { getToken: () => Promise.resolve(null) };
    const identity: StorageConnection = {
      kind: 'identity',
      name: 'AzureWebJobsStorage',
      blobServiceUri: 'https://acct.blob.core.windows.net',
      tableServiceUri: 'https://acct.table.core.windows.net',
      queueServiceUri: 'https://acct.queue.core.windows.net',
      clientId: '11111111-1111-1111-1111-111111111111',
    };
    expect(createTableClient(identity, 'exports', { credential }).url).toBe(
      'https://acct.table.core.windows.net',
    );
    expect(createBlobServiceClient(identity, { credential }).url).toMatch(
      /^https:\/\/acct\.blob\.core\.windows\.net/,
    );
    // The default credential is built without network access.
    expect(createTableClient(identity, 'exports').tableName).toBe('exports');
    expect(() => createTableClient({ ...identity, tableServiceUri: '' }, 'exports', { credential })).toThrow(
      /AzureWebJobsStorage__tableServiceUri/,
    );
  });
});

describe('Catalog on Azurite', () => {
  const prefix = uniqueName('cat');
  const catalog = newCatalog(prefix);

  beforeAll(async () => {
    await catalog.ensureTables();
  });

  it('creates every table the app uses (the ledger, alert state, fleet and throttle budget included) under its prefix, idempotently', async () => {
    await catalog.ensureTables();
    const service = TableServiceClient.fromConnectionString(testStorageConnection(), {
      allowInsecureConnection: true,
    });
    const names: string[] = [];
    for await (const table of service.listTables())
      if (table.name?.startsWith(prefix)) names.push(table.name);
    expect(names.sort()).toEqual(
      ['alertState', 'backfillRuns', 'exports', 'fleet', 'landings', 'ledger', 'throttlebudget', 'tokens']
        .map((t) => `${prefix}${t}`)
        .sort(),
    );
    expect(() => new Catalog({ tableClient: tableClientFactory(connection()), tablePrefix: '9bad' })).toThrow(
      /tablePrefix/,
    );
  });

  it('round-trips every table’s record', async () => {
    const exp = exportRecord();
    await catalog.upsertExport(exp);
    expect(content((await catalog.getExport(SCOPE, exp.exportName))!)).toEqual({
      ...exp,
      partitionKey: 'subscriptions|00000000-0000-0000-0000-0000000000a1',
      rowKey: 'daily-actual',
    });

    const tok = token({ lastAlertThresholdDays: 14, lastAlertAt: AT });
    await catalog.upsertToken(tok);
    expect(content((await catalog.getToken(tok.storageAccount, tok.tokenId))!)).toMatchObject(tok);

    const land = landing({ missingBlobs: ['a/part_0_0002.csv'], state: 'incomplete' });
    await catalog.upsertLanding(land);
    const key = exportKey(SCOPE, land.exportName);
    const read = (await catalog.getLanding(key, land.period, land.runId))!;
    expect(read).toMatchObject({ ...land, missingBlobCount: 1, partitionKey: key });
    expect(read.totalBytes).toBe(5_000_000_000); // past Int32: stored as Int64

    const run = backfillRun();
    await catalog.upsertBackfillRun(run);
    expect(content((await catalog.getBackfillRun(run.backfillId, run.dataset, run.month))!)).toMatchObject(
      run,
    );

    expect(await catalog.getExport(SCOPE, 'nope')).toBeUndefined();
  });

  it('lists exports of one scope page by page, and of all scopes', async () => {
    for (const name of ['p1', 'p2', 'p3']) {
      await catalog.upsertExport(
        exportRecord({ scope: BILLING_SCOPE, exportName: name, dataset: 'FocusCost' }),
      );
    }
    const first = await catalog.exportsPage({ scope: BILLING_SCOPE, maxPageSize: 2 });
    expect(first.items.map((e) => e.exportName)).toEqual(['p1', 'p2']);
    const second = await catalog.exportsPage({
      scope: BILLING_SCOPE,
      continuationToken: first.continuationToken!,
    });
    expect(second).toEqual({ items: [expect.objectContaining({ exportName: 'p3' })] });
    const all = await collect(catalog.listExports());
    expect(new Set(all.map((e) => e.scope))).toEqual(new Set([SCOPE, BILLING_SCOPE]));
  });

  it('upserting the same landing 5 times, in sequence and concurrently, leaves one identical row', async () => {
    const land = landing({ runId: 'idem-run', exportName: 'idempotent' });
    const key = exportKey(SCOPE, land.exportName);
    for (let i = 0; i < 5; i++) await catalog.upsertLanding(land);
    const first = await collect(catalog.landingsByExport(key));
    await Promise.all(Array.from({ length: 5 }, () => catalog.upsertLanding(land)));
    const second = await collect(catalog.landingsByExport(key));
    expect(first).toHaveLength(1);
    expect(second).toHaveLength(1);
    expect(content(second[0]!)).toEqual(content(first[0]!));
    expect(content(second[0]!)).toMatchObject(land);
  });

  const filesOf = (runId: string, partition = FILES_PARTITION) =>
    collect(catalog.landingFilesOf(partition, FILES_PERIOD, runId));

  it('upsertMany: 250 rows in one partition take 3 transactions and read back in part order', async () => {
    const result = await catalog.upsertLandingFiles(files('run-250', 250));
    expect(result).toEqual({ rows: 250, partitions: 1, transactions: 3 });
    const read = await filesOf('run-250');
    expect(read.map((f) => f.part)).toEqual(Array.from({ length: 250 }, (_, i) => i));
    expect(read[249]).toMatchObject({ bytes: 1249, rows: 259, runId: 'run-250' });
    // Re-delivered: the same rows again change nothing.
    await catalog.upsertLandingFiles(files('run-250', 250));
    expect(await filesOf('run-250')).toEqual(read);
    // Files are not landings: the export's landing queries do not see them.
    expect(await collect(catalog.landingsByExport(FILES_PARTITION))).toEqual([]);
  });

  it('upsertMany across 7 partitions', async () => {
    const runs = Array.from({ length: 7 }, (_, i) => `run-7p-${i}`);
    const partition = (r: string) => exportKey(SCOPE, `export-${r}`);
    const result = await catalog.upsertLandingFiles(runs.flatMap((r) => files(r, 120, partition(r))));
    expect(result).toEqual({ rows: 840, partitions: 7, transactions: 14 });
    for (const r of runs) expect(await filesOf(r, partition(r))).toHaveLength(120);
  });

  it('pages across more than 1,000 rows without loading them at once', async () => {
    await catalog.upsertLandingFiles(files('run-1205', 1205));
    let count = 0;
    let lastPart = -1;
    for await (const file of catalog.landingFilesOf(FILES_PARTITION, FILES_PERIOD, 'run-1205')) {
      expect(file.part).toBe(lastPart + 1);
      lastPart = file.part;
      count++;
    }
    expect(count).toBe(1205);

    const pagedScope = '/subscriptions/00000000-0000-0000-0000-000000001205';
    await catalog.upsertMany(
      'exports',
      Array.from({ length: 1205 }, (_, i) => exportRecord({ scope: pagedScope, exportName: `paged-${i}` })),
    );
    const pageSizes: number[] = [];
    let continuationToken: string | undefined;
    do {
      const page = await catalog.exportsPage({
        scope: pagedScope,
        maxPageSize: 500,
        ...(continuationToken ? { continuationToken } : {}),
      });
      pageSizes.push(page.items.length);
      continuationToken = page.continuationToken;
    } while (continuationToken);
    expect(pageSizes).toEqual([500, 500, 205]);
  });

  it('keeps forbidden and fragile characters in keys through upsert, point read and conditional update', async () => {
    const raw = createTableClient(connection(), catalog.tableName('exports'));
    for (const c of ['/', '\\', '#', '?', '\u0001', '\u007f', '\u0090']) {
      // Proof the escaping is needed: the service refuses the character itself.
      await expect(raw.upsertEntity({ partitionKey: 'p', rowKey: `a${c}b` })).rejects.toThrow();
    }
    const chars = [
      '/',
      '\\',
      '#',
      '?',
      '%',
      "'",
      '|',
      '~',
      '\t',
      '\n',
      '\u0000',
      '\u007f',
      '\u0085',
      '\u009f',
      '😀',
    ];
    for (const c of chars) {
      const name = `exp${c}name${c}`;
      await catalog.upsertExport(exportRecord({ exportName: name }));
      const read = await catalog.getExport(SCOPE, name);
      expect(read?.exportName).toBe(name);
      const updated = await catalog.modifyExport(SCOPE, name, (e) => ({
        ...e,
        missing: true,
        missingSince: AT,
      }));
      expect(updated?.missing).toBe(true);
      expect((await catalog.getExport(SCOPE, name))?.missing).toBe(true);

      const runId = `run${c}1`;
      await catalog.upsertLanding(landing({ exportName: name, runId, period: `2025${c}07` }));
      const landings = await collect(
        catalog.landingsByExport(exportKey(SCOPE, name), { period: `2025${c}07` }),
      );
      expect(landings.map((l) => l.runId)).toEqual([runId]);
      await catalog.upsertLandingFiles(
        files(runId, 2, exportKey(SCOPE, name)).map((f) => ({ ...f, period: `2025${c}07` })),
      );
      const stored = await collect(catalog.landingFilesOf(exportKey(SCOPE, name), `2025${c}07`, runId));
      expect(stored.map((f) => f.runId)).toEqual([runId, runId]);
    }
    const names = (await collect(catalog.listExports(SCOPE))).map((e) => e.exportName);
    for (const c of chars) expect(names).toContain(`exp${c}name${c}`);
  });

  it('a stale ETag loses with CatalogConflictError; modify retries concurrent writers', async () => {
    const land = landing({ runId: 'etag-run', exportName: 'etags' });
    await catalog.upsertLanding(land);
    const key = exportKey(SCOPE, land.exportName);
    const before = (await catalog.getLanding(key, land.period, land.runId))!;
    await catalog.modifyLanding(key, land.period, land.runId, (l) => ({
      ...l,
      superseded: true,
      current: false,
    }));
    const stale = catalog.replaceIfMatch('landings', { ...land, rowCount: 1 }, before.etag);
    await expect(stale).rejects.toBeInstanceOf(CatalogConflictError);
    await expect(stale).rejects.toMatchObject({ reason: 'changed', table: catalog.tableName('landings') });
    expect((await catalog.getLanding(key, land.period, land.runId))?.superseded).toBe(true);

    const run = backfillRun({ backfillId: 'bf-concurrent', attempts: 0 });
    await catalog.upsertBackfillRun(run);
    await Promise.all(
      Array.from({ length: 5 }, () =>
        catalog.modifyBackfillRun(
          run.backfillId,
          run.dataset,
          run.month,
          (r) => ({ ...r, attempts: (r.attempts ?? 0) + 1 }),
          { maxAttempts: 20 },
        ),
      ),
    );
    expect((await catalog.getBackfillRun(run.backfillId, run.dataset, run.month))?.attempts).toBe(5);
    expect(await catalog.modifyLanding(key, land.period, 'absent', (l) => l)).toBeUndefined();
  });

  it('createLanding inserts once, so a redelivered event cannot undo a superseded mark', async () => {
    const land = landing({ runId: 'create-once', exportName: 'create-once' });
    const key = exportKey(SCOPE, land.exportName);
    expect(await catalog.createLanding(land)).toBe(true);
    await catalog.modifyLanding(key, land.period, land.runId, (l) => ({
      ...l,
      superseded: true,
      current: false,
    }));
    expect(await catalog.createLanding(land)).toBe(false);
    expect((await catalog.getLanding(key, land.period, land.runId))?.superseded).toBe(true);
  });

  it('the latest run per period is the newest complete run of every period', async () => {
    const exportName = 'latest';
    const runs: Partial<LandingRecord>[] = [
      { period: '20250601-20250630', runId: 'b', submittedTime: '2025-07-01T09:42:00Z' },
      { period: '20250601-20250630', runId: 'a', submittedTime: '2025-07-05T09:42:00' },
      { period: '20250701-20250731', runId: 'c', submittedTime: '2025-07-20T09:42:00Z' },
      { period: '20250701-20250731', runId: 'd', submittedTime: '2025-07-31T09:42:00Z', state: 'rejected' },
      { period: '20250801-20250831', runId: 'e', submittedTime: '2025-08-02T09:42:00Z', state: 'rejected' },
    ];
    await catalog.upsertMany(
      'landings',
      runs.map((r) => landing({ exportName, ...r })),
    );
    const latest = await collect(latestRunPerPeriod(catalog.landingsByExport(exportKey(SCOPE, exportName))));
    expect(latest.map((l) => [l.period, l.runId])).toEqual([
      ['20250601-20250630', 'a'],
      ['20250701-20250731', 'c'],
    ]);
  });

  it('finds the backfill waiting for an export month with one point read', async () => {
    const run = backfillRun({ backfillId: 'bf/lookup', exportName: 'bf|export', month: '2024-11' });
    await catalog.upsertBackfillRun(run);
    await catalog.upsertBackfillRun({ ...run, status: 'landed', runId: 'r1' });
    expect(await catalog.findBackfillRun(SCOPE, 'BF|Export', '2024-11')).toEqual({
      backfillId: 'bf/lookup',
      instanceId: run.instanceId,
      dataset: run.dataset,
      month: '2024-11',
      exportName: 'bf|export',
      scope: SCOPE,
    });
    expect(await catalog.findBackfillRun(SCOPE, 'bf|export', '2024-12')).toBeUndefined();
    // Backfill export names repeat in every scope: the lookup is per scope.
    expect(await catalog.findBackfillRun(BILLING_SCOPE, 'bf|export', '2024-11')).toBeUndefined();
    expect((await collect(catalog.listBackfillRuns('bf/lookup'))).map((r) => r.status)).toEqual(['landed']);
    await expect(catalog.findBackfillRun(SCOPE, 'x', '2024-13')).rejects.toThrow(/month/);
  });

  it("keeps where a backfill's export delivered, and finds exports and backfill exports by name in every scope", async () => {
    const destination = { storageAccount: 'partnerexports', container: 'msexports', rootFolderPath: 'bf/x' };
    const run = backfillRun({ backfillId: 'bf/named', exportName: 'cea-bf-named-202411', month: '2024-11' });
    await catalog.upsertBackfillRun({ ...run, destination });
    await catalog.upsertBackfillRun({ ...run, backfillId: 'bf/named2', scope: BILLING_SCOPE });
    expect(await catalog.getBackfillRun('bf/named', run.dataset, '2024-11')).toMatchObject({ destination });
    expect((await catalog.findBackfillRun(SCOPE, run.exportName, '2024-11'))?.destination).toEqual(
      destination,
    );
    const named = await collect(catalog.backfillLookupsNamed('CEA-BF-named-202411', '2024-11'));
    expect(named.map((l) => [l.scope, l.destination])).toEqual(
      expect.arrayContaining([
        [SCOPE, destination],
        [BILLING_SCOPE, undefined],
      ]),
    );
    expect(named).toHaveLength(2);
    expect(await collect(catalog.backfillLookupsNamed(run.exportName, '2024-12'))).toEqual([]);

    await catalog.upsertExport(exportRecord({ exportName: 'Named-Everywhere' }));
    await catalog.upsertExport(exportRecord({ scope: BILLING_SCOPE, exportName: 'named-everywhere' }));
    const exports = await collect(catalog.exportsNamed('NAMED-everywhere'));
    expect(exports.map((e) => e.scope).sort()).toEqual([BILLING_SCOPE, SCOPE].sort());
  });

  it('records an export run by Merge, and reports an unregistered export', async () => {
    await catalog.upsertExport(exportRecord({ exportName: 'runs' }));
    const ok = await catalog.recordExportRun(SCOPE, 'runs', {
      runId: 'r-9',
      status: 'Failed',
      error: 'PUT https://acct.blob.core.windows.net/c?sp=w&sig=leakedSignature123 returned 403',
      at: AT,
    });
    expect(ok).toBe(true);
    const read = (await catalog.getExport(SCOPE, 'runs'))!;
    expect(read.lastRun).toMatchObject({ runId: 'r-9', status: 'Failed' });
    expect(read.lastRun?.error).not.toContain('leakedSignature123');
    expect(read.destination.tokenRef).toBe('token-1');
    // A later successful run leaves no stale id or error behind.
    expect(await catalog.recordExportRun(SCOPE, 'runs', { status: 'Completed', at: AT })).toBe(true);
    expect((await catalog.getExport(SCOPE, 'runs'))?.lastRun).toEqual({ status: 'Completed', at: AT });
    expect(await catalog.recordExportRun(SCOPE, 'unknown', { status: 'Completed', at: AT })).toBe(false);
    expect(await catalog.recordOutOfBandAttempt(SCOPE, 'runs', { status: 'throttled', at: AT })).toBe(true);
    // ARM export names compare case-insensitively, and so do the catalog's keys.
    expect((await catalog.getExport(SCOPE, 'RUNS'))?.lastOutOfBand).toEqual({ status: 'throttled', at: AT });
    expect((await catalog.getExport(SCOPE, 'RUNS'))?.exportName).toBe('runs');
  });

  it.each<[string, Partial<TokenRecord>]>([
    ['fingerprint', { fingerprint: 'sv=2022-11-02&sp=rl&sig=abcdef%2B123' }],
    ['secretName', { secretName: 'AccountKey=abcdef==' }],
    ['tokenId', { tokenId: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.x' }],
    ['secretVersion', { secretVersion: 'x?sig=abc' }],
  ])(
    'refuses a token row whose %s looks like a secret, naming it but not the value',
    async (property, bad) => {
      const record = token({ tokenId: `guard-${property}`, ...bad });
      const attempt = catalog.upsertToken(record);
      await expect(attempt).rejects.toBeInstanceOf(CatalogSecretError);
      await expect(attempt).rejects.toThrow(new RegExp(`tokens\\.(${property}|rowKey)`));
      const message = await attempt.catch((e: Error) => e.message);
      expect(message).not.toContain(String(Object.values(bad)[0]));
      expect(await collect(catalog.listTokens('partnerexports'))).not.toContainEqual(
        expect.objectContaining({ tokenId: record.tokenId }),
      );
    },
  );

  it('validates records, naming the field', async () => {
    await expect(catalog.upsertLanding(landing({ submittedTime: 'yesterday' }))).rejects.toThrow(
      /submittedTime/,
    );
    await expect(catalog.upsertLanding(landing({ rowCount: -1 }))).rejects.toThrow(/rowCount/);
    await expect(catalog.upsertToken(token({ storageAccount: 'Bad_Account' }))).rejects.toThrow(
      /storageAccount/,
    );
    await expect(catalog.upsertExport(exportRecord({ dataset: 'Bogus' as never }))).rejects.toThrow(
      /dataset/,
    );
    await expect(catalog.upsertExport(exportRecord({ scope: '/nope' }))).rejects.toThrow(/scope/);
    // A blob list too long for one property is cut to fit and counted in full.
    const many = Array.from({ length: 2000 }, (_, i) => `costs/contoso/daily/run/part_0_${i}.csv`);
    const land = landing({ runId: 'many-missing', state: 'incomplete', missingBlobs: many });
    await catalog.upsertLanding(land);
    const read = (await catalog.getLanding(exportKey(SCOPE, land.exportName), land.period, land.runId))!;
    expect(read.missingBlobCount).toBe(2000);
    expect(read.missingBlobs.length).toBeLessThan(2000);
    expect(many.slice(0, read.missingBlobs.length)).toEqual(read.missingBlobs);
  });

  it('names the table, row and property of a row it cannot read', async () => {
    const raw = createTableClient(connection(), catalog.tableName('tokens'));
    await raw.upsertEntity({
      partitionKey: 'handedited',
      rowKey: 't',
      storageAccount: 'handedited',
      tokenId: 't',
    });
    await expect(catalog.getToken('handedited', 't')).rejects.toBeInstanceOf(CatalogDataError);
    await expect(catalog.getToken('handedited', 't')).rejects.toThrow(
      /tokens row \(handedited, t\): property expiresOn/,
    );
  });
});
