/* eslint-disable @typescript-eslint/no-explicit-any -- manifests here are untyped JSON the tests mutate freely */
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { mulberry32 } from '../../dev/emulator/data/prng';
import {
  isManifestBlobName,
  type LandingRecord,
  ManifestError,
  parseManifest,
  type ParseManifestOptions,
  runFolderOf,
} from '../../src/domain/manifest';

const FIXTURES = path.resolve(__dirname, '../fixtures/manifests');
const raw = (name: string): Buffer => readFileSync(path.join(FIXTURES, name));
const json = (name: string): any => JSON.parse(raw(name).toString('utf8'));
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

const FOCUS = 'focuscost-parquet-2024-04-01.json.crlf';
const ACTUAL = 'actualcost-csv-gzip-multipart.json';
const MINIMAL = 'minimal-hand-made.json';
const LEGACY = 'legacy-2021-01-01.json';
const NO_COUNTS = 'no-counts-2023-07-01-preview.json';
const ZERO = 'zero-rows.json';
const LEGACY_PATH =
  'exports/partitioned-actual/20230101-20230131/202302041442/688b7a39-b8e3-442e-967a-5b8f13441b1c/_manifest.json';

function errorOf(fn: () => unknown): ManifestError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ManifestError) return e;
    throw e;
  }
  throw new Error('expected a ManifestError');
}

