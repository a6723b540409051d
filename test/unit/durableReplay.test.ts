// Pins the local durable engine to the durable-functions release it copies internals from (the
// $OutOfProcData$ envelope, sequence ids, replay schema numbers): histories and orchestrators
// from the library's own tests (test/fixtures/durable-js, MIT) are replayed through the engine's
// real entry point (DurableEngine.replay → the registered orchestrationTrigger handler), and each
// must give the actions the library's own test expects
// (azure-functions-durable-js test/integration/orchestrator-spec.ts at c212f6c) — for a failed
// activity or sub-orchestration, the state and error carried in the `$OutOfProcData$:` envelope.
// A new library release that changes replay fails here before the engine drifts from the real host.
import '../fixtures/durable-js/testOrchestrations';

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { DurableEngine, type EngineState } from '../../dev/host/durable/engine';
import {
  actionSignature,
  flattenActions,
  type HistoryEvent,
  roundTrip,
} from '../../dev/host/durable/history';
import { silentLogger } from '../../dev/host/invocation';
import { TestFailureHistories } from '../fixtures/durable-js/testFailureHistories';
import { TestHistories } from '../fixtures/durable-js/testHistories';

interface ReplayCase {
  /** The orchestrator-spec test it mirrors. */
  upstream: string;
  name: string;
  instanceId: string;
  input: unknown;
  history: HistoryEvent[];
  /** Upstream's expected OrchestratorState (V1 schema), as JSON the host would read it. */
  expected: { isDone: boolean; actions: unknown[][]; output?: unknown };
}

const start = new Date('2024-03-18T10:00:00.000Z');
const fireAt = new Date(start.getTime() + 5 * 60_000);
const parentId = 'd0c4a3b2e1f0411e9a8b7c6d5e4f3a2b';
const files = ['file1.txt', 'file2.png', 'file3.csx'];

// The action shapes of the library's CallActivityAction, CreateTimerAction, … after JSON.
const callActivity = (functionName: string, input: unknown) => ({
  actionType: 0,
  functionName,
  input: typeof input === 'string' ? JSON.stringify(input) : input,
});

const cases: ReplayCase[] = [
  {
    upstream: 'callActivity() handles a completed activity function',
    name: 'SayHelloWithActivity',
    instanceId: 'replay-activity',
    input: 'World',
    history: TestHistories.GetSayHelloWithActivityReplayOne('SayHelloWithActivity', start, 'World'),
    expected: { isDone: true, actions: [[callActivity('Hello', 'World')]], output: 'Hello, World!' },
  },
  {
    upstream: 'callActivity() handles a completed series of activity functions',
    name: 'SayHelloSequence',
    instanceId: 'replay-sequence',
    input: undefined,
    history: TestHistories.GetHelloSequenceReplayFinal('SayHelloSequence', start),
    expected: {
      isDone: true,
      actions: [
        [callActivity('Hello', 'Tokyo')],
        [callActivity('Hello', 'Seattle')],
        [callActivity('Hello', 'London')],
      ],
      output: ['Hello, Tokyo!', 'Hello, Seattle!', 'Hello, London!'],
    },
  },
  {
    upstream: 'createTimer() proceeds after a timer fires',
    name: 'WaitOnTimer',
    instanceId: 'replay-timer',
    // Upstream passes the Date object itself as the orchestration input.
    input: fireAt,
    history: TestHistories.GetWaitOnTimerFired(start, fireAt),
    expected: {
      isDone: true,
      actions: [[{ actionType: 5, fireAt: fireAt.toISOString(), isCanceled: false }]],
      output: 'Timer fired!',
    },
  },
  {
    upstream: 'waitForExternalEvent() proceeds when the correctly-named event is received',
    name: 'WaitForExternalEvent',
    instanceId: 'replay-event',
    input: undefined,
    history: TestHistories.GetWaitForExternalEventEventReceived(start, 'start', 'Reykjavik'),
    expected: {
      isDone: false,
      actions: [
        [{ actionType: 6, externalEventName: 'start', reason: 'ExternalEvent' }],
        [callActivity('Hello', 'Reykjavik')],
      ],
    },
  },
  {
    upstream: 'callSubOrchestrator() handles a completed suborchestrator function',
    name: 'SayHelloWithSubOrchestrator',
    instanceId: parentId,
    input: 'World',
    history: TestHistories.GetSayHelloWithSubOrchestratorReplayOne(
      start,
      'SayHelloWithSubOrchestrator',
      'SayHelloWithActivity',
      `${parentId}:0`,
      'World',
    ),
    expected: {
      isDone: true,
      actions: [
        [
          {
            actionType: 2,
            functionName: 'SayHelloWithActivity',
            instanceId: `${parentId}:0`,
            input: 'World',
          },
        ],
      ],
      output: 'Hello, World!',
    },
  },
  {
    upstream: 'Task.all() proceeds if all parallel tasks have completed',
    name: 'FanOutFanInDiskUsage',
    instanceId: 'replay-fan-out',
    input: 'C:\\Dev',
    history: TestHistories.GetFanOutFanInDiskUsageComplete(start, files),
    expected: {
      isDone: true,
      actions: [[callActivity('GetFileList', 'C:\\Dev')], files.map((f) => callActivity('GetFileSize', f))],
      output: 6,
    },
  },
];

// Failures: the library throws OrchestrationFailureError, whose message carries the state decided so
// far in the `$OutOfProcData$:` envelope; upstream's tests (TestUtils.extractStateFromError) expect
// that state's actions and an `error` including the failed task's Reason.
interface FailureCase extends Omit<ReplayCase, 'expected'> {
  expected: { isDone: false; actions: unknown[][]; errorIncludes: string };
}

