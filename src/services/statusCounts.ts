// Bounded counts from the catalog tables for the status page: at most `maxRowsPerTable` rows read
// per table, the counts then reported as "at least". While the sections scan, ProblemFacts gathers
// the rows the problem rules need.
import {
  allBackfillRuns,
  allRows,
  BACKFILL_RUN_STATUSES,
  type BackfillRunStatus,
  type Catalog,
  type CatalogQuery,
  LANDING_STATES,
  type LandingState,
  landingsWrittenSince,
  ledgerCellsInStates,
  type RecordTypes,
  type Stored,
  type TableKind,
} from '../azure/catalog';
import { describeDependencyFailure } from '../azure/dependencyFaults';
import { storageRefusal } from '../azure/storageRefusal';
import { daysLeft } from '../domain/alertPolicy';
import { positiveWhole as positive } from '../domain/fieldError';
import type { HealingPolicy } from '../domain/ledger';
import type { ProblemList } from '../domain/statusProblems';
import { ProblemFacts } from './statusProblemFacts';

export type StatusCatalog = Pick<Catalog, 'page'>;

/** A count section: `capped` means more rows existed than were read, so every count is "at least". */
export interface Scanned {
  rowsRead: number;
  capped: boolean;
  /** The table does not exist yet (nothing was ever written to it). */
  tableMissing?: boolean;
}

export type Section<T> = ({ ok: true } & Scanned & T) | { ok: false; error: string };

export interface ExportRef {
  scope: string;
  exportName: string;
}

export interface ExportCounts {
  registered: number;
  sasDelivered: number;
  vanished: number;
  /** Up to `listLimit` vanished exports. */
  vanishedExports: (ExportRef & { missingSince?: string })[];
}

export interface TokenCounts {
  /** Tokens in use (status active or expired) by whole days left: expired < 0 ≤ 7 < 30 < later. */
  expired: number;
  within7Days: number;
  within30Days: number;
  later: number;
  /** Rotated or revoked: no longer in use, not bucketed. */
  retired: number;
  /** Up to `listLimit` in-use tokens expiring soonest, with the exports that deliver with them. */
  soonest: {
    storageAccount: string;
    tokenId: string;
    expiresOn: string;
    daysLeft: number;
    exportCount?: number;
    exports?: string[];
  }[];
}

export interface LandingCounts {
  sinceDays: number;
  since: string;
  total: number;
  byState: Record<LandingState, number>;
  /** Up to `listLimit` newest landings. */
  recent: (ExportRef & {
    period: string;
    state: LandingState;
    /** Absent: the manifest did not say (rows unknown). */
    rowCount?: number;
    totalBytes: number;
    catalogedAt: string;
  })[];
}

export interface BackfillCounts {
  /** One per (dataset, month) run row. */
  runsByStatus: Record<BackfillRunStatus, number>;
  backfills: number;
  /** Backfills with a run still pending or submitted. */
  activeBackfills: number;
  /** Up to `listLimit` backfills, most recently updated first, with each month's outcome. */
  recent: RecentBackfill[];
}

export interface RecentBackfill {
  backfillId: string;
  scope: string;
  updatedAt: string;
  months: { dataset: string; month: string; status: BackfillRunStatus; attempts?: number }[];
}

export interface LedgerProblemCounts {
  /** Cells in the states a person acts on (Stale, Missing), read with a filter. */
  stale: number;
  missing: number;
}

export interface CatalogCounts {
  exports: Section<ExportCounts>;
  tokens: Section<TokenCounts>;
  landings: Section<LandingCounts>;
  backfills: Section<BackfillCounts>;
  ledger: Section<LedgerProblemCounts>;
}

export interface CountOptions {
  /** Rows read per table at most. Default 5000. */
  maxRowsPerTable?: number;
  /** "Recent" landings: catalogued within this many days. Default 7. */
  recentLandingDays?: number;
  /** Rows listed per section (vanished exports, soonest tokens, recent landings). Default 10. */
  listLimit?: number;
  /** Problems listed per kind (every one is counted). Default 50. */
  problemsPerKind?: number;
}

/** What the problem rules need besides the rows: where the app answers (for the commands) and the
 * SAS alert window (the largest of SAS_ALERT_DAYS). */
export interface ProblemContext {
  list: ProblemList;
  appBaseUrl: string;
  alertWindowDays: number;
  /** The scope's healing policy: `off` keeps its ledger months out of the problems. */
  policyOf: (scope: string) => HealingPolicy;
}

const PAGE_SIZE = 1000;

