// The catalog tables and how each record kind maps to its rows (the mapping of each table is in its
// own module: exportRecords, tokenRecords, landingRecords, backfillRecords, ledgerRecords).
// Timestamps are ISO 8601 strings everywhere (Azure's 7-digit fractions survive; Edm.DateTime would
// cut them to milliseconds); arrays are JSON strings; bytes and row counts are Edm.Int64.
import { backfillFromRow, type BackfillRunRecord, backfillToRows } from './backfillRecords';
import { exportFromRow, type ExportRecord, exportToRow } from './exportRecords';
import { landingFromRow, type LandingRecord, landingToRow } from './landingRecords';
import { ledgerCellFromRow, type LedgerCellRecord, ledgerCellToRow } from './ledgerRecords';
import { tokenFromRow, type TokenRecord, tokenToRow } from './tokenRecords';
import type { Row } from './transactions';

export type TableKind = 'exports' | 'tokens' | 'landings' | 'backfillRuns' | 'ledger';
export const TABLE_KINDS: readonly TableKind[] = ['exports', 'tokens', 'landings', 'backfillRuns', 'ledger'];

/** A record as read back: its keys and the ETag for conditional updates. */
export type Stored<T> = T & { partitionKey: string; rowKey: string; etag: string };

export interface RecordTypes {
  exports: ExportRecord;
  tokens: TokenRecord;
  landings: LandingRecord;
  backfillRuns: BackfillRunRecord;
  ledger: LedgerCellRecord;
}

interface TableMapping<T> {
  /** The rows one record is stored as; the first is the record's own row. */
  toRows(record: T): Row[];
  fromRow(row: Record<string, unknown>): T;
}

export const MAPPINGS: { [K in TableKind]: TableMapping<RecordTypes[K]> } = {
  exports: { toRows: (r) => [exportToRow(r)], fromRow: exportFromRow },
  tokens: { toRows: (r) => [tokenToRow(r)], fromRow: tokenFromRow },
  landings: { toRows: (r) => [landingToRow(r)], fromRow: landingFromRow },
  backfillRuns: { toRows: (r) => backfillToRows(r), fromRow: backfillFromRow },
  ledger: { toRows: (r) => [ledgerCellToRow(r)], fromRow: ledgerCellFromRow },
};
