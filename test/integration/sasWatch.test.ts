// The SAS watch end to end: the real timer registration fired by the local host on its virtual clock,
// the catalog in Azurite, digests delivered to a real SMTP server on loopback, and (scan mode) run
// history read from the Exports emulator. Time moves only by the virtual clocks.
import { createServer } from 'node:net';

import { TableClient } from '@azure/data-tables';

import { type RunningEmulator, startEmulator } from '../../dev/emulator/server';
import { VirtualClock } from '../../dev/host/clock';
import { findRegistration } from '../../dev/host/functionsCoreStub';
import type { HostLogLevel } from '../../dev/host/invocation';
import { type LocalHost, startLocalHost } from '../../dev/host/localHost';
import { alertStateTableName, TableAlertStateStore } from '../../src/azure/alertState';
import { Catalog, type ExportRecord, TABLE_KINDS, type TokenRecord } from '../../src/azure/catalog';
import { CostExportsClient } from '../../src/azure/costExports';
import { LoopbackTokenCredential } from '../../src/azure/credentials';
import { buildExportBody } from '../../src/azure/exportBody';
import { SmtpMailer } from '../../src/azure/mailer';
import { createTableClient, tableClientFactory } from '../../src/azure/storageClients';
import type { StorageConnection } from '../../src/config';
import { sasTokenFingerprint } from '../../src/domain/sasToken';
import { SAS_WATCH_FUNCTION } from '../../src/functions/sasWatch';
import type { SasWatchRuntime } from '../../src/services/alerts';
import { lastWatchSummary } from '../../src/services/alerts';
import { useAppServices } from '../../src/services/appServices';
import { type SmtpSink, startSmtpSink } from '../support/smtpSink';
import { testStorageConnection, uniqueName } from '../support/storage';

const DAY = 86_400_000;
const T0 = Date.UTC(2025, 6, 1, 6, 0); // the first 06:00 tick
const SUB = (n: number) => `/subscriptions/00000000-0000-0000-0000-00000000000${n}`;
const RECIPIENTS = ['finops@example.com', 'ops@example.org'];
const APP = 'https://func-cea.azurewebsites.net';

function connection(): StorageConnection {
  return { kind: 'connectionString', name: 'AzureWebJobsStorage', connectionString: testStorageConnection() };
}

function tokenRecord(
  storageAccount: string,
  tokenId: string,
  expiresOn: number,
  extra: Partial<TokenRecord> = {},
) {
  const record: TokenRecord = {
    storageAccount,
    tokenId,
    expiresOn: new Date(expiresOn).toISOString(),
    permissions: 'racwdl',
    services: 'b',
    resourceTypes: 'sco',
    secretName: `sas-${storageAccount}-${tokenId}`,
    fingerprint: `fp${tokenId.replace(/[^a-z0-9]/g, '')}`,
    status: 'active',
    ...extra,
  };
  return record;
}

function exportRecord(
  scope: string,
  exportName: string,
  account: string,
  tokenRef: string | undefined,
  extra: Partial<ExportRecord> = {},
) {
  const record: ExportRecord = {
    scope,
    exportName,
    dataset: 'ActualCost',
    destination: {
      storageAccount: account,
      container: 'exports',
      rootFolderPath: 'cost',
      sasDelivered: true,
      ...(tokenRef ? { tokenRef } : {}),
    },
    missing: false,
    updatedAt: new Date(T0 - DAY).toISOString(),
    ...extra,
  };
  return record;
}

async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function tableDump(catalog: Catalog): Promise<string> {
  const names = [...TABLE_KINDS.map((t) => catalog.tableName(t)), alertStateTableName(catalog)];
  const rows: unknown[] = [];
  for (const name of names) {
    const client = TableClient.fromConnectionString(testStorageConnection(), name, {
      allowInsecureConnection: true,
    });
    try {
      for await (const row of client.listEntities()) rows.push(row);
    } catch {
      // a table that was never created holds nothing
    }
  }
  return JSON.stringify(rows);
}

