// The backfill orchestrators through durable-functions' real replay code (dev/host durable engine on
// a virtual clock), with fake activities standing in for Cost Management: scripted run outcomes,
// 429s with Retry-After, landing events, and a call log stamped with virtual time.
import * as df from 'durable-functions';

import { VirtualClock } from '../../dev/host/clock';
import { DurableEngine, type OrchestrationStatus } from '../../dev/host/durable/engine';
import { silentLogger } from '../../dev/host/invocation';
import { isOwnLanding, normaliseBillingMonth } from '../../src/domain/backfillLanding';
import { planBackfill } from '../../src/domain/backfillPlan';
import {
  type BackfillInput,
  type BackfillOutput,
  type BackfillProgress,
  type BackfillTiming,
  type CallResult,
  type ConfirmLandingInput,
  type ConfirmLandingResult,
  EXPORT_LANDED_EVENT,
  type FinishMonthInput,
  type MonthTask,
  type PutExportInput,
  type ReadRunInput,
  type ReadRunResult,
  type RunExportInput,
} from '../../src/domain/contracts';
import {
  BACKFILL_ACTIVITIES,
  BACKFILL_MONTH_ORCHESTRATOR,
  BACKFILL_ORCHESTRATOR,
  backfillMonthOrchestrator,
  backfillOrchestrator,
} from '../../src/workflows/backfill';

const MINUTE = 60_000;
const START = Date.UTC(2025, 6, 15, 8);
const SCOPE = '/subscriptions/00000000-0000-0000-0000-000000000001';
const RUN_MS = 5 * MINUTE;

const TIMING: BackfillTiming = {
  maxAttempts: 3,
  pollIntervalMs: 15 * MINUTE,
  maxPollIntervalMs: 60 * MINUTE,
  landingTimeoutMs: 8 * 60 * MINUTE,
  retryBaseMs: MINUTE,
  retryMaxMs: 30 * MINUTE,
  maxThrottleWaits: 20,
};

// ---- a scripted Cost Management --------------------------------------------------------------

type Outcome = 'Completed' | 'Failed' | 'Timeout' | 'DataNotAvailable' | 'Hang';
type Op = 'put' | 'run' | 'read' | 'confirm' | 'finish';

interface Call {
  op: Op;
  key: string;
  at: number;
  result: string;
}

interface FakeRun {
  runId: string;
  key: string;
  doneAt: number;
  outcome: Outcome;
}

class FakeCostManagement {
  calls: Call[] = [];
  /** Per `Dataset YYYY-MM`: the outcome of each successive run (the last one repeats). */
  outcomes = new Map<string, Outcome[]>();
  /** Per `op key`: how many 429s to answer first, and with what Retry-After. */
  throttles = new Map<string, { count: number; retryAfterMs: number }>();
  putErrors = new Map<string, string>();
  /** Per `Dataset YYYY-MM`: the error a Failed run reports (default: a service-side failure). */
  failErrors = new Map<string, string>();
  private readonly written = new Set<string>();
  transientRunErrors = new Map<string, number>();
  /** Deadlines advertised by 429s, per `op key`. */
  deadlines: { op: Op; key: string; until: number }[] = [];
  runs: FakeRun[] = [];
  raiseEvents = true;
  inFlight = 0;
  maxInFlight = 0;
  finished: FinishMonthInput[] = [];
  /** Runs an export already had before this backfill (putExport then answers created: false). */
  priorRuns = new Map<string, string[]>();
  refused: ConfirmLandingInput[] = [];

  constructor(
    private readonly clock: VirtualClock,
    private readonly engine: () => DurableEngine,
  ) {}

  private key(task: MonthTask): string {
    return `${task.dataset} ${task.month}`;
  }

  private throttled(op: Op, key: string): CallResult<never> | undefined {
    const t = this.throttles.get(`${op} ${key}`);
    if (!t || t.count === 0) return undefined;
    t.count--;
    this.deadlines.push({ op, key, until: this.clock.now() + t.retryAfterMs });
    return { kind: 'throttled', retryAfterMs: t.retryAfterMs, message: 'HTTP 429' };
  }

