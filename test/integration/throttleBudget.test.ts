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
  UNPACED_MEMORY_MS,
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

/** A table client that records the storage calls made through it. */
function countingTable(name: string): { table: TableClient; calls: string[] } {
  const calls: string[] = [];
  const table = TableClient.fromConnectionString(testStorageConnection(), name, {
    allowInsecureConnection: true,
  });
  const counted = new Proxy(table, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.push(String(property));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { table: counted, calls };
}

describe('buckets found unpaced', () => {
  const key = (scope: string, kind: 'run' | 'other' = 'other') => ({
    service: 'management.azure.com',
    clientType: 'autopilot',
    kind,
    scope,
  });
  const at = (clock: { now: number }, table: TableClient) =>
    new TableThrottleBudget(table, { now: () => clock.now, sleep: () => Promise.resolve() });

  it('reads each bucket once within the window: the calls after go without tickets or any storage request, and the rows are read again after it', async () => {
    const clock = { now: 1_000_000 };
    const { table, calls } = countingTable(uniqueName('budget'));
    const budget = at(clock, table);
    for (let i = 0; i < 5; i++) expect(await budget.acquire(key(SCOPE))).toEqual({ kind: 'go', tickets: {} });
    expect(calls.filter((c) => c === 'getEntity')).toHaveLength(2);
    expect(calls.filter((c) => c !== 'getEntity' && c !== 'createTable')).toEqual([]);
    expect(budget.stats).toMatchObject({ reads: 2, readsSkipped: 8, writes: 0 });
    // Another scope: only its own row is read, the ClientType's is remembered.
    await budget.acquire(key(MCA_SCOPE));
    expect(budget.stats).toMatchObject({ reads: 3, readsSkipped: 9 });
    const before = calls.length;
    clock.now += UNPACED_MEMORY_MS - 1;
    expect(await budget.acquire(key(SCOPE))).toEqual({ kind: 'go', tickets: {} });
    expect(calls).toHaveLength(before);
    // The window is over: both rows are read again (and remembered again).
    clock.now += 1;
    await budget.acquire(key(SCOPE));
    await budget.acquire(key(SCOPE));
    expect(budget.stats).toMatchObject({ reads: 5, readsSkipped: 13, writes: 0 });
  });

  it('reads a bucket again at once after a 429 of its own, and waits out the block it learnt', async () => {
    const clock = { now: 1_000_000 };
    const budget = at(clock, countingTable(uniqueName('budget')).table);
    await budget.acquire(key(SCOPE));
    await budget.acquire(key(MCA_SCOPE));
    const reads = budget.stats.reads;
    // The scope's bucket refused a call: that scope waits, the other scope and the ClientType do not.
    await budget.observeThrottle(key(SCOPE), 'entity', 30_000);
    expect(await budget.acquire(key(SCOPE))).toMatchObject({ kind: 'defer' });
    expect(await budget.acquire(key(MCA_SCOPE))).toEqual({ kind: 'go', tickets: {} });
    // The 429's read, then the scope's row (the ClientType's and the other scope's remembered).
    expect(budget.stats.reads).toBe(reads + 2);
    // The ClientType refused a call: every scope waits from the next call on.
    await budget.observeThrottle(key(MCA_SCOPE), 'client', 30_000);
    expect(await budget.acquire(key(MCA_SCOPE))).toMatchObject({ kind: 'defer' });
  });

  it("sees another instance's 429 block once the window has passed, and the instance that met it at once", async () => {
    const clock = { now: 1_000_000 };
    const name = uniqueName('budget');
    const a = at(clock, countingTable(name).table);
    const b = at(clock, countingTable(name).table);
    await a.acquire(key(SCOPE));
    await b.acquire(key(SCOPE));
    await b.observeThrottle(key(SCOPE), 'client', 60_000);
    expect(await b.acquire(key(SCOPE))).toMatchObject({ kind: 'defer' });
    // Within the window `a` still takes the ClientType as unpaced (the service's 429 would tell it).
    expect(await a.acquire(key(SCOPE))).toEqual({ kind: 'go', tickets: {} });
    clock.now += UNPACED_MEMORY_MS;
    expect(await a.acquire(key(SCOPE))).toMatchObject({ kind: 'defer' });
    expect(await a.acquire(key(MCA_SCOPE))).toMatchObject({ kind: 'defer' });
  });

  it('reads a paced bucket (runs per scope, seeded at 10 a minute) for every call, the unpaced ClientType once', async () => {
    const clock = { now: 1_000_000 };
    const budget = at(clock, countingTable(uniqueName('budget')).table);
    const tickets = [];
    for (let i = 0; i < 10; i++) {
      const decision = await budget.acquire(key(SCOPE, 'run'));
      tickets.push(decision.kind === 'go' ? decision.tickets?.entity : decision.kind);
      clock.now += 100;
    }
    // The usable burst (8 of 10), then deferred: a bucket that defers (and writes nothing) is
    // still read for the next call, never taken as unpaced.
    expect(tickets).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 'defer', 'defer']);
    expect(budget.stats).toMatchObject({ reads: 11, writes: 8, readsSkipped: 9, conflicts: 0 });
  });
});

