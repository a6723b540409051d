// Health and status of the app: what it is configured to do (never a secret, statusConfig.ts),
// whether the catalog answers, whether Cost Management accepts the app's identity on each managed
// scope (scopeAccess.ts), and bounded counts from the catalog tables (statusCounts.ts), gathered
// into one report; statusHtml.ts renders it as a small escaped HTML page for people.
import { allRows } from '../azure/catalog';
import { describeDependencyFailure, withTimeout } from '../azure/dependencyFaults';
import { storageRefusal } from '../azure/storageRefusal';
import type { AppConfig } from '../config';
import { appBaseUrl } from '../domain/alertPolicy';
import { configNotices } from '../domain/configNotices';
import { positiveWhole as positive } from '../domain/fieldError';
import { redactDeep } from '../domain/redact';
import { parseScope } from '../domain/scope';
import {
  overallStatus,
  type ProblemKind,
  ProblemList,
  reconcileCommand,
  type StatusProblem,
} from '../domain/statusProblems';
import type { FleetStatus } from './fleetSummary';
import { healingPolicyOf } from './healing';
import {
  type ExportLister,
  roleHint,
  type ScopeAccess,
  type ScopeAccessChecker,
  scopeProblem,
} from './scopeAccess';
import { type ConfigurationSummary, configurationSummary } from './statusConfig';
import {
  type CatalogCounts,
  countCatalog,
  type CountOptions,
  type ProblemContext,
  type Section,
  section,
  type StatusCatalog,
} from './statusCounts';
import { type Heatmap, type HeatmapPageKey, readHeatmap } from './statusHeatmap';

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
  /** The export fleet's recorded outcomes (services/fleetSummary.ts fleetStatus). */
  fleet?: () => Promise<FleetStatus>;
  /** Continuation token of the heatmap page to show (the page's "next exports" link). */
  ledgerPage?: HeatmapPageKey;
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
    await withTimeout(catalog.page(allRows('exports'), { maxPageSize: 1 }), CATALOG_PROBE_MS, 'storage');
    return { reachable: true, tablesCreated: true };
  } catch (error) {
    if (storageRefusal(error) === 'missing') return { reachable: true, tablesCreated: false };
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
    const reconcile = reconcileCommand(base, o.assignmentId);
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
