// Conditional writes that lose a race: the error a read-modify-write gives up with, and the reading
// of a transaction or insert refused because another writer got there first.
import { wentThrough } from '../storageRefusal';

/** A conditional write lost: the row changed (or vanished) since it was read. */
export class CatalogConflictError extends Error {
  constructor(
    readonly table: string,
    readonly partitionKey: string,
    readonly rowKey: string,
    readonly reason: 'changed' | 'missing',
    options?: { cause?: unknown },
  ) {
    super(
      `${table} row (${partitionKey}, ${rowKey}) ${reason === 'changed' ? 'was changed by another writer' : 'no longer exists'}; read it again and retry`,
      options,
    );
    this.name = 'CatalogConflictError';
  }
}

/** True when the write went through; false when it lost a race: the row exists (409), changed (412)
 * or is gone (404). Anything else is thrown. */
export function wonRace(write: Promise<unknown>): Promise<boolean> {
  return wentThrough(write, 'missing', 'exists', 'changed');
}