const retryOptions = { firstRetryIntervalInMilliseconds: 10_000, maxNumberOfAttempts: 2 };
const failureCases: FailureCase[] = [
  {
    upstream: 'Task.all throws if a parallel task has faulted',
    name: 'FanOutFanInDiskUsage',
    instanceId: 'replay-fan-out-faulted',
    input: 'C:\\Dev',
    history: TestFailureHistories.GetFanOutFanInDiskUsageFaulted(start, files),
    expected: {
      isDone: false,
      actions: [[callActivity('GetFileList', 'C:\\Dev')], files.map((f) => callActivity('GetFileSize', f))],
      errorIncludes: "Activity function 'GetFileSize' failed: Could not find file file2.png",
    },
  },
  {
    upstream: 'callActivityWithRetry() reports a failed activity function if >= max attempts',
    name: 'SayHelloWithActivityRetry',
    instanceId: 'replay-activity-failed',
    input: 'World',
    history: TestFailureHistories.GetSayHelloWithActivityRetryRetryTwo(
      start,
      'World',
      retryOptions.firstRetryIntervalInMilliseconds,
    ),
    expected: {
      isDone: false,
      actions: [[{ ...callActivity('Hello', 'World'), actionType: 1, retryOptions }]],
      errorIncludes: "Activity function 'Hello' failed: Result: Failure",
    },
  },
  {
    upstream: 'callSubOrchestratorWithRetry() reports a failed suborchestrator function if >= max attempts',
    name: 'SayHelloWithSubOrchestratorRetry',
    instanceId: parentId,
    input: 'World',
    history: TestFailureHistories.GetSayHelloWithSubOrchestratorRetryRetryTwo(
      start,
      `${parentId}:0`,
      'World',
      retryOptions.firstRetryIntervalInMilliseconds,
    ),
    expected: {
      isDone: false,
      actions: [
        [
          {
            actionType: 3,
            functionName: 'SayHelloInline',
            retryOptions,
            input: 'World',
            instanceId: `${parentId}:0`,
          },
        ],
      ],
      errorIncludes: "Sub orchestrator function 'SayHelloInline' failed: Result: Failure",
    },
  },
];

/** An engine holding one idle instance with the given history (nothing pending, so nothing resumes). */
function engineWith(c: Omit<ReplayCase, 'expected'>, schemaVersion: 0 | 3): DurableEngine {
  const engine = new DurableEngine({ schemaVersion, logger: silentLogger });
  const at = start.toISOString();
  const state: EngineState = {
    version: 1,
    instances: [
      {
        instanceId: c.instanceId,
        name: c.name,
        input: c.input,
        output: undefined,
        customStatus: undefined,
        runtimeStatus: 'Running',
        createdTime: at,
        lastUpdatedTime: at,
        history: c.history,
        generation: 0,
        inbox: [],
        nextId: 0,
        actionCount: 0,
        signatures: [],
        works: [],
        tasks: [],
        timersByAction: [],
        outstandingTimers: [],
      },
    ],
  };
  engine.importState(state);
  return engine;
}

describe('durable-functions replay of its own test histories, through the local engine', () => {
  it('runs against the durable-functions release the engine was written for', () => {
    // The engine copies this release's internals; bump it only with the engine checked against it.
    const read = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    const pkg = read(require.resolve('durable-functions/package.json')) as { version: string };
    const ours = read(join(__dirname, '../../package.json')) as { dependencies: Record<string, string> };
    expect(pkg.version).toBe('3.5.0');
    expect(ours.dependencies['durable-functions']).toBe('3.5.0');
  });

  it.each(cases)('schema V1: $upstream', async (c) => {
    const result = await engineWith(c, 0).replay(c.instanceId);
    expect(result.error).toBeUndefined();
    expect(roundTrip(result.state)).toEqual({ ...c.expected, schemaVersion: 0 });
  });

  it.each(cases)('schema V4 (the engine default): $upstream', async (c) => {
    // Same decisions, newest wire schema: actions are one flat list (fan-outs nested as WhenAll),
    // which flattens to the V1 actions in the same order.
    const result = await engineWith(c, 3).replay(c.instanceId);
    expect(result.error).toBeUndefined();
    expect(result.state?.schemaVersion).toBe(3);
    expect(result.state?.isDone).toBe(c.expected.isDone);
    expect(roundTrip(result.state?.output)).toEqual(c.expected.output);
    expect(result.signatures).toEqual(flattenActions(c.expected.actions.flat()).map(actionSignature));
  });

  it.each(failureCases)('schema V1, failing: $upstream', async (c) => {
    const result = await engineWith(c, 0).replay(c.instanceId);
    expect(result.state).toBeUndefined();
    expect(result.error).toContain(c.expected.errorIncludes);
    const { error, ...decided } = roundTrip(result.failedState) as { error: string };
    expect(error).toContain(c.expected.errorIncludes);
    expect(decided).toEqual({ isDone: false, actions: c.expected.actions, schemaVersion: 0 });
  });

  it.each(failureCases)('schema V4 (the engine default), failing: $upstream', async (c) => {
    const result = await engineWith(c, 3).replay(c.instanceId);
    expect(result.state).toBeUndefined();
    expect(result.error).toContain(c.expected.errorIncludes);
    expect(result.failedState).toMatchObject({ isDone: false, schemaVersion: 3 });
    expect(result.signatures).toEqual(flattenActions(c.expected.actions.flat()).map(actionSignature));
  });
});
