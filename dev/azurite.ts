// Starts Azurite (from devDependencies) on free loopback ports, in memory, and stops it cleanly.
// Shared by the jest global setup, `npm run dev`, `npm run demo` and the benchmarks.
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

export const AZURITE_ACCOUNT = 'devstoreaccount1';
// Azurite's well-known development key: public, documented, and only valid against the emulator.
export const AZURITE_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface AzuriteInstance {
  blobEndpoint: string;
  queueEndpoint: string;
  tableEndpoint: string;
  connectionString: string;
  pid: number;
  stop(): Promise<void>;
}

const LISTENING = /Azurite (Blob|Queue|Table) service is successfully listening at (http:\/\/[^\s]+)/g;

export function azuriteConnectionString(blob: string, queue: string, table: string): string {
  return (
    `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};` +
    `BlobEndpoint=${blob}/${AZURITE_ACCOUNT};QueueEndpoint=${queue}/${AZURITE_ACCOUNT};` +
    `TableEndpoint=${table}/${AZURITE_ACCOUNT};`
  );
}

/** `location`: keep the data in this folder (Azurite's --location) instead of in memory. */
export async function startAzurite(
  options: { timeoutMs?: number; location?: string } = {},
): Promise<AzuriteInstance> {
  const script = path.join(path.dirname(require.resolve('azurite/package.json')), 'dist/src/azurite.js');
  // `node azurite.js`, not `npx azurite`: with npx the recorded pid is the wrapper's and killing it
  // leaves Azurite running. --skipApiVersionCheck: Azurite may lag the SDK's x-ms-version.
  // Azurite is held at 3.36 (package.json ~3.36.0): it indexes its in-memory metadata lookups
  // (Azure/Azurite#2588), so a blob read no longer scans every blob of the account (in 3.35 it took
  // ×10 as long at 20,000 blobs; bench/azuriteScale.ts). 3.36 declares Node 21+, yet the whole test
  // suite passes on it under Node 20; 3.37 declares Node 22+.
  const child = spawn(
    process.execPath,
    [
      script,
      '--silent',
      ...(options.location ? ['--location', options.location] : ['--inMemoryPersistence']),
      '--disableTelemetry',
      '--skipApiVersionCheck',
      ...['--blobHost', '127.0.0.1', '--queueHost', '127.0.0.1', '--tableHost', '127.0.0.1'],
      ...['--blobPort', '0', '--queuePort', '0', '--tablePort', '0'],
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const endpoints = await waitForEndpoints(child, options.timeoutMs ?? 30_000);
  const stop = () => stopProcess(child);
  return {
    blobEndpoint: `${endpoints.Blob}/${AZURITE_ACCOUNT}`,
    queueEndpoint: `${endpoints.Queue}/${AZURITE_ACCOUNT}`,
    tableEndpoint: `${endpoints.Table}/${AZURITE_ACCOUNT}`,
    connectionString: azuriteConnectionString(endpoints.Blob!, endpoints.Queue!, endpoints.Table!),
    pid: child.pid ?? -1,
    stop,
  };
}

type ServiceEndpoints = Record<'Blob' | 'Queue' | 'Table', string | undefined>;

function waitForEndpoints(child: ChildProcess, timeoutMs: number): Promise<ServiceEndpoints> {
  return new Promise((resolve, reject) => {
    const found: ServiceEndpoints = { Blob: undefined, Queue: undefined, Table: undefined };
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`Azurite did not start within ${timeoutMs} ms. Output:\n${output}`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      for (const m of output.matchAll(LISTENING)) found[m[1] as keyof ServiceEndpoints] = m[2];
      if (found.Blob && found.Queue && found.Table) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        // Keep draining so a chatty Azurite never blocks on a full pipe.
        child.stdout?.resume();
        child.stderr?.resume();
        resolve(found);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Azurite exited with code ${code} before listening. Output:\n${output}`));
    });
  });
}

export function stopProcess(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
