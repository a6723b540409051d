// The adapters the app's functions share, built lazily from settings once per process (clients keep
// their connections and token caches). Tests and the local host call resetServices() after changing
// settings.
import { getConfig, type AppConfig } from '../config';
import { Catalog } from '../azure/catalog';
import { createCostExportsClient, type CostExportsApi } from '../azure/costExports';
import { FleetStore } from '../azure/fleetStore';
import { createSecretStore, type SecretStore } from '../azure/secrets';
import { tableClientFactory } from '../azure/storageClients';
import { THROTTLE_BUDGET_TABLE, TableThrottleBudget } from '../azure/throttleBudget';

export interface AppServices {
  config: AppConfig;
  /** Tables created on first use. */
  catalog: Catalog;
  costExports: CostExportsApi;
  secrets: SecretStore;
  /** The export fleet's table (assignments, profiles, outcomes); created on first use. */
  fleetStore: FleetStore;
}

let services: Promise<AppServices> | undefined;

export function getServices(): Promise<AppServices> {
  services ??= (async () => {
    const config = getConfig();
    const tableClient = tableClientFactory(config.storage.catalog);
    const catalog = new Catalog({ tableClient });
    await catalog.ensureTables();
    // One pacing budget for every Cost Management caller of every instance (rows in the catalog's account).
    const budget = new TableThrottleBudget(tableClient(THROTTLE_BUDGET_TABLE));
    return {
      config,
      catalog,
      costExports: createCostExportsClient(config.costManagement, { budget }),
      secrets: createSecretStore(config.secrets, config.storage.catalog),
      fleetStore: new FleetStore(tableClientFactory(config.storage.catalog)),
    };
  })().catch((error: unknown) => {
    services = undefined; // bad settings or storage down: try again on the next invocation
    throw error;
  });
  return services;
}

export function resetServices(): void {
  services = undefined;
}
