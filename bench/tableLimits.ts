// Reference write limits of Table Storage on this machine (Azurite, in memory), which the other
// benchmarks compare to: single-entity upserts in sequence and 8 at a time, and rows written in
// 100-entity transactions. Run: `npx tsx bench/tableLimits.ts` (starts and stops its own Azurite).
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';

import { TableClient } from '@azure/data-tables';

import { startAzurite } from '../dev/azurite';
import { mapWithConcurrency, type Row, upsertRowsInTransactions } from '../src/azure/catalog';

export interface Rate {
  label: string;
  count: number;
  ms: number;
  perSecond: number;
}

function rate(label: string, count: number, ms: number): Rate {
  return { label, count, ms, perSecond: Math.round((count / ms) * 1000) };
}

export function formatRate(r: Rate): string {
  // The load average says how much the figure is worth on a shared machine.
  return `${r.label}: ${r.perSecond} rows/s (${r.count} rows in ${Math.round(r.ms)} ms, load ${loadavg()[0]!.toFixed(1)})`;
}

/** A row shaped like a landing's file row (kind, period, run id, part, path, bytes and rows as Int64). */
export function sampleRow(partitionKey: string, i: number): Row {
  return {
    partitionKey,
    rowKey: `~file|20250701-20250731|${partitionKey}|${String(i).padStart(6, '0')}`,
    kind: 'file',
    period: '20250701-20250731',
    runId: partitionKey,
    part: i,
    path: `costs/contoso/daily-actual/20250701-20250731/202508010943/${partitionKey}/part_0_${String(i).padStart(4, '0')}.csv`,
    bytes: BigInt(1_000_000 + i),
    rows: BigInt(10_000 + i),
  };
}

/** `n` single-entity upserts (Replace), `concurrency` at a time. */
export async function measureSingleUpserts(
  client: TableClient,
  options: { n: number; concurrency: number; partitions?: number },
): Promise<Rate> {
  const partitions = options.partitions ?? 8;
  const indexes = Array.from({ length: options.n }, (_, i) => i);
  const start = performance.now();
  await mapWithConcurrency(indexes, options.concurrency, async (i) => {
    await client.upsertEntity(sampleRow(`single-${options.concurrency}-${i % partitions}`, i), 'Replace');
  });
  return rate(`single upserts, concurrency ${options.concurrency}`, options.n, performance.now() - start);
}

/** `n` rows through the catalog's transaction writer (≤100 per transaction), spread over partitions. */
export async function measureTransactionRows(
  client: TableClient,
  options: { n: number; partitions?: number; concurrency?: number },
): Promise<Rate> {
  const partitions = options.partitions ?? 20;
  const rows = Array.from({ length: options.n }, (_, i) => sampleRow(`batch-${i % partitions}`, i));
  const start = performance.now();
  const result = await upsertRowsInTransactions(client, rows, { concurrency: options.concurrency ?? 8 });
  const ms = performance.now() - start;
  return rate(
    `100-entity transactions (${result.transactions} transactions, ${partitions} partitions, concurrency ${options.concurrency ?? 8})`,
    result.rows,
    ms,
  );
}

/** All three reference figures against one table of the given Azurite. */
export async function measureTableLimits(connectionString: string): Promise<Rate[]> {
  const client = TableClient.fromConnectionString(connectionString, `limits${Date.now()}`, {
    allowInsecureConnection: true,
  });
  await client.createTable();
  await measureSingleUpserts(client, { n: 200, concurrency: 8 }); // warm-up: connections, JIT
  return [
    await measureSingleUpserts(client, { n: 2_000, concurrency: 1 }),
    await measureSingleUpserts(client, { n: 2_000, concurrency: 8 }),
    await measureTransactionRows(client, { n: 20_000 }),
  ];
}

async function main(): Promise<void> {
  const azurite = await startAzurite();
  try {
    for (const r of await measureTableLimits(azurite.connectionString)) console.log(formatRate(r));
  } finally {
    await azurite.stop();
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