  private log(op: Op, key: string, result: string): void {
    this.calls.push({ op, key, at: this.clock.now(), result });
  }

  put({ task }: PutExportInput): CallResult<{ created: boolean }> {
    const key = this.key(task);
    const throttled = this.throttled('put', key);
    if (throttled) return (this.log('put', key, 'throttled'), throttled);
    const error = this.putErrors.get(key);
    this.log('put', key, error ? 'error' : 'ok');
    if (error) return { kind: 'error', transient: false, message: error };
    const again = this.written.has(key);
    this.written.add(key);
    if (!again) {
      this.inFlight++;
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    }
    return { kind: 'ok', created: !again && !this.priorRuns.has(key) };
  }

  /** Confirms the runs it started (and lists prior ones as history does); refuses any other. */
  confirm(input: ConfirmLandingInput): ConfirmLandingResult {
    const key = this.key(input.task);
    this.log('confirm', key, 'ok');
    const known =
      this.runs.some((r) => r.key === key && r.runId === input.runId) ||
      (this.priorRuns.get(key) ?? []).includes(input.runId);
    if (known) return { kind: 'ok', verdict: 'confirmed' };
    this.refused.push(input);
    return { kind: 'ok', verdict: 'refused', reason: `run ${input.runId} is not in the run history` };
  }

  run({ task, instanceId, attempt, readPriorRuns }: RunExportInput): CallResult<{ priorRunIds?: string[] }> {
    const key = this.key(task);
    const throttled = this.throttled('run', key);
    if (throttled) return (this.log('run', key, 'throttled'), throttled);
    const transient = this.transientRunErrors.get(key) ?? 0;
    if (transient > 0) {
      this.transientRunErrors.set(key, transient - 1);
      this.log('run', key, 'error');
      return { kind: 'error', transient: true, message: 'HTTP 503' };
    }
    this.log('run', key, 'ok');
    const prior = readPriorRuns ? { priorRunIds: this.priorRuns.get(key) ?? [] } : {};
    const script = this.outcomes.get(key) ?? ['Completed'];
    const outcome = script[Math.min(attempt - 1, script.length - 1)]!;
    const run: FakeRun = {
      runId: `${key.replace(' ', '-')}-run${attempt}`,
      key,
      doneAt: this.clock.now() + RUN_MS,
      outcome,
    };
    this.runs.push(run);
    if (outcome === 'Completed' && this.raiseEvents) {
      this.clock.setTimer(run.doneAt, () =>
        this.engine().raiseEvent(instanceId, EXPORT_LANDED_EVENT, {
          exportName: task.exportName,
          scope: task.scope,
          billingMonth: task.month,
          runId: run.runId,
          state: 'complete',
          rowCount: 42,
          landingKey: { partitionKey: `p-${task.exportName}`, rowKey: `${task.month}|${run.runId}` },
        }),
      );
    }
    return { kind: 'ok', ...prior };
  }

  read({ task, excludeRunIds }: ReadRunInput): ReadRunResult {
    const key = this.key(task);
    const throttled = this.throttled('read', key);
    if (throttled) return (this.log('read', key, 'throttled'), throttled);
    this.log('read', key, 'ok');
    const run = this.runs.filter((r) => r.key === key && !excludeRunIds.includes(r.runId)).at(-1);
    if (!run) return { kind: 'ok' };
    const done = this.clock.now() >= run.doneAt && run.outcome !== 'Hang';
    const status = done ? run.outcome : 'InProgress';
    return {
      kind: 'ok',
      run: {
        runId: run.runId,
        status,
        ...(status === 'Failed' ? { error: this.failErrors.get(key) ?? 'InternalError: disk full' } : {}),
      },
    };
  }