describe('SAS watch through the local host (virtual clock, Azurite, SMTP on loopback)', () => {
  const clock = new VirtualClock(T0 - 60_000);
  const logs: string[] = [];
  let host: LocalHost;
  let sink: SmtpSink;
  let catalog: Catalog;
  let state: TableAlertStateStore;
  let runtime: SasWatchRuntime;

  beforeAll(async () => {
    sink = await startSmtpSink();
    catalog = new Catalog({ tableClient: tableClientFactory(connection()), tablePrefix: uniqueName('w') });
    await catalog.ensureTables();
    state = new TableAlertStateStore(createTableClient(connection(), alertStateTableName(catalog)));
    runtime = {
      deps: {
        catalog,
        state,
        mailer: new SmtpMailer({
          host: sink.host,
          port: sink.port,
          secure: false,
          sender: 'alerts@example.com',
        }),
      },
      options: { thresholdsDays: [30, 14, 7, 3, 1, 0], recipients: RECIPIENTS, appBaseUrl: APP },
      now: () => new Date(clock.now()),
    };
    useAppServices({ sasWatch: runtime });

    // partnera01: one token, 10 days and an hour left at the first tick; two exports deliver with it.
    // partnerb01: rotated to tok-b, but one export still carries tok-b-old (a partial rotation).
    await catalog.upsertMany('tokens', [
      tokenRecord('partnera01', 'tok-a', T0 + 10 * DAY + 3600_000),
      tokenRecord('partnerb01', 'tok-b', T0 + 60 * DAY, { rotatedAt: new Date(T0 - 2 * DAY).toISOString() }),
      tokenRecord('partnerb01', 'tok-b-old', T0 + 5 * DAY, { status: 'rotated' }),
    ]);
    await catalog.upsertMany('exports', [
      exportRecord(SUB(1), 'daily-actual', 'partnera01', 'tok-a'),
      exportRecord(SUB(1), 'daily-amortized', 'partnera01', 'tok-a', {
        lastRun: {
          status: 'Failed',
          at: new Date(T0 - 7 * 3600_000).toISOString(),
          runId: 'run-1',
          error:
            'StorageAuthorizationFailed: Please ensure the SAS token is valid for blob service (AuthorizationResourceTypeMismatch)',
        },
      }),
      exportRecord(SUB(2), 'focus', 'partnerb01', 'tok-b-old'),
      exportRecord(SUB(2), 'focus-mi', 'partnerb01', undefined, {
        destination: {
          storageAccount: 'partnerb01',
          container: 'exports',
          rootFolderPath: '',
          sasDelivered: false,
        },
      }),
    ]);

    host = await startLocalHost({
      clock,
      env: { SAS_WATCH_SCHEDULE: '0 0 6 * * *' },
      registrations: [findRegistration(SAS_WATCH_FUNCTION)],
      startBlobWatchers: false,
      logger: (level: HostLogLevel, message: string) => logs.push(`${level} ${message}`),
    });
  });

  afterAll(async () => {
    useAppServices(undefined);
    await host?.stop();
    await sink?.close();
  });

  const subjectsAfterTick = async (day: number): Promise<string[]> => {
    const before = sink.received.length;
    await clock.advanceTo(T0 + day * DAY);
    return sink.received.slice(before).map((m) => m.subject);
  };
  const tokenA = async () => (await catalog.getToken('partnera01', 'tok-a'))!;

  it('registers a timer on %SAS_WATCH_SCHEDULE%', () => {
    const registration = findRegistration(SAS_WATCH_FUNCTION);
    expect(registration.trigger).toMatchObject({ type: 'timerTrigger', schedule: '%SAS_WATCH_SCHEDULE%' });
  });

  it('day 0: one digest with the crossed threshold, the failing export and the partial rotation', async () => {
    expect(await subjectsAfterTick(0)).toEqual([
      '10 days left: 1 SAS token expiring, 1 export failing on authorization, 1 export on a replaced token (Cost Export Autopilot)',
    ]);
    const mail = sink.received.at(-1)!;
    expect(mail.to).toEqual(RECIPIENTS);
    expect(mail.text).toContain('partnera01 / token tok-a: 10 days left (threshold 14 days)');
    expect(mail.text).toContain('2 exports deliver with it');
    expect(mail.text).toContain(`daily-amortized at ${SUB(1)} (account partnera01): run Failed`);
    expect(mail.text).toContain(
      `focus at ${SUB(2)} (account partnerb01) still carries token tok-b-old; current is tok-b`,
    );
    for (const account of ['partnera01', 'partnerb01']) {
      expect(mail.text).toContain(`curl -X POST "${APP}/api/tokens/${account}/rotate"`);
    }
    expect(mail.html).toContain('<h3>Exports still carrying a replaced token (partial rotation)</h3>');
    expect(await tokenA()).toMatchObject({
      lastAlertThresholdDays: 14,
      lastAlertAt: new Date(T0).toISOString(),
    });
  });

  it('day 1: nothing changed, nothing is sent', async () => {
    expect(await subjectsAfterTick(1)).toEqual([]);
    expect(await lastWatchSummary(state)).toMatchObject({
      mail: 'nothingToSend',
      tokensScanned: 3,
      exportsScanned: 4,
    });
  });

  it('day 2: a new failed run of the same export is reported again', async () => {
    await catalog.recordExportRun(SUB(1), 'daily-amortized', {
      runId: 'run-2',
      status: 'Failed',
      at: new Date(T0 + DAY + 3600_000).toISOString(),
      error:
        'AuthorizationPermissionMismatch: This request is not authorized to perform this operation using this permission.',
    });
    expect(await subjectsAfterTick(2)).toEqual(['1 export failing on authorization (Cost Export Autopilot)']);
  });

  it('day 3: SMTP is down; the run fails visibly and records nothing', async () => {
    const working = runtime.deps.mailer;
    runtime.deps.mailer = new SmtpMailer({
      host: '127.0.0.1',
      port: await deadPort(),
      secure: false,
      sender: 'alerts@example.com',
    });
    const logCount = logs.length;
    expect(await subjectsAfterTick(3)).toEqual([]);
    runtime.deps.mailer = working;
    expect(logs.slice(logCount).join('\n')).toMatch(/sasWatch.*failed.*ECONNREFUSED/s);
    expect(await lastWatchSummary(state)).toMatchObject({
      mail: 'failed',
      alerts: { expiring: 1 },
      subject: '7 days left: 1 SAS token expiring (Cost Export Autopilot)',
    });
    expect(await tokenA()).toMatchObject({
      lastAlertThresholdDays: 14,
      lastAlertAt: new Date(T0).toISOString(),
    });
  });

  it('day 4: SMTP is back; the alert missed yesterday is sent', async () => {
    expect(await subjectsAfterTick(4)).toEqual(['6 days left: 1 SAS token expiring (Cost Export Autopilot)']);
    expect(await tokenA()).toMatchObject({ lastAlertThresholdDays: 7 });
  });

  it('days 5-12: once per threshold, then daily while expired; a finished rotation clears its state', async () => {
    // The lagging export gets the current token: its alert state row goes away.
    await catalog.upsert('exports', exportRecord(SUB(2), 'focus', 'partnerb01', 'tok-b'));
    const byDay: Record<number, string[]> = {};
    for (let day = 5; day <= 12; day++) {
      const subjects = await subjectsAfterTick(day);
      if (subjects.length > 0) byDay[day] = subjects;
    }
    expect(byDay).toEqual({
      7: ['3 days left: 1 SAS token expiring (Cost Export Autopilot)'],
      9: ['1 day left: 1 SAS token expiring (Cost Export Autopilot)'],
      10: ['Less than 1 day left: 1 SAS token expiring (Cost Export Autopilot)'],
      11: ['EXPIRED: 1 SAS token (Cost Export Autopilot)'],
      12: ['EXPIRED: 1 SAS token (Cost Export Autopilot)'],
    });
    expect((await state.load('stale')).size).toBe(0);
    expect([...(await state.load('failure')).values()]).toEqual([
      `run-2@${new Date(T0 + DAY + 3600_000).toISOString()}`,
    ]);
  });

  it('days 13-14: a rotation that reached one export of two: only the lagging export is reported', async () => {
    await catalog.modifyToken('partnera01', 'tok-a', (t) => ({ ...t, status: 'rotated' }));
    await catalog.upsert(
      'tokens',
      tokenRecord('partnera01', 'tok-a2', T0 + 100 * DAY, {
        rotatedAt: new Date(T0 + 12.5 * DAY).toISOString(),
      }),
    );
    await catalog.modifyExport(SUB(1), 'daily-actual', (e) => ({
      ...e,
      destination: { ...e.destination, tokenRef: 'tok-a2' },
    }));
    expect(await subjectsAfterTick(13)).toEqual(['1 export on a replaced token (Cost Export Autopilot)']);
    expect(sink.received.at(-1)!.text).toContain(
      `daily-amortized at ${SUB(1)} (account partnera01) still carries token tok-a; current is tok-a2`,
    );
    expect(await subjectsAfterTick(14)).toEqual([]);
  });
});

