// Health and status of the app: what it is configured to do (never a secret), whether the catalog
// answers, whether Cost Management accepts the app's identity on each managed scope, and bounded
// counts from the catalog tables, as JSON and as a small escaped HTML page for people.
//
// Cost: one Exports `list` per managed scope, at most `concurrency` at a time, remembered for a few
// minutes (ScopeAccessChecker) so a dashboard refreshing every 30 s costs ARM nothing; and at most
// `maxRowsPerTable` rows read per table, the counts then reported as "at least".
import { isRestError } from '@azure/core-rest-pipeline';
import { odata } from '@azure/data-tables';
import { ConfigError, type AppConfig, type StorageConnection } from '../config';
import {
  BACKFILL_RUN_STATUSES,
  LANDING_STATES,
  mapWithConcurrency,
  type BackfillRunStatus,
  type Catalog,
  type LandingState,
  type RecordTypes,
  type Stored,
  type TableKind,
} from '../azure/catalog';
import { describeDependencyFailure, withTimeout } from '../azure/dependencyFaults';
import { AuthorizationError, ThrottledError, isCostManagementError } from '../azure/armErrors';
import type { CostExportsApi } from '../azure/costExports';
import { serviceEndpoint } from '../azure/storageClients';
import { appBaseUrl, currentToken, daysLeft } from '../domain/alertPolicy';
import type { HealingPolicy } from '../domain/ledger';
import { healingPolicyOf } from './healing';
import { readHeatmap, type Heatmap } from './statusHeatmap';
import {
  exportProblem,
  failedMonthProblem,
  ledgerCellProblem,
  overallStatus,
  ProblemList,
  tokenProblem,
  type BackfillDestination,
  type ProblemKind,
  type StatusProblem,
} from '../domain/statusProblems';
import { redactError, redactSecrets } from '../domain/redact';
import { configNotices, type ConfigNoticeInput } from '../domain/configNotices';
import { billingAgreement, parseScope, scopeKey, type Scope, type ScopeKind } from '../domain/scope';
import type { FleetStatus } from './fleet';

// ------------------------------------------------------------------------------------------ health

export type HealthResult =
  | { status: 200; body: { status: 'ok'; version: string; notices?: string[] } }
  | { status: 503; body: { status: 'unhealthy'; version: string; problems: string[] } };

/** Liveness: the settings validate. No I/O; `validate` throws a ConfigError (or anything else).
 * Valid settings that leave something off (mail) come back as `notices`. */
export function checkHealth(validate: () => ConfigNoticeInput, version: string): HealthResult {
  try {
    const notices = configNotices(validate());
    return { status: 200, body: { status: 'ok', version, ...(notices.length > 0 ? { notices } : {}) } };
  } catch (error) {
    // ConfigError problems name the variable and never its secret value; redacted all the same,
    // because some echo URLs, which may carry a SAS query.
    const problems =
      error instanceof ConfigError ? error.problems.map((p) => redactSecrets(p)) : [redactError(error)];
    return { status: 503, body: { status: 'unhealthy', version, problems } };
  }
}

// ------------------------------------------------------------------------------ configuration summary

export interface ConnectionSummary {
  /** The app setting (prefix) the connection comes from. */
  setting: string;
  auth: 'connection string' | 'development storage' | 'managed identity';
  userAssignedIdentity?: boolean;
  tableEndpoint?: string;
  blobEndpoint?: string;
}

export interface ConfigurationSummary {
  costManagement: { endpoint: string; clientType: string; extraCaTrusted: boolean };
  storage: {
    catalog: ConnectionSummary;
    exports: ConnectionSummary;
    exportsContainer: string;
    landingTriggerSource: string;
    blobEndpointTemplate: string;
  };
  managedScopes: string[];
  secrets: { store: string; keyVaultUri?: string };
  schedules: { sasWatch: string; outOfBand: string; exportSync: string };
  thresholds: {
    sasAlertDays: number[];
    outOfBandConcurrency: number;
    backfillMaxConcurrency: number;
    backfillMaxAttempts: number;
    backfillLandingTimeoutMinutes: number;
    backfillPollIntervalMinutes: number;
  };
  alerts: {
    transport: string;
    /** How many; the addresses are not shown. */
    recipients: number;
    sender?: string;
    acsEndpoint?: string;
    smtp?: { host: string; port: number; secure: boolean };
  };
  durableTaskHub: string;
}

function connectionSummary(connection: StorageConnection): ConnectionSummary {
  if (connection.kind === 'identity') {
    return {
      setting: connection.name,
      auth: 'managed identity',
      userAssignedIdentity: connection.clientId !== undefined,
      ...(connection.tableServiceUri ? { tableEndpoint: connection.tableServiceUri } : {}),
      ...(connection.blobServiceUri ? { blobEndpoint: connection.blobServiceUri } : {}),
    };
  }
  // Only the endpoints the string selects: never the string itself (it may hold an account key).
  const development = /usedevelopmentstorage\s*=\s*true/i.test(connection.connectionString);
  const table = serviceEndpoint(connection.connectionString, 'table');
  const blob = serviceEndpoint(connection.connectionString, 'blob');
  return {
    setting: connection.name,
    auth: development ? 'development storage' : 'connection string',
    ...(table ? { tableEndpoint: table } : {}),
    ...(blob ? { blobEndpoint: blob } : {}),
  };
}

