// /api/health and /api/status through the real registrations, served by the local Functions host over
// loopback HTTP, with the jest Azurite as catalog and the Exports emulator as Cost Management. The
// emulator cannot answer 403 for one scope, so a recording HTTPS proxy (httpsFake) sits in front of
// it: it refuses the "forbidden" scope itself and forwards everything else to the emulator.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { type RunningEmulator, startEmulator } from '../../dev/emulator/server';
import { findRegistration } from '../../dev/host/functionsCoreStub';
import { type LocalHost, startLocalHost } from '../../dev/host/localHost';
import { ThrottledError } from '../../src/azure/armErrors';
import {
  Catalog,
  exportKey,
  type LandingRecord,
  landingToRow,
  type TokenRecord,
} from '../../src/azure/catalog';
import { CostExportsClient, createCostExportsClient } from '../../src/azure/costExports';
import { LoopbackTokenCredential } from '../../src/azure/credentials';
import type { Export } from '../../src/azure/exportModels';
import { createTableClient, tableClientFactory } from '../../src/azure/storageClients';
import { type Env, loadConfig, resetConfigCache } from '../../src/config';
import { MAIL_OFF_NOTICE } from '../../src/domain/configNotices';
import { liveRunOf } from '../../src/domain/landingPlan';
import { parseScope, type Scope, SCOPE_KINDS } from '../../src/domain/scope';
import { HEALTH_FUNCTION, STATUS_FUNCTION } from '../../src/functions/status';
import { useAppServices } from '../../src/services/appServices';
import { type ExportLister, roleHint, ScopeAccessChecker } from '../../src/services/scopeAccess';
import type { StatusReport, StatusRuntime } from '../../src/services/status';
import { escapeHtml } from '../../src/services/statusHtml';
import { type HttpsFake, type RecordedRequest, startHttpsFake } from '../support/httpsFake';
import { testStorageConnection, uniqueName } from '../support/storage';

const SUB_OK = '/subscriptions/00000000-0000-0000-0000-00000000000a';
const SUB_THROTTLED = '/subscriptions/00000000-0000-0000-0000-00000000000c';
const EA_FORBIDDEN = '/providers/Microsoft.Billing/billingAccounts/12345678';
const DAY = 86_400_000;

let emulator: RunningEmulator;
let proxy: HttpsFake;
let host: LocalHost;
let tmp: string;
let caFile: string;
const savedEnv = { ...process.env };

/** Forwards a recorded request to the emulator and hands its answer back. */
function forward(
  request: RecordedRequest,
): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  const url = new URL(`${request.path}?${request.query.toString()}`, emulator.url);
  const headers: Record<string, string> = {};
  for (const name of ['authorization', 'clienttype', 'accept', 'content-type']) {
    const value = request.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: request.method, headers, ca: emulator.caPem }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const passed: Record<string, string> = {};
        for (const [name, value] of Object.entries(res.headers)) {
          if (typeof value === 'string' && /^(retry-after|x-ms-)/.test(name)) passed[name] = value;
        }
        resolve({
          status: res.statusCode ?? 502,
          headers: passed,
          body: Buffer.concat(chunks).toString('utf8'),
        });
      });
    });
    req.on('error', reject);
    req.end(request.body || undefined);
  });
}

const FORBIDDEN_BODY = {
  error: {
    code: 'AuthorizationFailed',
    message: `The client '11111111-1111-1111-1111-111111111111' with object id '11111111-1111-1111-1111-111111111111' does not have authorization to perform action 'Microsoft.CostManagement/exports/read' over scope '${EA_FORBIDDEN}' or the scope is invalid.`,
  },
};

function appEnv(extra: Env = {}): Env {
  return {
    AzureWebJobsStorage: testStorageConnection(),
    ExportsStorage: testStorageConnection(),
    SECRET_STORE: 'table',
    COST_MANAGEMENT_ENDPOINT: proxy.url,
    COST_MANAGEMENT_CA_FILE: caFile,
    MANAGED_SCOPES: [SUB_OK, EA_FORBIDDEN, SUB_THROTTLED].join(','),
    ...extra,
  };
}

/** A runtime as settings would build it, but on a catalog of its own (tables prefixed). */
async function runtimeFor(
  env: Env,
  counts?: StatusRuntime['counts'],
): Promise<Omit<StatusRuntime, 'checker'> & { catalog: Catalog }> {
  const config = loadConfig(env);
  const catalog = new Catalog({
    tableClient: tableClientFactory(config.storage.catalog),
    tablePrefix: uniqueName('st'),
  });
  await catalog.ensureTables();
  return {
    config,
    catalog,
    exports: createCostExportsClient(config.costManagement, { env }),
    ...(counts ? { counts } : {}),
  };
}

function setProcessEnv(env: Env): void {
  for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
  Object.assign(process.env, savedEnv, env);
  resetConfigCache();
  useAppServices(undefined);
}