  finish(input: FinishMonthInput): CallResult<{ deleted: boolean }> {
    const key = this.key(input.task);
    const throttled = this.throttled('finish', key);
    if (throttled) return (this.log('finish', key, 'throttled'), throttled);
    this.log('finish', key, 'ok');
    if (this.calls.some((c) => c.op === 'put' && c.key === key && c.result === 'ok')) this.inFlight--;
    this.finished.push(input);
    return { kind: 'ok', deleted: input.deleteExport };
  }
}

let fake: FakeCostManagement;
let engine: DurableEngine;
let clock: VirtualClock;

df.app.orchestration(BACKFILL_ORCHESTRATOR, backfillOrchestrator);
df.app.orchestration(BACKFILL_MONTH_ORCHESTRATOR, backfillMonthOrchestrator);
df.app.activity(BACKFILL_ACTIVITIES.putExport, { handler: (i: PutExportInput) => fake.put(i) });
df.app.activity(BACKFILL_ACTIVITIES.runExport, { handler: (i: RunExportInput) => fake.run(i) });
df.app.activity(BACKFILL_ACTIVITIES.readRun, { handler: (i: ReadRunInput) => fake.read(i) });
df.app.activity(BACKFILL_ACTIVITIES.confirmLanding, {
  handler: (i: ConfirmLandingInput) => fake.confirm(i),
});
df.app.activity(BACKFILL_ACTIVITIES.finishMonth, { handler: (i: FinishMonthInput) => fake.finish(i) });

beforeEach(() => {
  clock = new VirtualClock(START);
  engine = new DurableEngine({ clock, logger: silentLogger });
  fake = new FakeCostManagement(clock, () => engine);
});

afterEach(() => engine.stop());

function input(overrides: Partial<BackfillInput> & { months?: number } = {}): BackfillInput {
  const { months = 3, ...rest } = overrides;
  return {
    backfillId: 'bf-test',
    run: 1,
    scope: SCOPE,
    datasets: ['ActualCost', 'AmortizedCost'],
    windows: planBackfill({ months, now: new Date(START) }),
    destination: { storageAccount: 'acct1', tokenId: 'tok1', container: 'exports' },
    format: 'Csv',
    compression: 'gzip',
    concurrency: 2,
    keepExports: false,
    timing: TIMING,
    ...rest,
  };
}

const TERMINAL = ['Completed', 'Failed', 'Terminated'];

async function runBackfill(
  value: BackfillInput,
): Promise<{ status: OrchestrationStatus; output: BackfillOutput; id: string }> {
  const id = engine.startNew(BACKFILL_ORCHESTRATOR, { instanceId: value.backfillId, input: value });
  await clock.runUntil(() => TERMINAL.includes(engine.getStatus(id)!.runtimeStatus));
  const status = engine.getStatus(id)!;
  expect(status.runtimeStatus).toBe('Completed');
  return { status, output: status.output as BackfillOutput, id };
}

function outcomes(output: BackfillOutput): Record<string, string> {
  return Object.fromEntries(output.months.map((m) => [`${m.dataset} ${m.month}`, m.outcome]));
}

// ---- tests -----------------------------------------------------------------------------------

test('happy path with landing events: every month Completed with its landing, its run confirmed in run history, 4 ARM calls each', async () => {
  const { output } = await runBackfill(input());
  expect(output.total).toBe(6);
  expect(output.counts).toEqual({ Completed: 6, NoData: 0, Failed: 0 });
  // Newest month first, both datasets of a month together.
  expect(output.months.map((m) => `${m.dataset} ${m.month}`)).toEqual([
    'ActualCost 2025-06',
    'AmortizedCost 2025-06',
    'ActualCost 2025-05',
    'AmortizedCost 2025-05',
    'ActualCost 2025-04',
    'AmortizedCost 2025-04',
  ]);
  for (const m of output.months) {
    expect(m).toMatchObject({
      outcome: 'Completed',
      attempts: 1,
      rowCount: 42,
      runId: `${m.dataset}-${m.month}-run1`,
    });
    expect(m.landingKey).toEqual({
      partitionKey: `p-cea-bf-${m.dataset.toLowerCase()}-${m.month.replace('-', '')}`,
      rowKey: `${m.month}|${m.runId}`,
    });
    const ops = fake.calls.filter((c) => c.key === `${m.dataset} ${m.month}`).map((c) => c.op);
    expect(ops).toEqual(['put', 'run', 'confirm', 'finish']); // PUT, POST run, GET runHistory, DELETE
  }
  expect(fake.calls.some((c) => c.op === 'read')).toBe(false);
  expect(fake.finished.every((f) => f.deleteExport)).toBe(true);
});

