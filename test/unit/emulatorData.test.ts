// The emulator's export-file data: layout, formats, column sets, deterministic rows whose amounts
// add up, CSV quoting and the manifest's shape.
import { gunzipSync } from 'node:zlib';

import { type Cell, schemaFor, UnsupportedDatasetError } from '../../dev/emulator/data/columns';
import { csvField, encodeCsv, parseCsv, type TableShape } from '../../dev/emulator/data/csv';
import { type DatasetOptions, encodeFile, partitionRows, planDataset } from '../../dev/emulator/data/dataset';
import { dotnetTimestamp, formatDecimal, isoMinutes, usDate } from '../../dev/emulator/data/format';
import {
  dateRangeFolder,
  fileExtension,
  monthPeriod,
  partitionFileName,
  periodFolder,
  runFolder,
} from '../../dev/emulator/data/layout';
import { buildManifest, serializeManifest } from '../../dev/emulator/data/manifest';
import { agreementForScope } from '../../dev/emulator/data/rows';
import { parseScope } from '../../src/domain/scope';

const SUB = '/subscriptions/11111111-2222-4333-8444-555555555555';
const EA_ACCOUNT = '/providers/Microsoft.Billing/billingAccounts/12345678';
const MCA_PROFILE =
  '/providers/Microsoft.Billing/billingAccounts/aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee:ffffffff-1111-4222-8333-444444444444_2019-05-31/billingProfiles/AB12-CD34-EF5-GHI';

const jan2024 = monthPeriod(2024, 1);

function options(overrides: Partial<DatasetOptions> = {}): DatasetOptions {
  return {
    seed: 42,
    scope: SUB,
    type: 'FocusCost',
    granularity: 'Daily',
    from: jan2024.from,
    to: jan2024.to,
    resourcesPerDay: 12,
    ...overrides,
  };
}

/** The dataset as a list of objects keyed by column name. */
function table(overrides: Partial<DatasetOptions> = {}): Record<string, Cell>[] {
  const plan = planDataset(options(overrides));
  return [...plan.rows()].map((row) =>
    Object.fromEntries(plan.shape.columns.map((c, i) => [c.name, row[i] ?? null])),
  );
}

const num = (cell: Cell | undefined): number => (typeof cell === 'number' ? cell : 0);
const sum = (rows: Record<string, Cell>[], column: string): number =>
  rows.reduce((t, r) => t + num(r[column]), 0);

describe('layout', () => {
  test.each([
    [2024, 1, '20240101-20240131'],
    [2024, 2, '20240201-20240229'], // leap year
    [2023, 2, '20230201-20230228'],
    [2100, 2, '21000201-21000228'], // century, not a leap year
    [2000, 2, '20000201-20000229'], // divisible by 400: leap year
    [2024, 4, '20240401-20240430'],
    [2024, 12, '20241201-20241231'],
  ])('month %i-%i folder is %s', (year, month, expected) => {
    const { from, to } = monthPeriod(year, month);
    expect(dateRangeFolder(from, to)).toBe(expected);
  });

  test('monthPeriod rejects months outside 1-12', () => {
    expect(() => monthPeriod(2024, 13)).toThrow(RangeError);
  });

  test.each([
    ['exports/acme', 'exports/acme/daily-focus/20240101-20240131/202402010942/run-1'],
    ['/exports/acme/', 'exports/acme/daily-focus/20240101-20240131/202402010942/run-1'],
    ['', 'daily-focus/20240101-20240131/202402010942/run-1'],
    [undefined, 'daily-focus/20240101-20240131/202402010942/run-1'],
  ])('run folder with root %p', (rootFolderPath, expected) => {
    const location = {
      exportName: 'daily-focus',
      from: jan2024.from,
      to: jan2024.to,
      runTime: new Date('2024-02-01T09:42:59.999Z'),
      runId: 'run-1',
      ...(rootFolderPath !== undefined ? { rootFolderPath } : {}),
    };
    expect(runFolder(location)).toBe(expected);
    expect(expected.startsWith(`${periodFolder(location)}/`)).toBe(true);
  });

  test.each([
    ['Csv', 'none', '.csv'],
    ['Csv', 'gzip', '.csv.gz'],
    ['Parquet', 'snappy', '.snappy.parquet'],
    ['Parquet', 'none', '.parquet'],
  ] as const)('%s + %s files end in %s', (format, compression, extension) => {
    expect(fileExtension(format, compression)).toBe(extension);
    expect(partitionFileName(3, format, compression)).toBe(`part_3_0001${extension}`);
  });
});

