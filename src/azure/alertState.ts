// The alertState table: what the SAS watch already reported per export (and its last summary), so
// each failure and each partial rotation is e-mailed once. PartitionKey = kind, RowKey = export key
// (or `last`), `value` = what was alerted. Small: rows exist only for exports currently failing or on
// a replaced token. Created with the catalog's tables (Catalog.ensureTables).
import { odata, type TableClient } from '@azure/data-tables';

import { ALERT_STATE_TABLE } from './appTables';
import type { Catalog } from './catalog';
import { wentThrough } from './storageRefusal';

export type AlertStatePartition = 'failure' | 'stale' | 'watch';

/** What was already alerted per export (and the last watch summary), so a digest says each thing once. */
export interface AlertStateStore {
  load(partition: AlertStatePartition): Promise<Map<string, string>>;
  put(partition: AlertStatePartition, key: string, value: string): Promise<void>;
  remove(partition: AlertStatePartition, key: string): Promise<void>;
}

export class TableAlertStateStore implements AlertStateStore {
  constructor(private readonly client: Pick<TableClient, 'listEntities' | 'upsertEntity' | 'deleteEntity'>) {}

  async load(partition: AlertStatePartition): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const rows = this.client.listEntities<{ value?: unknown }>({
      queryOptions: { filter: odata`PartitionKey eq ${partition}` },
    });
    for await (const row of rows) {
      if (typeof row.rowKey === 'string' && typeof row.value === 'string') out.set(row.rowKey, row.value);
    }
    return out;
  }

  async put(partition: AlertStatePartition, key: string, value: string): Promise<void> {
    await this.client.upsertEntity({ partitionKey: partition, rowKey: key, value }, 'Replace');
  }

  async remove(partition: AlertStatePartition, key: string): Promise<void> {
    // Already gone is what was asked for.
    await wentThrough(this.client.deleteEntity(partition, key), 'missing');
  }
}

/** The table name next to the catalog's (same prefix). */
export function alertStateTableName(catalog: Pick<Catalog, 'tableName'>): string {
  return `${catalog.tableName('exports').slice(0, -'exports'.length)}${ALERT_STATE_TABLE}`;
}