test('the custom status counts outcomes and lists the months in flight', async () => {
  const id = engine.startNew(BACKFILL_ORCHESTRATOR, {
    instanceId: 'bf-status',
    input: input({ backfillId: 'bf-status' }),
  });
  await clock.runUntilIdle();
  const progress = engine.getStatus(id)!.customStatus as BackfillProgress;
  expect(progress.total).toBe(6);
  expect(progress.counts).toMatchObject({ Completed: 0, pending: 4, running: 2 });
  expect(progress.inFlight).toEqual(['ActualCost 2025-06', 'AmortizedCost 2025-06']);
  await clock.runUntil(() => TERMINAL.includes(engine.getStatus(id)!.runtimeStatus));
  const done = engine.getStatus(id)!.customStatus as BackfillProgress;
  expect(done.counts).toMatchObject({ Completed: 6, pending: 0, running: 0 });
  // The last few outcomes only: the output holds every month.
  expect(done.recent.map((r) => `${r.dataset} ${r.month}`)).toHaveLength(5);
});

test('a 7-year, 3-dataset backfill keeps its status under the 16 KB custom status limit the engine enforces', async () => {
  // 252 months. The status once listed every finished month and outgrew Azure's limit (about 100
  // months); the engine now fails an orchestration whose custom status is bigger, as Azure does.
  const failing = ['ActualCost 2019-01', 'FocusCost 2020-02', 'AmortizedCost 2025-06'];
  for (const key of failing) fake.outcomes.set(key, ['Failed']);
  const { status, output } = await runBackfill(
    input({ months: 84, datasets: ['ActualCost', 'AmortizedCost', 'FocusCost'], concurrency: 12 }),
  );
  expect(output.total).toBe(252);
  expect(output.months).toHaveLength(252);
  expect(output.counts).toEqual({ Completed: 249, NoData: 0, Failed: 3 });
  expect(
    output.months
      .filter((m) => m.outcome === 'Failed')
      .map((m) => `${m.dataset} ${m.month}`)
      .sort(),
  ).toEqual([...failing].sort());
  const progress = status.customStatus as BackfillProgress;
  expect(progress.counts).toMatchObject({ Completed: 249, Failed: 3, pending: 0, running: 0 });
  expect(JSON.stringify(progress).length * 2).toBeLessThan(16 * 1024);
}, 120_000);

test('polling fallback without landing events: one history read per month, at the poll interval', async () => {
  fake.raiseEvents = false;
  const { output } = await runBackfill(input({ datasets: ['ActualCost'], concurrency: 1 }));
  expect(output.counts.Completed).toBe(3);
  for (const m of output.months) {
    const calls = fake.calls.filter((c) => c.key === `${m.dataset} ${m.month}`);
    expect(calls.map((c) => c.op)).toEqual(['put', 'run', 'read', 'finish']); // ≤ 4 ARM calls
    const run = calls.find((c) => c.op === 'run')!;
    expect(calls.find((c) => c.op === 'read')!.at - run.at).toBe(TIMING.pollIntervalMs);
    expect(m.landingKey).toBeUndefined();
  }
});