describe('formats', () => {
  test.each([
    [24, '24'],
    [0.1 + 0.2, '0.3'],
    [1e-7, '0.0000001'],
    [-0, '0'],
    [123.4567891234, '123.4567891234'],
    [2.5e-11, '0'],
    [1 / 3, '0.3333333333'],
  ])('formatDecimal(%p) = %s', (value, expected) => {
    expect(formatDecimal(value)).toBe(expected);
  });

  test('submittedTime has 7 fractional digits and a Z', () => {
    expect(dotnetTimestamp(new Date('2024-02-03T18:33:03.103Z'), 2074)).toBe('2024-02-03T18:33:03.1032074Z');
    expect(dotnetTimestamp(new Date('2024-02-03T18:33:03Z'), 123456)).toMatch(
      /^2024-02-03T18:33:03\.\d{7}Z$/,
    );
  });

  test('date styles', () => {
    const d = new Date(Date.UTC(2024, 0, 5));
    expect(usDate(d)).toBe('01/05/2024');
    expect(isoMinutes(d)).toBe('2024-01-05T00:00Z');
  });
});

describe('CSV', () => {
  test.each([
    ['plain', 'plain'],
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['two\nlines', '"two\nlines"'],
    ['cr\rhere', '"cr\rhere"'],
    ['', ''],
  ])('csvField(%p) = %p', (text, expected) => {
    expect(csvField(text)).toBe(expected);
  });

  test('Tags JSON with commas, quotes and newlines survives a round trip', () => {
    const tags = JSON.stringify({ app: 'Contoso, "web"', note: 'line1' }) + '\nraw "newline", too';
    const shape: TableShape = {
      columns: [
        { name: 'Tags', kind: 'string' },
        { name: 'Cost', kind: 'decimal' },
        { name: 'Day', kind: 'datetime' },
        { name: 'Eligible', kind: 'boolean' },
      ],
      dateStyle: 'isoSeconds',
      booleanStyle: 'lower',
    };
    const text = encodeCsv(shape, [
      [tags, 1.5, new Date(Date.UTC(2024, 0, 1)), true],
      [null, 0, null, false],
    ]);
    expect(text.endsWith('\r\n')).toBe(true);
    expect(parseCsv(text)).toEqual([
      ['Tags', 'Cost', 'Day', 'Eligible'],
      [tags, '1.5', '2024-01-01T00:00:00Z', 'true'],
      ['', '0', '', 'false'],
    ]);
  });
});

