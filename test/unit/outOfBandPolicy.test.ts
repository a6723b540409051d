import {
  batches,
  inHoursWindow,
  nextWindowStart,
  type OutOfBandDecision,
  outOfBandDecision,
  type OutOfBandState,
  roundInstanceId,
  validateOutOfBandPolicy,
} from '../../src/domain/outOfBandPolicy';

const NOW = new Date('2025-07-10T12:00:00Z');
const MIN = 60_000;
const ago = (minutes: number) => new Date(NOW.getTime() - minutes * MIN).toISOString();
const POLICY = { minIntervalMinutes: 360 };

describe('outOfBandDecision', () => {
  const cases: [string, OutOfBandState, OutOfBandDecision][] = [
    ['no policy', {}, { due: false, reason: 'noPolicy' }],
    ['missing export', { outOfBand: POLICY, missing: true }, { due: false, reason: 'missing' }],
    ['never ran', { outOfBand: POLICY }, { due: true }],
    ['ran long ago', { outOfBand: POLICY, lastRun: { status: 'Completed', at: ago(600) } }, { due: true }],
    [
      'ran within the interval',
      { outOfBand: POLICY, lastRun: { status: 'Completed', at: ago(120) } },
      { due: false, reason: 'tooSoon', notBefore: '2025-07-10T15:55:00.000Z' },
    ],
    [
      'just inside the tolerance counts as due',
      { outOfBand: POLICY, lastRun: { status: 'Completed', at: ago(357) } },
      { due: true },
    ],
    [
      'exactly the interval',
      { outOfBand: POLICY, lastRun: { status: 'Completed', at: ago(360) } },
      { due: true },
    ],
    [
      'queued',
      { outOfBand: POLICY, lastRun: { status: 'Queued', at: ago(600) } },
      { due: false, reason: 'running' },
    ],
    [
      'in progress (any casing)',
      { outOfBand: POLICY, lastRun: { status: 'inprogress', at: ago(30) } },
      { due: false, reason: 'running' },
    ],
    [
      'a stale Queued status does not block forever',
      { outOfBand: POLICY, lastRun: { status: 'Queued', at: ago(25 * 60) } },
      { due: true },
    ],
    [
      'a failed run counts as a run',
      { outOfBand: POLICY, lastRun: { status: 'Failed', at: ago(60) } },
      { due: false, reason: 'tooSoon', notBefore: '2025-07-10T16:55:00.000Z' },
    ],
    [
      'our own submission within the interval',
      {
        outOfBand: POLICY,
        lastRun: { status: 'Completed', at: ago(900) },
        lastOutOfBand: { status: 'submitted', at: ago(60) },
      },
      { due: false, reason: 'tooSoon', notBefore: '2025-07-10T16:55:00.000Z' },
    ],
    [
      'a refused submission also waits the interval (no hammering)',
      { outOfBand: POLICY, lastOutOfBand: { status: 'failed', at: ago(60) } },
      { due: false, reason: 'tooSoon', notBefore: '2025-07-10T16:55:00.000Z' },
    ],
    [
      'a throttled attempt is retried at the next tick',
      {
        outOfBand: POLICY,
        lastRun: { status: 'Completed', at: ago(900) },
        lastOutOfBand: { status: 'throttled', at: ago(1) },
      },
      { due: true },
    ],
    [
      'a skipped attempt does not count',
      { outOfBand: POLICY, lastOutOfBand: { status: 'skipped', at: ago(1) } },
      { due: true },
    ],
    [
      'inside the hours window',
      { outOfBand: { minIntervalMinutes: 60, hoursWindow: { fromHourUtc: 8, toHourUtc: 18 } } },
      { due: true },
    ],
    [
      'outside the hours window',
      { outOfBand: { minIntervalMinutes: 60, hoursWindow: { fromHourUtc: 18, toHourUtc: 6 } } },
      { due: false, reason: 'outsideWindow', notBefore: '2025-07-10T18:00:00.000Z' },
    ],
    [
      'too soon and the window opens later: the later of both',
      {
        outOfBand: { minIntervalMinutes: 120, hoursWindow: { fromHourUtc: 20, toHourUtc: 22 } },
        lastRun: { status: 'Completed', at: ago(60) },
      },
      { due: false, reason: 'tooSoon', notBefore: '2025-07-10T20:00:00.000Z' },
    ],
    [
      'a non-positive interval is no policy',
      { outOfBand: { minIntervalMinutes: 0 } },
      { due: false, reason: 'noPolicy' },
    ],
  ];
  it.each(cases)('%s', (_name, state, decision) => {
    expect(outOfBandDecision(state, NOW)).toEqual(decision);
  });

  it('tolerance never exceeds a tenth of the interval', () => {
    const state = { outOfBand: { minIntervalMinutes: 20 }, lastRun: { status: 'Completed', at: ago(17) } };
    expect(outOfBandDecision(state, NOW).due).toBe(false);
    expect(outOfBandDecision({ ...state, lastRun: { status: 'Completed', at: ago(18) } }, NOW).due).toBe(
      true,
    );
  });

  it('options change tolerance and staleness', () => {
    const state = { outOfBand: POLICY, lastRun: { status: 'Completed', at: ago(359) } };
    expect(outOfBandDecision(state, NOW, { toleranceMinutes: 0 }).due).toBe(false);
    const queued = { outOfBand: POLICY, lastRun: { status: 'Queued', at: ago(61) } };
    expect(outOfBandDecision(queued, NOW)).toMatchObject({ reason: 'running' });
    expect(outOfBandDecision(queued, NOW, { runningStaleAfterMinutes: 60 })).toMatchObject({
      reason: 'tooSoon',
    });
  });

  it('refuses unreadable times naming the field', () => {
    expect(() =>
      outOfBandDecision({ outOfBand: POLICY, lastRun: { status: 'Completed', at: 'yesterday' } }, NOW),
    ).toThrow(/lastRun\.at/);
  });

  it('simulated 6-hourly ticks over two days run a 6 h policy every tick, a 12 h policy every other', () => {
    const runs: Record<string, number[]> = { six: [], twelve: [] };
    const states: Record<string, OutOfBandState> = {
      six: { outOfBand: { minIntervalMinutes: 360 } },
      twelve: { outOfBand: { minIntervalMinutes: 720 } },
    };
    for (let tick = 0; tick < 8; tick++) {
      // Ticks fire a few seconds late or early, as real timers do.
      const now = new Date(Date.UTC(2025, 6, 10) + tick * 360 * MIN + (tick % 2 ? 3000 : -2000));
      for (const name of Object.keys(states)) {
        if (outOfBandDecision(states[name]!, now).due) {
          runs[name]!.push(tick);
          states[name] = { ...states[name], lastOutOfBand: { status: 'submitted', at: now.toISOString() } };
        }
      }
    }
    expect(runs).toEqual({ six: [0, 1, 2, 3, 4, 5, 6, 7], twelve: [0, 2, 4, 6] });
  });
});