/** What the app is set up to do, without a secret: endpoints, names, schedules and limits only. */
export function configurationSummary(config: AppConfig): ConfigurationSummary {
  const { alerts } = config;
  return redactDeep({
    costManagement: {
      endpoint: config.costManagement.endpoint,
      clientType: config.costManagement.clientType,
      extraCaTrusted: config.costManagement.caFile !== undefined,
    },
    storage: {
      catalog: connectionSummary(config.storage.catalog),
      exports: connectionSummary(config.storage.exports),
      exportsContainer: config.storage.exportsContainer,
      landingTriggerSource: config.storage.landingTriggerSource,
      blobEndpointTemplate: config.storage.blobEndpointTemplate,
    },
    managedScopes: [...config.managedScopes],
    secrets: {
      store: config.secrets.store,
      ...(config.secrets.keyVaultUri ? { keyVaultUri: config.secrets.keyVaultUri } : {}),
    },
    schedules: {
      sasWatch: config.sasWatch.schedule,
      outOfBand: config.outOfBand.schedule,
      exportSync: config.exportSync.schedule,
    },
    thresholds: {
      sasAlertDays: [...config.sasWatch.thresholdsDays],
      outOfBandConcurrency: config.outOfBand.concurrency,
      backfillMaxConcurrency: config.backfill.maxConcurrency,
      backfillMaxAttempts: config.backfill.maxAttempts,
      backfillLandingTimeoutMinutes: config.backfill.landingTimeoutMinutes,
      backfillPollIntervalMinutes: config.backfill.pollIntervalMinutes,
    },
    alerts: {
      transport: alerts.transport,
      recipients: alerts.recipients.length,
      ...(alerts.sender ? { sender: alerts.sender } : {}),
      ...(alerts.acsEndpoint ? { acsEndpoint: alerts.acsEndpoint } : {}),
      ...(alerts.smtp
        ? { smtp: { host: alerts.smtp.host, port: alerts.smtp.port, secure: alerts.smtp.secure } }
        : {}),
    },
    durableTaskHub: config.durableTaskHub,
  });
}

// ------------------------------------------------------------------------------------- scope access

export type ScopeAccessState = 'ok' | 'forbidden' | 'throttled' | 'error';

export interface ScopeAccess {
  /** Canonical scope, or the configured text when it is not a scope. */
  scope: string;
  kind?: ScopeKind;
  access: ScopeAccessState;
  /** Exports Cost Management lists at the scope (when `ok`). */
  exportsInCostManagement?: number;
  /** What went wrong, redacted. */
  message?: string;
  /** For `forbidden`: which role to grant at this kind of scope. */
  roleHint?: string;
  /** For `throttled`: the wait Cost Management asked for. */
  retryAfterSeconds?: number;
  checkedAt: string;
  /** True when this answer came from the cache rather than a call made for this request. */
  cached: boolean;
}

const DEPLOYMENT_DOC = 'See docs/deployment.md, "Grant Cost Management access".';

/** The role the app identity needs to manage exports at a scope, per docs/deployment.md. */
export function roleHint(scope: Scope): string {
  const at = scope.canonical;
  const hint = ((): string => {
    switch (scope.kind) {
      case 'subscription':
      case 'resourceGroup':
      case 'managementGroup':
        return `Grant the app's identity Cost Management Contributor (Azure RBAC) at ${at}.`;
      case 'billingAccount':
        return billingAgreement(scope) === 'EA'
          ? `Grant the app's identity the EnrollmentReader billing role on enrollment ${scope.billingAccountId} (an Enterprise Administrator assigns it with the Billing REST API).`
          : `Grant the app's identity Billing account contributor on billing account ${scope.billingAccountId} (a billing account owner assigns it with the Billing REST API).`;
      case 'department':
        return `Grant the app's identity the DepartmentReader billing role on department ${scope.departmentId} (an Enterprise or Department Administrator assigns it); the "DA view charges" policy must be on.`;
      case 'enrollmentAccount':
        return `No service-principal role exists at enrollment account level: grant DepartmentReader on its department, or EnrollmentReader on enrollment ${scope.billingAccountId}; the "AO view charges" policy must be on.`;
      case 'billingProfile':
        return `Grant the app's identity Billing profile contributor on billing profile ${scope.billingProfileId} (a billing profile or billing account owner assigns it).`;
      case 'invoiceSection':
        return `Grant the app's identity Invoice section contributor on invoice section ${scope.invoiceSectionId} (an invoice section, billing profile or billing account owner assigns it).`;
      case 'customer':
        return `Grant the app's identity a customer-scope billing role (contributor) from GET ${at}/billingRoleDefinitions; the partner's billing admin assigns it.`;
    }
  })();
  return `${hint} ${DEPLOYMENT_DOC}`;
}

type AccessAnswer = Omit<ScopeAccess, 'cached'>;

interface CacheEntry {
  answer: Promise<AccessAnswer>;
  /** Infinity while the call is in flight: concurrent requests share it. */
  expiresAt: number;
}

export interface ScopeAccessCheckerOptions {
  /** How long an answer is reused. Default 5 minutes. */
  ttlMs?: number;
  /** `list` calls in flight at once. Default 4. */
  concurrency?: number;
  /** Deadline for one `list` call, transient retries included. Default 20 s. */
  callTimeoutMs?: number;
  /** Longest a throttled answer is kept when Cost Management asks for a longer wait. Default 1 hour. */
  maxThrottledTtlMs?: number;
  now?: () => number;
}

export type ExportLister = Pick<CostExportsApi, 'list'>;

/** One `list` per scope, remembered per process for `ttlMs` (longer for a throttled scope, up to the
 * wait it was told), so refreshing a dashboard does not spend the app's ARM quota. */
export class ScopeAccessChecker {
  private readonly entries = new Map<string, CacheEntry>();
  private readonly ttlMs: number;
  private readonly concurrency: number;
  private readonly callTimeoutMs: number;
  private readonly maxThrottledTtlMs: number;
  private readonly now: () => number;

  constructor(options: ScopeAccessCheckerOptions = {}) {
    this.ttlMs = positive('ttlMs', options.ttlMs ?? 5 * 60_000);
    this.concurrency = positive('concurrency', options.concurrency ?? 4);
    this.callTimeoutMs = positive('callTimeoutMs', options.callTimeoutMs ?? 20_000);
    this.maxThrottledTtlMs = positive('maxThrottledTtlMs', options.maxThrottledTtlMs ?? 3_600_000);
    this.now = options.now ?? Date.now;
  }