describe('column sets', () => {
  test.each([
    ['FocusCost', '1.0', 'EA', 96],
    ['FocusCost', '1.0r2', 'EA', 96],
    ['FocusCost', '1.2-preview', 'MCA', 105],
    ['ActualCost', '2021-10-01', 'EA', 55],
    ['AmortizedCost', '2021-10-01', 'MCA', 65],
    ['PriceSheet', undefined, 'EA', 23],
  ] as const)('%s %s (%s) has %i unique columns', (type, version, agreement, count) => {
    const names = schemaFor(type, version, agreement).schema.columns.map((c) => c.name);
    expect(names).toHaveLength(count);
    expect(new Set(names).size).toBe(count);
  });

  test('FOCUS 1.2-preview holds the columns downstream tools read', () => {
    const names = schemaFor('FocusCost', undefined, 'EA').schema.columns.map((c) => c.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'BilledCost',
        'BillingAccountId',
        'BillingAccountName',
        'BillingCurrency',
        'BillingPeriodStart',
        'BillingPeriodEnd',
        'ChargeCategory',
        'ChargeDescription',
        'ChargePeriodStart',
        'ChargePeriodEnd',
        'ConsumedQuantity',
        'ConsumedUnit',
        'EffectiveCost',
        'ListCost',
        'ListUnitPrice',
        'PricingQuantity',
        'PricingUnit',
        'ProviderName',
        'PublisherName',
        'RegionId',
        'RegionName',
        'ResourceId',
        'ResourceName',
        'ResourceType',
        'ServiceCategory',
        'ServiceName',
        'SkuId',
        'SkuPriceId',
        'SubAccountId',
        'SubAccountName',
        'Tags',
        'x_ResourceGroupName',
        'x_SkuMeterCategory',
      ]),
    );
  });

  test('EA headers are PascalCase and MCA headers camelCase', () => {
    const ea = schemaFor('ActualCost', undefined, 'EA').schema.columns.map((c) => c.name);
    const mca = schemaFor('ActualCost', undefined, 'MCA').schema.columns.map((c) => c.name);
    expect(ea.slice(0, 4)).toEqual(['InvoiceSectionName', 'AccountName', 'AccountOwnerId', 'SubscriptionId']);
    expect(ea).toEqual(
      expect.arrayContaining(['CostInBillingCurrency', 'BillingCurrencyCode', 'ResourceGroup']),
    );
    expect(mca.slice(0, 3)).toEqual(['invoiceId', 'previousInvoiceId', 'billingAccountId']);
    expect(mca).toEqual(
      expect.arrayContaining(['costInBillingCurrency', 'resourceGroupName', 'paygCostInUsd']),
    );
  });

  test.each([
    ['ReservationDetails', undefined],
    ['ReservationRecommendations', undefined],
    ['ReservationTransactions', undefined],
    ['FocusCost', '1.0-preview(v1)'],
    ['ActualCost', '2019-10-01'],
    ['Bogus', undefined],
  ])('%s %s is not emulated', (type, version) => {
    expect(() => schemaFor(type, version, 'EA')).toThrow(UnsupportedDatasetError);
  });

  test.each([
    [SUB, 'EA'],
    [`${SUB}/resourceGroups/rg-web`, 'EA'],
    [EA_ACCOUNT, 'EA'],
    [`${EA_ACCOUNT}/departments/123`, 'EA'],
    [MCA_PROFILE, 'MCA'],
    [`${MCA_PROFILE}/invoiceSections/WXYZ-1234-PJA-TGB`, 'MCA'],
    [MCA_PROFILE.replace(/\/billingProfiles\/.*/, ''), 'MCA'],
  ])('scope %s writes %s columns', (scope, agreement) => {
    expect(agreementForScope(parseScope(scope))).toBe(agreement);
  });
});

