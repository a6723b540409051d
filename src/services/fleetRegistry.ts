// The exports the fleet creates, repairs or finds as desired, written into the `exports` table in
// the row shape export sync writes (exportRecordFrom). The fleet's scopes are customers of a billing
// account, not MANAGED_SCOPES, so export sync never lists them: without this, the landing owner
// check (services/landingOwners.ts) would find none of their exports and ask Cost Management about
// every landing (one GET per export per day, 10,000 a day at 5,000 customers with two exports), and
// the SAS watch and token rotation would not see them. One partition read and one batch of upserts
// per reconciled scope; this app's own columns (out-of-band policy, token reference) are kept.
import type { Catalog, ExportRecord } from '../azure/catalog';
import type { Export } from '../azure/exportModels';
import type { Scope } from '../domain/scope';
import { exportRecordFrom } from './exportRegistry';

export type FleetRegistryCatalog = Pick<Catalog, 'listExports' | 'upsertMany'>;

/** Upserts the registry rows of the exports live at `scope` after a reconcile (as Cost Management
 * answered: the PUT's answer, or the listed export). Returns the rows written. */
export async function registerFleetExports(
  registry: FleetRegistryCatalog,
  scope: Scope,
  live: readonly Export[],
  now: Date,
): Promise<number> {
  if (live.length === 0) return 0;
  const existing = new Map<string, ExportRecord>();
  for await (const row of registry.listExports(scope.canonical))
    existing.set(row.exportName.toLowerCase(), row);
  const records: ExportRecord[] = [];
  for (const e of live) {
    try {
      records.push(exportRecordFrom(scope.canonical, e, existing.get((e.name ?? '').toLowerCase()), now));
    } catch {
      // A destination without a readable account: nothing a landing could be checked against.
    }
  }
  await registry.upsertMany('exports', records);
  return records.length;
}
