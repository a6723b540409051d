// The recurrence of an export: status, recurrence, and the period it runs in (a Custom export with no
// schedule is a one-time export, run on demand).
import { isRecord } from '../../domain/json';
import { type ExportScheduleBody, RECURRENCES, SCHEDULE_STATUSES, type Timeframe } from '../exportModels';
import { oneOf, type Problems } from './problems';
import { parseDateInput } from './timePeriod';

/** Checks `schedule`; with none, a Custom timeframe gets `{ status: Inactive }`. */
export function buildSchedule(
  problems: Problems,
  value: unknown,
  timeframe: Timeframe | undefined,
): ExportScheduleBody | undefined {
  if (value === undefined) return timeframe === 'Custom' ? { status: 'Inactive' } : undefined;
  if (!isRecord(value)) {
    problems.add('schedule', 'expected { status, recurrence?, recurrencePeriod? }');
    return undefined;
  }
  const schedule: ExportScheduleBody = {};
  const status = oneOf(problems, 'schedule.status', value.status, SCHEDULE_STATUSES);
  if (status) schedule.status = status;
  if (value.recurrence !== undefined) {
    const recurrence = oneOf(problems, 'schedule.recurrence', value.recurrence, RECURRENCES);
    if (recurrence) schedule.recurrence = recurrence;
  } else if (status === 'Active') {
    problems.add('schedule.recurrence', 'required when schedule.status is Active');
  }
  if (value.recurrencePeriod !== undefined) {
    const period = isRecord(value.recurrencePeriod) ? value.recurrencePeriod : {};
    const from = parseDateInput(problems, 'schedule.recurrencePeriod.from', period.from);
    const to =
      period.to === undefined
        ? undefined
        : parseDateInput(problems, 'schedule.recurrencePeriod.to', period.to);
    if (from && to && to.getTime() <= from.getTime()) {
      problems.add('schedule.recurrencePeriod.to', 'must be after schedule.recurrencePeriod.from');
    } else if (from) {
      schedule.recurrencePeriod = { from: from.toISOString(), ...(to ? { to: to.toISOString() } : {}) };
    }
  } else if (status === 'Active') {
    problems.add(
      'schedule.recurrencePeriod',
      'required when schedule.status is Active (its from is the first run)',
    );
  }
  return schedule;
}