test('polling backs off by doubling up to the cap while the run is still in progress', async () => {
  fake.raiseEvents = false;
  const slow = 'ActualCost 2025-06';
  fake.outcomes.set(slow, ['Completed']);
  // Make the run take 100 minutes.
  const original = fake.run.bind(fake);
  fake.run = (i) => {
    const r = original(i);
    const last = fake.runs.at(-1)!;
    last.doneAt = clock.now() + 100 * MINUTE;
    return r;
  };
  await runBackfill(input({ datasets: ['ActualCost'], concurrency: 1, months: 1 }));
  const calls = fake.calls.filter((c) => c.key === slow);
  const runAt = calls.find((c) => c.op === 'run')!.at;
  const readOffsets = calls.filter((c) => c.op === 'read').map((c) => (c.at - runAt) / MINUTE);
  expect(readOffsets).toEqual([15, 45, 105]); // +15, +30, +60 (capped)
});

test('a throttled call waits exactly until the advertised Retry-After, never calling earlier', async () => {
  const key = 'ActualCost 2025-06';
  fake.throttles.set(`run ${key}`, { count: 2, retryAfterMs: 90_000 });
  fake.throttles.set(`put AmortizedCost 2025-06`, { count: 1, retryAfterMs: 37_000 });
  const { output } = await runBackfill(input());
  expect(output.counts.Completed).toBe(6);
  const runCalls = fake.calls.filter((c) => c.op === 'run' && c.key === key);
  expect(runCalls.map((c) => c.result)).toEqual(['throttled', 'throttled', 'ok']);
  expect(runCalls[1]!.at - runCalls[0]!.at).toBe(90_000);
  expect(runCalls[2]!.at - runCalls[1]!.at).toBe(90_000);
  const putCalls = fake.calls.filter((c) => c.op === 'put' && c.key === 'AmortizedCost 2025-06');
  expect(putCalls[1]!.at - putCalls[0]!.at).toBe(37_000);
  // No call of the same operation and month between a 429 and its deadline.
  for (const d of fake.deadlines) {
    const issuedAt = d.until - (d.op === 'put' ? 37_000 : 90_000);
    const early = fake.calls.filter(
      (c) => c.op === d.op && c.key === d.key && c.at > issuedAt && c.at < d.until,
    );
    expect(early).toEqual([]);
  }
});

test('a failed run is retried after a back-off and the month completes on its second attempt', async () => {
  fake.raiseEvents = false;
  fake.outcomes.set('ActualCost 2025-06', ['Failed', 'Completed']);
  const { output } = await runBackfill(input({ datasets: ['ActualCost'] }));
  const month = output.months.find((m) => m.month === '2025-06')!;
  expect(month).toMatchObject({ outcome: 'Completed', attempts: 2, runId: 'ActualCost-2025-06-run2' });
  const calls = fake.calls.filter((c) => c.key === 'ActualCost 2025-06');
  expect(calls.map((c) => c.op)).toEqual(['put', 'run', 'read', 'run', 'read', 'finish']);
  // The second POST comes one back-off (retryBaseMs) after the read that saw the failure.
  expect(calls[3]!.at - calls[2]!.at).toBe(TIMING.retryBaseMs);
});

test('a run the destination refused on its SAS token: the export is written again (current token) before the retry', async () => {
  fake.raiseEvents = false;
  fake.outcomes.set('ActualCost 2025-06', ['Failed', 'Completed']);
  fake.failErrors.set(
    'ActualCost 2025-06',
    'AuthorizationPermissionMismatch: This request is not authorized to perform this operation using this permission.',
  );
  const { output } = await runBackfill(input({ datasets: ['ActualCost'] }));
  expect(output.months.find((m) => m.month === '2025-06')).toMatchObject({
    outcome: 'Completed',
    attempts: 2,
  });
  const calls = fake.calls.filter((c) => c.key === 'ActualCost 2025-06').map((c) => c.op);
  expect(calls).toEqual(['put', 'run', 'read', 'put', 'run', 'read', 'finish']);
  // A failure that is not the token's keeps the export as it is (the retry test above: no second put).
  expect(fake.calls.filter((c) => c.key === 'ActualCost 2025-05').map((c) => c.op)).toEqual([
    'put',
    'run',
    'read',
    'finish',
  ]);
});