describe('fixtures', () => {
  it('keeps the FocusCost sample byte-faithful: CRLF line endings, 2-space indent, no BOM', () => {
    const bytes = raw(FOCUS);
    expect(bytes[0]).toBe(0x7b);
    expect(bytes.toString('utf8')).toContain('{\r\n  "manifestVersion"');
    expect(bytes.toString('utf8').replace(/\r\n/g, '').includes('\n')).toBe(false);
  });

  it('parses the full 2024-04-01 FocusCost Parquet manifest', () => {
    expect(parseManifest(raw(FOCUS), { blobPath: runFolder(FOCUS) + '/manifest.json' })).toEqual({
      manifestVersion: '2024-04-01',
      legacy: false,
      exportName: 'contoso-focus-daily',
      scope: '/subscriptions/52da6baa-c097-47f7-87d6-66f25eceeb81',
      scopeKind: 'subscription',
      exportResourceId:
        '/subscriptions/52da6baa-c097-47f7-87d6-66f25eceeb81/providers/Microsoft.CostManagement/exports/contoso-focus-daily',
      datasetType: 'FocusCost',
      dataset: 'FocusCost',
      datasetVersion: '1.2-preview',
      apiVersion: '2025-03-01',
      timeFrame: 'MonthToDate',
      granularity: 'Daily',
      runId: '89838ebe-7f6f-4e97-b246-12e1c0b7d71c',
      periodStart: new Date('2025-07-01T00:00:00Z'),
      periodEnd: new Date('2025-07-18T00:00:00Z'),
      billingMonth: '2025-07',
      executionType: 'Scheduled',
      submittedTime: new Date('2025-07-18T09:42:07.512Z'),
      overwriteBehavior: 'CreateNewReport',
      partitionData: true,
      format: 'Parquet',
      compression: 'snappy',
      containerUri:
        '/subscriptions/52da6baa-c097-47f7-87d6-66f25eceeb81/resourceGroups/rg-finops/providers/Microsoft.Storage/storageAccounts/stcontosoexports',
      rootFolderPath: 'focus',
      blobs: [
        {
          blobName:
            'focus/contoso-focus-daily/20250701-20250731/202507180944/89838ebe-7f6f-4e97-b246-12e1c0b7d71c/part_0_0001.snappy.parquet',
          byteCount: 163447,
          dataRowCount: 1284,
          partNumber: 1,
        },
      ],
      blobCount: 1,
      dataRowCount: 1284,
      byteCount: 163447,
    });
  });

  it('parses the ActualCost CSV gzip multi-part manifest at billing-account scope', () => {
    const r = parseManifest(raw(ACTUAL));
    expect(r).toMatchObject({
      legacy: false,
      scope: '/providers/Microsoft.Billing/billingAccounts/8611537',
      scopeKind: 'billingAccount',
      dataset: 'ActualCost',
      datasetVersion: '2021-10-01',
      format: 'Csv',
      compression: 'gzip',
      overwriteBehavior: 'OverwritePreviousReport',
      billingMonth: '2025-07',
      periodStart: new Date('2025-07-01T00:00:00Z'),
      periodEnd: new Date('2025-07-31T00:00:00Z'),
      blobCount: 4,
      byteCount: 31457280,
      dataRowCount: 402117,
    });
    expect(r.blobs.map((b) => b.partNumber)).toEqual([1, 2, 3, 4]);
    expect(r.blobs.map((b) => b.dataRowCount)).toEqual([134012, 133998, 130671, 3436]);
  });

  it('parses the FinOps toolkit minimal hand-made manifest', () => {
    expect(parseManifest(raw(MINIMAL))).toEqual({
      legacy: false,
      exportName: 'manual-upload',
      scope: '/providers/Microsoft.Billing/billingAccounts/8611537',
      scopeKind: 'billingAccount',
      exportResourceId:
        '/providers/Microsoft.Billing/billingAccounts/8611537/providers/Microsoft.CostManagement/exports/manual-upload',
      datasetType: 'FocusCost',
      dataset: 'FocusCost',
      datasetVersion: '1.0',
      runId: '24743911-8983-42fa-a99a-e2c203884054',
      periodStart: new Date('2024-11-01T00:00:00Z'),
      billingMonth: '2024-11',
      blobs: [{ blobName: 'manual/2024-11/focus-costs.csv' }],
      blobCount: 1,
      dataRowCount: 1,
    });
  });

  it('parses a legacy 2021-01-01 _manifest.json from its folder path', () => {
    const expected = {
      manifestVersion: '2021-01-01',
      legacy: true,
      exportName: 'partitioned-actual',
      runId: '688b7a39-b8e3-442e-967a-5b8f13441b1c',
      periodStart: new Date('2023-01-01T00:00:00Z'),
      periodEnd: new Date('2023-01-31T00:00:00Z'),
      billingMonth: '2023-01',
      format: 'Csv',
      rootFolderPath: 'exports',
      blobs: [
        {
          blobName:
            'exports/partitioned-actual/20230101-20230131/202302041442/688b7a39-b8e3-442e-967a-5b8f13441b1c/000001.csv',
          byteCount: 2097152,
          dataRowCount: 14051,
          partNumber: 1,
        },
        {
          blobName:
            'exports/partitioned-actual/20230101-20230131/202302041442/688b7a39-b8e3-442e-967a-5b8f13441b1c/000002.csv',
          byteCount: 1048748,
          dataRowCount: 7026,
          partNumber: 2,
        },
      ],
      blobCount: 2,
      byteCount: 3145900,
      dataRowCount: 21077,
    };
    expect(parseManifest(raw(LEGACY), { blobPath: LEGACY_PATH })).toEqual(expected);
    // Without the blob path the first data blob's folder says the same.
    expect(parseManifest(raw(LEGACY))).toEqual(expected);
  });

  it('parses a 2023-07-01-preview manifest with no counts, summing bytes and leaving rows unknown', () => {
    const r = parseManifest(raw(NO_COUNTS));
    expect(r.manifestVersion).toBeUndefined();
    expect(r.blobCount).toBeUndefined();
    expect(r.dataRowCount).toBeUndefined();
    expect(r.byteCount).toBe(52428800 + 1024);
    expect(r.compression).toBeUndefined();
    expect(r).toMatchObject({
      scopeKind: 'billingProfile',
      scope:
        '/providers/Microsoft.Billing/billingAccounts/0b3c2a7e-6f1d-4c8e-9a55-1f2e3d4c5b6a:7d8e9f00-1a2b-4c3d-8e4f-5a6b7c8d9e0f_2019-05-31/billingProfiles/AB12-CD34-EF5-GH6',
      dataset: 'AmortizedCost',
      submittedTime: new Date('2024-02-03T18:33:03.103Z'),
      periodStart: new Date('2024-01-01T00:00:00Z'),
      periodEnd: new Date('2024-01-31T00:00:00Z'),
    });
  });

  it('parses a run that exported zero rows', () => {
    const r = parseManifest(raw(ZERO));
    expect(r).toMatchObject({ blobs: [], blobCount: 0, dataRowCount: 0, byteCount: 0, compression: 'none' });
    expect(r.exportName).toBe('cea-bf-reservationdetails-202501');
    expect(r.dataset).toBe('ReservationDetails');
  });

  it('keeps dataRowCount null (seen in 2024-04-01 manifests with rows) as "rows unknown", apart from 0', () => {
    const doc = json(FOCUS);
    doc.dataRowCount = null;
    for (const blob of doc.blobs as Record<string, unknown>[]) blob.dataRowCount = null;
    expect(parseManifest(doc).dataRowCount).toBeUndefined();
    const header = json(FOCUS);
    header.blobs = [{ ...header.blobs[0], dataRowCount: 0, byteCount: 812 }];
    header.blobCount = 1;
    header.dataRowCount = 0;
    header.byteCount = 812;
    expect(parseManifest(header)).toMatchObject({ blobCount: 1, dataRowCount: 0 });
  });

  function runFolder(name: string): string {
    const doc = json(name) as { blobs: { blobName: string }[] };
    return runFolderOf(doc.blobs[0]!.blobName);
  }
});

describe('encodings and representations', () => {
  const expected = parseManifest(raw(FOCUS));
  const text = raw(FOCUS).toString('utf8');
  it.each<[string, string | Buffer | object]>([
    ['CRLF bytes', raw(FOCUS)],
    ['CRLF text', text],
    ['LF text', text.replace(/\r\n/g, '\n')],
    ['minified text', JSON.stringify(JSON.parse(text))],
    ['text with a BOM', `\ufeff${text}`],
    ['bytes with a BOM', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), raw(FOCUS)])],
    ['a Uint8Array', new Uint8Array(raw(FOCUS))],
    ['a parsed object', JSON.parse(text)],
  ])('gives the same record from %s', (_name, input) => {
    expect(parseManifest(input)).toEqual(expected);
  });

  it('refuses bytes that are not UTF-8', () => {
    expect(errorOf(() => parseManifest(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]))).field).toBe('$');
  });
});