/** Reads at most `cap` rows of a query, page by page, visiting each. */
async function scan<K extends TableKind>(
  catalog: StatusCatalog,
  query: CatalogQuery<K>,
  cap: number,
  visit: (row: Stored<RecordTypes[K]>) => void,
): Promise<Scanned> {
  let rowsRead = 0;
  let continuationToken: string | undefined;
  // Filtered queries may return empty pages with a continuation: bound the pages too.
  const maxPages = Math.max(10, Math.ceil(cap / PAGE_SIZE) * 4);
  try {
    for (let pages = 0; pages < maxPages; pages++) {
      const page = await catalog.page(query, {
        maxPageSize: Math.min(PAGE_SIZE, cap - rowsRead),
        ...(continuationToken ? { continuationToken } : {}),
      });
      for (const row of page.items.slice(0, cap - rowsRead)) visit(row);
      rowsRead += Math.min(page.items.length, cap - rowsRead);
      continuationToken = page.continuationToken;
      if (!continuationToken) return { rowsRead, capped: false };
      if (rowsRead >= cap) return { rowsRead, capped: true };
    }
    return { rowsRead, capped: true };
  } catch (error) {
    if (storageRefusal(error) === 'missing') return { rowsRead: 0, capped: false, tableMissing: true };
    throw error;
  }
}

export async function section<T>(work: () => Promise<Scanned & T>): Promise<Section<T>> {
  try {
    return { ok: true, ...(await work()) };
  } catch (error) {
    return { ok: false, error: `storage ${describeDependencyFailure(error)}` };
  }
}

/** Keeps the `limit` greatest items by `compare`, in descending order. */
function keepTop<T>(list: T[], item: T, limit: number, compare: (a: T, b: T) => number): void {
  if (limit <= 0) return;
  list.push(item);
  list.sort((a, b) => compare(b, a));
  if (list.length > limit) list.length = limit;
}

/** What one count section reads with: the catalog, the clock, its bounds and the problem facts. */
interface SectionScan {
  catalog: StatusCatalog;
  now: Date;
  cap: number;
  listLimit: number;
  facts: ProblemFacts;
}

export async function countCatalog(
  catalog: StatusCatalog,
  now: Date,
  options: CountOptions = {},
  problems?: ProblemContext,
): Promise<CatalogCounts> {
  const cap = positive('maxRowsPerTable', options.maxRowsPerTable ?? 5000);
  const sinceDays = positive('recentLandingDays', options.recentLandingDays ?? 7);
  const at: SectionScan = {
    catalog,
    now,
    cap,
    listLimit: options.listLimit ?? 10,
    facts: new ProblemFacts(),
  };
  const exports = section<ExportCounts>(() => countExports(at));
  const tokens = section<TokenCounts>(() => countTokens(at));
  const landings = section<LandingCounts>(() => countLandings(at, sinceDays));
  const backfills = section<BackfillCounts>(() => countBackfills(at));
  const ledger = section<LedgerProblemCounts>(() => countLedgerProblems(at));
  const counts = {
    exports: await exports,
    tokens: await tokens,
    landings: await landings,
    backfills: await backfills,
    ledger: await ledger,
  };
  if (counts.tokens.ok) {
    for (const t of counts.tokens.soonest) Object.assign(t, at.facts.servedBy(t.storageAccount));
  }
  if (problems) at.facts.derive(problems, now);
  return counts;
}

async function countExports({
  catalog,
  cap,
  listLimit,
  facts,
}: SectionScan): Promise<Scanned & ExportCounts> {
  const counts: ExportCounts = { registered: 0, sasDelivered: 0, vanished: 0, vanishedExports: [] };
  const scanned = await scan(catalog, allRows('exports'), cap, (e) => {
    facts.exportsSeen(e);
    counts.registered += 1;
    if (e.destination.sasDelivered) counts.sasDelivered += 1;
    if (e.missing) {
      counts.vanished += 1;
      if (counts.vanishedExports.length < listLimit) {
        counts.vanishedExports.push({
          scope: e.scope,
          exportName: e.exportName,
          ...(e.missingSince ? { missingSince: e.missingSince } : {}),
        });
      }
    }
  });
  return { ...scanned, ...counts };
}

