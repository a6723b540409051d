// A landing the catalog filed from its manifest, refused afterwards by a check the manifest could
// not pass on its own: a backfill month found that its run is no run the app submitted. The row
// stays where it is, marked `rejected` with the reason (operators find it in the catalog and on
// /api/status), and its period is re-settled so the refused run supersedes nothing.
import { type Catalog, CatalogConflictError } from '../azure/catalog';
import type { LandingKey } from '../domain/contracts';
import { redactSecrets } from '../domain/redact';
import { type LandingWriteCatalog, LandingWrites } from './landingWrites';

export type RefusalCatalog = LandingWriteCatalog & Pick<Catalog, 'get'>;

/** What refusing did: marked the row, found it rejected already, or found no row at that key. */
export type RefusalOutcome = 'refused' | 'alreadyRejected' | 'notFound';

const MAX_ATTEMPTS = 5;

export class LandingRefusals {
  private readonly writes: LandingWrites;

  constructor(
    private readonly catalog: RefusalCatalog,
    now: () => Date = () => new Date(),
  ) {
    this.writes = new LandingWrites(catalog, now);
  }

  async refuse(key: LandingKey, reason: string): Promise<RefusalOutcome> {
    for (let attempt = 1; ; attempt++) {
      const row = await this.catalog.get('landings', key);
      if (!row) return 'notFound';
      if (row.state === 'rejected') return 'alreadyRejected';
      const { etag: _etag, supersededBy: _by, ...record } = row;
      try {
        await this.catalog.replaceIfMatch(
          'landings',
          {
            ...record,
            state: 'rejected',
            rejectionReason: redactSecrets(reason).slice(0, 2_000),
            current: false,
            superseded: false,
          },
          row.etag,
        );
      } catch (error) {
        if (error instanceof CatalogConflictError && attempt < MAX_ATTEMPTS) continue;
        throw error;
      }
      // The period row listed this run as live: settle the period without it.
      await this.writes.reconcile(row.period, key, true);
      return 'refused';
    }
  }
}