describe('hours windows', () => {
  const at = (hour: number) => new Date(Date.UTC(2025, 6, 10, hour, 30));
  it.each([
    [{ fromHourUtc: 8, toHourUtc: 18 }, 7, false],
    [{ fromHourUtc: 8, toHourUtc: 18 }, 8, true],
    [{ fromHourUtc: 8, toHourUtc: 18 }, 17, true],
    [{ fromHourUtc: 8, toHourUtc: 18 }, 18, false],
    [{ fromHourUtc: 22, toHourUtc: 4 }, 23, true],
    [{ fromHourUtc: 22, toHourUtc: 4 }, 3, true],
    [{ fromHourUtc: 22, toHourUtc: 4 }, 4, false],
    [{ fromHourUtc: 22, toHourUtc: 4 }, 12, false],
    [{ fromHourUtc: 0, toHourUtc: 24 }, 23, true],
    [{ fromHourUtc: 5, toHourUtc: 5 }, 12, true],
  ])('%p at %d:30 → %p', (window, hour, inside) => {
    expect(inHoursWindow(window, at(hour))).toBe(inside);
  });
  it('no window is always open', () => {
    expect(inHoursWindow(undefined, at(3))).toBe(true);
  });
  it.each([
    [{ fromHourUtc: 8, toHourUtc: 18 }, 5, '2025-07-10T08:00:00.000Z'],
    [{ fromHourUtc: 8, toHourUtc: 18 }, 20, '2025-07-11T08:00:00.000Z'],
    [{ fromHourUtc: 22, toHourUtc: 4 }, 12, '2025-07-10T22:00:00.000Z'],
    [{ fromHourUtc: 8, toHourUtc: 18 }, 9, '2025-07-10T09:30:00.000Z'],
  ])('next opening of %p after %d:30 is %s', (window, hour, expected) => {
    expect(nextWindowStart(window, at(hour)).toISOString()).toBe(expected);
  });
});

