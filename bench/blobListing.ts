// What listing a run folder costs this process, against a fresh Azurite: client CPU per List Blobs page
// of 100 blobs and of 1 blob (a 1-partition run) for the app's listing (listBlobNames, the SDK's
// public listBlobsFlat), next to the floor measured in the same run: the same pages fetched with a
// plain GET and read as text, parsed by nothing. The ratio is the figure; the milliseconds move with
// the machine's load. Rounds alternate the two ways so drift hits both alike; medians are reported.
// Run: `npx tsx bench/blobListing.ts [blobs] [rounds]`.
import { loadavg } from 'node:os';

import { BlobServiceClient, type ContainerClient, ContainerSASPermissions } from '@azure/storage-blob';

import { startAzurite } from '../dev/azurite';
import { listBlobNames } from '../src/azure/blobListing';
import { mapWithConcurrency } from '../src/azure/catalog';

const PAGE = 100;
const FOLDER =
  'exports/daily/cost-export/20250701-20250731/202508011200/7d3c7a0e-5b1f-4b7e-9a21-3b4c5d6e7f80';

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Client CPU milliseconds (user + system) `fn` takes in this process. */
async function cpuMs(fn: () => Promise<void>): Promise<number> {
  const before = process.cpuUsage();
  await fn();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}

async function appListing(container: ContainerClient, prefix: string, pageSize: number): Promise<number> {
  let n = 0;
  for await (const _ of listBlobNames(container, prefix, { maxPageSize: pageSize })) n++;
  return n;
}

/** The floor: the same List Blobs pages by a plain GET on a SAS URL, bodies read as text and only
 * searched for the next marker. */
async function bareListing(sasUrl: string, prefix: string, pageSize: number): Promise<number> {
  let marker: string | undefined;
  let pages = 0;
  do {
    const url = new URL(sasUrl);
    url.searchParams.set('restype', 'container');
    url.searchParams.set('comp', 'list');
    url.searchParams.set('prefix', prefix);
    url.searchParams.set('maxresults', String(pageSize));
    if (marker) url.searchParams.set('marker', marker);
    const response = await fetch(url, { headers: { 'x-ms-version': '2025-05-05' } });
    if (!response.ok) throw new Error(`List Blobs: HTTP ${response.status}`);
    const body = await response.text();
    marker = /<NextMarker>([^<]+)<\/NextMarker>/.exec(body)?.[1];
    pages++;
  } while (marker);
  return pages;
}

async function main(): Promise<void> {
  const blobs = Number(process.argv[2] ?? 2_000);
  const rounds = Number(process.argv[3] ?? 5);
  const azurite = await startAzurite();
  try {
    const service = BlobServiceClient.fromConnectionString(azurite.connectionString);
    const container = service.getContainerClient('msexports');
    await container.create();
    const names = Array.from(
      { length: blobs },
      (_, i) => `${FOLDER}/part_0_${String(i).padStart(4, '0')}.csv.gz`,
    );
    await mapWithConcurrency(names, 16, (name) =>
      container
        .getBlockBlobClient(name)
        .upload('x', 1)
        .then(() => undefined),
    );
    const single = `${FOLDER}-single`;
    await container.getBlockBlobClient(`${single}/part_0_0001.csv.gz`).upload('x', 1);
    const sasUrl = await container.generateSasUrl({
      permissions: ContainerSASPermissions.parse('l'),
      expiresOn: new Date(Date.now() + 3_600_000),
    });
    const pages = Math.ceil(blobs / PAGE);
    const ones = 50; // 1-blob listings per round

    const app100: number[] = [];
    const bare100: number[] = [];
    const app1: number[] = [];
    const bare1: number[] = [];
    for (let round = 0; round <= rounds; round++) {
      const a100 = await cpuMs(async () => {
        if ((await appListing(container, `${FOLDER}/`, PAGE)) !== blobs)
          throw new Error('app listing miscounted');
      });
      const b100 = await cpuMs(async () => {
        if ((await bareListing(sasUrl, `${FOLDER}/`, PAGE)) !== pages)
          throw new Error('bare listing miscounted');
      });
      const a1 = await cpuMs(async () => {
        for (let i = 0; i < ones; i++) await appListing(container, `${single}/`, 5000);
      });
      const b1 = await cpuMs(async () => {
        for (let i = 0; i < ones; i++) await bareListing(sasUrl, `${single}/`, 5000);
      });
      if (round === 0) continue; // warm-up: JIT and connections
      app100.push(a100 / pages);
      bare100.push(b100 / pages);
      app1.push(a1 / ones);
      bare1.push(b1 / ones);
    }
    const ms = (values: number[]) => median(values).toFixed(2);
    const ratio = (a: number[], b: number[]) => (median(a) / median(b)).toFixed(1);
    console.log(
      `blob listing: client CPU per ${PAGE}-blob page ${ms(app100)} ms through the SDK's listBlobsFlat vs ` +
        `${ms(bare100)} ms for a plain GET read as text (ratio ${ratio(app100, bare100)}) · per 1-blob ` +
        `run folder ${ms(app1)} ms vs ${ms(bare1)} ms (ratio ${ratio(app1, bare1)}) · ${blobs} blobs, ` +
        `${rounds} rounds, load ${loadavg()[0]!.toFixed(1)}`,
    );
  } finally {
    await azurite.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
