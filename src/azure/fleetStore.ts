// Table Storage for the export fleet: assignments, custom profiles, the last outcome of every
// export the fleet manages (what status shows and what reconcile reads back, such as the token an
// export carries), the scopes an assignment reached (so departed customers can be reported) and
// onboardings. One table, `fleet`; each row keeps its record as JSON in `data`.
//
// | PartitionKey | RowKey | holds |
// |---|---|---|
// | `assignment` | assignment id | Assignment |
// | `profile` | profile name | ExportProfile (custom ones only) |
// | `outcome|{scopeKey}` | export name | ExportOutcomeRecord |
// | `member|{assignment id}` | scope key | the last round that saw the scope |
// | `summary` | assignment id | AssignmentSummary: counts by outcome of its last round (status) |
// | `onboarding` | onboarding id | OnboardingRecord (backfillMonths, token check) |
// | `onboardingBackfill|{onboarding id}` | scope key | the scope's backfill id or why none |
import type { TableClient } from '@azure/data-tables';

import type { RecordedOutcome } from '../domain/fleetOutcomes';
import { FLEET_TABLE } from './appTables';
import { mapWithConcurrency } from './catalog';
import { unlessMissing, wentThrough } from './storageRefusal';

export type FleetTableClient = Pick<
  TableClient,
  'createTable' | 'getEntity' | 'listEntities' | 'upsertEntity' | 'deleteEntity' | 'submitTransaction'
>;

export interface ExportOutcomeRecord {
  scope: string;
  exportName: string;
  assignmentId: string;
  outcome: RecordedOutcome;
  /** What differed before an update (field names only). */
  fields?: string[];
  /** Fingerprint of the token this app last put on the export (SAS destinations). */
  tokenFingerprint?: string;
  error?: string;
  at: string;
}

export interface MemberRecord {
  assignmentId: string;
  scope: string;
  /** The round (tick) that last saw the scope in the assignment's target list. */
  seenIn: string;
}

export interface FleetStoreApi {
  get<T>(partitionKey: string, rowKey: string): Promise<T | undefined>;
  put(partitionKey: string, rowKey: string, value: unknown): Promise<void>;
  remove(partitionKey: string, rowKey: string): Promise<boolean>;
  list<T>(partitionKey: string, limit?: number): Promise<T[]>;
  listByPrefix<T>(prefix: string, limit: number): Promise<{ items: T[]; truncated: boolean }>;
  /** Upserts rows of one partition in transactions of ≤100. */
  putMany(partitionKey: string, rows: { rowKey: string; value: unknown }[]): Promise<void>;
}

export { FLEET_TABLE } from './appTables';

/** Row keys may not hold / \ # ? or control characters. */
export function fleetKey(text: string): string {
  return text.replace(/[/\\#?\u0000-\u001f\u007f-\u009f]/g, '|');
}

/** The partitions whose key starts with `prefix`. */
function prefixFilter(prefix: string): string {
  const from = fleetKey(prefix).replace(/'/g, "''");
  // The next string after every key with this prefix: bump its last character.
  const to = `${from.slice(0, -1)}${String.fromCharCode(from.charCodeAt(from.length - 1) + 1)}`;
  return `PartitionKey ge '${from}' and PartitionKey lt '${to}'`;
}

export class FleetStore implements FleetStoreApi {
  private readonly client: FleetTableClient;
  private ready: Promise<void> | undefined;

  constructor(tableClient: (name: string) => FleetTableClient, tablePrefix = '') {
    this.client = tableClient(`${tablePrefix}${FLEET_TABLE}`);
  }

  /** Catalog.ensureTables creates this table at start; this once-per-process create stays because
   * the store is also used without a catalog (its tests, the fleet part that is not gated on it). */
  private ensure(): Promise<void> {
    this.ready ??= this.client
      .createTable()
      .then(() => undefined)
      .catch((error: unknown) => {
        this.ready = undefined;
        throw error;
      });
    return this.ready;
  }

  async get<T>(partitionKey: string, rowKey: string): Promise<T | undefined> {
    await this.ensure();
    const row = await unlessMissing(
      this.client.getEntity<{ data: string }>(fleetKey(partitionKey), fleetKey(rowKey)),
    );
    return row && (JSON.parse(row.data) as T);
  }

  async put(partitionKey: string, rowKey: string, value: unknown): Promise<void> {
    await this.ensure();
    await this.client.upsertEntity(
      { partitionKey: fleetKey(partitionKey), rowKey: fleetKey(rowKey), data: JSON.stringify(value) },
      'Replace',
    );
  }

  async remove(partitionKey: string, rowKey: string): Promise<boolean> {
    await this.ensure();
    return wentThrough(this.client.deleteEntity(fleetKey(partitionKey), fleetKey(rowKey)), 'missing');
  }

  async list<T>(partitionKey: string, limit = 10_000): Promise<T[]> {
    await this.ensure();
    const out: T[] = [];
    const pk = fleetKey(partitionKey).replace(/'/g, "''");
    for await (const row of this.client.listEntities<{ data: string }>({
      queryOptions: { filter: `PartitionKey eq '${pk}'` },
    })) {
      out.push(JSON.parse(row.data) as T);
      if (out.length >= limit) break;
    }
    return out;
  }

  /** Rows of every partition whose key starts with `prefix`, at most `limit` (status summaries). */
  async listByPrefix<T>(prefix: string, limit: number): Promise<{ items: T[]; truncated: boolean }> {
    await this.ensure();
    const items: T[] = [];
    for await (const row of this.client.listEntities<{ data: string }>({
      queryOptions: { filter: prefixFilter(prefix) },
    })) {
      if (items.length >= limit) return { items, truncated: true };
      items.push(JSON.parse(row.data) as T);
    }
    return { items, truncated: false };
  }

  /** One page (at most `pageSize` rows; the service may answer fewer) of every partition whose key
   * starts with `prefix`, in key order, from `continuationToken` on. The token is the table's own:
   * small, and absent on the last page. */
  async pageByPrefix<T>(
    prefix: string,
    pageSize: number,
    continuationToken?: string,
  ): Promise<{ items: T[]; continuationToken?: string }> {
    await this.ensure();
    const pages = this.client
      .listEntities<{ data: string }>({ queryOptions: { filter: prefixFilter(prefix) } })
      .byPage({ maxPageSize: pageSize, ...(continuationToken ? { continuationToken } : {}) });
    const result = await pages.next();
    if (result.done) return { items: [] };
    const page = result.value;
    return {
      items: page.map((row) => JSON.parse(row.data) as T),
      ...(page.continuationToken ? { continuationToken: page.continuationToken } : {}),
    };
  }

  async putMany(partitionKey: string, rows: { rowKey: string; value: unknown }[]): Promise<void> {
    if (rows.length === 0) return;
    await this.ensure();
    const pk = fleetKey(partitionKey);
    const chunks: (typeof rows)[] = [];
    for (let i = 0; i < rows.length; i += 100) chunks.push(rows.slice(i, i + 100));
    await mapWithConcurrency(chunks, 4, async (chunk) => {
      await this.client.submitTransaction(
        chunk.map((r) => [
          'upsert',
          { partitionKey: pk, rowKey: fleetKey(r.rowKey), data: JSON.stringify(r.value) },
          'Replace',
        ]),
      );
    });
  }
}