test('a month whose token stays refused fails naming the token and what to do', async () => {
  fake.raiseEvents = false;
  fake.outcomes.set('ActualCost 2025-06', ['Failed']);
  fake.failErrors.set(
    'ActualCost 2025-06',
    'AuthenticationFailed: Signature not valid in the specified time frame',
  );
  const { output } = await runBackfill(input({ datasets: ['ActualCost'] }));
  const month = output.months.find((m) => m.month === '2025-06')!;
  expect(month.outcome).toBe('Failed');
  expect(month.error).toMatch(/refused the SAS token.*rotate it if it expired.*\(after 3 attempts\)/);
  expect(fake.calls.filter((c) => c.key === 'ActualCost 2025-06' && c.op === 'put')).toHaveLength(3);
});

test('a permanently failing month is reported with its reason while the others complete', async () => {
  fake.raiseEvents = false;
  fake.outcomes.set('AmortizedCost 2025-05', ['Failed']);
  const { output } = await runBackfill(input());
  expect(outcomes(output)).toEqual({
    'ActualCost 2025-06': 'Completed',
    'AmortizedCost 2025-06': 'Completed',
    'ActualCost 2025-05': 'Completed',
    'AmortizedCost 2025-05': 'Failed',
    'ActualCost 2025-04': 'Completed',
    'AmortizedCost 2025-04': 'Completed',
  });
  const failed = output.months.find((m) => m.outcome === 'Failed')!;
  expect(failed.attempts).toBe(3);
  expect(failed.runId).toBe('AmortizedCost-2025-05-run3');
  expect(failed.error).toMatch(/ended Failed: InternalError: disk full \(after 3 attempts\)/);
  expect(fake.calls.filter((c) => c.op === 'run' && c.key === 'AmortizedCost 2025-05')).toHaveLength(3);
  // Its temporary export is still cleaned up.
  expect(fake.finished.find((f) => f.result.outcome === 'Failed')?.deleteExport).toBe(true);
});

test('DataNotAvailable is recorded as NoData, not retried', async () => {
  fake.raiseEvents = false;
  fake.outcomes.set('ActualCost 2025-04', ['DataNotAvailable']);
  const { output } = await runBackfill(input({ datasets: ['ActualCost'] }));
  expect(output.counts).toEqual({ Completed: 2, NoData: 1, Failed: 0 });
  expect(output.months.find((m) => m.month === '2025-04')).toMatchObject({
    outcome: 'NoData',
    attempts: 1,
    rowCount: 0,
  });
  expect(fake.calls.filter((c) => c.op === 'run' && c.key === 'ActualCost 2025-04')).toHaveLength(1);
});

test('a run that never lands times out, is retried, and fails naming the timeout', async () => {
  fake.raiseEvents = false;
  fake.outcomes.set('ActualCost 2025-06', ['Hang']);
  const { output } = await runBackfill(
    input({ datasets: ['ActualCost'], months: 1, timing: { ...TIMING, maxAttempts: 2 } }),
  );
  expect(output.months[0]).toMatchObject({ outcome: 'Failed', attempts: 2, failure: 'landingTimedOut' });
  expect(output.months[0]!.error).toMatch(
    /no landing within 480 minutes \(last status: InProgress\) \(after 2 attempts\)/,
  );
});

