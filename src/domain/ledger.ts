// The completeness ledger's rules: for one export and one billing month, which state the month is in,
// given what landed, what failed, the export's cadence and the clock. Pure and UTC throughout, so the
// landing path, the daily sweep and a test all reach the same answer from the same facts.
//
// Microsoft finalises a month's charges up to 72 hours after it ends, and a daily month-to-date
// export keeps re-running the previous month through the 5th of the next month
// (/work/shared/research/real-exports.md, "Cadence"). So a month is Final once a run submitted on
// or after the 5th 00:00 UTC of the next month landed: `finalAfterDays` (default 4) days after the
// month ends, past the 72 hours, and reached by the last daily re-run.

export type LedgerState = 'Final' | 'Open' | 'Stale' | 'Missing' | 'Failed' | 'NoData';
export const LEDGER_STATES: readonly LedgerState[] = [
  'Final',
  'Open',
  'Stale',
  'Missing',
  'Failed',
  'NoData',
];

/** States a person (or healing) should act on. */
export const LEDGER_PROBLEM_STATES: ReadonlySet<LedgerState> = new Set(['Stale', 'Missing', 'Failed']);

export interface LedgerSettings {
  /** Days after the month ends from which a landed run makes the month Final (default 4: the 5th). */
  finalAfterDays: number;
  /** Slack after the cadence before a month counts as Stale (default 12 hours). */
  graceHours: number;
  /** Months kept in view: the current month and the ones before it (default 13). */
  horizonMonths: number;
}

export const DEFAULT_LEDGER_SETTINGS: LedgerSettings = {
  finalAfterDays: 4,
  graceHours: 12,
  horizonMonths: 13,
};

/** What the export's schedule promises. */
export interface Cadence {
  /** ARM `schedule.recurrence`: Daily, Weekly, Monthly, Annually; absent for an unscheduled export. */
  recurrence?: string;
  active: boolean;
  /** `schedule.recurrencePeriod.from`: months before it are not expected. */
  from?: string;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Hours between scheduled runs, or undefined when the export promises no runs. */
export function cadenceHours(cadence: Cadence): number | undefined {
  if (!cadence.active) return undefined;
  switch (cadence.recurrence?.toLowerCase()) {
    case 'daily':
      return 24;
    case 'weekly':
      return 7 * 24;
    case 'monthly':
      return 31 * 24;
    case 'annually':
      return 366 * 24;
    default:
      return undefined;
  }
}

/** The run behind a month: the current (newest complete, not superseded) one. */
export interface CellRun {
  runId: string;
  /** When the run was submitted (what "after the close window" is measured on). */
  runTime: string;
  /** Data rows, or undefined when the manifest did not say. */
  rows?: number;
  bytes: number;
  /** The run said there was nothing: a header-only file, no rows. */
  noData: boolean;
  catalogedAt: string;
}

/** The newest attempt that did not land data: a failed or timed-out run, or DataNotAvailable. */
export interface CellAttempt {
  at: string;
  outcome: 'failed' | 'noData';
  reason: string;
  source: 'export' | 'backfill' | 'healing';
  backfillId?: string;
  attempts?: number;
}

/** What a cell knows; the state is computed from it and the clock. */
export interface CellFacts {
  /** `YYYY-MM`. */
  month: string;
  current?: CellRun;
  /** Runs landed for the month (every one counted once, superseded ones included). */
  runs: number;
  supersededRuns: number;
  /** Newest landing of any run of the month (catalogue time). */
  lastLandingAt?: string;
  lastAttempt?: CellAttempt;
}

export interface CellVerdict {
  state: LedgerState;
  /** Why, in a sentence a person reads. */
  reason: string;
  /** When the state will change with time alone (the sweep looks again then), if it will. */
  recheckAt?: string;
}

const MONTH = /^(\d{4})-(0[1-9]|1[0-2])$/;

export function monthStart(month: string): number {
  const m = MONTH.exec(month);
  if (!m) throw new RangeError(`month: expected YYYY-MM, got "${month}"`);
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, 1);
}

export function nextMonthStart(month: string): number {
  const start = new Date(monthStart(month));
  return Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1);
}

export function monthOfTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 7);
}

/** Timestamps without a zone (scheduled manifests) are UTC. NaN when it does not parse. */
export function instantOf(text: string | undefined): number {
  if (!text) return Number.NaN;
  return Date.parse(/(?:Z|[+-]\d{2}:\d{2})$/i.test(text) ? text : `${text}Z`);
}

/** The instant from which a landed run makes the month Final. */
export function closeAt(month: string, settings: LedgerSettings): number {
  return nextMonthStart(month) + settings.finalAfterDays * DAY;
}

/** The months an export is expected to land, newest first: the horizon, clipped to its schedule's start. */
export function expectedMonths(cadence: Cadence, now: Date, settings: LedgerSettings): string[] {
  if (cadenceHours(cadence) === undefined) return [];
  const from = instantOf(cadence.from);
  const months: string[] = [];
  const current = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  for (let i = 0; i < settings.horizonMonths; i++) {
    const start = Date.UTC(current.getUTCFullYear(), current.getUTCMonth() - i, 1);
    const month = monthOfTime(start);
    if (!Number.isNaN(from) && nextMonthStart(month) <= from) break;
    months.push(month);
  }
  return months;
}

