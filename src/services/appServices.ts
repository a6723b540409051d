// The one composition root: every adapter and service the app's functions use, built once per
// process from settings (clients keep their connections and token caches). Trigger files take the
// part they need with appService(...) and build nothing themselves. Tests and the local host replace
// parts once with useAppServices(...), which also drops what was built, so changed settings apply.
import { alertStateTableName, TableAlertStateStore } from '../azure/alertState';
import { createBillingCustomersClient } from '../azure/billingCustomers';
import { containerBlobLister } from '../azure/blobListing';
import { Catalog } from '../azure/catalog';
import { type CostExportsApi, createCostExportsClient } from '../azure/costExports';
import { withTimeout } from '../azure/dependencyFaults';
import { FleetStore } from '../azure/fleetStore';
import { unresolvedLandingTable } from '../azure/landingRows';
import { createMailer } from '../azure/mailer';
import { createSasProbe } from '../azure/sasProbe';
import { createSecretStore, type SecretStore } from '../azure/secrets';
import {
  blobAccountName,
  createContainerClient,
  createTableClient,
  tableClientFactory,
} from '../azure/storageClients';
import { TableThrottleBudget, THROTTLE_BUDGET_TABLE } from '../azure/throttleBudget';
import { type AppConfig, getConfig } from '../config';
import { appBaseUrl } from '../domain/alertPolicy';
import { parseBackfillExportName } from '../domain/backfillPlan';
import type { SasWatchRuntime } from './alerts';
import type { BackfillDeps } from './backfillActivities';
import type { ExportSyncRuntime } from './exportRegistry';
import { type FleetRuntime, registeredTokens } from './fleetDeps';
import { fleetStatus } from './fleetSummary';
import { LandingOwners } from './landingOwners';
import type { LandingAdapters } from './landingPorts';
import { LandingRefusals } from './landingRefusals';
import { LedgerService } from './ledger';
import type { OutOfBandRuntime } from './outOfBand';
import { ScopeAccessChecker } from './scopeAccess';
import { CATALOG_PROBE_MS, type StatusRuntime } from './status';
import { realSleep, type TokensDeps } from './tokens';

export interface AppServices {
  config: AppConfig;
  now(): Date;
  catalog: Catalog;
  costExports: CostExportsApi;
  secrets: SecretStore;
  /** The export fleet's table (assignments, profiles, outcomes); created with the catalog's tables,
   * and again on first use if the store is used first. */
  fleetStore: FleetStore;
  backfills: BackfillDeps;
  ledger: LedgerService;
  landings: LandingAdapters;
  exportSync: ExportSyncRuntime;
  fleet: FleetRuntime;
  outOfBand: OutOfBandRuntime;
  sasWatch: SasWatchRuntime;
  tokens: TokensDeps;
  status: StatusRuntime;
}

/** The landing service's adapters: the catalog, the table of landings filed by path alone, the blob
 * lister and the owner check. */
function landingDeps(config: AppConfig, catalog: Catalog, costExports: CostExportsApi): LandingAdapters {
  // Backfills run their own one-month exports named by backfillExportName: other landings skip
  // the backfillRuns lookups.
  const mayBelongToBackfill = (exportName: string) => parseBackfillExportName(exportName) !== undefined;
  return {
    catalog,
    unresolved: unresolvedLandingTable(
      createTableClient(config.storage.catalog, catalog.tableName('landings')),
    ),
    blobsIn: (container) => containerBlobLister(createContainerClient(config.storage.exports, container)),
    mayBelongToBackfill,
    owners: new LandingOwners({
      catalog,
      costExports,
      // Azurite (path-style) answers for every account name: accounts are then not compared.
      storageAccount: blobAccountName(config.storage.exports),
      mayBelongToBackfill,
    }),
  };
}

/** Builds every adapter and service from settings. No I/O: the catalog's tables are created by the
 * first appService(...) call that needs them. */
