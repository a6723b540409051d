// The Exports adapter against a scripted HTTPS server on loopback: real TLS (trusted through the
// caPem option, not NODE_EXTRA_CA_CERTS), the real SDK pipeline (bearer policy, user agent, our
// retry policy), real HTTP status handling.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';

import type { TokenCredential } from '@azure/identity';
import { DefaultAzureCredential } from '@azure/identity';

import {
  ArmRequestError,
  ArmResponseError,
  ArmServiceError,
  AuthorizationError,
  ConflictError,
  CostManagementError,
  DEFAULT_THROTTLE_WAIT_MS,
  ExportNotFoundError,
  MAX_THROTTLE_WAIT_MS,
  MIN_THROTTLE_WAIT_MS,
  ThrottledError,
} from '../../src/azure/armErrors';
import type { CostExportsClientOptions } from '../../src/azure/costExports';
import { CostExportsClient, createCostExportsClient } from '../../src/azure/costExports';
import {
  createCostManagementCredential,
  isLoopbackEndpoint,
  LOOPBACK_TOKEN,
  LoopbackTokenCredential,
} from '../../src/azure/credentials';
import { buildExportBody, ExportBodyError } from '../../src/azure/exportBody';
import { parseScope, ScopeError } from '../../src/domain/scope';
import type { FakeHandler, HttpsFake, RecordedRequest } from '../support/httpsFake';
import { startHttpsFake } from '../support/httpsFake';

const SUB = '00000000-0000-0000-0000-0000000000aa';
const MCA = 'aaaaaaaa-0000-0000-0000-000000000001:bbbbbbbb-0000-0000-0000-000000000002_2019-05-31';
const CUSTOMER = 'cccccccc-0000-0000-0000-000000000003';
const TOKEN = 'test-token-value';
const SIG = 'Zm9vYmFyYmF6cXV4c2VjcmV0c2lnbmF0dXJl%2Bxyz%3D';
const SAS = `sv=2022-11-02&ss=b&srt=sco&sp=rwdlac&se=2030-01-01T00:00:00Z&spr=https&sig=${SIG}`;

const staticCredential: TokenCredential = {
  getToken: () => Promise.resolve({ token: TOKEN, expiresOnTimestamp: Date.now() + 3_600_000 }),
};

let fake: HttpsFake;

