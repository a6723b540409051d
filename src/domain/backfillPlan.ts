// Calendar months → one-month Custom export time periods, plus the deterministic names and ids a
// backfill needs. Pure: the clock is an argument and every date computation is UTC, so the plan is
// the same on any machine, in any time zone, on every durable replay.
import { createHash } from 'node:crypto';

import { EXPORT_DATASETS, type ExportDataset } from './scope';

export type BackfillOrder = 'newestFirst' | 'oldestFirst';

/** One Custom export run: `from`/`to` go verbatim into `definition.timePeriod` (or the run body). */
export interface BackfillWindow {
  /** Billing month, `YYYY-MM`. */
  month: string;
  /** First day of the month, `YYYY-MM-DDT00:00:00Z`. */
  from: string;
  /** Last day covered (the month's last day, or yesterday for the current month), `YYYY-MM-DDT00:00:00Z`. */
  to: string;
}

export interface BackfillPlanInput {
  /** How many complete months before the current one (1–84). Default 12 when no from/to is given. */
  months?: number;
  /** First month, `YYYY-MM`, inclusive. Alone it means that single month. */
  from?: string;
  /** Last month, `YYYY-MM`, inclusive. Alone it means that single month. */
  to?: string;
  /** The clock; only its UTC calendar date matters. */
  now: Date;
  /** Default `newestFirst`, like the FinOps toolkit (recent months matter most if the run stops). */
  order?: BackfillOrder;
  /** Applies the dataset's history limit; without it the cost-data limit (84 months) applies. */
  dataset?: ExportDataset;
}

export class BackfillPlanError extends Error {
  constructor(
    /** The input field at fault: `months`, `from`, `to`, `now`, `order`, `dataset`, `month`, ... */
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'BackfillPlanError';
  }
}

export const DEFAULT_BACKFILL_MONTHS = 12;
/** Seven years: the longest history Cost Management exports for any dataset. */
export const MAX_BACKFILL_MONTHS = 84;

/** How many complete months before the current one each dataset can still export (Microsoft Learn,
 * "improved exports" FAQ: cost and usage and reservation transactions 7 years; reservation
 * recommendations/details 13 months; prices 13 months for MCA/MPA, 25 for EA from Dec 2022 — we
 * take the smaller so no agreement type asks for data Azure does not keep). Whether "13 months"
 * counts the current month is not documented; a month beyond the real limit comes back from Azure
 * as DataNotAvailable, which the orchestration records. */
export const HISTORY_LIMIT_MONTHS: Readonly<Record<ExportDataset, number>> = {
  ActualCost: 84,
  AmortizedCost: 84,
  FocusCost: 84,
  Usage: 84,
  ReservationTransactions: 84,
  ReservationDetails: 13,
  ReservationRecommendations: 13,
  PriceSheet: 13,
};

const MONTH = /^(\d{4})-(0[1-9]|1[0-2])$/;

/** Month as a single integer (year * 12 + zero-based month) so arithmetic never touches Date. */
function monthIndexOf(month: string, field: string): number {
  if (typeof month !== 'string') throw new BackfillPlanError(field, `${field} must be a YYYY-MM string`);
  const m = MONTH.exec(month);
  if (!m) throw new BackfillPlanError(field, `${field} "${clip(month)}" is not a month in YYYY-MM form`);
  const year = Number(m[1]);
  if (year < 1970) throw new BackfillPlanError(field, `${field} "${month}" is before 1970`);
  return year * 12 + Number(m[2]) - 1;
}