async function getStatus(query = '', headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${host.baseUrl}/status${query}`, {
    headers: { 'x-functions-key': host.functionKey, ...headers },
  });
}

async function getStatusJson(): Promise<StatusReport> {
  const response = await getStatus();
  expect(response.status).toBe(200);
  return (await response.json()) as StatusReport;
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'status-test-'));
  emulator = await startEmulator({});
  proxy = await startHttpsFake();
  caFile = join(tmp, 'proxy-ca.pem');
  writeFileSync(caFile, proxy.caPem);
  host = await startLocalHost({
    registrations: [findRegistration(HEALTH_FUNCTION), findRegistration(STATUS_FUNCTION)],
    requireKeys: true,
    startTimers: false,
    startBlobWatchers: false,
    logger: () => undefined,
  });
});

beforeEach(async () => {
  proxy.reset();
  proxy.setDefault((request) =>
    decodeURIComponent(request.path).toLowerCase().startsWith(EA_FORBIDDEN.toLowerCase())
      ? { status: 403, headers: { 'x-ms-request-id': 'req-403' }, body: FORBIDDEN_BODY }
      : forward(request),
  );
  await emulator.admin.reset();
  await emulator.admin.setThrottle({ otherPerScope: null });
  await emulator.admin.resetCounters();
});

afterEach(() => {
  useAppServices(undefined);
  setProcessEnv({});
});

afterAll(async () => {
  await host?.stop();
  await proxy?.close();
  await emulator?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe('registrations', () => {
  it('serves health anonymously and status behind a function key', () => {
    const health = findRegistration(HEALTH_FUNCTION).trigger;
    const status = findRegistration(STATUS_FUNCTION).trigger;
    expect(health).toMatchObject({
      type: 'httpTrigger',
      route: 'health',
      methods: ['GET'],
      authLevel: 'anonymous',
    });
    expect(status).toMatchObject({
      type: 'httpTrigger',
      route: 'status',
      methods: ['GET'],
      authLevel: 'function',
    });
  });
});

describe('GET /api/health', () => {
  it('answers ok with the package version, without a key', async () => {
    setProcessEnv(appEnv());
    const response = await fetch(`${host.baseUrl}/health`);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    // Mail off is a valid start (the template's default): said, not a failure.
    expect(await response.json()).toEqual({ status: 'ok', version: '0.1.0', notices: [MAIL_OFF_NOTICE] });
    expect(proxy.requests).toHaveLength(0); // liveness touches nothing
  });

  it('has no notice once mail is on', async () => {
    setProcessEnv(
      appEnv({
        ALERT_MAIL_TRANSPORT: 'smtp',
        ALERT_RECIPIENTS: 'finops@contoso.com',
        ALERT_SENDER: 'costs@contoso.com',
        SMTP_HOST: 'smtp.contoso.com',
      }),
    );
    const response = await fetch(`${host.baseUrl}/health`);
    expect(await response.json()).toEqual({ status: 'ok', version: '0.1.0' });
  });

  it('answers 503 naming every broken variable, with secrets redacted', async () => {
    setProcessEnv(
      appEnv({
        SECRET_STORE: 'keyvault',
        ACS_ENDPOINT: 'not-a-url?sv=2022-11-02&sig=HealthSecretSignature0123456789abcdef%3D',
        OUT_OF_BAND_CONCURRENCY: 'lots',
      }),
    );
    const response = await fetch(`${host.baseUrl}/health`);
    expect(response.status).toBe(503);
    const text = await response.text();
    expect(text).not.toContain('HealthSecretSignature');
    const body = JSON.parse(text) as { status: string; problems: string[] };
    expect(body.status).toBe('unhealthy');
    expect(body.problems.map((p) => p.split(':')[0])).toEqual(
      expect.arrayContaining(['KEY_VAULT_URI', 'ACS_ENDPOINT', 'OUT_OF_BAND_CONCURRENCY']),
    );
  });

  it('turns status into 503 too when the settings are broken', async () => {
    setProcessEnv(appEnv({ DURABLE_TASK_HUB: '1-bad' }));
    const response = await getStatus();
    expect(response.status).toBe(503);
    const body = (await response.json()) as { problems: string[] };
    expect(body.problems.join('\n')).toContain('DURABLE_TASK_HUB');
    expect(proxy.requests).toHaveLength(0);
  });
});

describe('GET /api/status: Cost Management access per scope', () => {
  it('reports ok, forbidden (with the role to grant) and throttled, then answers from its cache', async () => {
    const env = appEnv();
    useAppServices({ status: await runtimeFor(env) });
    // One call per scope per hour; the throttled scope's allowance is spent before the status call.
    await emulator.admin.setThrottle({ otherPerScope: { limit: 1, windowSeconds: 3600 } });
    const direct = new CostExportsClient({
      credential: new LoopbackTokenCredential(emulator.url),
      clientType: 'CostExportAutopilot',
      endpoint: emulator.url,
      caPem: emulator.caPem,
    });
    await direct.list(SUB_THROTTLED);
    await expect(direct.list(SUB_THROTTLED)).rejects.toBeInstanceOf(ThrottledError);
    await emulator.admin.resetCounters();

    const unauthenticated = await fetch(`${host.baseUrl}/status`);
    expect(unauthenticated.status).toBe(401);

    const first = await getStatusJson();
    expect(first.status).toBe('degraded');
    const byScope = Object.fromEntries(first.scopes.map((s) => [s.scope, s]));
    expect(byScope[SUB_OK]).toMatchObject({
      access: 'ok',
      kind: 'subscription',
      exportsInCostManagement: 0,
      cached: false,
    });
    expect(byScope[EA_FORBIDDEN]).toMatchObject({
      access: 'forbidden',
      kind: 'billingAccount',
      cached: false,
    });
    expect(byScope[EA_FORBIDDEN]!.roleHint).toContain('EnrollmentReader');
    expect(byScope[EA_FORBIDDEN]!.roleHint).toContain('docs/deployment.md');
    expect(byScope[EA_FORBIDDEN]!.message).toContain('AuthorizationFailed');
    expect(byScope[SUB_THROTTLED]).toMatchObject({ access: 'throttled', cached: false });
    expect(byScope[SUB_THROTTLED]!.retryAfterSeconds).toBeGreaterThan(3000);
    expect(first.problems).toEqual([
      expect.objectContaining({
        kind: 'scopeAccess',
        subject: EA_FORBIDDEN,
        fix: expect.stringContaining('EnrollmentReader'),
      }),
      expect.objectContaining({
        kind: 'scopeAccess',
        subject: SUB_THROTTLED,
        fix: expect.stringMatching(/^Wait \d+ s/),
      }),
    ]);
    expect(first.problemTotals.scopeAccess).toBe(2);

    // Exactly one list per scope reached ARM: two at the emulator, one refused by the proxy.
    const counters = await emulator.admin.counters();
    expect(counters.total).toBe(2);
    expect(counters.byScope[SUB_OK]).toEqual({ Exports_List: 1 });
    expect(counters.byScope[SUB_THROTTLED]).toEqual({ Exports_List: 1 });
    expect(proxy.requests).toHaveLength(3);

    // A refresh (JSON and HTML) makes no ARM call at all.
    const second = await getStatusJson();
    expect(second.scopes.map((s) => [s.access, s.cached])).toEqual([
      ['ok', true],
      ['forbidden', true],
      ['throttled', true],
    ]);
    expect((await getStatus('?format=html')).status).toBe(200);
    expect((await emulator.admin.counters()).total).toBe(2);
    expect(proxy.requests).toHaveLength(3);
  });

  it('shares one call between concurrent requests and reports a scope that does not parse without calling', async () => {
    useAppServices({
      status: await runtimeFor(appEnv({ MANAGED_SCOPES: `${SUB_OK};/subscriptions/not-a-guid` })),
    });
    const [a, b] = await Promise.all([getStatusJson(), getStatusJson()]);
    for (const report of [a, b]) {
      expect(report.scopes[0]).toMatchObject({ scope: SUB_OK, access: 'ok' });
      expect(report.scopes[1]).toMatchObject({ scope: '/subscriptions/not-a-guid', access: 'error' });
      expect(report.scopes[1]!.message).toContain('subscription id');
    }
    expect(proxy.requests).toHaveLength(1);
  });
});

describe('GET /api/status from settings', () => {
  it('builds its adapters from the environment (services/appServices)', async () => {
    setProcessEnv(appEnv({ MANAGED_SCOPES: SUB_OK }));
    const report = await getStatusJson();
    expect(report.catalog).toEqual({ reachable: true, tablesCreated: true });
    expect(report.scopes).toEqual([expect.objectContaining({ scope: SUB_OK, access: 'ok', cached: false })]);
    expect(report.counts!.exports.ok).toBe(true);
    expect((await emulator.admin.counters()).byScope[SUB_OK]).toEqual({ Exports_List: 1 });
  });
});

/** `YYYY-MM` of the month `n` months before the one `at` falls in (UTC). */
function monthsBefore(at: number, n: number): string {
  const d = new Date(at);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - n, 1)).toISOString().slice(0, 7);
}

describe('GET /api/status: configuration and catalog', () => {
  const account = 'acctstatus01';
  const now = Date.now();
  const iso = (offsetMs: number) => new Date(now + offsetMs).toISOString();

  function token(
    tokenId: string,
    expiresInDays: number,
    status: TokenRecord['status'] = 'active',
  ): TokenRecord {
    return {
      storageAccount: account,
      tokenId,
      expiresOn: iso(expiresInDays * DAY + 3_600_000),
      permissions: 'racwdl',
      secretName: `sas-${tokenId}`,
      fingerprint: `fp-${tokenId}`,
      status,
    };
  }

  function landing(exportName: string, state: LandingRecord['state'], catalogedAt: string): LandingRecord {
    return {
      scope: SUB_OK,
      exportName,
      period: '20250101-20250131',
      runId: uniqueName('run'),
      manifestPath: `msexports/${exportName}/20250101-20250131/run/manifest.json`,
      blobCount: 1,
      rowCount: 42,
      totalBytes: 1234,
      state,
      missingBlobs: [],
      superseded: false,
      current: true,
      catalogedAt,
    };
  }

  async function seed(catalog: Catalog): Promise<void> {
    const exportRecord = (exportName: string, sasDelivered: boolean, missing: boolean) => ({
      scope: SUB_OK,
      exportName,
      dataset: 'ActualCost' as const,
      destination: { storageAccount: account, container: 'msexports', rootFolderPath: '', sasDelivered },
      missing,
      ...(missing ? { missingSince: iso(-DAY) } : {}),
      updatedAt: iso(0),
    });
    await catalog.upsertExport(exportRecord('daily-actual', true, false));
    await catalog.upsertExport(exportRecord('daily-amortized', false, false));
    await catalog.upsertExport(exportRecord('deleted-by-hand', true, true));
    for (const t of [
      token('gone', -2),
      token('marked', 40, 'expired'),
      token('soon', 3),
      token('today', 0),
      token('month', 20),
      token('later', 90),
      token('old', -100, 'rotated'),
    ]) {
      await catalog.upsertToken(t);
    }
    const recent = landing('daily-actual', 'complete', iso(-DAY));
    await catalog.upsertLanding(recent);
    // Its file row and its period row share the landings table: they are not landings.
    const landingPartition = exportKey(SUB_OK, 'daily-actual');
    await catalog.upsertLandingFiles([
      {
        landingPartition,
        period: recent.period,
        runId: recent.runId,
        part: 0,
        path: 'a.csv',
        bytes: 1,
        rows: 1,
      },
    ]);
    await catalog.putPeriod(
      { landingPartition, period: recent.period, live: [liveRunOf(recent)], updatedAt: iso(0) },
      undefined,
    );
    await catalog.upsertLanding(landing('daily-amortized', 'rejected', iso(-2 * DAY)));
    await catalog.upsertLanding(landing('daily-actual', 'complete', iso(-30 * DAY))); // not recent
    const run = (month: string, status: 'pending' | 'landed', backfillId: string) => ({
      backfillId,
      dataset: 'ActualCost' as const,
      month,
      exportName: `backfill-${month}`,
      scope: SUB_OK,
      instanceId: `${backfillId}:${month}`,
      status,
      updatedAt: iso(0),
    });
    await catalog.upsertBackfillRun(run('2024-01', 'landed', 'bf-1'));
    await catalog.upsertBackfillRun(run('2024-02', 'pending', 'bf-1'));
    await catalog.upsertBackfillRun(run('2024-01', 'landed', 'bf-2'));
  }

  it('summarises settings without secrets and counts the tables', async () => {
    const runtime = await runtimeFor(
      appEnv({ MANAGED_SCOPES: SUB_OK, SMTP_HOST: 'smtp.example.com', SMTP_PASSWORD: 'SmtpPassw0rdValue' }),
    );
    await seed(runtime.catalog);
    useAppServices({ status: runtime });

    const response = await getStatus();
    const text = await response.text();
    const accountKey = /AccountKey=([^;]+)/.exec(testStorageConnection())![1]!;
    expect(text).not.toContain(accountKey);
    expect(text).not.toContain('SmtpPassw0rdValue');
    const report = JSON.parse(text) as StatusReport;

    expect(report.version).toBe('0.1.0');
    // The vanished export is wrong; the account's current token ("later") is outside the window.
    expect(report.status).toBe('degraded');
    expect(report.problems).toEqual([
      expect.objectContaining({ kind: 'exportVanished', subject: `${SUB_OK} · deleted-by-hand` }),
    ]);
    expect(report.configuration.costManagement).toEqual({
      endpoint: proxy.url,
      clientType: 'CostExportAutopilot',
      extraCaTrusted: true,
    });
    expect(report.configuration.storage.catalog).toMatchObject({
      setting: 'AzureWebJobsStorage',
      auth: 'connection string',
      tableEndpoint: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/devstoreaccount1$/),
    });
    expect(report.configuration.managedScopes).toEqual([SUB_OK]);
    expect(report.configuration.schedules).toEqual({
      sasWatch: '0 0 6 * * *',
      outOfBand: '0 0 */6 * * *',
      exportSync: '0 30 5 * * *',
    });
    expect(report.configuration.thresholds.sasAlertDays).toEqual([30, 14, 7, 3, 1, 0]);
    expect(report.catalog).toEqual({ reachable: true, tablesCreated: true });

    const counts = report.counts!;
    expect(counts.exports).toMatchObject({
      ok: true,
      capped: false,
      registered: 3,
      sasDelivered: 2,
      vanished: 1,
    });
    expect(counts.exports.ok && counts.exports.vanishedExports).toEqual([
      { scope: SUB_OK, exportName: 'deleted-by-hand', missingSince: iso(-DAY) },
    ]);
    expect(counts.tokens).toMatchObject({
      ok: true,
      capped: false,
      expired: 2,
      within7Days: 2,
      within30Days: 1,
      later: 1,
      retired: 1,
    });
    expect(counts.tokens.ok && counts.tokens.soonest.map((t) => [t.tokenId, t.daysLeft])).toEqual([
      ['gone', -2],
      ['today', 0],
      ['soon', 3],
      ['month', 20],
      ['marked', 40],
      ['later', 90],
    ]);
    expect(counts.landings).toMatchObject({
      ok: true,
      sinceDays: 7,
      total: 2,
      byState: { complete: 1, incomplete: 0, rejected: 1 },
    });
    expect(counts.landings.ok && counts.landings.recent.map((l) => l.exportName)).toEqual([
      'daily-actual',
      'daily-amortized',
    ]);
    expect(counts.backfills).toMatchObject({
      ok: true,
      backfills: 2,
      activeBackfills: 1,
      runsByStatus: { landed: 2, pending: 1, failed: 0 },
    });
  });

  it('stops at the row cap and says "at least"', async () => {
    const runtime = await runtimeFor(appEnv({ MANAGED_SCOPES: '' }), { maxRowsPerTable: 2 });
    await seed(runtime.catalog);
    useAppServices({ status: runtime });
    const report = await getStatusJson();
    expect(report.counts!.exports).toMatchObject({ ok: true, capped: true, rowsRead: 2, registered: 2 });
    expect(report.counts!.backfills).toMatchObject({ ok: true, capped: true, rowsRead: 2 });
    const html = await (await getStatus('?format=html')).text();
    expect(html).toMatch(/registered<\/th><td>at least 2</);
    expect(html).toContain('counts are lower bounds');
    expect(html).toContain('0 scope(s) in MANAGED_SCOPES, checked below.</p>');
  });

  it("says export sync also lists the fleet's member scopes, which the scope table does not check", async () => {
    const runtime = await runtimeFor(appEnv({ MANAGED_SCOPES: '' }));
    const fleet = {
      assignments: 2,
      exports: 0,
      byOutcome: {},
      truncated: false,
      attention: [],
      notReconciled: 2,
    };
    useAppServices({ status: { ...runtime, fleet: () => Promise.resolve(fleet) } });
    const html = await (await getStatus('?format=html')).text();
    expect(html).toContain(
      "0 scope(s) in MANAGED_SCOPES, checked below. Export sync also lists the member scopes of the fleet's 2 assignment(s)",
    );
  });

  it('is degraded with three problems and their fixes: a SAS-failing export, an expiring token, a Failed month', async () => {
    const runtime = await runtimeFor(appEnv({ MANAGED_SCOPES: SUB_OK }));
    // Months relative to the clock, so the cells stay inside the page's 13-month horizon.
    const failedMonth = monthsBefore(now, 3);
    const finalMonth = monthsBefore(now, 4);
    const missingMonth = monthsBefore(now, 5);
    const catalog = runtime.catalog;
    await catalog.upsertExport({
      scope: SUB_OK,
      exportName: 'daily-actual',
      dataset: 'ActualCost',
      destination: {
        storageAccount: account,
        container: 'msexports',
        rootFolderPath: 'cm',
        sasDelivered: true,
      },
      lastRun: {
        runId: 'run-7',
        status: 'Failed',
        error:
          'Please ensure the SAS token is valid for blob service, is valid for container and object resource types, and has permissions: add create read write delete. (Storage service error code: AuthorizationResourceTypeMismatch)',
        at: iso(-3_600_000),
      },
      missing: false,
      updatedAt: iso(0),
    });
    await catalog.upsertToken(token('soon', 4));
    await catalog.upsertToken(token('old', -30, 'rotated'));
    const month = (m: string, status: 'failed' | 'landed', backfillId: string, updatedAt: string) => ({
      backfillId,
      dataset: 'ActualCost' as const,
      month: m,
      exportName: `backfill-${m}`,
      scope: SUB_OK,
      instanceId: `${backfillId}:${m}`,
      status,
      attempts: 3,
      ...(status === 'failed' ? { error: 'Failed: run failed 3 times' } : {}),
      updatedAt,
    });
    await catalog.upsertBackfillRun(month(failedMonth, 'failed', 'bf-a', iso(-DAY)));
    // A month that failed once but landed in a later backfill is not a problem any more.
    await catalog.upsertBackfillRun(month(finalMonth, 'failed', 'bf-a', iso(-DAY)));
    await catalog.upsertBackfillRun(month(finalMonth, 'landed', 'bf-b', iso(-60_000)));
    useAppServices({ status: runtime });

    // The ledger: September Failed (the status reports it from the backfill run), August Final.
    const cell = (month: string, state: 'Failed' | 'Final' | 'Missing', reason: string) => ({
      scope: SUB_OK,
      exportName: 'daily-actual',
      dataset: 'ActualCost' as const,
      month,
      state,
      reason,
      stateSince: iso(0),
      runs: state === 'Final' ? 2 : 0,
      supersededRuns: state === 'Final' ? 1 : 0,
      ...(state === 'Final'
        ? {
            current: {
              runId: 'run-aug',
              runTime: `${failedMonth}-05T09:42:00Z`,
              rows: 2525,
              bytes: 1,
              noData: false,
              catalogedAt: `${failedMonth}-05T09:50:00Z`,
            },
          }
        : {}),
      updatedAt: iso(0),
    });
    await catalog.upsert('ledger', cell(failedMonth, 'Failed', 'backfill bf-a failed after 3 attempt(s)'));
    await catalog.upsert('ledger', cell(finalMonth, 'Final', 'run run-aug landed after the close window'));
    // Another export's closing run had no row count in its manifest: rows unknown, not 0.
    const noCount = cell(finalMonth, 'Final', 'run run-nc landed after the close window');
    await catalog.upsert('ledger', {
      ...noCount,
      exportName: 'daily-amortized',
      current: { ...noCount.current!, runId: 'run-nc', rows: undefined },
    });
    const report = await getStatusJson();
    expect(report.status).toBe('degraded');
    expect(report.problems.map((p) => p.kind).sort()).toEqual([
      'exportFailing',
      'monthFailed',
      'tokenExpiring',
    ]);
    const byKind = Object.fromEntries(report.problems.map((p) => [p.kind, p]));
    // Every fix is a command to run, the key in a header placeholder, never in the URL.
    for (const p of report.problems) {
      expect(p.fix).toMatch(
        /curl -X POST "[^"]+\/api\/(tokens|backfills)[^"]*" -H "x-functions-key: <FUNCTION_KEY>"/,
      );
      expect(p.fix).not.toMatch(/[?&]code=/);
    }
    expect(byKind.exportFailing!.message).toContain('AuthorizationResourceTypeMismatch');
    expect(byKind.exportFailing!.fix).toContain(`/api/tokens/${account}/rotate`);
    expect(byKind.tokenExpiring).toMatchObject({ subject: `${account}/soon` });
    expect(byKind.tokenExpiring!.message).toContain('4 day(s) left');
    expect(byKind.tokenExpiring!.message).toContain('1 export(s) deliver with it');
    expect(byKind.tokenExpiring!.fix).toContain(`/api/tokens/${account}/rotate`);
    expect(byKind.monthFailed!.subject).toBe(`${SUB_OK} · backfill-${failedMonth} · ${failedMonth}`);
    expect(byKind.monthFailed!.message).toContain('after 3 attempt(s)');
    // The fix is a request the backfill endpoint accepts, aimed at the export's own destination.
    const body = JSON.parse(/-d '(.*)'$/.exec(byKind.monthFailed!.fix)![1]!);
    expect(body).toEqual({
      scope: SUB_OK,
      datasets: ['ActualCost'],
      from: failedMonth,
      to: failedMonth,
      destination: { storageAccount: account, container: 'msexports', rootFolderPath: 'cm' },
      force: true,
    });
    expect(report.problemTotals).toMatchObject({
      exportFailing: 1,
      tokenExpiring: 1,
      monthFailed: 1,
      scopeAccess: 0,
    });

    const html = await (await getStatus('?format=html')).text();
    expect(html).toContain('<span class="badge warn">degraded</span>');
    expect(html.match(/<li class="problem"/g)).toHaveLength(3);
    expect(html).toContain(
      `<td class="cell s-Failed" data-month="${failedMonth}" data-state="Failed" title="${failedMonth} Failed: backfill bf-a failed after 3 attempt(s)"`,
    );
    expect(html).toContain(
      `title="${finalMonth} Final: run run-aug landed after the close window · run run-aug (2525 rows) submitted ${failedMonth}-05T09:42:00Z"`,
    );
    expect(html).toContain(
      `data-state="Final" data-rows="unknown" title="${finalMonth} Final: run run-nc landed after the close window · run run-nc (rows unknown) submitted`,
    );
    expect(report.heatmap).toMatchObject({ ok: true, byState: { Failed: 1, Final: 2 } });

    // A Missing month is a problem too, with the backfill that fills it; not under HEALING_POLICY=off.
    await catalog.upsert('ledger', cell(missingMonth, 'Missing', `no run of ${missingMonth} landed`));
    const withMissing = await getStatusJson();
    expect(withMissing.problems.find((p) => p.kind === 'monthMissing')).toMatchObject({
      subject: `${SUB_OK} · daily-actual · ${missingMonth}`,
      fix: expect.stringContaining(`"from":"${missingMonth}","to":"${missingMonth}"`),
    });
    useAppServices({
      status: {
        ...runtime,
        config: loadConfig(appEnv({ MANAGED_SCOPES: SUB_OK, HEALING_POLICY: 'off' })),
      },
    });
    expect((await getStatusJson()).problemTotals.monthMissing).toBe(0);
    expect(html).toContain(`/api/tokens/${account}/rotate`);
  });

  it('says when the tables do not exist yet, and when the catalog does not answer', async () => {
    const env = appEnv({ MANAGED_SCOPES: '' });
    const config = loadConfig(env);
    const fresh = new Catalog({
      tableClient: tableClientFactory(config.storage.catalog),
      tablePrefix: uniqueName('none'),
    });
    useAppServices({
      status: {
        config,
        catalog: fresh,
        exports: createCostExportsClient(config.costManagement, { env }),
      },
    });
    const empty = await getStatusJson();
    expect(empty.catalog).toEqual({ reachable: true, tablesCreated: false });
    expect(empty.counts!.exports).toMatchObject({ ok: true, tableMissing: true, registered: 0 });

    const failing = {
      page: () =>
        Promise.reject(
          Object.assign(
            new Error('connect ECONNREFUSED; AccountKey=c2VjcmV0a2V5c2VjcmV0a2V5c2VjcmV0a2V5MTIzNA=='),
            { code: 'ECONNREFUSED' },
          ),
        ),
    } as unknown as Catalog;
    useAppServices({
      status: {
        config,
        catalog: failing,
        exports: createCostExportsClient(config.costManagement, { env }),
      },
    });
    const response = await getStatus();
    const text = await response.text();
    expect(text).not.toContain('c2VjcmV0a2V5');
    const down = JSON.parse(text) as StatusReport;
    expect(down.status).toBe('degraded');
    expect(down.catalog.reachable).toBe(false);
    // The kind of failure, from its code; never the SDK's text (hosts, ports, URLs).
    expect(down.catalog.error).toBe('storage refused the connection');
    expect(down.counts).toBeUndefined();
  });
});

