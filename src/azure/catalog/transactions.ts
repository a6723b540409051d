// Multi-row writes: entity group transactions hold ≤100 actions, all in one partition, ≤4 MiB of body.
// Rows are grouped by partition, de-duplicated by RowKey (a batch may not touch a row twice; the last
// one wins, as sequential upserts would), chunked, and submitted with bounded concurrency.
import type { TableClient, TableEntity, TransactionAction } from '@azure/data-tables';

import { redactSecrets } from '../../domain/redact';

export const MAX_TRANSACTION_ACTIONS = 100;
/** Headroom under the 4 MiB batch limit for multipart framing and per-action headers. */
const MAX_TRANSACTION_BODY_CHARS = 3_500_000;
const ACTION_OVERHEAD_CHARS = 600;

export type Row = TableEntity<Record<string, unknown>>;

export interface UpsertManyOptions {
  /** Transactions in flight at once (default 8). */
  concurrency?: number;
  /** `Replace` (default) makes a re-sent row identical to the first; `Merge` keeps absent properties. */
  mode?: 'Replace' | 'Merge';
}

export interface UpsertManyResult {
  rows: number;
  partitions: number;
  transactions: number;
}

/** Splits rows into per-partition chunks of ≤100 actions and bounded size. Pure; exported for tests. */
export function planTransactions(rows: readonly Row[]): Row[][] {
  const byPartition = new Map<string, Map<string, Row>>();
  for (const row of rows) {
    let partition = byPartition.get(row.partitionKey);
    if (!partition) byPartition.set(row.partitionKey, (partition = new Map<string, Row>()));
    partition.delete(row.rowKey); // re-insert so the last write also keeps the last position
    partition.set(row.rowKey, row);
  }
  const chunks: Row[][] = [];
  for (const partition of byPartition.values()) {
    let chunk: Row[] = [];
    let size = 0;
    for (const row of partition.values()) {
      const rowSize = JSON.stringify(row, (_k, v: unknown) =>
        typeof v === 'bigint' ? v.toString() : v,
      ).length;
      if (
        chunk.length === MAX_TRANSACTION_ACTIONS ||
        (chunk.length > 0 && size + rowSize > MAX_TRANSACTION_BODY_CHARS)
      ) {
        chunks.push(chunk);
        chunk = [];
        size = 0;
      }
      chunk.push(row);
      size += rowSize + ACTION_OVERHEAD_CHARS;
    }
    if (chunk.length > 0) chunks.push(chunk);
  }
  return chunks;
}

/** Upserts any number of rows through transactions. Used by Catalog.upsertMany and the benchmarks. */
export async function upsertRowsInTransactions(
  client: Pick<TableClient, 'submitTransaction' | 'tableName'>,
  rows: readonly Row[],
  options: UpsertManyOptions = {},
): Promise<UpsertManyResult> {
  const mode = options.mode ?? 'Replace';
  const chunks = planTransactions(rows);
  await mapWithConcurrency(chunks, options.concurrency ?? 8, async (chunk) => {
    const actions: TransactionAction[] = chunk.map((row) => ['upsert', row, mode]);
    try {
      await client.submitTransaction(actions);
    } catch (error) {
      const partitionKey = chunk[0]?.partitionKey ?? '';
      throw new Error(
        `${client.tableName}: transaction of ${chunk.length} rows in partition "${partitionKey}" failed: ${redactSecrets(
          error instanceof Error ? error.message : String(error),
        )}`,
        { cause: error },
      );
    }
  });
  return {
    rows: chunks.reduce((n, c) => n + c.length, 0),
    partitions: new Set(chunks.map((c) => c[0]!.partitionKey)).size,
    transactions: chunks.length,
  };
}

/** Runs `fn` over items with at most `limit` in flight. Stops starting new work after the first
 * failure, waits for what is running, then rethrows that failure. */
export async function mapWithConcurrency<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
  if (!Number.isInteger(limit) || limit < 1)
    throw new RangeError(`concurrency: expected a whole number ≥ 1, got ${limit}`);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (!failure && next < items.length) {
      const index = next++;
      try {
        await fn(items[index]!, index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.error;
}
