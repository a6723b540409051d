// Landing catalog throughput against a fresh Azurite, next to that Azurite's own Table Storage
// limits measured in the same run: landings/s for 1-partition manifests (goal ≥ 25% of the single
// upsert rate) and file rows/s for 100-partition manifests (goal ≥ 50% of the 100-entity transaction
// rate). Manifests are emulator-shaped (buildManifest); their blobs are uploaded before timing, since
// Cost Management writes them, not us.
//
// Azurite's speed drifts within a run (it warms up; its in-memory store grows), so the run is a warm-up
// round and then rounds that each start from the same state (fresh catalog tables, container and
// reference table) and measure each reference right before the phase it is compared with; the
// result line gives the median of the rounds. It also prints the storage
// requests per landing and Azurite's CPU time per landing against its CPU time per reference
// operation: figures that move much less with the machine's load than the rates do.
// Run: `npx tsx bench/catalog.ts [landings1] [landings100] [rounds]`.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';

import { TableClient } from '@azure/data-tables';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';

import { startAzurite } from '../dev/azurite';
import { partitionFileName, runFolder } from '../dev/emulator/data/layout';
import { buildManifest, serializeManifest } from '../dev/emulator/data/manifest';
import { containerBlobLister } from '../src/azure/blobListing';
import { Catalog, mapWithConcurrency } from '../src/azure/catalog';
import { unresolvedLandingTable } from '../src/azure/landingRows';
import { createTableClient, tableClientFactory } from '../src/azure/storageClients';
import type { StorageConnection } from '../src/config';
import { parseBackfillExportName } from '../src/domain/backfillPlan';
import { LandingOwners } from '../src/services/landingOwners';
import { LandingService, type ManifestLanded } from '../src/services/landings';
import { measureSingleUpserts, measureTransactionRows, type Rate } from './tableLimits';

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

/** Registers the prepared exports, as export sync or the fleet does: the owner check's one point
 * read finds each. */
async function register(
  catalog: Catalog,
  container: string,
  label: string,
  parts: number,
  count: number,
  at: Date,
): Promise<void> {
  await catalog.upsertMany(
    'exports',
    Array.from({ length: count }, (_, i) => ({
      scope: SCOPE,
      exportName: `${label}-${parts}-${i}`,
      dataset: 'ActualCost' as const,
      destination: {
        storageAccount: 'bench',
        container,
        rootFolderPath: 'bench',
        sasDelivered: false,
      },
      missing: false,
      updatedAt: at.toISOString(),
    })),
  );
}

/** `count` runs of `parts` partitions of July 2025, each its own export, blobs uploaded. By default
 * they run on 1 August, after the month: each is the first of its period (a backfill month, a
 * monthly export). Given an earlier day of July, they are runs during the month. */
