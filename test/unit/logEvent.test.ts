import { logEventLine } from '../../src/domain/logEvent';

test('one JSON line naming the event, undefined fields left out, secrets redacted, long text cut', () => {
  const line = logEventLine('backfill.month.finished', {
    backfillId: 'bf-202501-202512-0123',
    dataset: 'ActualCost',
    month: '2025-10',
    attempts: 3,
    runId: null,
    rowCount: undefined,
    error: `PUT https://acct.blob.core.windows.net/c?sv=2022-11-02&sig=AbCdEf0123456789%2B%3D failed ${'x'.repeat(600)}`,
  });
  expect(line).not.toContain('\n');
  const parsed = JSON.parse(line) as Record<string, unknown>;
  expect(parsed).toMatchObject({
    event: 'backfill.month.finished',
    dataset: 'ActualCost',
    attempts: 3,
    runId: null,
  });
  expect(Object.keys(parsed)).not.toContain('rowCount');
  expect(String(parsed.error)).not.toContain('AbCdEf0123456789');
  expect(String(parsed.error).length).toBeLessThanOrEqual(520);
  // A field cannot rename the event.
  expect(JSON.parse(logEventLine('backfill.started', { event: 'other' }))).toEqual({
    event: 'backfill.started',
  });
});