/** Applies `edit` to a clone of a fixture and parses it. */
function parseEdited(name: string, edit: (doc: any) => void, options?: ParseManifestOptions): LandingRecord {
  const doc = json(name);
  edit(doc);
  return parseManifest(JSON.stringify(doc), options);
}

describe('accepted variations', () => {
  it.each([
    ['2025-07-01T00:00:00Z', '2025-07-01T00:00:00.000Z'],
    ['2025-07-01T00:00:00', '2025-07-01T00:00:00.000Z'],
    ['2025-07-01T00:00:00+00:00', '2025-07-01T00:00:00.000Z'],
    ['2025-07-01T00:00:00.0000000Z', '2025-07-01T00:00:00.000Z'],
    ['2025-07-01T00:00:00-0000', '2025-07-01T00:00:00.000Z'],
    ['2025-07-01', '2025-07-01T00:00:00.000Z'],
    ['2025-07-01T00:00', '2025-07-01T00:00:00.000Z'],
    ['2025-07-01t00:00:00z', '2025-07-01T00:00:00.000Z'],
    ['2025-07-01T12:34:56.1234567', '2025-07-01T12:34:56.123Z'],
  ])('startDate %s means %s (no zone = UTC)', (startDate, iso) => {
    const r = parseEdited(FOCUS, (d) => (d.runInfo.startDate = startDate));
    expect(r.periodStart.toISOString()).toBe(iso);
    expect(r.billingMonth).toBe('2025-07');
  });

  it('takes the billing month from the date as written, whatever its offset', () => {
    const r = parseEdited(FOCUS, (d) => {
      d.runInfo.startDate = '2025-08-01T00:00:00+02:00';
      d.runInfo.endDate = '2025-08-02T00:00:00+02:00';
    });
    expect(r.periodStart.toISOString()).toBe('2025-07-31T22:00:00.000Z');
    expect(r.billingMonth).toBe('2025-08');
  });

  it.each([
    ['Parquet', 'Parquet'],
    ['parquet', 'Parquet'],
    ['PARQUET', 'Parquet'],
    ['Csv', 'Csv'],
    ['CSV', 'Csv'],
    ['csv', 'Csv'],
  ])('fileFormat %s is %s', (given, normalised) => {
    expect(parseEdited(FOCUS, (d) => (d.deliveryConfig.fileFormat = given)).format).toBe(normalised);
  });

  it.each([
    ['Snappy', 'snappy'],
    ['snappy', 'snappy'],
    ['Gzip', 'gzip'],
    ['GZIP', 'gzip'],
    ['None', 'none'],
    ['none', 'none'],
  ])('compressionMode %s is %s', (given, normalised) => {
    expect(parseEdited(FOCUS, (d) => (d.deliveryConfig.compressionMode = given)).compression).toBe(
      normalised,
    );
  });

  it.each([
    ['deliveryConfig', (d: any) => delete d.deliveryConfig],
    ['deliveryConfig null', (d: any) => (d.deliveryConfig = null)],
    [
      'granularity null (as echoed for reservation datasets)',
      (d: any) => (d.exportConfig.granularity = null),
    ],
    ['counts', (d: any) => delete d.blobCount && delete d.dataRowCount && delete d.byteCount],
    ['endDate', (d: any) => delete d.runInfo.endDate],
    ['submittedTime', (d: any) => delete d.runInfo.submittedTime],
    ['manifestVersion', (d: any) => delete d.manifestVersion],
    ['unknown extra fields', (d: any) => (d.newThing = { nested: [1, 2] })],
  ])('accepts a manifest without %s', (_name, edit) => {
    const r = parseEdited(FOCUS, edit);
    expect(r.runId).toBe('89838ebe-7f6f-4e97-b246-12e1c0b7d71c');
  });

  it('keeps an unparseable scope raw, and a scope with trailing or doubled slashes canonical', () => {
    expect(
      parseEdited(
        MINIMAL,
        (d) => (d.exportConfig.resourceId = '<scope>/providers/Microsoft.CostManagement/exports/x'),
      ).scope,
    ).toBe('<scope>');
    const r = parseEdited(
      MINIMAL,
      (d) =>
        (d.exportConfig.resourceId =
          'subscriptions/52DA6BAA-C097-47F7-87D6-66F25ECEEB81/PROVIDERS/microsoft.costmanagement/EXPORTS/x'),
    );
    expect(r.scope).toBe('/subscriptions/52da6baa-c097-47f7-87d6-66f25eceeb81');
    expect(r.scopeKind).toBe('subscription');
  });

  it('keeps an unknown dataset type as written, with no known dataset', () => {
    const r = parseEdited(FOCUS, (d) => (d.exportConfig.type = 'CarbonEmissions'));
    expect(r.datasetType).toBe('CarbonEmissions');
    expect(r.dataset).toBeUndefined();
  });

  it('lower-cases GUID run ids and keeps other short ids', () => {
    expect(
      parseEdited(MINIMAL, (d) => (d.runInfo.runId = '24743911-8983-42FA-A99A-E2C203884054')).runId,
    ).toBe('24743911-8983-42fa-a99a-e2c203884054');
    expect(parseEdited(MINIMAL, (d) => (d.runInfo.runId = 'Manual_2024-11.v2')).runId).toBe(
      'Manual_2024-11.v2',
    );
  });

  it('sets part numbers only when every blob has a distinct one', () => {
    const dir = 'r/e/20250701-20250731/202508020944/ca03ef2a-e064-4d5f-8009-8b51b6024852/';
    const names = (files: string[]): (number | undefined)[] =>
      parseEdited(ACTUAL, (d) => {
        d.blobs = files.map((f) => ({ blobName: dir + f }));
        d.blobCount = files.length;
        delete d.byteCount;
        delete d.dataRowCount;
      }).blobs.map((b) => b.partNumber);
    expect(names(['part_0_0001.csv.gz', 'part_0_0002.csv.gz'])).toEqual([1, 2]);
    expect(names(['part_0_0001.csv.gz', 'part_1_0001.csv.gz'])).toEqual([undefined, undefined]);
    expect(names(['part_0_0001.csv.gz', 'data.csv.gz'])).toEqual([undefined, undefined]);
    expect(names(['000010.csv', '000011.csv'])).toEqual([10, 11]);
  });
});