describe('rows', () => {
  test('the same options give byte-identical files; another seed does not', async () => {
    const encode = async (seed: number) => {
      const plan = planDataset(options({ seed }));
      return encodeFile(plan.shape, [...plan.rows()], 'Csv', 'gzip');
    };
    const [a, b, c] = await Promise.all([encode(7), encode(7), encode(8)]);
    expect(a.equals(b)).toBe(true);
    expect(gunzipSync(a).equals(gunzipSync(c))).toBe(false);
  });

  test('one row per resource per day, plus the reservation purchase on the 1st', () => {
    const rows = table({ resourcesPerDay: 12 });
    expect(rows.filter((r) => r['ChargeCategory'] === 'Usage')).toHaveLength(12 * 31);
    expect(rows.filter((r) => r['ChargeCategory'] === 'Purchase')).toHaveLength(1);
    const amortized = table({ type: 'AmortizedCost', resourcesPerDay: 12 });
    expect(amortized).toHaveLength(12 * 31);
  });

  test('Monthly granularity sums each resource over the month', () => {
    const daily = table();
    const monthly = table({ granularity: 'Monthly' });
    expect(monthly.filter((r) => r['ChargeCategory'] === 'Usage')).toHaveLength(12);
    expect(sum(monthly, 'BilledCost')).toBeCloseTo(sum(daily, 'BilledCost'), 6);
    expect(sum(monthly, 'PricingQuantity')).toBeCloseTo(sum(daily, 'PricingQuantity'), 4);
  });

  test('the scope reaches the data: its subscription and resource group', () => {
    const rows = table({ scope: `${SUB}/resourceGroups/rg-payments` });
    expect(new Set(rows.map((r) => r['SubAccountId']))).toEqual(new Set([SUB]));
    const usage = rows.filter((r) => r['ChargeCategory'] === 'Usage');
    expect(new Set(usage.map((r) => r['x_ResourceGroupName']))).toEqual(new Set(['rg-payments']));
  });

  test('quantity x unit price = cost on every row', () => {
    for (const r of table({ resourcesPerDay: 30 })) {
      const q = num(r['PricingQuantity']);
      expect(Math.abs(q * num(r['ListUnitPrice']) - num(r['ListCost']))).toBeLessThan(1e-8);
      expect(Math.abs(q * num(r['ContractedUnitPrice']) - num(r['ContractedCost']))).toBeLessThan(1e-8);
      expect(Math.abs(q * num(r['x_EffectiveUnitPrice']) - num(r['EffectiveCost']))).toBeLessThan(1e-8);
      expect(Math.abs(q * num(r['x_BilledUnitPrice']) - num(r['BilledCost']))).toBeLessThan(1e-8);
      if (r['ChargeCategory'] === 'Usage') {
        expect(num(r['ConsumedQuantity'])).toBeCloseTo(q * num(r['x_PricingBlockSize']), 5);
      }
    }
  });

  test('for a whole month, billed and amortized totals agree across FOCUS, actual and amortized', () => {
    const focus = table({ resourcesPerDay: 25 });
    const actual = table({ type: 'ActualCost', resourcesPerDay: 25 });
    const amortized = table({ type: 'AmortizedCost', resourcesPerDay: 25 });
    const billed = sum(focus, 'BilledCost');
    expect(billed).toBeGreaterThan(100);
    expect(sum(focus, 'EffectiveCost')).toBeCloseTo(billed, 6);
    expect(sum(actual, 'CostInBillingCurrency')).toBeCloseTo(billed, 6);
    expect(sum(amortized, 'CostInBillingCurrency')).toBeCloseTo(billed, 6);
    // Reserved usage is free in actual cost and carries its amortized share in amortized cost.
    const reservedActual = actual.filter(
      (r) => r['PricingModel'] === 'Reservation' && r['ChargeType'] === 'Usage',
    );
    expect(reservedActual).toHaveLength(31);
    expect(sum(reservedActual, 'CostInBillingCurrency')).toBe(0);
    expect(sum(focus, 'ListCost')).toBeGreaterThan(sum(focus, 'EffectiveCost'));
  });

  test('dates follow each dataset style', async () => {
    const csvOf = async (o: Partial<DatasetOptions>) => {
      const plan = planDataset(
        options({ ...o, from: new Date(Date.UTC(2024, 0, 15)), to: new Date(Date.UTC(2024, 0, 15)) }),
      );
      const text = (await encodeFile(plan.shape, [...plan.rows()], 'Csv', 'none')).toString('utf8');
      const [header, first] = parseCsv(text);
      return Object.fromEntries(header!.map((h, i) => [h, first![i]]));
    };
    expect((await csvOf({ type: 'FocusCost' }))['ChargePeriodStart']).toBe('2024-01-15T00:00:00Z');
    expect((await csvOf({ type: 'FocusCost', version: '1.0' }))['ChargePeriodStart']).toBe(
      '2024-01-15T00:00Z',
    );
    const ea = await csvOf({ type: 'ActualCost' });
    expect([ea['Date'], ea['BillingPeriodStartDate'], ea['BillingPeriodEndDate']]).toEqual([
      '01/15/2024',
      '01/01/2024',
      '01/31/2024',
    ]);
    expect((await csvOf({ type: 'ActualCost', scope: MCA_PROFILE }))['date']).toBe('01/15/2024');
  });

  test('PriceSheet lists each meter and region once', () => {
    const rows = table({ type: 'PriceSheet', resourcesPerDay: 40 });
    const keys = rows.map((r) => `${String(r['MeterId'])}/${String(r['MeterRegion'])}`);
    expect(new Set(keys).size).toBe(rows.length);
    expect(rows.length).toBeGreaterThan(3);
  });

  test('partitions hold at most rowsPerPartition rows; an empty run still has one file', () => {
    const rows: Cell[][] = Array.from({ length: 10 }, (_, i) => [i]);
    expect([...partitionRows(rows, true, 4)].map((p) => p.length)).toEqual([4, 4, 2]);
    expect([...partitionRows(rows, false, 4)].map((p) => p.length)).toEqual([10]);
    expect([...partitionRows([], true, 4)]).toEqual([[]]);
  });
});

