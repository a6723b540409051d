// What is wrong, and what to do about it: the problems the status endpoint lists, each with the
// command or step that fixes it, and the overall state derived from them. Pure: the service gathers
// the facts (scope answers, registered exports, tokens, backfill months, ledger cells) and asks here.
import {
  daysLeft,
  FUNCTION_KEY_PLACEHOLDER,
  type LastRunView,
  rotateCommand,
  sasFailure,
} from './alertPolicy';

export type ProblemKind =
  | 'catalogUnreachable'
  | 'countFailed'
  | 'scopeAccess'
  | 'exportFailing'
  | 'exportVanished'
  | 'tokenExpired'
  | 'tokenExpiring'
  | 'monthFailed'
  | 'monthStale'
  | 'monthMissing'
  /** An export the fleet should manage whose last reconcile failed, was refused or found a foreign export. */
  | 'fleetExport';

export const PROBLEM_KINDS: readonly ProblemKind[] = [
  'catalogUnreachable',
  'countFailed',
  'scopeAccess',
  'exportFailing',
  'exportVanished',
  'tokenExpired',
  'tokenExpiring',
  'monthFailed',
  'monthStale',
  'monthMissing',
  'fleetExport',
];

export interface StatusProblem {
  kind: ProblemKind;
  /** What it is about: a scope, `scope · export`, `account/token`, `scope · export · month`. */
  subject: string;
  message: string;
  /** What to do: the command to run, or the step to take. */
  fix: string;
}

export type OverallStatus = 'ok' | 'degraded';

/** Never `ok` while a problem exists: the state is a function of the problem totals alone. */
export function overallStatus(totals: Readonly<Partial<Record<ProblemKind, number>>>): OverallStatus {
  return Object.values(totals).some((n) => (n ?? 0) > 0) ? 'degraded' : 'ok';
}

/** Keeps at most `perKind` problems of each kind, counting every one. */
export class ProblemList {
  readonly listed: StatusProblem[] = [];
  readonly totals = Object.fromEntries(PROBLEM_KINDS.map((k) => [k, 0])) as Record<ProblemKind, number>;

  constructor(private readonly perKind: number) {}

  add(problem: StatusProblem): void {
    this.totals[problem.kind] += 1;
    if (this.totals[problem.kind] <= this.perKind) this.listed.push(problem);
  }

  get omitted(): number {
    return Object.values(this.totals).reduce((a, b) => a + b, 0) - this.listed.length;
  }
}

// ------------------------------------------------------------------------------------------- fixes

/** Where a backfill writes: a registered export's destination, or placeholders when none is known. */
export interface BackfillDestination {
  storageAccount: string;
  container: string;
  rootFolderPath?: string;
  /** A managed-identity destination: the backfill names the account by its ARM id, no token. */
  resourceId?: string;
}

/** The call that backfills `months` of one dataset at a scope (`force` re-runs a finished one). */
export function backfillCommand(
  appBaseUrl: string,
  request: { scope: string; dataset: string; from: string; to: string; destination?: BackfillDestination },
): string {
  const base = appBaseUrl.replace(/\/+$/, '');
  const destination = request.destination
    ? {
        ...(request.destination.resourceId
          ? { resourceId: request.destination.resourceId }
          : { storageAccount: request.destination.storageAccount }),
        container: request.destination.container,
        ...(request.destination.rootFolderPath ? { rootFolderPath: request.destination.rootFolderPath } : {}),
      }
    : { storageAccount: '<STORAGE_ACCOUNT>', container: '<CONTAINER>' };
  const body = JSON.stringify({
    scope: request.scope,
    datasets: [request.dataset],
    from: request.from,
    to: request.to,
    destination,
    force: true,
  });
  // Single-quoted for the shell: a quote inside a value is closed, escaped and reopened.
  return (
    `curl -X POST "${base}/api/backfills" -H "x-functions-key: ${FUNCTION_KEY_PLACEHOLDER}" ` +
    `-H "Content-Type: application/json" -d '${body.replace(/'/g, `'\\''`)}'`
  );
}

/** The call that reconciles one fleet assignment now. The key goes in a header, never the URL
 * (URLs end up in shell history, proxy logs and browser history). */
export function reconcileCommand(appBaseUrl: string, assignmentId: string): string {
  const base = appBaseUrl.replace(/\/+$/, '');
  const body = JSON.stringify({ assignmentId });
  return (
    `curl -X POST "${base}/api/fleet/reconcile" -H "x-functions-key: ${FUNCTION_KEY_PLACEHOLDER}" ` +
    `-H "Content-Type: application/json" -d '${body.replace(/'/g, `'\\''`)}'`
  );
}

// ------------------------------------------------------------------------------------ per-fact rules

export interface ExportFacts {
  scope: string;
  exportName: string;
  dataset: string;
  sasDelivered: boolean;
  storageAccount: string;
  container: string;
  rootFolderPath: string;
  lastRun?: LastRunView;
  missing: boolean;
  missingSince?: string;
}

const FAILED_RUN = new Set(['failed', 'timeout']);

