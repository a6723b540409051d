// NCRONTAB, the schedule format of Azure Functions timer triggers:
//   {second} {minute} {hour} {day} {month} {day-of-week}
// Each field takes `*`, a value, a range `a-b`, a list `a,b-c`, and steps `*/n`, `a-b/n` or `a/n`
// (from a to the field's maximum). Months take Jan..Dec and days of week Sun..Sat (case-insensitive);
// day-of-week is 0-6 with Sunday = 0. As in the NCrontab library the host uses, day-of-month and
// day-of-week must BOTH match (unlike Vixie cron's "either"). A five-field expression (no seconds)
// is accepted as second 0. All arithmetic is UTC: no DST, which is what WEBSITE_TIME_ZONE-less
// Azure does too.

export interface NcrontabSchedule {
  expression: string;
  seconds: ReadonlySet<number>;
  minutes: ReadonlySet<number>;
  hours: ReadonlySet<number>;
  days: ReadonlySet<number>;
  months: ReadonlySet<number>;
  daysOfWeek: ReadonlySet<number>;
}

interface FieldSpec {
  name: keyof Omit<NcrontabSchedule, 'expression'>;
  label: string;
  min: number;
  max: number;
  names?: readonly string[];
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

const FIELDS: readonly FieldSpec[] = [
  { name: 'seconds', label: 'second', min: 0, max: 59 },
  { name: 'minutes', label: 'minute', min: 0, max: 59 },
  { name: 'hours', label: 'hour', min: 0, max: 23 },
  { name: 'days', label: 'day', min: 1, max: 31 },
  { name: 'months', label: 'month', min: 1, max: 12, names: MONTHS },
  { name: 'daysOfWeek', label: 'day-of-week', min: 0, max: 6, names: DAYS },
];

export class NcrontabError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NcrontabError';
  }
}

export function parseNcrontab(expression: string): NcrontabSchedule {
  if (typeof expression !== 'string' || expression.trim() === '') {
    throw new NcrontabError('NCRONTAB expression: expected six space-separated fields, got an empty value');
  }
  let parts = expression.trim().split(/\s+/);
  if (parts.length === 5) parts = ['0', ...parts];
  if (parts.length !== 6) {
    throw new NcrontabError(
      `NCRONTAB expression "${expression}": expected six fields ({second} {minute} {hour} {day} {month} {day-of-week}), got ${parts.length}`,
    );
  }
  const result: Partial<NcrontabSchedule> = { expression };
  FIELDS.forEach((spec, i) => {
    (result as Record<string, unknown>)[spec.name] = parseField(parts[i]!, spec, expression);
  });
  const schedule = result as NcrontabSchedule;
  // A day that no allowed month has (e.g. 30 or 31 in February only) never fires: say so now.
  const longest = Math.max(...[...schedule.months].map((m) => daysInMonth(2024, m)));
  if (Math.min(...schedule.days) > longest) {
    throw new NcrontabError(
      `NCRONTAB expression "${expression}": field day: no allowed month has day ${Math.min(...schedule.days)}`,
    );
  }
  return schedule;
}

function parseField(text: string, spec: FieldSpec, expression: string): Set<number> {
  const fail = (why: string): never => {
    throw new NcrontabError(`NCRONTAB expression "${expression}": field ${spec.label} "${text}": ${why}`);
  };
  const values = new Set<number>();
  for (const item of text.split(',')) {
    if (item === '') fail('empty list item');
    const [rangeText, stepText, extra] = item.split('/');
    if (extra !== undefined) fail('more than one "/"');
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText)) fail(`step "${stepText}" is not a positive integer`);
      step = Number(stepText);
      if (step < 1) fail('step must be at least 1');
    }
    let from: number;
    let to: number;
    if (rangeText === '*') {
      from = spec.min;
      to = spec.max;
    } else if (rangeText!.includes('-')) {
      const [a, b, more] = rangeText!.split('-');
      if (more !== undefined) fail(`"${rangeText}" is not a range`);
      from = parseValue(a!, spec, fail);
      to = parseValue(b!, spec, fail);
      if (from > to) fail(`range ${from}-${to} runs backwards`);
    } else {
      from = parseValue(rangeText!, spec, fail);
      // `a/n` means every n from a up to the field's maximum.
      to = stepText !== undefined ? spec.max : from;
    }
    for (let v = from; v <= to; v += step) values.add(v);
  }
  return values;
}

function parseValue(text: string, spec: FieldSpec, fail: (why: string) => never): number {
  const byName = spec.names?.indexOf(text.toLowerCase()) ?? -1;
  if (byName >= 0) return byName + (spec.label === 'month' ? 1 : 0);
  if (!/^\d+$/.test(text)) {
    fail(
      `"${text}" is not a number${spec.names ? ` or a ${spec.label} name (${spec.names.join(', ')})` : ''}`,
    );
  }
  const value = Number(text);
  if (value < spec.min || value > spec.max) fail(`${value} is outside ${spec.min}-${spec.max}`);
  return value;
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function firstAtLeast(set: ReadonlySet<number>, value: number, max: number): number | undefined {
  for (let v = value; v <= max; v++) if (set.has(v)) return v;
  return undefined;
}

/** The first occurrence strictly after `after` (UTC, whole seconds). Throws if none within 50 years. */
export function nextOccurrence(schedule: NcrontabSchedule | string, after: Date): Date {
  const s = typeof schedule === 'string' ? parseNcrontab(schedule) : schedule;
  const start = Math.floor(after.getTime() / 1000) * 1000 + 1000;
  let t = new Date(start);
  const limitYear = t.getUTCFullYear() + 50;
  for (;;) {
    const year = t.getUTCFullYear();
    if (year > limitYear) throw new NcrontabError(`NCRONTAB expression "${s.expression}" never occurs`);
    const month = t.getUTCMonth() + 1;
    if (!s.months.has(month)) {
      const next = firstAtLeast(s.months, month + 1, 12);
      t = next === undefined ? utc(year + 1, 1, 1) : utc(year, next, 1);
      continue;
    }
    const day = t.getUTCDate();
    if (!s.days.has(day) || !s.daysOfWeek.has(t.getUTCDay())) {
      t = day >= daysInMonth(year, month) ? utc(year, month + 1, 1) : utc(year, month, day + 1);
      continue;
    }
    const hour = t.getUTCHours();
    if (!s.hours.has(hour)) {
      const next = firstAtLeast(s.hours, hour + 1, 23);
      t = next === undefined ? utc(year, month, day + 1) : utc(year, month, day, next);
      continue;
    }
    const minute = t.getUTCMinutes();
    if (!s.minutes.has(minute)) {
      const next = firstAtLeast(s.minutes, minute + 1, 59);
      t = next === undefined ? utc(year, month, day, hour + 1) : utc(year, month, day, hour, next);
      continue;
    }
    const second = t.getUTCSeconds();
    if (!s.seconds.has(second)) {
      const next = firstAtLeast(s.seconds, second + 1, 59);
      t =
        next === undefined
          ? utc(year, month, day, hour, minute + 1)
          : utc(year, month, day, hour, minute, next);
      continue;
    }
    return t;
  }
}

// Date.UTC normalises overflow (day 32 → next month), which the search relies on.
function utc(year: number, month: number, day: number, hour = 0, minute = 0, second = 0): Date {
  return new Date(Date.UTC(year, month - 1, day, hour, minute, second));
}
