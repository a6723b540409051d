// The app as `npm run dev` runs it, for a jest suite: the real registrations of src/index.ts in the
// local host (real clock), the Exports emulator over HTTPS delivering into the suite's Azurite, and
// the settings of dev/stack.ts. `storage` replaces the connection the app uses (e.g. a proxy in
// front of Azurite that a test can freeze).
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { BlobServiceClient } from '@azure/storage-blob';

import type { EmulatorAdmin } from '../../dev/emulator/admin';
import { startEmulator } from '../../dev/emulator/server';
import { REALISTIC_THROTTLE } from '../../dev/emulator/throttle';
import { RealClock } from '../../dev/host/clock';
import { type LocalHost, startLocalHost } from '../../dev/host/localHost';
import { connectionSettings, staticSettings } from '../../dev/stack';
import { resetConfigCache } from '../../src/config';
import { useAppServices } from '../../src/services/appServices';
import { testStorageConnection, uniqueName } from './storage';

export interface AppHost {
  api: string;
  host: LocalHost;
  emulatorAdmin: EmulatorAdmin;
  /** The emulator's HTTPS endpoint and the CA that signs it, for calls a test makes as Azure would. */
  emulatorUrl: string;
  emulatorCa: string;
  /** The exports container (in the suite's Azurite). */
  container: string;
  settings: Record<string, string>;
  stop(): Promise<void>;
}

export interface AppHostOptions {
  /** The connection string the app uses for its storage (default: the suite's Azurite). */
  storage?: string;
  settings?: Record<string, string>;
  logger?: (level: string, message: string) => void;
  /** Function-level routes refuse a request without the host's key, as Azure does (default: accepted, as `func start`). */
  requireKeys?: boolean;
}

export async function startAppHost(options: AppHostOptions = {}): Promise<AppHost> {
  const azurite = testStorageConnection();
  const storage = options.storage ?? azurite;
  const blobEndpoint = /BlobEndpoint=([^;]+)/.exec(storage)![1]!;
  const container = uniqueName('exports');
  await BlobServiceClient.fromConnectionString(azurite).getContainerClient(container).create();
  const tempDir = mkdtempSync(path.join(os.tmpdir(), 'app-host-'));
  const caFile = path.join(tempDir, 'ca.pem');
  // Throttled as Azure is (about 10 run POSTs a minute per scope, issue #12 item 9), as `npm run dev` is.
  const emulator = await startEmulator({
    speedFactor: 2000,
    throttle: { ...REALISTIC_THROTTLE },
    storage: { blobEndpoint: /BlobEndpoint=([^;]+)/.exec(azurite)![1]!, connectionString: azurite },
    caFile,
  });
  const settings: Record<string, string> = {
    ...staticSettings(['/providers/Microsoft.Billing/billingAccounts/12345678']),
    ...connectionSettings({
      storage,
      blobOrigin: new URL(blobEndpoint).origin,
      emulatorUrl: emulator.url,
      emulatorCa: caFile,
    }),
    EXPORTS_CONTAINER: container,
    DURABLE_TASK_HUB: uniqueName('hub'),
    ...options.settings,
  };
  const saved = new Map<string, string | undefined>();
  for (const [name, value] of Object.entries(settings)) {
    saved.set(name, process.env[name]);
    process.env[name] = value;
  }
  resetConfigCache();
  useAppServices(undefined);
  // After the settings: function files read some of them when they register.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('../../src/index');
  const restore = () => {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    resetConfigCache();
    useAppServices(undefined);
    rmSync(tempDir, { recursive: true, force: true });
  };
  let host: LocalHost;
  try {
    host = await startLocalHost({
      env: process.env,
      clock: new RealClock(),
      blobPollIntervalMs: 200,
      taskHub: settings.DURABLE_TASK_HUB,
      requireKeys: options.requireKeys ?? false,
      logger: options.logger ?? (() => undefined),
    });
  } catch (error) {
    await emulator.stop();
    restore();
    throw error;
  }
  return {
    api: host.baseUrl,
    host,
    emulatorAdmin: emulator.admin,
    emulatorUrl: emulator.url,
    emulatorCa: emulator.caPem,
    container,
    settings,
    stop: async () => {
      await host.stop();
      await emulator.stop();
      restore();
    },
  };
}
