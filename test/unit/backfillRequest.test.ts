// Backfill request validation (table-driven and a seeded fuzz loop), the SAS token check, the
// orchestration input, and the activities against fake adapters.
import {
  ArmRequestError,
  ConflictError,
  ExportNotFoundError,
  ThrottledError,
} from '../../src/azure/armErrors';
import type { BackfillRunRecord, TokenRecord } from '../../src/azure/catalog';
import type { CostExportsApi } from '../../src/azure/costExports';
import type { Export, ExportPutBody, ExportRun } from '../../src/azure/exportModels';
import { loadConfig } from '../../src/config';
import type { MonthResult, MonthTask } from '../../src/domain/contracts';
import { type BackfillCatalog, createBackfillActivities } from '../../src/services/backfillActivities';
import { parseBackfillRequest, type ParsedBackfill } from '../../src/services/backfillRequest';
import {
  backfillTiming,
  buildBackfillInput,
  cleanupBackfill,
  monthInstanceIds,
} from '../../src/services/backfills';
import { checkBackfillToken, estimateBackfillMs } from '../../src/services/backfillToken';
import { type Body, invalidBodies, validBody } from '../support/backfillFuzz';

const NOW = new Date('2025-07-15T08:00:00Z');
const OPTIONS = { now: NOW, maxConcurrency: 3 };
const SCOPE = '/subscriptions/00000000-0000-0000-0000-000000000001';
const SAS = 'sv=2022-11-02&ss=b&srt=sco&sp=rwdlac&se=2026-01-01T00:00:00Z&sig=c2VjcmV0c2lnbmF0dXJl';

function parse(body: unknown): ParsedBackfill {
  const result = parseBackfillRequest(body, OPTIONS);
  if (!result.ok) throw new Error(`expected valid: ${JSON.stringify(result.errors)}`);
  return result.value;
}

function errorsOf(body: unknown): { field: string; message: string }[] {
  const result = parseBackfillRequest(body, OPTIONS);
  if (result.ok) throw new Error(`expected invalid: ${JSON.stringify(body)}`);
  return result.errors;
}

