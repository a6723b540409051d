// Out-of-band runs: when a registered export should be run again outside its own schedule, and
// how a request to set that policy is validated. Pure; the round orchestration asks `outOfBandDecision`
// for every export with a policy, and the activity asks again just before it calls `run`.
import { type FieldError, quoteInput } from './fieldError';
import { isRecord } from './json';

const MINUTE_MS = 60_000;

export interface OutOfBandHoursWindow {
  /** Runs only while fromHourUtc ≤ UTC hour < toHourUtc; a window with from > to wraps past midnight. */
  fromHourUtc: number;
  toHourUtc: number;
}

export interface OutOfBandPolicy {
  /** Never run again sooner than this after the previous run or attempt. */
  minIntervalMinutes: number;
  hoursWindow?: OutOfBandHoursWindow;
}

/** What an out-of-band attempt came to: `submitted` (run accepted), `throttled` (429, deferred to the
 * next tick), `failed` (the service refused the run), `skipped` (not due when re-checked). */
export type OutOfBandOutcome = 'submitted' | 'throttled' | 'failed' | 'skipped';

/** Field names match the exports table record, so a stored export is a state as it is. */
export interface OutOfBandState {
  outOfBand?: OutOfBandPolicy;
  /** The export vanished from Cost Management. */
  missing?: boolean;
  /** The latest run Cost Management reported (export sync), or the one this app recorded. */
  lastRun?: { status: string; at: string };
  /** This app's latest out-of-band attempt. */
  /** An OutOfBandOutcome; other text (a newer outcome) counts as no attempt. */
  lastOutOfBand?: { status: string; at: string };
}

export type OutOfBandSkipReason = 'noPolicy' | 'missing' | 'running' | 'tooSoon' | 'outsideWindow';

export type OutOfBandDecision =
  | { due: true }
  | {
      due: false;
      reason: OutOfBandSkipReason;
      /** The earliest moment the export can become due (ISO), when it can be known. */
      notBefore?: string;
    };

export interface OutOfBandOptions {
  /** A run this close to the interval counts as due, so a tick a few seconds early does not skip a
   * whole tick (default 5 minutes, never more than a tenth of the interval). */
  toleranceMinutes?: number;
  /** A Queued/InProgress status older than this is treated as stale (default 24 hours): the row was
   * not refreshed, and Cost Management refuses a run that really is in progress. */
  runningStaleAfterMinutes?: number;
}

/** Statuses of a run that has not finished (Cost Management ExecutionStatus). */
const RUNNING_STATUSES = new Set(['queued', 'inprogress']);
/** Our own attempts that count as "ran" for the interval: a throttled one did not reach the service. */
const ATTEMPTED_OUTCOMES = new Set(['submitted', 'failed']);

function instant(field: string, value: string | Date): number {
  const ms = value instanceof Date ? value.getTime() : Date.parse(value);
  if (Number.isNaN(ms))
    throw new RangeError(`${field}: expected an ISO 8601 date-time, got "${String(value)}"`);
  return ms;
}

/** True when the UTC hour of `now` lies in the window (no window: always). */
export function inHoursWindow(window: OutOfBandHoursWindow | undefined, now: Date): boolean {
  if (!window) return true;
  const { fromHourUtc: from, toHourUtc: to } = window;
  const hour = now.getUTCHours();
  if (from === to) return true; // validation refuses it; a stored one means "no restriction"
  return from < to ? hour >= from && hour < to : hour >= from || hour < to;
}

/** The start of the next window opening at or after `now` (now itself when inside). */
export function nextWindowStart(window: OutOfBandHoursWindow | undefined, now: Date): Date {
  if (inHoursWindow(window, now)) return now;
  const start = new Date(now);
  start.setUTCMinutes(0, 0, 0);
  const from = window!.fromHourUtc % 24;
  if (start.getUTCHours() >= from) start.setUTCDate(start.getUTCDate() + 1);
  start.setUTCHours(from);
  return start;
}

/**
 * Whether an export is due for an out-of-band run now. Not due when: it has no policy; it is
 * missing; its latest run is Queued or InProgress (and fresh); the latest run or attempt is within
 * the interval; or the hour is outside its window. A throttled attempt does not count as a run, so
 * the export is tried again at the next tick.
 */