describe('refused manifests name the field', () => {
  type Edit = (doc: any) => void;
  const cases: [string, string, Edit, string][] = [
    ['runId missing', FOCUS, (d) => delete d.runInfo.runId, 'runInfo.runId'],
    ['runId a number', FOCUS, (d) => (d.runInfo.runId = 42), 'runInfo.runId'],
    ['runId with a slash', FOCUS, (d) => (d.runInfo.runId = 'a/b'), 'runInfo.runId'],
    ['runId empty', FOCUS, (d) => (d.runInfo.runId = '  '), 'runInfo.runId'],
    ['runInfo without exportConfig', FOCUS, (d) => delete d.exportConfig, 'exportConfig'],
    ['exportConfig without runInfo', FOCUS, (d) => delete d.runInfo, 'runInfo'],
    ['exportConfig an array', FOCUS, (d) => (d.exportConfig = []), 'exportConfig'],
    ['exportConfig a string', FOCUS, (d) => (d.exportConfig = 'x'), 'exportConfig'],
    ['runInfo a number', FOCUS, (d) => (d.runInfo = 7), 'runInfo'],
    ['deliveryConfig a number', FOCUS, (d) => (d.deliveryConfig = 5), 'deliveryConfig'],
    ['exportName empty', FOCUS, (d) => (d.exportConfig.exportName = ''), 'exportConfig.exportName'],
    ['exportName an object', FOCUS, (d) => (d.exportConfig.exportName = {}), 'exportConfig.exportName'],
    ['type missing', FOCUS, (d) => delete d.exportConfig.type, 'exportConfig.type'],
    ['resourceId missing', MINIMAL, (d) => delete d.exportConfig.resourceId, 'exportConfig.resourceId'],
    [
      'resourceId without a scope',
      FOCUS,
      (d) => (d.exportConfig.resourceId = '/providers/Microsoft.CostManagement/exports/x'),
      'exportConfig.resourceId',
    ],
    ['dataVersion a number', FOCUS, (d) => (d.exportConfig.dataVersion = 1.2), 'exportConfig.dataVersion'],
    ['startDate missing', MINIMAL, (d) => delete d.runInfo.startDate, 'runInfo.startDate'],
    ['startDate prose', FOCUS, (d) => (d.runInfo.startDate = 'yesterday'), 'runInfo.startDate'],
    ['startDate Feb 30', FOCUS, (d) => (d.runInfo.startDate = '2025-02-30T00:00:00Z'), 'runInfo.startDate'],
    ['startDate hour 25', FOCUS, (d) => (d.runInfo.startDate = '2025-07-01T25:00:00Z'), 'runInfo.startDate'],
    [
      'startDate offset +15:00',
      FOCUS,
      (d) => (d.runInfo.startDate = '2025-07-01T00:00:00+15:00'),
      'runInfo.startDate',
    ],
    ['startDate a number', FOCUS, (d) => (d.runInfo.startDate = 1720000000000), 'runInfo.startDate'],
    [
      'endDate before startDate',
      FOCUS,
      (d) => (d.runInfo.endDate = '2025-06-30T00:00:00Z'),
      'runInfo.endDate',
    ],
    [
      'submittedTime garbage',
      FOCUS,
      (d) => (d.runInfo.submittedTime = '2025-07-18 09:42'),
      'runInfo.submittedTime',
    ],
    ['fileFormat unknown', FOCUS, (d) => (d.deliveryConfig.fileFormat = 'Json'), 'deliveryConfig.fileFormat'],
    [
      'compressionMode unknown',
      FOCUS,
      (d) => (d.deliveryConfig.compressionMode = 'zstd'),
      'deliveryConfig.compressionMode',
    ],
    [
      'partitionData a string',
      FOCUS,
      (d) => (d.deliveryConfig.partitionData = 'true'),
      'deliveryConfig.partitionData',
    ],
    ['blobs missing', FOCUS, (d) => delete d.blobs, 'blobs'],
    ['blobs null', FOCUS, (d) => (d.blobs = null), 'blobs'],
    ['blobs an object', FOCUS, (d) => (d.blobs = {}), 'blobs'],
    ['a blob null', FOCUS, (d) => (d.blobs[0] = null), 'blobs[0]'],
    ['a blob an array', FOCUS, (d) => (d.blobs[0] = []), 'blobs[0]'],
    ['blobName missing', FOCUS, (d) => delete d.blobs[0].blobName, 'blobs[0].blobName'],
    ['blobName too long', FOCUS, (d) => (d.blobs[0].blobName = 'x'.repeat(1025)), 'blobs[0].blobName'],
    ['negative blob bytes', ACTUAL, (d) => (d.blobs[3].byteCount = -1), 'blobs[3].byteCount'],
    ['fractional blob bytes', ACTUAL, (d) => (d.blobs[3].byteCount = 1.5), 'blobs[3].byteCount'],
    ['blob bytes as a string', ACTUAL, (d) => (d.blobs[2].byteCount = '100'), 'blobs[2].byteCount'],
    ['blob rows beyond 2^53', ACTUAL, (d) => (d.blobs[1].dataRowCount = 2 ** 53), 'blobs[1].dataRowCount'],
    [
      'legacy headerRowCount negative',
      LEGACY,
      (d) => (d.blobs[1].headerRowCount = -1),
      'blobs[1].headerRowCount',
    ],
    ['duplicate blob names', ACTUAL, (d) => (d.blobs[2].blobName = d.blobs[0].blobName), 'blobs[2].blobName'],
    ['blobCount too high', FOCUS, (d) => (d.blobCount = 2), 'blobCount'],
    ['blobCount negative', ZERO, (d) => (d.blobCount = -1), 'blobCount'],
    ['dataRowCount negative', ZERO, (d) => (d.dataRowCount = -5), 'dataRowCount'],
    ['dataRowCount not the blob sum', ACTUAL, (d) => (d.dataRowCount += 1), 'dataRowCount'],
    ['byteCount not the blob sum', ACTUAL, (d) => (d.byteCount -= 1), 'byteCount'],
    ['byteCount a string', FOCUS, (d) => (d.byteCount = '163447'), 'byteCount'],
    ['manifestVersion a number', FOCUS, (d) => (d.manifestVersion = 20240401), 'manifestVersion'],
    ['legacy dataFormat unknown', LEGACY, (d) => (d.dataFormat = 'avro'), 'dataFormat'],
  ];

  it.each(cases)('%s', (_name, fixture, edit, field) => {
    const e = errorOf(() => parseEdited(fixture, edit));
    expect(e.field).toBe(field);
    expect(e.message.startsWith(`${field}: `)).toBe(true);
  });

  it.each<[string, unknown]>([
    ['null', 'null'],
    ['an array', '[]'],
    ['a number', '42'],
    ['a JSON string', '"manifest"'],
    ['empty text', ''],
    ['truncated JSON', '{"exportConfig": {'],
    ['trailing garbage', '{} x'],
    ['undefined', undefined],
    ['a number value', 42],
    ['a boolean value', true],
    ['a function', () => 1],
    [
      'a cyclic object',
      (() => {
        const o: any = { blobs: [] };
        o.self = o;
        return o;
      })(),
    ],
    ['a BigInt inside', { blobCount: BigInt(1) }],
    [
      'an object whose getter throws',
      Object.defineProperty({}, 'blobs', {
        enumerable: true,
        get: () => {
          throw new Error('boom');
        },
      }),
    ],
    ['an object whose toJSON returns undefined', { toJSON: () => undefined }],
    ['a Date', new Date(0)],
    ['more than 32 MiB of text', `{"pad":"${'x'.repeat(32 * 1024 * 1024)}"}`],
  ])('refuses %s as a document ($)', (_name, input) => {
    expect(errorOf(() => parseManifest(input as string)).field).toBe('$');
  });

  it.each<[string, ParseManifestOptions | null]>([
    ['options.blobPath a number', { blobPath: 5 as unknown as string }],
    ['options.blobPath huge', { blobPath: 'a/'.repeat(2000) }],
  ])('refuses %s', (_name, options) => {
    expect(errorOf(() => parseManifest(raw(FOCUS), options as ParseManifestOptions)).field).toBe(
      'options.blobPath',
    );
  });

  it('never echoes a SAS signature found in a path', () => {
    const e = errorOf(() =>
      parseManifest(raw(LEGACY), { blobPath: 'x/y/_manifest.json?sv=2024&sig=SECRETVALUE' }),
    );
    expect(e.field).toBe('options.blobPath');
    expect(e.message).not.toContain('SECRETVALUE');
  });
});

