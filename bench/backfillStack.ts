// Shared by the backfill benchmarks: Azurite + the Exports emulator + the local host serving the real
// registrations of src/index.ts on the real clock (the emulator throttles and runs in real time).
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { startAzurite } from '../dev/azurite';
import type { EmulatorAdmin } from '../dev/emulator/admin';
import { startEmulator, type EmulatorOptions } from '../dev/emulator/server';
import { RealClock } from '../dev/host/clock';
import { installFunctionsCoreStub } from '../dev/host/installFunctionsCoreStub';
import { startLocalHost, type LocalHost } from '../dev/host/localHost';
import { resetConfigCache } from '../src/config';
import type { BackfillOutput } from '../src/workflows/backfill';

const EXPORTS_CONTAINER = 'msexports';

export interface BenchStack {
  api: string;
  host: LocalHost;
  admin: EmulatorAdmin;
  stop(): Promise<void>;
}

export const BENCH_DESTINATION = {
  resourceId:
    '/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/devstoreaccount1',
  container: EXPORTS_CONTAINER,
};

export async function startBenchStack(emulator: EmulatorOptions = {}): Promise<BenchStack> {
  const tempDir = mkdtempSync(path.join(os.tmpdir(), 'backfill-bench-'));
  const caFile = path.join(tempDir, 'ca.pem');
  const azurite = await startAzurite();
  await BlobServiceClient.fromConnectionString(azurite.connectionString)
    .getContainerClient(EXPORTS_CONTAINER)
    .createIfNotExists();
  const emu = await startEmulator({
    speedFactor: 2000,
    storage: { blobEndpoint: azurite.blobEndpoint, connectionString: azurite.connectionString },
    caFile,
    ...emulator,
  });
  const settings: Record<string, string> = {
    AzureWebJobsStorage: azurite.connectionString,
    ExportsStorage: azurite.connectionString,
    EXPORTS_CONTAINER,
    LANDING_TRIGGER_SOURCE: 'LogsAndContainerScan',
    STORAGE_BLOB_ENDPOINT_TEMPLATE: `${new URL(azurite.blobEndpoint).origin}/{account}`,
    COST_MANAGEMENT_ENDPOINT: emu.url,
    COST_MANAGEMENT_CA_FILE: caFile,
    COST_MANAGEMENT_CLIENT_TYPE: 'CostExportAutopilotLocal',
    MANAGED_SCOPES: '',
    SECRET_STORE: 'table',
    KEY_VAULT_URI: '',
    ALERT_MAIL_TRANSPORT: 'none',
    BACKFILL_MAX_CONCURRENCY: '6',
    BACKFILL_MAX_ATTEMPTS: '3',
    BACKFILL_POLL_INTERVAL_MINUTES: '1',
    BACKFILL_LANDING_TIMEOUT_MINUTES: '10',
    DURABLE_TASK_HUB: 'backfilltest',
  };
  Object.assign(process.env, settings);
  resetConfigCache();
  installFunctionsCoreStub();
  await import('../src/index.js');
  const host = await startLocalHost({
    env: process.env,
    clock: new RealClock(),
    blobPollIntervalMs: 200,
    taskHub: settings.DURABLE_TASK_HUB,
    logger: () => undefined,
  });
  return {
    api: host.baseUrl,
    host,
    admin: emu.admin,
    async stop() {
      await host.stop();
      await emu.stop();
      await azurite.stop();
      rmSync(tempDir, { recursive: true, force: true });
    },
  };
}

export async function startBackfill(api: string, body: unknown): Promise<string> {
  const response = await fetch(`${api}/backfills`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await response.json()) as { id?: string; errors?: unknown };
  if (response.status !== 202 || !json.id)
    throw new Error(`POST /backfills: ${response.status} ${JSON.stringify(json)}`);
  return json.id;
}

export async function waitForBackfill(api: string, id: string, timeoutMs = 600_000): Promise<BackfillOutput> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await fetch(`${api}/backfills/${id}`);
    const json = (await response.json()) as { runtimeStatus: string; result: BackfillOutput };
    if (json.runtimeStatus === 'Completed') return json.result;
    if (['Failed', 'Terminated'].includes(json.runtimeStatus) || Date.now() > deadline)
      throw new Error(`backfill ${id}: ${json.runtimeStatus}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
