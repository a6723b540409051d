// Every PUT body buildExportBody produces must validate against the official 2025-03-01 `Export`
// schema (the spec's `definitions`, with common-types.json resolved), and the builder must refuse
// what the service would refuse, naming the field. The spec copy read is the emulator's
// (dev/emulator/spec/2025-03-01, identical to shared/azure-specs). Its one external reference,
// ARM's v5/managedidentity.json, is not in the repository: a small local stand-in is registered
// under the URL the relative `$ref` resolves to (SystemAssignedServiceIdentity: `type` required,
// None | SystemAssigned; principalId and tenantId read-only GUIDs, as ARM common-types define it).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { AnySchema, ValidateFunction } from 'ajv';
import Ajv from 'ajv';
import Ajv2019 from 'ajv/dist/2019';
import addFormats from 'ajv-formats';

import { buildExportBody, buildRunRequest, ExportBodyError } from '../../src/azure/exportBody';
import { addOneCalendarMonth } from '../../src/azure/exportBody/timePeriod';
import type { ExportBodyInput } from '../../src/azure/exportModels';
import { COMPRESSION_MODES, FORMATS } from '../../src/azure/exportModels';
import { parseExport, parseExportList, parseRunList } from '../../src/azure/exportResponses';
import { EXPORT_DATASETS, isUncompressedCsvOnly } from '../../src/domain/scope';

const SPEC_DIR = join(__dirname, '../../dev/emulator/spec/2025-03-01');
const BASE =
  'https://specs.local/specification/cost-management/resource-manager/Microsoft.CostManagement/CostManagement/stable/2025-03-01/';
const MANAGED_IDENTITY =
  'https://specs.local/specification/common-types/resource-management/v5/managedidentity.json';

type Json = Record<string, unknown>;
const readJson = (file: string): Json => JSON.parse(readFileSync(join(SPEC_DIR, file), 'utf8')) as Json;
const spec = readJson('costmanagement.exports.json');
const commonTypes = readJson('common-types.json');

const managedIdentityStandIn = {
  $id: MANAGED_IDENTITY,
  definitions: {
    SystemAssignedServiceIdentity: {
      type: 'object',
      properties: {
        principalId: { type: 'string', format: 'uuid', readOnly: true },
        tenantId: { type: 'string', format: 'uuid', readOnly: true },
        type: { $ref: '#/definitions/SystemAssignedServiceIdentityType' },
      },
      required: ['type'],
    },
    SystemAssignedServiceIdentityType: {
      type: 'string',
      enum: ['None', 'SystemAssigned'],
      'x-ms-enum': { name: 'SystemAssignedServiceIdentityType', modelAsString: true },
    },
  },
};

function xmsKeywords(node: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(node)) node.forEach((n) => xmsKeywords(n, found));
  else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key.startsWith('x-ms-')) found.add(key);
      xmsKeywords(value, found);
    }
  }
  return found;
}

/** Schemas holding only `definitions`, so the swagger document's other keys never reach ajv. */
function documents(definitions: { exports: Json; common: Json }): AnySchema[] {
  return [
    { $id: `${BASE}costmanagement.exports.json`, definitions: definitions.exports },
    { $id: `${BASE}common-types.json`, definitions: definitions.common },
    managedIdentityStandIn,
  ];
}

function configure<T extends Ajv>(ajv: T, schemas: AnySchema[]): T {
  addFormats(ajv);
  ajv.addVocabulary([...xmsKeywords([spec.definitions, commonTypes.definitions, managedIdentityStandIn])]);
  for (const schema of schemas) ajv.addSchema(schema);
  return ajv;
}

/** The official schema, as published. */
const official = configure(
  new Ajv({ strict: true, strictTypes: false, allErrors: true }),
  documents({ exports: spec.definitions as Json, common: commonTypes.definitions as Json }),
);

/**
 * A stricter reading for request bodies: read-only properties removed and every object closed with
 * `unevaluatedProperties: false` (except allOf bases, which their extensions reopen). This catches
 * a misspelt or read-only key, which the published schema (open objects) would let through.
 */
