// The emulator's checks at PUT and run that follow what Azure is publicly reported to do (see the
// table in dev/emulator/README.md): each test names its source.
import { SAS_AUTHORIZATION_MESSAGE } from '../../dev/emulator/delivery';
import { type RunningEmulator, startEmulator } from '../../dev/emulator/server';
import { emulatorCall, type EmulatorReply } from '../support/emulatorHttp';

const SUB = '/subscriptions/00000000-0000-0000-0000-0000000000ab';
const BILLING = '/providers/Microsoft.Billing/billingAccounts/1234567';
const STORAGE_ID = `${SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/finopsexports01`;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

let emu: RunningEmulator;
beforeAll(async () => {
  emu = await startEmulator({ speedFactor: Infinity, clock: { now: '2025-03-15T12:00:00Z' } });
});
afterAll(async () => emu.stop());
beforeEach(async () => {
  await emu.admin.reset();
  await emu.admin.setFaults({ sharedKeyDisabledAccounts: [] });
});

function call(method: string, path: string, body?: unknown): Promise<EmulatorReply<Json>> {
  return emulatorCall<Json>(emu, method, path, { body });
}

const put = (scope: string, name: string, body: unknown) =>
  call('PUT', `${scope}/providers/Microsoft.CostManagement/exports/${name}`, body);

function body(destination: Record<string, unknown>, definition: Record<string, unknown> = {}): Json {
  return {
    properties: {
      format: 'Csv',
      deliveryInfo: { destination: { type: 'AzureBlob', container: 'exports', ...destination } },
      definition: {
        type: 'ActualCost',
        timeframe: 'MonthToDate',
        dataSet: { granularity: 'Daily' },
        ...definition,
      },
    },
  };
}

describe('rootFolderPath (terraform-provider-azurerm#26219, finops-toolkit#1239)', () => {
  test('a leading "/" is refused with the service wording', async () => {
    const r = await put(SUB, 'slash', body({ resourceId: STORAGE_ID, rootFolderPath: '/finops' }));
    expect(r.status).toBe(400);
    expect(r.body.error).toEqual({
      code: 'BadRequest',
      message:
        'Request properties validation failed: Invalid deliveryInfo destination rootFolderPath; value cannot begin with a forward slash',
    });
  });

  test('an MCA billing account id (":") is refused; "_" and nested folders are accepted', async () => {
    const root = 'providers/Microsoft.Billing/billingAccounts/aaaa:bbbb_2019-05-31';
    const r = await put(SUB, 'colon', body({ resourceId: STORAGE_ID, rootFolderPath: root }));
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/cannot contain any reserved url characters except forward slashes/);
    for (const c of [..."?#[]@!$&'()*+,;="]) {
      expect(
        (await put(SUB, 'reserved', body({ resourceId: STORAGE_ID, rootFolderPath: `a${c}b` }))).status,
      ).toBe(400);
    }
    const ok = await put(
      SUB,
      'ok',
      body({ resourceId: STORAGE_ID, rootFolderPath: 'billing/aaaa-bbbb_2019-05-31' }),
    );
    expect(ok.status).toBe(201);
  });
});

describe('SAS token at PUT (Learn: export cost data with a storage account SAS key)', () => {
  const sas = (fields: string) => `sv=2022-11-02&${fields}&se=2030-01-01T00:00:00Z&sig=abc`;
  test.each([
    ['not for the blob service', 'ss=f&srt=co&sp=acrwd'],
    ['no object resource type', 'ss=b&srt=sc&sp=acrwd'],
    ['no container resource type', 'ss=b&srt=o&sp=acrwd'],
    ['no delete permission', 'ss=b&srt=co&sp=acrw'],
    ['no add permission', 'ss=b&srt=sco&sp=rwdlc'],
    ['a service SAS without create', 'sr=c&sp=arwd'],
  ])('%s: 400 with the documented AuthorizationResourceTypeMismatch message', async (_why, fields) => {
    const r = await put(BILLING, 'sas', body({ storageAccount: 'partner01', sasToken: sas(fields) }));
    expect(r.status).toBe(400);
    expect(r.body.error.message).toBe(SAS_AUTHORIZATION_MESSAGE);
    expect(JSON.stringify(r.body)).not.toContain('sig=');
  });

  test('a complete token is accepted, and an expired one too (its runs fail later)', async () => {
    expect(
      (
        await put(
          BILLING,
          'good',
          body({ storageAccount: 'partner01', sasToken: sas('ss=b&srt=sco&sp=racwdl') }),
        )
      ).status,
    ).toBe(201);
    const expired = 'sv=2022-11-02&ss=b&srt=co&sp=acrwd&se=2020-01-01T00:00:00Z&sig=abc';
    expect((await put(BILLING, 'old', body({ storageAccount: 'partner01', sasToken: expired }))).status).toBe(
      201,
    );
  });
});

test('shared keys off: a resourceId destination is refused at PUT (azure-cli#32912, azure-powershell#29424)', async () => {
  await emu.admin.setFaults({ sharedKeyDisabledAccounts: ['FinopsExports01'] });
  const r = await put(SUB, 'mi', body({ resourceId: STORAGE_ID }));
  expect(r.status).toBe(400);
  expect(r.body.error.code).toBe('400');
  expect(r.body.error.message).toMatch(
    /^Key-based authentication is currently disabled on this storage account\./,
  );
  const other = STORAGE_ID.replace('finopsexports01', 'otheraccount01');
  expect((await put(SUB, 'mi', body({ resourceId: other }))).status).toBe(201);
  await expect(emu.admin.setFaults({ sharedKeyDisabledAccounts: ['no such!'] })).rejects.toThrow(
    /sharedKeyDisabledAccounts/,
  );
});