describe('parseBackfillRequest', () => {
  test('reservation datasets and management groups default to uncompressed CSV', () => {
    const reservations = parse(
      validBody({
        scope: '/providers/Microsoft.Billing/billingAccounts/1234567',
        datasets: ['ActualCost', 'ReservationTransactions'],
      }),
    );
    expect([reservations.request.format, reservations.request.compression]).toEqual(['Csv', 'none']);
    const mg = parse(
      validBody({ scope: '/providers/Microsoft.Management/managementGroups/mg1', datasets: ['Usage'] }),
    );
    expect([mg.request.format, mg.request.compression]).toEqual(['Csv', 'none']);
  });

  test('a minimal request gets the defaults and a deterministic id', () => {
    const { request, windows, instanceId } = parse(validBody());
    expect(request).toMatchObject({
      datasets: ['ActualCost', 'AmortizedCost'],
      format: 'Csv',
      compression: 'gzip',
      concurrency: 1,
      keepExports: false,
      force: false,
      destination: { storageAccount: 'acct1', tokenId: 'tok1', container: 'exports' },
    });
    expect(request.scope.canonical).toBe(SCOPE);
    expect(windows).toHaveLength(12);
    expect(windows[0]).toEqual({
      month: '2025-06',
      from: '2025-06-01T00:00:00Z',
      to: '2025-06-30T00:00:00Z',
    });
    expect(instanceId).toMatch(/^bf-202407-202506-[0-9a-f]{32}$/);
  });

  test('the id ignores dataset order, casing and how the months were given', () => {
    const a = parse(validBody()).instanceId;
    const b = parse(validBody({ datasets: ['amortizedcost', 'ActualCost'] })).instanceId;
    const c = parse(
      validBody({ months: undefined, from: '2024-07', to: '2025-06', scope: SCOPE.toUpperCase() }),
    ).instanceId;
    expect(b).toBe(a);
    expect(c).toBe(a);
    expect(parse(validBody({ months: 11 })).instanceId).not.toBe(a);
    expect(parse(validBody({ datasets: ['ActualCost'] })).instanceId).not.toBe(a);
  });

  test('every accepted field is carried', () => {
    const { request } = parse(
      validBody({
        datasets: ['FocusCost'],
        months: undefined,
        from: '2025-01',
        to: '2025-07',
        destination: {
          resourceId:
            '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct1',
          container: 'exports',
          rootFolderPath: '/finops/backfill/',
        },
        format: 'Parquet',
        dataVersion: '1.0r2',
        concurrency: 3,
        keepExports: true,
        force: true,
      }),
    );
    expect(request).toMatchObject({
      format: 'Parquet',
      compression: 'snappy',
      dataVersion: '1.0r2',
      concurrency: 3,
      keepExports: true,
      force: true,
      destination: { container: 'exports', rootFolderPath: 'finops/backfill' },
    });
  });

  test.each<[string, unknown, string[]]>([
    ['not JSON object', 'x', ['body']],
    ['empty object', {}, ['scope', 'datasets', 'destination']],
    [
      'a SAS token in the body',
      validBody({ destination: { storageAccount: 'acct1', sasToken: SAS, container: 'exports' } }),
      ['destination.sasToken'],
    ],
    [
      'management group with FocusCost',
      validBody({ scope: '/providers/Microsoft.Management/managementGroups/mg1', datasets: ['FocusCost'] }),
      ['datasets[0]'],
    ],
    [
      'management group with AmortizedCost (only Usage there)',
      validBody({
        scope: '/providers/Microsoft.Management/managementGroups/mg1',
        datasets: ['AmortizedCost'],
      }),
      ['datasets[0]'],
    ],
    [
      'reservation details gzipped (uncompressed CSV only)',
      validBody({
        scope: '/providers/Microsoft.Billing/billingAccounts/1234567',
        datasets: ['ReservationDetails'],
        compression: 'gzip',
      }),
      ['compression'],
    ],
    [
      'Usage at a management group as Parquet',
      validBody({
        scope: '/providers/Microsoft.Management/managementGroups/mg1',
        datasets: ['Usage'],
        format: 'Parquet',
      }),
      ['format'],
    ],
    [
      'price sheet beyond its 13-month history',
      validBody({
        scope: '/providers/Microsoft.Billing/billingAccounts/1234567',
        datasets: ['PriceSheet'],
        months: 24,
      }),
      ['months'],
    ],
    ['concurrency above the configured maximum', validBody({ concurrency: 4 }), ['concurrency']],
    [
      'several problems at once',
      validBody({ months: 0, format: 'Xml', force: 'y', extra: 1 }),
      ['months', 'format', 'force', 'extra'],
    ],
  ])('%s', (_name, body, fields) => {
    const errors = errorsOf(body);
    expect(errors.map((e) => e.field)).toEqual(expect.arrayContaining(fields));
    for (const e of errors) expect(e.message.length).toBeGreaterThan(0);
    expect(JSON.stringify(errors)).not.toContain('c2VjcmV0c2lnbmF0dXJl');
  });

  test('fuzz: 1,000 mutated bodies are all refused, each naming the field it broke', () => {
    const cases = invalidBodies(1000, 20250715);
    for (const c of cases) {
      const result = parseBackfillRequest(c.body, OPTIONS);
      if (result.ok) throw new Error(`accepted: ${c.description}`);
      expect(result.errors.length).toBeGreaterThan(0);
      const fields = result.errors.map((e) => e.field);
      for (const field of c.fields) {
        if (!fields.includes(field))
          throw new Error(`${c.description}: expected ${field} in ${fields.join(', ')}`);
      }
      for (const e of result.errors) {
        expect(typeof e.field).toBe('string');
        expect(typeof e.message).toBe('string');
      }
    }
  });
});

