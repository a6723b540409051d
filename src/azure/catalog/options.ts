// How a Catalog is built and paged: the table client it is given, its table prefix, transaction
// concurrency and page size (checked once, at construction), and the paging and retry options of its reads.
import type { TableClient } from '@azure/data-tables';

/** The part of TableClient the catalog uses, so tests and tools can hand in their own. */
export type CatalogTableClient = Pick<
  TableClient,
  | 'tableName'
  | 'createTable'
  | 'getEntity'
  | 'listEntities'
  | 'createEntity'
  | 'upsertEntity'
  | 'updateEntity'
  | 'submitTransaction'
>;

export type TableClientFactory = (tableName: string) => CatalogTableClient;

export interface CatalogOptions {
  /** Builds a client for a table name; `tableClientFactory(connection)` from storageClients.ts. */
  tableClient: TableClientFactory;
  /** Prepended to every table name (letters and digits), so tests and side-by-side deployments isolate. */
  tablePrefix?: string;
  /** Transactions in flight in upsertMany (default 8). */
  concurrency?: number;
  /** Rows per page when listing (1-1000, default 1000, the service maximum). */
  pageSize?: number;
}

export interface PageOptions {
  continuationToken?: string;
  maxPageSize?: number;
}

export interface Page<T> {
  items: T[];
  /** Absent on the last page. */
  continuationToken?: string;
}

export interface ModifyOptions {
  /** Read-modify-write attempts before giving up with CatalogConflictError (default 5). */
  maxAttempts?: number;
}

const TABLE_PREFIX = /^(?:[A-Za-z][A-Za-z0-9]{0,40})?$/;

/** The settings a Catalog runs with, its options checked and defaulted. */
export function catalogSettings(options: CatalogOptions): {
  prefix: string;
  concurrency: number;
  pageSize: number;
} {
  const prefix = options.tablePrefix ?? '';
  if (!TABLE_PREFIX.test(prefix)) {
    throw new TypeError(
      `tablePrefix: expected up to 41 letters and digits starting with a letter, got "${prefix}"`,
    );
  }
  const concurrency = options.concurrency ?? 8;
  const pageSize = options.pageSize ?? 1000;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`concurrency: expected a whole number ≥ 1, got ${concurrency}`);
  }
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) {
    throw new RangeError(`pageSize: expected a whole number from 1 to 1000, got ${pageSize}`);
  }
  return { prefix, concurrency, pageSize };
}