describe('the heatmap pages', () => {
  it('follows "next exports" to the rest, each export on one page with all its months', async () => {
    const runtime = await runtimeFor(appEnv({ MANAGED_SCOPES: SUB_OK }));
    const now = Date.now();
    const months = Array.from({ length: 13 }, (_, n) => monthsBefore(now, n));
    // 61 exports of 11 to 13 months (younger exports have fewer): more than one page of cells.
    const names = Array.from({ length: 61 }, (_, i) => `export-${String(i).padStart(2, '0')}`);
    const monthsOf = (i: number) => months.slice(0, 13 - (i % 3));
    await runtime.catalog.upsertMany(
      'ledger',
      names.flatMap((exportName, i) =>
        monthsOf(i).map((month) => ({
          scope: SUB_OK,
          exportName,
          dataset: 'ActualCost' as const,
          month,
          state: 'Missing' as const,
          reason: `no run of ${month} landed`,
          stateSince: new Date(now).toISOString(),
          runs: 0,
          supersededRuns: 0,
          updatedAt: new Date(now).toISOString(),
        })),
      ),
    );
    useAppServices({ status: runtime });

    const seen = new Map<string, number>();
    let url: URL | undefined = new URL(`${host.baseUrl}/status?format=html`);
    let pages = 0;
    while (url) {
      pages += 1;
      expect(pages).toBeLessThan(5);
      const response = await fetch(url, { headers: { 'x-functions-key': host.functionKey } });
      expect(response.status).toBe(200);
      const html = await response.text();
      for (const row of html.matchAll(/<tr data-export="([^"]+)">(.*?)<\/tr>/g)) {
        expect(seen.has(row[1]!)).toBe(false); // an export is never split over two pages
        seen.set(row[1]!, [...row[2]!.matchAll(/data-state="Missing"/g)].length);
      }
      const next = /<a href="([^"]+)">next exports/.exec(html)?.[1];
      url = next ? new URL(next.replace(/&amp;/g, '&'), url) : undefined;
    }
    expect(pages).toBeGreaterThan(1);
    expect([...seen.keys()].sort()).toEqual(names);
    // A key the page did not write is refused, naming the parameter.
    for (const bad of ['not*base64', Buffer.from('"x"').toString('base64url')]) {
      const refused = await getStatus(`?format=html&ledgerPage=${encodeURIComponent(bad)}`);
      expect(refused.status).toBe(400);
      expect(await refused.text()).toContain('ledgerPage');
    }
    expect(names.map((n) => seen.get(n))).toEqual(names.map((_, i) => monthsOf(i).length));
  });
});

