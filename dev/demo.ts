// `npm run demo`: the app's main job end to end on this machine, with nothing but `npm ci`.
// Starts Azurite + the Exports emulator + the local Functions host (dev/stack.ts), registers a SAS token
// for the Azurite account over HTTP (the app probes it live), starts a 12-month backfill of two
// datasets over HTTP, shows its progress, and ends with what the landing catalog holds per month.
// Exit code 0 when every month Completed (or had no data); 1 when a month Failed, the backfill ended
// otherwise, or it did not finish within DEMO_TIMEOUT; 130 on Ctrl-C.
//
// Options (environment):
//   DEMO_SPEED    emulator speed factor (runs take 60 s / speed; "max" = instantly). Default 10.
//   DEMO_TIMEOUT  seconds to wait for the backfill. Default 300.
//   DEMO_VERBOSE  1 = show the host's and functions' info logs too (stderr).
//   CI            set = plain progress lines even on a terminal.
import { loadConfig } from '../src/config';
import { redactSecrets } from '../src/domain/redact';
import { describeSasToken, parseSasToken } from '../src/domain/sasToken';
import { AZURITE_ACCOUNT } from './azurite';
import { type BackfillView, parseBackfillView, TERMINAL_STATUSES } from './demo/backfillStatus';
import { catalogRows } from './demo/catalogRows';
import { callJson, HttpCallError, type JsonResponse } from './demo/http';
import { flagFromEnv, secondsFromEnv, speedFromEnv } from './demo/options';
import { ProgressReporter } from './demo/progress';
import { azuriteAccountSas } from './demo/sas';
import { renderTable } from './demo/table';
import type { HostLogger } from './host/invocation';
import { DEFAULT_SCOPE, EXPORTS_CONTAINER, type RunningStack, startStack } from './stack';

const DATASETS = ['ActualCost', 'AmortizedCost'] as const;
const MONTHS = 12;
const POLL_MS = 1_000;

const out = (line = '') => process.stdout.write(`${line}\n`);
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

async function main(): Promise<number> {
  const startedAt = Date.now();
  const speed = speedFromEnv('DEMO_SPEED', 10);
  const timeoutMs = secondsFromEnv('DEMO_TIMEOUT', 300, 10, 3_600) * 1000;
  const verbose = flagFromEnv('DEMO_VERBOSE');
  const tty = process.stdout.isTTY === true && !process.env.CI;
  const reporter = new ProgressReporter(process.stdout, { tty, plainIntervalMs: 10_000 });
  const logger: HostLogger = (level, message) => {
    if (level === 'debug' || (level === 'info' && !verbose)) return;
    reporter.clear();
    process.stderr.write(`${level === 'info' ? '' : `${level}: `}${redactSecrets(message)}\n`);
  };

  out('Cost Export Autopilot demo: Azurite + Cost Management Exports emulator + the app, on this machine.');
  out(
    `1. Starting Azurite (in memory), the Exports emulator (runs ${speed === Infinity ? 'instant' : `${(60 / speed).toFixed(1)}s`}) and the local Functions host...`,
  );
  const stack = await startStack({
    speedFactor: speed,
    logger,
    managedScopes: [DEFAULT_SCOPE],
    settings: { BACKFILL_MAX_CONCURRENCY: '6' },
    // About 1,900 usage rows a month, in partitions of 1,000: each month lands as several files.
    data: { resourcesPerDay: 60, rowsPerPartition: 1000 },
    exitOnSignal: () => 130,
  });
  try {
    out(`   ready in ${seconds(Date.now() - startedAt)}: app ${stack.api}, emulator ${stack.emulator}`);
    out(`2. Managed scope: ${DEFAULT_SCOPE} (MANAGED_SCOPES setting)`);
    await registerToken(stack);
    const id = await startBackfill(stack);
    const view = await followBackfill(stack, id, reporter, timeoutMs);
    if (!view) {
      out(`The backfill did not finish within ${timeoutMs / 1000}s (DEMO_TIMEOUT). Stopping.`);
      return 1;
    }
    out(`5. Backfill ${view.runtimeStatus} after ${seconds(Date.now() - startedAt)}. Landing catalog:`);
    out();
    const rows = await catalogRows(view.months ?? [], loadConfig(process.env));
    out(renderTable(rows));
    out();
    const failed = rows.filter((r) => r.outcome !== 'Completed' && r.outcome !== 'NoData');
    const expected = MONTHS * DATASETS.length;
    if (view.runtimeStatus !== 'Completed') {
      out(`FAILED: the backfill orchestration ended ${view.runtimeStatus}.`);
      return 1;
    }
    if (failed.length > 0 || rows.length !== expected) {
      out(
        `FAILED: ${failed.length} of ${rows.length} month(s) did not complete (expected ${expected} rows).`,
      );
      return 1;
    }
    out(
      `OK: ${MONTHS} months × ${DATASETS.length} datasets landed and were catalogued; the demo took ${seconds(Date.now() - startedAt)}.`,
    );
    return 0;
  } finally {
    reporter.finish();
    out('Stopping the host, the emulator and Azurite...');
    await stack.stop();
  }
}

