// `npm run emulator`: Azurite + the Exports emulator on loopback, until Ctrl-C.
// Options (environment): EMULATOR_PORT, EMULATOR_SPEED (number or "max"), EMULATOR_SEED,
// EMULATOR_API_VERSIONS (comma list), EMULATOR_RUNS_PER_MINUTE (default 10, 0 = no throttling). Nothing is persisted outside Azurite's memory and a temp CA file.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { startAzurite } from '../azurite';
import { API_VERSION, startEmulator } from './server';
import { REALISTIC_THROTTLE, type ThrottleLimits } from './throttle';

function numberFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'max') return Infinity;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0)
    throw new Error(`${name} must be a non-negative number (got "${raw}")`);
  return value;
}

function runThrottleFromEnv(): ThrottleLimits {
  const limit = numberFromEnv('EMULATOR_RUNS_PER_MINUTE', REALISTIC_THROTTLE.runPerScope!.limit);
  if (limit === 0) return {};
  if (!Number.isFinite(limit)) throw new Error('EMULATOR_RUNS_PER_MINUTE must be a number (0 = off)');
  return { runPerScope: { limit, windowSeconds: 60 } };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cost-emulator-'));
  const caFile = path.join(dir, 'emulator-ca.pem');
  const azurite = await startAzurite();
  const emulator = await startEmulator({
    port: numberFromEnv('EMULATOR_PORT', 0),
    speedFactor: numberFromEnv('EMULATOR_SPEED', 60),
    seed: numberFromEnv('EMULATOR_SEED', 1),
    apiVersions: (process.env.EMULATOR_API_VERSIONS ?? API_VERSION).split(',').map((v) => v.trim()),
    storage: { blobEndpoint: azurite.blobEndpoint, connectionString: azurite.connectionString },
    caFile,
    // EMULATOR_RUNS_PER_MINUTE: run POSTs a minute per scope and ClientType before 429 (0 = off).
    throttle: runThrottleFromEnv(),
  });
  console.log(
    [
      'Cost Management Exports emulator (api-version 2025-03-01) is running.',
      `  endpoint:            ${emulator.url}`,
      `  CA certificate:      ${caFile}`,
      `  admin API:           ${emulator.url}/_admin/counters (also /_admin/runs, /_admin/faults, /_admin/clock)`,
      `  Azurite blob:        ${azurite.blobEndpoint}`,
      `  storage connection:  ${azurite.connectionString}`,
      '',
      'Point the app at it:',
      `  export COST_MANAGEMENT_ENDPOINT=${emulator.url}`,
      `  export COST_MANAGEMENT_CA_FILE=${caFile}`,
      `  export AzureWebJobsStorage='${azurite.connectionString}'`,
      `  export ExportsStorage='${azurite.connectionString}'`,
      '',
      'Any bearer token is accepted. Ctrl-C stops the emulator and Azurite.',
    ].join('\n'),
  );
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping...`);
    void (async () => {
      await emulator.stop();
      await azurite.stop();
      rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    })();
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((err: unknown) => {
  console.error('emulator failed to start:', err);
  process.exit(1);
});
