// The landings table's rows for a landing, including landings whose scope is unknown: those live in
// `unresolved|{export name}` partitions, which the catalog's scope-checked mapping cannot write, so
// they have their own small adapter here over the landings table's client.
import type { TableClient } from '@azure/data-tables';

import type { LandingIdentity } from '../domain/landingIdentity';
import type { LandingFileRecord, LandingRecord } from '../domain/landingPlan';
import {
  CatalogConflictError,
  exportKey,
  exportNameKey,
  landingFileToRow,
  landingFromRow,
  landingKeys,
  landingRowKey,
  landingToRow,
  looksLikeSecret,
  type Row,
  type Stored,
} from './catalog';
import { storageRefusal, unlessMissing, wentThrough } from './storageRefusal';

const UNRESOLVED_PREFIX = 'unresolved';

export interface LandingKey {
  partitionKey: string;
  rowKey: string;
}

export function landingKeyOf(identity: LandingIdentity): LandingKey {
  if (identity.scope !== undefined) {
    return landingKeys(exportKey(identity.scope, identity.exportName), identity.period, identity.runId);
  }
  return {
    partitionKey: unresolvedPartitionKey(identity.exportName),
    rowKey: landingRowKey(identity.period, identity.runId),
  };
}

/** `unresolved|{export name key}`: no scope key starts with `unresolved|`. */
export function unresolvedPartitionKey(exportName: string): string {
  return `${UNRESOLVED_PREFIX}|${exportNameKey(exportName)}`;
}

/** A valid scope stands in while mapping an unresolved landing, so the catalog's own validation
 * runs on every other column; the partition key and scope column are then replaced. */
const PLACEHOLDER_SCOPE = '/subscriptions/00000000-0000-0000-0000-000000000000';

/** The row exactly as it will be written; throws (naming the field) when the catalog would refuse it. */
export function landingRow(identity: LandingIdentity, record: LandingRecord): Row {
  let row: Row;
  if (identity.scope !== undefined) {
    row = landingToRow({ ...record, scope: identity.scope });
  } else {
    row = { ...landingToRow({ ...record, scope: PLACEHOLDER_SCOPE }), ...landingKeyOf(identity), scope: '' };
  }
  for (const [property, value] of Object.entries(row)) {
    if (typeof value === 'string' && looksLikeSecret(value)) {
      throw new TypeError(
        `landings.${property}: the value looks like a secret (SAS signature, key or token)`,
      );
    }
  }
  return row;
}

export function fileRowsValid(files: readonly LandingFileRecord[]): void {
  for (const file of files) {
    const row = landingFileToRow(file);
    for (const [property, value] of Object.entries(row)) {
      if (typeof value === 'string' && looksLikeSecret(value)) {
        throw new TypeError(
          `landings file row ${property} (part ${file.part}): the value looks like a secret (SAS signature, key or token)`,
        );
      }
    }
  }
}

/** Landings whose scope is unknown (legacy manifests no registered export claims, manifests too broken
 * to name one). Rows are otherwise the catalog's landing rows. */
export interface UnresolvedLandingTable {
  /** Inserts unless the row exists; true when this call created it. */
  create(partitionKey: string, record: LandingRecord): Promise<boolean>;
  get(partitionKey: string, rowKey: string): Promise<Stored<LandingRecord> | undefined>;
  /** Replaces the row if its ETag is still `etag`; throws CatalogConflictError otherwise. */
  replaceIfMatch(partitionKey: string, record: LandingRecord, etag: string): Promise<void>;
}

/** Unresolved landings over the landings table's own client (`catalog.tableName('landings')`). */
export function unresolvedLandingTable(
  client: Pick<TableClient, 'createEntity' | 'getEntity' | 'updateEntity'>,
): UnresolvedLandingTable {
  const rowOf = (partitionKey: string, record: LandingRecord): Row => {
    const row = landingRow(
      { exportName: record.exportName, period: record.period, runId: record.runId },
      record,
    );
    if (row.partitionKey !== partitionKey) throw new TypeError('unresolved landing: partition key mismatch');
    return row;
  };
  return {
    async create(partitionKey, record) {
      return wentThrough(client.createEntity(rowOf(partitionKey, record)), 'exists');
    },
    async get(partitionKey, rowKey) {
      const row = await unlessMissing(client.getEntity<Record<string, unknown>>(partitionKey, rowKey));
      return row && { ...landingFromRow(row), partitionKey, rowKey, etag: row.etag };
    },
    async replaceIfMatch(partitionKey, record, etag) {
      const row = rowOf(partitionKey, record);
      try {
        await client.updateEntity(row, 'Replace', { etag });
      } catch (error) {
        const reason = storageRefusal(error);
        if (reason === 'changed' || reason === 'missing') {
          throw new CatalogConflictError('landings', row.partitionKey, row.rowKey, reason, { cause: error });
        }
        throw error;
      }
    },
  };
}
