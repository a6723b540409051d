// The Exports emulator over real loopback HTTPS: routing at the nine scope kinds, ARM errors,
// eTags, SAS obfuscation, run semantics and the run state machine, faults, throttling, counters,
// and delivery into the jest Azurite (SAS valid and expired).
import https from 'node:https';

import {
  AccountSASPermissions,
  AccountSASResourceTypes,
  AccountSASServices,
  BlobServiceClient,
  generateAccountSASQueryParameters,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';

import { AZURITE_ACCOUNT, AZURITE_KEY } from '../../dev/azurite';
import { type RunningEmulator, startEmulator } from '../../dev/emulator/server';
import { OBFUSCATED_SAS, SAS_FAILURE_MESSAGE } from '../../dev/emulator/state';
import { Throttle, TokenBucket } from '../../dev/emulator/throttle';
import { testStorageConnection, uniqueName } from '../support/storage';

const API = '2025-03-01';
const SUB = '00000000-0000-0000-0000-0000000000aa';

// Untyped JSON from the wire, read freely by the tests.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Json;
  text: string;
}

function call(
  emu: RunningEmulator,
  method: string,
  path: string,
  opts: {
    body?: unknown;
    rawBody?: string;
    token?: string | null;
    apiVersion?: string | null;
    headers?: Record<string, string>;
  } = {},
): Promise<Reply> {
  const url = new URL(path, emu.url);
  const apiVersion = opts.apiVersion === undefined ? API : opts.apiVersion;
  if (apiVersion !== null) url.searchParams.set('api-version', apiVersion);
  const text = opts.rawBody ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token !== null) headers.authorization = `Bearer ${opts.token ?? 'test-token'}`;
  if (text !== undefined) headers['content-type'] = 'application/json';
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, ca: emu.caPem, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          text: raw,
          body: raw ? JSON.parse(raw) : undefined,
        });
      });
    });
    req.on('error', reject);
    req.end(text);
  });
}

const exportsPath = (scope: string, name?: string, suffix = '') =>
  `/${scope.replace(/^\//, '')}/providers/Microsoft.CostManagement/exports${name ? `/${encodeURIComponent(name)}` : ''}${suffix}`;

function exportBody(
  overrides: { type?: string; timeframe?: string; timePeriod?: { from: string; to: string } } = {},
) {
  const timeframe = overrides.timeframe ?? 'Custom';
  return {
    properties: {
      schedule: { status: 'Inactive' },
      format: 'Csv',
      deliveryInfo: {
        destination: {
          type: 'AzureBlob',
          resourceId: `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct`,
          container: 'exports',
          rootFolderPath: 'emulator',
        },
      },
      definition: {
        type: overrides.type ?? 'ActualCost',
        timeframe,
        ...(timeframe === 'Custom'
          ? {
              timePeriod: overrides.timePeriod ?? {
                from: '2025-01-01T00:00:00Z',
                to: '2025-01-31T00:00:00Z',
              },
            }
          : {}),
        dataSet: { granularity: 'Daily', configuration: { dataVersion: '2021-10-01' } },
      },
      partitionData: true,
      dataOverwriteBehavior: 'OverwritePreviousReport',
      compressionMode: 'gzip',
    },
  };
}