async function registerToken(stack: RunningStack): Promise<void> {
  const sasToken = azuriteAccountSas(new Date());
  out(
    `3. Registering a SAS token for ${AZURITE_ACCOUNT}/${EXPORTS_CONTAINER} (POST /api/tokens; the app probes it live):`,
  );
  out(`   ${describeSasToken(parseSasToken(sasToken))}; signature not shown`);
  let response: JsonResponse;
  try {
    response = await callJson('POST', `${stack.api}/tokens`, {
      storageAccount: AZURITE_ACCOUNT,
      container: EXPORTS_CONTAINER,
      sasToken,
    });
  } catch (error) {
    // Azurite serves plain http, so a token for it must allow http (spr=https,http; Azurite enforces spr).
    if (error instanceof HttpCallError && JSON.stringify(error.body).includes('httpAllowed')) {
      throw new Error(
        `${error.message}\nThe app refused the token because it allows HTTP, but the local Azurite serves plain ` +
          `HTTP (${stack.settings.STORAGE_BLOB_ENDPOINT_TEMPLATE}) and enforces the token's protocol: token ` +
          'registration must accept spr=https,http when the blob endpoint template is loopback http.',
      );
    }
    throw error;
  }
  const body = response.body as Record<string, unknown> | undefined;
  const token = (body && typeof body.token === 'object' && body.token !== null ? body.token : body) as
    Record<string, unknown> | undefined;
  const facts = ['tokenId', 'expiresOn', 'status']
    .filter((k) => token?.[k] !== undefined)
    .map((k) => `${k} ${String(token?.[k])}`);
  out(`   HTTP ${response.status}: registered${facts.length > 0 ? ` (${facts.join(', ')})` : ''}`);
}

async function startBackfill(stack: RunningStack): Promise<string> {
  out(`4. Starting a ${MONTHS}-month backfill of ${DATASETS.join(' + ')} (POST /api/backfills)...`);
  const response = await callJson('POST', `${stack.api}/backfills`, {
    scope: DEFAULT_SCOPE,
    datasets: DATASETS,
    months: MONTHS,
    destination: { storageAccount: AZURITE_ACCOUNT, container: EXPORTS_CONTAINER, rootFolderPath: 'demo' },
    format: 'Csv',
    compression: 'gzip',
    concurrency: 6,
  });
  const body = response.body as Record<string, unknown> | undefined;
  const id = typeof body?.id === 'string' ? body.id : undefined;
  if (!id) throw new Error(`POST /api/backfills answered ${response.status} without an id`);
  out(`   HTTP ${response.status}: ${id}`);
  return id;
}

/** Polls the status route until the orchestration ends; undefined on timeout. */
async function followBackfill(
  stack: RunningStack,
  id: string,
  reporter: ProgressReporter,
  timeoutMs: number,
): Promise<BackfillView | undefined> {
  const started = Date.now();
  for (;;) {
    const response = await callJson('GET', `${stack.api}/backfills/${encodeURIComponent(id)}`);
    const view = parseBackfillView(response.body);
    reporter.update(view.progress, Date.now() - started);
    if (TERMINAL_STATUSES.has(view.runtimeStatus)) {
      reporter.finish();
      return view;
    }
    if (Date.now() - started > timeoutMs) {
      reporter.finish();
      return undefined;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `\nnpm run demo failed: ${redactSecrets(error instanceof Error ? error.message : String(error))}\n`,
    );
    process.exit(1);
  },
);