describe('prototype-pollution keys are data, never behaviour', () => {
  afterEach(() => {
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).exportConfig).toBeUndefined();
  });

  it('does not read fields through a __proto__ key', () => {
    const doc = json(FOCUS);
    const text = JSON.stringify(doc).replace('"exportConfig":', '"__proto__":');
    expect(errorOf(() => parseManifest(text)).field).toBe('exportConfig');
  });

  it('does not take blobs from a __proto__ key in the document', () => {
    const text = `{"__proto__":{"blobs":[{"blobName":"x"}],"polluted":1},"exportConfig":${JSON.stringify(
      json(FOCUS).exportConfig,
    )},"runInfo":${JSON.stringify(json(FOCUS).runInfo)}}`;
    expect(errorOf(() => parseManifest(text)).field).toBe('blobs');
  });

  it('ignores inherited properties of an object input', () => {
    const inherited = Object.create(json(FOCUS)) as object;
    expect(errorOf(() => parseManifest(inherited)).field).toBe('blobs');
  });

  it.each(['constructor', 'toString', 'hasOwnProperty', '__proto__', 'prototype'])(
    'treats a blob named %s like any other name',
    (name) => {
      const r = parseEdited(FOCUS, (d) => {
        d.blobs[0].blobName = name;
        d.blobs[0].constructor = 'x';
        d.runInfo.__defineGetter__ = 1;
      });
      expect(r.blobs[0]!.blobName).toBe(name);
    },
  );
});

