import { spawnSync } from 'node:child_process';
import path from 'node:path';

import { mulberry32 } from '../../dev/emulator/data/prng';
import {
  addMonths,
  backfillExportName,
  backfillInstanceId,
  BackfillPlanError,
  type BackfillPlanInput,
  type BackfillWindow,
  EXPORT_NAME_PATTERN,
  HISTORY_LIMIT_MONTHS,
  historyLimitMonths,
  MAX_BACKFILL_MONTHS,
  monthOf,
  monthRange,
  parseBackfillExportName,
  parseMonth,
  planBackfill,
} from '../../src/domain/backfillPlan';
import { EXPORT_DATASETS, type ExportDataset } from '../../src/domain/scope';

const at = (iso: string): Date => new Date(iso);

function fieldOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof BackfillPlanError) return e.field;
    throw e;
  }
  throw new Error('expected a BackfillPlanError');
}

const months = (plan: BackfillWindow[]): string[] => plan.map((w) => w.month);

describe('monthRange', () => {
  it.each([
    ['2025-01', '2025-01-01T00:00:00Z', '2025-01-31T00:00:00Z', 31, '20250101-20250131'],
    ['2024-02', '2024-02-01T00:00:00Z', '2024-02-29T00:00:00Z', 29, '20240201-20240229'],
    ['2023-02', '2023-02-01T00:00:00Z', '2023-02-28T00:00:00Z', 28, '20230201-20230228'],
    ['2000-02', '2000-02-01T00:00:00Z', '2000-02-29T00:00:00Z', 29, '20000201-20000229'],
    ['2100-02', '2100-02-01T00:00:00Z', '2100-02-28T00:00:00Z', 28, '21000201-21000228'],
    ['2024-04', '2024-04-01T00:00:00Z', '2024-04-30T00:00:00Z', 30, '20240401-20240430'],
    ['2024-12', '2024-12-01T00:00:00Z', '2024-12-31T00:00:00Z', 31, '20241201-20241231'],
  ])('%s spans %s .. %s (%i days, folder %s)', (month, from, to, days, dateRange) => {
    expect(monthRange(month)).toEqual({
      month,
      from,
      to,
      firstDay: from.slice(0, 10),
      lastDay: to.slice(0, 10),
      days,
      dateRange,
    });
  });

  it('agrees with the Gregorian leap-year rule for every month 1970-2199', () => {
    const leap = (y: number): boolean => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
    const lengths = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    for (let y = 1970; y < 2200; y++) {
      for (let m = 1; m <= 12; m++) {
        const expected = m === 2 && leap(y) ? 29 : lengths[m - 1];
        expect(monthRange(`${y}-${String(m).padStart(2, '0')}`).days).toBe(expected);
      }
    }
  });

  it.each([
    '2025-1',
    '2025-13',
    '2025-00',
    '202501',
    ' 2025-01',
    '2025-01 ',
    'abcd-ef',
    '',
    '1969-12',
    '+2025-01',
  ])('rejects %p naming the month', (bad) => {
    expect(fieldOf(() => monthRange(bad))).toBe('month');
    expect(fieldOf(() => parseMonth(bad, 'from'))).toBe('from');
  });
});

describe('month helpers', () => {
  it.each([
    ['2025-01', -1, '2024-12'],
    ['2024-12', 1, '2025-01'],
    ['2024-03', -13, '2023-02'],
    ['2025-06', 0, '2025-06'],
    ['2025-06', -84, '2018-06'],
  ])('addMonths(%s, %i) = %s', (month, n, expected) => {
    expect(addMonths(month, n)).toBe(expected);
  });

  it('monthOf uses the UTC month', () => {
    expect(monthOf(at('2024-12-31T23:59:59.999Z'))).toBe('2024-12');
    expect(monthOf(at('2025-01-01T00:00:00.000Z'))).toBe('2025-01');
    expect(fieldOf(() => monthOf(new Date('nope')))).toBe('date');
  });

  it('history limits follow the documented per-dataset retention', () => {
    expect(HISTORY_LIMIT_MONTHS).toEqual({
      ActualCost: 84,
      AmortizedCost: 84,
      FocusCost: 84,
      Usage: 84,
      ReservationTransactions: 84,
      ReservationDetails: 13,
      ReservationRecommendations: 13,
      PriceSheet: 13,
    });
    expect(historyLimitMonths()).toBe(MAX_BACKFILL_MONTHS);
    expect(Object.keys(HISTORY_LIMIT_MONTHS).sort()).toEqual([...EXPORT_DATASETS].sort());
  });
});

