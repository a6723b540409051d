// The shared pacing budget in Azurite, between the Exports adapter and the emulator over real HTTPS:
// two adapters with their own budget objects over one table stand for two function instances.
import { TableClient } from '@azure/data-tables';

import { type RunningEmulator, startEmulator } from '../../dev/emulator/server';
import { ThrottledError } from '../../src/azure/armErrors';
import { CostExportsClient } from '../../src/azure/costExports';
import { LoopbackTokenCredential } from '../../src/azure/credentials';
import { buildExportBody } from '../../src/azure/exportBody';
import {
  STORAGE_OUTAGE_MS,
  TableThrottleBudget,
  type TableThrottleBudgetOptions,
} from '../../src/azure/throttleBudget';
import { testStorageConnection, uniqueName } from '../support/storage';

const SCOPE = '/subscriptions/00000000-0000-4000-8000-000000000001';
const MCA_SCOPE =
  '/providers/Microsoft.Billing/billingAccounts/aaaaaaaa-0000-0000-0000-000000000001:bbbbbbbb-0000-0000-0000-000000000002_2019-05-31';

let emulator: RunningEmulator;
beforeAll(async () => {
  emulator = await startEmulator({});
});
afterAll(async () => {
  await emulator.stop();
});
beforeEach(async () => {
  await emulator.admin.reset();
});

function instance(table: string, clientType: string, options: TableThrottleBudgetOptions = {}) {
  const budget = new TableThrottleBudget(
    TableClient.fromConnectionString(testStorageConnection(), table, { allowInsecureConnection: true }),
    { sleep: () => Promise.resolve(), ...options },
  );
  const api = new CostExportsClient({
    endpoint: emulator.url,
    credential: new LoopbackTokenCredential(emulator.url),
    clientType,
    caPem: emulator.caPem,
    budget,
  });
  return { budget, api };
}

async function createExport(scope: string): Promise<void> {
  const { api } = instance(uniqueName('setup'), 'setup');
  await api.createOrUpdate(
    scope,
    'daily',
    buildExportBody({
      dataset: 'ActualCost',
      timeframe: 'MonthToDate',
      destination: {
        storageAccount: 'dest',
        sasToken:
          'sv=2022-11-02&ss=b&srt=sco&sp=rwdlac&se=2030-01-01T00:00:00Z&spr=https&sig=Zm9vYmFyYmF6cXV4c2VjcmV0c2lnbmF0dXJl',
        container: 'exports',
      },
      schedule: { status: 'Inactive' },
    }),
  );
}

async function runOutcome(api: CostExportsClient, scope: string): Promise<string> {
  try {
    await api.run(scope, 'daily');
    return 'ok';
  } catch (error) {
    if (error instanceof ThrottledError) return error.code === 'PacedByBudget' ? 'deferred' : '429';
    throw error;
  }
}

