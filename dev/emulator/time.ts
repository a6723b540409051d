// Time in the emulator: the virtual clock, the period a run covers (timeframes, the one-month rule)
// and the schedule's next run estimate. All UTC.
import { ArmError, type ExportPropertiesInput, type TimePeriodInput } from './validation';

/** The emulator's clock: real time plus an offset that can be set or advanced. */
export class VirtualClock {
  constructor(private offsetMs = 0) {}

  now(): number {
    return Date.now() + this.offsetMs;
  }

  set(at: Date | number): void {
    this.offsetMs = (typeof at === 'number' ? at : at.getTime()) - Date.now();
  }

  advance(ms: number): void {
    this.offsetMs += ms;
  }

  getOffsetMs(): number {
    return this.offsetMs;
  }

  setOffsetMs(ms: number): void {
    this.offsetMs = ms;
  }
}

export const DAY = 86_400_000;

export function utcDay(ms: number): Date {
  const d = new Date(ms);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
}

/** The period a run covers when it is given no body: the export's Custom period, or its timeframe
 * resolved against `now` (UTC). BillingMonth timeframes use calendar months (the emulator has no
 * billing calendar); weeks start on Monday. */
export function resolveTimeframe(
  def: ExportPropertiesInput['definition'],
  now: number,
): { from: Date; to: Date } {
  const today = utcDay(now);
  const y = today.getUTCFullYear();
  const m = today.getUTCMonth();
  switch (def.timeframe.toLowerCase()) {
    case 'custom':
      return { from: utcDay(Date.parse(def.timePeriod!.from)), to: utcDay(Date.parse(def.timePeriod!.to)) };
    case 'monthtodate':
    case 'billingmonthtodate':
      return { from: new Date(Date.UTC(y, m, 1)), to: today };
    case 'thecurrentmonth':
      return { from: new Date(Date.UTC(y, m, 1)), to: new Date(Date.UTC(y, m, daysInMonth(y, m))) };
    case 'thelastmonth':
    case 'thelastbillingmonth':
      return { from: new Date(Date.UTC(y, m - 1, 1)), to: new Date(Date.UTC(y, m, 0)) };
    case 'weektodate': {
      const sinceMonday = (today.getUTCDay() + 6) % 7;
      return { from: new Date(today.getTime() - sinceMonday * DAY), to: today };
    }
    default:
      throw new ArmError(400, 'BadRequest', `Unsupported timeframe '${def.timeframe}'.`);
  }
}

/** Rules for a run's period: from <= to, `to` not in the future, at most one calendar month
 * (inclusive day count no larger than the number of days in the month of `from`). */
export function checkRunPeriod(from: Date, to: Date, now: number): void {
  const bad = (message: string) => new ArmError(400, 'BadRequest', message);
  if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) throw bad('Invalid time period provided.');
  if (from.getTime() > to.getTime())
    throw bad("Invalid time period provided: 'from' must not be after 'to'.");
  if (to.getTime() > now) {
    // finops-toolkit#988, #1611 quote the service.
    throw bad(
      "Request properties validation failed: Invalid definition timePeriod; 'to' value cannot be in the future.",
    );
  }
  const days = Math.round((to.getTime() - from.getTime()) / DAY) + 1;
  const limit = daysInMonth(from.getUTCFullYear(), from.getUTCMonth());
  if (days > limit) {
    throw bad(
      `Invalid time period provided: the period spans ${days} days; the maximum date range is 1 calendar month.`,
    );
  }
}

export function parsePeriod(period: TimePeriodInput): { from: Date; to: Date } {
  return { from: utcDay(Date.parse(period.from)), to: utcDay(Date.parse(period.to)) };
}

export function monthsOf(from: Date, to: Date): string[] {
  const out: string[] = [];
  let y = from.getUTCFullYear();
  let m = from.getUTCMonth();
  while (y < to.getUTCFullYear() || (y === to.getUTCFullYear() && m <= to.getUTCMonth())) {
    out.push(`${y}-${String(m + 1).padStart(2, '0')}`);
    m += 1;
    if (m === 12) {
      m = 0;
      y += 1;
    }
  }
  return out;
}

/** The next scheduled run: occurrences at 23:00 UTC from the recurrence start, every
 * day/week/month/year (the examples show a Daily schedule from 2023-06-01 estimated at 23:00). */
export function nextRunTimeEstimate(props: ExportPropertiesInput, now: number): Date | undefined {
  const s = props.schedule;
  if (!s || s.status?.toLowerCase() !== 'active' || !s.recurrence || !s.recurrencePeriod) return undefined;
  const start = utcDay(Date.parse(s.recurrencePeriod.from));
  const end = s.recurrencePeriod.to ? Date.parse(s.recurrencePeriod.to) : Infinity;
  const occurrence = (k: number): Date => {
    const d = new Date(start);
    switch (s.recurrence!.toLowerCase()) {
      case 'weekly':
        d.setUTCDate(d.getUTCDate() + 7 * k);
        break;
      case 'monthly':
        d.setUTCMonth(d.getUTCMonth() + k);
        break;
      case 'annually':
        d.setUTCFullYear(d.getUTCFullYear() + k);
        break;
      default:
        d.setUTCDate(d.getUTCDate() + k);
    }
    d.setUTCHours(23);
    return d;
  };
  let k = 0;
  const stepDays = { weekly: 7, monthly: 28, annually: 365 }[s.recurrence.toLowerCase()] ?? 1;
  if (now > start.getTime()) k = Math.max(0, Math.floor((now - start.getTime()) / (stepDays * DAY)) - 1);
  let next = occurrence(k);
  while (next.getTime() <= now) next = occurrence(++k);
  return next.getTime() <= end ? next : undefined;
}

export function isoSeconds(ms: number | Date): string {
  const d = typeof ms === 'number' ? new Date(ms) : ms;
  return d.toISOString().replace('.000Z', 'Z');
}