describe('planBackfill', () => {
  it('plans the 12 complete months before the current one, newest first, by default', () => {
    const plan = planBackfill({ now: at('2025-03-15T10:00:00Z') });
    expect(plan).toEqual(planBackfill({ months: 12, now: at('2025-03-15T10:00:00Z') }));
    expect(months(plan)).toEqual([
      '2025-02',
      '2025-01',
      '2024-12',
      '2024-11',
      '2024-10',
      '2024-09',
      '2024-08',
      '2024-07',
      '2024-06',
      '2024-05',
      '2024-04',
      '2024-03',
    ]);
    expect(plan[0]).toEqual({ month: '2025-02', from: '2025-02-01T00:00:00Z', to: '2025-02-28T00:00:00Z' });
    expect(plan[11]).toEqual({ month: '2024-03', from: '2024-03-01T00:00:00Z', to: '2024-03-31T00:00:00Z' });
  });

  type Case = [string, Omit<BackfillPlanInput, 'now'>, string, BackfillWindow[]];
  const cases: Case[] = [
    [
      'months 1 across Dec→Jan at the first instant of the year',
      { months: 1 },
      '2025-01-01T00:00:00.000Z',
      [{ month: '2024-12', from: '2024-12-01T00:00:00Z', to: '2024-12-31T00:00:00Z' }],
    ],
    [
      'months 1 at the last instant of a month',
      { months: 1 },
      '2025-03-31T23:59:59.999Z',
      [{ month: '2025-02', from: '2025-02-01T00:00:00Z', to: '2025-02-28T00:00:00Z' }],
    ],
    [
      'leap February, oldest first',
      { months: 3, order: 'oldestFirst' },
      '2024-03-10T00:00:00Z',
      [
        { month: '2023-12', from: '2023-12-01T00:00:00Z', to: '2023-12-31T00:00:00Z' },
        { month: '2024-01', from: '2024-01-01T00:00:00Z', to: '2024-01-31T00:00:00Z' },
        { month: '2024-02', from: '2024-02-01T00:00:00Z', to: '2024-02-29T00:00:00Z' },
      ],
    ],
    [
      'from/to inclusive across a year end',
      { from: '2023-11', to: '2024-02' },
      '2025-06-01T00:00:00Z',
      [
        { month: '2024-02', from: '2024-02-01T00:00:00Z', to: '2024-02-29T00:00:00Z' },
        { month: '2024-01', from: '2024-01-01T00:00:00Z', to: '2024-01-31T00:00:00Z' },
        { month: '2023-12', from: '2023-12-01T00:00:00Z', to: '2023-12-31T00:00:00Z' },
        { month: '2023-11', from: '2023-11-01T00:00:00Z', to: '2023-11-30T00:00:00Z' },
      ],
    ],
    [
      'the current month ends yesterday',
      { from: '2025-02', to: '2025-03' },
      '2025-03-15T10:00:00Z',
      [
        { month: '2025-03', from: '2025-03-01T00:00:00Z', to: '2025-03-14T00:00:00Z' },
        { month: '2025-02', from: '2025-02-01T00:00:00Z', to: '2025-02-28T00:00:00Z' },
      ],
    ],
    [
      'the current month on day 2 covers day 1 only',
      { to: '2025-03' },
      '2025-03-02T00:00:00Z',
      [{ month: '2025-03', from: '2025-03-01T00:00:00Z', to: '2025-03-01T00:00:00Z' }],
    ],
    [
      'the current month on its last day ends the day before',
      { from: '2024-02' },
      '2024-02-29T23:00:00Z',
      [{ month: '2024-02', from: '2024-02-01T00:00:00Z', to: '2024-02-28T00:00:00Z' }],
    ],
    [
      'from alone is that single month',
      { from: '2024-07' },
      '2025-01-20T00:00:00Z',
      [{ month: '2024-07', from: '2024-07-01T00:00:00Z', to: '2024-07-31T00:00:00Z' }],
    ],
    [
      'to alone is that single month',
      { to: '2024-09' },
      '2025-01-20T00:00:00Z',
      [{ month: '2024-09', from: '2024-09-01T00:00:00Z', to: '2024-09-30T00:00:00Z' }],
    ],
    [
      'reservation details may reach 13 months back',
      { months: 13, dataset: 'ReservationDetails', order: 'oldestFirst' },
      '2025-01-05T00:00:00Z',
      monthsFrom('2023-12', 13),
    ],
  ];

  function monthsFrom(first: string, count: number): BackfillWindow[] {
    return Array.from({ length: count }, (_, i) => {
      const r = monthRange(addMonths(first, i));
      return { month: r.month, from: r.from, to: r.to };
    });
  }

  it.each(cases)('%s', (_name, input, now, expected) => {
    expect(planBackfill({ ...input, now: at(now) })).toEqual(expected);
  });

  it('plans 84 months, the whole cost history, reaching exactly 7 years back', () => {
    const plan = planBackfill({ months: 84, now: at('2025-06-10T00:00:00Z'), dataset: 'FocusCost' });
    expect(plan).toHaveLength(84);
    expect(plan[83]!.month).toBe('2018-06');
    expect(planBackfill({ from: '2018-06', to: '2025-06', now: at('2025-06-10T00:00:00Z') })).toHaveLength(
      85,
    );
  });

  type ErrorCase = [string, Record<string, unknown>, string, string];
  const now = '2025-03-15T10:00:00Z';
  const errors: ErrorCase[] = [
    ['months 0', { months: 0 }, now, 'months'],
    ['months negative', { months: -1 }, now, 'months'],
    ['months 85', { months: 85 }, now, 'months'],
    ['months fractional', { months: 1.5 }, now, 'months'],
    ['months NaN', { months: NaN }, now, 'months'],
    ['months as a string', { months: '12' }, now, 'months'],
    ['months with from', { months: 3, from: '2024-01' }, now, 'months'],
    ['months with to', { months: 3, to: '2024-01' }, now, 'months'],
    ['from after to', { from: '2024-05', to: '2024-04' }, now, 'from'],
    ['from badly formed', { from: '2024-5', to: '2024-06' }, now, 'from'],
    ['to badly formed', { from: '2024-05', to: '2024/06' }, now, 'to'],
    ['from not a string', { from: 202405 }, now, 'from'],
    ['to in the future', { from: '2025-01', to: '2025-04' }, now, 'to'],
    ['from alone in the future', { from: '2026-01' }, now, 'from'],
    ['the current month on its first day', { to: '2025-03' }, '2025-03-01T00:00:00Z', 'to'],
    ['the current month on its first day, late', { from: '2025-03' }, '2025-03-01T23:59:59.999Z', 'from'],
    ['cost data older than 7 years', { from: '2018-02', to: '2018-03' }, now, 'from'],
    ['price sheet older than 13 months', { from: '2024-01', dataset: 'PriceSheet' }, now, 'from'],
    [
      'reservation recommendations months 14',
      { months: 14, dataset: 'ReservationRecommendations' },
      now,
      'months',
    ],
    ['unknown dataset', { months: 2, dataset: 'Bogus' }, now, 'dataset'],
    ['unknown order', { months: 2, order: 'random' }, now, 'order'],
    ['months reaching before 1970', { months: 84 }, '1975-01-10T00:00:00Z', 'months'],
  ];

  it.each(errors)('refuses %s', (_name, input, nowText, field) => {
    expect(fieldOf(() => planBackfill({ ...input, now: at(nowText) }))).toBe(field);
  });

  it.each([[new Date('invalid')], ['2025-01-01'], [undefined], [1735689600000]])(
    'refuses now = %p',
    (bad) => {
      expect(fieldOf(() => planBackfill({ months: 1, now: bad } as unknown as BackfillPlanInput))).toBe(
        'now',
      );
    },
  );

  it('names the rule in the error message', () => {
    expect(() => planBackfill({ from: '2024-01', dataset: 'PriceSheet', now: at(now) })).toThrow(/13 months/);
    expect(() => planBackfill({ to: '2025-03', now: at('2025-03-01T08:00:00Z') })).toThrow(/no complete day/);
  });

  it('holds its invariants for random clocks and requests', () => {
    const random = mulberry32(20250101);
    for (let i = 0; i < 500; i++) {
      const clock = new Date(Date.UTC(1995, 0, 1) + Math.floor(random() * 60 * 365 * 86_400_000));
      const count = 1 + Math.floor(random() * MAX_BACKFILL_MONTHS);
      const plan = planBackfill({ months: count, now: clock, order: 'oldestFirst' });
      const current = monthOf(clock);
      expect(plan).toHaveLength(count);
      expect(plan[plan.length - 1]!.month).toBe(addMonths(current, -1));
      plan.forEach((w, k) => {
        const range = monthRange(w.month);
        expect(w.from).toBe(range.from);
        expect(w.to).toBe(range.to);
        if (k > 0) expect(w.month).toBe(addMonths(plan[k - 1]!.month, 1));
        expect(Date.parse(w.to)).toBeLessThan(clock.getTime());
      });
      // An explicit range through the current month ends yesterday, or is refused on day 1.
      const day = clock.getUTCDate();
      if (day === 1) {
        expect(fieldOf(() => planBackfill({ to: current, now: clock }))).toBe('to');
      } else {
        const [win] = planBackfill({ to: current, now: clock });
        const yesterday = new Date(Date.UTC(clock.getUTCFullYear(), clock.getUTCMonth(), day - 1));
        expect(win!.to).toBe(`${yesterday.toISOString().slice(0, 10)}T00:00:00Z`);
      }
    }
  });

  describe('outside UTC', () => {
    // Jest hands tests a copy of process.env, so TZ is changed where it works: in a child Node that
    // loads the module through tsx and switches zones between plans.
    const clocks = [
      '2025-01-01T00:30:00Z', // still Dec 31 west of UTC
      '2024-12-31T20:00:00Z', // already Jan 1 east of UTC
      '2024-03-01T05:00:00Z',
      '2024-02-29T23:30:00Z',
      '2025-03-30T01:30:00Z', // around a DST change
    ];
    const requests: Omit<BackfillPlanInput, 'now'>[] = [
      { months: 3 },
      { from: '2023-10', to: '2023-12' },
      { to: '2024-12' },
      { to: '2025-01' },
    ];
    const zones = ['UTC', 'America/Los_Angeles', 'Pacific/Kiritimati', 'Asia/Kolkata', 'Pacific/Pago_Pago'];

    function planAll(): unknown[] {
      return clocks.map((c) =>
        requests.map((r) => {
          try {
            return planBackfill({ ...r, now: new Date(c) });
          } catch (e) {
            return { error: (e as BackfillPlanError).field };
          }
        }),
      );
    }

    it('plans identically in every time zone', () => {
      const modulePath = path.resolve(__dirname, '../../src/domain/backfillPlan.ts');
      const script = `
        const { planBackfill } = require(${JSON.stringify(modulePath)});
        const clocks = ${JSON.stringify(clocks)}, requests = ${JSON.stringify(requests)};
        const out = {};
        for (const zone of ${JSON.stringify(zones)}) {
          process.env.TZ = zone;
          out[zone] = {
            offset: new Date(Date.UTC(2025, 0, 1)).getTimezoneOffset(),
            plans: clocks.map((c) => requests.map((r) => {
              try { return planBackfill({ ...r, now: new Date(c) }); }
              catch (e) { return { error: e.field }; }
            })),
          };
        }
        process.stdout.write(JSON.stringify(out));`;
      const child = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], {
        cwd: path.resolve(__dirname, '../..'),
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(child.stderr).toBe('');
      const result = JSON.parse(child.stdout) as Record<string, { offset: number; plans: unknown[] }>;
      const expected = planAll();
      expect(result.UTC!.offset).toBe(0);
      for (const zone of zones.slice(1)) {
        expect(result[zone]!.offset).not.toBe(0);
        expect(result[zone]!.plans).toEqual(expected);
      }
      // And the UTC answers themselves, for the clocks where local calendars disagree with UTC.
      expect(months(planBackfill({ months: 1, now: at('2025-01-01T00:30:00Z') }))).toEqual(['2024-12']);
      expect(planBackfill({ to: '2024-12', now: at('2024-12-31T20:00:00Z') })[0]!.to).toBe(
        '2024-12-30T00:00:00Z',
      );
      expect(fieldOf(() => planBackfill({ to: '2025-01', now: at('2024-12-31T20:00:00Z') }))).toBe('to');
    });
  });
});