function jwt(claims: Record<string, string>): string {
  const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${enc({ alg: 'none', typ: 'JWT' })}.${enc(claims)}.sig`;
}

const SCOPES: [string, string][] = [
  ['subscription', `/subscriptions/${SUB}`],
  ['resourceGroup', `subscriptions/${SUB}/resourceGroups/my-rg`],
  ['managementGroup', '/providers/Microsoft.Management/managementGroups/mg1'],
  ['billingAccount', 'providers/Microsoft.Billing/billingAccounts/123456'],
  ['department', '/providers/Microsoft.Billing/billingAccounts/123456/departments/42'],
  ['enrollmentAccount', '/providers/Microsoft.Billing/billingAccounts/123456/enrollmentAccounts/77'],
  [
    'billingProfile',
    '/providers/Microsoft.Billing/billingAccounts/11111111-1111-1111-1111-111111111111:22222222-2222-2222-2222-222222222222_2019-05-31/billingProfiles/BP-1',
  ],
  [
    'invoiceSection',
    '/providers/Microsoft.Billing/billingAccounts/11111111-1111-1111-1111-111111111111:22222222-2222-2222-2222-222222222222_2019-05-31/billingProfiles/BP-1/invoiceSections/IS-1',
  ],
  [
    'customer',
    '/providers/Microsoft.Billing/billingAccounts/11111111-1111-1111-1111-111111111111:22222222-2222-2222-2222-222222222222_2019-05-31/customers/33333333-3333-3333-3333-333333333333',
  ],
];

describe('Exports emulator API', () => {
  let emu: RunningEmulator;

  beforeAll(async () => {
    emu = await startEmulator({ speedFactor: 1, clock: { now: '2025-03-15T12:00:00Z' } });
  });
  afterAll(async () => emu.stop());
  beforeEach(async () => {
    await emu.admin.reset();
    await emu.admin.setFaults({ runFailureRate: 0, runTimeoutRate: 0, serverErrorRate: 0, noDataMonths: [] });
    await emu.admin.setThrottle({
      runPerPrincipal: null,
      runPerScope: null,
      otherPerPrincipal: null,
      otherPerScope: null,
    });
    await emu.admin.setClock({ now: '2025-03-15T12:00:00Z' });
  });

  test.each(SCOPES)('all six operations work at %s scope', async (kind, scope) => {
    const name = 'Daily-Costs';
    // A management group exports only Usage (Learn; azure-powershell#19453).
    const type = kind === 'managementGroup' ? 'Usage' : 'ActualCost';
    const created = await call(emu, 'PUT', exportsPath(scope, name), { body: exportBody({ type }) });
    expect(created.status).toBe(201);
    expect(created.body.name).toBe(name);
    expect(created.body.type).toBe('Microsoft.CostManagement/exports');
    expect(created.body.id).toMatch(/^\/.+\/providers\/Microsoft\.CostManagement\/exports\/Daily-Costs$/);
    expect(created.body.eTag).toMatch(/^"[0-9a-f-]{36}"$/);

    // Other casing of the scope's segments and of the name reach the same export.
    const shouted = scope.replace(/providers/i, 'PROVIDERS').replace(/subscriptions/i, 'Subscriptions');
    const got = await call(
      emu,
      'GET',
      exportsPath(shouted, name.toUpperCase()).replace(
        'Microsoft.CostManagement',
        'microsoft.costmanagement',
      ),
    );
    expect(got.status).toBe(200);
    expect(got.body.eTag).toBe(created.body.eTag);

    const updated = await call(emu, 'PUT', exportsPath(scope, name), {
      body: { ...exportBody({ type }), eTag: got.body.eTag },
    });
    expect(updated.status).toBe(200);
    expect(updated.body.eTag).not.toBe(created.body.eTag);

    const list = await call(emu, 'GET', exportsPath(scope));
    expect(list.status).toBe(200);
    expect(list.body.value.map((e: { name: string }) => e.name)).toEqual([name]);

    const run = await call(emu, 'POST', exportsPath(scope, name, '/run'));
    expect(run.status).toBe(200);
    expect(run.text).toBe('');

    const history = await call(emu, 'GET', exportsPath(scope, name, '/runHistory'));
    expect(history.status).toBe(200);
    expect(history.body.value).toHaveLength(1);
    expect(history.body.value[0].id).toMatch(/\/exports\/Daily-Costs\/Run\/[0-9a-f-]{36}$/);

    const deleted = await call(emu, 'DELETE', exportsPath(scope, name));
    expect(deleted.status).toBe(200);
    expect(deleted.text).toBe('');
    expect((await call(emu, 'GET', exportsPath(scope, name))).status).toBe(404);
  });

  test('exports are kept per scope: the same name at two scopes is two exports', async () => {
    await call(emu, 'PUT', exportsPath(SCOPES[0]![1], 'same'), { body: exportBody() });
    await call(emu, 'PUT', exportsPath(SCOPES[1]![1], 'same'), { body: exportBody() });
    expect((await call(emu, 'GET', exportsPath(SCOPES[0]![1]))).body.value).toHaveLength(1);
    expect((await emu.admin.exports()).map((e) => e.scope).sort()).toEqual(
      [`/subscriptions/${SUB}`, `/subscriptions/${SUB}/resourceGroups/my-rg`].sort(),
    );
  });

  describe('ARM errors', () => {
    const scope = SCOPES[0]![1];

    test('no bearer token: 401 AuthenticationFailed with WWW-Authenticate', async () => {
      const r = await call(emu, 'GET', exportsPath(scope), { token: null });
      expect(r.status).toBe(401);
      expect(r.body.error.code).toBe('AuthenticationFailed');
      expect(r.headers['www-authenticate']).toMatch(/^Bearer /);
    });

    test.each([
      [null, 'MissingApiVersionParameter'],
      ['latest', 'InvalidApiVersionParameter'],
      ['2022-10-01', 'NoRegisteredProviderFound'],
    ])('api-version %p: 400 %s', async (apiVersion, code) => {
      const r = await call(emu, 'GET', exportsPath(scope), { apiVersion });
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe(code);
    });

    test('unknown export: 404 NotFound for get, run, runHistory and delete', async () => {
      for (const [method, suffix] of [
        ['GET', ''],
        ['POST', '/run'],
        ['GET', '/runHistory'],
        ['DELETE', ''],
      ] as const) {
        const r = await call(emu, method, exportsPath(scope, 'missing', suffix));
        expect([method, suffix, r.status, r.body.error.code]).toEqual([method, suffix, 404, 'NotFound']);
      }
    });

    test('a scope that is not one of the nine kinds: 400 naming it', async () => {
      const r = await call(
        emu,
        'GET',
        '/subscriptions/not-a-guid/providers/Microsoft.CostManagement/exports',
      );
      expect(r.status).toBe(400);
      expect(r.body.error.message).toContain('not-a-guid');
    });

    test.each<[string, (b: Json) => void, RegExp]>([
      ['missing definition', (b) => delete b.properties.definition, /'properties\.definition' is required/],
      [
        'missing container',
        (b) => delete b.properties.deliveryInfo.destination.container,
        /destination\.container' is required/,
      ],
      [
        'bad format',
        (b) => (b.properties.format = 'Xml'),
        /'properties\.format' must be one of: Csv, Parquet/,
      ],
      [
        'bad timeframe',
        (b) => (b.properties.definition.timeframe = 'Yesterday'),
        /properties\.definition\.timeframe/,
      ],
      [
        'non-boolean partitionData',
        (b) => (b.properties.partitionData = 'yes'),
        /properties\.partitionData' must be boolean/,
      ],
      [
        'bad date',
        (b) => (b.properties.definition.timePeriod.from = 'soon'),
        /timePeriod\.from' must match format "date-time"/,
      ],
      [
        'Custom without period',
        (b) => delete b.properties.definition.timePeriod,
        /timePeriod' is required when timeframe is Custom/,
      ],
      [
        'no resourceId nor SAS',
        (b) => delete b.properties.deliveryInfo.destination.resourceId,
        /either 'resourceId' or both/,
      ],
      [
        'snappy with Csv',
        (b) => (b.properties.compressionMode = 'snappy'),
        /compressionMode' snappy cannot be used/,
      ],
      [
        'PriceSheet at subscription scope',
        (b) => (b.properties.definition.type = 'PriceSheet'),
        /Invalid definition type 'PriceSheet'; valid values: 'ActualCost', 'AmortizedCost', 'FocusCost', 'Usage'\./,
      ],
      ['body is not an object', (b) => (b.properties = 5), /'properties' must be object/],
    ])('invalid body (%s): 400 naming the field', async (_label, mutate, message) => {
      const body: Json = exportBody();
      mutate(body);
      const r = await call(emu, 'PUT', exportsPath(scope, 'bad'), { body });
      expect(r.status).toBe(400);
      expect(r.body.error.message).toMatch(message);
    });

    test('body that is not JSON: 400 InvalidRequestContent', async () => {
      const r = await call(emu, 'PUT', exportsPath(scope, 'bad'), { rawBody: '{"properties":' });
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe('InvalidRequestContent');
    });

    test('enum values are matched case-insensitively and echoed as sent', async () => {
      const body: Json = exportBody();
      body.properties.format = 'csv';
      body.properties.definition.type = 'actualcost';
      const r = await call(emu, 'PUT', exportsPath(scope, 'lower'), { body });
      expect(r.status).toBe(201);
      expect(r.body.properties.format).toBe('csv');
    });
  });

  describe('eTag, read-only fields and the SAS token', () => {
    const scope = SCOPES[3]![1];

    test('update without eTag: 400 (Cost Management wording); stale eTag: 412; If-Match works too', async () => {
      await call(emu, 'PUT', exportsPath(scope, 'e'), { body: exportBody() });
      const missing = await call(emu, 'PUT', exportsPath(scope, 'e'), { body: exportBody() });
      expect(missing.status).toBe(400);
      expect(missing.body.error).toEqual({
        code: '400',
        message:
          'Etag value required for update operation of report: e.Please get the latest to avoid overwrite.',
      });
      const stale = await call(emu, 'PUT', exportsPath(scope, 'e'), {
        body: { ...exportBody(), eTag: '"00000000-0000-0000-0000-000000000000"' },
      });
      expect(stale.status).toBe(412);
      expect(stale.body.error.code).toBe('PreconditionFailed');
      const current = (await call(emu, 'GET', exportsPath(scope, 'e'))).body.eTag as string;
      const viaHeader = await call(emu, 'PUT', exportsPath(scope, 'e'), {
        body: exportBody(),
        headers: { 'if-match': current },
      });
      expect(viaHeader.status).toBe(200);
    });

    test('read-only fields on input are ignored', async () => {
      const body: Json = {
        ...exportBody(),
        id: '/bogus',
        name: 'bogus',
        type: 'bogus',
        identity: { type: 'SystemAssigned', principalId: 'nope', tenantId: 'nope' },
        location: 'centralus',
      };
      body.properties.nextRunTimeEstimate = 'whenever';
      body.properties.runHistory = { value: [{ id: 'x' }] };
      body.properties.systemSuspensionContext = { suspensionCode: 'x' };
      const r = await call(emu, 'PUT', exportsPath(scope, 'ro'), { body });
      expect(r.status).toBe(201);
      expect(r.body.name).toBe('ro');
      expect(r.body.id).toBe(
        '/providers/Microsoft.Billing/billingAccounts/123456/providers/Microsoft.CostManagement/exports/ro',
      );
      expect(r.body.identity.principalId).toMatch(/^[0-9a-f-]{36}$/);
      expect(r.body.properties.runHistory).toBeUndefined();
      expect(r.body.properties.nextRunTimeEstimate).toBeUndefined();
    });

    test('sasToken is always returned obfuscated, and a destination type is not echoed', async () => {
      const body: Json = exportBody();
      body.properties.deliveryInfo.destination = {
        type: 'AzureBlob',
        storageAccount: 'partnerstore',
        container: 'exports',
        sasToken: 'sv=2022-11-02&ss=b&srt=sco&sp=rwdlac&se=2030-01-01T00:00:00Z&sig=SECRET',
      };
      const r = await call(emu, 'PUT', exportsPath(scope, 'sas'), { body });
      expect(r.status).toBe(201);
      expect(r.body.properties.deliveryInfo.destination).toEqual({
        container: 'exports',
        storageAccount: 'partnerstore',
        sasToken: OBFUSCATED_SAS,
      });
      for (const text of [
        r.text,
        (await call(emu, 'GET', exportsPath(scope, 'sas'))).text,
        JSON.stringify(await emu.admin.exports()),
      ]) {
        expect(text).not.toContain('SECRET');
      }
      const firstPutWithPlaceholder = await call(emu, 'PUT', exportsPath(scope, 'sas2'), {
        body: {
          ...body,
          properties: {
            ...body.properties,
            deliveryInfo: {
              destination: { ...body.properties.deliveryInfo.destination, sasToken: OBFUSCATED_SAS },
            },
          },
        },
      });
      expect(firstPutWithPlaceholder.status).toBe(400);
    });
  });

  describe('runs', () => {
    const scope = SCOPES[0]![1];

    test.each<[string, unknown, RegExp]>([
      ['{}', {}, /^Invalid time period provided\.$/],
      [
        'to in the future',
        { timePeriod: { from: '2025-03-01T00:00:00Z', to: '2025-03-20T00:00:00Z' } },
        /cannot be in the future/,
      ],
      [
        'more than one calendar month',
        { timePeriod: { from: '2025-01-15T00:00:00Z', to: '2025-02-15T00:00:00Z' } },
        /1 calendar month/,
      ],
      [
        'from after to',
        { timePeriod: { from: '2025-02-02T00:00:00Z', to: '2025-02-01T00:00:00Z' } },
        /must not be after/,
      ],
      ['period without to', { timePeriod: { from: '2025-02-02T00:00:00Z' } }, /timePeriod\.to' is required/],
    ])('run body %s is refused with 400', async (_label, body, message) => {
      await call(emu, 'PUT', exportsPath(scope, 'r'), { body: exportBody() });
      const r = await call(emu, 'POST', exportsPath(scope, 'r', '/run'), { body });
      expect(r.status).toBe(400);
      expect(r.body.error.message).toMatch(message);
      expect(await emu.admin.runs()).toHaveLength(0);
    });

    test('a one-month period in the past is accepted (Jan 15 - Feb 14 spans one month)', async () => {
      await call(emu, 'PUT', exportsPath(scope, 'r'), { body: exportBody() });
      const r = await call(emu, 'POST', exportsPath(scope, 'r', '/run'), {
        body: { timePeriod: { from: '2025-01-15T00:00:00Z', to: '2025-02-14T00:00:00Z' } },
      });
      expect(r.status).toBe(200);
      const [run] = await emu.admin.runs();
      expect([run!.from, run!.to]).toEqual(['2025-01-15', '2025-02-14']);
    });

    test.each([
      ['MonthToDate', undefined, ['2025-03-01', '2025-03-15']],
      ['TheLastMonth', undefined, ['2025-02-01', '2025-02-28']],
      ['TheCurrentMonth', undefined, ['2025-03-01', '2025-03-31']],
      ['WeekToDate', undefined, ['2025-03-10', '2025-03-15']],
      ['MonthToDate', ' ', ['2025-03-01', '2025-03-15']],
    ])('no body runs the %s definition against the emulator clock', async (timeframe, rawBody, expected) => {
      await call(emu, 'PUT', exportsPath(scope, 'tf'), { body: exportBody({ timeframe }) });
      const r = await call(
        emu,
        'POST',
        exportsPath(scope, 'tf', '/run'),
        rawBody === undefined ? {} : { rawBody },
      );
      expect(r.status).toBe(200);
      const [run] = await emu.admin.runs();
      expect([run!.from, run!.to]).toEqual(expected);
    });

    test('runs move Queued -> InProgress -> Completed as the virtual clock advances; history has the spec fields', async () => {
      await call(emu, 'PUT', exportsPath(scope, 'sm'), { body: exportBody() });
      await call(emu, 'POST', exportsPath(scope, 'sm', '/run'), {
        token: jwt({ oid: 'o1', upn: 'ada@contoso.com' }),
      });
      const status = async () =>
        (await call(emu, 'GET', exportsPath(scope, 'sm', '/runHistory'))).body.value[0].properties;
      expect((await status()).status).toBe('Queued');
      await emu.admin.advanceClock(20_000);
      expect((await status()).status).toBe('InProgress');
      await emu.admin.advanceClock(40_000);
      await emu.admin.waitForIdle();
      const done = await status();
      expect(done).toMatchObject({
        executionType: 'OnDemand',
        status: 'Completed',
        submittedBy: 'ada@contoso.com',
        startDate: '2025-01-01T00:00:00Z',
        endDate: '2025-01-31T00:00:00Z',
        runSettings: { format: 'Csv', definition: { type: 'ActualCost', timeframe: 'Custom' } },
      });
      expect(Date.parse(done.processingEndTime)).toBeGreaterThanOrEqual(Date.parse(done.processingStartTime));
      expect(Date.parse(done.processingStartTime)).toBeGreaterThanOrEqual(
        Date.parse(done.submittedTime) + 20_000,
      );
    });

    test('a second run while one is Queued is accepted and queued behind it (FIFO per export)', async () => {
      await call(emu, 'PUT', exportsPath(scope, 'q'), { body: exportBody() });
      const period = (m: string) => ({
        timePeriod: { from: `2025-${m}-01T00:00:00Z`, to: `2025-${m}-28T00:00:00Z` },
      });
      expect((await call(emu, 'POST', exportsPath(scope, 'q', '/run'), { body: period('01') })).status).toBe(
        200,
      );
      expect((await call(emu, 'POST', exportsPath(scope, 'q', '/run'), { body: period('02') })).status).toBe(
        200,
      );
      await emu.admin.advanceClock(20_000);
      const statuses = (await emu.admin.runs()).map((r) => [r.from, r.status]);
      expect(statuses).toEqual([
        ['2025-01-01', 'InProgress'],
        ['2025-02-01', 'Queued'],
      ]);
      await emu.admin.advanceClock(40_000);
      await emu.admin.advanceClock(40_000);
      await emu.admin.waitForIdle();
      expect((await emu.admin.runs()).map((r) => r.status)).toEqual(['Completed', 'Completed']);
    });

    test('$expand=runHistory: the last run per export on List, the last 10 on Get', async () => {
      await call(emu, 'PUT', exportsPath(scope, 'x'), { body: exportBody() });
      for (let i = 0; i < 12; i += 1) await call(emu, 'POST', exportsPath(scope, 'x', '/run'));
      const list = await call(emu, 'GET', `${exportsPath(scope)}?$expand=runHistory`);
      expect(list.body.value[0].properties.runHistory.value).toHaveLength(1);
      const got = await call(emu, 'GET', `${exportsPath(scope, 'x')}?$expand=runHistory`);
      expect(got.body.properties.runHistory.value).toHaveLength(10);
      const plain = await call(emu, 'GET', exportsPath(scope, 'x'));
      expect(plain.body.properties.runHistory).toBeUndefined();
    });

    test.each([
      [{ runFailureRate: 1 }, 'Failed', 'InternalServerError'],
      [{ runTimeoutRate: 1 }, 'Timeout', 'Timeout'],
      [{ noDataMonths: ['2025-01'] }, 'DataNotAvailable', undefined],
    ])('fault %j ends runs %s', async (faults, expected, code) => {
      await emu.admin.setFaults(faults);
      await call(emu, 'PUT', exportsPath(scope, 'f'), { body: exportBody() });
      await call(emu, 'POST', exportsPath(scope, 'f', '/run'));
      await emu.admin.advanceClock(120_000);
      await emu.admin.waitForIdle();
      const [run] = await emu.admin.runs();
      expect(run!.status).toBe(expected);
      expect(run!.error?.code).toBe(code);
    });

    test('admin can force a run outcome', async () => {
      await call(emu, 'PUT', exportsPath(scope, 'force'), { body: exportBody() });
      await call(emu, 'POST', exportsPath(scope, 'force', '/run'));
      const [queued] = await emu.admin.runs();
      await emu.admin.forceRunOutcome(queued!.runId, 'Failed', { code: 'Custom', message: 'forced' });
      await emu.admin.waitForIdle();
      const history = await call(emu, 'GET', exportsPath(scope, 'force', '/runHistory'));
      expect(history.body.value[0].properties).toMatchObject({
        status: 'Failed',
        error: { code: 'Custom', message: 'forced' },
      });
    });

    test('a scheduled run is submitted by System', async () => {
      await call(emu, 'PUT', exportsPath(scope, 'sched'), { body: exportBody() });
      const run = await emu.admin.triggerScheduledRun(scope, 'sched');
      expect([run.executionType, run.submittedBy]).toEqual(['Scheduled', 'System']);
    });
  });

  describe('5xx faults, throttling and counters', () => {
    const scope = SCOPES[0]![1];

    test('serverErrorRate 1 answers 503 with Retry-After', async () => {
      await emu.admin.setFaults({ serverErrorRate: 1 });
      const r = await call(emu, 'GET', exportsPath(scope));
      expect(r.status).toBe(503);
      expect(r.headers['retry-after']).toBe('1');
      expect(r.body.error.code).toBe('ServiceUnavailable');
    });

    test('per-principal limit: 429 with Retry-After, the client header and an ARM body; other principals unaffected', async () => {
      await emu.admin.setThrottle({ otherPerPrincipal: { limit: 2, windowSeconds: 60 } });
      const ada = jwt({ oid: 'ada' });
      const first = await call(emu, 'GET', exportsPath(scope), { token: ada });
      expect(first.status).toBe(200);
      // Admitted answers report what the bucket has left, as Cost Management does (AzureTRE#2835).
      expect(first.headers['x-ms-ratelimit-remaining-microsoft.costmanagement-clienttype-requests']).toBe(
        'DefaultQuota:1',
      );
      const second = await call(emu, 'GET', exportsPath(scope), { token: ada });
      expect(second.headers['x-ms-ratelimit-remaining-microsoft.costmanagement-clienttype-requests']).toBe(
        'DefaultQuota:0',
      );
      const third = await call(emu, 'GET', exportsPath(scope), { token: ada });
      expect(third.status).toBe(429);
      expect(third.body.error.code).toBe('TooManyRequests');
      expect(Number(third.headers['retry-after'])).toBeGreaterThanOrEqual(29);
      expect(third.headers['x-ms-ratelimit-microsoft.costmanagement-client-retry-after']).toBe(
        third.headers['retry-after'],
      );
      expect((await call(emu, 'GET', exportsPath(scope), { token: jwt({ oid: 'bob' }) })).status).toBe(200);
      // A different ClientType is a different bucket (Cost Management's documented behaviour).
      expect(
        (await call(emu, 'GET', exportsPath(scope), { token: ada, headers: { ClientType: 'autopilot' } }))
          .status,
      ).toBe(200);
    });

    test('run limit per scope is separate from other calls and reports the entity header', async () => {
      await emu.admin.setThrottle({ runPerScope: { limit: 1, windowSeconds: 10 } });
      await call(emu, 'PUT', exportsPath(scope, 't'), { body: exportBody() });
      const first = await call(emu, 'POST', exportsPath(scope, 't', '/run'));
      expect(first.status).toBe(200);
      expect(first.headers['x-ms-ratelimit-remaining-microsoft.costmanagement-entity-requests']).toBe(
        'DefaultQuota:0',
      );
      const second = await call(emu, 'POST', exportsPath(scope, 't', '/run'), { token: 'someone-else' });
      expect(second.status).toBe(429);
      expect(second.headers['x-ms-ratelimit-microsoft.costmanagement-entity-retry-after']).toBe('10');
      expect((await call(emu, 'GET', exportsPath(scope, 't'))).status).toBe(200);
      expect((await call(emu, 'POST', exportsPath(SCOPES[1]![1], 'none', '/run'))).status).toBe(404);
    });

    test('every call is counted per operation, scope, export and status; counters reset', async () => {
      await call(emu, 'PUT', exportsPath(scope, 'Counted'), { body: exportBody() });
      await call(emu, 'GET', exportsPath(scope, 'counted'));
      await call(emu, 'GET', exportsPath(scope, 'missing'));
      await call(emu, 'POST', exportsPath(scope, 'Counted', '/run'));
      const c = await emu.admin.counters();
      expect(c.total).toBe(4);
      expect(c.byOperation).toEqual({ Exports_CreateOrUpdate: 1, Exports_Get: 2, Exports_Execute: 1 });
      expect(c.byScope[`/subscriptions/${SUB}`]).toEqual(c.byOperation);
      expect(c.byExport[`/subscriptions/${SUB}/providers/Microsoft.CostManagement/exports/counted`]).toEqual({
        Exports_CreateOrUpdate: 1,
        Exports_Get: 1,
        Exports_Execute: 1,
      });
      expect(c.byStatus).toEqual({ '201': 1, '200': 2, '404': 1 });
      expect((await emu.admin.requests()).map((r) => r.operation)).toHaveLength(4);
      await emu.admin.resetCounters();
      expect((await emu.admin.counters()).total).toBe(0);
    });
  });
});

describe('throttle buckets (injected clock)', () => {
  test('R per window: a burst of R, then one token every window/R, Retry-After rounded up', () => {
    let now = 0;
    const throttle = new Throttle({ runPerScope: { limit: 10, windowSeconds: 60 } }, () => now);
    for (let i = 0; i < 10; i += 1) expect(throttle.check('run', 'p', 's').allowed).toBe(true);
    expect(throttle.check('run', 'p', 's')).toEqual({
      allowed: false,
      rule: 'runPerScope',
      retryAfterSeconds: 6,
    });
    now += 5_999;
    expect(throttle.check('run', 'p', 's').allowed).toBe(false);
    now += 1;
    expect(throttle.check('run', 'p', 's').allowed).toBe(true);
    expect(throttle.check('other', 'p', 's').allowed).toBe(true);
  });

  test('a refused call costs nothing from the other bucket', () => {
    let now = 0;
    const bucket = new TokenBucket({ limit: 1, windowSeconds: 1 }, now);
    bucket.take(now);
    expect(bucket.waitMs(now)).toBe(1000);
    now += 500;
    expect(bucket.waitMs(now)).toBe(500);
  });
});

describe('delivery into Azurite', () => {
  let emu: RunningEmulator;
  const connection = testStorageConnection();
  const blobEndpoint = process.env.TEST_STORAGE_BLOB_ENDPOINT!;
  const service = BlobServiceClient.fromConnectionString(connection);
  const credential = new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY);
  const sas = (expiresOn: Date) =>
    generateAccountSASQueryParameters(
      {
        services: AccountSASServices.parse('b').toString(),
        resourceTypes: AccountSASResourceTypes.parse('sco').toString(),
        permissions: AccountSASPermissions.parse('rwdlac'),
        startsOn: new Date(Date.now() - 3_600_000),
        expiresOn,
      },
      credential,
    ).toString();

  beforeAll(async () => {
    emu = await startEmulator({
      speedFactor: Infinity,
      clock: { now: '2025-03-15T12:00:00Z' },
      storage: { blobEndpoint, connectionString: connection },
    });
  });
  afterAll(async () => emu.stop());

  const scope = 'providers/Microsoft.Billing/billingAccounts/7777';

  async function sasExport(name: string, container: string, token: string) {
    const body: Json = exportBody();
    body.properties.deliveryInfo.destination = {
      storageAccount: AZURITE_ACCOUNT,
      container,
      rootFolderPath: 'partner',
      sasToken: token,
    };
    const r = await call(emu, 'PUT', exportsPath(scope, name), { body });
    expect(r.status).toBe(201);
    return r.body;
  }

  async function blobsIn(container: string): Promise<string[]> {
    const client = service.getContainerClient(container);
    if (!(await client.exists())) return [];
    const names: string[] = [];
    for await (const b of client.listBlobsFlat()) names.push(b.name);
    return names;
  }

  test('a one-month run with a valid SAS lands a manifest and its files', async () => {
    const container = uniqueName('sasok');
    await sasExport('monthly', container, sas(new Date(Date.now() + 86_400_000)));
    const run = await call(emu, 'POST', exportsPath(scope, 'monthly', '/run'), {
      body: { timePeriod: { from: '2025-01-01T00:00:00Z', to: '2025-01-31T00:00:00Z' } },
    });
    expect(run.status).toBe(200);
    await emu.admin.waitForIdle();
    const history = (await call(emu, 'GET', exportsPath(scope, 'monthly', '/runHistory'))).body.value;
    const props = history[0].properties;
    expect(props.status).toBe('Completed');
    expect(props.runSettings.deliveryInfo.destination.sasToken).toBe(OBFUSCATED_SAS);
    const names = await blobsIn(container);
    expect(names).toContain(props.manifestFile);
    expect(names).toContain(props.fileName);
    const manifest = JSON.parse(
      (
        await service.getContainerClient(container).getBlobClient(props.manifestFile).downloadToBuffer()
      ).toString('utf8'),
    );
    expect(manifest.runInfo.runId).toBe(history[0].id.split('/Run/')[1]);
    for (const blob of manifest.blobs as { blobName: string }[]) expect(names).toContain(blob.blobName);
  });

  test('sending back the obfuscated sasToken on update keeps the working token', async () => {
    const container = uniqueName('saskeep');
    const created = await sasExport('keep', container, sas(new Date(Date.now() + 86_400_000)));
    const update = { ...exportBody(), eTag: created.eTag };
    update.properties.deliveryInfo.destination = created.properties.deliveryInfo.destination;
    expect((await call(emu, 'PUT', exportsPath(scope, 'keep'), { body: update })).status).toBe(200);
    await call(emu, 'POST', exportsPath(scope, 'keep', '/run'));
    await emu.admin.waitForIdle();
    const [last] = (await call(emu, 'GET', exportsPath(scope, 'keep', '/runHistory'))).body.value.slice(-1);
    expect(last.properties.status).toBe('Completed');
    expect((await blobsIn(container)).length).toBeGreaterThan(0);
  });

  test('an expired SAS token: the run fails with the documented message and writes nothing', async () => {
    const container = uniqueName('sasold');
    await sasExport('expired', container, sas(new Date(Date.now() - 60_000)));
    await call(emu, 'POST', exportsPath(scope, 'expired', '/run'), {
      body: { timePeriod: { from: '2025-01-01T00:00:00Z', to: '2025-01-31T00:00:00Z' } },
    });
    await emu.admin.waitForIdle();
    const [run] = (await call(emu, 'GET', exportsPath(scope, 'expired', '/runHistory'))).body.value;
    expect(run.properties.status).toBe('Failed');
    expect(run.properties.error.message).toBe(SAS_FAILURE_MESSAGE);
    expect(run.properties.error.message).toMatch(
      /\(Storage service error code: AuthorizationResourceTypeMismatch\)$/,
    );
    expect(await blobsIn(container)).toEqual([]);
  });

  test('a month configured as no data ends DataNotAvailable with no files', async () => {
    const container = uniqueName('nodata');
    await emu.admin.setFaults({ noDataMonths: ['2024-12'] });
    await sasExport('empty', container, sas(new Date(Date.now() + 86_400_000)));
    await call(emu, 'POST', exportsPath(scope, 'empty', '/run'), {
      body: { timePeriod: { from: '2024-12-01T00:00:00Z', to: '2024-12-31T00:00:00Z' } },
    });
    await emu.admin.waitForIdle();
    const [run] = await emu.admin.runs().then((runs) => runs.filter((r) => r.exportName === 'empty'));
    expect(run!.status).toBe('DataNotAvailable');
    expect(await blobsIn(container)).toEqual([]);
    await emu.admin.setFaults({ noDataMonths: [] });
  });
});
