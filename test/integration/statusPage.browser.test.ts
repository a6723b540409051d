// The status page in a real browser: Debian's Chromium (/usr/bin/chromium, which .ci/run installs
// when missing) driven by playwright-core, against the local Functions host with the jest Azurite as
// catalog. The catalog holds the three problems a partner hit (an export failing on its SAS token,
// a token 4 days from expiry, a backfill month Failed after 3 attempts) and ledger cells. The test
// reads the badge, the problems and the heatmap the way a person sees them, under the page's own CSP,
// and keeps a screenshot in test-artifacts/ (git-ignored).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { type Browser, chromium } from 'playwright-core';

import { findRegistration } from '../../dev/host/functionsCoreStub';
import { type LocalHost, startLocalHost } from '../../dev/host/localHost';
import { Catalog, type LedgerCellRecord } from '../../src/azure/catalog';
import { tableClientFactory } from '../../src/azure/storageClients';
import { loadConfig } from '../../src/config';
import { STATUS_FUNCTION } from '../../src/functions/status';
import { useAppServices } from '../../src/services/appServices';
import { testStorageConnection, uniqueName } from '../support/storage';

const CHROMIUM = '/usr/bin/chromium';
const SUB = '/subscriptions/00000000-0000-0000-0000-0000000000bb';
const ACCOUNT = 'acctbrowser1';
const ARTIFACTS = join(__dirname, '..', '..', 'test-artifacts');
const DAY = 86_400_000;

let host: LocalHost;
let browser: Browser;

beforeAll(async () => {
  // playwright-core gives every launch a fresh, temporary profile (it refuses --user-data-dir here).
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  host = await startLocalHost({
    registrations: [findRegistration(STATUS_FUNCTION)],
    requireKeys: true,
    startTimers: false,
    startBlobWatchers: false,
    logger: () => undefined,
  });
});

afterAll(async () => {
  useAppServices(undefined);
  await host?.stop();
  await browser?.close();
});

function monthsAgo(n: number): string {
  const d = new Date();
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - n, 1)).toISOString().slice(0, 7);
}

it('shows degraded, the three problems with their fixes, and the Failed month in the heatmap', async () => {
  const now = Date.now();
  const iso = (offset: number) => new Date(now + offset).toISOString();
  const config = loadConfig({
    AzureWebJobsStorage: testStorageConnection(),
    ExportsStorage: testStorageConnection(),
    SECRET_STORE: 'table',
    MANAGED_SCOPES: '',
  });
  const catalog = new Catalog({
    tableClient: tableClientFactory(config.storage.catalog),
    tablePrefix: uniqueName('br'),
  });
  await catalog.ensureTables();
  await catalog.upsertExport({
    scope: SUB,
    exportName: 'daily-actual',
    dataset: 'ActualCost',
    destination: {
      storageAccount: ACCOUNT,
      container: 'msexports',
      rootFolderPath: 'cm',
      sasDelivered: true,
    },
    schedule: { recurrence: 'Daily', status: 'Active' },
    lastRun: {
      runId: 'run-9',
      status: 'Failed',
      error:
        'Please ensure the SAS token is valid for blob service (Storage service error code: AuthorizationResourceTypeMismatch)',
      at: iso(-3_600_000),
    },
    missing: false,
    updatedAt: iso(0),
  });
  await catalog.upsertToken({
    storageAccount: ACCOUNT,
    tokenId: 'tok-soon',
    expiresOn: iso(4 * DAY + 3_600_000),
    permissions: 'racwdl',
    secretName: 'sas-tok-soon',
    fingerprint: 'fp-soon',
    status: 'active',
  });
  const failedMonth = monthsAgo(3);
  await catalog.upsertBackfillRun({
    backfillId: 'bf-000000-000000-0123456789abcdef0123456789abcdef',
    dataset: 'ActualCost',
    month: failedMonth,
    exportName: `cea-bf-actualcost-${failedMonth.replace('-', '')}`,
    scope: SUB,
    instanceId: 'bf:1',
    status: 'failed',
    attempts: 3,
    error: 'run failed 3 times',
    updatedAt: iso(-DAY),
  });
  const cell = (month: string, state: LedgerCellRecord['state'], reason: string): LedgerCellRecord => ({
    scope: SUB,
    exportName: 'daily-actual',
    dataset: 'ActualCost',
    month,
    state,
    reason,
    stateSince: iso(0),
    runs: state === 'Failed' ? 0 : 1,
    supersededRuns: 0,
    ...(state === 'Failed'
      ? {}
      : {
          current: {
            runId: `run-${month}`,
            runTime: iso(-2 * DAY),
            rows: 2525,
            bytes: 9000,
            noData: false,
            catalogedAt: iso(-2 * DAY),
          },
        }),
    updatedAt: iso(0),
  });
  await catalog.upsert('ledger', cell(monthsAgo(0), 'Open', 'run landed; final after a run from the 5th'));
  await catalog.upsert('ledger', cell(monthsAgo(1), 'Final', 'landed after the close window'));
  await catalog.upsert('ledger', cell(monthsAgo(2), 'Final', 'landed after the close window'));
  await catalog.upsert('ledger', cell(failedMonth, 'Failed', 'backfill failed after 3 attempt(s)'));
  useAppServices({ status: { config, catalog, exports: { list: () => Promise.resolve([]) } } });

  const context = await browser.newContext({ extraHTTPHeaders: { 'x-functions-key': host.functionKey } });
  const page = await context.newPage();
  const violations: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
  });
  const response = await page.goto(`${host.baseUrl}/status`);
  expect(response?.status()).toBe(200);
  expect(response?.headers()['content-security-policy']).toContain("default-src 'none'");

  expect(await page.locator('h1 .badge').innerText()).toBe('degraded');
  const problems = page.locator('#problems li.problem');
  expect(await problems.count()).toBe(3);
  expect(
    (await problems.evaluateAll((items) => items.map((i) => i.getAttribute('data-kind')))).sort(),
  ).toEqual(['exportFailing', 'monthFailed', 'tokenExpiring']);
  expect(await page.locator('#problems li[data-kind="tokenExpiring"] .fix').innerText()).toContain(
    `/api/tokens/${ACCOUNT}/rotate`,
  );
  expect(await page.locator('#problems li[data-kind="monthFailed"] .fix').innerText()).toContain(
    '/api/backfills',
  );

  const failed = page.locator(`#heatmap td[data-month="${failedMonth}"]`);
  expect(await failed.getAttribute('data-state')).toBe('Failed');
  expect(await failed.getAttribute('title')).toContain('failed after 3 attempt(s)');
  // The state colours come from the page's own stylesheet, which the CSP allows.
  expect(
    await failed.evaluate(
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a DOM element: the tests compile without the DOM lib
      (td: any) => td.ownerDocument.defaultView.getComputedStyle(td).backgroundColor,
    ),
  ).toBe('rgb(117, 11, 28)');
  expect(await page.locator('#heatmap td[data-state="Final"]').count()).toBe(2);
  expect(await page.locator('#tokens').innerText()).toContain('daily-actual');
  expect(violations).toEqual([]);

  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, 'status-page.png'), fullPage: true });
  await context.close();
});
