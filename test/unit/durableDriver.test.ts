// The local durable engine, driving small sample orchestrations through durable-functions' own
// replay code (registered with df.app.* and captured by the functions-core stub).
import type { OrchestrationContext } from 'durable-functions';
import * as df from 'durable-functions';

import { VirtualClock } from '../../dev/host/clock';
import { DurableEngine, type OrchestrationStatus } from '../../dev/host/durable/engine';
import { EventType } from '../../dev/host/durable/history';
import { silentLogger } from '../../dev/host/invocation';

const HOUR = 3600_000;
const DAY = 24 * HOUR;

// ---- sample activities ---------------------------------------------------------------------
const activityCalls: string[] = [];
let inFlight = 0;
let maxInFlight = 0;
const failuresLeft = new Map<string, number>();

df.app.activity('hello', {
  handler: (name: string) => {
    activityCalls.push(`hello:${name}`);
    return `Hello ${name}`;
  },
});
df.app.activity('square', {
  handler: async (n: number) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    // Yield to the event loop so concurrently scheduled activities overlap.
    await new Promise((resolve) => setImmediate(resolve));
    inFlight--;
    return n * n;
  },
});
df.app.activity('flaky', {
  handler: (key: string) => {
    activityCalls.push(`flaky:${key}`);
    const left = failuresLeft.get(key) ?? 0;
    if (left > 0) {
      failuresLeft.set(key, left - 1);
      throw new Error(`flaky ${key} failed (sig=abc123secret)`);
    }
    return `ok:${key}`;
  },
});
df.app.activity('nothing', { handler: () => undefined });

// ---- sample orchestrations -----------------------------------------------------------------
df.app.orchestration('chain', function* (ctx: OrchestrationContext) {
  const a: string = yield ctx.df.callActivity('hello', 'A');
  const b: string = yield ctx.df.callActivity('hello', 'B');
  const nothing: unknown = yield ctx.df.callActivity('nothing');
  return { a, b, nothing };
});

df.app.orchestration('fanOut', function* (ctx: OrchestrationContext) {
  const n = ctx.df.getInput<number>();
  const tasks = Array.from({ length: n }, (_, i) => ctx.df.callActivity('square', i + 1));
  const squares: number[] = yield ctx.df.Task.all(tasks);
  ctx.df.setCustomStatus({ stage: 'summed' });
  return squares.reduce((s, x) => s + x, 0);
});

df.app.orchestration('retrying', function* (ctx: OrchestrationContext) {
  const { key, attempts } = ctx.df.getInput<{ key: string; attempts: number }>();
  const options = new df.RetryOptions(1000, attempts);
  options.backoffCoefficient = 2;
  try {
    return yield ctx.df.callActivityWithRetry('flaky', options, key);
  } catch (err) {
    return { caught: (err as Error).message };
  }
});

df.app.orchestration('retryFanOut', function* (ctx: OrchestrationContext) {
  const keys = ctx.df.getInput<string[]>();
  const tasks = keys.map((k) =>
    ctx.df.callActivityWithRetry('flaky', new df.RetryOptions(100 + k.length, 3), k),
  );
  const results: unknown[] = yield ctx.df.Task.all([...tasks, ctx.df.callActivity('square', 3)]);
  const after: unknown = yield ctx.df.callActivity('hello', 'after');
  return { results, after };
});

df.app.orchestration('child', function* (ctx: OrchestrationContext) {
  const n = ctx.df.getInput<number>();
  if (n < 0) throw new Error(`negative input ${n}`);
  const squared: number = yield ctx.df.callActivity('square', n);
  return { n, squared, parent: ctx.df.parentInstanceId };
});

df.app.orchestration('parent', function* (ctx: OrchestrationContext) {
  const children: unknown[] = yield ctx.df.Task.all(
    [1, 2, 3].map((n) => ctx.df.callSubOrchestrator('child', n, `${ctx.df.instanceId}-child-${n}`)),
  );
  let failure = '';
  try {
    yield ctx.df.callSubOrchestratorWithRetry(
      'child',
      new df.RetryOptions(500, 2),
      -1,
      `${ctx.df.instanceId}-bad`,
    );
  } catch (err) {
    failure = (err as Error).message;
  }
  const auto: unknown = yield ctx.df.callSubOrchestrator('child', 4);
  return { children, failure, auto };
});