const allOfBases = new Set(
  JSON.stringify([spec.definitions, commonTypes.definitions])
    .match(/"allOf":\[\{"\$ref":"[^"]*#\/definitions\/\w+"/g)
    ?.map((m) => /(\w+)"$/.exec(m)![1]!) ?? [],
);

function strictDefinitions(definitions: Json): Json {
  const copy = structuredClone(definitions);
  for (const [name, schema] of Object.entries(copy)) {
    const s = schema as Json;
    if (s.properties && typeof s.properties === 'object') {
      for (const [key, property] of Object.entries(s.properties as Json)) {
        if ((property as Json).readOnly === true) delete (s.properties as Json)[key];
      }
      if (!allOfBases.has(name)) s.unevaluatedProperties = false;
    }
  }
  return copy;
}

const strict = configure(
  new Ajv2019({ strict: true, strictTypes: false, allErrors: true }),
  documents({
    exports: strictDefinitions(spec.definitions as Json),
    common: strictDefinitions(commonTypes.definitions as Json),
  }),
);

const validators = {
  export: official.getSchema(`${BASE}costmanagement.exports.json#/definitions/Export`)!,
  strictExport: strict.getSchema(`${BASE}costmanagement.exports.json#/definitions/Export`)!,
  runRequest: official.getSchema(`${BASE}costmanagement.exports.json#/definitions/ExportRunRequest`)!,
  strictRunRequest: strict.getSchema(`${BASE}costmanagement.exports.json#/definitions/ExportRunRequest`)!,
};

function errorsOf(validate: ValidateFunction, body: unknown): string[] {
  return validate(body)
    ? []
    : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
}

function expectValidPut(body: unknown): void {
  expect(errorsOf(validators.export, body)).toEqual([]);
  expect(errorsOf(validators.strictExport, body)).toEqual([]);
}

const SUBSCRIPTION = '/subscriptions/00000000-0000-0000-0000-000000000001';
const STORAGE_ID = `${SUBSCRIPTION}/resourceGroups/rg-finops/providers/Microsoft.Storage/storageAccounts/finopsexports`;
const SAS = 'sv=2022-11-02&ss=b&srt=sco&sp=rwdlac&se=2030-01-01T00:00:00Z&spr=https&sig=c2VjcmV0c2lnbmF0dXJl';

const base: ExportBodyInput = {
  dataset: 'ActualCost',
  timeframe: 'MonthToDate',
  destination: { resourceId: STORAGE_ID, container: 'exports', rootFolderPath: 'finops/actual' },
};

function problemsOf(input: unknown): string[] {
  try {
    buildExportBody(input as ExportBodyInput);
  } catch (error) {
    if (error instanceof ExportBodyError) return error.fields;
    throw error;
  }
  throw new Error('expected ExportBodyError');
}

describe('the schema harness', () => {
  test('compiles the Export and ExportRunRequest definitions with every reference resolved', () => {
    expect(validators.export).toBeDefined();
    expect(validators.strictExport).toBeDefined();
    expect(validators.runRequest).toBeDefined();
  });

  test.each([
    'ExportCreateOrUpdateBySubscription.json',
    'ExportCreateOrUpdateByBillingAccountPricesheet.json',
  ])('accepts the request body of the spec example %s', (file) => {
    const example = readJson(`examples/${file}`);
    expectValidPut((example.parameters as Json).parameters);
  });

  test('flags the spec example whose filter names are camelCase (the spec enum is PascalCase)', () => {
    const example = readJson('examples/ExportCreateOrUpdateByBillingAccountReservationRecommendation.json');
    const errors = errorsOf(validators.export, (example.parameters as Json).parameters);
    expect(errors).toEqual(
      expect.arrayContaining([expect.stringMatching(/definition\/dataSet\/configuration\/filters\/0\/name/)]),
    );
  });

  test('accepts the run example body', () => {
    const example = readJson('examples/ExportRunByBillingAccountWithOptionalRequestBody.json');
    const body = (example.parameters as Json).exportRunRequest;
    expect(body).toBeDefined();
    expect(errorsOf(validators.runRequest, body)).toEqual([]);
    expect(errorsOf(validators.strictRunRequest, body)).toEqual([]);
  });

  const valid = buildExportBody(base);
  const mutate = (change: (body: Json) => void): Json => {
    const body = structuredClone(valid) as unknown as Json;
    change(body);
    return body;
  };
  const props = (b: Json) => b.properties as Json;
  const definition = (b: Json) => props(b).definition as Json;
  const destination = (b: Json) => (props(b).deliveryInfo as Json).destination as Json;

  test.each<[string, (b: Json) => void]>([
    ['compressionMode zip', (b) => (props(b).compressionMode = 'zip')],
    ['format Json', (b) => (props(b).format = 'Json')],
    ['timeframe in the wrong case', (b) => (definition(b).timeframe = 'custom')],
    ['dataset type unknown', (b) => (definition(b).type = 'Carbon')],
    ['no definition', (b) => delete props(b).definition],
    ['no deliveryInfo', (b) => delete props(b).deliveryInfo],
    ['no container', (b) => delete destination(b).container],
    ['timePeriod without to', (b) => (definition(b).timePeriod = { from: '2024-01-01T00:00:00Z' })],
    ['timePeriod not a date-time', (b) => (definition(b).timePeriod = { from: '2024-01-01', to: 'soon' })],
    ['partitionData as text', (b) => (props(b).partitionData = 'yes')],
    ['recurrence Hourly', (b) => (props(b).schedule = { status: 'Active', recurrence: 'Hourly' })],
    ['identity UserAssigned', (b) => (b.identity = { type: 'UserAssigned' })],
    ['identity without type', (b) => (b.identity = {})],
    ['granularity Hourly', (b) => (definition(b).dataSet = { granularity: 'Hourly' })],
  ])('the official schema rejects a body with %s', (_label, change) => {
    expect(errorsOf(validators.export, mutate(change))).not.toEqual([]);
  });

  test.each<[string, (b: Json) => void]>([
    ['a misspelt key', (b) => (props(b).compresionMode = 'gzip')],
    ['a read-only nextRunTimeEstimate', (b) => (props(b).nextRunTimeEstimate = '2030-01-01T00:00:00Z')],
    ['a read-only id', (b) => (b.id = 'x')],
    ['an unknown destination key', (b) => (destination(b).sasKey = 'x')],
  ])('the strict reading also rejects %s', (_label, change) => {
    const body = mutate(change);
    expect(errorsOf(validators.export, body)).toEqual([]); // open objects: the official one cannot tell
    expect(errorsOf(validators.strictExport, body)).not.toEqual([]);
  });
});

describe('buildExportBody: valid bodies for many combinations', () => {
  const timeframes = [
    'Custom',
    'MonthToDate',
    'TheLastMonth',
    'TheCurrentMonth',
    'BillingMonthToDate',
  ] as const;
  const formatCompression = FORMATS.flatMap((format) =>
    COMPRESSION_MODES.filter(
      (c) => !(format === 'Csv' && c === 'snappy') && !(format === 'Parquet' && c === 'gzip'),
    ).map((compression) => ({ format, compression })),
  );
  const destinations: ExportBodyInput['destination'][] = [
    { resourceId: STORAGE_ID, container: 'exports' },
    {
      storageAccount: 'partnerexports',
      sasToken: `?${SAS}`,
      container: 'msexports',
      rootFolderPath: '/cust/a/',
    },
  ];

  test('every dataset × timeframe × destination × format/compression, with the options rotated', () => {
    let count = 0;
    const failures: string[] = [];
    for (const dataset of EXPORT_DATASETS) {
      for (const timeframe of timeframes) {
        for (const destination of destinations) {
          for (const { format, compression } of formatCompression) {
            const i = count++;
            // Reservation datasets come only as uncompressed CSV: refused below, naming the field.
            if (isUncompressedCsvOnly(undefined, dataset) && (format !== 'Csv' || compression !== 'none')) {
              expect(() =>
                buildExportBody({ dataset, timeframe: 'MonthToDate', destination, format, compression }),
              ).toThrow(format !== 'Csv' ? /format/ : /compression/);
              continue;
            }
            const input: ExportBodyInput = {
              dataset,
              timeframe,
              destination,
              format,
              compression,
              partitionData: i % 2 === 0,
              dataOverwriteBehavior: i % 3 === 0 ? 'OverwritePreviousReport' : 'CreateNewReport',
              ...(timeframe === 'Custom'
                ? {
                    timePeriod:
                      i % 2
                        ? { from: '2024-02-01', to: '2024-02-29' }
                        : { from: new Date(Date.UTC(2023, 11, 15)), to: '2024-01-14T23:59:59Z' },
                  }
                : {}),
              ...(i % 4 === 0 ? { managedIdentity: { location: 'West Europe' } } : {}),
              ...(i % 5 === 0 ? { description: `export ${i}` } : {}),
              ...(i % 3 === 1 ? { dataVersion: dataset === 'FocusCost' ? '1.0r2' : '2023-05-01' } : {}),
              ...(i % 7 === 0 ? { eTag: '"00000000-0000-0000-0000-000000000000"' } : {}),
              ...(i % 6 === 0 && timeframe !== 'Custom'
                ? {
                    schedule: {
                      status: 'Active' as const,
                      recurrence: 'Daily' as const,
                      recurrencePeriod: { from: '2030-01-01', ...(i % 12 === 0 ? { to: '2031-01-01' } : {}) },
                    },
                  }
                : {}),
              ...(i % 6 === 3 ? { granularity: 'Monthly' as const } : {}),
              ...(dataset === 'ReservationRecommendations' && i % 2 === 0
                ? {
                    filters: [
                      { name: 'ReservationScope' as const, value: 'Shared' },
                      { name: 'LookBackPeriod' as const, value: 'Last30Days' },
                      { name: 'ResourceType' as const, value: 'VirtualMachines' },
                    ],
                  }
                : {}),
            };
            const body = buildExportBody(input);
            const errors = [...errorsOf(validators.export, body), ...errorsOf(validators.strictExport, body)];
            if (errors.length > 0) failures.push(`${JSON.stringify(input)}: ${errors.join('; ')}`);
          }
        }
      }
    }
    expect(failures).toEqual([]);
    expect(count).toBe(
      EXPORT_DATASETS.length * timeframes.length * destinations.length * formatCompression.length,
    );
  });

  test('defaults: Csv, no compression, partitioned, CreateNewReport, Daily for cost datasets', () => {
    expect(buildExportBody(base)).toEqual({
      properties: {
        format: 'Csv',
        deliveryInfo: {
          destination: {
            type: 'AzureBlob',
            resourceId: STORAGE_ID,
            container: 'exports',
            rootFolderPath: 'finops/actual',
          },
        },
        definition: { type: 'ActualCost', timeframe: 'MonthToDate', dataSet: { granularity: 'Daily' } },
        partitionData: true,
        dataOverwriteBehavior: 'CreateNewReport',
        compressionMode: 'none',
      },
    });
    const priceSheet = buildExportBody({ ...base, dataset: 'PriceSheet', timeframe: 'TheCurrentMonth' });
    expect(priceSheet.properties.definition.dataSet).toBeUndefined();
  });

  test('a one-month Custom export: ISO period, one-time (Inactive) schedule, identity and location', () => {
    const body = buildExportBody({
      ...base,
      dataset: 'FocusCost',
      timeframe: 'Custom',
      timePeriod: { from: '2024-01-01', to: '2024-01-31' },
      format: 'Parquet',
      compression: 'snappy',
      dataVersion: '1.0r2',
      description: 'backfill January',
      managedIdentity: { location: 'Central US' },
      eTag: '"abc"',
    });
    expectValidPut(body);
    expect(body).toMatchObject({
      eTag: '"abc"',
      identity: { type: 'SystemAssigned' },
      location: 'centralus',
      properties: {
        format: 'Parquet',
        compressionMode: 'snappy',
        exportDescription: 'backfill January',
        schedule: { status: 'Inactive' },
        definition: {
          type: 'FocusCost',
          timeframe: 'Custom',
          timePeriod: { from: '2024-01-01T00:00:00.000Z', to: '2024-01-31T00:00:00.000Z' },
          dataSet: { granularity: 'Daily', configuration: { dataVersion: '1.0r2' } },
        },
      },
    });
  });

  test('SAS destination: leading ? dropped, root folder slashes trimmed', () => {
    const body = buildExportBody({ ...base, destination: destinations[1]! });
    expect(body.properties.deliveryInfo.destination).toEqual({
      type: 'AzureBlob',
      storageAccount: 'partnerexports',
      sasToken: SAS,
      container: 'msexports',
      rootFolderPath: 'cust/a',
    });
  });

  test.each([
    ['2024-01-31', '2024-02-28', true], // 31 Jan + 1 month is clamped to 29 Feb 2024
    ['2024-01-31', '2024-02-29', false],
    ['2023-01-31', '2023-02-27', true],
    ['2023-01-31', '2023-02-28', false],
    ['2024-01-15', '2024-02-14T23:59:59Z', true],
    ['2024-01-15', '2024-02-15', false],
    ['2024-03-01', '2024-03-01', true], // one day, as the spec's Custom example
    ['2023-12-01', '2023-12-31', true],
  ])('Custom period %s → %s within one calendar month: %s', (from, to, ok) => {
    const input = { ...base, timeframe: 'Custom' as const, timePeriod: { from, to } };
    if (ok) expectValidPut(buildExportBody(input));
    else expect(problemsOf(input)).toEqual(['timePeriod']);
  });

  test('addOneCalendarMonth clamps to the month end', () => {
    expect(addOneCalendarMonth(new Date('2024-01-31T10:00:00Z')).toISOString()).toBe(
      '2024-02-29T10:00:00.000Z',
    );
    expect(addOneCalendarMonth(new Date('2024-12-31T00:00:00Z')).toISOString()).toBe(
      '2025-01-31T00:00:00.000Z',
    );
  });
});

describe('buildExportBody: invalid inputs name the field', () => {
  const sas = { storageAccount: 'partnerexports', sasToken: SAS, container: 'exports' };
  test.each<[string, Partial<Record<keyof ExportBodyInput, unknown>>, string[]]>([
    ['snappy with Csv', { compression: 'snappy' }, ['compression']],
    ['gzip with Parquet', { format: 'Parquet', compression: 'gzip' }, ['compression']],
    ['unknown compression', { compression: 'zip' }, ['compression']],
    ['unknown format', { format: 'Json' }, ['format']],
    [
      'timePeriod with a non-Custom timeframe',
      { timePeriod: { from: '2024-01-01', to: '2024-01-31' } },
      ['timePeriod'],
    ],
    ['Custom without timePeriod', { timeframe: 'Custom' }, ['timePeriod']],
    [
      'Custom over a month',
      { timeframe: 'Custom', timePeriod: { from: '2024-01-01', to: '2024-02-01' } },
      ['timePeriod'],
    ],
    [
      'to before from',
      { timeframe: 'Custom', timePeriod: { from: '2024-01-10', to: '2024-01-01' } },
      ['timePeriod.to'],
    ],
    [
      'an impossible date',
      { timeframe: 'Custom', timePeriod: { from: '2024-02-01', to: '2024-02-30' } },
      ['timePeriod.to'],
    ],
    [
      'a date without zone',
      { timeframe: 'Custom', timePeriod: { from: '2024-02-01T00:00:00', to: '2024-02-03' } },
      ['timePeriod.from'],
    ],
    ['an unknown timeframe', { timeframe: 'Yesterday' }, ['timeframe']],
    ['an unknown dataset', { dataset: 'Bogus' }, ['dataset']],
    ['PriceSheet at subscription scope', { dataset: 'PriceSheet', scope: SUBSCRIPTION }, ['dataset']],
    [
      'an MCA price sheet with Daily granularity',
      {
        dataset: 'PriceSheet',
        granularity: 'Daily',
        scope:
          '/providers/Microsoft.Billing/billingAccounts/11111111-1111-1111-1111-111111111111:22222222-2222-2222-2222-222222222222_2019-05-31/billingProfiles/PROF-1',
      },
      ['granularity'],
    ],
    [
      'a root folder with a billing account id',
      {
        destination: {
          resourceId: STORAGE_ID,
          container: 'exports',
          rootFolderPath: 'providers/Microsoft.Billing/billingAccounts/aaaa:bbbb_2019-05-31',
        },
      },
      ['destination.rootFolderPath'],
    ],
    [
      'FocusCost at management group scope',
      { dataset: 'FocusCost', scope: '/providers/Microsoft.Management/managementGroups/mg' },
      ['dataset'],
    ],
    [
      'AmortizedCost at management group scope (only Usage: Learn, azure-powershell#19453)',
      { dataset: 'AmortizedCost', scope: '/providers/Microsoft.Management/managementGroups/mg' },
      ['dataset'],
    ],
    [
      'Usage at management group scope as Parquet (Csv only there)',
      {
        dataset: 'Usage',
        scope: '/providers/Microsoft.Management/managementGroups/mg',
        format: 'Parquet',
        compression: 'snappy',
      },
      ['format'],
    ],
    [
      'ReservationDetails gzipped (uncompressed CSV only)',
      { dataset: 'ReservationDetails', compression: 'gzip' },
      ['compression'],
    ],
    [
      'ReservationTransactions as Parquet',
      { dataset: 'ReservationTransactions', format: 'Parquet' },
      ['format'],
    ],
    ['an invalid scope', { scope: '/subscriptions/nope' }, ['scope']],
    ['resourceId and SAS together', { destination: { ...sas, resourceId: STORAGE_ID } }, ['destination']],
    ['no destination', { destination: undefined }, ['destination']],
    ['neither resourceId nor SAS', { destination: { container: 'exports' } }, ['destination']],
    [
      'SAS without token',
      { destination: { storageAccount: 'partnerexports', container: 'exports' } },
      ['destination.sasToken'],
    ],
    [
      'SAS token without a signature',
      { destination: { ...sas, sasToken: 'sv=2022-11-02&sp=rwdlac' } },
      ['destination.sasToken'],
    ],
    [
      'a bad storage account',
      { destination: { ...sas, storageAccount: 'Partner_Exports' } },
      ['destination.storageAccount'],
    ],
    [
      'a bad resource id',
      { destination: { resourceId: '/subscriptions/x/storage', container: 'exports' } },
      ['destination.resourceId'],
    ],
    [
      'an upper-case container',
      { destination: { resourceId: STORAGE_ID, container: 'Exports' } },
      ['destination.container'],
    ],
    [
      'a root folder with ..',
      { destination: { resourceId: STORAGE_ID, container: 'exports', rootFolderPath: 'a/../b' } },
      ['destination.rootFolderPath'],
    ],
    [
      'a root folder with ?',
      { destination: { resourceId: STORAGE_ID, container: 'exports', rootFolderPath: 'a?b' } },
      ['destination.rootFolderPath'],
    ],
    ['a bad dataVersion', { dataVersion: 'latest please' }, ['dataVersion']],
    ['an unknown granularity', { granularity: 'Hourly' }, ['granularity']],
    ['empty columns', { columns: [] }, ['columns']],
    ['filters on ActualCost', { filters: [{ name: 'LookBackPeriod', value: 'Last7Days' }] }, ['filters']],
    [
      'a bad filter value',
      { dataset: 'ReservationRecommendations', filters: [{ name: 'LookBackPeriod', value: 'Last9Days' }] },
      ['filters[0].value'],
    ],
    ['partitionData as text', { partitionData: 'yes' }, ['partitionData']],
    ['an unknown overwrite behaviour', { dataOverwriteBehavior: 'Append' }, ['dataOverwriteBehavior']],
    ['a long description', { description: 'x'.repeat(1001) }, ['description']],
    [
      'an Active schedule without recurrence or start',
      { schedule: { status: 'Active' } },
      ['schedule.recurrence', 'schedule.recurrencePeriod'],
    ],
    [
      'a recurrence ending before it starts',
      {
        schedule: {
          status: 'Active',
          recurrence: 'Daily',
          recurrencePeriod: { from: '2030-02-01', to: '2030-01-01' },
        },
      },
      ['schedule.recurrencePeriod.to'],
    ],
    ['an unknown schedule status', { schedule: { status: 'Paused' } }, ['schedule.status']],
    [
      'an invalid identity location',
      { managedIdentity: { location: 'west-europe!' } },
      ['managedIdentity.location'],
    ],
    ['an empty eTag', { eTag: '' }, ['eTag']],
    [
      'several problems at once',
      { format: 'Parquet', compression: 'gzip', timeframe: 'Custom', destination: { container: 'X' } },
      ['timePeriod', 'compression', 'destination', 'destination.container'],
    ],
  ])('%s', (_label, change, fields) => {
    expect(problemsOf({ ...base, ...change })).toEqual(fields);
  });

  test('a rejected SAS token is never echoed', () => {
    const secret = 'se=2030-01-01&sp=rwdlac&verysecretvalue';
    try {
      buildExportBody({ ...base, destination: { ...sas, sasToken: secret } });
      throw new Error('expected ExportBodyError');
    } catch (error) {
      expect(error).toBeInstanceOf(ExportBodyError);
      expect((error as Error).message).not.toContain('verysecretvalue');
      expect((error as Error).message).toContain('value not shown');
    }
  });

  test('the run request validates its period the same way', () => {
    expect(buildRunRequest(undefined)).toBeUndefined();
    const request = buildRunRequest({ from: '2023-12-01', to: '2023-12-31' });
    expect(errorsOf(validators.runRequest, request)).toEqual([]);
    expect(errorsOf(validators.strictRunRequest, request)).toEqual([]);
    expect(() => buildRunRequest({ from: '2023-12-01', to: '2024-01-01' })).toThrow(ExportBodyError);
    expect(() => buildRunRequest({ from: '2023-12-01' })).toThrow(/timePeriod.to/);
  });
});

describe('parsing the spec examples', () => {
  test('ExportGetBySubscription: every 2025-03-01 field is kept', () => {
    const body = ((readJson('examples/ExportGetBySubscription.json').responses as Json)['200'] as Json).body;
    expect(parseExport(body)).toEqual({
      id: 'subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.CostManagement/exports/TestExport',
      name: 'TestExport',
      type: 'Microsoft.CostManagement/exports',
      eTag: '"00000000-0000-0000-0000-000000000000"',
      identity: {
        type: 'SystemAssigned',
        principalId: '00000000-0000-0000-0000-000000000000',
        tenantId: '00000000-0000-0000-0000-000000000000',
      },
      location: 'centralus',
      properties: {
        format: 'Csv',
        deliveryInfo: {
          destination: {
            resourceId:
              '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/MYDEVTESTRG/providers/Microsoft.Storage/storageAccounts/ccmeastusdiag182',
            container: 'exports',
            rootFolderPath: 'ad-hoc',
          },
        },
        definition: {
          type: 'ActualCost',
          timeframe: 'Custom',
          timePeriod: { from: '2019-06-01T00:00:00Z', to: '2019-06-30T00:00:00Z' },
          dataSet: { granularity: 'Daily', configuration: { dataVersion: '2023-05-01' } },
        },
        partitionData: true,
        dataOverwriteBehavior: 'OverwritePreviousReport',
        compressionMode: 'gzip',
        exportDescription: 'This is a test export.',
      },
    });
  });

  test('ExportsGetBySubscription and ExportRunHistoryGetBySubscription parse in full', () => {
    const list = ((readJson('examples/ExportsGetBySubscription.json').responses as Json)['200'] as Json).body;
    const exports = parseExportList(list);
    expect(exports.length).toBeGreaterThan(0);
    for (const exported of exports)
      expect(exported.properties.deliveryInfo.destination.container).toBeTruthy();

    const history = (
      (readJson('examples/ExportRunHistoryGetBySubscription.json').responses as Json)['200'] as Json
    ).body;
    const runs = parseRunList(history);
    expect(runs.map((r) => [r.runId, r.executionType, r.status, r.submittedBy])).toEqual([
      ['1e25d58a-a3b0-4916-9542-6e04a89bc100', 'OnDemand', 'Completed', 'john.doe@gmail.com'],
      ['11ac6811-dca3-46ad-b326-4704cf0c58ef', 'Scheduled', 'Completed', 'System'],
    ]);
    expect(runs[0]!.runSettings?.compressionMode).toBe('gzip');
  });

  test('the Custom example response (invalid JSON in the spec: trailing commas) parses once repaired', () => {
    const text = readFileSync(
      join(SPEC_DIR, 'examples/ExportCreateOrUpdateByBillingAccountCustom.json'),
      'utf8',
    );
    expect(() => JSON.parse(text) as unknown).toThrow();
    const repaired = JSON.parse(text.replace(/,(\s*[}\]])/g, '$1')) as Json;
    const created = ((repaired.responses as Json)['201'] as Json).body;
    // "None" is outside the RecurrenceType enum: kept as the string the service sent.
    expect(parseExport(created).properties.schedule?.recurrence).toBe('None');
  });
});
