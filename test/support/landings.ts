// Shared set-up for the landing catalog tests: a catalog on unique tables in the jest Azurite, a
// unique exports container, and the fixture manifests with fresh run ids.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { odata } from '@azure/data-tables';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';

import { containerBlobLister } from '../../src/azure/blobListing';
import {
  Catalog,
  landingFileFromRow,
  type LandingFileRecord,
  type LandingRecord,
  type Stored,
} from '../../src/azure/catalog';
import { unresolvedLandingTable } from '../../src/azure/landingRows';
import { createTableClient, tableClientFactory } from '../../src/azure/storageClients';
import type { StorageConnection } from '../../src/config';
import type { LandingOwnerLookup } from '../../src/services/landingOwners';
import type { LandingDependencies, LandingLog } from '../../src/services/landingPorts';
import { LandingService } from '../../src/services/landings';
import { testStorageConnection, uniqueName } from './storage';

/** Takes the scope a manifest names as the owner of its folder: for tests of the catalog's own rules
 * (the owner check, services/landingOwners.ts, has its own tests and is what the function wires). */
export const namedScopeOwns: LandingOwnerLookup = {
  judge: (claim) =>
    Promise.resolve({ verdict: { kind: 'owned', scope: claim.scope, source: 'registered' }, armCalls: 0 }),
};

export const FIXTURES = join(__dirname, '..', 'fixtures', 'manifests');

export function storageConnection(): StorageConnection {
  return { kind: 'connectionString', name: 'AzureWebJobsStorage', connectionString: testStorageConnection() };
}

export interface LandingWorld {
  catalog: Catalog;
  container: ContainerClient;
  containerName: string;
  logs: { level: keyof LandingLog; message: string }[];
  service(overrides?: Partial<LandingDependencies>): LandingService;
}

export async function landingWorld(): Promise<LandingWorld> {
  const connection = storageConnection();
  const catalog = new Catalog({ tableClient: tableClientFactory(connection), tablePrefix: uniqueName('lw') });
  await catalog.ensureTables();
  const containerName = uniqueName('exports');
  const container =
    BlobServiceClient.fromConnectionString(testStorageConnection()).getContainerClient(containerName);
  await container.create();
  const unresolved = unresolvedLandingTable(createTableClient(connection, catalog.tableName('landings')));
  const logs: LandingWorld['logs'] = [];
  const log: LandingLog = {
    info: (message) => logs.push({ level: 'info', message }),
    warn: (message) => logs.push({ level: 'warn', message }),
    error: (message) => logs.push({ level: 'error', message }),
  };
  return {
    catalog,
    container,
    containerName,
    logs,
    service: (overrides = {}) =>
      new LandingService({
        catalog,
        blobs: containerBlobLister(container),
        unresolved,
        owners: namedScopeOwns,
        log,
        ...overrides,
      }),
  };
}

/** A fixture's text with its run id (everywhere, blob paths included) replaced by a fresh one. */
export function fixture(name: string, runId: string = randomUUID()): { text: string; runId: string } {
  const text = readFileSync(join(FIXTURES, name), 'utf8');
  const doc = JSON.parse(text) as { runInfo?: { runId?: string }; blobs?: { blobName: string }[] };
  const old =
    doc.runInfo?.runId ??
    /([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/.exec(
      doc.blobs?.[0]?.blobName ?? '',
    )?.[1];
  if (!old) throw new Error(`${name}: no run id to replace`);
  return { text: text.split(old).join(runId), runId };
}

/** Uploads a small blob for every name the manifest lists (sizes do not matter to the catalog when the
 * manifest states them). */
export async function uploadListedBlobs(container: ContainerClient, manifestText: string): Promise<void> {
  const doc = JSON.parse(manifestText) as { blobs: { blobName: string }[] };
  await Promise.all(doc.blobs.map((b) => container.getBlockBlobClient(b.blobName).upload('data', 4)));
}

/** Table contents without the per-write bookkeeping (ETag, Timestamp), for equality checks. */
export function content<T extends object>(rows: readonly Stored<T>[]): unknown[] {
  return rows.map(({ etag: _etag, ...rest }) => rest);
}

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

/** A run's file rows, found by run id alone (a scan: tests only; the app reads them by landing). */
export async function filesOf(catalog: Catalog, runId: string): Promise<Stored<LandingFileRecord>[]> {
  const files: Stored<LandingFileRecord>[] = [];
  for await (const row of rawRows(catalog, odata`kind eq ${'file'} and runId eq ${runId}`)) {
    files.push({
      ...landingFileFromRow(row),
      partitionKey: String(row.partitionKey),
      rowKey: String(row.rowKey),
      etag: String(row.etag),
    });
  }
  return files.sort((a, b) => a.part - b.part);
}

/** Every row of the landings table as stored (landing, file and period rows), optionally filtered. */
export function rawRows(catalog: Catalog, filter?: string): AsyncIterable<Record<string, unknown>> {
  return createTableClient(storageConnection(), catalog.tableName('landings')).listEntities<
    Record<string, unknown>
  >({ queryOptions: filter ? { filter } : {} });
}

export async function landingsOf(catalog: Catalog, partitionKey: string): Promise<Stored<LandingRecord>[]> {
  return collect(catalog.landingsByExport(partitionKey));
}