df.app.orchestration('approval', function* (ctx: OrchestrationContext) {
  const deadline = new Date(ctx.df.currentUtcDateTime.getTime() + HOUR);
  const timer = ctx.df.createTimer(deadline);
  const approval = ctx.df.waitForExternalEvent('Approval');
  const winner: unknown = yield ctx.df.Task.any([timer, approval]);
  if (winner === approval) {
    timer.cancel();
    return { approved: true, by: approval.result };
  }
  return { approved: false };
});

df.app.orchestration('lateWaiter', function* (ctx: OrchestrationContext) {
  yield ctx.df.callActivity('hello', 'first');
  const go: unknown = yield ctx.df.waitForExternalEvent('Go');
  const again: unknown = yield ctx.df.waitForExternalEvent('Go');
  return { go, again };
});

df.app.orchestration('longTimer', function* (ctx: OrchestrationContext) {
  yield ctx.df.createTimer(new Date(ctx.df.currentUtcDateTime.getTime() + 10 * DAY));
  return ctx.df.currentUtcDateTime.toISOString();
});

df.app.orchestration('counter', function* (ctx: OrchestrationContext) {
  const n = ctx.df.getInput<number>();
  yield ctx.df.createTimer(new Date(ctx.df.currentUtcDateTime.getTime() + 60_000));
  if (n < 3) {
    ctx.df.continueAsNew(n + 1);
    return undefined;
  }
  return n;
});

df.app.orchestration('exploding', function* (ctx: OrchestrationContext) {
  yield ctx.df.callActivity('hello', 'before');
  throw new Error('kaboom: token=hunter2');
});

let replays = 0;
df.app.orchestration('nonDeterministic', function* (ctx: OrchestrationContext) {
  replays++;
  yield ctx.df.callActivity('hello', `run-${replays}`);
  return 'unreachable';
});

df.app.orchestration('usesHttp', function* (ctx: OrchestrationContext) {
  return yield ctx.df.callHttp({ method: 'GET', url: 'https://example.invalid/' });
});

// ---- helpers -------------------------------------------------------------------------------
function newEngine(schemaVersion: 0 | 1 | 2 | 3 = 3) {
  const clock = new VirtualClock(Date.UTC(2025, 0, 1));
  const engine = new DurableEngine({ clock, schemaVersion, logger: silentLogger });
  return { clock, engine };
}

async function run(
  name: string,
  input?: unknown,
  opts: { schemaVersion?: 0 | 1 | 2 | 3; instanceId?: string } = {},
): Promise<{ status: OrchestrationStatus; engine: DurableEngine; clock: VirtualClock; id: string }> {
  const { clock, engine } = newEngine(opts.schemaVersion);
  const id = engine.startNew(name, { input, instanceId: opts.instanceId });
  await clock.runUntil(() =>
    ['Completed', 'Failed', 'Terminated'].includes(engine.getStatus(id)!.runtimeStatus),
  );
  return { status: engine.getStatus(id, { showHistory: true })!, engine, clock, id };
}

beforeEach(() => {
  activityCalls.length = 0;
  failuresLeft.clear();
  maxInFlight = 0;
});

describe.each([0, 1, 2, 3] as const)('schema version %i', (schemaVersion) => {
  test('an activity chain completes with each result in order', async () => {
    const { status } = await run('chain', undefined, { schemaVersion });
    expect(status.runtimeStatus).toBe('Completed');
    expect(status.output).toEqual({ a: 'Hello A', b: 'Hello B', nothing: null });
    expect(activityCalls).toEqual(['hello:A', 'hello:B']);
  });

  test('a Task.all fan-out runs its activities concurrently and fans in', async () => {
    const { status } = await run('fanOut', 5, { schemaVersion });
    expect(status.output).toBe(1 + 4 + 9 + 16 + 25);
    expect(status.customStatus).toEqual({ stage: 'summed' });
    expect(maxInFlight).toBeGreaterThan(1);
  });

  test('callActivityWithRetry succeeds after failures, waiting the back-off on the clock', async () => {
    failuresLeft.set('k', 2);
    const { status, clock } = await run('retrying', { key: 'k', attempts: 3 }, { schemaVersion });
    expect(status.output).toBe('ok:k');
    expect(activityCalls).toEqual(['flaky:k', 'flaky:k', 'flaky:k']);
    // 1000 ms, then 2000 ms (backoffCoefficient 2).
    expect(clock.now() - Date.UTC(2025, 0, 1)).toBe(3000);
  });
});