describe('validateOutOfBandPolicy', () => {
  it.each([
    [{ minIntervalMinutes: 360 }, { minIntervalMinutes: 360 }],
    [
      { minIntervalMinutes: 120, hoursUtc: { from: 6, to: 18 } },
      { minIntervalMinutes: 120, hoursWindow: { fromHourUtc: 6, toHourUtc: 18 } },
    ],
    [
      { minIntervalMinutes: 60, hoursUtc: { from: 0, to: 24 } },
      { minIntervalMinutes: 60, hoursWindow: { fromHourUtc: 0, toHourUtc: 24 } },
    ],
    [{ minIntervalMinutes: 60, hoursUtc: null }, { minIntervalMinutes: 60 }],
  ])('accepts %p', (body, policy) => {
    expect(validateOutOfBandPolicy(body)).toEqual({ ok: true, policy });
  });

  it.each([
    [null, ['body']],
    [[], ['body']],
    ['360', ['body']],
    [{}, ['minIntervalMinutes']],
    [{ minIntervalMinutes: '360' }, ['minIntervalMinutes']],
    [{ minIntervalMinutes: 30 }, ['minIntervalMinutes']],
    [{ minIntervalMinutes: 90.5 }, ['minIntervalMinutes']],
    [{ minIntervalMinutes: 600_000 }, ['minIntervalMinutes']],
    [{ minIntervalMinutes: 60, extra: 1 }, ['extra']],
    [{ minIntervalMinutes: 60, hoursUtc: '6-18' }, ['hoursUtc']],
    [{ minIntervalMinutes: 60, hoursUtc: { from: 24, to: 3 } }, ['hoursUtc.from']],
    [{ minIntervalMinutes: 60, hoursUtc: { from: 3 } }, ['hoursUtc.to']],
    [{ minIntervalMinutes: 60, hoursUtc: { from: 6, to: 6 } }, ['hoursUtc']],
    [{ minIntervalMinutes: 60, hoursUtc: { from: 6, to: 7, tz: 'CET' } }, ['hoursUtc.tz']],
    [{ hoursUtc: { from: -1, to: 25 } }, ['minIntervalMinutes', 'hoursUtc.from', 'hoursUtc.to']],
  ])('refuses %p naming %p', (body, fields) => {
    const result = validateOutOfBandPolicy(body);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.problems.map((p) => p.field)).toEqual(fields);
  });
});

describe('round helpers', () => {
  it('derives one instance id per minute tick', () => {
    expect(roundInstanceId(new Date('2025-07-10T06:00:00.400Z'))).toBe('outOfBandRound-20250710T0600');
    expect(roundInstanceId(new Date('2025-07-10T06:00:59.999Z'))).toBe('outOfBandRound-20250710T0600');
    expect(roundInstanceId(new Date('2025-07-10T12:00:00Z'))).toBe('outOfBandRound-20250710T1200');
    expect(() => roundInstanceId(new Date('nope'))).toThrow(/tick/);
  });
  it('splits into bounded batches', () => {
    expect(batches([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(batches([], 3)).toEqual([]);
    expect(() => batches([1], 0)).toThrow(/concurrency/);
  });
});