test('landing events of other months and earlier runs are ignored', async () => {
  fake.raiseEvents = false;
  const value = input({ datasets: ['ActualCost'], months: 1 });
  const id = engine.startNew(BACKFILL_ORCHESTRATOR, { instanceId: value.backfillId, input: value });
  await clock.runUntilIdle();
  const child = engine.listInstances().find((s) => s.name === BACKFILL_MONTH_ORCHESTRATOR)!.instanceId;
  const base = { exportName: 'cea-bf-actualcost-202506', scope: SCOPE, state: 'complete', rowCount: 1 };
  engine.raiseEvent(child, EXPORT_LANDED_EVENT, { ...base, billingMonth: '2025-05', runId: 'other-month' });
  engine.raiseEvent(child, EXPORT_LANDED_EVENT, {
    ...base,
    exportName: 'cea-bf-usage-202506',
    billingMonth: '2025-06',
    runId: 'other-export',
  });
  engine.raiseEvent(child, EXPORT_LANDED_EVENT, {
    ...base,
    billingMonth: '2025-06',
    runId: 'r-incomplete',
    state: 'incomplete',
  });
  await clock.runUntilIdle();
  expect(engine.getStatus(child)!.runtimeStatus).toBe('Running');
  engine.raiseEvent(child, EXPORT_LANDED_EVENT, {
    ...base,
    billingMonth: '20250601-20250630',
    runId: 'ActualCost-2025-06-run1',
    rowCount: 7,
  });
  await clock.runUntil(() => TERMINAL.includes(engine.getStatus(id)!.runtimeStatus));
  const output = engine.getStatus(id)!.output as BackfillOutput;
  expect(output.months[0]).toMatchObject({
    outcome: 'Completed',
    runId: 'ActualCost-2025-06-run1',
    rowCount: 7,
  });
  expect(fake.calls.some((c) => c.op === 'read')).toBe(false);
});

test('a landing whose run is not in the run history, or is a run from before the month submitted its own, never completes the month', async () => {
  fake.raiseEvents = false;
  // A left-over export of an interrupted backfill: its old run must not count for this month.
  fake.priorRuns.set('ActualCost 2025-06', ['stale-run']);
  const value = input({ datasets: ['ActualCost'], months: 1 });
  const id = engine.startNew(BACKFILL_ORCHESTRATOR, { instanceId: value.backfillId, input: value });
  await clock.runUntilIdle();
  const child = engine.listInstances().find((s) => s.name === BACKFILL_MONTH_ORCHESTRATOR)!.instanceId;
  const base = {
    exportName: 'cea-bf-actualcost-202506',
    scope: SCOPE,
    billingMonth: '2025-06',
    state: 'complete',
    rowCount: 0,
  };
  const forged = { partitionKey: 'p', rowKey: '20250601-20250630|made-up-run' };
  engine.raiseEvent(child, EXPORT_LANDED_EVENT, { ...base, runId: 'made-up-run', landingKey: forged });
  engine.raiseEvent(child, EXPORT_LANDED_EVENT, { ...base, runId: 'stale-run' });
  await clock.runUntilIdle();
  expect(engine.getStatus(child)!.runtimeStatus).toBe('Running');
  // The forged run was refused with its landing named; the stale one was never even asked about.
  expect(fake.refused.map((r) => [r.runId, r.landingKey])).toEqual([['made-up-run', forged]]);
  // The same forged run again is not checked twice.
  engine.raiseEvent(child, EXPORT_LANDED_EVENT, { ...base, runId: 'made-up-run' });
  engine.raiseEvent(child, EXPORT_LANDED_EVENT, { ...base, runId: 'ActualCost-2025-06-run1', rowCount: 9 });
  await clock.runUntil(() => TERMINAL.includes(engine.getStatus(id)!.runtimeStatus));
  const output = engine.getStatus(id)!.output as BackfillOutput;
  expect(output.months[0]).toMatchObject({
    outcome: 'Completed',
    runId: 'ActualCost-2025-06-run1',
    rowCount: 9,
  });
  expect(fake.refused).toHaveLength(1);
});

test.each([1, 2, 3, 5])('the window never holds more than %i months in flight', async (concurrency) => {
  fake.outcomes.set('ActualCost 2025-03', ['Failed', 'Completed']);
  fake.raiseEvents = concurrency % 2 === 1;
  const { output } = await runBackfill(input({ months: 6, concurrency }));
  expect(output.total).toBe(12);
  expect(output.counts.Completed).toBe(12);
  expect(fake.maxInFlight).toBe(concurrency);
});