  /** Answers for `scopes` in their order. Never throws: every failure becomes an answer. */
  async check(scopes: readonly string[], exports: ExportLister): Promise<ScopeAccess[]> {
    const now = this.now();
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key);

    // Entries for new scopes are registered before the first await, so a concurrent request shares
    // the calls instead of making its own.
    const answers: Promise<ScopeAccess>[] = [];
    const calls: { scope: Scope; resolve: (answer: AccessAnswer) => void }[] = [];
    for (const text of scopes) {
      let scope: Scope;
      try {
        scope = parseScope(text);
      } catch (error) {
        answers.push(
          Promise.resolve({
            scope: redactSecrets(text),
            access: 'error',
            message: redactError(error).replace(/^ScopeError: /, ''),
            checkedAt: new Date(now).toISOString(),
            cached: false,
          }),
        );
        continue;
      }
      const key = scopeKey(scope);
      const known = this.entries.get(key);
      if (known) {
        answers.push(known.answer.then((answer) => ({ ...answer, cached: true })));
        continue;
      }
      let resolve!: (answer: AccessAnswer) => void;
      const answer = new Promise<AccessAnswer>((r) => (resolve = r));
      const entry: CacheEntry = { answer, expiresAt: Number.POSITIVE_INFINITY };
      this.entries.set(key, entry);
      calls.push({
        scope,
        resolve: (a) => {
          entry.expiresAt = this.expiry(a);
          resolve(a);
        },
      });
      answers.push(answer.then((a) => ({ ...a, cached: false })));
    }
    await mapWithConcurrency(calls, this.concurrency, async ({ scope, resolve }) => {
      // call() turns failures into answers; the guard keeps a bug from leaving waiters pending forever.
      const answer = await this.call(scope, exports).catch((error: unknown): AccessAnswer => ({
        scope: scope.canonical,
        kind: scope.kind,
        access: 'error',
        message: redactError(error),
        checkedAt: this.stamp(),
      }));
      resolve(answer);
    });
    return Promise.all(answers);
  }

  /** Forgets every answer (tests; a redeployment does this anyway). */
  clear(): void {
    this.entries.clear();
  }

  private expiry(answer: AccessAnswer): number {
    const checkedAt = Date.parse(answer.checkedAt);
    const wait = answer.retryAfterSeconds === undefined ? 0 : answer.retryAfterSeconds * 1000;
    return checkedAt + Math.max(this.ttlMs, Math.min(wait, this.maxThrottledTtlMs));
  }

  private async call(scope: Scope, exports: ExportLister): Promise<AccessAnswer> {
    const base = { scope: scope.canonical, kind: scope.kind };
    const deadline = AbortSignal.timeout(this.callTimeoutMs);
    try {
      const listed = await exports.list(scope, { abortSignal: deadline });
      return { ...base, access: 'ok', exportsInCostManagement: listed.length, checkedAt: this.stamp() };
    } catch (error) {
      const checkedAt = this.stamp();
      if (error instanceof AuthorizationError) {
        return { ...base, access: 'forbidden', message: error.message, roleHint: roleHint(scope), checkedAt };
      }
      if (error instanceof ThrottledError) {
        return {
          ...base,
          access: 'throttled',
          message: error.message,
          retryAfterSeconds: Math.ceil(error.retryAfterMs / 1000),
          checkedAt,
        };
      }
      if (deadline.aborted && !isCostManagementError(error)) {
        return { ...base, access: 'error', message: `no answer within ${this.callTimeoutMs} ms`, checkedAt };
      }
      return {
        ...base,
        access: 'error',
        message: isCostManagementError(error) ? error.message : redactError(error),
        checkedAt,
      };
    }
  }

  private stamp(): string {
    return new Date(this.now()).toISOString();
  }
}