describe('manifest', () => {
  const manifest = buildManifest({
    exportConfig: {
      exportName: 'daily',
      resourceId: `${SUB}/providers/Microsoft.CostManagement/exports/daily`,
      dataVersion: '1.2-preview',
      apiVersion: '2025-03-01',
      type: 'FocusCost',
      timeFrame: 'MonthToDate',
      granularity: 'Daily',
    },
    deliveryConfig: {
      partitionData: true,
      dataOverwriteBehavior: 'CreateNewReport',
      fileFormat: 'Parquet',
      compression: 'snappy',
      containerUri: `${SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa`,
      rootFolderPath: 'exports',
    },
    runInfo: {
      executionType: 'Scheduled',
      submittedTime: '2024-02-01T09:42:03.1032074Z',
      runId: 'af754a8e-30fc-4ef3-bfc6-71bd1efb8598',
      startDate: '2024-01-01T00:00:00',
      endDate: '2024-01-31T00:00:00',
    },
    blobs: [
      { blobName: 'a/part_0_0001.snappy.parquet', byteCount: 100, dataRowCount: 7 },
      { blobName: 'a/part_1_0001.snappy.parquet', byteCount: 50, dataRowCount: 3 },
    ],
  });

  test('keys in the order real 2024-04-01 manifests use, totals summed over blobs', () => {
    expect(Object.keys(manifest)).toEqual([
      'manifestVersion',
      'byteCount',
      'blobCount',
      'dataRowCount',
      'exportConfig',
      'deliveryConfig',
      'runInfo',
      'blobs',
    ]);
    expect(Object.keys(manifest.exportConfig)).toEqual([
      'exportName',
      'resourceId',
      'dataVersion',
      'apiVersion',
      'type',
      'timeFrame',
      'granularity',
    ]);
    expect(Object.keys(manifest.deliveryConfig)).toEqual([
      'partitionData',
      'dataOverwriteBehavior',
      'fileFormat',
      'compressionMode',
      'containerUri',
      'rootFolderPath',
    ]);
    expect(Object.keys(manifest.runInfo)).toEqual([
      'executionType',
      'submittedTime',
      'runId',
      'startDate',
      'endDate',
    ]);
    expect(Object.keys(manifest.blobs[0]!)).toEqual(['blobName', 'byteCount', 'dataRowCount']);
    expect([manifest.byteCount, manifest.blobCount, manifest.dataRowCount]).toEqual([150, 2, 10]);
    expect(manifest.deliveryConfig.compressionMode).toBe('Snappy');
  });

  test('serialised with 2-space indentation and CRLF line ends', () => {
    const text = serializeManifest(manifest);
    expect(text.startsWith('{\r\n  "manifestVersion": "2024-04-01",\r\n  "byteCount": 150,')).toBe(true);
    expect(text.replace(/\r\n/g, '')).not.toMatch(/\n/);
    expect(JSON.parse(text)).toEqual(manifest);
  });
});