test('a fan-out of retried activities, some failing, completes with every result in order', async () => {
  failuresLeft.set('a', 1);
  failuresLeft.set('ccc', 2);
  const { status } = await run('retryFanOut', ['a', 'bb', 'ccc', 'dddd']);
  expect(status.runtimeStatus).toBe('Completed');
  expect(status.output).toEqual({ results: ['ok:a', 'ok:bb', 'ok:ccc', 'ok:dddd', 9], after: 'Hello after' });
  expect(activityCalls.filter((c) => c.startsWith('flaky:')).sort()).toEqual(
    ['flaky:a', 'flaky:a', 'flaky:bb', 'flaky:ccc', 'flaky:ccc', 'flaky:ccc', 'flaky:dddd'].sort(),
  );
});

test('callActivityWithRetry exhaustion surfaces a catchable error naming the activity (secrets redacted)', async () => {
  failuresLeft.set('x', 10);
  const { status } = await run('retrying', { key: 'x', attempts: 2 });
  expect(activityCalls).toEqual(['flaky:x', 'flaky:x']);
  const caught = (status.output as { caught: string }).caught;
  expect(caught).toContain("Activity function 'flaky' failed: flaky x failed");
  expect(caught).not.toContain('abc123secret');
  const failed = status.history!.filter((e) => e.EventType === EventType.TaskFailed);
  expect(failed).toHaveLength(2);
});

test('sub-orchestrations: fan-out with instance ids, retried failures, generated ids', async () => {
  const { status, engine, id } = await run('parent', undefined, { instanceId: 'p1' });
  expect(status.runtimeStatus).toBe('Completed');
  const out = status.output as { children: unknown[]; failure: string; auto: { parent: string } };
  expect(out.children).toEqual([
    { n: 1, squared: 1, parent: 'p1' },
    { n: 2, squared: 4, parent: 'p1' },
    { n: 3, squared: 9, parent: 'p1' },
  ]);
  expect(out.failure).toContain("Orchestrator function 'child' failed: negative input -1");
  expect(out.auto.parent).toBe(id);
  expect(engine.getStatus('p1-child-2')).toMatchObject({
    runtimeStatus: 'Completed',
    parentInstanceId: 'p1',
  });
  expect(engine.getStatus('p1-bad')?.runtimeStatus).toBe('Failed');
  const failures = status.history!.filter((e) => e.EventType === EventType.SubOrchestrationInstanceFailed);
  expect(failures).toHaveLength(2);
  const created = status.history!.filter((e) => e.EventType === EventType.SubOrchestrationInstanceCreated);
  expect(created.map((e) => e.InstanceId)).toContain(`p1:${created.at(-1)!.EventId}`);
});

describe('Task.any(timer, event)', () => {
  test('the event wins: the timer is cancelled and nothing stays scheduled', async () => {
    const { clock, engine } = newEngine();
    const id = engine.startNew('approval');
    await clock.runUntilIdle();
    expect(engine.getStatus(id)?.runtimeStatus).toBe('Running');
    engine.raiseEvent(id, 'Approval', 'alice');
    await clock.runUntilIdle();
    expect(engine.getStatus(id)).toMatchObject({
      runtimeStatus: 'Completed',
      output: { approved: true, by: 'alice' },
    });
    expect(clock.nextTimerAt()).toBeUndefined();
  });

  test('the timer wins after an hour of virtual time', async () => {
    const { clock, engine } = newEngine();
    const id = engine.startNew('approval');
    await clock.advance(HOUR - 1);
    expect(engine.getStatus(id)?.runtimeStatus).toBe('Running');
    await clock.advance(1);
    expect(engine.getStatus(id)).toMatchObject({ runtimeStatus: 'Completed', output: { approved: false } });
    expect(() => engine.raiseEvent(id, 'Approval', 'late')).toThrow(/Completed/);
  });
});

test('events raised before the orchestrator waits are buffered, in order', async () => {
  const { clock, engine } = newEngine();
  const id = engine.startNew('lateWaiter');
  engine.raiseEvent(id, 'Go', 1);
  engine.raiseEvent(id, 'Go', 2);
  await clock.runUntilIdle();
  expect(engine.getStatus(id)).toMatchObject({ runtimeStatus: 'Completed', output: { go: 1, again: 2 } });
});

