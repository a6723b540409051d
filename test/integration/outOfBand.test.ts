// Out-of-band runs end to end: the timer, the outOfBandRound orchestration and its activities driven by
// the local host's durable engine on a virtual clock, the catalog in Azurite, runs posted to the
// Exports emulator (including a 429 storm), and the policy endpoint over real HTTP.
import { TableClient } from '@azure/data-tables';

import { type RunningEmulator, startEmulator } from '../../dev/emulator/server';
import { VirtualClock } from '../../dev/host/clock';
import { findRegistration } from '../../dev/host/functionsCoreStub';
import type { HostLogLevel } from '../../dev/host/invocation';
import { type LocalHost, startLocalHost } from '../../dev/host/localHost';
import { Catalog, type ExportRecord, TABLE_KINDS } from '../../src/azure/catalog';
import { CostExportsClient } from '../../src/azure/costExports';
import { LoopbackTokenCredential } from '../../src/azure/credentials';
import { buildExportBody } from '../../src/azure/exportBody';
import { tableClientFactory } from '../../src/azure/storageClients';
import type { StorageConnection } from '../../src/config';
import type { OutOfBandPolicy } from '../../src/domain/outOfBandPolicy';
import { scopeKey } from '../../src/domain/scope';
import {
  OUT_OF_BAND_POLICY_FUNCTION,
  OUT_OF_BAND_TIMER,
  type TickResult,
} from '../../src/functions/outOfBandRuns';
import { useAppServices } from '../../src/services/appServices';
import {
  FIND_DUE_ACTIVITY,
  OUT_OF_BAND_ROUND,
  type RoundTotals,
  RUN_EXPORT_ACTIVITY,
} from '../../src/workflows/outOfBandRound';
import { testStorageConnection, uniqueName } from '../support/storage';

const HOUR = 3600_000;

/** The field problems of an error answer ({error:{code,message,fields}}). */
const fieldsOf = (body: Record<string, unknown>): { field: string; message: string }[] =>
  (body.error as { fields: { field: string; message: string }[] }).fields;
const T0 = Date.UTC(2025, 6, 1, 6, 0);
const SUB = (n: number) => `/subscriptions/00000000-0000-0000-0000-00000000000${n}`;
const SIG = 'T3V0T2ZCYW5kU2VjcmV0U2lnbmF0dXJlKy8xMjM0NTY3ODkw';
const SAS = `sv=2024-11-04&ss=b&srt=sco&sp=racwdl&se=2026-01-01T00:00:00Z&spr=https&sig=${encodeURIComponent(SIG)}`;

function connection(): StorageConnection {
  return { kind: 'connectionString', name: 'AzureWebJobsStorage', connectionString: testStorageConnection() };
}

interface Seed {
  scope: string;
  name: string;
  policy?: OutOfBandPolicy;
  lastRun?: ExportRecord['lastRun'];
}

// Three scopes; eight exports due at the first tick, four that are not (and why).
const SEEDS: Seed[] = [
  ...[1, 2, 3].flatMap((n) =>
    ['a', 'b'].map((x) => ({ scope: SUB(n), name: `oob-${n}${x}`, policy: { minIntervalMinutes: 360 } })),
  ),
  {
    scope: SUB(1),
    name: 'oob-1c',
    policy: { minIntervalMinutes: 360, hoursWindow: { fromHourUtc: 0, toHourUtc: 12 } },
  },
  { scope: SUB(2), name: 'oob-2c', policy: { minIntervalMinutes: 720 } },
  { scope: SUB(1), name: 'no-policy' },
  {
    scope: SUB(2),
    name: 'running',
    policy: { minIntervalMinutes: 360 },
    lastRun: { status: 'InProgress', at: new Date(T0 - HOUR).toISOString() },
  },
  {
    scope: SUB(3),
    name: 'recent',
    policy: { minIntervalMinutes: 360 },
    lastRun: { status: 'Completed', at: new Date(T0 - 2 * HOUR).toISOString() },
  },
  {
    scope: SUB(3),
    name: 'night-only',
    policy: { minIntervalMinutes: 360, hoursWindow: { fromHourUtc: 22, toHourUtc: 4 } },
  },
];
const DUE_AT_FIRST_TICK = 8;

