import {
  backfillOutcome,
  cancelledProgress,
  cancelledResult,
  inFlightMonth,
} from '../../src/domain/backfillView';

const counts = (Completed: number, NoData: number, Failed: number) => ({
  counts: { Completed, NoData, Failed },
});

test('the overall outcome follows the months, and is null while running', () => {
  expect(backfillOutcome('Running', null)).toBeNull();
  expect(backfillOutcome('Pending', null)).toBeNull();
  expect(backfillOutcome('Completed', counts(11, 1, 0))).toBe('Succeeded');
  expect(backfillOutcome('Completed', counts(0, 12, 0))).toBe('Succeeded');
  expect(backfillOutcome('Completed', counts(11, 0, 1))).toBe('PartiallySucceeded');
  expect(backfillOutcome('Completed', counts(0, 0, 12))).toBe('Failed');
  expect(backfillOutcome('Completed', 'not an output')).toBe('Failed');
  expect(backfillOutcome('Failed', 'orchestrator crashed')).toBe('Failed');
  expect(backfillOutcome('Terminated', 'cancelled by DELETE /api/backfills')).toBe('Cancelled');
});

test('a month in flight: attempt, last error and next retry only while backing off', () => {
  expect(
    inFlightMonth(
      { dataset: 'ActualCost', month: '2025-10' },
      {
        phase: 'backingOff',
        attempts: 2,
        maxAttempts: 3,
        lastError: 'run x ended Failed',
        nextRetryAt: '2026-01-01T00:10:00.000Z',
      },
    ),
  ).toEqual({
    dataset: 'ActualCost',
    month: '2025-10',
    phase: 'backingOff',
    attempt: 2,
    maxAttempts: 3,
    lastError: 'run x ended Failed',
    nextRetryAt: '2026-01-01T00:10:00.000Z',
  });
  expect(
    inFlightMonth(
      { dataset: 'Usage', month: '2025-09' },
      { phase: 'running', attempts: 3, nextRetryAt: 'stale' },
    ),
  ).toMatchObject({ attempt: 3, maxAttempts: null, lastError: null, nextRetryAt: null });
  // Not started yet (no custom status) or a hostile one.
  expect(inFlightMonth({ dataset: 'Usage', month: '2025-09' }, null)).toMatchObject({
    phase: 'starting',
    attempt: 0,
  });
  expect(inFlightMonth({ dataset: 'Usage', month: '2025-09' }, 'text')).toMatchObject({ phase: 'starting' });
});

test('a cancelled backfill keeps the result shape: finished months from backfillRuns, the rest Cancelled', () => {
  const result = cancelledResult(
    {
      backfillId: 'bf-1',
      scope: '/subscriptions/x',
      datasets: ['ActualCost', 'FocusCost'],
      months: ['2025-10', '2025-09'],
    },
    [
      { dataset: 'ActualCost', month: '2025-10', status: 'landed', runId: 'r1', attempts: 1 },
      {
        dataset: 'FocusCost',
        month: '2025-10',
        status: 'timedOut',
        attempts: 3,
        error: 'no landing within 480 minutes',
      },
      { dataset: 'ActualCost', month: '2025-09', status: 'cancelled', attempts: 1 },
    ],
    'cancelled by DELETE /api/backfills',
  );
  expect(result.counts).toEqual({ Completed: 1, NoData: 0, Failed: 1, Cancelled: 2 });
  expect(result.total).toBe(4);
  expect(result.months.map((m) => `${m.dataset} ${m.month} ${m.outcome}`)).toEqual([
    'ActualCost 2025-10 Completed',
    'FocusCost 2025-10 Failed',
    'ActualCost 2025-09 Cancelled',
    'FocusCost 2025-09 Cancelled',
  ]);
  expect(result.months[1]).toMatchObject({ error: 'no landing within 480 minutes' });
  expect(
    cancelledProgress(
      {
        total: 4,
        counts: { Completed: 1, NoData: 0, Failed: 1, pending: 1, running: 1 },
        inFlight: ['ActualCost 2025-09'],
      },
      ['ActualCost 2025-09', 'FocusCost 2025-09'],
    ),
  ).toEqual({
    total: 4,
    counts: { Completed: 1, NoData: 0, Failed: 1, pending: 0, running: 0, Cancelled: 2 },
    inFlight: [],
    cancelled: ['ActualCost 2025-09', 'FocusCost 2025-09'],
  });
});