describe('SAS watch in scan mode against the Exports emulator: one list per scope, no secret anywhere', () => {
  // A real-looking account SAS; its signature must never reach a log, a table or a mail.
  const SIG = 'Q2xvdWRGaW5PcHNTZWNyZXRTaWduYXR1cmUrLzEyMzQ1Njc4OTA=';
  const SAS = `sv=2024-11-04&ss=b&srt=sco&sp=racwdl&se=2025-07-05T00:00:00Z&spr=https&sig=${encodeURIComponent(SIG)}`;
  const SCOPES = [SUB(1), SUB(2), SUB(3)];
  const clock = new VirtualClock(Date.UTC(2025, 6, 1, 5, 0));
  const logs: string[] = [];
  let emulator: RunningEmulator;
  let host: LocalHost;
  let sink: SmtpSink;
  let catalog: Catalog;

  beforeAll(async () => {
    emulator = await startEmulator({ clock: { now: new Date(clock.now()) } });
    sink = await startSmtpSink();
    catalog = new Catalog({ tableClient: tableClientFactory(connection()), tablePrefix: uniqueName('s') });
    await catalog.ensureTables();
    const costExports = new CostExportsClient({
      endpoint: emulator.url,
      credential: new LoopbackTokenCredential(emulator.url),
      clientType: 'sasWatchTest',
      caPem: emulator.caPem,
    });
    await catalog.upsert('tokens', {
      ...tokenRecord('partnerc01', 'tok-c', Date.UTC(2025, 6, 5)),
      fingerprint: sasTokenFingerprint(SAS),
    });
    for (const scope of SCOPES) {
      for (const name of ['daily', 'monthly']) {
        await costExports.createOrUpdate(
          scope,
          name,
          buildExportBody({
            dataset: 'ActualCost',
            timeframe: 'MonthToDate',
            destination: { storageAccount: 'partnerc01', sasToken: SAS, container: 'exports' },
            schedule: { status: 'Active', recurrence: 'Daily', recurrencePeriod: { from: '2025-07-01' } },
          }),
        );
        await catalog.upsert('exports', exportRecord(scope, name, 'partnerc01', 'tok-c'));
        await costExports.run(scope, name);
      }
    }
    // Storage refused the token on one run; the service's message even echoes the signature.
    const failed = (await emulator.admin.runs()).find(
      (r) => r.scope === SCOPES[1] && r.exportName === 'monthly',
    )!;
    await emulator.admin.forceRunOutcome(failed.runId, 'Failed', {
      code: 'AuthorizationPermissionMismatch',
      message: `Storage refused https://partnerc01.blob.core.windows.net/exports?${SAS}`,
    });
    // Every run goes through queued and processing in one move of the emulator's clock.
    await emulator.admin.advanceClock(10 * 60_000);
    await emulator.admin.waitForIdle();
    await emulator.admin.resetCounters();

    useAppServices({
      sasWatch: {
        deps: {
          catalog,
          state: new TableAlertStateStore(createTableClient(connection(), alertStateTableName(catalog))),
          mailer: new SmtpMailer({
            host: sink.host,
            port: sink.port,
            secure: false,
            sender: 'alerts@example.com',
          }),
          costExports,
        },
        options: {
          thresholdsDays: [30, 14, 7, 3, 1, 0],
          recipients: RECIPIENTS,
          appBaseUrl: APP,
          scanRunHistory: true,
        },
        now: () => new Date(clock.now()),
      },
    });
    host = await startLocalHost({
      clock,
      env: { SAS_WATCH_SCHEDULE: '0 0 6 * * *' },
      registrations: [findRegistration(SAS_WATCH_FUNCTION)],
      startTimers: false,
      startBlobWatchers: false,
      logger: (level: HostLogLevel, message: string) => logs.push(`${level} ${message}`),
    });
  });

  afterAll(async () => {
    useAppServices(undefined);
    await host?.stop();
    await sink?.close();
    await emulator?.stop();
  });

  it('reads run status with one list call per scope and reports the refused run', async () => {
    const result = (await host.fireTimer(SAS_WATCH_FUNCTION)) as { armCalls: number; scopesScanned: number };
    expect(result).toMatchObject({ armCalls: 3, scopesScanned: 3, alerts: { expiring: 1, failing: 1 } });
    const counters = await emulator.admin.counters();
    expect(counters.byOperation).toEqual({ Exports_List: 3 });
    expect(sink.received).toHaveLength(1);
    const mail = sink.received[0]!;
    expect(mail.subject).toBe(
      '3 days left: 1 SAS token expiring, 1 export failing on authorization (Cost Export Autopilot)',
    );
    expect(mail.text).toContain(`monthly at ${SUB(2)} (account partnerc01): run Failed`);
    expect(mail.text).toContain('6 exports deliver with it');
  });

  it('the signature is in no log, no table row and no mail', async () => {
    const haystacks = [
      logs.join('\n'),
      await tableDump(catalog),
      ...sink.received.flatMap((m) => [m.raw, m.text, m.html, m.subject]),
    ];
    for (const text of haystacks) {
      expect(text).not.toContain(SIG);
      expect(text).not.toContain(encodeURIComponent(SIG));
      expect(text).not.toContain(SIG.slice(0, 24));
    }
    // The logs did see the run (so the scan is not vacuous).
    expect(
      logs
        .map((l) => /\{"event":"sasWatch\.finished".*\}$/.exec(l)?.[0])
        .filter(Boolean)
        .map((l) => JSON.parse(l!) as unknown),
    ).toEqual([expect.objectContaining({ event: 'sasWatch.finished', tokens: 1, exports: 6 })]);
  });
});