describe('legacy paths', () => {
  const guid = '688b7a39-b8e3-442e-967a-5b8f13441b1c';
  it.each([
    [
      `exports/partitioned-actual/20230101-20230131/202302041442/${guid}/_manifest.json`,
      'exports',
      'partitioned-actual',
    ],
    [
      `partitioned-actual/20230101-20230131/202302041442/${guid}/_manifest.json`,
      undefined,
      'partitioned-actual',
    ],
    [`/a/b/c/exp/20230101-20230131/${guid}/_manifest.json`, 'a/b/c', 'exp'],
    [
      `msexports/root/exp/20230101-20230131/202302041442/${guid.toUpperCase()}/_manifest.json`,
      'msexports/root',
      'exp',
    ],
  ])('%s → root %p, export %p', (blobPath, root, exportName) => {
    const r = parseManifest(raw(LEGACY), { blobPath });
    expect(r.rootFolderPath).toBe(root);
    expect(r.exportName).toBe(exportName);
    expect(r.runId).toBe(guid);
    expect(r.billingMonth).toBe('2023-01');
  });

  it.each([
    ['no GUID folder', 'exports/exp/20230101-20230131/202302041442/_manifest.json'],
    ['no date-range folder', `exports/exp/202302041442/${guid}/_manifest.json`],
    ['date range with no export before it', `20230101-20230131/202302041442/${guid}/_manifest.json`],
    ['an impossible date', `r/exp/20230230-20230331/${guid}/_manifest.json`],
    ['a range ending before it starts', `r/exp/20230131-20230101/${guid}/_manifest.json`],
    ['a date range after the run folder', `r/exp/${guid}/20230101-20230131/_manifest.json`],
  ])('refuses a path with %s', (_name, blobPath) => {
    expect(errorOf(() => parseManifest(raw(LEGACY), { blobPath })).field).toBe('options.blobPath');
  });

  it('needs a path when the legacy manifest lists no blobs', () => {
    const doc = { manifestVersion: '2021-01-01', dataFormat: 'csv', blobCount: 0, blobs: [] };
    expect(errorOf(() => parseManifest(doc)).field).toBe('options.blobPath');
    expect(parseManifest(doc, { blobPath: LEGACY_PATH })).toMatchObject({
      legacy: true,
      blobs: [],
      blobCount: 0,
    });
  });
});

describe('isManifestBlobName', () => {
  it.each<[unknown, boolean]>([
    ['manifest.json', true],
    ['a/b/manifest.json', true],
    ['_manifest.json', true],
    ['x/y/_manifest.json', true],
    ['/leading/manifest.json', true],
    ['Manifest.json', false],
    ['MANIFEST.JSON', false],
    ['a/_Manifest.json', false],
    ['a/xmanifest.json', false],
    ['a/manifest.json/part_0_0001.csv', false],
    ['manifest.json.tmp', false],
    ['a/manifest.json ', false],
    ['a/manifest', false],
    ['', false],
    [undefined, false],
    [42, false],
  ])('%p → %p', (name, expected) => {
    expect(isManifestBlobName(name as string)).toBe(expected);
  });
});

describe('runFolderOf', () => {
  it.each([
    ['a/b/c/manifest.json', 'a/b/c'],
    ['/a/b/manifest.json', 'a/b'],
    ['manifest.json', ''],
    ['a//manifest.json', 'a'],
    [
      'root/exp/20250701-20250731/202507180944/89838ebe-7f6f-4e97-b246-12e1c0b7d71c/manifest.json',
      'root/exp/20250701-20250731/202507180944/89838ebe-7f6f-4e97-b246-12e1c0b7d71c',
    ],
  ])('%s → %p', (blobPath, folder) => {
    expect(runFolderOf(blobPath)).toBe(folder);
  });

  it('refuses a non-string', () => {
    expect(errorOf(() => runFolderOf(null as unknown as string)).field).toBe('blobPath');
  });
});