/** A registered export whose last run failed, or that vanished from Cost Management. */
export function exportProblem(e: ExportFacts, appBaseUrl: string, now: Date): StatusProblem | undefined {
  const subject = `${e.scope} · ${e.exportName}`;
  if (e.missing) {
    return {
      kind: 'exportVanished',
      subject,
      message: `the export no longer exists in Cost Management${e.missingSince ? ` (missing since ${e.missingSince})` : ''}`,
      fix: 'Re-create it (or register it again with POST /api/exports/sync once it exists); until then nothing lands for it.',
    };
  }
  if (!e.lastRun || !FAILED_RUN.has(e.lastRun.status.toLowerCase())) return undefined;
  const reason = sasFailure(e.lastRun);
  const what = `last run ${e.lastRun.status} at ${e.lastRun.at}${e.lastRun.error ? `: ${e.lastRun.error.slice(0, 300)}` : ''}`;
  if (reason && e.sasDelivered) {
    return {
      kind: 'exportFailing',
      subject,
      message: `${what} (the SAS token on the export is refused: ${reason})`,
      fix: `Generate an account SAS (ss=b, srt=sco, sp=racwdl) for ${e.storageAccount} and rotate: ${rotateCommand(appBaseUrl, e.storageAccount)}`,
    };
  }
  const month = monthOfInstant(e.lastRun.at) ?? monthOfInstant(now.toISOString())!;
  return {
    kind: 'exportFailing',
    subject,
    message: reason ? `${what} (authorization: ${reason})` : what,
    fix:
      `Fix the cause the error names (docs/operations.md, "Troubleshooting"), then backfill the month: ` +
      backfillCommand(appBaseUrl, {
        scope: e.scope,
        dataset: e.dataset,
        from: month,
        to: month,
        destination: e,
      }),
  };
}

export interface TokenFacts {
  storageAccount: string;
  tokenId: string;
  expiresOn: string;
}

/** The account's current token when it expired or is inside the alert window (the largest
 * threshold of SAS_ALERT_DAYS). */
export function tokenProblem(
  t: TokenFacts,
  alertWindowDays: number,
  appBaseUrl: string,
  now: Date,
  exportCount: number,
): StatusProblem | undefined {
  let days: number;
  try {
    days = daysLeft(t.expiresOn, now);
  } catch {
    days = -1; // an unreadable expiry counts as expired
  }
  if (days > alertWindowDays) return undefined;
  const serving = `${exportCount} export(s) deliver with it`;
  const fix = `Generate a new account SAS for ${t.storageAccount} and rotate: ${rotateCommand(appBaseUrl, t.storageAccount)}`;
  const subject = `${t.storageAccount}/${t.tokenId}`;
  if (days < 0 || Date.parse(t.expiresOn) <= now.getTime()) {
    return { kind: 'tokenExpired', subject, message: `expired ${t.expiresOn}; ${serving}`, fix };
  }
  return {
    kind: 'tokenExpiring',
    subject,
    message: `expires ${t.expiresOn} (${days <= 0 ? 'less than 1 day' : `${days} day(s)`} left, alert window ${alertWindowDays} days); ${serving}`,
    fix,
  };
}

export interface FailedMonthFacts {
  scope: string;
  dataset: string;
  /** `YYYY-MM`. */
  month: string;
  /** Whose month: a registered export's name, or the backfill's one-month export. */
  exportName: string;
  status: string;
  attempts?: number;
  error?: string;
  backfillId?: string;
  destination?: BackfillDestination;
}

/** A billing month whose last attempt failed (a backfill month Failed or timed out). */
export function failedMonthProblem(m: FailedMonthFacts, appBaseUrl: string): StatusProblem {
  const tries = m.attempts === undefined ? '' : ` after ${m.attempts} attempt(s)`;
  return {
    kind: 'monthFailed',
    subject: `${m.scope} · ${m.exportName} · ${m.month}`,
    message:
      `${m.dataset} ${m.month}: ${m.status}${tries}` +
      (m.backfillId ? ` in backfill ${m.backfillId}` : '') +
      (m.error ? `: ${m.error.slice(0, 300)}` : ''),
    fix: `Backfill the month again: ${backfillCommand(appBaseUrl, {
      scope: m.scope,
      dataset: m.dataset,
      from: m.month,
      to: m.month,
      ...(m.destination ? { destination: m.destination } : {}),
    })}`,
  };
}

/** `YYYY-MM` of an ISO instant (UTC), or undefined when it does not parse. */
export function monthOfInstant(text: string): string | undefined {
  const zoned = /(?:Z|[+-]\d{2}:\d{2})$/i.test(text) ? text : `${text}Z`;
  const ms = Date.parse(zoned);
  if (Number.isNaN(ms)) return undefined;
  return new Date(ms).toISOString().slice(0, 7);
}

export interface LedgerCellFacts {
  scope: string;
  exportName: string;
  month: string;
  state: string;
  reason: string;
  dataset?: string;
  destination?: BackfillDestination;
  /** What healing tried, in words. */
  healing?: string;
}

/** A Stale or Missing month of the ledger, with the backfill that fills it. */
export function ledgerCellProblem(c: LedgerCellFacts, appBaseUrl: string): StatusProblem {
  const command = backfillCommand(appBaseUrl, {
    scope: c.scope,
    dataset: c.dataset ?? '<DATASET>',
    from: c.month,
    to: c.month,
    ...(c.destination ? { destination: c.destination } : {}),
  });
  return {
    kind: c.state === 'Stale' ? 'monthStale' : 'monthMissing',
    subject: `${c.scope} · ${c.exportName} · ${c.month}`,
    message: `${c.state}: ${c.reason}${c.healing ? ` (${c.healing})` : ''}`,
    fix:
      c.state === 'Stale'
        ? `Check the export's runs in Cost Management (a failing run shows as exportFailing); to fill the month now: ${command}`
        : `Backfill the month: ${command}`,
  };
}