beforeAll(async () => {
  fake = await startHttpsFake();
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => fake.reset());

let shared: CostExportsClient | undefined;

/** A client of the fake; the default one is shared so most tests reuse its TLS connection. */
function client(options: Partial<CostExportsClientOptions> = {}): CostExportsClient {
  if (Object.keys(options).length === 0) return (shared ??= create({}));
  return create(options);
}

function create(options: Partial<CostExportsClientOptions>): CostExportsClient {
  return new CostExportsClient({
    endpoint: fake.url,
    caPem: fake.caPem,
    credential: staticCredential,
    clientType: 'AutopilotTests',
    retry: { maxRetries: 2, retryDelayMs: 1, maxRetryDelayMs: 2 },
    ...options,
  });
}

const SAMPLE_EXPORT = {
  id: `subscriptions/${SUB}/providers/Microsoft.CostManagement/exports/daily`,
  name: 'daily',
  type: 'Microsoft.CostManagement/exports',
  eTag: '"etag-1"',
  properties: {
    format: 'Parquet',
    deliveryInfo: {
      destination: {
        storageAccount: 'partnerexports',
        sasToken: '*****',
        container: 'exports',
        rootFolderPath: 'x',
      },
    },
    definition: {
      type: 'FocusCost',
      timeframe: 'MonthToDate',
      dataSet: { granularity: 'Daily', configuration: { dataVersion: '1.0r2' } },
    },
    partitionData: true,
    dataOverwriteBehavior: 'OverwritePreviousReport',
    compressionMode: 'snappy',
    schedule: { status: 'Active', recurrence: 'Daily', recurrencePeriod: { from: '2030-01-01T00:00:00Z' } },
    nextRunTimeEstimate: '2030-01-01T06:00:00Z',
  },
};

const SAMPLE_RUN = {
  id: `subscriptions/${SUB}/providers/Microsoft.CostManagement/exports/daily/Run/1e25d58a-a3b0-4916-9542-6e04a89bc100`,
  properties: {
    executionType: 'OnDemand',
    status: 'Completed',
    submittedTime: '2024-02-03T18:33:03Z',
    startDate: '2024-01-01T00:00:00Z',
    endDate: '2024-01-31T00:00:00Z',
    manifestFile: 'root/daily/20240101-20240131/manifest.json',
  },
};

/** Answers like ARM: list, get, PUT (201), DELETE, run, runHistory. */
const armLike: FakeHandler = (r) => {
  if (r.method === 'GET' && r.path.endsWith('/exports'))
    return { status: 200, body: { value: [SAMPLE_EXPORT] } };
  if (r.method === 'GET' && r.path.endsWith('/runHistory'))
    return { status: 200, body: { value: [SAMPLE_RUN] } };
  if (r.method === 'GET') return { status: 200, body: SAMPLE_EXPORT };
  if (r.method === 'PUT') return { status: 201, body: SAMPLE_EXPORT };
  return { status: 200 };
};

function last(): RecordedRequest {
  const request = fake.requests.at(-1);
  if (!request) throw new Error('no request reached the fake');
  return request;
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

const putBody = () =>
  buildExportBody({
    dataset: 'ActualCost',
    timeframe: 'Custom',
    timePeriod: { from: '2024-01-01', to: '2024-01-31' },
    destination: { storageAccount: 'partnerexports', sasToken: SAS, container: 'exports' },
    dataVersion: '2021-10-01',
    compression: 'gzip',
    description: 'backfill 2024-01',
    managedIdentity: { location: 'westeurope' },
    eTag: '"etag-0"',
  });

describe('requests: method, path, query and headers at every scope kind', () => {
  const scopes: [string, string | (() => ReturnType<typeof parseScope>), string][] = [
    [
      'subscription (trailing slash, as the spec writes it)',
      `/subscriptions/${SUB}/`,
      `/subscriptions/${SUB}`,
    ],
    [
      'resource group (no leading slash)',
      `subscriptions/${SUB}/resourceGroups/rg-finops`,
      `/subscriptions/${SUB}/resourceGroups/rg-finops`,
    ],
    [
      'management group',
      '/providers/Microsoft.Management/managementGroups/mg-root',
      '/providers/Microsoft.Management/managementGroups/mg-root',
    ],
    [
      'EA billing account (parsed Scope)',
      () => parseScope('/providers/Microsoft.Billing/billingAccounts/123456'),
      '/providers/Microsoft.Billing/billingAccounts/123456',
    ],
    [
      'department',
      '/providers/Microsoft.Billing/billingAccounts/123456/departments/789',
      '/providers/Microsoft.Billing/billingAccounts/123456/departments/789',
    ],
    [
      'enrollment account',
      '/providers/Microsoft.Billing/billingAccounts/123456/enrollmentAccounts/456',
      '/providers/Microsoft.Billing/billingAccounts/123456/enrollmentAccounts/456',
    ],
    [
      'MCA billing profile',
      `/providers/Microsoft.Billing/billingAccounts/${MCA}/billingProfiles/AB12-CD34-EF5-GHI`,
      `/providers/Microsoft.Billing/billingAccounts/${MCA}/billingProfiles/AB12-CD34-EF5-GHI`,
    ],
    [
      'MCA invoice section',
      `/providers/Microsoft.Billing/billingAccounts/${MCA}/billingProfiles/AB12-CD34-EF5-GHI/invoiceSections/XY12-ZZ34-PQ5-RST`,
      `/providers/Microsoft.Billing/billingAccounts/${MCA}/billingProfiles/AB12-CD34-EF5-GHI/invoiceSections/XY12-ZZ34-PQ5-RST`,
    ],
    [
      'partner customer',
      `/providers/Microsoft.Billing/billingAccounts/${MCA}/customers/${CUSTOMER}`,
      `/providers/Microsoft.Billing/billingAccounts/${MCA}/customers/${CUSTOMER}`,
    ],
  ];

  test.each(scopes)('%s: all six operations', async (_label, scopeInput, scopePath) => {
    fake.setDefault(armLike);
    const api = client();
    const scope = typeof scopeInput === 'function' ? scopeInput() : scopeInput;
    const exportsPath = `${scopePath}/providers/Microsoft.CostManagement/exports`;
    const body = putBody();

    await expect(api.list(scope)).resolves.toHaveLength(1);
    await expect(api.get(scope, 'daily')).resolves.toMatchObject({ name: 'daily' });
    await expect(api.createOrUpdate(scope, 'daily', body)).resolves.toMatchObject({ created: true });
    await expect(api.delete(scope, 'daily')).resolves.toBeUndefined();
    await expect(api.run(scope, 'daily')).resolves.toBeUndefined();
    await expect(api.runHistory(scope, 'daily')).resolves.toHaveLength(1);

    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET ${exportsPath}`,
      `GET ${exportsPath}/daily`,
      `PUT ${exportsPath}/daily`,
      `DELETE ${exportsPath}/daily`,
      `POST ${exportsPath}/daily/run`,
      `GET ${exportsPath}/daily/runHistory`,
    ]);
    for (const request of fake.requests) {
      expect(request.path).not.toContain('//');
      expect([...request.query.keys()]).toEqual(['api-version']);
      expect(request.query.get('api-version')).toBe('2025-03-01');
      expect(request.headers.clienttype).toBe('AutopilotTests');
      expect(request.headers.authorization).toBe(`Bearer ${TOKEN}`);
      expect(request.headers['user-agent']).toMatch(/^cost-export-autopilot azsdk-js-arm-costmanagement\//);
    }
    const [put] = fake.requests.filter((r) => r.method === 'PUT');
    expect(put!.headers['content-type']).toBe('application/json');
    expect(JSON.parse(put!.body)).toEqual(body);
  });

  test('an export name is path-encoded, never able to add segments', async () => {
    fake.setDefault(armLike);
    await client().get(`/subscriptions/${SUB}`, 'daily export (EU)');
    expect(last().path).toBe(
      `/subscriptions/${SUB}/providers/Microsoft.CostManagement/exports/daily%20export%20(EU)`,
    );
    for (const bad of ['', 'a/b', 'a?b', 'a#b', '..%2F']) {
      await expect(client().get(`/subscriptions/${SUB}`, bad)).rejects.toThrow(/exportName/);
    }
    await expect(client().list('/subscriptions/not-a-guid')).rejects.toBeInstanceOf(ScopeError);
    expect(fake.requests).toHaveLength(1);
  });
});

describe('operation semantics', () => {
  const scope = `/subscriptions/${SUB}`;

  test('list and get send $expand=runHistory only when asked, and parse the embedded runs', async () => {
    const withHistory = {
      ...SAMPLE_EXPORT,
      properties: { ...SAMPLE_EXPORT.properties, runHistory: { value: [SAMPLE_RUN] } },
    };
    fake.setDefault({ status: 200, body: withHistory });
    const exported = await client().get(scope, 'daily', { expandRunHistory: true });
    expect(last().query.get('$expand')).toBe('runHistory');
    expect(exported.properties.runHistory?.[0]).toMatchObject({
      runId: '1e25d58a-a3b0-4916-9542-6e04a89bc100',
      status: 'Completed',
      manifestFile: 'root/daily/20240101-20240131/manifest.json',
    });

    fake.setDefault({ status: 200, body: { value: [withHistory] } });
    await client().list(scope, { expandRunHistory: true });
    expect(last().query.get('$expand')).toBe('runHistory');
    await client().list(scope, { expandRunHistory: false });
    expect(last().query.has('$expand')).toBe(false);
  });

  test('createOrUpdate: 201 is created, 200 is an update; the eTag travels in the body', async () => {
    const body = putBody();
    fake.enqueue(
      { status: 201, body: SAMPLE_EXPORT },
      { status: 200, body: { ...SAMPLE_EXPORT, eTag: '"etag-2"' } },
    );
    await expect(client().createOrUpdate(scope, 'daily', body)).resolves.toMatchObject({
      created: true,
      export: { eTag: '"etag-1"' },
    });
    const result = await client().createOrUpdate(scope, 'daily', body);
    expect(result).toMatchObject({ created: false, export: { eTag: '"etag-2"' } });
    // The 2025-03-01 fields the SDK serializer drops are all on the wire.
    const sent = JSON.parse(last().body);
    expect(sent.eTag).toBe('"etag-0"');
    expect(sent.identity).toEqual({ type: 'SystemAssigned' });
    expect(sent.location).toBe('westeurope');
    expect(sent.properties).toMatchObject({
      compressionMode: 'gzip',
      dataOverwriteBehavior: 'CreateNewReport',
      exportDescription: 'backfill 2024-01',
      definition: { dataSet: { configuration: { dataVersion: '2021-10-01' } } },
    });
    // The response's token is the service's obfuscated one, typed optional.
    expect(result.export.properties.deliveryInfo.destination.sasToken).toBe('*****');
  });

  test('the response keeps unknown enum values as strings', async () => {
    fake.enqueue({
      status: 200,
      body: {
        ...SAMPLE_EXPORT,
        properties: {
          ...SAMPLE_EXPORT.properties,
          format: 'Avro',
          definition: { type: 'CarbonFootprint', timeframe: 'TheLastQuarter' },
        },
      },
    });
    const exported = await client().get(scope, 'daily');
    expect(exported.properties.format).toBe('Avro');
    expect(exported.properties.definition).toEqual({ type: 'CarbonFootprint', timeframe: 'TheLastQuarter' });
  });

  test('run sends ExportRunRequest with the time period, or no body at all', async () => {
    fake.setDefault({ status: 200 });
    await client().run(scope, 'daily', { timePeriod: { from: '2023-12-01', to: '2023-12-31' } });
    expect(last().method).toBe('POST');
    expect(last().headers['content-type']).toBe('application/json');
    expect(JSON.parse(last().body)).toEqual({
      timePeriod: { from: '2023-12-01T00:00:00.000Z', to: '2023-12-31T00:00:00.000Z' },
    });
    await client().run(scope, 'daily');
    expect(last().body).toBe('');
    expect(last().headers['content-type']).toBeUndefined();
  });

  test('run refuses a period over one calendar month before sending anything', async () => {
    const error = await caught(
      client().run(scope, 'daily', { timePeriod: { from: '2024-01-01', to: '2024-02-01' } }),
    );
    expect(error).toBeInstanceOf(ExportBodyError);
    expect((error as ExportBodyError).fields).toEqual(['timePeriod']);
    expect(fake.requests).toHaveLength(0);
  });

  test('delete and run accept the 204/202 some ARM providers send', async () => {
    fake.enqueue({ status: 204 }, { status: 202 });
    await expect(client().delete(scope, 'daily')).resolves.toBeUndefined();
    await expect(client().run(scope, 'daily')).resolves.toBeUndefined();
  });
});

describe('throttling', () => {
  const scope = `/providers/Microsoft.Billing/billingAccounts/123456`;
  const now = Date.parse('2026-01-01T00:00:00Z');

  test.each([
    ['Retry-After seconds', { 'Retry-After': '30' }, 30_000, 'retry-after'],
    ['Retry-After HTTP-date', { 'Retry-After': 'Thu, 01 Jan 2026 00:02:00 GMT' }, 120_000, 'retry-after'],
    [
      'qpu',
      { 'x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after': '12' },
      12_000,
      'x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after',
    ],
    [
      'entity',
      { 'x-ms-ratelimit-microsoft.costmanagement-entity-retry-after': '45' },
      45_000,
      'x-ms-ratelimit-microsoft.costmanagement-entity-retry-after',
    ],
    [
      'tenant',
      { 'x-ms-ratelimit-microsoft.costmanagement-tenant-retry-after': '90' },
      90_000,
      'x-ms-ratelimit-microsoft.costmanagement-tenant-retry-after',
    ],
    [
      'client',
      { 'x-ms-ratelimit-microsoft.costmanagement-client-retry-after': '5' },
      5_000,
      'x-ms-ratelimit-microsoft.costmanagement-client-retry-after',
    ],
    [
      'consumption',
      { 'x-ms-ratelimit-microsoft.consumption-retry-after': '60' },
      60_000,
      'x-ms-ratelimit-microsoft.consumption-retry-after',
    ],
    [
      'several: the largest wins',
      {
        'Retry-After': '10',
        'x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after': '40',
        'x-ms-ratelimit-microsoft.costmanagement-tenant-retry-after': '25',
      },
      40_000,
      'x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after',
    ],
    ['none: the default', {}, DEFAULT_THROTTLE_WAIT_MS, 'default'],
    ['unparseable: the default', { 'Retry-After': 'soon' }, DEFAULT_THROTTLE_WAIT_MS, 'default'],
    ['zero: the minimum', { 'Retry-After': '0' }, MIN_THROTTLE_WAIT_MS, 'retry-after'],
    ['absurd: the maximum', { 'Retry-After': '86400000' }, MAX_THROTTLE_WAIT_MS, 'retry-after'],
  ])('429 with %s → ThrottledError', async (_label, headers, expectedMs, source) => {
    fake.setDefault({
      status: 429,
      headers,
      body: { error: { code: 'TooManyRequests', message: 'Too many requests. Please retry.' } },
    });
    const error = await caught(client({ now: () => now }).run(scope, 'monthly'));
    expect(error).toBeInstanceOf(ThrottledError);
    expect(error).toMatchObject({
      status: 429,
      code: 'TooManyRequests',
      operation: 'run',
      scope,
      exportName: 'monthly',
      retryAfterMs: expectedMs,
      retryAfterSource: source,
      transient: true,
    });
    // Exactly one attempt: the SDK's sleeping throttling retry is gone.
    expect(fake.requests).toHaveLength(1);
  });

  test('a 429 with Retry-After: 30 comes back at once instead of sleeping 30 s', async () => {
    fake.setDefault({ status: 429, headers: { 'Retry-After': '30' } });
    const started = performance.now();
    const error = await caught(client({ retry: {} }).list(scope));
    const elapsedMs = performance.now() - started;
    expect(error).toBeInstanceOf(ThrottledError);
    expect((error as ThrottledError).retryAfterMs).toBe(30_000);
    expect(fake.requests).toHaveLength(1);
    // Not a performance assertion: half the advertised wait would only be exceeded by sleeping.
    expect(elapsedMs).toBeLessThan(15_000);
  });
});

describe('typed errors', () => {
  const scope = `/subscriptions/${SUB}/resourceGroups/rg-finops`;
  const armError = (code: string, message: string) => ({ error: { code, message } });

  test.each([
    [404, armError('NotFound', 'Export not found'), ExportNotFoundError, 'NotFound'],
    [409, armError('Conflict', 'The eTag is stale'), ConflictError, 'Conflict'],
    [412, armError('PreconditionFailed', 'eTag mismatch'), ConflictError, 'PreconditionFailed'],
    [400, armError('BadRequest', 'Invalid timePeriod: to is in the future'), ArmRequestError, 'BadRequest'],
    [422, { code: 'Unprocessable', message: 'bare ARM error shape' }, ArmRequestError, 'Unprocessable'],
    [
      401,
      armError('InvalidAuthenticationToken', 'token expired'),
      AuthorizationError,
      'InvalidAuthenticationToken',
    ],
    [403, armError('AuthorizationFailed', 'no access'), AuthorizationError, 'AuthorizationFailed'],
    [501, undefined, ArmServiceError, 'Http501'],
  ])('HTTP %i → %p', async (status, body, type, code) => {
    fake.setDefault({ status, body, headers: { 'x-ms-request-id': 'req-123' } });
    const error = await caught(client().get(scope, 'daily'));
    expect(error).toBeInstanceOf(type);
    expect(error).toBeInstanceOf(CostManagementError);
    expect(error).toMatchObject({
      status,
      code,
      operation: 'get',
      scope,
      exportName: 'daily',
      requestId: 'req-123',
    });
    const message = (error as Error).message;
    expect(message).toContain(`HTTP ${status}`);
    if (body && 'error' in body) expect(message).toContain(body.error.message);
    expect(fake.requests).toHaveLength(1); // 4xx and 501 are never retried
  });

  test('ArmRequestError carries the ARM code, message and status', async () => {
    fake.setDefault({
      status: 400,
      body: armError('InvalidDefinition', 'timeframe Custom needs a timePeriod'),
    });
    const error = await caught(client().createOrUpdate(scope, 'daily', putBody()));
    expect(error).toBeInstanceOf(ArmRequestError);
    expect(error).toMatchObject({ status: 400, code: 'InvalidDefinition', operation: 'createOrUpdate' });
    expect((error as Error).message).toContain('timeframe Custom needs a timePeriod');
  });

  test('500 is retried a bounded number of times, then ArmServiceError', async () => {
    fake.setDefault({ status: 500, body: armError('InternalServerError', 'boom') });
    const error = await caught(
      client({ retry: { maxRetries: 2, retryDelayMs: 1, maxRetryDelayMs: 2 } }).list(scope),
    );
    expect(error).toBeInstanceOf(ArmServiceError);
    expect(error).toMatchObject({ status: 500, code: 'InternalServerError', transient: true });
    expect(fake.requests).toHaveLength(3);
  });

  test('a transient 503 followed by success succeeds', async () => {
    fake.enqueue({ status: 503 }, { status: 502 }, { status: 200, body: { value: [] } });
    await expect(client().list(scope)).resolves.toEqual([]);
    expect(fake.requests).toHaveLength(3);
  });

  test('a 503 that says when to come back is not slept on: ArmServiceError with the wait', async () => {
    fake.setDefault({ status: 503, headers: { 'Retry-After': '20' } });
    const error = await caught(client().list(scope));
    expect(error).toBeInstanceOf(ArmServiceError);
    expect((error as ArmServiceError).retryAfterMs).toBe(20_000);
    expect(fake.requests).toHaveLength(1);
  });

  test('malformed JSON in a 200 → ArmResponseError that does not quote the body', async () => {
    fake.setDefault({ status: 200, body: '{"value": [ {"name": "daily", ' });
    const error = await caught(client().list(scope));
    expect(error).toBeInstanceOf(ArmResponseError);
    expect(error).toMatchObject({ status: 200, code: 'MalformedResponse', operation: 'list' });
    expect((error as Error).message).not.toContain('daily",');
  });

  test('a 200 of the wrong shape → ArmResponseError naming where', async () => {
    fake.enqueue(
      { status: 200, body: { value: [{ name: 'x', properties: { definition: { type: 'Usage' } } }] } },
      { status: 200, body: { nothing: true } },
    );
    await expect(client().list(scope)).rejects.toThrow(
      /value\[0\]\.properties\.deliveryInfo: expected an object/,
    );
    const error = await caught(client().runHistory(scope, 'daily'));
    expect(error).toMatchObject({ code: 'UnexpectedResponseShape' });
  });

  test('no server: network errors are retried, then ArmServiceError with the system code', async () => {
    const gone = await startHttpsFake();
    const endpoint = gone.url;
    await gone.close();
    const error = await caught(client({ endpoint }).list(scope));
    expect(error).toBeInstanceOf(ArmServiceError);
    expect(error).toMatchObject({ status: undefined, code: 'ECONNREFUSED', transient: true });
  });

  test('an untrusted certificate fails: the CA option is what makes the fake trusted', async () => {
    fake.setDefault(armLike);
    const { caPem: _unused, ...withoutCa } = { caPem: undefined };
    const untrusted = new CostExportsClient({
      endpoint: fake.url,
      credential: staticCredential,
      clientType: 'AutopilotTests',
      ...withoutCa,
    });
    await expect(untrusted.list(scope)).rejects.toBeInstanceOf(ArmServiceError);
    expect(fake.requests).toHaveLength(0);
  });

  test('no response within the timeout → ArmServiceError RequestTimeout', async () => {
    fake.setDefault(() => new Promise(() => undefined));
    const error = await caught(
      client({ requestTimeoutMs: 100, retry: { maxRetries: 0 } }).get(scope, 'daily'),
    );
    expect(error).toBeInstanceOf(ArmServiceError);
    expect(error).toMatchObject({ code: 'RequestTimeout', status: undefined });
  });

  test("the caller's abort is passed through as is", async () => {
    const controller = new AbortController();
    controller.abort();
    const error = await caught(client().list(scope, { abortSignal: controller.signal }));
    expect((error as Error).name).toBe('AbortError');
  });

  test('a credential that cannot produce a token → AuthorizationError', async () => {
    const failing: TokenCredential = {
      getToken: () => {
        const error = new Error('no managed identity endpoint');
        error.name = 'CredentialUnavailableError';
        return Promise.reject(error);
      },
    };
    const error = await caught(client({ credential: failing }).list(scope));
    expect(error).toBeInstanceOf(AuthorizationError);
    expect(error).toMatchObject({ code: 'CredentialUnavailableError', status: undefined });
  });
});

describe('no secret in any error', () => {
  const scope = `/providers/Microsoft.Billing/billingAccounts/${MCA}/customers/${CUSTOMER}`;
  // The fake echoes what it was sent, as real services do in validation messages.
  const echo =
    (status: number): FakeHandler =>
    (r) => ({
      status,
      body: {
        error: {
          code: 'InvalidSasToken',
          message: `Request ${r.method} ${r.path} failed for body ${r.body}; token ${SAS}; signature ${SIG}; url https://partnerexports.blob.core.windows.net/exports?${SAS}`,
        },
      },
    });

  function expectClean(error: unknown): void {
    expect(error).toBeInstanceOf(CostManagementError);
    const sig = decodeURIComponent(SIG);
    for (const text of [
      (error as Error).message,
      JSON.stringify(error),
      inspect(error, { depth: 10 }),
      String(error),
    ]) {
      expect(text).not.toContain('sig=');
      expect(text).not.toContain(SIG);
      expect(text).not.toContain(sig);
      expect(text).not.toContain(SAS);
      expect(text).not.toMatch(/sig%3D/i);
    }
  }

  test.each([400, 404, 409, 429, 500])('HTTP %i echoing the PUT body', async (status) => {
    fake.setDefault(echo(status));
    const error = await caught(
      client({ retry: { maxRetries: 0 } }).createOrUpdate(scope, 'daily', putBody()),
    );
    expectClean(error);
    expect((error as Error).message).toContain('REDACTED');
    expect(fake.requests[0]!.body).toContain(SAS); // the token did reach the service
  });

  test('an echo inside escaped JSON (a body quoted in a JSON string) is redacted too', async () => {
    fake.setDefault((r) => ({
      status: 400,
      body: { error: { code: 'BadRequest', message: JSON.stringify({ received: r.body }) } },
    }));
    expectClean(await caught(client().createOrUpdate(scope, 'daily', putBody())));
  });

  test('a malformed 200 echoing the token is not quoted at all', async () => {
    fake.setDefault((r) => ({ status: 200, body: `{"echo": ${r.body}` }));
    expectClean(await caught(client().createOrUpdate(scope, 'daily', putBody())));
  });
});