describe('GET /api/status as HTML', () => {
  it('escapes and redacts every value, and chooses HTML by Accept or ?format', async () => {
    const runtime = await runtimeFor(appEnv({ MANAGED_SCOPES: SUB_OK }));
    // Written around the catalog, which would refuse the signature: the page must not trust the table.
    const hostile =
      '<script>alert("pwn")</script><img src=x onerror=alert(1)>&amp;?sv=2022-11-02&sig=HtmlSecretSignatureABCDEFG0123456789%3D';
    const row = landingToRow({
      scope: SUB_OK,
      exportName: 'placeholder',
      period: '20250101-20250131',
      runId: 'run-hostile',
      manifestPath: 'msexports/x/manifest.json',
      blobCount: 1,
      rowCount: 1,
      totalBytes: 1,
      state: 'complete',
      missingBlobs: [],
      superseded: false,
      current: true,
      catalogedAt: new Date().toISOString(),
    });
    const landings = createTableClient(runtime.config.storage.catalog, runtime.catalog.tableName('landings'));
    await landings.upsertEntity({ ...row, exportName: hostile }, 'Replace');
    useAppServices({ status: runtime });

    const browser = await getStatus('', { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' });
    expect(browser.status).toBe(200);
    expect(browser.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(browser.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await browser.text();
    expect(html).not.toMatch(/<script|<img/i);
    expect(html).not.toContain('HtmlSecretSignature');
    expect(html).toContain(
      '&lt;script&gt;alert(&quot;pwn&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;&amp;amp;',
    );
    expect(html).toContain('sig=REDACTED');
    expect(html).toContain(escapeHtml(SUB_OK));

    const json = await getStatus('?format=json', { accept: 'text/html' });
    expect(json.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await json.text()).not.toContain('HtmlSecretSignature');
    const forced = await getStatus('?format=html', { accept: 'application/json' });
    expect(forced.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const refused = await getStatus('', { accept: 'text/html;q=0, application/json' });
    expect(refused.headers.get('content-type')).toMatch(/^application\/json/);
    const bad = await getStatus('?format=xml');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({
      error: {
        code: 'InvalidRequest',
        message: 'format: expected html or json, got "xml"',
        fields: [{ field: 'format', message: 'expected html or json, got "xml"' }],
      },
    });
  });
});

describe('roleHint', () => {
  const examples: [string, string][] = [
    ['/subscriptions/00000000-0000-0000-0000-000000000001', 'Cost Management Contributor'],
    [
      '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-1',
      'Cost Management Contributor',
    ],
    ['/providers/Microsoft.Management/managementGroups/mg-1', 'Cost Management Contributor'],
    ['/providers/Microsoft.Billing/billingAccounts/12345678', 'EnrollmentReader'],
    [
      '/providers/Microsoft.Billing/billingAccounts/aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa:bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb_2019-05-31',
      'Billing account contributor',
    ],
    ['/providers/Microsoft.Billing/billingAccounts/12345678/departments/42', 'DepartmentReader'],
    [
      '/providers/Microsoft.Billing/billingAccounts/12345678/enrollmentAccounts/7',
      'No service-principal role',
    ],
    [
      '/providers/Microsoft.Billing/billingAccounts/aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa:bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb_2019-05-31/billingProfiles/AB12-CD34-EF5-GHI',
      'Billing profile contributor',
    ],
    [
      '/providers/Microsoft.Billing/billingAccounts/aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa:bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb_2019-05-31/billingProfiles/AB12/invoiceSections/XY-1',
      'Invoice section contributor',
    ],
    [
      '/providers/Microsoft.Billing/billingAccounts/aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa:bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb_2019-05-31/customers/cccccccc-cccc-cccc-cccc-cccccccccccc',
      'customer-scope billing role',
    ],
  ];

  it('covers every scope kind', () => {
    expect(new Set(examples.map(([s]) => parseScope(s).kind))).toEqual(new Set(SCOPE_KINDS));
  });

  it.each(examples)('%s → %s', (scope, role) => {
    const hint = roleHint(parseScope(scope));
    expect(hint).toContain(role);
    expect(hint).toContain('docs/deployment.md');
  });
});

describe('ScopeAccessChecker cache', () => {
  /** A lister that counts calls and answers from a script keyed by subscription id. */
  function lister(answers: Record<string, () => Export[]>): ExportLister & { calls: string[] } {
    const calls: string[] = [];
    return {
      calls,
      list: (scope: Scope | string) => {
        const s = typeof scope === 'string' ? parseScope(scope) : scope;
        calls.push(s.canonical);
        return Promise.resolve().then(() => answers[s.subscriptionId!]!());
      },
    };
  }

  const throttled = (retryAfterMs: number) => () => {
    throw new ThrottledError(
      { operation: 'list', status: 429, code: 'TooManyRequests' },
      'slow down',
      retryAfterMs,
      'retry-after',
    );
  };
  const A = '00000000-0000-0000-0000-00000000000a';
  const B = '00000000-0000-0000-0000-00000000000b';

  it('reuses answers for ttlMs and keeps a throttled one until its wait is over', async () => {
    let now = Date.UTC(2025, 0, 1);
    const fake = lister({ [A]: () => [], [B]: throttled(20 * 60_000) });
    const checker = new ScopeAccessChecker({ ttlMs: 5 * 60_000, now: () => now, concurrency: 1 });
    const scopes = [`/subscriptions/${A}`, `/subscriptions/${B}`, `/subscriptions/${A.toUpperCase()}`];

    const first = await checker.check(scopes, fake);
    expect(first.map((s) => [s.access, s.cached])).toEqual([
      ['ok', false],
      ['throttled', false],
      ['ok', true], // the same scope in other casing shares the call
    ]);
    expect(first[1]!.retryAfterSeconds).toBe(1200);
    expect(fake.calls).toHaveLength(2);

    now += 5 * 60_000 - 1;
    await checker.check(scopes, fake);
    expect(fake.calls).toHaveLength(2);

    now += 1; // the ok answer expired; the throttled one waits out its 20 minutes
    const third = await checker.check(scopes, fake);
    expect(third.map((s) => s.cached)).toEqual([false, true, true]);
    expect(fake.calls).toHaveLength(3);

    now += 15 * 60_000;
    await checker.check(scopes, fake);
    expect(fake.calls).toHaveLength(5);
  });

  it('keeps at most `concurrency` calls in flight', async () => {
    let inFlight = 0;
    let most = 0;
    const slow: ExportLister = {
      list: async () => {
        inFlight += 1;
        most = Math.max(most, inFlight);
        for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
        inFlight -= 1;
        return [];
      },
    };
    const scopes = Array.from(
      { length: 7 },
      (_, i) => `/subscriptions/00000000-0000-0000-0000-00000000010${i}`,
    );
    const answers = await new ScopeAccessChecker({ concurrency: 3 }).check(scopes, slow);
    expect(answers.map((a) => a.access)).toEqual(Array(7).fill('ok'));
    expect(most).toBe(3);
  });

  it('maps an unexpected failure to error with a redacted message', async () => {
    const fake = lister({
      [A]: () => {
        throw new Error(
          'boom https://x.blob.core.windows.net/c?sv=2022-11-02&sig=CheckerSecretSig0123456789%3D',
        );
      },
    });
    const [answer] = await new ScopeAccessChecker().check([`/subscriptions/${A}`], fake);
    expect(answer).toMatchObject({ access: 'error', kind: 'subscription' });
    expect(answer!.message).toContain('boom');
    expect(answer!.message).not.toContain('CheckerSecretSig');
  });
});