function monthFromIndex(index: number): string {
  const year = Math.floor(index / 12);
  return `${pad(year, 4)}-${pad((index % 12) + 1, 2)}`;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

/** `YYYY-MM-DDT00:00:00Z` for a UTC calendar day: the form of the spec's own Custom examples
 * (`2020-06-01T00:00:00Z` .. `2020-06-30T00:00:00Z`) and of the toolkit's `yyyy-MM-ddTHH:mm:ssZ`.
 * Exports work in whole days, so `to` is midnight of the last day covered (as `runInfo.endDate` in
 * real manifests), not 23:59:59 or the next month's first day, which would spill into a second month. */
function timePeriodDate(year: number, monthZeroBased: number, day: number): string {
  return `${pad(year, 4)}-${pad(monthZeroBased + 1, 2)}-${pad(day, 2)}T00:00:00Z`;
}

function daysInMonth(year: number, monthZeroBased: number): number {
  return new Date(Date.UTC(year, monthZeroBased + 1, 0)).getUTCDate();
}

/** The UTC billing month a moment falls in, `YYYY-MM`. */
export function monthOf(date: Date): string {
  if (!(date instanceof Date) || !Number.isFinite(date.getTime()))
    throw new BackfillPlanError('date', 'date must be a valid Date');
  return `${pad(date.getUTCFullYear(), 4)}-${pad(date.getUTCMonth() + 1, 2)}`;
}

/** Validates `YYYY-MM` and returns it; `field` names the input in the error. */
export function parseMonth(text: string, field = 'month'): string {
  return monthFromIndex(monthIndexOf(text, field));
}

/** `month` shifted by `n` months (negative goes back). */
export function addMonths(month: string, n: number): string {
  if (!Number.isInteger(n)) throw new BackfillPlanError('n', 'n must be an integer');
  const index = monthIndexOf(month, 'month') + n;
  if (index < 1970 * 12 || index > 9999 * 12 + 11) throw new BackfillPlanError('n', 'result is out of range');
  return monthFromIndex(index);
}

export interface MonthRange {
  /** `YYYY-MM`. */
  month: string;
  /** First day, `YYYY-MM-DDT00:00:00Z` (Custom timePeriod.from). */
  from: string;
  /** Last day, `YYYY-MM-DDT00:00:00Z` (Custom timePeriod.to for a complete month). */
  to: string;
  /** First and last day as `YYYY-MM-DD`. */
  firstDay: string;
  lastDay: string;
  /** Number of days in the month. */
  days: number;
  /** The month folder Azure writes under the export: `yyyyMMdd-yyyyMMdd`. */
  dateRange: string;
}

/** The whole calendar month as Azure names it in time periods and folder paths. */
export function monthRange(month: string): MonthRange {
  const index = monthIndexOf(month, 'month');
  const year = Math.floor(index / 12);
  const m = index % 12;
  const days = daysInMonth(year, m);
  const firstDay = `${pad(year, 4)}-${pad(m + 1, 2)}-01`;
  const lastDay = `${pad(year, 4)}-${pad(m + 1, 2)}-${pad(days, 2)}`;
  return {
    month: monthFromIndex(index),
    from: timePeriodDate(year, m, 1),
    to: timePeriodDate(year, m, days),
    firstDay,
    lastDay,
    days,
    dateRange: `${firstDay.replace(/-/g, '')}-${lastDay.replace(/-/g, '')}`,
  };
}

function datasetOf(value: unknown, field: string): ExportDataset {
  if (typeof value === 'string') {
    const match = EXPORT_DATASETS.find((d) => d.toLowerCase() === value.toLowerCase());
    if (match) return match;
  }
  throw new BackfillPlanError(
    field,
    `${field} ${typeof value === 'string' ? `"${clip(value)}" ` : ''}is not one of ${EXPORT_DATASETS.join(', ')}`,
  );
}

/** History limit in complete months before the current one. */
export function historyLimitMonths(dataset?: ExportDataset): number {
  return dataset === undefined ? MAX_BACKFILL_MONTHS : HISTORY_LIMIT_MONTHS[datasetOf(dataset, 'dataset')];
}

/** The months a plan covers, as month indexes (see monthIndexOf), first and last inclusive. */
interface MonthSpan {
  first: number;
  last: number;
}

/** What the span readers check against: the clock's month and day, and the dataset's history limit. */
interface PlanClock {
  /** Index of the current UTC month. */
  current: number;
  /** The current UTC day of the month. */
  today: number;
  limit: number;
  /** "<dataset> can be exported at most N months back", for errors. */
  limitText: string;
}

/** `months: N`: the N complete months before the current one. */
function spanOfMonthCount(months: unknown, clock: PlanClock): MonthSpan {
  if (typeof months !== 'number' || !Number.isInteger(months) || months < 1 || months > MAX_BACKFILL_MONTHS)
    throw new BackfillPlanError('months', `months must be an integer from 1 to ${MAX_BACKFILL_MONTHS}`);
  if (months > clock.limit)
    throw new BackfillPlanError('months', `months ${months} is too many: ${clock.limitText}`);
  const first = clock.current - months;
  if (first < 1970 * 12) throw new BackfillPlanError('months', `months ${months} reaches before 1970`);
  return { first, last: clock.current - 1 };
}

/** Neither months nor from/to: the default count of complete months. */
function defaultSpan(clock: PlanClock): MonthSpan {
  if (DEFAULT_BACKFILL_MONTHS > clock.limit)
    throw new BackfillPlanError(
      'months',
      `the default of ${DEFAULT_BACKFILL_MONTHS} months: ${clock.limitText}`,
    );
  return { first: clock.current - DEFAULT_BACKFILL_MONTHS, last: clock.current - 1 };
}

/** `from`/`to` (either alone names a single month): refused when not all of it can be exported. */
function spanOfNamedMonths(from: string | undefined, to: string | undefined, clock: PlanClock): MonthSpan {
  const { current, today, limit, limitText } = clock;
  const firstField = from !== undefined ? 'from' : 'to';
  const lastField = to !== undefined ? 'to' : 'from';
  const first = monthIndexOf(from ?? to ?? '', firstField);
  const last = monthIndexOf(to ?? from ?? '', lastField);
  const oldest = current - limit;
  if (first > last)
    throw new BackfillPlanError('from', `from ${monthFromIndex(first)} is after to ${monthFromIndex(last)}`);
  if (last > current)
    throw new BackfillPlanError(
      lastField,
      `${lastField} ${monthFromIndex(last)} is in the future; the latest month is ${monthFromIndex(current)}`,
    );
  if (last === current && today === 1)
    throw new BackfillPlanError(
      lastField,
      `${lastField} ${monthFromIndex(last)} started today and has no complete day yet; the latest complete month is ${monthFromIndex(current - 1)}`,
    );
  if (first < oldest)
    throw new BackfillPlanError(
      firstField,
      `${monthFromIndex(first)} is too old: ${limitText} (oldest ${monthFromIndex(oldest)})`,
    );
  return { first, last };
}

function planSpan(input: BackfillPlanInput, clock: PlanClock): MonthSpan {
  const { months, from, to } = input;
  if (months !== undefined) {
    if (from !== undefined || to !== undefined)
      throw new BackfillPlanError('months', 'give either months or from/to, not both');
    return spanOfMonthCount(months, clock);
  }
  if (from === undefined && to === undefined) return defaultSpan(clock);
  return spanOfNamedMonths(from, to, clock);
}

/** One window per month, oldest first; the current month's window ends yesterday. */
function monthWindows({ first, last }: MonthSpan, { current, today }: PlanClock): BackfillWindow[] {
  const windows: BackfillWindow[] = [];
  for (let index = first; index <= last; index++) {
    const range = monthRange(monthFromIndex(index));
    // Only the current month reaches today; it ends yesterday (day >= 2 here, so still this month).
    const to = index === current ? timePeriodDate(Math.floor(index / 12), index % 12, today - 1) : range.to;
    windows.push({ month: range.month, from: range.from, to });
  }
  return windows;
}

/**
 * Plans a backfill as one window per calendar month.
 *
 * - `months: N` = the N complete months before the current UTC month (the current month is left to
 *   the export's own schedule). Neither months nor from/to = 12 months.
 * - `from`/`to` (`YYYY-MM`, inclusive) may include the current month: its window ends yesterday.
 *   A month that has not started, or the current month on its first day (no complete day yet), is
 *   refused rather than dropped, so a request never silently covers less than it names.
 * - Months older than the dataset's history limit are refused the same way.
 */
export function planBackfill(input: BackfillPlanInput): BackfillWindow[] {
  if (typeof input !== 'object' || input === null)
    throw new BackfillPlanError('input', 'backfill plan input must be an object');
  const { now } = input;
  if (!(now instanceof Date) || !Number.isFinite(now.getTime()))
    throw new BackfillPlanError('now', 'now must be a valid Date');
  const order = input.order ?? 'newestFirst';
  if (order !== 'newestFirst' && order !== 'oldestFirst')
    throw new BackfillPlanError('order', 'order must be "newestFirst" or "oldestFirst"');
  const dataset = input.dataset === undefined ? undefined : datasetOf(input.dataset, 'dataset');
  const limit = historyLimitMonths(dataset);
  const clock: PlanClock = {
    current: now.getUTCFullYear() * 12 + now.getUTCMonth(),
    today: now.getUTCDate(),
    limit,
    limitText: `${dataset ?? 'cost data'} can be exported at most ${limit} months back`,
  };
  const windows = monthWindows(planSpan(input, clock), clock);
  return order === 'newestFirst' ? windows.reverse() : windows;
}

/** Export names: the API documents no rule, so we stay inside what every ARM resource name accepts:
 * ASCII letters, digits, `-` and `_`, starting with a letter, at most 64 characters. */
export const EXPORT_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
export const DEFAULT_BACKFILL_PREFIX = 'cea-bf';

/** A short, deterministic export name for one (dataset, month) chunk, e.g.
 * `cea-bf-actualcost-202501`. One export per chunk keeps concurrent months from overwriting each
 * other's Custom time period, and re-running a chunk reuses its export. */
export function backfillExportName(
  dataset: ExportDataset,
  month: string,
  prefix = DEFAULT_BACKFILL_PREFIX,
): string {
  const ds = datasetOf(dataset, 'dataset');
  const index = monthIndexOf(month, 'month');
  if (typeof prefix !== 'string' || !/^[A-Za-z][A-Za-z0-9_-]*$/.test(prefix))
    throw new BackfillPlanError(
      'prefix',
      'prefix must start with a letter and hold only letters, digits, "-" and "_"',
    );
  const name = `${prefix}-${ds.toLowerCase()}-${monthFromIndex(index).replace('-', '')}`;
  if (!EXPORT_NAME_PATTERN.test(name))
    throw new BackfillPlanError(
      'prefix',
      `prefix "${clip(prefix)}" makes the export name longer than 64 characters`,
    );
  return name;
}

/** Reverses backfillExportName (case-insensitively, as ARM names compare): which dataset and month an
 * export landed for, or undefined when the name is not one of ours. */
export function parseBackfillExportName(
  name: string,
  prefix = DEFAULT_BACKFILL_PREFIX,
): { dataset: ExportDataset; month: string } | undefined {
  if (typeof name !== 'string' || typeof prefix !== 'string') return undefined;
  const lower = name.toLowerCase();
  const head = `${prefix.toLowerCase()}-`;
  if (!lower.startsWith(head)) return undefined;
  const m = /^([a-z]+)-(\d{4})(\d{2})$/.exec(lower.slice(head.length));
  if (!m) return undefined;
  const dataset = EXPORT_DATASETS.find((d) => d.toLowerCase() === m[1]);
  if (!dataset || !MONTH.test(`${m[2]}-${m[3]}`)) return undefined;
  return { dataset, month: `${m[2]}-${m[3]}` };
}

/** Array check that does not widen a typed list to any[]. */
function isList(value: unknown): boolean {
  return Array.isArray(value);
}

/**
 * Deterministic orchestration instance id for a backfill of (scope, datasets, months): the same
 * request in any order or with repeats gives the same id, so a repeated HTTP call finds the running
 * instance. Form `bf-{firstYYYYMM}-{lastYYYYMM}-{32 hex of sha256}`: readable in the portal, and only
 * characters Durable Functions and Table keys accept.
 */
export function backfillInstanceId(
  scopeKey: string,
  datasets: readonly ExportDataset[],
  months: readonly string[],
): string {
  if (typeof scopeKey !== 'string' || scopeKey.trim() === '' || /[\u0000-\u001f\u007f]/.test(scopeKey))
    throw new BackfillPlanError('scopeKey', 'scopeKey must be a non-empty string without control characters');
  if (!isList(datasets) || datasets.length === 0)
    throw new BackfillPlanError('datasets', 'datasets must be a non-empty list');
  if (!isList(months) || months.length === 0)
    throw new BackfillPlanError('months', 'months must be a non-empty list');
  const ds = [...new Set(datasets.map((d, i) => datasetOf(d, `datasets[${i}]`)))].sort();
  const ms = [...new Set(months.map((m, i) => monthIndexOf(m, `months[${i}]`)))]
    .sort((a, b) => a - b)
    .map(monthFromIndex);
  const digest = createHash('sha256')
    .update(JSON.stringify({ v: 1, scope: scopeKey, datasets: ds, months: ms }))
    .digest('hex')
    .slice(0, 32);
  const compact = (m: string): string => m.replace('-', '');
  return `bf-${compact(ms[0]!)}-${compact(ms[ms.length - 1]!)}-${digest}`;
}
