// The ports of the landing service (landings.ts): the adapters it is given for the catalog, one blob
// listing, the table of unresolved landings, the owner lookup and the durable client. Apart so the
// composition root and tests name the adapters without the use case.
import type { Catalog } from '../azure/catalog';
import type { UnresolvedLandingTable } from '../azure/landingRows';
import type { ExportLandedEvent } from '../domain/contracts';
import type { LandingOwnerLookup } from './landingOwners';
import type { LandingWriteCatalog } from './landingWrites';

/** The catalog operations the landing service needs (Catalog satisfies it). */
export type LandingCatalog = LandingWriteCatalog &
  Pick<Catalog, 'createLanding' | 'findBackfillRun' | 'listExports'>;

export interface ListedBlob {
  name: string;
  /** Content length in bytes, when the listing says. */
  size?: number;
}

/** Reads the exports container: one flat listing under a prefix (paged), or one blob's size. */
export interface ExportBlobLister {
  list(prefix: string): AsyncIterable<ListedBlob>;
  /** One blob's size, or undefined when it does not exist: the check for a run of a single blob. */
  stat?(name: string): Promise<{ size?: number } | undefined>;
}

/** Raises an orchestration event: 'raised' when the instance took it (or had finished), 'notFound'
 * when there is no such instance. Other failures throw. */
export type RaiseEvent = (
  instanceId: string,
  eventName: string,
  payload: ExportLandedEvent,
) => Promise<'raised' | 'notFound'>;

export interface LandingLog {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** The settings-built adapters the exportLanded trigger hands the service (appServices.ts). */
export interface LandingAdapters extends Pick<
  LandingDependencies,
  'catalog' | 'unresolved' | 'mayBelongToBackfill' | 'owners'
> {
  /** The listing of one exports container (the event names it). */
  blobsIn: (container: string) => ExportBlobLister;
}

export interface LandingDependencies {
  catalog: LandingCatalog;
  blobs: ExportBlobLister;
  unresolved: UnresolvedLandingTable;
  /** Which scope's export writes where the manifest was written (services/landingOwners.ts): a
   * manifest naming a scope whose export does not is rejected, not filed under that scope. */
  owners: LandingOwnerLookup;
  /** Wakes a waiting backfill (azure/durableClient.ts raiseEventTo); absent = no backfill wake-up. */
  raiseEvent?: RaiseEvent;
  /** Whether an export name can belong to a backfill at all; false skips the backfillRuns lookup (one
   * round trip per landing). Default: every name can. */
  mayBelongToBackfill?: (exportName: string) => boolean;
  now?: () => Date;
  log?: LandingLog;
}
