// Landing catalog throughput against a fresh Azurite, next to that Azurite's own Table Storage
// limits measured in the same run: landings/s for 1-partition manifests (goal ≥ 25% of the single
// upsert rate) and file rows/s for 100-partition manifests (goal ≥ 50% of the 100-entity transaction
// rate). Manifests are emulator-shaped (buildManifest); their blobs are uploaded before timing, since
// Cost Management writes them, not us. Run: `npx tsx bench/catalog.ts [landings1] [landings100]`.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { TableClient } from '@azure/data-tables';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { startAzurite } from '../dev/azurite';
import { parseBackfillExportName } from '../src/domain/backfillPlan';
import { buildManifest, serializeManifest } from '../dev/emulator/data/manifest';
import { partitionFileName, runFolder } from '../dev/emulator/data/layout';
import { Catalog, mapWithConcurrency } from '../src/azure/catalog';
import { createTableClient, tableClientFactory } from '../src/azure/storageClients';
import type { StorageConnection } from '../src/config';
import {
  containerBlobLister,
  LandingService,
  unresolvedLandingTable,
  type ManifestLanded,
} from '../src/services/landings';
import { measureSingleUpserts, measureTransactionRows } from './tableLimits';

const SCOPE = '/subscriptions/6c1f5e0a-8d3b-4f7e-9a21-3b4c5d6e7f80';

/** Counts the HTTP requests this process sends (Azurite is plain http): requests per landing is the
 * figure that does not move with the machine's load, unlike the rates. */
function countRequests(): { reset(): void; total(): number } {
  let n = 0;
  const original = http.request.bind(http) as (...args: unknown[]) => http.ClientRequest;
  (http as { request: unknown }).request = (...args: unknown[]) => {
    n++;
    return original(...args);
  };
  return { reset: () => (n = 0), total: () => n };
}
const CONCURRENCY = 8; // landings in flight, as the limits' concurrent figures use

interface Prepared {
  events: ManifestLanded[];
  files: number;
}

/** `count` runs of `parts` partitions, each its own export (so runs do not supersede each other:
 * steady state is one landing per export and period), blobs uploaded. */
async function prepare(
  container: ContainerClient,
  count: number,
  parts: number,
  label = 'bench',
): Promise<Prepared> {
  const events: ManifestLanded[] = [];
  const uploads: string[] = [];
  for (let i = 0; i < count; i++) {
    const exportName = `${label}-${parts}-${i}`;
    const runId = randomUUID();
    const submitted = new Date(Date.UTC(2025, 7, 1, 9, 42));
    const folder = runFolder({
      rootFolderPath: 'bench',
      exportName,
      from: new Date(Date.UTC(2025, 6, 1)),
      to: new Date(Date.UTC(2025, 6, 31)),
      runTime: submitted,
      runId,
    });
    const blobs = Array.from({ length: parts }, (_, p) => ({
      blobName: `${folder}/${partitionFileName(p, 'Csv', 'gzip')}`,
      byteCount: 1_000_000 + p,
      dataRowCount: 10_000 + p,
    }));
    uploads.push(...blobs.map((b) => b.blobName));
    const manifest = buildManifest({
      exportConfig: {
        exportName,
        resourceId: `${SCOPE}/providers/Microsoft.CostManagement/exports/${exportName}`,
        dataVersion: '2021-10-01',
        apiVersion: '2025-03-01',
        type: 'ActualCost',
        timeFrame: 'MonthToDate',
        granularity: 'Daily',
      },
      deliveryConfig: {
        partitionData: true,
        dataOverwriteBehavior: 'OverwritePreviousReport',
        fileFormat: 'Csv',
        compression: 'gzip',
        containerUri: `${SCOPE}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/bench`,
        rootFolderPath: 'bench',
      },
      runInfo: {
        executionType: 'Scheduled',
        submittedTime: '2025-08-01T09:42:11.0473318Z',
        runId,
        startDate: '2025-07-01T00:00:00',
        endDate: '2025-07-31T00:00:00',
      },
      blobs,
    });
    events.push({
      container: container.containerName,
      blobName: `${folder}/manifest.json`,
      content: Buffer.from(serializeManifest(manifest)),
    });
  }
  await mapWithConcurrency(uploads, 16, async (name) => {
    await container.getBlockBlobClient(name).upload('x', 1);
  });
  return { events, files: count * parts };
}

