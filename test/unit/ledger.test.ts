import {
  type Cadence,
  type CellFacts,
  cellState,
  DEFAULT_HEALING_SETTINGS,
  DEFAULT_LEDGER_SETTINGS,
  expectedMonths,
  foldAttempt,
  foldLanding,
  healingDecision,
  healingDestination,
  healingRecord,
  healingSummary,
  type LandedRun,
} from '../../src/domain/ledger';

const DAILY: Cadence = { recurrence: 'Daily', active: true, from: '2026-01-01T00:00:00Z' };
const S = DEFAULT_LEDGER_SETTINGS;
const at = (iso: string) => new Date(iso);

function run(runId: string, runTime: string, extra: Partial<LandedRun> = {}): LandedRun {
  return {
    runId,
    runTime,
    rows: 10,
    bytes: 100,
    noData: false,
    catalogedAt: runTime,
    current: true,
    usable: true,
    ...extra,
  };
}

function landed(month: string, ...runs: LandedRun[]): CellFacts {
  return runs.reduce(foldLanding, { month, runs: 0, supersededRuns: 0 } as CellFacts);
}

describe('cellState', () => {
  it('is Open while the month runs on cadence, Stale once a landing is overdue', () => {
    const facts = landed('2026-12', run('r1', '2026-12-03T09:42:00Z'));
    expect(cellState(facts, DAILY, at('2026-12-04T09:00:00Z'), S)).toMatchObject({ state: 'Open' });
    // 24 h cadence + 12 h grace after 09:42 on the 3rd.
    expect(cellState(facts, DAILY, at('2026-12-04T21:41:00Z'), S).state).toBe('Open');
    expect(cellState(facts, DAILY, at('2026-12-04T21:43:00Z'), S)).toMatchObject({ state: 'Stale' });
  });

  it('turns Final only with a run submitted on or after the 5th of the next month', () => {
    const early = landed('2026-11', run('r1', '2026-11-30T09:42:00Z'), run('r2', '2026-12-04T09:42:00Z'));
    expect(cellState(early, DAILY, at('2026-12-04T12:00:00Z'), S).state).toBe('Open');
    const final = foldLanding(early, run('r3', '2026-12-05T09:42:00Z'));
    expect(cellState(final, DAILY, at('2026-12-05T12:00:00Z'), S)).toMatchObject({ state: 'Final' });
    expect(final.runs).toBe(3);
    expect(final.supersededRuns).toBe(2);
    // The closing run never came: Stale once cadence + grace after the close window passed.
    expect(cellState(early, DAILY, at('2026-12-06T11:59:00Z'), S).state).toBe('Open');
    expect(cellState(early, DAILY, at('2026-12-06T12:01:00Z'), S)).toMatchObject({
      state: 'Stale',
      reason: expect.stringContaining('no run after the close window'),
    });
  });

  it('is Missing for a past month without a landing, Open for the current one until the first is due', () => {
    const none: CellFacts = { month: '2026-10', runs: 0, supersededRuns: 0 };
    expect(cellState(none, DAILY, at('2026-12-04T00:00:00Z'), S).state).toBe('Missing');
    const current: CellFacts = { month: '2026-12', runs: 0, supersededRuns: 0 };
    expect(cellState(current, DAILY, at('2026-12-01T20:00:00Z'), S).state).toBe('Open');
    expect(cellState(current, DAILY, at('2026-12-02T13:00:00Z'), S).state).toBe('Stale');
    // An inactive schedule promises nothing: never Stale.
    expect(cellState(current, { active: false }, at('2026-12-20T00:00:00Z'), S).state).toBe('Open');
  });

  it('is Failed when the newest attempt failed, until a run lands after it', () => {
    const facts = foldAttempt(landed('2026-09', run('r1', '2026-09-20T09:00:00Z')), {
      at: '2026-11-02T10:00:00Z',
      outcome: 'failed',
      reason: 'backfill bf-1 failed after 3 attempt(s)',
      source: 'backfill',
    });
    expect(cellState(facts, DAILY, at('2026-12-04T00:00:00Z'), S)).toEqual({
      state: 'Failed',
      reason: 'backfill bf-1 failed after 3 attempt(s)',
    });
    const healed = foldLanding(facts, run('r2', '2026-12-04T10:00:00Z'));
    expect(cellState(healed, DAILY, at('2026-12-04T11:00:00Z'), S).state).toBe('Final');
  });

  it('is NoData for a header-only run or DataNotAvailable', () => {
    const empty = landed('2026-10', run('r1', '2026-11-05T09:00:00Z', { rows: 0, noData: true }));
    expect(cellState(empty, DAILY, at('2026-12-04T00:00:00Z'), S).state).toBe('NoData');
    const dna = foldAttempt(
      { month: '2025-01', runs: 0, supersededRuns: 0 },
      {
        at: '2026-12-01T00:00:00Z',
        outcome: 'noData',
        reason: 'DataNotAvailable',
        source: 'backfill',
      },
    );
    expect(cellState(dna, DAILY, at('2026-12-04T00:00:00Z'), S).state).toBe('NoData');
  });
});