describe('credentials and configuration', () => {
  test.each([
    ['https://127.0.0.1:8443', true],
    ['https://127.10.0.1', true],
    ['https://localhost:7071/', true],
    ['https://[::1]:8443', true],
    ['https://management.azure.com', false],
    ['https://127.0.0.1.example.com', false],
    ['https://localhost.example.com', false],
    ['https://10.0.0.1', false],
    ['not a url', false],
  ])('isLoopbackEndpoint(%s) = %s', (endpoint, expected) => {
    expect(isLoopbackEndpoint(endpoint)).toBe(expected);
  });

  test('loopback gets the static token, Azure gets DefaultAzureCredential, never the other way', () => {
    expect(createCostManagementCredential('https://127.0.0.1:9999')).toBeInstanceOf(LoopbackTokenCredential);
    expect(
      createCostManagementCredential('https://management.azure.com', { AZURE_CLIENT_ID: 'client-guid' }),
    ).toBeInstanceOf(DefaultAzureCredential);
    expect(() => new LoopbackTokenCredential('https://management.azure.com')).toThrow(/loopback/);
  });

  test('createCostExportsClient: loopback endpoint + CA file from settings reaches the fake', async () => {
    fake.setDefault(armLike);
    const dir = mkdtempSync(join(tmpdir(), 'cea-ca-'));
    const caFile = join(dir, 'emulator.pem');
    writeFileSync(caFile, fake.caPem);
    try {
      const api = createCostExportsClient({ endpoint: fake.url, caFile, clientType: 'FromSettings' });
      await api.list(`/subscriptions/${SUB}`);
      expect(last().headers.authorization).toBe(`Bearer ${LOOPBACK_TOKEN}`);
      expect(last().headers.clienttype).toBe('FromSettings');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an unreadable CA file is reported by its setting name', () => {
    expect(() =>
      createCostExportsClient({ endpoint: fake.url, caFile: '/nonexistent/ca.pem', clientType: 'X' }),
    ).toThrow(/COST_MANAGEMENT_CA_FILE: cannot read "\/nonexistent\/ca.pem" \(ENOENT\)/);
  });

  test('invalid adapter options are refused', () => {
    expect(() => client({ endpoint: 'http://127.0.0.1:1' })).toThrow(/https/);
    expect(() => client({ clientType: 'has spaces' })).toThrow(/clientType/);
  });
});