describe('backfillExportName', () => {
  it.each([
    ['ActualCost', '2025-01', undefined, 'cea-bf-actualcost-202501'],
    ['FocusCost', '2024-12', undefined, 'cea-bf-focuscost-202412'],
    ['ReservationRecommendations', '2024-02', undefined, 'cea-bf-reservationrecommendations-202402'],
    ['AmortizedCost', '2019-07', 'acme_bf', 'acme_bf-amortizedcost-201907'],
    ['PriceSheet', '2025-03', 'X', 'X-pricesheet-202503'],
  ] as [ExportDataset, string, string | undefined, string][])(
    '(%s, %s, %p) = %s',
    (dataset, month, prefix, name) => {
      expect(backfillExportName(dataset, month, prefix)).toBe(name);
      expect(parseBackfillExportName(name, prefix)).toEqual({ dataset, month });
    },
  );

  it('is valid, unique and reversible for every dataset and month of the history window', () => {
    const names = new Set<string>();
    for (const dataset of EXPORT_DATASETS) {
      for (let i = 0; i <= 84; i++) {
        const month = addMonths('2025-06', -i);
        const name = backfillExportName(dataset, month);
        expect(name).toMatch(EXPORT_NAME_PATTERN);
        expect(name.length).toBeLessThanOrEqual(64);
        expect(parseBackfillExportName(name)).toEqual({ dataset, month });
        expect(parseBackfillExportName(name.toUpperCase())).toEqual({ dataset, month });
        names.add(name);
      }
    }
    expect(names.size).toBe(EXPORT_DATASETS.length * 85);
  });

  it.each([
    ['Bogus', '2025-01', undefined, 'dataset'],
    ['ActualCost', '2025-13', undefined, 'month'],
    ['ActualCost', '2025-01', '1abc', 'prefix'],
    ['ActualCost', '2025-01', 'a b', 'prefix'],
    ['ActualCost', '2025-01', 'a/b', 'prefix'],
    ['ActualCost', '2025-01', '', 'prefix'],
    ['ReservationRecommendations', '2025-01', 'p'.repeat(31), 'prefix'],
  ])('refuses (%s, %s, %p) naming %s', (dataset, month, prefix, field) => {
    expect(fieldOf(() => backfillExportName(dataset as ExportDataset, month, prefix))).toBe(field);
  });

  it.each([
    'contoso-focus-daily',
    'cea-bf-actualcost-2025',
    'cea-bf-bogus-202501',
    'cea-bf-actualcost-202513',
    '',
  ])('does not claim %p as a backfill export', (name) => {
    expect(parseBackfillExportName(name)).toBeUndefined();
  });
});

