// Benchmark: one SAS watch run over 10,000 registered tokens and 10,000 exports at 100 scopes (tables
// seeded with upsertMany in its own Azurite; the exports also created in the Exports emulator, one
// run each at 1 export per scope, a few refused by storage). Measures the scan-mode run (run status
// from one `list $expand=runHistory` per scope) and the table-mode run, counting ARM calls at the
// emulator. Prints one line. Run: `npx tsx bench/watch.ts`.
import https from 'node:https';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';

import { startAzurite } from '../dev/azurite';
import { startEmulator } from '../dev/emulator/server';
import { alertStateTableName, TableAlertStateStore } from '../src/azure/alertState';
import { Catalog, type ExportRecord, mapWithConcurrency, type TokenRecord } from '../src/azure/catalog';
import { CostExportsClient } from '../src/azure/costExports';
import { LoopbackTokenCredential } from '../src/azure/credentials';
import { buildExportBody } from '../src/azure/exportBody';
import { LogMailer } from '../src/azure/mailer';
import { createTableClient, tableClientFactory } from '../src/azure/storageClients';
import { runSasWatch } from '../src/services/alerts';

const SCOPES = 100;
const EXPORTS_PER_SCOPE = 100;
const ACCOUNTS = 5_000; // two tokens each (the current one and a rotated one): 10,000 tokens
const DAY = 86_400_000;
const NOW = new Date(Date.UTC(2025, 6, 1, 6, 0));

