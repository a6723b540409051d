// Benchmark: does the local Azurite answer slower as it holds more? The fleet day (fleetDay.ts) makes
// the same storage requests per scope at 500 and 5,000 scopes, yet its storage-heavy phases take
// more than 10× as long. This measures Azurite alone, with no app: the mean time of one request,
// sent one at a time, as a table grows from 1,000 to 40,000 rows (a point read, a one-partition
// query of 10 rows, a single upsert) and as a container grows from 500 to 20,000 blobs (a blob's
// properties, a small download), and the same requests to a 100-row table and a 10-blob container
// beside them, which do not grow. Azure Table and Blob Storage serve a point read or one partition
// by key, whatever else the account holds (their scalability targets are per partition and per
// account, not per table size); Azurite keeps everything in memory collections that it filters.
// Measured 2026-12-05 (2 cores, quiet), 1,000 → 40,000 rows and 500 → 20,000 blobs: Azurite 3.35
// point read ×0.5, partition query ×2.6, blob properties ×10.4 (×8.7 in the 10-blob container
// beside it: every blob of the account was scanned); Azurite 3.36 (indexed lookups,
// Azure/Azurite#2588) point read ×0.4, partition query ×2.4, blob properties ×0.5 (3.5 minutes →
// 38 s for the whole bench). A partition query still filters the whole table in Azurite.
// Run: `npx tsx bench/azuriteScale.ts` (under a minute; starts and stops its own Azurite).
import { performance } from 'node:perf_hooks';

import { TableClient } from '@azure/data-tables';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';

import { startAzurite } from '../dev/azurite';
import { mapWithConcurrency, upsertRowsInTransactions } from '../src/azure/catalog';
import { sampleRow } from './tableLimits';

const ROW_STEPS = [1_000, 10_000, 40_000];
const BLOB_STEPS = [500, 5_000, 20_000];
const SAMPLES = 300;
const PARTITION_ROWS = 10;

/** Mean ms of `n` requests sent one after another (the request's own cost, no queueing). */
async function meanMs(n: number, request: (i: number) => Promise<unknown>): Promise<number> {
  await request(0); // warm: connection, JIT
  const start = performance.now();
  for (let i = 1; i <= n; i++) await request(i);
  return (performance.now() - start) / n;
}

interface Step {
  size: number;
  grown: Record<string, number>;
  beside: Record<string, number>;
}

async function tableRequests(client: TableClient, rows: number): Promise<Record<string, number>> {
  const partitions = rows / PARTITION_ROWS;
  const pick = (i: number) => `p${(i * 7919) % partitions}`;
  return {
    'point read': await meanMs(SAMPLES, (i) => client.getEntity(pick(i), sampleRow(pick(i), 0).rowKey)),
    'partition query': await meanMs(SAMPLES, async (i) => {
      const pages = client.listEntities({ queryOptions: { filter: `PartitionKey eq '${pick(i)}'` } });
      for await (const _ of pages);
    }),
    upsert: await meanMs(SAMPLES, (i) => client.upsertEntity(sampleRow(pick(i), 0), 'Replace')),
  };
}

async function blobRequests(container: ContainerClient, blobs: number): Promise<Record<string, number>> {
  const pick = (i: number) => container.getBlockBlobClient(`b/${(i * 7919) % blobs}.csv`);
  return {
    'blob properties': await meanMs(SAMPLES, (i) => pick(i).getProperties()),
    'blob download': await meanMs(SAMPLES, (i) => pick(i).downloadToBuffer()),
  };
}

async function fillTable(client: TableClient, from: number, to: number): Promise<void> {
  const rows = [];
  for (let i = from; i < to; i++)
    rows.push(sampleRow(`p${Math.floor(i / PARTITION_ROWS)}`, i % PARTITION_ROWS));
  await upsertRowsInTransactions(client, rows, { concurrency: 8 });
}

async function fillContainer(container: ContainerClient, from: number, to: number): Promise<void> {
  const names = Array.from({ length: to - from }, (_, i) => `b/${from + i}.csv`);
  await mapWithConcurrency(names, 16, async (name) => {
    await container.getBlockBlobClient(name).upload('a,b\n1,2\n', 8);
  });
}

const ratio = (a: number, b: number) => `×${(b / a).toFixed(1)}`;

function line(kind: string, steps: Step[]): string {
  const [first, last] = [steps[0]!, steps.at(-1)!];
  const grown = Object.keys(first.grown).map(
    (k) =>
      `${k} ${steps.map((s) => s.grown[k]!.toFixed(2)).join(' → ')} ms ${ratio(first.grown[k]!, last.grown[k]!)}`,
  );
  const beside = Object.keys(first.beside).map(
    (k) =>
      `${k} ${first.beside[k]!.toFixed(2)} → ${last.beside[k]!.toFixed(2)} ms ${ratio(first.beside[k]!, last.beside[k]!)}`,
  );
  return `${kind} of ${steps.map((s) => s.size).join(' → ')}: ${grown.join(', ')}; beside it (not growing): ${beside.join(', ')}`;
}

async function main(): Promise<void> {
  const azurite = await startAzurite();
  try {
    const options = { allowInsecureConnection: true };
    const big = TableClient.fromConnectionString(azurite.connectionString, 'scalebig', options);
    const small = TableClient.fromConnectionString(azurite.connectionString, 'scalesmall', options);
    await big.createTable();
    await small.createTable();
    await fillTable(small, 0, 100);
    const tableSteps: Step[] = [];
    let rows = 0;
    for (const size of ROW_STEPS) {
      await fillTable(big, rows, size);
      rows = size;
      tableSteps.push({
        size,
        grown: await tableRequests(big, size),
        beside: await tableRequests(small, 100),
      });
      process.stderr.write(`  [azuriteScale] table at ${size} rows\n`);
    }

    const service = BlobServiceClient.fromConnectionString(azurite.connectionString);
    const bigC = service.getContainerClient('scalebig');
    const smallC = service.getContainerClient('scalesmall');
    await bigC.create();
    await smallC.create();
    await fillContainer(smallC, 0, 10);
    const blobSteps: Step[] = [];
    let blobs = 0;
    for (const size of BLOB_STEPS) {
      await fillContainer(bigC, blobs, size);
      blobs = size;
      blobSteps.push({ size, grown: await blobRequests(bigC, size), beside: await blobRequests(smallC, 10) });
      process.stderr.write(`  [azuriteScale] container at ${size} blobs\n`);
    }
    console.log(
      `Azurite, one request at a time: ${line('a table', tableSteps)} | ${line('a container', blobSteps)}`,
    );
  } finally {
    await azurite.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