describe('shared pacing budget', () => {
  it('shares one scope bucket between instances: the seeded burst is spent once, then calls are deferred without reaching the service', async () => {
    await createExport(SCOPE);
    const table = uniqueName('budget');
    const seeds = {
      entity: { run: { perMinute: 1, burst: 5 }, other: { perMinute: 0, burst: 1 } },
      client: { run: { perMinute: 0, burst: 1 }, other: { perMinute: 0, burst: 1 } },
    };
    const a = instance(table, 'autopilot', { seeds });
    const b = instance(table, 'autopilot', { seeds });
    await emulator.admin.resetCounters();
    const outcomes = [];
    for (const api of [a.api, b.api, a.api, b.api, a.api, b.api]) outcomes.push(await runOutcome(api, SCOPE));
    // A burst of 5 leaves one token to the service: 4 go, then the next slot is a minute away.
    expect(outcomes).toEqual(['ok', 'ok', 'ok', 'ok', 'deferred', 'deferred']);
    const runs = (await emulator.admin.requests()).filter((e) => e.operation === 'Exports_Execute');
    expect(runs).toHaveLength(4);
  });

  it('serves the callers one instance has waiting together: one read of each row and one write per scope bucket', async () => {
    const seeds = {
      entity: { run: { perMinute: 1, burst: 5 }, other: { perMinute: 0, burst: 1 } },
      client: { run: { perMinute: 0, burst: 1 }, other: { perMinute: 0, burst: 1 } },
    };
    const { budget } = instance(uniqueName('budget'), 'autopilot', { seeds });
    const key = (scope: string) => ({
      service: 'management.azure.com',
      clientType: 'autopilot',
      kind: 'run' as const,
      scope,
    });
    const decisions = await Promise.all([
      ...Array.from({ length: 6 }, () => budget.acquire(key(SCOPE))),
      ...Array.from({ length: 2 }, () => budget.acquire(key(MCA_SCOPE))),
    ]);
    // Each scope's usable burst (4 of 5) is handed out once, numbered in order; the rest defer.
    const entityTickets = decisions.map((d) => (d.kind === 'go' ? d.tickets?.entity : d.kind));
    expect(entityTickets).toEqual([1, 2, 3, 4, 'defer', 'defer', 1, 2]);
    // Both scope rows read and written once, the ClientType's row (unpaced) read once for both.
    expect(budget.stats).toMatchObject({ reads: 3, writes: 2, conflicts: 0 });
  });

  it('learns from a 429 in one instance so the other waits it out instead of drawing its own', async () => {
    await createExport(MCA_SCOPE);
    await emulator.admin.setThrottle({ runPerScope: { limit: 1, windowSeconds: 60 } });
    const table = uniqueName('budget');
    const a = instance(table, 'autopilot');
    const b = instance(table, 'autopilot');
    expect(await runOutcome(a.api, MCA_SCOPE)).toBe('ok'); // the emulator's one token
    expect(await runOutcome(a.api, MCA_SCOPE)).toBe('429'); // the seed (10/min) was too generous
    for (let i = 0; i < 5; i++) expect(await runOutcome(b.api, MCA_SCOPE)).toBe('deferred');
    const runs = (await emulator.admin.requests()).filter((e) => e.operation === 'Exports_Execute');
    expect(runs.map((e) => e.status)).toEqual([200, 429]);
    // A different ClientType is a different bucket: not held back by this one's 429.
    const other = instance(table, 'otherapp');
    expect(await runOutcome(other.api, MCA_SCOPE)).not.toBe('deferred');
  });

  it('follows the remaining count the service reports, so a bucket another user drained is paced before any 429', async () => {
    await createExport(SCOPE);
    await emulator.admin.setThrottle({ runPerScope: { limit: 10, windowSeconds: 600 } });
    // Another user of the same ClientType (no budget of ours) takes 8 of the service's 10.
    const other = new CostExportsClient({
      endpoint: emulator.url,
      credential: new LoopbackTokenCredential(emulator.url),
      clientType: 'autopilot',
      caPem: emulator.caPem,
    });
    for (let i = 0; i < 8; i++) await other.run(SCOPE, 'daily');
    await emulator.admin.resetCounters();
    const seeds = {
      entity: { run: { perMinute: 1, burst: 10 }, other: { perMinute: 0, burst: 1 } },
      client: { run: { perMinute: 0, burst: 1 }, other: { perMinute: 0, burst: 1 } },
    };
    const a = instance(uniqueName('budget'), 'autopilot', { seeds });
    // The seed alone would let 8 go; the answers say 1, then 0 left.
    const outcomes = [];
    for (let i = 0; i < 4; i++) outcomes.push(await runOutcome(a.api, SCOPE));
    expect(outcomes).toEqual(['ok', 'ok', 'deferred', 'deferred']);
    expect(a.budget.stats.synced).toBeGreaterThanOrEqual(1);
    const runs = (await emulator.admin.requests()).filter((e) => e.operation === 'Exports_Execute');
    expect(runs.slice(-2).map((e) => e.status)).toEqual([200, 200]);
    expect(runs.filter((e) => e.status === 429)).toHaveLength(0);
  });

  it('defers calls while its table cannot be reached, and lets them through unpaced once that lasts a minute', async () => {
    await createExport(SCOPE);
    let clock = 1_000_000;
    const broken = new TableThrottleBudget(
      TableClient.fromConnectionString(
        'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Zm9v;TableEndpoint=http://127.0.0.1:9/devstoreaccount1',
        'budget',
        { allowInsecureConnection: true, retryOptions: { maxRetries: 0 } },
      ),
      { now: () => clock },
    );
    const api = new CostExportsClient({
      endpoint: emulator.url,
      credential: new LoopbackTokenCredential(emulator.url),
      clientType: 'autopilot',
      caPem: emulator.caPem,
      budget: broken,
    });
    await emulator.admin.resetCounters();
    // A table that does not answer may be a busy moment: the call waits rather than go unpaced.
    expect(await runOutcome(api, SCOPE)).toBe('deferred');
    clock += STORAGE_OUTAGE_MS - 1;
    expect(await runOutcome(api, SCOPE)).toBe('deferred');
    expect((await emulator.admin.requests()).filter((e) => e.operation === 'Exports_Execute')).toHaveLength(
      0,
    );
    // Out of reach for a minute: an outage, and the service's own 429s pace the calls meanwhile.
    clock += 1;
    expect(await runOutcome(api, SCOPE)).toBe('ok');
    expect(broken.stats.storageErrors).toBe(3);
  });
});