test('an MCA price sheet with Daily granularity is refused with the service wording (finops-toolkit#1193); EA keeps the official example', async () => {
  const profile =
    '/providers/Microsoft.Billing/billingAccounts/11111111-1111-1111-1111-111111111111:22222222-2222-2222-2222-222222222222_2019-05-31/billingProfiles/PROF-1';
  const daily = await put(profile, 'prices', body({ resourceId: STORAGE_ID }, { type: 'PriceSheet' }));
  expect(daily.status).toBe(400);
  expect(daily.body.error.message).toBe("Invalid dataset granularity: 'Daily'.");
  const monthly = await put(
    profile,
    'prices',
    body({ resourceId: STORAGE_ID }, { type: 'PriceSheet', dataSet: { granularity: 'Monthly' } }),
  );
  expect(monthly.status).toBe(201);
  expect(
    (await put(BILLING, 'prices', body({ resourceId: STORAGE_ID }, { type: 'PriceSheet' }))).status,
  ).toBe(201);
});

describe('hidden reruns (Learn tutorial-export-acm-data: "Export runs twice a day for the first five days of the month")', () => {
  const daily = (from: string) => ({
    ...body({ resourceId: STORAGE_ID }),
    properties: {
      ...body({ resourceId: STORAGE_ID }).properties,
      schedule: {
        status: 'Active',
        recurrence: 'Daily',
        recurrencePeriod: { from, to: '2026-12-31T00:00:00Z' },
      },
    },
  });
  const runIdOf = (r: Json): string => String(r.id).split('/').pop()!;
  const history = async (name: string) =>
    (await call('GET', `${SUB}/providers/Microsoft.CostManagement/exports/${name}/runHistory`)).body.value;

  test('on day 3 a daily month-to-date run also reruns the whole previous month, absent from run history', async () => {
    await emu.admin.setClock({ now: '2025-04-03T06:00:00Z' });
    expect((await put(SUB, 'mtd', daily('2025-01-01T00:00:00Z'))).status).toBe(201);
    const visible = await emu.admin.triggerScheduledRun(SUB, 'mtd');
    await emu.admin.waitForIdle();
    const runs = await emu.admin.runs();
    expect(runs.map((r) => [r.from, r.to, r.status, r.hidden ?? false])).toEqual([
      ['2025-04-01', '2025-04-03', 'Completed', false],
      ['2025-03-01', '2025-03-31', 'Completed', true],
    ]);
    const shown = await history('mtd');
    expect(shown.map(runIdOf)).toEqual([visible.runId]);
    const expanded = await call(
      'GET',
      `${SUB}/providers/Microsoft.CostManagement/exports/mtd?$expand=runHistory`,
    );
    expect(expanded.body.properties.runHistory.value.map(runIdOf)).toEqual([visible.runId]);
    // "Run now" is not the daily schedule: no rerun.
    expect((await call('POST', `${SUB}/providers/Microsoft.CostManagement/exports/mtd/run`)).status).toBe(
      200,
    );
    await emu.admin.waitForIdle();
    expect(await emu.admin.runs()).toHaveLength(3);
  });

  test('no rerun after the 5th, for an export created this month, or for other timeframes', async () => {
    await emu.admin.setClock({ now: '2025-04-06T06:00:00Z' });
    await put(SUB, 'late', daily('2025-01-01T00:00:00Z'));
    await emu.admin.triggerScheduledRun(SUB, 'late');
    await emu.admin.setClock({ now: '2025-04-02T06:00:00Z' });
    // "Daily export created between 1st to 5th … wouldn't generate data for the previous month".
    await put(SUB, 'new', daily('2025-04-01T00:00:00Z'));
    await emu.admin.triggerScheduledRun(SUB, 'new');
    const lastMonth = daily('2025-01-01T00:00:00Z');
    lastMonth.properties.definition.timeframe = 'TheLastMonth';
    await put(SUB, 'monthly', lastMonth);
    await emu.admin.triggerScheduledRun(SUB, 'monthly');
    await emu.admin.waitForIdle();
    expect((await emu.admin.runs()).filter((r) => r.hidden)).toEqual([]);
  });
});

test('a management group exports only Usage, refused in the service wording (Learn improved exports; azure-powershell#19453); formats stay permissive', async () => {
  const mg = '/providers/Microsoft.Management/managementGroups/mg-finops';
  const amortized = await put(mg, 'mg', body({ resourceId: STORAGE_ID }, { type: 'AmortizedCost' }));
  expect(amortized.status).toBe(400);
  expect(amortized.body.error).toEqual({
    code: '400',
    message:
      "Request properties validation failed: Invalid definition type 'AmortizedCost'; valid values: 'Usage'.",
  });
  expect((await put(mg, 'mg', body({ resourceId: STORAGE_ID }, { type: 'Usage' }))).status).toBe(201);
  // Learn documents CSV without compression here and for reservation datasets, but not what the API
  // answers to another format: accepted (the app never asks for one).
  const parquet = { ...body({ resourceId: STORAGE_ID }, { type: 'Usage' }) };
  parquet.properties.format = 'Parquet';
  expect((await put(mg, 'mg-parquet', parquet)).status).toBe(201);
  const reservations = body({ resourceId: STORAGE_ID }, { type: 'ReservationDetails' });
  reservations.properties.format = 'Parquet';
  expect((await put(BILLING, 'rd', reservations)).status).toBe(201);
});
