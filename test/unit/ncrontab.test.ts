import { nextOccurrence, parseNcrontab } from '../../dev/host/ncrontab';

const at = (iso: string) => new Date(iso);

describe('nextOccurrence (UTC)', () => {
  test.each([
    // expression, after, expected next
    ['0 0 2 * * *', '2025-03-10T01:59:59Z', '2025-03-10T02:00:00Z'],
    ['0 0 2 * * *', '2025-03-10T02:00:00Z', '2025-03-11T02:00:00Z'], // strictly after
    ['*/15 * * * * *', '2025-03-10T10:00:07.500Z', '2025-03-10T10:00:15Z'],
    ['0 */5 * * * *', '2025-03-10T10:58:00Z', '2025-03-10T11:00:00Z'],
    ['0 5-10/2 * * * *', '2025-03-10T10:06:00Z', '2025-03-10T10:07:00Z'],
    ['0 5-10/2 * * * *', '2025-03-10T10:09:00Z', '2025-03-10T11:05:00Z'],
    ['10/20 * * * * *', '2025-03-10T10:00:31Z', '2025-03-10T10:00:50Z'], // a/n: from a to 59
    ['0 0 8,12,18 * * *', '2025-03-10T12:30:00Z', '2025-03-10T18:00:00Z'],
    ['0 30 9 * * 1-5', '2025-03-14T09:30:00Z', '2025-03-17T09:30:00Z'], // Fri → Mon
    ['0 30 9 * * Mon-Fri', '2025-03-15T00:00:00Z', '2025-03-17T09:30:00Z'],
    ['0 0 0 * * sun', '2025-03-10T00:00:00Z', '2025-03-16T00:00:00Z'],
    ['0 0 0 1 * *', '2025-01-31T23:00:00Z', '2025-02-01T00:00:00Z'],
    ['0 0 0 31 * *', '2025-04-01T00:00:00Z', '2025-05-31T00:00:00Z'], // skips 30-day April
    ['0 0 0 29 2 *', '2025-03-01T00:00:00Z', '2028-02-29T00:00:00Z'], // leap years only
    ['0 0 6 1 Jan,Jul *', '2025-02-01T00:00:00Z', '2025-07-01T06:00:00Z'],
    ['0 0 0 1-7 * 1', '2025-03-01T00:00:00Z', '2025-03-03T00:00:00Z'], // day AND weekday (first Monday)
    ['0 0 0 1-7 * 1', '2025-03-03T00:00:00Z', '2025-04-07T00:00:00Z'],
    ['59 59 23 31 12 *', '2025-12-31T23:59:58Z', '2025-12-31T23:59:59Z'],
    ['59 59 23 31 12 *', '2025-12-31T23:59:59Z', '2026-12-31T23:59:59Z'], // year rollover
    ['0 0 * * * *', '2025-03-30T00:30:00Z', '2025-03-30T01:00:00Z'], // EU DST night: plain UTC hours
    ['30 2 * * *', '2025-03-10T03:00:00Z', '2025-03-11T02:30:00Z'], // five fields: seconds = 0
  ])('%s after %s → %s', (expression, after, expected) => {
    expect(nextOccurrence(expression, at(after)).toISOString()).toBe(at(expected).toISOString());
  });

  test('repeated application walks the schedule in order', () => {
    const schedule = parseNcrontab('0 0 */6 * * *');
    const runs: string[] = [];
    let t = at('2025-01-01T00:00:00Z');
    for (let i = 0; i < 5; i++) {
      t = nextOccurrence(schedule, t);
      runs.push(t.toISOString().slice(11, 16));
    }
    expect(runs).toEqual(['06:00', '12:00', '18:00', '00:00', '06:00']);
  });
});

describe('parseNcrontab', () => {
  test('expands every field form', () => {
    const s = parseNcrontab('*/20 1,2,3 4-6 10-20/5 Feb-Apr sat');
    expect([...s.seconds]).toEqual([0, 20, 40]);
    expect([...s.minutes]).toEqual([1, 2, 3]);
    expect([...s.hours]).toEqual([4, 5, 6]);
    expect([...s.days]).toEqual([10, 15, 20]);
    expect([...s.months]).toEqual([2, 3, 4]);
    expect([...s.daysOfWeek]).toEqual([6]);
  });

  test.each([
    ['', /empty/],
    ['* * * *', /expected six fields.*got 4/],
    ['60 * * * * *', /field second "60": 60 is outside 0-59/],
    ['0 61 * * * *', /field minute "61"/],
    ['0 0 24 * * *', /field hour "24"/],
    ['0 0 0 0 * *', /field day "0": 0 is outside 1-31/],
    ['0 0 0 * 13 *', /field month "13"/],
    ['0 0 0 * Foo *', /field month "Foo": "Foo" is not a number or a month name/],
    ['0 0 0 * * 7', /field day-of-week "7": 7 is outside 0-6/],
    ['0 0 0 * * Funday', /field day-of-week "Funday"/],
    ['*/0 * * * * *', /field second "\*\/0": step must be at least 1/],
    ['*/x * * * * *', /field second "\*\/x": step "x"/],
    ['0 10-5 * * * *', /field minute "10-5": range 10-5 runs backwards/],
    ['0 1,,2 * * * *', /field minute "1,,2": empty list item/],
    ['0 0 0 30 2 *', /field day: no allowed month has day 30/],
  ])('%j is refused naming the field', (expression, message) => {
    expect(() => parseNcrontab(expression)).toThrow(message);
  });
});