async function catalogue(service: LandingService, prepared: Prepared): Promise<number> {
  const start = performance.now();
  await mapWithConcurrency(prepared.events, CONCURRENCY, async (event) => {
    const outcome = await service.catalogue(event);
    if (outcome.kind !== 'catalogued' || outcome.state !== 'complete') {
      throw new Error(`${event.blobName}: ${JSON.stringify(outcome)}`);
    }
  });
  return performance.now() - start;
}

async function main(): Promise<void> {
  const landings1 = Number(process.argv[2] ?? 400);
  const landings100 = Number(process.argv[3] ?? 40);
  const azurite = await startAzurite();
  try {
    const connection: StorageConnection = {
      kind: 'connectionString',
      name: 'AzureWebJobsStorage',
      connectionString: azurite.connectionString,
    };
    const limits = TableClient.fromConnectionString(azurite.connectionString, `limits${Date.now()}`, {
      allowInsecureConnection: true,
    });
    await limits.createTable();
    await measureSingleUpserts(limits, { n: 200, concurrency: CONCURRENCY }); // warm-up
    const single = await measureSingleUpserts(limits, { n: 2_000, concurrency: CONCURRENCY });
    const batch = await measureTransactionRows(limits, { n: 20_000 });

    const catalog = new Catalog({ tableClient: tableClientFactory(connection), tablePrefix: 'bench' });
    await catalog.ensureTables();
    const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(
      'msexports',
    );
    await container.create();
    const service = new LandingService({
      catalog,
      blobs: containerBlobLister(container),
      unresolved: unresolvedLandingTable(createTableClient(connection, catalog.tableName('landings'))),
      mayBelongToBackfill: (name) => parseBackfillExportName(name) !== undefined, // as the function wires it
    });
    await catalogue(service, await prepare(container, 20, 1, 'warmup')); // other exports: nothing superseded

    const requests = countRequests();
    const one = await prepare(container, landings1, 1);
    requests.reset();
    const oneMs = await catalogue(service, one);
    const oneRequests = requests.total() / landings1;
    const hundred = await prepare(container, landings100, 100);
    requests.reset();
    const hundredMs = await catalogue(service, hundred);
    const hundredRequests = requests.total() / landings100;

    const landingsPerSecond = Math.round((landings1 / oneMs) * 1000);
    const fileRowsPerSecond = Math.round((hundred.files / hundredMs) * 1000);
    const pct = (a: number, b: number) => `${Math.round((a / b) * 100)}%`;
    console.log(
      `catalog: 1-partition ${landingsPerSecond} landings/s (${pct(landingsPerSecond, single.perSecond)} of ` +
        `${single.perSecond} single upserts/s at concurrency ${CONCURRENCY}; goal 25%) · 100-partition ` +
        `${fileRowsPerSecond} file rows/s, ${Math.round((landings100 / hundredMs) * 1000)} landings/s ` +
        `(${pct(fileRowsPerSecond, batch.perSecond)} of ${batch.perSecond} rows/s in 100-entity transactions; ` +
        `goal 50%) · storage requests per landing ${oneRequests.toFixed(2)} (1-partition), ` +
        `${hundredRequests.toFixed(2)} (100-partition) · ${landings1}+${landings100} manifests, ` +
        `concurrency ${CONCURRENCY}, load ${loadavg()[0]!.toFixed(1)}`,
    );
  } finally {
    await azurite.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