/** A realistic manifest with `parts` partitions, as Azure writes large months. */
function bigManifest(parts: number): any {
  const runId = '5e0a4f7c-2b1d-4c3e-9f8a-7b6c5d4e3f2a';
  const dir = `billing/fabrikam-actual-daily/20250101-20250131/202502020944/${runId}`;
  const blobs = Array.from({ length: parts }, (_, i) => ({
    blobName: `${dir}/part_0_${String(i + 1).padStart(4, '0')}.csv.gz`,
    byteCount: 10_485_760 - (i % 7) * 1024,
    dataRowCount: 130_000 + (i % 13),
  }));
  const doc = clone(json(ACTUAL));
  doc.blobs = blobs;
  doc.blobCount = parts;
  doc.byteCount = blobs.reduce((s, b) => s + b.byteCount, 0);
  doc.dataRowCount = blobs.reduce((s, b) => s + b.dataRowCount, 0);
  doc.runInfo.runId = runId;
  return doc;
}

describe('large manifests', () => {
  it('parses 1,000 partitions with their part numbers and totals', () => {
    const doc = bigManifest(1000);
    const r = parseManifest(JSON.stringify(doc, null, 2).replace(/\n/g, '\r\n'));
    expect(r.blobs).toHaveLength(1000);
    expect(r.blobs.map((b) => b.partNumber)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    expect(r.byteCount).toBe(doc.byteCount);
    expect(r.dataRowCount).toBe(doc.dataRowCount);
    expect(r.blobCount).toBe(1000);
  });

  it('catches one wrong partition among 1,000', () => {
    const doc = bigManifest(1000);
    doc.blobs[731].dataRowCount = -1;
    expect(errorOf(() => parseManifest(doc)).field).toBe('blobs[731].dataRowCount');
    const dup = bigManifest(1000);
    dup.blobs[999].blobName = dup.blobs[0].blobName;
    expect(errorOf(() => parseManifest(dup)).field).toBe('blobs[999].blobName');
  });

  it('keeps the stated total when one partition has no byte count', () => {
    const doc = bigManifest(1000);
    delete doc.blobs[500].byteCount;
    doc.byteCount = 1;
    expect(parseManifest(doc).byteCount).toBe(1);
  });
});

/** What every record parseManifest returns must satisfy, whatever the input was. */
function assertValidRecord(r: LandingRecord): void {
  const isDate = (d: unknown): boolean => d instanceof Date && Number.isFinite(d.getTime());
  const count = (n: unknown): boolean => n === undefined || (Number.isSafeInteger(n) && (n as number) >= 0);
  expect(typeof r.legacy).toBe('boolean');
  expect(typeof r.exportName === 'string' && r.exportName.length > 0).toBe(true);
  expect(r.runId).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/);
  expect(isDate(r.periodStart)).toBe(true);
  expect(r.periodEnd === undefined || (isDate(r.periodEnd) && r.periodEnd >= r.periodStart)).toBe(true);
  expect(r.billingMonth).toMatch(/^\d{4}-(0[1-9]|1[0-2])$/);
  expect(r.format === undefined || r.format === 'Csv' || r.format === 'Parquet').toBe(true);
  expect(r.compression === undefined || ['none', 'gzip', 'snappy'].includes(r.compression)).toBe(true);
  expect(Array.isArray(r.blobs)).toBe(true);
  expect(new Set(r.blobs.map((b) => b.blobName)).size).toBe(r.blobs.length);
  for (const b of r.blobs) {
    expect(typeof b.blobName === 'string' && b.blobName.trim().length > 0).toBe(true);
    expect(count(b.byteCount) && count(b.dataRowCount) && count(b.partNumber)).toBe(true);
  }
  expect(count(r.blobCount) && count(r.byteCount) && count(r.dataRowCount)).toBe(true);
  if (r.blobCount !== undefined) expect(r.blobCount).toBe(r.blobs.length);
  if (r.legacy) {
    expect(r.scope).toBeUndefined();
  } else {
    expect(typeof r.scope === 'string' && r.scope.length > 0).toBe(true);
    expect(typeof r.exportResourceId).toBe('string');
    expect(typeof r.datasetType).toBe('string');
    expect(r.submittedTime === undefined || isDate(r.submittedTime)).toBe(true);
    expect(r.partitionData === undefined || typeof r.partitionData === 'boolean').toBe(true);
  }
}