describe('out-of-band runs through the local host (virtual clock, Azurite, Exports emulator)', () => {
  const clock = new VirtualClock(T0 - 60_000);
  const logs: string[] = [];
  let emulator: RunningEmulator;
  let host: LocalHost;
  let catalog: Catalog;
  const inFlight = { now: 0, max: 0 };

  beforeAll(async () => {
    emulator = await startEmulator({ speedFactor: Infinity, clock: { now: new Date(T0 - 60_000) } });
    catalog = new Catalog({ tableClient: tableClientFactory(connection()), tablePrefix: uniqueName('o') });
    await catalog.ensureTables();
    const costExports = new CostExportsClient({
      endpoint: emulator.url,
      credential: new LoopbackTokenCredential(emulator.url),
      clientType: 'outOfBandTest',
      caPem: emulator.caPem,
    });
    for (const seed of SEEDS) {
      await costExports.createOrUpdate(
        seed.scope,
        seed.name,
        buildExportBody({
          dataset: 'ActualCost',
          timeframe: 'MonthToDate',
          destination: { storageAccount: 'partnerd01', sasToken: SAS, container: 'exports' },
          schedule: { status: 'Active', recurrence: 'Daily', recurrencePeriod: { from: '2025-07-01' } },
        }),
      );
    }
    await catalog.upsertMany(
      'exports',
      SEEDS.map((seed): ExportRecord => ({
        scope: seed.scope,
        exportName: seed.name,
        dataset: 'ActualCost',
        destination: {
          storageAccount: 'partnerd01',
          container: 'exports',
          rootFolderPath: '',
          sasDelivered: true,
        },
        ...(seed.policy ? { outOfBand: seed.policy } : {}),
        ...(seed.lastRun ? { lastRun: seed.lastRun } : {}),
        missing: false,
        updatedAt: new Date(T0 - 24 * HOUR).toISOString(),
      })),
    );
    await emulator.admin.resetCounters();

    // Counts runs in flight, to check the fan-out bound.
    const counted = {
      run: async (...args: Parameters<CostExportsClient['run']>) => {
        inFlight.now++;
        inFlight.max = Math.max(inFlight.max, inFlight.now);
        try {
          return await costExports.run(...args);
        } finally {
          inFlight.now--;
        }
      },
    };
    useAppServices({
      outOfBand: {
        catalog,
        costExports: counted,
        concurrency: 3,
        pageSize: 5, // several pages, so several continueAsNew generations
        now: () => new Date(clock.now()),
      },
    });
    host = await startLocalHost({
      clock,
      env: { OUT_OF_BAND_SCHEDULE: '0 0 */6 * * *' },
      registrations: [
        OUT_OF_BAND_TIMER,
        OUT_OF_BAND_ROUND,
        FIND_DUE_ACTIVITY,
        RUN_EXPORT_ACTIVITY,
        OUT_OF_BAND_POLICY_FUNCTION,
      ].map(findRegistration),
      startBlobWatchers: false,
      logger: (level: HostLogLevel, message: string) => logs.push(`${level} ${message}`),
    });
  });

  afterAll(async () => {
    useAppServices(undefined);
    await host?.stop();
    await emulator?.stop();
  });

  const runsPerExport = async (): Promise<Record<string, number>> => {
    const counters = await emulator.admin.counters();
    const out: Record<string, number> = {};
    for (const [key, ops] of Object.entries(counters.byExport)) {
      const runs = ops.Exports_Execute ?? 0;
      if (runs > 0) out[key.split('/').at(-1)!] = runs;
    }
    return out;
  };
  const roundOutput = async (instanceId: string): Promise<RoundTotals> => {
    await clock.runUntil(() => host.engine.getStatus(instanceId)?.runtimeStatus === 'Completed', {
      maxMs: HOUR,
    });
    return host.engine.getStatus(instanceId)!.output as RoundTotals;
  };

  it('registers the timer, the orchestration, its activities and the policy route', () => {
    expect(findRegistration(OUT_OF_BAND_TIMER).trigger).toMatchObject({
      type: 'timerTrigger',
      schedule: '%OUT_OF_BAND_SCHEDULE%',
    });
    expect(Object.values(findRegistration(OUT_OF_BAND_TIMER).bindings).map((b) => b.type)).toContain(
      'durableClient',
    );
    expect(findRegistration(OUT_OF_BAND_ROUND).trigger.type).toBe('orchestrationTrigger');
    expect(findRegistration(RUN_EXPORT_ACTIVITY).trigger.type).toBe('activityTrigger');
    expect(findRegistration(OUT_OF_BAND_POLICY_FUNCTION).trigger).toMatchObject({
      type: 'httpTrigger',
      route: 'exports/{scopeKey}/{exportName}/outOfBand',
      methods: ['PUT', 'DELETE'],
      authLevel: 'function',
    });
  });

  it('the 06:00 tick runs exactly the due exports, with bounded fan-out, and records each submission', async () => {
    await clock.advanceTo(T0);
    const output = await roundOutput('outOfBandRound-20250701T0600');
    expect(output).toMatchObject({
      pages: 3,
      scanned: 11,
      due: DUE_AT_FIRST_TICK,
      submitted: DUE_AT_FIRST_TICK,
      notDue: 3,
      throttled: 0,
      failed: 0,
    });
    const runs = await runsPerExport();
    expect(Object.keys(runs).sort()).toEqual([
      'oob-1a',
      'oob-1b',
      'oob-1c',
      'oob-2a',
      'oob-2b',
      'oob-2c',
      'oob-3a',
      'oob-3b',
    ]);
    expect(Object.values(runs).every((n) => n === 1)).toBe(true);
    expect(inFlight.max).toBeGreaterThan(0);
    expect(inFlight.max).toBeLessThanOrEqual(3); // OUT_OF_BAND_CONCURRENCY
    expect((await catalog.getExport(SUB(1), 'oob-1a'))!.lastOutOfBand).toEqual({
      status: 'submitted',
      at: new Date(T0).toISOString(),
    });
    expect((await catalog.getExport(SUB(3), 'recent'))!.lastOutOfBand).toBeUndefined();
    // One round.finished event for the round, with its totals, written once despite the replays.
    const finished = logs.flatMap((l) => {
      const line = /\{"event":"round\.finished".*\}$/.exec(l)?.[0];
      return line ? [JSON.parse(line) as Record<string, unknown>] : [];
    });
    expect(finished).toEqual([
      expect.objectContaining({
        round: 'outOfBandRound',
        instanceId: 'outOfBandRound-20250701T0600',
        pages: 3,
        submitted: DUE_AT_FIRST_TICK,
        failed: 0,
      }),
    ]);
  });

  it('the same tick delivered again starts nothing', async () => {
    const again = (await host.fireTimer(OUT_OF_BAND_TIMER)) as TickResult;
    expect(again).toEqual({
      started: false,
      instanceId: 'outOfBandRound-20250701T0600',
      reason: 'alreadyStarted',
    });
    expect(Object.values(await runsPerExport()).reduce((a, b) => a + b, 0)).toBe(DUE_AT_FIRST_TICK);
  });

  it('the 12:00 tick runs the 6-hour policies again; 12-hour and windowed ones wait', async () => {
    await emulator.admin.resetCounters();
    await emulator.admin.setClock({ now: new Date(T0 + 6 * HOUR - 60_000) });
    await clock.advanceTo(T0 + 6 * HOUR);
    const output = await roundOutput('outOfBandRound-20250701T1200');
    // oob-1c is outside 00-12; oob-2c has a 12 h interval; `recent` is due now; `running` is still InProgress.
    expect(Object.keys(await runsPerExport()).sort()).toEqual([
      'oob-1a',
      'oob-1b',
      'oob-2a',
      'oob-2b',
      'oob-3a',
      'oob-3b',
      'recent',
    ]);
    expect(output).toMatchObject({ submitted: 7, notDue: 4 });
  });

  it('a 429 storm: two runs go through, the rest are deferred (counted, not retried), the round pauses by durable timer', async () => {
    await emulator.admin.resetCounters();
    await emulator.admin.setThrottle({ runPerPrincipal: { limit: 2, windowSeconds: 3600 } });
    await emulator.admin.setClock({ now: new Date(T0 + 12 * HOUR - 60_000) });
    await clock.advanceTo(T0 + 12 * HOUR);
    const output = await roundOutput('outOfBandRound-20250701T1800');
    // Due at 18:00: the six 6-hour policies, oob-2c (12 h) and `recent` (6 h) → eight; oob-1c is outside its window.
    expect(output).toMatchObject({ due: 8, submitted: 2, throttled: 6, failed: 0 });
    // Throttled batches (but the last) waited out the 429 (Retry-After capped at 5 minutes) with durable
    // timers: virtual time moved on by exactly that much, nothing slept.
    expect(output.pausedMs).toBeGreaterThanOrEqual(5 * 60_000);
    expect(output.pausedMs % (5 * 60_000)).toBe(0);
    expect(host.engine.getStatus('outOfBandRound-20250701T1800')!.lastUpdatedTime.getTime()).toBe(
      T0 + 12 * HOUR + output.pausedMs,
    );
    const counters = await emulator.admin.counters();
    expect(counters.byOperation.Exports_Execute).toBe(8); // one attempt each: no retry loop
    expect(counters.byStatus['429']).toBe(6);
    const throttled = [];
    for (const seed of SEEDS) {
      const row = await catalog.getExport(seed.scope, seed.name);
      if (row?.lastOutOfBand?.status === 'throttled') throttled.push(seed.name);
    }
    expect(throttled).toHaveLength(6);

    // The storm is over; an extra tick an hour later picks up exactly the deferred ones.
    await emulator.admin.setThrottle({ runPerPrincipal: null });
    await emulator.admin.resetCounters();
    await clock.advanceTo(T0 + 13 * HOUR);
    const extra = (await host.fireTimer(OUT_OF_BAND_TIMER)) as TickResult;
    expect(extra).toMatchObject({ started: true, instanceId: 'outOfBandRound-20250701T1900' });
    expect(await roundOutput(extra.instanceId)).toMatchObject({ submitted: 6, throttled: 0 });
    expect(Object.keys(await runsPerExport()).sort()).toEqual([...throttled].sort());
  });

  describe('PUT|DELETE /api/exports/{scopeKey}/{exportName}/outOfBand', () => {
    const url = (scope: string, name: string) =>
      `${host.baseUrl}/exports/${encodeURIComponent(scopeKey(scope))}/${encodeURIComponent(name)}/outOfBand`;
    const send = async (method: string, target: string, body?: unknown) => {
      const response = await fetch(target, {
        method,
        headers: { 'content-type': 'application/json', 'x-functions-key': host.functionKey },
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      });
      return { status: response.status, json: (await response.json()) as Record<string, unknown> };
    };

    it('sets a policy (stored on the export row) and removes it', async () => {
      const put = await send('PUT', url(SUB(1), 'no-policy'), {
        minIntervalMinutes: 180,
        hoursUtc: { from: 6, to: 20 },
      });
      expect(put).toEqual({
        status: 200,
        json: {
          scope: SUB(1),
          exportName: 'no-policy',
          outOfBand: { minIntervalMinutes: 180, hoursWindow: { fromHourUtc: 6, toHourUtc: 20 } },
          lastOutOfBand: null,
        },
      });
      expect((await catalog.getExport(SUB(1), 'no-policy'))!.outOfBand).toEqual({
        minIntervalMinutes: 180,
        hoursWindow: { fromHourUtc: 6, toHourUtc: 20 },
      });
      const removed = await send('DELETE', url(SUB(1), 'no-policy'));
      expect(removed).toMatchObject({ status: 200, json: { outOfBand: null } });
      expect((await catalog.getExport(SUB(1), 'no-policy'))!.outOfBand).toBeUndefined();
    });

    it.each([
      ['not JSON', '{', ['body']],
      ['missing interval', {}, ['minIntervalMinutes']],
      [
        'interval too short and a bad window',
        { minIntervalMinutes: 5, hoursUtc: { from: 25, to: 2 } },
        ['minIntervalMinutes', 'hoursUtc.from'],
      ],
    ])('refuses %s with field errors', async (_name, body, fields) => {
      const response = await send('PUT', url(SUB(1), 'oob-1a'), body);
      expect(response.status).toBe(400);
      expect(fieldsOf(response.json).map((e) => e.field)).toEqual(fields);
    });

    it('names a bad scope key, and says 404 for an unregistered export', async () => {
      const badScope = await send('PUT', `${host.baseUrl}/exports/not-a-scope/oob-1a/outOfBand`, {
        minIntervalMinutes: 60,
      });
      expect(badScope.status).toBe(400);
      expect(fieldsOf(badScope.json)[0]!.field).toBe('scopeKey');
      const unknown = await send('PUT', url(SUB(1), 'nope'), { minIntervalMinutes: 60 });
      expect(unknown.status).toBe(404);
    });

    it('decodes route parameters once: %2527 is the name %27, never a quote', async () => {
      const answer = await send('PUT', url(SUB(1), 'a%27b'), { minIntervalMinutes: 60 }); // a%2527b on the wire
      expect(answer.status).toBe(404);
      expect(fieldsOf(answer.json)[0]!.message).toContain('export "a%27b" is not registered');
      const key = await send('DELETE', `${host.baseUrl}/exports/providers%257Cx/oob-1a/outOfBand`);
      expect(key.status).toBe(400);
      expect(fieldsOf(key.json)[0]!.field).toBe('scopeKey');
    });
  });

  it('the SAS signature never reached a log or a table', async () => {
    const rows: unknown[] = [];
    for (const kind of TABLE_KINDS) {
      const client = TableClient.fromConnectionString(testStorageConnection(), catalog.tableName(kind), {
        allowInsecureConnection: true,
      });
      for await (const row of client.listEntities()) rows.push(row);
    }
    for (const text of [logs.join('\n'), JSON.stringify(rows)]) {
      expect(text).not.toContain(SIG);
      expect(text).not.toContain(encodeURIComponent(SIG));
    }
    expect(rows.length).toBeGreaterThanOrEqual(SEEDS.length);
  });
});
