// The rows the status page's problem rules need, gathered while the count sections scan (each
// bounded by the row cap), then turned into problems with their fixes.
import type { RecordTypes, Stored } from '../azure/catalog';
import { currentToken } from '../domain/alertPolicy';
import { healingSummary } from '../domain/ledger';
import {
  type BackfillDestination,
  exportProblem,
  failedMonthProblem,
  ledgerCellProblem,
  tokenProblem,
} from '../domain/statusProblems';
import type { ProblemContext } from './statusCounts';

/** The rows the problem rules need, gathered while the sections scan (each bounded by the row cap). */
export class ProblemFacts {
  private readonly exports: Stored<RecordTypes['exports']>[] = [];
  /** scope|dataset → a registered export's destination, for the backfill command of a failed month. */
  private readonly destinations = new Map<string, BackfillDestination>();
  /** storage account → SAS-delivered exports writing to it. */
  private readonly exportsByAccount = new Map<string, number>();
  private readonly tokensByAccount = new Map<string, Stored<RecordTypes['tokens']>[]>();
  /** scope|dataset|month → the newest backfill run row: a later success clears an earlier failure. */
  private readonly months = new Map<string, Stored<RecordTypes['backfillRuns']>>();
  /** storage account → the first few SAS-delivered exports writing to it, by name. */
  private readonly namesByAccount = new Map<string, string[]>();
  private readonly cells: Stored<RecordTypes['ledger']>[] = [];

  ledgerCellSeen(c: Stored<RecordTypes['ledger']>): void {
    this.cells.push(c);
  }

  servedBy(account: string): { exportCount: number; exports: string[] } {
    return {
      exportCount: this.exportsByAccount.get(account) ?? 0,
      exports: this.namesByAccount.get(account) ?? [],
    };
  }

  exportsSeen(e: Stored<RecordTypes['exports']>): void {
    if (e.missing || (e.lastRun && /^(failed|timeout)$/i.test(e.lastRun.status))) this.exports.push(e);
    const key = `${e.scope.toLowerCase()}|${e.dataset}`;
    if (!this.destinations.has(key)) {
      this.destinations.set(key, {
        storageAccount: e.destination.storageAccount,
        container: e.destination.container,
        rootFolderPath: e.destination.rootFolderPath,
        ...(!e.destination.sasDelivered && e.destination.resourceId
          ? { resourceId: e.destination.resourceId }
          : {}),
      });
    }
    if (e.destination.sasDelivered) {
      const account = e.destination.storageAccount;
      this.exportsByAccount.set(account, (this.exportsByAccount.get(account) ?? 0) + 1);
      const names = this.namesByAccount.get(account) ?? [];
      if (names.length < 5) names.push(e.exportName);
      this.namesByAccount.set(account, names);
    }
  }

  tokenSeen(t: Stored<RecordTypes['tokens']>): void {
    if (t.status !== 'active' && t.status !== 'expired') return;
    const list = this.tokensByAccount.get(t.storageAccount) ?? [];
    list.push(t);
    this.tokensByAccount.set(t.storageAccount, list);
  }

  backfillRunSeen(b: Stored<RecordTypes['backfillRuns']>): void {
    const key = `${b.scope.toLowerCase()}|${b.dataset}|${b.month}`;
    const known = this.months.get(key);
    if (!known || Date.parse(b.updatedAt) > Date.parse(known.updatedAt)) this.months.set(key, b);
  }

  derive(context: ProblemContext, now: Date): void {
    this.ledgerProblems(context);
    this.exportProblems(context, now);
    this.tokenProblems(context, now);
    this.failedMonthProblems(context);
  }

  /** Ledger cells in a problem state, under a policy other than `off`. */
  private ledgerProblems({ list, appBaseUrl, policyOf }: ProblemContext): void {
    // Failed cells are reported as failing exports or Failed backfill months already.
    for (const c of this.cells) {
      if (policyOf(c.scope) === 'off') continue;
      const destination = c.dataset && this.destinations.get(`${c.scope.toLowerCase()}|${c.dataset}`);
      list.add(
        ledgerCellProblem(
          {
            scope: c.scope,
            exportName: c.exportName,
            month: c.month,
            state: c.state,
            reason: c.reason,
            ...(c.dataset ? { dataset: c.dataset } : {}),
            ...(destination ? { destination } : {}),
            ...(c.healing ? { healing: healingSummary(c.healing) } : {}),
          },
          appBaseUrl,
        ),
      );
    }
  }

  /** Exports gone missing or whose last run failed. */
  private exportProblems({ list, appBaseUrl }: ProblemContext, now: Date): void {
    for (const e of this.exports) {
      const problem = exportProblem(
        {
          scope: e.scope,
          exportName: e.exportName,
          dataset: e.dataset,
          sasDelivered: e.destination.sasDelivered,
          storageAccount: e.destination.storageAccount,
          container: e.destination.container,
          rootFolderPath: e.destination.rootFolderPath,
          missing: e.missing,
          ...(e.lastRun ? { lastRun: e.lastRun } : {}),
          ...(e.missingSince ? { missingSince: e.missingSince } : {}),
        },
        appBaseUrl,
        now,
      );
      if (problem) list.add(problem);
    }
  }

  /** Only the token an account's exports should carry: an older one still `active` is not in use. */
  private tokenProblems({ list, appBaseUrl, alertWindowDays }: ProblemContext, now: Date): void {
    for (const [account, tokens] of this.tokensByAccount) {
      const current = currentToken(tokens);
      if (!current) continue;
      const problem = tokenProblem(
        current,
        alertWindowDays,
        appBaseUrl,
        now,
        this.exportsByAccount.get(account) ?? 0,
      );
      if (problem) list.add(problem);
    }
  }

  /** Backfill months whose newest run failed or timed out. */
  private failedMonthProblems({ list, appBaseUrl }: ProblemContext): void {
    for (const run of this.months.values()) {
      if (run.status !== 'failed' && run.status !== 'timedOut') continue;
      const destination = this.destinations.get(`${run.scope.toLowerCase()}|${run.dataset}`);
      list.add(
        failedMonthProblem(
          {
            scope: run.scope,
            dataset: run.dataset,
            month: run.month,
            exportName: run.exportName,
            status: run.status,
            backfillId: run.backfillId,
            ...(run.attempts !== undefined ? { attempts: run.attempts } : {}),
            ...(run.error ? { error: run.error } : {}),
            ...(destination ? { destination } : {}),
          },
          appBaseUrl,
        ),
      );
    }
  }
}