// ---- the token check -------------------------------------------------------------------------

function token(overrides: Partial<TokenRecord> = {}): TokenRecord {
  return {
    storageAccount: 'acct1',
    tokenId: 'tok1',
    expiresOn: '2026-01-01T00:00:00Z',
    permissions: 'racwl',
    secretName: 'sas-acct1',
    secretVersion: 'v1',
    fingerprint: 'f'.repeat(64),
    status: 'active',
    ...overrides,
  };
}

function tokenReader(tokens: TokenRecord[]) {
  return {
    getToken: (account: string, id: string) =>
      Promise.resolve(tokens.find((t) => t.storageAccount === account && t.tokenId === id)),
    async *listTokens(account: string) {
      for (const t of tokens) if (t.storageAccount === account) yield await Promise.resolve(t);
    },
  };
}

describe('checkBackfillToken', () => {
  test('a registered active token that outlives the backfill is used by id', async () => {
    const result = await checkBackfillToken(parse(validBody()), tokenReader([token()]), NOW);
    expect(result).toEqual({
      ok: true,
      destination: { storageAccount: 'acct1', tokenId: 'tok1', container: 'exports' },
    });
  });

  test('without a token id, the account’s active token with the latest expiry is chosen', async () => {
    const body = validBody({ destination: { storageAccount: 'acct1', container: 'exports' } });
    const tokens = [
      token({ tokenId: 'old', status: 'rotated' }),
      token({ tokenId: 'a' }),
      token({ tokenId: 'b', expiresOn: '2026-06-01T00:00:00Z' }),
    ];
    const result = await checkBackfillToken(parse(body), tokenReader(tokens), NOW);
    expect(result).toMatchObject({ ok: true, destination: { tokenId: 'b' } });
  });

  test.each<[string, TokenRecord[], Body, string, RegExp]>([
    ['not registered', [], {}, 'destination.tokenId', /not registered/],
    ['revoked', [token({ status: 'revoked' })], {}, 'destination.tokenId', /revoked/],
    [
      'expiring before the backfill can finish',
      [token({ expiresOn: '2025-07-15T20:00:00Z' })],
      {},
      'destination.tokenId',
      /expires 2025-07-15T20:00:00Z, before the backfill can finish/,
    ],
    [
      'no token for the account',
      [],
      { destination: { storageAccount: 'acct1', container: 'exports' } },
      'destination.storageAccount',
      /no active SAS token/,
    ],
  ])('%s', async (_name, tokens, overrides, field, message) => {
    const result = await checkBackfillToken(parse(validBody(overrides)), tokenReader(tokens), NOW);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors).toEqual([{ field, message: expect.stringMatching(message) }]);
  });

  test('the estimate grows with runs and shrinks with concurrency', () => {
    expect(estimateBackfillMs(24, 1)).toBe(25 * 3600_000);
    expect(estimateBackfillMs(24, 3)).toBe(9 * 3600_000);
  });

  test('resource-id destinations need no token', async () => {
    const body = validBody({
      destination: {
        resourceId:
          '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct1',
        container: 'exports',
      },
    });
    expect((await checkBackfillToken(parse(body), tokenReader([]), NOW)).ok).toBe(true);
  });
});