/** The instants a cell's state turns on, in ms since the epoch. */
interface CellTimes {
  now: number;
  /** The month's first and the next month's first instant. */
  start: number;
  end: number;
  /** From when a landed run makes the month Final. */
  close: number;
  /** One cadence plus the grace: how long after a run (or the month's start) the next is due;
   * undefined when the export promises no runs. */
  due: number | undefined;
}

function dueAfter(cadence: Cadence, settings: LedgerSettings): number | undefined {
  const every = cadenceHours(cadence);
  return every === undefined ? undefined : (every + settings.graceHours) * HOUR;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** The newest word wins: a failure after the last landing makes the month Failed until a run lands,
 * and DataNotAvailable with nothing landed makes it NoData. */
function newerAttemptVerdict(facts: CellFacts): CellVerdict | undefined {
  const attempt = facts.lastAttempt;
  if (!attempt || instantOf(attempt.at) <= instantOf(facts.lastLandingAt)) return undefined;
  if (attempt.outcome === 'failed') return { state: 'Failed', reason: attempt.reason };
  if (!facts.current) return { state: 'NoData', reason: attempt.reason };
  return undefined;
}

/** The month's current run: Final (or NoData) from the close window on; before it NoData, Stale
 * when the next run is overdue, or Open. */
function landedRunVerdict(run: CellRun, times: CellTimes): CellVerdict {
  const { close } = times;
  const ranAt = instantOf(run.runTime);
  if (ranAt >= close) {
    return run.noData
      ? { state: 'NoData', reason: `run ${run.runId} after the close window found no rows` }
      : { state: 'Final', reason: `run ${run.runId} landed after the close window (${iso(close)})` };
  }
  if (run.noData) {
    return { state: 'NoData', reason: `run ${run.runId} found no rows`, recheckAt: iso(close) };
  }
  return pendingRunVerdict(run, ranAt, times);
}

/** Not final yet: the next run is due one cadence after the last, or after the close window. */
function pendingRunVerdict(run: CellRun, ranAt: number, { now: t, close, due }: CellTimes): CellVerdict {
  const next = due === undefined ? undefined : (t < close ? ranAt : close) + due;
  if (next !== undefined && t >= next) {
    return t >= close
      ? {
          state: 'Stale',
          reason: `no run after the close window (${iso(close)}); the last ran ${run.runTime}`,
        }
      : { state: 'Stale', reason: `no landing since ${run.runTime}; one was due by ${iso(next)}` };
  }
  return {
    state: 'Open',
    reason: `run ${run.runId} landed ${run.catalogedAt}; final after a run from ${iso(close)}`,
    recheckAt: iso(next === undefined ? close : t < close ? Math.min(next, close) : next),
  };
}

/** Nothing landed: Missing once the month is over; in the current month Stale once the first run
 * (one cadence after the month or the schedule starts) is overdue. */
function nothingLandedVerdict(month: string, cadence: Cadence, times: CellTimes): CellVerdict {
  const { now: t, start, end, due } = times;
  if (t >= end) return { state: 'Missing', reason: `no run of ${month} landed` };
  const fromAt = instantOf(cadence.from);
  const firstDue =
    due === undefined ? undefined : Math.max(start, Number.isNaN(fromAt) ? start : fromAt) + due;
  if (firstDue !== undefined && t >= firstDue) {
    return { state: 'Stale', reason: `no landing yet; the first was due by ${iso(firstDue)}` };
  }
  return {
    state: 'Open',
    reason: 'no landing yet; none is due',
    recheckAt: iso(firstDue !== undefined ? Math.min(firstDue, end) : end),
  };
}

/** The state of one (export, month). */
export function cellState(
  facts: CellFacts,
  cadence: Cadence,
  now: Date,
  settings: LedgerSettings,
): CellVerdict {
  const times: CellTimes = {
    now: now.getTime(),
    start: monthStart(facts.month),
    end: nextMonthStart(facts.month),
    close: closeAt(facts.month, settings),
    due: dueAfter(cadence, settings),
  };
  const newer = newerAttemptVerdict(facts);
  if (newer) return newer;
  if (facts.current) return landedRunVerdict(facts.current, times);
  return nothingLandedVerdict(facts.month, cadence, times);
}

// ------------------------------------------------------------------------------------- folding facts

/** A landed run, as the landing path hands it to the ledger. */
export interface LandedRun {
  runId: string;
  runTime: string;
  rows?: number;
  bytes: number;
  noData: boolean;
  catalogedAt: string;
  /** The landing path's verdict: this run is now the month's current run. */
  current: boolean;
  /** False when the landing was rejected or incomplete: counted, but not the month's data. */
  usable: boolean;
}

/** The cell after one more landing. A redelivered run (same id as the current one) changes nothing. */
export function foldLanding(facts: CellFacts, run: LandedRun): CellFacts {
  if (facts.current?.runId === run.runId) return facts;
  const landed = instantOf(run.catalogedAt);
  const last = instantOf(facts.lastLandingAt);
  const next: CellFacts = { ...facts, runs: facts.runs + 1 };
  if (run.usable) {
    if (!(landed <= last)) next.lastLandingAt = run.catalogedAt;
    // A usable run replaces the current one, or arrives already superseded by it.
    if (facts.current || !run.current) next.supersededRuns = facts.supersededRuns + 1;
    if (run.current) {
      next.current = {
        runId: run.runId,
        runTime: run.runTime,
        ...(run.rows !== undefined ? { rows: run.rows } : {}),
        bytes: run.bytes,
        noData: run.noData,
        catalogedAt: run.catalogedAt,
      };
    }
  }
  return next;
}

/** The cell after an attempt that did not land data; an older attempt than the one known is ignored. */
export function foldAttempt(facts: CellFacts, attempt: CellAttempt): CellFacts {
  if (facts.lastAttempt && instantOf(facts.lastAttempt.at) > instantOf(attempt.at)) return facts;
  return { ...facts, lastAttempt: attempt };
}

// ------------------------------------------------------------------------------------------ healing

export type HealingPolicy = 'off' | 'report' | 'heal';
export const HEALING_POLICIES: readonly HealingPolicy[] = ['off', 'report', 'heal'];

/** What healing tried on a cell. */
export interface HealingRecord {
  attempts: number;
  lastAt: string;
  backfillId?: string;
  /** `started`, `running` (the same backfill was already running), or `refused: …`. */
  outcome: string;
}

/** How a person reads a cell's healing record: "healing started 2026-12-05T…, attempt 2". */
export function healingSummary(healing: HealingRecord): string {
  return `healing ${healing.outcome} ${healing.lastAt}, attempt ${healing.attempts}`;
}

export interface HealingSettings {
  /** Hours before the same cell may be healed again (default 24). */
  coolDownHours: number;
  /** Attempts per cell before healing gives up and leaves it to a person (default 3). */
  maxAttempts: number;
}

export const DEFAULT_HEALING_SETTINGS: HealingSettings = { coolDownHours: 24, maxAttempts: 3 };

/** Whether healing should start a backfill for this cell now, and why not when it should not. */
export function healingDecision(
  state: LedgerState,
  healing: HealingRecord | undefined,
  policy: HealingPolicy,
  now: Date,
  settings: HealingSettings,
): { heal: true } | { heal: false; why: string } {
  if (policy !== 'heal') return { heal: false, why: `policy ${policy}` };
  if (!LEDGER_PROBLEM_STATES.has(state)) return { heal: false, why: `state ${state}` };
  if (!healing) return { heal: true };
  if (healing.attempts >= settings.maxAttempts) {
    return { heal: false, why: `gave up after ${healing.attempts} attempts` };
  }
  const next = instantOf(healing.lastAt) + settings.coolDownHours * HOUR;
  if (now.getTime() < next) return { heal: false, why: `cooling down until ${new Date(next).toISOString()}` };
  return { heal: true };
}

/** What one healing attempt came to: a backfill started (or the same one already running), or a
 * refusal and why. */
export type HealingAttempt =
  { kind: 'started' | 'running'; backfillId: string } | { kind: 'refused'; why: string };

/** The cell's record of an attempt, counting attempts on from the cell's previous record. */
export function healingRecord(
  previous: HealingRecord | undefined,
  attempt: HealingAttempt,
  now: Date,
): HealingRecord {
  const attempts = (previous?.attempts ?? 0) + 1;
  const lastAt = now.toISOString();
  if (attempt.kind === 'refused') return { attempts, lastAt, outcome: `refused: ${attempt.why}` };
  return { attempts, lastAt, backfillId: attempt.backfillId, outcome: attempt.kind };
}

/** Where a registered export delivers (the exports table's view of it). */
export interface HealingDestinationView {
  storageAccount: string;
  container: string;
  rootFolderPath: string;
  sasDelivered: boolean;
  tokenRef?: string;
  resourceId?: string;
}

/** The destination of a healing backfill request: the way the export delivers, with the same
 * managed identity (its account's resource id) or with its token. Undefined for a managed-identity
 * destination whose resource id is not recorded (export syncs before that field existed did not
 * record it; the next sync does). */
export function healingDestination(
  d: HealingDestinationView,
):
  | { resourceId: string; container: string; rootFolderPath?: string }
  | { storageAccount: string; container: string; rootFolderPath?: string; tokenId?: string }
  | undefined {
  const root = d.rootFolderPath ? { rootFolderPath: d.rootFolderPath } : {};
  if (d.sasDelivered) {
    return {
      storageAccount: d.storageAccount,
      container: d.container,
      ...root,
      ...(d.tokenRef ? { tokenId: d.tokenRef } : {}),
    };
  }
  if (!d.resourceId) return undefined;
  return { resourceId: d.resourceId, container: d.container, ...root };
}
