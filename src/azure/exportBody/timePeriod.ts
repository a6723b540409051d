// Dates and time periods of an export: a Custom timeframe's period, a run request's period, and a
// schedule's recurrence dates, all read from DateInput and sent in the service's ISO form.
import { isRecord } from '../../domain/json';
import type { ExportRunRequest, ExportTimePeriod } from '../exportModels';
import { ExportBodyError, Problems, type ProblemSink } from './problems';

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2})$/;

/** Parses a DateInput to a UTC Date, or records why it cannot. */
export function parseDateInput(problems: ProblemSink, field: string, value: unknown): Date | undefined {
  let date: Date | undefined;
  if (value instanceof Date) date = value;
  else if (typeof value === 'string' && DATE_ONLY.test(value)) date = new Date(`${value}T00:00:00Z`);
  else if (typeof value === 'string' && DATE_TIME.test(value)) date = new Date(value);
  if (!date || Number.isNaN(date.getTime())) {
    problems.add(
      field,
      `expected a date (YYYY-MM-DD) or an ISO 8601 date-time with zone, got ${JSON.stringify(value)}`,
    );
    return undefined;
  }
  // `2024-02-30` parses to 1 March; refuse rather than silently move a month boundary.
  if (typeof value === 'string' && DATE_ONLY.test(value) && date.toISOString().slice(0, 10) !== value) {
    problems.add(field, `${value} is not a calendar date`);
    return undefined;
  }
  return date;
}

/** `date` plus one calendar month, the day clamped to the target month's length (31 Jan → 29 Feb). */
export function addOneCalendarMonth(date: Date): Date {
  const y = date.getUTCFullYear();
  const m = date.getUTCMonth() + 1;
  const lastDay = new Date(Date.UTC(y, m + 1, 0)).getUTCDate();
  const result = new Date(date.getTime());
  result.setUTCFullYear(y, m, Math.min(date.getUTCDate(), lastDay));
  return result;
}

/**
 * Validates a Custom (or run-request) time period: `from` ≤ `to`, and the range no longer than one
 * calendar month as the 2025-03-01 spec says. Our reading: `to` must fall before the same day of
 * the next month (inclusive end dates, as the service uses: 1 Jan – 31 Jan is a month; to 1 Feb is
 * one day over). Returns the period in the service's ISO form.
 */
export function validateTimePeriod(
  value: unknown,
  field = 'timePeriod',
  problems: ProblemSink = new Problems(),
): ExportTimePeriod | undefined {
  if (!isRecord(value)) {
    problems.add(field, 'expected { from, to }');
    return undefined;
  }
  const from = parseDateInput(problems, `${field}.from`, value.from);
  const to = parseDateInput(problems, `${field}.to`, value.to);
  if (!from || !to) return undefined;
  if (to.getTime() < from.getTime()) {
    problems.add(`${field}.to`, `must not be before ${field}.from (${from.toISOString()})`);
    return undefined;
  }
  if (to.getTime() >= addOneCalendarMonth(from).getTime()) {
    problems.add(
      field,
      `spans more than one calendar month (${from.toISOString()} to ${to.toISOString()}); split it into monthly runs`,
    );
    return undefined;
  }
  return { from: from.toISOString(), to: to.toISOString() };
}

/** Validates a run request's optional time period, throwing ExportBodyError naming the field. */
export function buildRunRequest(timePeriod: unknown): ExportRunRequest | undefined {
  if (timePeriod === undefined) return undefined;
  const problems = new Problems();
  const period = validateTimePeriod(timePeriod, 'timePeriod', problems);
  if (!period) throw new ExportBodyError(problems.list);
  return { timePeriod: period };
}