// ------------------------------------------------------------------------------------ catalog counts

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
    rowCount: number;
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
  table: K,
  filter: string | undefined,
  cap: number,
  visit: (row: Stored<RecordTypes[K]>) => void,
): Promise<Scanned> {
  let rowsRead = 0;
  let continuationToken: string | undefined;
  // Filtered queries may return empty pages with a continuation: bound the pages too.
  const maxPages = Math.max(10, Math.ceil(cap / PAGE_SIZE) * 4);
  try {
    for (let pages = 0; pages < maxPages; pages++) {
      const page = await catalog.page(table, filter, {
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
    if (isRestError(error) && error.statusCode === 404)
      return { rowsRead: 0, capped: false, tableMissing: true };
    throw error;
  }
}

async function section<T>(work: () => Promise<Scanned & T>): Promise<Section<T>> {
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

export async function countCatalog(
  catalog: StatusCatalog,
  now: Date,
  options: CountOptions = {},
  problems?: ProblemContext,
): Promise<CatalogCounts> {
  const cap = positive('maxRowsPerTable', options.maxRowsPerTable ?? 5000);
  const sinceDays = positive('recentLandingDays', options.recentLandingDays ?? 7);
  const listLimit = options.listLimit ?? 10;
  const facts = new ProblemFacts();

  const exports = section<ExportCounts>(async () => {
    const counts: ExportCounts = { registered: 0, sasDelivered: 0, vanished: 0, vanishedExports: [] };
    const scanned = await scan(catalog, 'exports', undefined, cap, (e) => {
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
  });

  const tokens = section<TokenCounts>(async () => {
    const counts: TokenCounts = {
      expired: 0,
      within7Days: 0,
      within30Days: 0,
      later: 0,
      retired: 0,
      soonest: [],
    };
    const scanned = await scan(catalog, 'tokens', undefined, cap, (t) => {
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
  });

  const landings = section<LandingCounts>(async () => {
    const since = new Date(now.getTime() - sinceDays * 86_400_000);
    const byState = Object.fromEntries(LANDING_STATES.map((s) => [s, 0])) as Record<LandingState, number>;
    const counts: LandingCounts = { sinceDays, since: since.toISOString(), total: 0, byState, recent: [] };
    // No index by time: the service-side filter on the row's last write time narrows the scan; the
    // catalogue time itself decides. The table's file and period rows have `kind` file / period.
    const filter = odata`Timestamp ge ${since} and kind eq ${'landing'}`;
    const scanned = await scan(catalog, 'landings', filter, cap, (l) => {
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
          rowCount: l.rowCount,
          totalBytes: l.totalBytes,
          catalogedAt: l.catalogedAt,
        },
        listLimit,
        (a, b) => Date.parse(a.catalogedAt) - Date.parse(b.catalogedAt),
      );
    });
    return { ...scanned, ...counts };
  });

  const backfills = section<BackfillCounts>(async () => {
    const runsByStatus = Object.fromEntries(BACKFILL_RUN_STATUSES.map((s) => [s, 0])) as Record<
      BackfillRunStatus,
      number
    >;
    const all = new Map<string, RecentBackfill>();
    const active = new Set<string>();
    // Run rows only: the same table holds lookup rows (kind 'lookup') for the blob trigger.
    const scanned = await scan(catalog, 'backfillRuns', odata`kind eq ${'run'}`, cap, (b) => {
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
  });

  const ledger = section<LedgerProblemCounts>(async () => {
    const counts: LedgerProblemCounts = { stale: 0, missing: 0 };
    const filter = odata`state eq ${'Stale'} or state eq ${'Missing'}`;
    const scanned = await scan(catalog, 'ledger', filter, cap, (c) => {
      facts.ledgerCellSeen(c);
      if (c.state === 'Stale') counts.stale += 1;
      else counts.missing += 1;
    });
    return { ...scanned, ...counts };
  });

  const counts = {
    exports: await exports,
    tokens: await tokens,
    landings: await landings,
    backfills: await backfills,
    ledger: await ledger,
  };
  if (counts.tokens.ok) {
    for (const t of counts.tokens.soonest) Object.assign(t, facts.servedBy(t.storageAccount));
  }
  if (problems) facts.derive(problems, now);
  return counts;
}

/** The rows the problem rules need, gathered while the sections scan (each bounded by the row cap). */
class ProblemFacts {
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

  derive({ list, appBaseUrl, alertWindowDays, policyOf }: ProblemContext, now: Date): void {
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
            ...(c.healing
              ? { healing: `healing ${c.healing.outcome} ${c.healing.lastAt}, attempt ${c.healing.attempts}` }
              : {}),
          },
          appBaseUrl,
        ),
      );
    }
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
    // Only the token an account's exports should carry: an older one still `active` is not in use.
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

// ------------------------------------------------------------------------------------------ report

export interface CatalogReachability {
  reachable: boolean;
  /** False when reachable but no table was created yet (nothing registered or landed so far). */
  tablesCreated?: boolean;
  error?: string;
}

export interface StatusReport {
  /** Derived from the problems: `degraded` whenever there is one (see `problemTotals`). */
  status: 'ok' | 'degraded';
  version: string;
  generatedAt: string;
  /** What is wrong, each with its fix; at most `problemsPerKind` of each kind. */
  problems: StatusProblem[];
  /** Every problem counted by kind, listed or not. */
  problemTotals: Record<ProblemKind, number>;
  /** Valid settings that leave something off (src/domain/configNotices.ts); not problems. */
  notices: string[];
  configuration: ConfigurationSummary;
  catalog: CatalogReachability;
  scopes: ScopeAccess[];
  /** Absent when the catalog is unreachable. */
  counts?: CatalogCounts;
  /** The export fleet: outcome of the last reconcile of every export it manages. */
  fleet?: FleetStatus | { error: string };
  /** One page of the ledger, months × exports; absent when the catalog is unreachable. */
  heatmap?: Section<Heatmap>;
}

/** What the status endpoint reads, built by the composition root (appServices.ts) or a test. */
export interface StatusRuntime {
  config: AppConfig;
  /** Undefined when the catalog could not be set up; `catalogError` says why. */
  catalog?: StatusCatalog;
  catalogError?: unknown;
  exports: ExportLister;
  /** Per process, so a dashboard refresh does not call ARM again. */
  checker: ScopeAccessChecker;
  now?: () => Date;
  counts?: CountOptions;
  fleet?: () => Promise<FleetStatus>;
}

export interface StatusDependencies {
  config: AppConfig;
  /** Undefined when the catalog could not be set up; `catalogError` says why. */
  catalog?: StatusCatalog;
  catalogError?: unknown;
  exports: ExportLister;
  checker: ScopeAccessChecker;
  version: string;
  now?: () => Date;
  /** Where the app answers, for the commands in the fixes (default from WEBSITE_HOSTNAME). */
  appBaseUrl?: string;
  /** The export fleet's recorded outcomes (services/fleet.ts fleetStatus). */
  fleet?: () => Promise<FleetStatus>;
  /** Continuation token of the heatmap page to show (the page's "next exports" link). */
  ledgerPage?: string;
}

/** How long the status page waits for the catalog's first answer before it reports it unreachable. */
export const CATALOG_PROBE_MS = 3_000;

async function probeCatalog(
  catalog: StatusCatalog | undefined,
  setupError: unknown,
): Promise<CatalogReachability> {
  if (!catalog) {
    return {
      reachable: false,
      error:
        setupError === undefined
          ? 'catalog not configured'
          : `storage ${describeDependencyFailure(setupError)}`,
    };
  }
  try {
    // Its own budget: a frozen account must make the page say so within seconds, not hang it.
    await withTimeout(catalog.page('exports', undefined, { maxPageSize: 1 }), CATALOG_PROBE_MS, 'storage');
    return { reachable: true, tablesCreated: true };
  } catch (error) {
    if (isRestError(error) && error.statusCode === 404) return { reachable: true, tablesCreated: false };
    return { reachable: false, error: `storage ${describeDependencyFailure(error)}` };
  }
}

/** Everything the status endpoint shows. Never throws for a failing dependency: it reports it. */
export async function collectStatus(
  deps: StatusDependencies,
  options: CountOptions = {},
): Promise<StatusReport> {
  const now = (deps.now ?? (() => new Date()))();
  const [catalog, scopes] = await Promise.all([
    probeCatalog(deps.catalog, deps.catalogError),
    deps.checker.check(deps.config.managedScopes, deps.exports),
  ]);
  const problems = new ProblemList(positive('problemsPerKind', options.problemsPerKind ?? 50));
  if (!catalog.reachable) {
    problems.add({
      kind: 'catalogUnreachable',
      subject: 'catalog',
      message: `the catalog tables do not answer: ${catalog.error ?? 'unknown error'}`,
      fix: 'Check the AzureWebJobsStorage setting and that the storage account is reachable from the app (docs/deployment.md).',
    });
  }
  for (const s of scopes) if (s.access !== 'ok') problems.add(scopeProblem(s));
  const context: ProblemContext = {
    list: problems,
    appBaseUrl: deps.appBaseUrl ?? appBaseUrl(process.env.WEBSITE_HOSTNAME),
    alertWindowDays: Math.max(0, ...deps.config.sasWatch.thresholdsDays),
    policyOf: (scope) => healingPolicyOf(deps.config, scope),
  };
  const counts =
    catalog.reachable && deps.catalog ? await countCatalog(deps.catalog, now, options, context) : undefined;
  const heatmap =
    catalog.reachable && deps.catalog
      ? await section<Heatmap>(async () => ({
          rowsRead: 0,
          capped: false,
          ...(await readHeatmap(deps.catalog!, now, 13, deps.ledgerPage)),
        }))
      : undefined;
  if (counts) {
    for (const [name, s] of Object.entries(counts) as [string, Section<object>][]) {
      if (!s.ok) {
        problems.add({
          kind: 'countFailed',
          subject: name,
          message: `reading the ${name} table failed: ${s.error}`,
          fix: 'Problems in that table cannot be seen until it answers; check the storage account and the app logs.',
        });
      }
    }
  }
  const fleet = deps.fleet ? await fleetSection(deps.fleet, problems, context.appBaseUrl) : undefined;
  const report = redactDeep({
    status: overallStatus(problems.totals),
    version: deps.version,
    generatedAt: now.toISOString(),
    problems: problems.listed,
    problemTotals: problems.totals,
    notices: configNotices(deps.config),
    configuration: configurationSummary(deps.config),
    catalog,
    scopes,
    ...(counts ? { counts } : {}),
    ...(fleet ? { fleet } : {}),
    ...(heatmap ? { heatmap } : {}),
  });
  // A fix is built from our own templates and validated names (scope, account, container, folder),
  // never from a stored error text; redaction would mangle its placeholders (`"sasToken":"<NEW_SAS_TOKEN>"`).
  report.problems.forEach((p, i) => (p.fix = problems.listed[i]!.fix));
  return report;
}

/** The fleet's outcomes, each export that needs a person listed as a problem with its fix. */
async function fleetSection(
  read: () => Promise<FleetStatus>,
  problems: ProblemList,
  base: string,
): Promise<FleetStatus | { error: string }> {
  let fleet: FleetStatus;
  try {
    fleet = await read();
  } catch (error) {
    const message = `storage ${describeDependencyFailure(error)}`;
    problems.add({
      kind: 'countFailed',
      subject: 'fleet',
      message: `reading the fleet table failed: ${message}`,
      fix: 'Fleet outcomes cannot be seen until it answers; check the storage account and the app logs.',
    });
    return { error: message };
  }
  for (const o of fleet.attention) {
    const reconcile = `curl -X POST "${base}/api/fleet/reconcile?code=<function-key>" -d '{"assignmentId":"${o.assignmentId}"}'`;
    const fix = ((): string => {
      switch (o.outcome) {
        case 'forbidden':
          return `${roleHint(parseScope(o.scope))} Then: ${reconcile}`;
        case 'not-owned':
          return `An export with this name exists without the fleet's ownership marker and is left alone: rename or delete it, then: ${reconcile}`;
        case 'throttled':
          return `Cost Management throttled the round; the next round retries it, or now: ${reconcile}`;
        default:
          return `See the error, fix its cause, then: ${reconcile}`;
      }
    })();
    problems.add({
      kind: 'fleetExport',
      subject: `${o.scope} · ${o.exportName}`,
      message: `${o.outcome}${o.error ? `: ${o.error}` : ''} (assignment ${o.assignmentId}, ${o.at})`,
      fix,
    });
  }
  return fleet;
}

function scopeProblem(s: ScopeAccess): StatusProblem {
  const base = { kind: 'scopeAccess' as const, subject: s.scope };
  switch (s.access) {
    case 'forbidden':
      return { ...base, message: `forbidden: ${s.message ?? ''}`, fix: s.roleHint ?? DEPLOYMENT_DOC };
    case 'throttled':
      return {
        ...base,
        message: `throttled: ${s.message ?? ''}`,
        fix: `Wait${s.retryAfterSeconds !== undefined ? ` ${s.retryAfterSeconds} s` : ''} for Cost Management's limit to reset; lower the app's concurrency settings if it persists.`,
      };
    default:
      return {
        ...base,
        message: `error: ${s.message ?? ''}`,
        fix: 'Check the scope in MANAGED_SCOPES (one of the nine scope kinds) and that Cost Management answers.',
      };
  }
}

// -------------------------------------------------------------------------------------------- HTML

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Redacts, then escapes for HTML text and attribute values. */
export function escapeHtml(value: string | number | boolean | undefined): string {
  const text = value === undefined ? '' : String(value);
  return redactSecrets(text).replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

const h = escapeHtml;

/** Escapes without redacting: for the fixes, which hold placeholders redaction would mangle. */
function escapeOnly(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

function atLeast(s: Scanned, n: number): string {
  return s.capped ? `at least ${h(n)}` : h(n);
}

function table(headers: string[], rows: string[][]): string {
  if (rows.length === 0) return '<p class="muted">none</p>';
  const head = headers.map((x) => `<th>${h(x)}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('\n');
  return `<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

/** Label/value rows; values are already escaped HTML. */
function facts(pairs: [string, string][]): string {
  return `<table class="facts"><tbody>${pairs
    .map(([k, v]) => `<tr><th>${h(k)}</th><td>${v}</td></tr>`)
    .join('')}</tbody></table>`;
}

function badge(state: string): string {
  const kind = state === 'ok' ? 'good' : state === 'throttled' || state === 'degraded' ? 'warn' : 'bad';
  return `<span class="badge ${kind}">${h(state)}</span>`;
}

function scannedNote(s: Scanned): string {
  if (s.tableMissing) return '<p class="muted">table not created yet</p>';
  return s.capped ? `<p class="muted">stopped after ${h(s.rowsRead)} rows: counts are lower bounds</p>` : '';
}

function sectionHtml<T>(title: string, s: Section<T> | undefined, body: (v: Scanned & T) => string): string {
  if (!s) return `<h3>${h(title)}</h3><p class="muted">catalog unreachable</p>`;
  if (!s.ok) return `<h3>${h(title)}</h3><p class="bad">${h(s.error)}</p>`;
  return `<h3>${h(title)}</h3>${body(s)}${scannedNote(s)}`;
}

function connectionHtml(c: ConnectionSummary): string {
  const parts = [`${h(c.setting)} (${h(c.auth)}${c.userAssignedIdentity ? ', user-assigned' : ''})`];
  if (c.tableEndpoint) parts.push(`tables ${h(c.tableEndpoint)}`);
  if (c.blobEndpoint) parts.push(`blobs ${h(c.blobEndpoint)}`);
  return parts.join('<br>');
}

const STYLE = `body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:70rem;padding:0 1rem;color:#1b1b1b}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}h3{font-size:1rem}
table{border-collapse:collapse;margin:.5rem 0}th,td{text-align:left;padding:.25rem .6rem;border-bottom:1px solid #eee;vertical-align:top}
.facts th{font-weight:600;color:#444}.muted{color:#777}.bad{color:#a4262c}
.badge{padding:.05rem .45rem;border-radius:.6rem;font-size:.85em;font-weight:600}
.problem{margin:.4rem 0}.fix code{background:#f3f2f1;padding:0 .2rem;word-break:break-all}
.heatmap td.cell{width:2.2rem;text-align:center;font-weight:600;border:1px solid #fff;padding:.15rem}
.heatmap tr.scope th{background:#f3f2f1;font-weight:400}.cell.none{background:#fafafa}
.s-Final{background:#107c10;color:#fff}.s-Open{background:#9fd89f}.s-Stale{background:#ffaa44}
.s-Missing{background:#d13438;color:#fff}.s-Failed{background:#750b1c;color:#fff}.s-NoData{background:#c8c6c4}
.legend .cell{display:inline-block;width:1.3rem;text-align:center;font-weight:600}
.bar{display:inline-block;height:.7rem;vertical-align:middle;border-radius:.2rem}.bar.good{background:#107c10}
.bar.warn{background:#ffaa44}.bar.bad{background:#d13438}
.chip{display:inline-block;padding:0 .35rem;margin:.1rem;border-radius:.5rem;font-size:.85em;background:#edebe9}
.b-landed{background:#dff6dd}.b-failed,.b-timedOut{background:#fde7e9;color:#a4262c}.b-dataNotAvailable{background:#c8c6c4}
.good{background:#dff6dd;color:#107c10}.warn{background:#fff4ce;color:#8a6100}.badge.bad{background:#fde7e9}
code{font-size:.9em}`;

function problemsHtml(report: StatusReport): string {
  if (report.problems.length === 0) return '<p class="muted" id="problems">No problems.</p>';
  const total = Object.values(report.problemTotals).reduce((a, b) => a + b, 0);
  const items = report.problems
    .map(
      (p) =>
        `<li class="problem" data-kind="${h(p.kind)}"><strong>${h(p.kind)}</strong> <code>${h(p.subject)}</code>` +
        `<br>${h(p.message)}<br><span class="fix">Fix: <code>${escapeOnly(p.fix)}</code></span></li>`,
    )
    .join('\n');
  const more =
    total > report.problems.length
      ? `<p class="muted">and ${h(total - report.problems.length)} more</p>`
      : '';
  return `<h2>Problems (${h(total)})</h2><ul id="problems">\n${items}\n</ul>${more}`;
}

/** `2026-12-04 15:43 UTC (3 h ago)`: the instant and its distance from `now`. */
export function readableTime(iso: string | undefined, now: Date): string {
  if (!iso) return '';
  const ms = Date.parse(/(?:Z|[+-]\d{2}:\d{2})$/i.test(iso) ? iso : `${iso}Z`);
  if (Number.isNaN(ms)) return iso;
  const text = `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  const diff = ms - now.getTime();
  const abs = Math.abs(diff);
  const span =
    abs < 60_000
      ? 'now'
      : abs < 3_600_000
        ? `${Math.round(abs / 60_000)} min`
        : abs < 172_800_000
          ? `${Math.round(abs / 3_600_000)} h`
          : `${Math.round(abs / 86_400_000)} d`;
  return span === 'now' ? `${text} (now)` : `${text} (${diff < 0 ? `${span} ago` : `in ${span}`})`;
}

const STATE_LETTER: Record<string, string> = {
  Final: 'F',
  Open: 'O',
  Stale: 'S',
  Missing: 'M',
  Failed: 'X',
  NoData: '0',
};

function heatmapHtml(section: Section<Heatmap> | undefined): string {
  if (!section) return '<p class="muted">catalog unreachable</p>';
  if (!section.ok) return `<p class="bad">${h(section.error)}</p>`;
  if (section.tableMissing || section.rows.length === 0) {
    return '<p class="muted" id="heatmap">no ledger cells yet: they appear with the first landing or the first daily sweep</p>';
  }
  const head = section.months.map((m) => `<th>${h(m)}</th>`).join('');
  const body: string[] = [];
  let scope: string | undefined;
  for (const row of section.rows) {
    if (row.scope !== scope) {
      scope = row.scope;
      body.push(
        `<tr class="scope"><th colspan="${section.months.length + 1}"><code>${h(scope)}</code></th></tr>`,
      );
    }
    const cells = section.months.map((m) => {
      const cell = row.cells[m];
      if (!cell) return '<td class="cell none"></td>';
      const run = cell.runId
        ? ` · run ${cell.runId}${cell.rows !== undefined ? ` (${cell.rows} rows)` : ''} submitted ${cell.runTime ?? ''}`
        : '';
      const title = `${m} ${cell.state}: ${cell.reason}${run}${cell.healing ? ` · ${cell.healing}` : ''}`;
      return `<td class="cell s-${h(cell.state)}" data-month="${h(m)}" data-state="${h(cell.state)}" title="${h(title)}">${h(STATE_LETTER[cell.state] ?? '?')}${cell.healing ? '<sup>h</sup>' : ''}</td>`;
    });
    body.push(`<tr data-export="${h(row.exportName)}"><th>${h(row.exportName)}</th>${cells.join('')}</tr>`);
  }
  const legend = Object.entries(STATE_LETTER)
    .map(([state, letter]) => `<span class="cell s-${h(state)}">${h(letter)}</span> ${h(state)}`)
    .join(' ');
  const next = section.continuationToken
    ? `<p><a href="?format=html&amp;ledgerPage=${encodeURIComponent(section.continuationToken)}">next exports →</a> <span class="muted">(add your function key)</span></p>`
    : '';
  return `<p class="legend">${legend} · <sup>h</sup> healing tried · hover a cell for its run</p>
<table class="heatmap" id="heatmap"><thead><tr><th>export</th>${head}</tr></thead><tbody>
${body.join('\n')}
</tbody></table>${next}`;
}

function tokenTimeline(tokens: TokenCounts['soonest'], now: Date): string {
  if (tokens.length === 0) return '';
  const rows = tokens.map((t) => {
    const width = Math.max(2, Math.min(100, (Math.max(t.daysLeft, 0) / 90) * 100));
    const kind = t.daysLeft < 0 ? 'bad' : t.daysLeft <= 7 ? 'bad' : t.daysLeft <= 30 ? 'warn' : 'good';
    const served = t.exports?.length
      ? `${h(t.exports.join(', '))}${(t.exportCount ?? 0) > t.exports.length ? ` and ${h((t.exportCount ?? 0) - t.exports.length)} more` : ''}`
      : '<span class="muted">no export delivers with it</span>';
    return [
      `${h(t.storageAccount)}/${h(t.tokenId)}`,
      `<span class="bar ${kind}" style="width:${width.toFixed(0)}%"></span> ${h(t.daysLeft)} d`,
      h(readableTime(t.expiresOn, now)),
      served,
    ];
  });
  return `<div id="tokens">${table(['token', 'days left (bar: 90 days)', 'expires', 'exports it serves'], rows)}</div>`;
}

function recentBackfills(recent: RecentBackfill[], now: Date): string {
  if (recent.length === 0) return '';
  const rows = recent.map((b) => [
    `<code>${h(b.backfillId)}</code><br><span class="muted">${h(b.scope)}</span>`,
    h(readableTime(b.updatedAt, now)),
    b.months
      .map(
        (m) =>
          `<span class="chip b-${h(m.status)}" title="${h(`${m.dataset} ${m.month}: ${m.status}${m.attempts !== undefined ? `, ${m.attempts} attempt(s)` : ''}`)}">${h(m.month)} ${h(m.status)}</span>`,
      )
      .join(' '),
  ]);
  return `<div id="backfills">${table(['backfill', 'updated', 'months'], rows)}</div>`;
}

/** A small self-contained page of the same data. Every value is redacted and escaped; no scripts. */
export function renderStatusHtml(report: StatusReport): string {
  const generated = new Date(report.generatedAt);
  const c = report.configuration;
  const counts = report.counts;
  const scopes = table(
    ['scope', 'kind', 'access', 'detail', 'checked'],
    report.scopes.map((s) => [
      `<code>${h(s.scope)}</code>`,
      h(s.kind ?? ''),
      badge(s.access),
      [
        s.access === 'ok' ? `${h(s.exportsInCostManagement ?? 0)} export(s) in Cost Management` : '',
        s.roleHint ? `<strong>${h(s.roleHint)}</strong>` : '',
        s.retryAfterSeconds !== undefined ? `retry after ${h(s.retryAfterSeconds)} s` : '',
        s.message ? `<span class="muted">${h(s.message)}</span>` : '',
      ]
        .filter(Boolean)
        .join('<br>'),
      `${h(s.checkedAt)}${s.cached ? ' <span class="muted">(cached)</span>' : ''}`,
    ]),
  );

  const exportsHtml = sectionHtml(
    'Exports',
    counts?.exports,
    (e) =>
      facts([
        ['registered', atLeast(e, e.registered)],
        ['delivered with a SAS token', atLeast(e, e.sasDelivered)],
        ['vanished from Cost Management', atLeast(e, e.vanished)],
      ]) +
      (e.vanishedExports.length
        ? table(
            ['vanished export', 'scope', 'missing since'],
            e.vanishedExports.map((v) => [
              h(v.exportName),
              `<code>${h(v.scope)}</code>`,
              h(v.missingSince ?? ''),
            ]),
          )
        : ''),
  );
  const tokensHtml = sectionHtml(
    'SAS tokens',
    counts?.tokens,
    (t) =>
      facts([
        ['expired', atLeast(t, t.expired)],
        ['expiring within 7 days', atLeast(t, t.within7Days)],
        ['expiring within 30 days', atLeast(t, t.within30Days)],
        ['later', atLeast(t, t.later)],
        ['rotated or revoked', atLeast(t, t.retired)],
      ]) + tokenTimeline(t.soonest, generated),
  );
  const landingsHtml = sectionHtml(
    'Landings',
    counts?.landings,
    (l) =>
      facts([
        [`catalogued in the last ${l.sinceDays} days`, atLeast(l, l.total)],
        ...LANDING_STATES.map((s): [string, string] => [s, atLeast(l, l.byState[s])]),
      ]) +
      table(
        ['export', 'scope', 'period', 'state', 'rows', 'bytes', 'catalogued'],
        l.recent.map((r) => [
          h(r.exportName),
          `<code>${h(r.scope)}</code>`,
          h(r.period),
          h(r.state),
          h(r.rowCount),
          h(r.totalBytes),
          h(r.catalogedAt),
        ]),
      ),
  );
  const backfillsHtml = sectionHtml(
    'Backfills',
    counts?.backfills,
    (b) =>
      facts([
        ['backfills', atLeast(b, b.backfills)],
        ['still running', atLeast(b, b.activeBackfills)],
        ...BACKFILL_RUN_STATUSES.map((s): [string, string] => [`months ${s}`, atLeast(b, b.runsByStatus[s])]),
      ]) + recentBackfills(b.recent, generated),
  );

  const catalogLine = report.catalog.reachable
    ? `${badge('ok')}${report.catalog.tablesCreated === false ? ' <span class="muted">no tables yet</span>' : ''}`
    : `${badge('unreachable')} <span class="bad">${h(report.catalog.error ?? '')}</span>`;

  const configuration = facts([
    ['Cost Management', `${h(c.costManagement.endpoint)} (client type ${h(c.costManagement.clientType)})`],
    ['catalog storage', connectionHtml(c.storage.catalog)],
    ['exports storage', connectionHtml(c.storage.exports)],
    ['exports container', h(c.storage.exportsContainer)],
    ['landing trigger', h(c.storage.landingTriggerSource)],
    ['SAS probe endpoint', h(c.storage.blobEndpointTemplate)],
    ['secret store', `${h(c.secrets.store)}${c.secrets.keyVaultUri ? ` ${h(c.secrets.keyVaultUri)}` : ''}`],
    ['SAS watch schedule', `<code>${h(c.schedules.sasWatch)}</code>`],
    ['out-of-band schedule', `<code>${h(c.schedules.outOfBand)}</code>`],
    ['export sync schedule', `<code>${h(c.schedules.exportSync)}</code>`],
    ['SAS alert thresholds (days)', h(c.thresholds.sasAlertDays.join(', '))],
    ['out-of-band concurrency', h(c.thresholds.outOfBandConcurrency)],
    [
      'backfill',
      `${h(c.thresholds.backfillMaxConcurrency)} months at once, ${h(c.thresholds.backfillMaxAttempts)} attempts, ` +
        `landing timeout ${h(c.thresholds.backfillLandingTimeoutMinutes)} min, poll every ${h(c.thresholds.backfillPollIntervalMinutes)} min`,
    ],
    [
      'alert mail',
      `${h(c.alerts.transport)}, ${h(c.alerts.recipients)} recipient(s)${c.alerts.sender ? `, from ${h(c.alerts.sender)}` : ''}`,
    ],
    ['durable task hub', h(c.durableTaskHub)],
  ]);

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta http-equiv="refresh" content="60">
<title>Cost Export Autopilot status</title>
<style>${STYLE}</style>
</head>
<body>
<h1>Cost Export Autopilot ${badge(report.status)}</h1>
<p class="muted">version ${h(report.version)} · generated ${h(readableTime(report.generatedAt, generated))} · refreshes every minute</p>
${problemsHtml(report)}${report.notices.map((n) => `\n<p class="muted notice">${h(n)}</p>`).join('')}
<h2>Completeness ledger</h2>
${heatmapHtml(report.heatmap)}
<h2>Managed scopes</h2>
${scopes}
<h2>Catalog</h2>
<p>reachable: ${catalogLine}</p>
${exportsHtml}
${tokensHtml}
${landingsHtml}
${backfillsHtml}
<h2>Configuration</h2>
${configuration}
</body>
</html>
`;
}

// ------------------------------------------------------------------------------------------ helpers

/** Every string in a JSON-like value passed through redactSecrets. */
export function redactDeep<T>(value: T): T {
  if (typeof value === 'string') return redactSecrets(value) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => redactDeep(v)) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactDeep(v)])) as T;
  }
  return value;
}

function daysLeftOf(expiresOn: string, now: Date): number {
  try {
    return daysLeft(expiresOn, now);
  } catch {
    return Number.NaN; // an unreadable expiry counts as expired
  }
}

function positive(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${name}: expected a whole number ≥ 1, got ${String(value)}`);
  }
  return value;
}
