// What the export fleet's use cases are given (built by appServices.ts), and the token source they
// read a SAS destination's current token from.
import type { BillingCustomersApi } from '../azure/billingCustomers';
import type { Catalog } from '../azure/catalog';
import type { CostExportsApi } from '../azure/costExports';
import type { FleetStoreApi } from '../azure/fleetStore';
import type { SecretStore } from '../azure/secrets';
import type { FleetRegistryCatalog } from './fleetRegistry';

export interface CurrentToken {
  fingerprint: string;
  /** The token's value, read from the secret store only when a PUT needs it. */
  value(): Promise<string>;
}

export interface FleetTokens {
  /** The account's active registered token, if any. */
  current(storageAccount: string): Promise<CurrentToken | undefined>;
}

export interface FleetDeps {
  store: FleetStoreApi;
  costExports: Pick<CostExportsApi, 'list' | 'createOrUpdate' | 'delete'>;
  customers: BillingCustomersApi;
  tokens: FleetTokens;
  /** The exports table: reconcile registers the exports it manages there (fleetRegistry.ts). */
  registry: FleetRegistryCatalog;
  now(): Date;
}

/** What the fleet's triggers and round activities use (built by appServices.ts). */
export interface FleetRuntime extends FleetDeps {
  concurrency: number;
  maxThrottlePauseMs?: number;
}

/** The account's current token from the token registry (metadata) and the secret store (value). */
export function registeredTokens(
  catalog: Pick<Catalog, 'listTokens'>,
  secrets: Pick<SecretStore, 'get'>,
): FleetTokens {
  return {
    async current(storageAccount) {
      let newest:
        { fingerprint: string; secretName: string; secretVersion?: string; expiresOn: string } | undefined;
      for await (const t of catalog.listTokens(storageAccount)) {
        if (t.status !== 'active') continue;
        if (!newest || t.expiresOn > newest.expiresOn) newest = t;
      }
      if (!newest) return undefined;
      const { fingerprint, secretName, secretVersion } = newest;
      return {
        fingerprint,
        value: async () => {
          const value = await secrets.get(secretName, secretVersion);
          if (!value) throw new Error(`the secret of token ${fingerprint} is missing from the secret store`);
          return value;
        },
      };
    },
  };
}