describe('backfillInstanceId', () => {
  const scope = 'providers|Microsoft.Billing|billingAccounts|8611537';
  const id = backfillInstanceId(scope, ['ActualCost', 'FocusCost'], ['2024-01', '2024-02', '2024-03']);

  it('is readable, short and safe as a Durable instance id and table key', () => {
    expect(id).toMatch(/^bf-202401-202403-[0-9a-f]{32}$/);
    expect(id.length).toBeLessThanOrEqual(100);
  });

  it('ignores order, repeats and dataset casing', () => {
    expect(backfillInstanceId(scope, ['FocusCost', 'ActualCost'], ['2024-03', '2024-01', '2024-02'])).toBe(
      id,
    );
    expect(
      backfillInstanceId(
        scope,
        ['focuscost' as ExportDataset, 'ActualCost', 'FocusCost'],
        ['2024-02', '2024-01', '2024-03', '2024-01'],
      ),
    ).toBe(id);
  });

  it.each([
    [
      'another scope',
      'subscriptions|52da6baa-c097-47f7-87d6-66f25eceeb81',
      ['ActualCost', 'FocusCost'],
      ['2024-01', '2024-02', '2024-03'],
    ],
    ['another dataset set', scope, ['ActualCost'], ['2024-01', '2024-02', '2024-03']],
    ['a month less', scope, ['ActualCost', 'FocusCost'], ['2024-01', '2024-03']],
    ['a shifted period', scope, ['ActualCost', 'FocusCost'], ['2024-02', '2024-03', '2024-04']],
  ] as [string, string, ExportDataset[], string[]][])('changes with %s', (_name, s, ds, ms) => {
    expect(backfillInstanceId(s, ds, ms)).not.toBe(id);
  });

  it.each([
    ['', ['ActualCost'], ['2024-01'], 'scopeKey'],
    ['  ', ['ActualCost'], ['2024-01'], 'scopeKey'],
    ['a\nb', ['ActualCost'], ['2024-01'], 'scopeKey'],
    [scope, [], ['2024-01'], 'datasets'],
    [scope, ['Nope'], ['2024-01'], 'datasets[0]'],
    [scope, ['ActualCost'], [], 'months'],
    [scope, ['ActualCost'], ['2024-01', '2024-1'], 'months[1]'],
  ])('refuses (%p, %p, %p) naming %s', (s, ds, ms, field) => {
    expect(fieldOf(() => backfillInstanceId(s, ds as ExportDataset[], ms))).toBe(field);
  });
});
