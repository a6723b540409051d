// Every server-side query of the catalog tables, named for the rows it selects. The OData filters
// name storage columns (PartitionKey, RowKey, Timestamp, the mapped column names of records.ts), so
// they are written here, beside the mappings, and nowhere in the services.
import { odata } from '@azure/data-tables';

import type { LedgerState } from '../../domain/ledger';
import { exportNameKey, LANDING_ROWS_END, prefixRange, scopePartitionKey, tableKey } from './keys';
import { ledgerExportRange } from './ledgerRecords';
import type { TableKind } from './records';
import { tokenKeys } from './tokenRecords';

/** One table and the filter that selects rows in it (undefined: every row). Built by the functions
 * below; Catalog.page and Catalog.query take nothing else. */
export interface CatalogQuery<K extends TableKind> {
  readonly table: K;
  readonly filter: string | undefined;
}

function query<K extends TableKind>(table: K, filter?: string): CatalogQuery<K> {
  return { table, filter };
}

/** Every row of a table. */
export function allRows<K extends TableKind>(table: K): CatalogQuery<K> {
  return query(table);
}

// -------------------------------------------------------------------------------------------- exports

/** The registered exports of one scope (one partition). */
export function exportsOfScope(scopeCanonical: string): CatalogQuery<'exports'> {
  return query('exports', odata`PartitionKey eq ${scopePartitionKey(scopeCanonical)}`);
}

/** The registered exports of one scope that deliver one dataset. */
export function exportsOfScopeAndDataset(scopeCanonical: string, dataset: string): CatalogQuery<'exports'> {
  return query(
    'exports',
    odata`PartitionKey eq ${scopePartitionKey(scopeCanonical)} and dataset eq ${dataset}`,
  );
}

/** The registered exports of that name in every scope (ARM names ignore case; so does the RowKey).
 * A scan across partitions: for landings no scope's export claims. */
export function exportsNamed(exportName: string): CatalogQuery<'exports'> {
  return query('exports', odata`RowKey eq ${exportNameKey(exportName)}`);
}

/** Exports with an out-of-band policy (the column outOfBand.minIntervalMinutes maps to). */
export function exportsWithOutOfBandPolicy(): CatalogQuery<'exports'> {
  return query('exports', odata`oobMinIntervalMinutes ge ${1}`);
}

// --------------------------------------------------------------------------------------------- tokens

/** The token rows of one storage account (one partition). */
export function tokensOfAccount(storageAccount: string): CatalogQuery<'tokens'> {
  return query('tokens', odata`PartitionKey eq ${tokenKeys(storageAccount, 'x').partitionKey}`);
}

// ------------------------------------------------------------------------------------------- landings

/** Landings of one export (its partition), or of one period of it; never its file and period rows,
 * whose RowKeys start at LANDING_ROWS_END. */
export function landingsOfExport(exportKeyValue: string, period?: string): CatalogQuery<'landings'> {
  if (period === undefined) {
    return query('landings', odata`PartitionKey eq ${exportKeyValue} and RowKey lt ${LANDING_ROWS_END}`);
  }
  const { from, to } = prefixRange(tableKey(period, 'period'));
  return query(
    'landings',
    odata`PartitionKey eq ${exportKeyValue} and RowKey ge ${from} and RowKey lt ${to}`,
  );
}

/** Landing rows written at or after `since` (the service's Timestamp; no index by time, so this
 * narrows a scan); file and period rows have `kind` file / period and are left out. */
export function landingsWrittenSince(since: Date): CatalogQuery<'landings'> {
  return query('landings', odata`Timestamp ge ${since} and kind eq ${'landing'}`);
}

/** The filter of one run's file rows (a RowKey range in the landing's partition). */
export function landingFilesFilter(landingPartition: string, filesPrefix: string): string {
  const { from, to } = prefixRange(filesPrefix);
  return odata`PartitionKey eq ${landingPartition} and RowKey ge ${from} and RowKey lt ${to}`;
}

// --------------------------------------------------------------------------------------- backfillRuns

/** One backfill's run rows (its partition), ordered by dataset then month. */
export function backfillRunsOf(backfillId: string): CatalogQuery<'backfillRuns'> {
  return query('backfillRuns', odata`PartitionKey eq ${tableKey(backfillId, 'backfillId')}`);
}

/** The blob trigger's lookup rows of an export name and month in every scope (a scan across
 * partitions; backfills name their exports in lower case). */
export function backfillLookupsNamed(exportName: string, month: string): CatalogQuery<'backfillRuns'> {
  return query(
    'backfillRuns',
    odata`kind eq ${'lookup'} and RowKey eq ${month} and exportName eq ${exportName.toLowerCase()}`,
  );
}

/** Every backfill's run rows; the table also holds the blob trigger's lookup rows (kind `lookup`). */
export function allBackfillRuns(): CatalogQuery<'backfillRuns'> {
  return query('backfillRuns', odata`kind eq ${'run'}`);
}

// --------------------------------------------------------------------------------------------- ledger

/** Ledger cells in any of `states`. */
export function ledgerCellsInStates(states: Iterable<LedgerState>): CatalogQuery<'ledger'> {
  return query('ledger', [...states].map((s) => odata`state eq ${s}`).join(' or '));
}

export interface LedgerSelection {
  /** Canonical scope: one partition. */
  scope?: string;
  exportName?: string;
  /** `YYYY-MM`, inclusive. */
  fromMonth?: string;
  toMonth?: string;
  states?: readonly LedgerState[];
  /** Cells at or after these keys (in table order): where a page that stopped inside a scope goes on. */
  fromKey?: { partitionKey: string; rowKey: string };
}

/** Ledger cells: a scope is one partition, an export a RowKey range in it (or a column filter
 * across scopes); months and states filter on columns. Ordered by scope, export, month. */
export function ledgerCells(selection: LedgerSelection): CatalogQuery<'ledger'> {
  const parts: string[] = [];
  if (selection.scope !== undefined) {
    parts.push(odata`PartitionKey eq ${scopePartitionKey(selection.scope)}`);
    if (selection.exportName !== undefined) {
      const { from, to } = ledgerExportRange(selection.exportName);
      parts.push(odata`RowKey ge ${from} and RowKey lt ${to}`);
    }
  } else if (selection.exportName !== undefined) {
    parts.push(odata`exportName eq ${selection.exportName}`);
  }
  if (selection.fromMonth !== undefined) parts.push(odata`month ge ${selection.fromMonth}`);
  if (selection.toMonth !== undefined) parts.push(odata`month le ${selection.toMonth}`);
  if (selection.states && selection.states.length > 0) {
    parts.push(`(${selection.states.map((s) => odata`state eq ${s}`).join(' or ')})`);
  }
  if (selection.fromKey !== undefined) {
    const { partitionKey, rowKey } = selection.fromKey;
    parts.push(
      odata`(PartitionKey gt ${partitionKey} or (PartitionKey eq ${partitionKey} and RowKey ge ${rowKey}))`,
    );
  }
  return query('ledger', parts.length ? parts.join(' and ') : undefined);
}
