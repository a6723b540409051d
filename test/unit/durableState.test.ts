// The local durable engine's saved state: an engine stopped mid-orchestration (an activity running,
// a timer pending, a sub-orchestration under way) and a new engine loaded from what it exported
// finish the orchestration as if nothing had happened (what `npm run dev --data-dir` relies on).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import type { OrchestrationContext } from 'durable-functions';
import * as df from 'durable-functions';

import { VirtualClock } from '../../dev/host/clock';
import { DurableEngine, type EngineState } from '../../dev/host/durable/engine';
import { readEngineState, writeEngineStatePeriodically } from '../../dev/host/durable/stateFile';
import { silentLogger } from '../../dev/host/invocation';

const HOUR = 3600_000;
const calls: string[] = [];
let gate: { release: () => void; opened: Promise<void> } | undefined;

df.app.activity('step', {
  handler: async (name: string) => {
    calls.push(name);
    if (name === 'blocked' && gate) await gate.opened;
    return `did ${name}`;
  },
});

df.app.orchestration('stateChild', function* (ctx: OrchestrationContext) {
  const r: string = yield ctx.df.callActivity('step', `child-${ctx.df.getInput<number>()}`);
  return r;
});

df.app.orchestration('resumable', function* (ctx: OrchestrationContext) {
  const a: string = yield ctx.df.callActivityWithRetry('step', new df.RetryOptions(1000, 2), 'blocked');
  ctx.df.setCustomStatus({ stage: 'waiting' });
  yield ctx.df.createTimer(new Date(ctx.df.currentUtcDateTime.getTime() + HOUR));
  const b: string = yield ctx.df.callSubOrchestrator('stateChild', 7, `${ctx.df.instanceId}-child`);
  return { a, b, at: ctx.df.currentUtcDateTime.toISOString() };
});

const START = Date.UTC(2026, 0, 1);
const newEngine = (at = START) => {
  const clock = new VirtualClock(at);
  return { clock, engine: new DurableEngine({ clock, logger: silentLogger }) };
};
/** Through JSON, as the state file does. */
const viaJson = (state: EngineState) => JSON.parse(JSON.stringify(state)) as EngineState;

async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !done(); i++) await new Promise((resolve) => setImmediate(resolve));
  if (!done()) throw new Error('condition never held');
}

beforeEach(() => {
  calls.length = 0;
  gate = undefined;
});

test('an activity that never reported back runs again in the new engine, and the orchestration completes', async () => {
  let release!: () => void;
  gate = { release: () => release(), opened: new Promise<void>((r) => (release = r)) };
  const first = newEngine();
  const id = first.engine.startNew('resumable', { instanceId: 'bf-1' });
  await until(() => calls.includes('blocked'));
  const saved = viaJson(first.engine.exportState());
  first.engine.stop();
  gate.release(); // its result arrives after the stop: ignored, as a crashed worker's would be
  expect(saved.instances.map((i) => [i.instanceId, i.runtimeStatus])).toEqual([['bf-1', 'Running']]);

  gate = undefined;
  const second = newEngine();
  second.engine.importState(saved);
  await second.clock.runUntil(() => second.engine.getStatus(id)?.runtimeStatus === 'Completed');
  expect(second.engine.getStatus(id)?.output).toEqual({
    a: 'did blocked',
    b: 'did child-7',
    at: new Date(START + HOUR).toISOString(),
  });
  expect(calls).toEqual(['blocked', 'blocked', 'child-7']);
});

test('a pending timer is re-armed at its FireAt and a finished instance stays finished', async () => {
  const first = newEngine();
  const id = first.engine.startNew('resumable', { instanceId: 'bf-2' });
  await first.clock.runUntilIdle();
  expect(first.engine.getStatus(id)?.customStatus).toEqual({ stage: 'waiting' });
  const done = first.engine.startNew('stateChild', { instanceId: 'done', input: 1 });
  await first.clock.runUntilIdle();
  const saved = viaJson(first.engine.exportState());
  first.engine.stop();

  // The new engine starts later than the timer's FireAt: it fires at once, with the original time.
  const second = newEngine(START + 2 * HOUR);
  second.engine.importState(saved);
  expect(second.engine.getStatus(done)).toMatchObject({ runtimeStatus: 'Completed', output: 'did child-1' });
  await second.clock.runUntil(() => second.engine.getStatus(id)?.runtimeStatus === 'Completed');
  expect(second.engine.getStatus(id)?.output).toMatchObject({ b: 'did child-7' });
  expect(second.engine.getStatus(`${id}-child`)?.parentInstanceId).toBe(id);
  expect(calls.filter((c) => c === 'blocked')).toHaveLength(1);
});

test('the state file round-trips, is replaced atomically and names itself when unreadable', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'durable-state-'));
  try {
    const file = path.join(dir, 'nested', 'durable.json');
    const { clock, engine } = newEngine();
    const writer = writeEngineStatePeriodically(engine, file);
    engine.startNew('stateChild', { instanceId: 'c1', input: 3 });
    await clock.runUntilIdle();
    writer.stop();
    engine.stop();
    expect(readEngineState(file)?.instances.map((i) => i.runtimeStatus)).toEqual(['Completed']);
    expect(readEngineState(path.join(dir, 'absent.json'))).toBeUndefined();

    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, '{not json');
    expect(() => readEngineState(bad)).toThrow(/bad\.json is not valid JSON/);
    expect(() => newEngine().engine.importState({ version: 2 } as unknown as EngineState)).toThrow(
      /expected \{"version":1/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