test('a PUT the service refuses fails that month without running it', async () => {
  fake.putErrors.set('ActualCost 2025-05', 'Cost Management createOrUpdate failed (HTTP 403, Forbidden)');
  const { output } = await runBackfill(input({ datasets: ['ActualCost'] }));
  expect(output.months.find((m) => m.month === '2025-05')).toMatchObject({
    outcome: 'Failed',
    attempts: 0,
    runId: null,
    error: expect.stringContaining(
      'creating the export failed: Cost Management createOrUpdate failed (HTTP 403',
    ),
  });
  expect(fake.calls.filter((c) => c.key === 'ActualCost 2025-05' && c.op === 'run')).toHaveLength(0);
  expect(output.counts.Completed).toBe(2);
});

test('transient API errors are retried with back-off; keepExports skips the delete', async () => {
  fake.transientRunErrors.set('ActualCost 2025-06', 2);
  const { output } = await runBackfill(input({ datasets: ['ActualCost'], months: 1, keepExports: true }));
  expect(output.months[0]).toMatchObject({ outcome: 'Completed', attempts: 1 });
  const runs = fake.calls.filter((c) => c.op === 'run');
  expect(runs.map((c) => c.result)).toEqual(['error', 'error', 'ok']);
  expect(runs[1]!.at - runs[0]!.at).toBe(TIMING.retryBaseMs);
  expect(runs[2]!.at - runs[1]!.at).toBe(2 * TIMING.retryBaseMs);
  expect(fake.finished[0]!.deleteExport).toBe(false);
});

test('replaying the stored histories gives the same actions (determinism)', async () => {
  fake.outcomes.set('ActualCost 2025-05', ['Failed', 'Completed']);
  fake.throttles.set('run AmortizedCost 2025-06', { count: 1, retryAfterMs: 45_000 });
  const { id } = await runBackfill(input());
  const ids = [
    id,
    ...engine
      .listInstances()
      .filter((s) => s.name === BACKFILL_MONTH_ORCHESTRATOR)
      .map((s) => s.instanceId),
  ];
  expect(ids.length).toBe(7);
  for (const instance of ids) {
    const first = await engine.replay(instance);
    const second = await engine.replay(instance);
    expect(first.error).toBeUndefined();
    expect(first.signatures.length).toBeGreaterThan(0);
    expect(second.signatures).toEqual(first.signatures);
    expect(second.state?.output).toEqual(first.state?.output);
  }
});

describe('landing event matching', () => {
  const task = { exportName: 'cea-bf-actualcost-202506', month: '2025-06', scope: SCOPE } as MonthTask;
  test.each([
    [
      {
        exportName: 'CEA-BF-ActualCost-202506',
        billingMonth: '2025-06',
        runId: 'r',
        scope: SCOPE.toUpperCase(),
      },
      true,
    ],
    [{ exportName: 'cea-bf-actualcost-202506', billingMonth: '202506', runId: 'r' }, true],
    [{ exportName: 'cea-bf-actualcost-202506', billingMonth: '2025-05', runId: 'r' }, false],
    [{ exportName: 'cea-bf-actualcost-202506', billingMonth: '2025-06', runId: 'old' }, false],
    [{ exportName: 'cea-bf-actualcost-202506', billingMonth: '2025-06', runId: '' }, false],
    [
      {
        exportName: 'cea-bf-actualcost-202506',
        billingMonth: '2025-06',
        runId: 'r',
        scope: '/subscriptions/00000000-0000-0000-0000-000000000002',
      },
      false,
    ],
    [
      { exportName: 'cea-bf-actualcost-202506', billingMonth: '2025-06', runId: 'r', scope: 'not a scope' },
      false,
    ],
    [null, false],
    ['text', false],
  ])('%j → %s', (event, expected) => {
    expect(isOwnLanding(event, task, ['old'])).toBe(expected);
  });

  test.each([
    ['2025-06', '2025-06'],
    ['202506', '2025-06'],
    ['20250601-20250630', '2025-06'],
    ['2025-13', undefined],
    [202506, undefined],
  ])('billing month %j → %s', (value, expected) => {
    expect(normaliseBillingMonth(value)).toBe(expected);
  });
});