async function countTokens({
  catalog,
  now,
  cap,
  listLimit,
  facts,
}: SectionScan): Promise<Scanned & TokenCounts> {
  const counts: TokenCounts = {
    expired: 0,
    within7Days: 0,
    within30Days: 0,
    later: 0,
    retired: 0,
    soonest: [],
  };
  const scanned = await scan(catalog, allRows('tokens'), cap, (t) => {
    facts.tokenSeen(t);
    if (t.status === 'rotated' || t.status === 'revoked') {
      counts.retired += 1;
      return;
    }
    const days = daysLeftOf(t.expiresOn, now);
    if (Number.isNaN(days) || days < 0 || t.status === 'expired') counts.expired += 1;
    else if (days <= 7) counts.within7Days += 1;
    else if (days <= 30) counts.within30Days += 1;
    else counts.later += 1;
    if (Number.isNaN(days)) return;
    keepTop(
      counts.soonest,
      { storageAccount: t.storageAccount, tokenId: t.tokenId, expiresOn: t.expiresOn, daysLeft: days },
      listLimit,
      (a, b) => b.daysLeft - a.daysLeft,
    );
  });
  return { ...scanned, ...counts };
}

async function countLandings(
  { catalog, now, cap, listLimit }: SectionScan,
  sinceDays: number,
): Promise<Scanned & LandingCounts> {
  const since = new Date(now.getTime() - sinceDays * 86_400_000);
  const byState = Object.fromEntries(LANDING_STATES.map((s) => [s, 0])) as Record<LandingState, number>;
  const counts: LandingCounts = { sinceDays, since: since.toISOString(), total: 0, byState, recent: [] };
  // The row's last write time narrows the scan; the catalogue time itself decides.
  const scanned = await scan(catalog, landingsWrittenSince(since), cap, (l) => {
    const at = Date.parse(l.catalogedAt);
    if (!(at >= since.getTime())) return;
    counts.total += 1;
    byState[l.state] += 1;
    keepTop(
      counts.recent,
      {
        scope: l.scope,
        exportName: l.exportName,
        period: l.period,
        state: l.state,
        ...(l.rowCount !== undefined ? { rowCount: l.rowCount } : {}),
        totalBytes: l.totalBytes,
        catalogedAt: l.catalogedAt,
      },
      listLimit,
      (a, b) => Date.parse(a.catalogedAt) - Date.parse(b.catalogedAt),
    );
  });
  return { ...scanned, ...counts };
}

async function countBackfills({
  catalog,
  cap,
  listLimit,
  facts,
}: SectionScan): Promise<Scanned & BackfillCounts> {
  const runsByStatus = Object.fromEntries(BACKFILL_RUN_STATUSES.map((s) => [s, 0])) as Record<
    BackfillRunStatus,
    number
  >;
  const all = new Map<string, RecentBackfill>();
  const active = new Set<string>();
  const scanned = await scan(catalog, allBackfillRuns(), cap, (b) => {
    facts.backfillRunSeen(b);
    runsByStatus[b.status] += 1;
    const known = all.get(b.backfillId) ?? {
      backfillId: b.backfillId,
      scope: b.scope,
      updatedAt: b.updatedAt,
      months: [],
    };
    if (b.updatedAt > known.updatedAt) known.updatedAt = b.updatedAt;
    known.months.push({
      dataset: b.dataset,
      month: b.month,
      status: b.status,
      ...(b.attempts !== undefined ? { attempts: b.attempts } : {}),
    });
    all.set(b.backfillId, known);
    if (b.status === 'pending' || b.status === 'submitted') active.add(b.backfillId);
  });
  const recent = [...all.values()]
    .sort((a, b) => Date.parse(b.updatedAt) - Date.parse(a.updatedAt))
    .slice(0, listLimit)
    .map((r) => ({
      ...r,
      months: r.months.sort((x, y) => (x.month < y.month ? -1 : x.month > y.month ? 1 : 0)).slice(0, 100),
    }));
  return { ...scanned, runsByStatus, backfills: all.size, activeBackfills: active.size, recent };
}

async function countLedgerProblems({
  catalog,
  cap,
  facts,
}: SectionScan): Promise<Scanned & LedgerProblemCounts> {
  const counts: LedgerProblemCounts = { stale: 0, missing: 0 };
  const scanned = await scan(catalog, ledgerCellsInStates(['Stale', 'Missing']), cap, (c) => {
    facts.ledgerCellSeen(c);
    if (c.state === 'Stale') counts.stale += 1;
    else counts.missing += 1;
  });
  return { ...scanned, ...counts };
}

function daysLeftOf(expiresOn: string, now: Date): number {
  try {
    return daysLeft(expiresOn, now);
  } catch {
    return Number.NaN; // an unreadable expiry counts as expired
  }
}