test('a 10-day timer under schema V3+ runs as 3-day steps and fires at its due time', async () => {
  const { status, clock } = await run('longTimer', undefined, { schemaVersion: 2 });
  const start = Date.UTC(2025, 0, 1);
  expect(status.output).toBe(new Date(start + 10 * DAY).toISOString());
  expect(clock.now()).toBe(start + 10 * DAY);
  const fireAts = status.history!.filter((e) => e.EventType === EventType.TimerCreated).map((e) => e.FireAt);
  expect(fireAts).toEqual([3, 6, 10].map((d) => new Date(start + d * DAY).toISOString()));
});

test('continueAsNew restarts with the new input until done', async () => {
  const { status } = await run('counter', 0);
  expect(status).toMatchObject({ runtimeStatus: 'Completed', output: 3, input: 3 });
  // The history is the last execution's only.
  expect(status.history!.filter((e) => e.EventType === EventType.ExecutionStarted)).toHaveLength(1);
});

test('an uncaught orchestrator error fails the instance with its message, redacted', async () => {
  const { status } = await run('exploding');
  expect(status.runtimeStatus).toBe('Failed');
  expect(String(status.output)).toContain("Orchestrator function 'exploding' failed: kaboom");
  expect(String(status.output)).not.toContain('hunter2');
});

test('replaying the same history twice gives the same actions and output', async () => {
  failuresLeft.set('d', 1);
  const { engine, id } = await run('retrying', { key: 'd', attempts: 3 });
  const first = await engine.replay(id);
  const second = await engine.replay(id);
  expect(first.signatures.length).toBeGreaterThan(0);
  expect(second.signatures).toEqual(first.signatures);
  expect(second.state?.output).toEqual(first.state?.output);
  expect(first.state?.output).toBe('ok:d');
});

test('a non-deterministic orchestrator is failed with a message saying so', async () => {
  const { status } = await run('nonDeterministic');
  expect(status.runtimeStatus).toBe('Failed');
  expect(String(status.output)).toMatch(/Non-deterministic orchestrator 'nonDeterministic'/);
});

test('unsupported actions fail loudly', async () => {
  const { status } = await run('usesHttp');
  expect(status.runtimeStatus).toBe('Failed');
  expect(String(status.output)).toMatch(/does not support CallHttp/);
});

describe('instance management', () => {
  test('startNew refuses a running instance id and accepts it again once finished', async () => {
    const { clock, engine } = newEngine();
    engine.startNew('approval', { instanceId: 'single' });
    expect(() => engine.startNew('approval', { instanceId: 'single' })).toThrow(
      'An Orchestration instance with the status Running already exists.',
    );
    engine.terminate('single', 'stop');
    await clock.runUntilIdle();
    expect(engine.getStatus('single')).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop' });
    expect(clock.nextTimerAt()).toBeUndefined();
    engine.startNew('approval', { instanceId: 'single', input: { again: true } });
    await clock.runUntilIdle();
    expect(engine.getStatus('single')).toMatchObject({ runtimeStatus: 'Running', input: { again: true } });
  });

  test('unknown orchestrators and bad instance ids are refused, naming the problem', () => {
    const { engine } = newEngine();
    expect(() => engine.startNew('nope')).toThrow(/'nope' doesn't exist.*Orchestrators: .*chain/);
    expect(() => engine.startNew('chain', { instanceId: 'a/b' })).toThrow(/instanceId "a\/b"/);
  });

  test('list, query by status and purge', async () => {
    const { clock, engine } = newEngine();
    engine.startNew('chain', { instanceId: 'done-1' });
    engine.startNew('approval', { instanceId: 'waiting-1' });
    await clock.runUntilIdle();
    expect(engine.listInstances({ runtimeStatus: ['Completed'] }).map((s) => s.instanceId)).toEqual([
      'done-1',
    ]);
    expect(engine.listInstances({ instanceIdPrefix: 'wait' }).map((s) => s.runtimeStatus)).toEqual([
      'Running',
    ]);
    expect(engine.purge('waiting-1')).toBe(0);
    expect(engine.purge('done-1')).toBe(1);
    expect(engine.getStatus('done-1')).toBeUndefined();
    expect(() => engine.raiseEvent('done-1', 'x')).toThrow(/No instance with ID 'done-1'/);
  });
});