describe('memory per process, bounded whatever the number of scopes', () => {
  const key = (scope: string, kind: 'run' | 'other' = 'run') => ({
    service: 'management.azure.com',
    clientType: 'autopilot',
    kind,
    scope,
  });
  const scopes = Array.from(
    { length: 12 },
    (_, i) => `/subscriptions/00000000-0000-4000-8000-${String(i + 100).padStart(12, '0')}`,
  );
  const seeds = {
    entity: { run: { perMinute: 1, burst: 10 }, other: { perMinute: 0, burst: 1 } },
    client: { run: { perMinute: 0, burst: 1 }, other: { perMinute: 0, burst: 1 } },
  };
  const bounded = (clock: { now: number }, max: number) =>
    new TableThrottleBudget(countingTable(uniqueName('budget')).table, {
      now: () => clock.now,
      sleep: () => Promise.resolve(),
      seeds,
      maxRememberedBuckets: max,
    });

  it('keeps at most the bound of states seen and of buckets remembered unpaced, however many scopes it paces', async () => {
    const clock = { now: 1_000_000 };
    const budget = bounded(clock, 4);
    for (const scope of scopes) {
      expect(await budget.acquire(key(scope))).toMatchObject({ kind: 'go' }); // a paced row, written
      expect(await budget.acquire(key(scope, 'other'))).toEqual({ kind: 'go', tickets: {} }); // unpaced
      clock.now += 10;
    }
    expect(budget.memoryEntries()).toEqual({ lastSeen: 4, localBlocks: 0, unpacedUntil: 4 });
  });

  it('keeps only the 429 blocks still in force', async () => {
    const clock = { now: 1_000_000 };
    const budget = bounded(clock, 100);
    await budget.observeThrottle(key(scopes[0]!), 'entity', 30_000);
    await budget.observeThrottle(key(scopes[1]!), 'entity', 60_000);
    expect(budget.memoryEntries().localBlocks).toBe(2);
    // The first block is over: the next 429 sweeps it away.
    clock.now += 30_000;
    await budget.observeThrottle(key(scopes[2]!), 'entity', 10_000);
    expect(budget.memoryEntries().localBlocks).toBe(2);
    // Both left are over: a call for one drops its block on reading it, the next 429 the other.
    clock.now += 30_000;
    await budget.acquire(key(scopes[2]!));
    expect(budget.memoryEntries().localBlocks).toBe(1);
    await budget.observeThrottle(key(scopes[3]!), 'entity', 10_000);
    expect(budget.memoryEntries().localBlocks).toBe(1);
  });

  it('still learns the remaining count of a bucket whose state it no longer remembers: the answer is decided on the row', async () => {
    const clock = { now: 1_000_000 };
    const budget = bounded(clock, 2);
    const decision = await budget.acquire(key(scopes[0]!));
    expect(decision).toMatchObject({ kind: 'go', tickets: { entity: 1 } });
    // Other scopes' buckets push the first out of memory.
    for (const scope of scopes.slice(1, 4)) await budget.acquire(key(scope));
    expect(budget.memoryEntries().lastSeen).toBe(2);
    const reads = budget.stats.reads;
    // The service says none is left: the row is read and brought down, so the next call waits.
    await budget.observeAnswer(
      key(scopes[0]!),
      { entity: 0 },
      decision.kind === 'go' ? decision.tickets : {},
    );
    expect(budget.stats).toMatchObject({ synced: 1, reads: reads + 1 });
    expect(await budget.acquire(key(scopes[0]!))).toMatchObject({ kind: 'defer' });
  });
});