test('the orchestration input carries the plan, settings in ms and no secret', () => {
  const parsed = parse(validBody({ concurrency: 2 }));
  const config = loadConfig({
    SECRET_STORE: 'table',
    AzureWebJobsStorage: 'UseDevelopmentStorage=true',
    ExportsStorage: 'UseDevelopmentStorage=true',
  });
  const input = buildBackfillInput(
    parsed,
    { storageAccount: 'acct1', tokenId: 'tok1', container: 'exports' },
    backfillTiming(config.backfill),
    2,
  );
  expect(input).toMatchObject({
    backfillId: parsed.instanceId,
    run: 2,
    scope: SCOPE,
    concurrency: 2,
    compression: 'gzip',
  });
  expect(input.windows).toHaveLength(12);
  expect(input.timing).toMatchObject({
    maxAttempts: 3,
    pollIntervalMs: 15 * 60_000,
    landingTimeoutMs: 480 * 60_000,
  });
  expect(JSON.stringify(input)).not.toMatch(/sig=|sasToken/);
  const ids = monthInstanceIds(input);
  expect(ids).toHaveLength(24);
  expect(ids[0]).toBe(`${parsed.instanceId}:2:actualcost:202506`);
  expect(ids.every((id) => !/[/\\#?]/.test(id))).toBe(true);
});

// ---- activities against fake adapters --------------------------------------------------------

const TASK: MonthTask = {
  backfillId: 'bf-202506-202506-0123456789abcdef0123456789abcdef',
  scope: SCOPE,
  dataset: 'ActualCost',
  month: '2025-06',
  from: '2025-06-01T00:00:00Z',
  to: '2025-06-30T00:00:00Z',
  exportName: 'cea-bf-actualcost-202506',
  destination: { storageAccount: 'acct1', tokenId: 'tok1', container: 'exports' },
  format: 'Csv',
  compression: 'gzip',
};

function fakes(overrides: Partial<CostExportsApi> = {}) {
  const calls: { op: string; args: unknown[] }[] = [];
  const rows: BackfillRunRecord[] = [];
  const record =
    (op: string) =>
    (...args: unknown[]) => {
      calls.push({ op, args });
      return Promise.resolve();
    };
  const costExports: CostExportsApi = {
    list: () => Promise.resolve([]),
    get: (...args) => (calls.push({ op: 'get', args }), Promise.resolve({ eTag: '"e1"' } as Export)),
    createOrUpdate: (...args) => (
      calls.push({ op: 'put', args }),
      Promise.resolve({ export: {} as Export, created: true })
    ),
    delete: record('delete'),
    run: record('run'),
    runHistory: () => Promise.resolve([]),
    ...overrides,
  };
  const tokens = tokenReader([token()]);
  const catalog: BackfillCatalog = {
    upsertBackfillRun: (r) => (rows.push(r), Promise.resolve()),
    async *listBackfillRuns() {
      for (const r of rows) yield await Promise.resolve(r);
    },
    ...tokens,
  };
  const secrets = {
    get: (name: string, version?: string) =>
      Promise.resolve(name === 'sas-acct1' && version === 'v1' ? SAS : undefined),
  };
  const activities = createBackfillActivities({ costExports, catalog, secrets, now: () => NOW });
  return { calls, rows, activities, deps: { costExports, catalog, secrets, now: () => NOW } };
}

const throttled = () =>
  new ThrottledError(
    { operation: 'run', scope: SCOPE, exportName: TASK.exportName, status: 429, code: 'TooManyRequests' },
    'slow down',
    42_000,
    'retry-after',
  );

describe('activities', () => {
  test('putExport records the mapping first, then PUTs a one-month Inactive Custom export with the SAS from the secret store', async () => {
    const { calls, rows, activities } = fakes();
    const result = await activities.putExport({ task: TASK, instanceId: 'child-1' });
    expect(result).toEqual({ kind: 'ok', created: true });
    expect(rows).toEqual([
      expect.objectContaining({ instanceId: 'child-1', status: 'pending', exportName: TASK.exportName }),
    ]);
    const body = calls.find((c) => c.op === 'put')!.args[2] as ExportPutBody;
    expect(body.properties.definition).toMatchObject({
      type: 'ActualCost',
      timeframe: 'Custom',
      timePeriod: { from: '2025-06-01T00:00:00.000Z', to: '2025-06-30T00:00:00.000Z' },
    });
    expect(body.properties.schedule).toEqual({ status: 'Inactive' });
    expect(body.properties.deliveryInfo.destination).toMatchObject({
      storageAccount: 'acct1',
      sasToken: SAS,
      container: 'exports',
    });
    expect(JSON.stringify(result)).not.toContain('sig=');
  });

  test('putExport updates an existing export with its current eTag when the create is refused with 400 (as Azure does)', async () => {
    let first = true;
    const { calls, activities } = fakes({
      createOrUpdate: (...args) => {
        calls.push({ op: 'put', args });
        if (first) {
          first = false;
          return Promise.reject(
            new ArmRequestError(
              { operation: 'createOrUpdate', status: 400, code: '400' },
              'Etag value required for update operation of report',
            ),
          );
        }
        return Promise.resolve({ export: {} as Export, created: false });
      },
    });
    expect(await activities.putExport({ task: TASK, instanceId: 'c' })).toEqual({
      kind: 'ok',
      created: false,
    });
    expect(calls.map((c) => c.op)).toEqual(['put', 'get', 'put']);
    expect((calls[0]!.args[2] as ExportPutBody).eTag).toBeUndefined();
    expect((calls[2]!.args[2] as ExportPutBody).eTag).toBe('"e1"');
  });

  test('putExport: a stale eTag (412) is re-read once; a refused create of an export that does not exist keeps its error', async () => {
    const stale = () =>
      new ConflictError({ operation: 'createOrUpdate', status: 412, code: 'PreconditionFailed' }, 'stale');
    let puts = 0;
    let gets = 0;
    const { calls, activities } = fakes({
      get: () => Promise.resolve({ eTag: `"e${++gets}"` } as Export),
      createOrUpdate: (...args) => {
        calls.push({ op: 'put', args });
        puts++;
        if (puts === 1) return Promise.reject(stale());
        if (puts === 2) return Promise.reject(stale());
        return Promise.resolve({ export: {} as Export, created: false });
      },
    });
    expect(await activities.putExport({ task: TASK, instanceId: 'c' })).toEqual({
      kind: 'ok',
      created: false,
    });
    expect(calls.map((c) => (c.args[2] as ExportPutBody).eTag)).toEqual([undefined, '"e1"', '"e2"']);

    const invalid = new ArmRequestError(
      { operation: 'createOrUpdate', status: 400, code: 'BadRequest' },
      'bad',
    );
    const missing = fakes({
      get: () => Promise.reject(new ExportNotFoundError({ operation: 'get', status: 404 }, 'gone')),
      createOrUpdate: () => Promise.reject(invalid),
    });
    expect(await missing.activities.putExport({ task: TASK, instanceId: 'c' })).toMatchObject({
      kind: 'error',
      transient: false,
      code: 'BadRequest',
    });
  });

  test('a missing secret is a permanent error that names the token but never a value', async () => {
    const { activities, deps } = fakes();
    deps.secrets.get = () => Promise.resolve(undefined);
    const again = createBackfillActivities(deps);
    const result = await again.putExport({ task: TASK, instanceId: 'c' });
    expect(result).toMatchObject({
      kind: 'error',
      transient: false,
      message: expect.stringContaining('tok1'),
    });
    void activities;
  });

  test('a 429 comes back as a result carrying Retry-After, not as an exception', async () => {
    const { activities } = fakes({ run: () => Promise.reject(throttled()) });
    const result = await activities.runExport({ task: TASK, instanceId: 'c', attempt: 1 });
    expect(result).toMatchObject({ kind: 'throttled', retryAfterMs: 42_000 });
  });

  test('runExport POSTs the month’s period and records the attempt', async () => {
    const { calls, rows, activities } = fakes();
    expect(await activities.runExport({ task: TASK, instanceId: 'c', attempt: 2 })).toEqual({ kind: 'ok' });
    expect(calls[0]).toEqual({
      op: 'run',
      args: [SCOPE, TASK.exportName, { timePeriod: { from: TASK.from, to: TASK.to } }],
    });
    expect(rows[0]).toMatchObject({ status: 'submitted', attempts: 2 });
  });

  test('readRun picks the newest run of this period that is not an earlier attempt', async () => {
    const run = (
      runId: string,
      submittedTime: string,
      status: string,
      startDate = '2025-06-01T00:00:00Z',
    ): ExportRun => ({
      runId,
      submittedTime,
      status,
      startDate,
      ...(status === 'Failed'
        ? { error: { code: 'E1', message: 'broke at https://a.blob.core.windows.net/c?sv=1&sig=abcdefgh' } }
        : {}),
    });
    const history = [
      run('r1', '2025-07-15T08:00:00Z', 'Failed'),
      run('r2', '2025-07-15T09:00:00Z', 'InProgress'),
      run('other', '2025-07-15T10:00:00Z', 'Completed', '2025-05-01T00:00:00Z'),
    ];
    const { activities } = fakes({ runHistory: () => Promise.resolve(history) });
    expect(await activities.readRun({ task: TASK, excludeRunIds: [] })).toEqual({
      kind: 'ok',
      run: { runId: 'r2', status: 'InProgress' },
    });
    const failed = await activities.readRun({ task: TASK, excludeRunIds: ['r2'] });
    expect(failed).toMatchObject({ kind: 'ok', run: { runId: 'r1', status: 'Failed' } });
    expect(JSON.stringify(failed)).not.toContain('abcdefgh');
    expect(await activities.readRun({ task: TASK, excludeRunIds: ['r1', 'r2'] })).toEqual({ kind: 'ok' });
  });

  test('finishMonth records the outcome and deletes the export; a missing export is fine', async () => {
    const { rows, activities } = fakes({
      delete: () =>
        Promise.reject(
          new ExportNotFoundError({ operation: 'delete', status: 404, code: 'NotFound' }, 'gone'),
        ),
    });
    const result: MonthResult = {
      dataset: 'ActualCost',
      month: '2025-06',
      outcome: 'NoData',
      runId: 'r1',
      attempts: 1,
    };
    expect(await activities.finishMonth({ task: TASK, instanceId: 'c', result, deleteExport: true })).toEqual(
      { kind: 'ok', deleted: true },
    );
    expect(rows[0]).toMatchObject({ status: 'dataNotAvailable', runId: 'r1', attempts: 1 });
  });

  test('finishMonth records a month whose landing timed out as timedOut, whatever its error text', async () => {
    const { rows, activities } = fakes();
    const failed = (failure: MonthResult['failure']): MonthResult => ({
      dataset: 'ActualCost',
      month: '2025-06',
      outcome: 'Failed',
      runId: null,
      attempts: 2,
      error: 'no landing within 480 minutes',
      ...(failure ? { failure } : {}),
    });
    await activities.finishMonth({
      task: TASK,
      instanceId: 'c',
      result: failed('landingTimedOut'),
      deleteExport: false,
    });
    await activities.finishMonth({
      task: TASK,
      instanceId: 'c',
      result: failed('runFailed'),
      deleteExport: false,
    });
    expect(rows.map((r) => r.status)).toEqual(['timedOut', 'failed']);
  });

  test('cleanupBackfill deletes only exports of months still in flight and marks them cancelled', async () => {
    const { calls, rows, deps } = fakes();
    rows.push(
      {
        backfillId: TASK.backfillId,
        dataset: 'ActualCost',
        month: '2025-06',
        exportName: 'a',
        scope: SCOPE,
        instanceId: 'c1',
        status: 'submitted',
        updatedAt: NOW.toISOString(),
      },
      {
        backfillId: TASK.backfillId,
        dataset: 'ActualCost',
        month: '2025-05',
        exportName: 'b',
        scope: SCOPE,
        instanceId: 'c2',
        status: 'landed',
        updatedAt: NOW.toISOString(),
      },
    );
    const summary = await cleanupBackfill(deps, TASK.backfillId);
    expect(summary).toEqual({ deleted: ['a'], failed: [] });
    expect(calls.filter((c) => c.op === 'delete').map((c) => c.args[1])).toEqual(['a']);
    expect(rows.at(-1)).toMatchObject({ exportName: 'a', status: 'cancelled' });
  });
});