describe('fuzz', () => {
  const bases = [FOCUS, ACTUAL, MINIMAL, LEGACY, NO_COUNTS, ZERO].map((f) => json(f));
  bases.push(bigManifest(20));

  function randomValue(random: () => number, depth = 0): unknown {
    const pick = Math.floor(random() * 16);
    switch (pick) {
      case 0:
        return null;
      case 1:
        return random() < 0.5;
      case 2:
        return Math.floor((random() - 0.5) * 2 ** 40);
      case 3:
        return (random() - 0.5) * 1e6;
      case 4:
        return [Number.MAX_SAFE_INTEGER + 2, -0, 1e308, -1][Math.floor(random() * 4)];
      case 5:
        return '';
      case 6:
        return 'x'.repeat(Math.floor(random() * 5000));
      case 7:
        return ['__proto__', 'constructor', 'toString', 'prototype'][Math.floor(random() * 4)];
      case 8:
        return [
          '2025-07-01T00:00:00Z',
          '2025-13-01',
          '2024-02-29T00:00:00',
          '0000-00-00',
          '9999-12-31T23:59:59.9999999+14:00',
        ][Math.floor(random() * 5)];
      case 9:
        return ['Csv', 'PARQUET', 'Snappy', 'gzip', 'None', 'zip'][Math.floor(random() * 6)];
      case 10:
        return '688b7a39-b8e3-442e-967a-5b8f13441b1c';
      case 11:
        return depth > 3
          ? []
          : Array.from({ length: Math.floor(random() * 4) }, () => randomValue(random, depth + 1));
      case 12:
        return depth > 3
          ? {}
          : { a: randomValue(random, depth + 1), blobName: randomValue(random, depth + 1) };
      case 13:
        return JSON.parse('{"__proto__":{"polluted":1,"blobs":[]}}');
      case 14:
        return { blobName: `p/${Math.floor(random() * 3)}.csv`, byteCount: Math.floor(random() * 10) - 2 };
      default:
        return String.fromCharCode(...Array.from({ length: 8 }, () => Math.floor(random() * 0xffff)));
    }
  }

  /** Every (parent, key) pair in the document, so a mutation can land anywhere. */
  function slots(node: unknown, out: [any, string | number][] = []): [any, string | number][] {
    if (Array.isArray(node)) {
      node.forEach((v, i) => {
        out.push([node, i]);
        slots(v, out);
      });
    } else if (node && typeof node === 'object') {
      for (const k of Object.keys(node)) {
        out.push([node, k]);
        slots((node as any)[k], out);
      }
    }
    return out;
  }

  function mutate(doc: any, random: () => number): void {
    const all = slots(doc);
    if (all.length === 0) return;
    const [parent, key] = all[Math.floor(random() * all.length)]!;
    const op = random();
    if (op < 0.3) {
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key];
    } else if (op < 0.75) {
      parent[key] = randomValue(random);
    } else if (op < 0.9) {
      const [other, otherKey] = all[Math.floor(random() * all.length)]!;
      parent[key] = clone(other[otherKey]);
    } else if (Array.isArray(parent)) {
      parent.push(clone(parent[0]));
    } else {
      parent[['__proto__', 'constructor', 'blobs', 'extra'][Math.floor(random() * 4)]!] = randomValue(random);
    }
  }

  it('returns a valid record or throws ManifestError for 3,000 mutated manifests', () => {
    const random = mulberry32(0xc0ffee);
    const outcomes = { valid: 0, errors: new Map<string, number>() };
    for (let i = 0; i < 3000; i++) {
      const base = bases[Math.floor(random() * bases.length)]!;
      const doc = clone(base);
      const steps = 1 + Math.floor(random() * 3);
      for (let s = 0; s < steps; s++) if (random() < 0.85) mutate(doc, random);
      let input: string | Buffer | object = doc as object;
      const form = random();
      if (form < 0.3) input = JSON.stringify(doc);
      else if (form < 0.45)
        input = Buffer.from(`\ufeff${JSON.stringify(doc, null, 2).replace(/\n/g, '\r\n')}`);
      else if (form < 0.55) {
        // Text-level damage: cut or splice the serialised manifest.
        const text = JSON.stringify(doc);
        const cut = Math.floor(random() * text.length);
        input =
          random() < 0.5
            ? text.slice(0, cut)
            : text.slice(0, cut) + '"}]{,:'[Math.floor(random() * 6)] + text.slice(cut);
      } else if (form < 0.57) input = randomValue(random) as object;
      const options: ParseManifestOptions =
        random() < 0.3 ? { blobPath: random() < 0.5 ? LEGACY_PATH : String(randomValue(random)) } : {};
      try {
        const record = parseManifest(input, options);
        assertValidRecord(record);
        outcomes.valid++;
      } catch (e) {
        if (!(e instanceof ManifestError)) throw new Error(`iteration ${i}: ${String(e)}`, { cause: e });
        expect(typeof e.field).toBe('string');
        expect(e.field.length).toBeGreaterThan(0);
        const top = e.field.replace(/\[\d+\]/g, '[]');
        outcomes.errors.set(top, (outcomes.errors.get(top) ?? 0) + 1);
      }
    }
    const errorCount = [...outcomes.errors.values()].reduce((a, b) => a + b, 0);
    // Both outcomes occur often enough for the run to mean something, over many distinct fields.
    expect(outcomes.valid).toBeGreaterThan(300);
    expect(errorCount).toBeGreaterThan(300);
    expect(outcomes.errors.size).toBeGreaterThan(15);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
