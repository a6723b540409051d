// Task hub housekeeping: the durableCleanup timer fires on its NCRONTAB schedule in the local host
// (virtual clock, 40 virtual days) and purges, through the real durable client, exactly the finished
// orchestrations older than the retention; running and recent ones stay.
import type { OrchestrationContext } from 'durable-functions';
import * as df from 'durable-functions';

import { VirtualClock } from '../../dev/host/clock';
import { findRegistration } from '../../dev/host/functionsCoreStub';
import { type LocalHost, startLocalHost } from '../../dev/host/localHost';
import { sampleSettings } from '../../dev/stack';
import { resetConfigCache } from '../../src/config';
import { type CleanupResult, DURABLE_CLEANUP_TIMER } from '../../src/functions/durableCleanup';
import { useAppServices } from '../../src/services/appServices';

df.app.orchestration('finishesAtOnce', function* () {
  yield* [];
  return 'done';
});
df.app.orchestration('waitsForApproval', function* (ctx: OrchestrationContext) {
  return yield ctx.df.waitForExternalEvent('approved');
});

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 1, 12, 0); // cleanup runs at 04:15 UTC each day
const saved = new Map<string, string | undefined>();
let clock: VirtualClock;
let host: LocalHost;
const logs: string[] = [];

beforeAll(async () => {
  const settings = { ...sampleSettings(), DURABLE_HISTORY_RETENTION_DAYS: '30' };
  for (const [name, value] of Object.entries(settings)) {
    saved.set(name, process.env[name]);
    process.env[name] = value;
  }
  resetConfigCache();
  clock = new VirtualClock(T0);
  useAppServices({ now: () => new Date(clock.now()) });
  host = await startLocalHost({ clock, env: process.env, logger: (_level, message) => logs.push(message) });
});

afterAll(async () => {
  await host?.stop();
  useAppServices(undefined);
  for (const [name, value] of saved) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  resetConfigCache();
});

const exists = (id: string) => host.engine.getStatus(id) !== undefined;

test('registered on %DURABLE_CLEANUP_SCHEDULE% with a durable client input', () => {
  const registration = findRegistration(DURABLE_CLEANUP_TIMER);
  expect(registration.trigger).toMatchObject({
    type: 'timerTrigger',
    schedule: '%DURABLE_CLEANUP_SCHEDULE%',
  });
  expect(Object.values(registration.bindings).map((b) => b.type)).toContain('durableClient');
});

test('finished instances older than the retention are purged on schedule; running and recent ones stay', async () => {
  const old = host.engine.startNew('finishesAtOnce', { instanceId: 'old-finished' });
  const running = host.engine.startNew('waitsForApproval', { instanceId: 'old-running' });
  await clock.runUntilIdle();
  expect(host.engine.getStatus(old)?.runtimeStatus).toBe('Completed');

  await clock.advance(20 * DAY);
  const recent = host.engine.startNew('finishesAtOnce', { instanceId: 'recent-finished' });
  await clock.runUntilIdle();

  // Day 29: the daily runs so far found nothing old enough.
  await clock.advance(9 * DAY);
  expect([old, running, recent].map(exists)).toEqual([true, true, true]);

  // Day 31: a 04:15 run purges what was created more than 30 days before it.
  await clock.advance(2 * DAY);
  expect([old, running, recent].map(exists)).toEqual([false, true, true]);
  // Created 01-01 12:00: too young for the 01-31 04:15 run (cut-off 01-01 04:15), purged by 02-01's.
  const purges = logs.flatMap((l) => {
    const line = /\{"event":"durable\.purged".*\}$/.exec(l)?.[0];
    return line ? [JSON.parse(line) as { instancesDeleted: number; createdBefore: string }] : [];
  });
  expect(purges.filter((p) => p.instancesDeleted > 0)).toEqual([
    expect.objectContaining({
      instancesDeleted: 1,
      createdBefore: '2026-01-02T04:15:00.000Z',
      retentionDays: 30,
    }),
  ]);

  // Once the running one finishes, it ages out like the rest.
  host.engine.raiseEvent(running, 'approved', true);
  await clock.runUntilIdle();
  await clock.advance(30 * DAY);
  expect([old, running, recent].map(exists)).toEqual([false, false, false]);
});

test('fired by hand it reports what it purged; nothing left means 0', async () => {
  const result = (await host.fireTimer(DURABLE_CLEANUP_TIMER)) as CleanupResult;
  expect(result.instancesDeleted).toBe(0);
  expect(Date.parse(result.createdBefore)).toBe(clock.now() - 30 * DAY);
});