export function outOfBandDecision(
  state: OutOfBandState,
  now: Date,
  options: OutOfBandOptions = {},
): OutOfBandDecision {
  const nowMs = instant('now', now);
  const policy = state.outOfBand;
  if (!policy) return { due: false, reason: 'noPolicy' };
  if (state.missing) return { due: false, reason: 'missing' };
  const intervalMs = policy.minIntervalMinutes * MINUTE_MS;
  if (!Number.isFinite(intervalMs) || intervalMs <= 0) return { due: false, reason: 'noPolicy' };
  const toleranceMs = Math.min((options.toleranceMinutes ?? 5) * MINUTE_MS, intervalMs / 10);
  const staleMs = (options.runningStaleAfterMinutes ?? 24 * 60) * MINUTE_MS;

  const lastRunMs = state.lastRun ? instant('lastRun.at', state.lastRun.at) : undefined;
  if (
    state.lastRun &&
    lastRunMs !== undefined &&
    RUNNING_STATUSES.has(state.lastRun.status.toLowerCase()) &&
    nowMs - lastRunMs < staleMs
  ) {
    return { due: false, reason: 'running' };
  }

  const attemptMs =
    state.lastOutOfBand && ATTEMPTED_OUTCOMES.has(state.lastOutOfBand.status)
      ? instant('lastOutOfBand.at', state.lastOutOfBand.at)
      : undefined;
  const latest = Math.max(lastRunMs ?? -Infinity, attemptMs ?? -Infinity);
  if (Number.isFinite(latest) && nowMs - latest < intervalMs - toleranceMs) {
    const earliest = new Date(latest + intervalMs - toleranceMs);
    return {
      due: false,
      reason: 'tooSoon',
      notBefore: nextWindowStart(policy.hoursWindow, earliest).toISOString(),
    };
  }
  if (!inHoursWindow(policy.hoursWindow, now)) {
    return {
      due: false,
      reason: 'outsideWindow',
      notBefore: nextWindowStart(policy.hoursWindow, now).toISOString(),
    };
  }
  return { due: true };
}

// ------------------------------------------------------------------------------ the HTTP request

/** The policy's problems, in the API's one field-error shape. */
export type FieldProblem = FieldError;

export type PolicyValidation =
  { ok: true; policy: OutOfBandPolicy } | { ok: false; problems: FieldProblem[] };

/** The longest interval accepted: a year (longer is not "more often than daily"). */
export const MAX_INTERVAL_MINUTES = 525_600;
/** Out-of-band runs closer than this gain nothing: Cost Management refreshes cost data a few times a day. */
export const MIN_INTERVAL_MINUTES = 60;

/**
 * Validates `{ minIntervalMinutes, hoursUtc?: { from, to } }` (the body of
 * `PUT /api/exports/{scopeKey}/{exportName}/outOfBand`). Every problem is reported, each naming its field.
 */
export function validateOutOfBandPolicy(body: unknown): PolicyValidation {
  const problems: FieldProblem[] = [];
  if (!isRecord(body)) {
    return { ok: false, problems: [{ field: 'body', message: 'expected a JSON object' }] };
  }
  const known = new Set(['minIntervalMinutes', 'hoursUtc']);
  for (const key of Object.keys(body)) {
    if (!known.has(key))
      problems.push({ field: key, message: 'is not a known field (minIntervalMinutes, hoursUtc)' });
  }
  const interval = body.minIntervalMinutes;
  if (interval === undefined) {
    problems.push({ field: 'minIntervalMinutes', message: 'is required' });
  } else if (
    typeof interval !== 'number' ||
    !Number.isInteger(interval) ||
    interval < MIN_INTERVAL_MINUTES ||
    interval > MAX_INTERVAL_MINUTES
  ) {
    problems.push({
      field: 'minIntervalMinutes',
      message: `expected a whole number of minutes from ${MIN_INTERVAL_MINUTES} to ${MAX_INTERVAL_MINUTES}, got ${quoteInput(interval)}`,
    });
  }
  let hoursWindow: OutOfBandHoursWindow | undefined;
  const hours = body.hoursUtc;
  if (hours !== undefined && hours !== null) {
    if (!isRecord(hours)) {
      problems.push({ field: 'hoursUtc', message: 'expected an object { "from": 6, "to": 18 } (UTC hours)' });
    } else {
      for (const key of Object.keys(hours)) {
        if (key !== 'from' && key !== 'to')
          problems.push({ field: `hoursUtc.${key}`, message: 'is not a known field (from, to)' });
      }
      const hour = (field: 'from' | 'to', max: number): number | undefined => {
        const v = hours[field];
        if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max) return v;
        problems.push({
          field: `hoursUtc.${field}`,
          message: `expected a whole UTC hour from 0 to ${max}, got ${v === undefined ? 'nothing' : quoteInput(v)}`,
        });
        return undefined;
      };
      const from = hour('from', 23);
      const to = hour('to', 24);
      if (from !== undefined && to !== undefined) {
        if (from === to) {
          problems.push({
            field: 'hoursUtc',
            message:
              'from and to are the same hour: the window would be empty; omit hoursUtc to allow every hour',
          });
        } else {
          hoursWindow = { fromHourUtc: from, toHourUtc: to };
        }
      }
    }
  }
  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    policy: { minIntervalMinutes: interval as number, ...(hoursWindow ? { hoursWindow } : {}) },
  };
}

// ----------------------------------------------------------------------------------- the round

/** One instance id per timer tick (minute resolution, UTC): a tick fired twice finds its round
 * already started instead of running the exports twice. `prefix` names the round's orchestration. */
export function roundInstanceId(tick: Date, prefix = 'outOfBandRound'): string {
  const ms = instant('tick', tick);
  const iso = new Date(Math.floor(ms / MINUTE_MS) * MINUTE_MS).toISOString();
  return `${prefix}-${iso.slice(0, 16).replace(/[-:]/g, '')}`;
}

/** Splits items into consecutive batches of at most `size` (the round's bounded fan-out). */
export function batches<T>(items: readonly T[], size: number): T[][] {
  if (!Number.isInteger(size) || size < 1)
    throw new RangeError(`concurrency: expected a whole number ≥ 1, got ${size}`);
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