describe('folding', () => {
  it('ignores a redelivered current run and an older attempt', () => {
    const once = landed('2026-12', run('r1', '2026-12-03T09:42:00Z'));
    expect(foldLanding(once, run('r1', '2026-12-03T09:42:00Z'))).toBe(once);
    const newer = foldAttempt(once, {
      at: '2026-12-04T00:00:00Z',
      outcome: 'failed',
      reason: 'b',
      source: 'export',
    });
    expect(
      foldAttempt(newer, { at: '2026-12-01T00:00:00Z', outcome: 'failed', reason: 'a', source: 'export' }),
    ).toBe(newer);
  });

  it('counts an incomplete landing without making it the month’s data', () => {
    const facts = landed('2026-12', run('r1', '2026-12-03T09:42:00Z', { usable: false, current: false }));
    expect(facts).toMatchObject({ runs: 1, supersededRuns: 0 });
    expect(facts.current).toBeUndefined();
  });
});

describe('expectedMonths', () => {
  it('covers the horizon, newest first, clipped to the schedule start', () => {
    expect(expectedMonths(DAILY, at('2026-12-04T00:00:00Z'), S)).toHaveLength(12);
    expect(expectedMonths({ ...DAILY, from: '2026-10-15T00:00:00Z' }, at('2026-12-04T00:00:00Z'), S)).toEqual(
      ['2026-12', '2026-11', '2026-10'],
    );
    expect(expectedMonths({ active: false, recurrence: 'Daily' }, at('2026-12-04T00:00:00Z'), S)).toEqual([]);
  });
});

describe('healingDecision', () => {
  const now = at('2026-12-04T12:00:00Z');
  it('heals problem states under heal only, once per cool-down, up to the attempt limit', () => {
    expect(healingDecision('Missing', undefined, 'heal', now, DEFAULT_HEALING_SETTINGS)).toEqual({
      heal: true,
    });
    expect(healingDecision('Missing', undefined, 'report', now, DEFAULT_HEALING_SETTINGS).heal).toBe(false);
    expect(healingDecision('Final', undefined, 'heal', now, DEFAULT_HEALING_SETTINGS).heal).toBe(false);
    const recent = { attempts: 1, lastAt: '2026-12-04T00:00:00Z', outcome: 'started' };
    expect(healingDecision('Failed', recent, 'heal', now, DEFAULT_HEALING_SETTINGS)).toMatchObject({
      heal: false,
      why: expect.stringContaining('cooling down until 2026-12-05T00:00:00.000Z'),
    });
    expect(
      healingDecision(
        'Failed',
        { ...recent, lastAt: '2026-12-03T11:00:00Z' },
        'heal',
        now,
        DEFAULT_HEALING_SETTINGS,
      ),
    ).toEqual({ heal: true });
    expect(
      healingDecision(
        'Failed',
        { ...recent, attempts: 3, lastAt: '2026-11-01T00:00:00Z' },
        'heal',
        now,
        DEFAULT_HEALING_SETTINGS,
      ).heal,
    ).toBe(false);
  });
});

describe('healing attempts', () => {
  const now = at('2026-12-05T08:00:00Z');
  it('counts attempts on from the previous record and records the backfill or the refusal', () => {
    expect(healingRecord(undefined, { kind: 'started', backfillId: 'b1' }, now)).toEqual({
      attempts: 1,
      lastAt: '2026-12-05T08:00:00.000Z',
      backfillId: 'b1',
      outcome: 'started',
    });
    const previous = { attempts: 2, lastAt: '2026-12-01T00:00:00Z', outcome: 'started' };
    expect(healingRecord(previous, { kind: 'running', backfillId: 'b1' }, now)).toMatchObject({
      attempts: 3,
      outcome: 'running',
    });
    expect(healingRecord(previous, { kind: 'refused', why: 'no export' }, now)).toEqual({
      attempts: 3,
      lastAt: '2026-12-05T08:00:00.000Z',
      outcome: 'refused: no export',
    });
  });
  it('reads a record as a person would', () => {
    expect(healingSummary({ attempts: 2, lastAt: '2026-12-05T08:00:00.000Z', outcome: 'started' })).toBe(
      'healing started 2026-12-05T08:00:00.000Z, attempt 2',
    );
  });
  it('delivers the way the export does, and names no destination for an unrecorded managed identity', () => {
    const d = { storageAccount: 'acct1', container: 'c', rootFolderPath: '', sasDelivered: true };
    expect(healingDestination({ ...d, tokenRef: 't1', rootFolderPath: 'r' })).toEqual({
      storageAccount: 'acct1',
      container: 'c',
      rootFolderPath: 'r',
      tokenId: 't1',
    });
    const id = '/subscriptions/s/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/acct1';
    expect(healingDestination({ ...d, sasDelivered: false, resourceId: id })).toEqual({
      resourceId: id,
      container: 'c',
    });
    expect(healingDestination({ ...d, sasDelivered: false })).toBeUndefined();
  });
});
