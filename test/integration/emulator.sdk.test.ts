// The real @azure/arm-costmanagement client against the emulator: the whole export lifecycle, and
// its built-in 429 retry honouring the emulator's Retry-After (checked on the server's request log).
import { CostManagementClient } from '@azure/arm-costmanagement';
import type { AccessToken, TokenCredential } from '@azure/core-auth';

import { type RunningEmulator, startEmulator } from '../../dev/emulator/server';
import { testStorageConnection } from '../support/storage';

const SCOPE = '/subscriptions/00000000-0000-0000-0000-0000000000bb';

const fakeCredential: TokenCredential & { scopes: string[] } = {
  scopes: [],
  async getToken(scopes: string | string[]): Promise<AccessToken> {
    fakeCredential.scopes.push(...(Array.isArray(scopes) ? scopes : [scopes]));
    return { token: 'fake-sdk-token', expiresOnTimestamp: Date.now() + 3_600_000 };
  },
};

describe('@azure/arm-costmanagement against the emulator', () => {
  let emu: RunningEmulator;
  let client: CostManagementClient;

  beforeAll(async () => {
    emu = await startEmulator({
      speedFactor: Infinity,
      clock: { now: '2025-03-15T12:00:00Z' },
      storage: {
        blobEndpoint: process.env.TEST_STORAGE_BLOB_ENDPOINT!,
        connectionString: testStorageConnection(),
      },
    });
    client = new CostManagementClient(fakeCredential, {
      endpoint: emu.url,
      apiVersion: '2025-03-01',
      credentialScopes: ['https://management.azure.com/.default'],
      tlsOptions: { ca: emu.caPem },
    });
  });
  afterAll(async () => emu.stop());

  test('create -> run -> history -> get -> delete', async () => {
    const created = await client.exports.createOrUpdate(SCOPE, 'sdk-export', {
      format: 'Csv',
      deliveryInfo: {
        destination: {
          resourceId:
            '/subscriptions/00000000-0000-0000-0000-0000000000bb/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sdkacct',
          container: 'exports',
          rootFolderPath: 'sdk',
        },
      },
      definition: {
        type: 'ActualCost',
        timeframe: 'Custom',
        timePeriod: { from: new Date('2025-02-01T00:00:00Z'), to: new Date('2025-02-28T00:00:00Z') },
        dataSet: { granularity: 'Daily' },
      },
      schedule: { status: 'Inactive' },
      partitionData: true,
    });
    expect(created.name).toBe('sdk-export');
    expect(created.eTag).toMatch(/^"[0-9a-f-]{36}"$/);

    await client.exports.execute(SCOPE, 'sdk-export');
    await emu.admin.waitForIdle();

    const history = await client.exports.getExecutionHistory(SCOPE, 'sdk-export');
    expect(history.value).toHaveLength(1);
    const run = history.value![0]!;
    expect(run.status).toBe('Completed');
    expect(run.executionType).toBe('OnDemand');
    expect(run.submittedTime).toBeInstanceOf(Date);
    expect(run.fileName).toEqual(expect.any(String));

    const got = await client.exports.get(SCOPE, 'sdk-export', { expand: 'runHistory' });
    expect(got.eTag).toBe(created.eTag);
    expect(got.runHistory?.value).toHaveLength(1);
    expect(got.definition?.timePeriod?.from).toEqual(new Date('2025-02-01T00:00:00Z'));

    const updated = await client.exports.createOrUpdate(SCOPE, 'sdk-export', {
      ...got,
      partitionData: false,
    });
    expect(updated.eTag).not.toBe(created.eTag);

    expect((await client.exports.list(SCOPE)).value?.map((e) => e.name)).toEqual(['sdk-export']);
    await client.exports.delete(SCOPE, 'sdk-export');
    await expect(client.exports.get(SCOPE, 'sdk-export')).rejects.toMatchObject({
      statusCode: 404,
      code: 'NotFound',
    });

    expect(new Set(fakeCredential.scopes)).toEqual(new Set(['https://management.azure.com/.default']));
    const counters = await emu.admin.counters();
    expect(counters.byOperation).toMatchObject({
      Exports_CreateOrUpdate: 2,
      Exports_Execute: 1,
      Exports_GetExecutionHistory: 1,
      Exports_List: 1,
      Exports_Delete: 1,
      Exports_Get: 2,
    });
  });

  test('a 429 is retried after the advertised Retry-After', async () => {
    await emu.admin.reset();
    await emu.admin.setThrottle({ otherPerPrincipal: { limit: 1, windowSeconds: 1 } });
    try {
      await expect(client.exports.list(SCOPE)).resolves.toBeDefined();
      await expect(client.exports.list(SCOPE)).resolves.toBeDefined();
    } finally {
      await emu.admin.setThrottle({ otherPerPrincipal: null });
    }
    const log = (await emu.admin.requests()).filter((r) => r.operation === 'Exports_List');
    expect(log.map((r) => r.status)).toEqual([200, 429, 200]);
    const [, throttled, retried] = log;
    expect(throttled!.retryAfterSeconds).toBe(1);
    // The retry arrived no sooner than the advertised wait after the 429 was answered.
    expect(retried!.receivedAt - throttled!.answeredAt).toBeGreaterThanOrEqual(
      throttled!.retryAfterSeconds! * 1000 - 5,
    );
  });
});