const scopeOf = (i: number) => `/subscriptions/00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
const accountOf = (i: number) => `benchacct${String(i).padStart(5, '0')}`;
const SAS = `sv=2024-11-04&ss=b&srt=sco&sp=racwdl&se=2026-01-01T00:00:00Z&spr=https&sig=${encodeURIComponent('QmVuY2hTaWduYXR1cmVOb3RSZWFsMTIzNDU2Nzg5MA==')}`;

/** Tokens: expiries spread over 0-400 days, so about 8% cross a threshold on the day of the run. */
function benchTokens(): TokenRecord[] {
  const tokens: TokenRecord[] = [];
  for (let a = 0; a < ACCOUNTS; a++) {
    const base = {
      storageAccount: accountOf(a),
      permissions: 'racwdl',
      services: 'b',
      resourceTypes: 'sco',
    };
    tokens.push({
      ...base,
      tokenId: 'current',
      expiresOn: new Date(NOW.getTime() + ((a * 7919) % 400) * DAY + 3_600_000).toISOString(),
      secretName: `sas-${a}-current`,
      fingerprint: `fpcurrent${a}`,
      rotatedAt: new Date(NOW.getTime() - 30 * DAY).toISOString(),
      status: 'active',
    });
    tokens.push({
      ...base,
      tokenId: 'previous',
      expiresOn: new Date(NOW.getTime() - 10 * DAY).toISOString(),
      secretName: `sas-${a}-previous`,
      fingerprint: `fpprevious${a}`,
      status: 'rotated',
    });
  }
  return tokens;
}

function benchExports(): ExportRecord[] {
  const exports: ExportRecord[] = [];
  for (let s = 0; s < SCOPES; s++) {
    for (let e = 0; e < EXPORTS_PER_SCOPE; e++) {
      const i = s * EXPORTS_PER_SCOPE + e;
      const account = i % ACCOUNTS;
      exports.push({
        scope: scopeOf(s),
        exportName: `export${e}`,
        dataset: 'ActualCost',
        destination: {
          storageAccount: accountOf(account),
          container: 'exports',
          rootFolderPath: '',
          sasDelivered: true,
          // 1% still carry the rotated token (a partial rotation).
          tokenRef: i % 100 === 7 ? 'previous' : 'current',
        },
        missing: false,
        updatedAt: NOW.toISOString(),
      });
    }
  }
  return exports;
}

/** The emulator holds the same exports; the first of each scope ran, every tenth of those refused by storage. */
async function seedEmulator(
  emulator: Awaited<ReturnType<typeof startEmulator>>,
  api: CostExportsClient,
  exports: ExportRecord[],
): Promise<void> {
  const body = buildExportBody({
    dataset: 'ActualCost',
    timeframe: 'MonthToDate',
    destination: { storageAccount: 'benchdest', sasToken: SAS, container: 'exports' },
    schedule: { status: 'Active', recurrence: 'Daily', recurrencePeriod: { from: '2025-07-01' } },
  });
  https.globalAgent.maxSockets = 16;
  await mapWithConcurrency(exports, 16, async (e) => {
    await api.createOrUpdate(e.scope, e.exportName, body);
  });
  await mapWithConcurrency(
    Array.from({ length: SCOPES }, (_, s) => s),
    16,
    async (s) => api.run(scopeOf(s), 'export0'),
  );
  for (const run of (await emulator.admin.runs()).filter((_, i) => i % 10 === 0)) {
    await emulator.admin.forceRunOutcome(run.runId, 'Failed', {
      code: 'AuthorizationPermissionMismatch',
      message: 'This request is not authorized to perform this operation using this permission.',
    });
  }
  await emulator.admin.advanceClock(10 * 60_000);
  await emulator.admin.waitForIdle();
  await emulator.admin.resetCounters();
}

async function main(): Promise<void> {
  const azurite = await startAzurite();
  const emulator = await startEmulator({ clock: { now: NOW } });
  try {
    const connection = {
      kind: 'connectionString' as const,
      name: 'bench',
      connectionString: azurite.connectionString,
    };
    const catalog = new Catalog({ tableClient: tableClientFactory(connection), tablePrefix: 'bench' });
    await catalog.ensureTables();
    const exports = benchExports();
    await catalog.upsertMany('tokens', benchTokens());
    await catalog.upsertMany('exports', exports);

    const api = new CostExportsClient({
      endpoint: emulator.url,
      credential: new LoopbackTokenCredential(emulator.url),
      clientType: 'bench',
      caPem: emulator.caPem,
    });
    await seedEmulator(emulator, api, exports);

    const state = new TableAlertStateStore(createTableClient(connection, alertStateTableName(catalog)));
    let digestChars = 0;
    const mailer = new LogMailer((line) => {
      digestChars = line.length;
    });
    const options = {
      now: NOW,
      thresholdsDays: [30, 14, 7, 3, 1, 0],
      recipients: ['finops@example.com'],
      appBaseUrl: 'https://func-bench.azurewebsites.net',
    };

    let start = performance.now();
    const scan = await runSasWatch(
      { catalog, mailer, state, costExports: api },
      { ...options, scanRunHistory: true },
    );
    const scanSeconds = (performance.now() - start) / 1000;
    const counters = await emulator.admin.counters();
    const listCalls = counters.byOperation.Exports_List ?? 0;
    const getCalls =
      (counters.byOperation.Exports_Get ?? 0) + (counters.byOperation.Exports_GetExecutionHistory ?? 0);

    // Same day again, table mode: everything was alerted, so this is the "nothing new" path.
    await emulator.admin.resetCounters();
    start = performance.now();
    const table = await runSasWatch({ catalog, mailer, state }, options);
    const tableSeconds = (performance.now() - start) / 1000;
    const tableCalls = (await emulator.admin.counters()).total;

    const alerts = scan.alerts;
    console.log(
      `watch: ${scan.tokensScanned} tokens, ${scan.exportsScanned} exports, ${scan.scopesScanned} scopes; ` +
        `scan mode ${scanSeconds.toFixed(1)} s with ${listCalls} ARM list calls (${(listCalls / SCOPES).toFixed(2)} per scope, ${getCalls} per-export GETs), ` +
        `${alerts.expired + alerts.expiring} token + ${alerts.failing} failing + ${alerts.stale} stale-export alerts, ${scan.stateWrites.tokens + scan.stateWrites.exports} state writes, digest ${Math.round(digestChars / 1024)} KiB; ` +
        `repeat run in table mode ${tableSeconds.toFixed(1)} s, ${tableCalls} ARM calls, mail ${table.mail} (load ${loadavg()[0]!.toFixed(1)})`,
    );
  } finally {
    await emulator.stop();
    await azurite.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