export function createAppServices(config: AppConfig): AppServices {
  const now = () => new Date();
  const tableClient = tableClientFactory(config.storage.catalog);
  const catalog = new Catalog({ tableClient });
  // One pacing budget for every Cost Management caller of every instance (rows in the catalog's account).
  const budget = new TableThrottleBudget(tableClient(THROTTLE_BUDGET_TABLE));
  const costExports = createCostExportsClient(config.costManagement, { budget });
  const fleetStore = new FleetStore(tableClient);
  const ledger = new LedgerService({
    catalog,
    settings: { finalAfterDays: config.ledger.finalAfterDays, graceHours: config.ledger.graceHours },
  });
  const secrets = createSecretStore(config.secrets, config.storage.catalog);
  const { blobEndpointTemplate } = config.storage;
  return {
    config,
    now,
    catalog,
    costExports,
    secrets,
    fleetStore,
    backfills: { catalog, costExports, secrets, now, ledger, refusals: new LandingRefusals(catalog, now) },
    ledger,
    landings: landingDeps(config, catalog, costExports),
    exportSync: { catalog, costExports, scopes: config.managedScopes, fleet: fleetStore, now },
    fleet: {
      store: fleetStore,
      costExports,
      customers: createBillingCustomersClient(config.costManagement),
      tokens: registeredTokens(catalog, secrets),
      registry: catalog,
      now,
      concurrency: config.fleet.concurrency,
    },
    outOfBand: { catalog, costExports, concurrency: config.outOfBand.concurrency, now },
    sasWatch: {
      deps: {
        catalog,
        mailer: createMailer(config.alerts),
        state: new TableAlertStateStore(
          createTableClient(config.storage.catalog, alertStateTableName(catalog)),
        ),
      },
      options: {
        thresholdsDays: config.sasWatch.thresholdsDays,
        recipients: config.alerts.recipients,
        appBaseUrl: appBaseUrl(process.env.WEBSITE_HOSTNAME),
        // Last runs come from the exports table, which export sync refreshes (05:30, before this 06:00
        // run). scanRunHistory (one list per scope) is fresher but sequential: thousands of scopes
        // would not fit in one invocation's timeout.
      },
      now,
    },
    tokens: {
      catalog,
      secrets,
      costExports,
      probe: createSasProbe({ blobEndpointTemplate }),
      // Config allows plain http only to loopback (Azurite), which enforces spr: see TokensDeps.
      allowHttpTokens: blobEndpointTemplate.startsWith('http:'),
      now,
      sleep: realSleep,
    },
    // Per process: the point of the checker's cache is that a dashboard refresh does not call ARM again.
    status: {
      config,
      catalog,
      exports: costExports,
      fleet: () => fleetStatus(fleetStore),
      checker: new ScopeAccessChecker(),
    },
  };
}

/** Parts that read or write the catalog: their tables exist before they are handed out. */
const NEEDS_TABLES = new Set<keyof AppServices>([
  'catalog',
  'backfills',
  'ledger',
  'landings',
  'exportSync',
  'fleet',
  'outOfBand',
  'sasWatch',
  'tokens',
]);

/** What a test or the local host may replace; a status part without its own checker gets a fresh one. */
export type AppServiceOverrides = Partial<Omit<AppServices, 'status'>> & {
  status?: Omit<StatusRuntime, 'checker'> & { checker?: ScopeAccessChecker };
};

let built: AppServices | undefined;
let tables: Promise<void> | undefined;
let overrides: Partial<AppServices> = {};

function ensureTables(services: AppServices): Promise<void> {
  tables ??= services.catalog.ensureTables().catch((error: unknown) => {
    tables = undefined; // storage down: try again on the next invocation
    throw error;
  });
  return tables;
}

/** One part of the app's services: an override if a test set one, else built from settings (bad
 * settings throw ConfigError, and the next call tries again). */
export async function appService<K extends keyof AppServices>(key: K): Promise<AppServices[K]> {
  const override = overrides[key];
  if (override !== undefined) return override;
  built ??= createAppServices(getConfig());
  const services = built;
  if (key === 'status') {
    // The status page still reports the scopes when storage is down.
    try {
      // Bounded: frozen storage must make the page answer `degraded` within seconds.
      await withTimeout(ensureTables(services), CATALOG_PROBE_MS, 'storage');
    } catch (catalogError) {
      const { catalog: _unreachable, ...rest } = services.status;
      return { ...rest, catalogError } as AppServices[K];
    }
  } else if (NEEDS_TABLES.has(key)) {
    await ensureTables(services);
  }
  return services[key];
}

/** Replaces parts of the app's services (tests, the local host); undefined goes back to settings.
 * Either way what was built is dropped, so changed settings apply to the next call. */
export function useAppServices(parts: AppServiceOverrides | undefined): void {
  const { status, ...rest } = parts ?? {};
  overrides = {
    ...rest,
    // A status override starts with an empty scope-access cache unless it brings its own.
    ...(status ? { status: { ...status, checker: status.checker ?? new ScopeAccessChecker() } } : {}),
  };
  built = undefined;
  tables = undefined;
}