async function prepare(
  catalog: Catalog,
  container: ContainerClient,
  count: number,
  parts: number,
  label = 'bench',
  submitted = new Date(Date.UTC(2025, 7, 1, 9, 42, 11)),
): Promise<Prepared> {
  const events: ManifestLanded[] = [];
  const uploads: string[] = [];
  for (let i = 0; i < count; i++) {
    const exportName = `${label}-${parts}-${i}`;
    const runId = randomUUID();
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
        submittedTime: submitted.toISOString(),
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
  await register(catalog, container.containerName, label, parts, count, submitted);
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

/** CPU time (user + system) a process has used, from /proc; undefined where there is none. */
function cpuMsOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

/** Runs `fn` and returns its result with the Azurite CPU milliseconds it took. */
async function withAzuriteCpu<T>(pid: number, fn: () => Promise<T>): Promise<{ value: T; cpuMs?: number }> {
  const before = cpuMsOf(pid);
  const value = await fn();
  const after = cpuMsOf(pid);
  return { value, ...(before !== undefined && after !== undefined ? { cpuMs: after - before } : {}) };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

interface RoundResult {
  single: Rate;
  batch: Rate;
  landingsPerSecond: number;
  /** A daily export's run during its month, superseding the day before's. */
  dailyPerSecond: number;
  fileRowsPerSecond: number;
  landings100PerSecond: number;
  /** Azurite CPU per landing ÷ per reference operation (upsert; 100-row transaction). */
  cpu1?: number;
  cpu100?: number;
}

/** Storage requests per landing, as counted in a round. */
interface RequestsPerLanding {
  one: number;
  daily: number;
  hundred: number;
}

interface RoundSetup {
  azurite: Awaited<ReturnType<typeof startAzurite>>;
  connection: StorageConnection;
  blobService: BlobServiceClient;
  requests: ReturnType<typeof countRequests>;
  landings1: number;
  landings100: number;
}

/** One round from fresh state: its result (undefined for the warm-up) and its requests per landing. */
async function runRound(
  setup: RoundSetup,
  round: number,
): Promise<{ result?: RoundResult; requests: RequestsPerLanding }> {
  const { azurite, connection, blobService, requests } = setup;
  const warmUp = round === 0; // JIT and connections on both sides; not reported
  // Every round starts from the same state: fresh catalog tables, container and reference table.
  const catalog = new Catalog({
    tableClient: tableClientFactory(connection),
    tablePrefix: `bench${round}`,
  });
  await catalog.ensureTables();
  const unresolved = unresolvedLandingTable(createTableClient(connection, catalog.tableName('landings')));
  const container = blobService.getContainerClient(`msexports${round}`);
  await container.create();
  // As the function wires it (appServices.ts); Azurite's path-style endpoint names no account.
  const mayBelongToBackfill = (name: string) => parseBackfillExportName(name) !== undefined;
  const service = new LandingService({
    catalog,
    blobs: containerBlobLister(container),
    unresolved,
    mayBelongToBackfill,
    owners: new LandingOwners({ catalog, mayBelongToBackfill }),
  });
  const limits = TableClient.fromConnectionString(azurite.connectionString, `limits${round}`, {
    allowInsecureConnection: true,
  });
  await limits.createTable();

  const one = await prepare(catalog, container, warmUp ? 50 : setup.landings1, 1, `r${round}`);
  await measureSingleUpserts(limits, { n: 200, concurrency: CONCURRENCY }); // its own warm-up
  const single = await withAzuriteCpu(azurite.pid, () =>
    measureSingleUpserts(limits, { n: 2_000, concurrency: CONCURRENCY }),
  );
  requests.reset();
  const oneRun = await withAzuriteCpu(azurite.pid, () => catalogue(service, one));
  const oneRequests = requests.total() / one.events.length;
  // Daily runs during the month: each export's 14 July run is there, its 15 July run lands.
  const day = (d: number) => new Date(Date.UTC(2025, 6, d, 9, 42, 11));
  await catalogue(service, await prepare(catalog, container, one.events.length, 1, `d${round}`, day(14)));
  const daily = await prepare(catalog, container, one.events.length, 1, `d${round}`, day(15));
  requests.reset();
  const dailyMs = await catalogue(service, daily);
  const dailyRequests = requests.total() / daily.events.length;

  const hundred = await prepare(catalog, container, warmUp ? 5 : setup.landings100, 100, `r${round}`);
  const batch = await withAzuriteCpu(azurite.pid, () => measureTransactionRows(limits, { n: 20_000 }));
  requests.reset();
  const hundredRun = await withAzuriteCpu(azurite.pid, () => catalogue(service, hundred));
  const hundredRequests = requests.total() / hundred.events.length;
  await container.delete(); // Azurite lists by scanning every blob: keep the next round's container as small

  const perLanding = { one: oneRequests, daily: dailyRequests, hundred: hundredRequests };
  if (warmUp) return { requests: perLanding };
  const perOp = (cpu: number | undefined, n: number) => (cpu === undefined ? undefined : cpu / n);
  const ratio = (a?: number, b?: number) => (a === undefined || b === undefined ? undefined : a / b);
  return {
    requests: perLanding,
    result: {
      single: single.value,
      batch: batch.value,
      landingsPerSecond: Math.round((one.events.length / oneRun.value) * 1000),
      dailyPerSecond: Math.round((daily.events.length / dailyMs) * 1000),
      fileRowsPerSecond: Math.round((hundred.files / hundredRun.value) * 1000),
      landings100PerSecond: Math.round((hundred.events.length / hundredRun.value) * 1000),
      cpu1: ratio(perOp(oneRun.cpuMs, one.events.length), perOp(single.cpuMs, single.value.count)),
      cpu100: ratio(
        perOp(hundredRun.cpuMs, hundred.events.length),
        perOp(batch.cpuMs, batch.value.count / 100),
      ),
    },
  };
}

/** The one result line: medians over the rounds, with each round's share. */
function resultLine(
  results: RoundResult[],
  perLanding: RequestsPerLanding,
  sizes: { rounds: number; landings1: number; landings100: number },
): string {
  const pct = (a: number, b: number) => Math.round((a / b) * 100);
  const share1 = results.map((r) => pct(r.landingsPerSecond, r.single.perSecond));
  const share100 = results.map((r) => pct(r.fileRowsPerSecond, r.batch.perSecond));
  const shareDaily = results.map((r) => pct(r.dailyPerSecond, r.single.perSecond));
  const list = (values: number[]) => values.join('/');
  const cpu = (values: (number | undefined)[]) =>
    values.every((v) => v !== undefined) ? median(values).toFixed(1) : 'n/a';
  return (
    `catalog: 1-partition ${median(results.map((r) => r.landingsPerSecond))} landings/s = ` +
    `${median(share1)}% of ${median(results.map((r) => r.single.perSecond))} single upserts/s ` +
    `(rounds ${list(share1)}%; goal 25%) · 1-partition daily runs superseding the day before ` +
    `${median(results.map((r) => r.dailyPerSecond))} landings/s = ${median(shareDaily)}% ` +
    `(rounds ${list(shareDaily)}%) · 100-partition ${median(results.map((r) => r.fileRowsPerSecond))} ` +
    `file rows/s, ${median(results.map((r) => r.landings100PerSecond))} landings/s = ${median(share100)}% of ` +
    `${median(results.map((r) => r.batch.perSecond))} rows/s in 100-entity transactions ` +
    `(rounds ${list(share100)}%; goal 50%) · storage requests per landing ${perLanding.one.toFixed(2)} ` +
    `(1-partition), ${perLanding.daily.toFixed(2)} (daily), ${perLanding.hundred.toFixed(2)} (100-partition) · Azurite CPU per landing = ` +
    `${cpu(results.map((r) => r.cpu1))} upserts (1-partition), ${cpu(results.map((r) => r.cpu100))} ` +
    `100-row transactions (100-partition) · ${sizes.rounds} rounds of ${sizes.landings1}+${sizes.landings100} manifests, ` +
    `concurrency ${CONCURRENCY}, load ${loadavg()[0]!.toFixed(1)}`
  );
}

async function main(): Promise<void> {
  const landings1 = Number(process.argv[2] ?? 400);
  const landings100 = Number(process.argv[3] ?? 40);
  const rounds = Number(process.argv[4] ?? 3);
  const azurite = await startAzurite();
  try {
    const setup: RoundSetup = {
      azurite,
      connection: {
        kind: 'connectionString',
        name: 'AzureWebJobsStorage',
        connectionString: azurite.connectionString,
      },
      blobService: BlobServiceClient.fromConnectionString(azurite.connectionString),
      requests: countRequests(),
      landings1,
      landings100,
    };
    const results: RoundResult[] = [];
    let perLanding: RequestsPerLanding = { one: 0, daily: 0, hundred: 0 };
    for (let round = 0; round <= rounds; round++) {
      const { result, requests } = await runRound(setup, round);
      perLanding = requests;
      if (result) results.push(result);
    }
    console.log(resultLine(results, perLanding, { rounds, landings1, landings100 }));
  } finally {
    await azurite.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
