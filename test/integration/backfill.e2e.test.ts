// Backfills end to end: the real registrations of src/index.ts in the local host (real clock), the
// Exports emulator over HTTPS delivering into Azurite, the exportLanded blob trigger waking the
// months, and every request over real HTTP.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';

import { BlobServiceClient } from '@azure/storage-blob';

import type { EmulatorAdmin } from '../../dev/emulator/admin';
import { startEmulator } from '../../dev/emulator/server';
import { REALISTIC_THROTTLE } from '../../dev/emulator/throttle';
import { RealClock } from '../../dev/host/clock';
import { registrations } from '../../dev/host/functionsCoreStub';
import { type LocalHost, startLocalHost } from '../../dev/host/localHost';
import { connectionSettings, staticSettings } from '../../dev/stack';
import { Catalog } from '../../src/azure/catalog';
import { landingKeyOf } from '../../src/azure/landingRows';
import { tableClientFactory } from '../../src/azure/storageClients';
import { loadConfig, resetConfigCache } from '../../src/config';
import type { BackfillOutput } from '../../src/domain/contracts';
import { useAppServices } from '../../src/services/appServices';
import { parseBackfillRequest } from '../../src/services/backfillRequest';
import { backfillTiming, buildBackfillInput } from '../../src/services/backfills';
import { BACKFILL_ORCHESTRATOR } from '../../src/workflows/backfill';
import { invalidBodies } from '../support/backfillFuzz';
import { runTimeFolder, writeForgedManifest } from '../support/forgedManifests';
import { testStorageConnection, uniqueName } from '../support/storage';

// Throttled as Azure is (10 run POSTs a minute per scope): 24 months take a minute and a half.
jest.setTimeout(300_000);

const SCOPE = '/subscriptions/6c1f5e0a-8d3b-4f7e-9a21-3b4c5d6e7f80';
const DESTINATION = {
  resourceId: `${SCOPE}/resourceGroups/rg-finops/providers/Microsoft.Storage/storageAccounts/devstoreaccount1`,
  container: 'msexports',
  rootFolderPath: 'backfill',
};

interface Stack {
  api: string;
  host: LocalHost;
  emulatorAdmin: EmulatorAdmin;
  emulatorUrl: string;
  caPem: string;
  stop(): Promise<void>;
}

let stack: Stack;
const tempDir = mkdtempSync(path.join(os.tmpdir(), 'backfill-e2e-'));
const saved = new Map<string, string | undefined>();

beforeAll(async () => {
  const storage = testStorageConnection();
  const blobEndpoint = /BlobEndpoint=([^;]+)/.exec(storage)![1]!;
  const container = uniqueName('bfexports');
  await BlobServiceClient.fromConnectionString(storage).getContainerClient(container).create();
  DESTINATION.container = container;
  const caFile = path.join(tempDir, 'ca.pem');
  const emulator = await startEmulator({
    speedFactor: 2000,
    throttle: { ...REALISTIC_THROTTLE },
    storage: { blobEndpoint, connectionString: storage },
    caFile,
  });
  // The same settings `npm run dev` uses (every documented setting, schedules included), pointed at
  // this suite's Azurite container and emulator.
  const settings: Record<string, string> = {
    ...staticSettings([]),
    ...connectionSettings({
      storage,
      blobOrigin: new URL(blobEndpoint).origin,
      emulatorUrl: emulator.url,
      emulatorCa: caFile,
    }),
    EXPORTS_CONTAINER: container,
    DURABLE_TASK_HUB: 'backfilltest',
  };
  for (const [name, value] of Object.entries(settings)) {
    saved.set(name, process.env[name]);
    process.env[name] = value;
  }
  resetConfigCache();
  useAppServices(undefined);
  // After the settings: function files read some of them when they register.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('../../src/index');
  const host = await startLocalHost({
    env: process.env,
    clock: new RealClock(),
    blobPollIntervalMs: 200,
    taskHub: settings.DURABLE_TASK_HUB,
    logger: () => undefined,
  }).catch(async (error: unknown) => {
    await emulator.stop(); // or its HTTPS server keeps jest alive after the failure
    throw error;
  });
  stack = {
    api: host.baseUrl,
    host,
    emulatorAdmin: emulator.admin,
    emulatorUrl: emulator.url,
    caPem: emulator.caPem,
    stop: async () => {
      await host.stop();
      await emulator.stop();
    },
  };
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  for (const [name, value] of saved) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  resetConfigCache();
  useAppServices(undefined);
  rmSync(tempDir, { recursive: true, force: true });
});

async function post(body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${stack.api}/backfills`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

async function get(id: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${stack.api}/backfills/${id}`);
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, unknown>;
}

async function until(id: string, timeoutMs = 240_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await get(id);
    if (['Completed', 'Failed', 'Terminated'].includes(String(status.runtimeStatus))) return status;
    if (Date.now() > deadline) throw new Error(`backfill ${id} still ${String(status.runtimeStatus)}`);
    await new Promise((resolve) => setTimeout(resolve, 250)); // real clock: the emulator runs in real time
  }
}

function landedFunctionRegistered(): boolean {
  return registrations.some((r) => r.name === 'exportLanded');
}

const twelveMonths = (datasets: string[]) => ({
  scope: SCOPE,
  datasets,
  months: 12,
  destination: DESTINATION,
  concurrency: 6,
});

test('12 months × 2 datasets under realistic throttling: every month Completed and catalogued, ≤ 4 accepted ARM calls each, every Retry-After kept, exports removed', async () => {
  await stack.emulatorAdmin.resetCounters();
  const started = await post(twelveMonths(['ActualCost', 'AmortizedCost']));
  expect(started.status).toBe(202);
  expect(started.json).toMatchObject({ started: true, run: 1 });
  const id = String(started.json.id);
  expect(started.json.statusUrl).toBe(`${stack.api}/backfills/${id}`);

  // The same request while it runs starts nothing and answers with the same id and URLs.
  const before = stack.host.engine.listInstances().length;
  const again = await post(twelveMonths(['AmortizedCost', 'ActualCost']));
  expect(again.status).toBe(202);
  expect(again.json).toMatchObject({ id, started: false, statusUrl: started.json.statusUrl });
  expect(stack.host.engine.listInstances().length).toBe(before);

  const status = await until(id);
  expect(status.runtimeStatus).toBe('Completed');
  expect(status.outcome).toBe('Succeeded');
  const output = status.result as BackfillOutput;
  expect(output.total).toBe(24);
  expect(output.counts).toEqual({ Completed: 24, NoData: 0, Failed: 0 });

  // 24 runs on one scope go past 10 a minute: the shared pacing budget spaces them, so the service
  // answers few if any 429s (calls can still arrive bunched), and each one is waited out.
  const log = (await stack.emulatorAdmin.requests()).filter((e) => /^cea-bf-/i.test(e.exportName ?? ''));
  const accepted = new Map<string, number>();
  for (const e of log) {
    if (e.status !== 429) accepted.set(e.exportName!, (accepted.get(e.exportName!) ?? 0) + 1);
  }
  expect(accepted.size).toBe(24);
  for (const calls of accepted.values()) expect(calls).toBeLessThanOrEqual(4);
  const throttled = log.filter((e) => e.status === 429);
  expect(throttled.length).toBeLessThanOrEqual(3);
  for (const t of throttled) {
    const deadline = t.answeredAt + (t.retryAfterSeconds ?? 0) * 1000;
    const early = log.filter(
      (e) =>
        e.exportName === t.exportName &&
        e.operation === t.operation &&
        e.receivedAt > t.answeredAt &&
        e.receivedAt < deadline,
    );
    expect(early).toEqual([]);
  }
  expect((await stack.emulatorAdmin.exports()).filter((e) => e.name.startsWith('cea-bf-'))).toEqual([]);

  const catalog = new Catalog({ tableClient: tableClientFactory(loadConfig(process.env).storage.catalog) });
  const runs = [];
  for await (const run of catalog.listBackfillRuns(id)) runs.push(run);
  expect(runs).toHaveLength(24);
  expect(runs.every((r) => r.status === 'landed')).toBe(true);
  if (landedFunctionRegistered()) {
    // Woken by the landing catalog: each month names its landing row.
    expect(output.months.every((m) => m.landingKey !== undefined && m.rowCount !== undefined)).toBe(true);
    for (const m of output.months) {
      const landing = await catalog.get('landings', m.landingKey!);
      expect(landing).toMatchObject({ runId: m.runId, state: 'complete' });
    }
  }

  // Finished: the same request answers 200 with the result and starts nothing.
  const done = await post(twelveMonths(['ActualCost', 'AmortizedCost']));
  expect(done.status).toBe(200);
  expect(done.json).toMatchObject({ id, runtimeStatus: 'Completed', started: false });
});

test('fuzz: 500 bad bodies all get 400 naming fields, and start nothing', async () => {
  await stack.emulatorAdmin.resetCounters();
  const before = stack.host.engine.listInstances().length;
  const cases = invalidBodies(500, 4242);
  for (let i = 0; i < cases.length; i += 25) {
    const batch = cases.slice(i, i + 25);
    const answers = await Promise.all(batch.map((c) => post(c.body)));
    answers.forEach((answer, k) => {
      const c = batch[k]!;
      if (answer.status !== 400) throw new Error(`${answer.status} for ${c.description}`);
      const errors = (answer.json.error as { fields: { field: string; message: string }[] }).fields;
      expect(errors.length).toBeGreaterThan(0);
      for (const field of c.fields) expect(errors.map((e) => e.field)).toContain(field);
    });
  }
  expect((await post('{not json')).status).toBe(400);
  expect(stack.host.engine.listInstances().length).toBe(before);
  expect((await stack.emulatorAdmin.counters()).total).toBe(0);
});

test('throttled: every month completes and no call comes before a Retry-After deadline', async () => {
  // Its own, tighter limit per principal instead of the realistic per-scope one.
  await stack.emulatorAdmin.setThrottle({
    runPerPrincipal: { limit: 2, windowSeconds: 2 },
    runPerScope: null,
  });
  try {
    const started = await post({
      // A scope of its own: the first test left SCOPE's run bucket paced at 10 a minute, which would
      // keep these 8 runs under this principal limit and draw no 429 at all.
      scope: '/subscriptions/6c1f5e0a-8d3b-4f7e-9a21-3b4c5d6e7f81',
      datasets: ['ActualCost', 'AmortizedCost'],
      from: '2024-01',
      to: '2024-04',
      destination: DESTINATION,
      concurrency: 6,
    });
    expect(started.status).toBe(202);
    const status = await until(String(started.json.id));
    expect((status.result as BackfillOutput).counts.Completed).toBe(8);
    const log = await stack.emulatorAdmin.requests();
    const throttled = log.filter((e) => e.status === 429);
    expect(throttled.length).toBeGreaterThan(0);
    for (const t of throttled) {
      const deadline = t.answeredAt + (t.retryAfterSeconds ?? 0) * 1000;
      const early = log.filter(
        (e) =>
          e.exportName === t.exportName &&
          e.operation === t.operation &&
          e.receivedAt > t.answeredAt &&
          e.receivedAt < deadline,
      );
      expect(early).toEqual([]);
    }
  } finally {
    await stack.emulatorAdmin.setThrottle({ runPerPrincipal: null, ...REALISTIC_THROTTLE });
  }
});

test('injected failures: retried months succeed, the rest are reported with reasons, NoData recorded', async () => {
  // Started on the engine directly with second-scale timing: the settings' minimum poll interval is
  // a minute, which a failed run (no landing event) would have to wait out on the real clock.
  await stack.emulatorAdmin.setFaults({ runFailureRate: 0.5, noDataMonths: ['2023-06'] });
  // About failures, not pacing: without the per-scope limit its 20 s landing timeout is not at stake.
  await stack.emulatorAdmin.setThrottle({ runPerScope: null });
  try {
    const parsed = parseBackfillRequest(
      {
        scope: SCOPE,
        datasets: ['ActualCost'],
        from: '2023-01',
        to: '2023-12',
        destination: DESTINATION,
        concurrency: 6,
      },
      { now: new Date(), maxConcurrency: 6 },
    );
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
    const timing = {
      ...backfillTiming(loadConfig(process.env).backfill),
      pollIntervalMs: 300,
      maxPollIntervalMs: 1000,
      landingTimeoutMs: 20_000,
      retryBaseMs: 100,
      retryMaxMs: 400,
    };
    const input = buildBackfillInput(
      parsed.value,
      parsed.value.request.destination as typeof DESTINATION,
      timing,
    );
    const id = stack.host.engine.startNew(BACKFILL_ORCHESTRATOR, {
      instanceId: parsed.value.instanceId,
      input,
    });
    const status = await until(id);
    const output = status.result as BackfillOutput;
    expect(output.months).toHaveLength(12);
    expect(output.months.find((m) => m.month === '2023-06')).toMatchObject({ outcome: 'NoData' });
    const retried = output.months.filter((m) => m.outcome === 'Completed' && m.attempts > 1);
    const failed = output.months.filter((m) => m.outcome === 'Failed');
    expect(retried.length).toBeGreaterThan(0);
    for (const m of failed) {
      expect(m.attempts).toBe(3);
      expect(m.error).toMatch(/ended Failed/);
    }
    expect(output.counts.Completed + output.counts.NoData + output.counts.Failed).toBe(12);
    expect(status.outcome).toBe(failed.length > 0 ? 'PartiallySucceeded' : 'Succeeded');
  } finally {
    await stack.emulatorAdmin.setFaults({ runFailureRate: 0, noDataMonths: [] });
  }
});

test('a month retrying shows attempt, last error and next retry; cancel names the cancelled months', async () => {
  // Every run fails; a long back-off keeps the months waiting to retry while the test looks.
  await stack.emulatorAdmin.setFaults({ runFailureRate: 1 });
  try {
    const parsed = parseBackfillRequest(
      {
        scope: SCOPE,
        datasets: ['ActualCost'],
        from: '2021-01',
        to: '2021-03',
        destination: DESTINATION,
        concurrency: 2,
      },
      { now: new Date(), maxConcurrency: 6 },
    );
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
    const timing = {
      ...backfillTiming(loadConfig(process.env).backfill),
      pollIntervalMs: 200,
      maxPollIntervalMs: 500,
      landingTimeoutMs: 20_000,
      retryBaseMs: 600_000,
      retryMaxMs: 600_000,
    };
    const input = buildBackfillInput(
      parsed.value,
      parsed.value.request.destination as typeof DESTINATION,
      timing,
    );
    const id = stack.host.engine.startNew(BACKFILL_ORCHESTRATOR, {
      instanceId: parsed.value.instanceId,
      input,
    });

    type InFlight = {
      dataset: string;
      month: string;
      phase: string;
      attempt: number;
      maxAttempts: number;
      lastError: string | null;
      nextRetryAt: string | null;
    };
    const deadline = Date.now() + 60_000;
    let running: Record<string, unknown>;
    for (;;) {
      running = await get(id);
      const months = running.inFlight as InFlight[];
      if (months.length === 2 && months.every((m) => m.phase === 'backingOff')) break;
      if (Date.now() > deadline) throw new Error(`months never backed off: ${JSON.stringify(running)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(running.outcome).toBeNull();
    const months = running.inFlight as InFlight[];
    expect(months.map((m) => m.month)).toEqual(['2021-03', '2021-02']);
    for (const m of months) {
      expect(m).toMatchObject({ dataset: 'ActualCost', attempt: 1, maxAttempts: 3 });
      expect(m.lastError).toMatch(/^run [0-9a-f-]{36} ended Failed: /);
      expect(Date.parse(m.nextRetryAt!)).toBeGreaterThan(Date.now() + 500_000);
    }

    const cancel = await fetch(`${stack.api}/backfills/${id}`, { method: 'DELETE' });
    expect(cancel.status).toBe(200);
    const cancelled = (await cancel.json()) as Record<string, unknown>;
    expect(cancelled).toMatchObject({
      runtimeStatus: 'Terminated',
      outcome: 'Cancelled',
      terminated: true,
      inFlight: [],
    });
    const progress = cancelled.progress as {
      counts: Record<string, number>;
      inFlight: string[];
      cancelled: string[];
    };
    expect(progress.counts).toMatchObject({ running: 0, pending: 0, Cancelled: 3 });
    expect(progress.inFlight).toEqual([]);
    expect(progress.cancelled).toEqual(['ActualCost 2021-03', 'ActualCost 2021-02', 'ActualCost 2021-01']);
    // `result` keeps the shape of a finished backfill: every month, counted.
    const result = cancelled.result as {
      total: number;
      counts: Record<string, number>;
      months: { month: string; outcome: string }[];
      reason: string;
    };
    expect(result.total).toBe(3);
    expect(result.counts).toEqual({ Completed: 0, NoData: 0, Failed: 0, Cancelled: 3 });
    expect(result.months.map((m) => [m.month, m.outcome])).toEqual([
      ['2021-03', 'Cancelled'],
      ['2021-02', 'Cancelled'],
      ['2021-01', 'Cancelled'],
    ]);
    expect(result.reason).toBe('cancelled by DELETE /api/backfills');
    // GET later answers the same.
    expect(await get(id)).toMatchObject({ outcome: 'Cancelled', result: { counts: result.counts } });
  } finally {
    await stack.emulatorAdmin.setFaults({ runFailureRate: 0, noDataMonths: [] });
    await stack.emulatorAdmin.setThrottle({ ...REALISTIC_THROTTLE });
  }
});

/** PUT an export straight to the emulator, as an earlier, interrupted backfill would have left it. */
function putLeftover(exportName: string, month: string): Promise<number> {
  const [y, m] = month.split('-').map(Number) as [number, number];
  const last = new Date(Date.UTC(y, m, 0)).toISOString().slice(0, 10);
  const body = JSON.stringify({
    properties: {
      format: 'Csv',
      deliveryInfo: { destination: { type: 'AzureBlob', ...DESTINATION } },
      definition: {
        type: 'ActualCost',
        timeframe: 'Custom',
        timePeriod: { from: `${month}-01T00:00:00Z`, to: `${last}T00:00:00Z` },
      },
      schedule: { status: 'Inactive' },
    },
  });
  const url = `${stack.emulatorUrl}${SCOPE}/providers/Microsoft.CostManagement/exports/${exportName}?api-version=2025-03-01`;
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method: 'PUT',
        ca: stack.caPem,
        headers: { authorization: 'Bearer leftover', 'content-type': 'application/json' },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

test('a backfill whose temporary exports already exist (an interrupted earlier run) lands every month', async () => {
  const months = ['2022-01', '2022-02', '2022-03'];
  for (const month of months) {
    expect(await putLeftover(`cea-bf-actualcost-${month.replace('-', '')}`, month)).toBe(201);
  }
  const started = await post({
    scope: SCOPE,
    datasets: ['ActualCost'],
    from: months[0],
    to: months[2],
    destination: DESTINATION,
    concurrency: 3,
  });
  expect(started.status).toBe(202);
  const status = await until(String(started.json.id));
  const output = status.result as BackfillOutput;
  expect(output.counts).toEqual({ Completed: 3, NoData: 0, Failed: 0 });
  expect(output.months.every((m) => m.attempts === 1)).toBe(true);
  // Each leftover was updated with its eTag, then removed like any temporary export.
  const log = await stack.emulatorAdmin.requests();
  const puts = log.filter(
    (e) => e.operation === 'Exports_CreateOrUpdate' && /cea-bf-actualcost-2022/.test(e.exportName ?? ''),
  );
  expect(puts.filter((e) => e.status === 200)).toHaveLength(3);
  expect((await stack.emulatorAdmin.exports()).filter((e) => /cea-bf-actualcost-2022/.test(e.name))).toEqual(
    [],
  );
});

test('a resourceId destination whose account has shared keys off: the month fails at once with the service wording', async () => {
  await stack.emulatorAdmin.setFaults({ sharedKeyDisabledAccounts: ['devstoreaccount1'] });
  try {
    const started = await post({
      scope: SCOPE,
      datasets: ['ActualCost'],
      from: '2021-05',
      to: '2021-05',
      destination: DESTINATION,
    });
    expect(started.status).toBe(202);
    const output = (await until(String(started.json.id))).result as BackfillOutput;
    expect(output.counts).toEqual({ Completed: 0, NoData: 0, Failed: 1 });
    expect(output.months[0]).toMatchObject({ outcome: 'Failed', attempts: 0 }); // refused at PUT: no run posted
    expect(output.months[0]!.error).toMatch(/Key-based authentication is currently disabled/);
  } finally {
    await stack.emulatorAdmin.setFaults({ sharedKeyDisabledAccounts: [] });
  }
});

test('a month whose run lands one header-only file (dataRowCount 0) ends NoData, not Completed with 0 rows', async () => {
  await stack.emulatorAdmin.setFaults({ emptyMonths: ['2020-02'] });
  try {
    const started = await post({
      scope: SCOPE,
      datasets: ['ActualCost'],
      from: '2020-01',
      to: '2020-02',
      destination: DESTINATION,
      concurrency: 2,
    });
    expect(started.status).toBe(202);
    const output = (await until(String(started.json.id))).result as BackfillOutput;
    expect(output.counts).toEqual({ Completed: 1, NoData: 1, Failed: 0 });
    const empty = output.months.find((m) => m.month === '2020-02')!;
    expect(empty).toMatchObject({ outcome: 'NoData', rowCount: 0, attempts: 1 });
    expect(output.months.find((m) => m.month === '2020-01')!.rowCount).toBeGreaterThan(0);
    if (landedFunctionRegistered()) {
      // The landing itself is catalogued: one file, zero rows (kept apart from "rows unknown").
      const catalog = new Catalog({
        tableClient: tableClientFactory(loadConfig(process.env).storage.catalog),
      });
      expect(await catalog.get('landings', empty.landingKey!)).toMatchObject({ rowCount: 0 });
    }
  } finally {
    await stack.emulatorAdmin.setFaults({ emptyMonths: [] });
  }
});

test('adversarial: forged manifests in the backfill folder while its run is Queued never complete the month; the real run does', async () => {
  const scope = '/subscriptions/6c1f5e0a-8d3b-4f7e-9a21-3b4c5d6e7f82';
  // Runs stay Queued until the test forces them: the forged manifests land first.
  await stack.emulatorAdmin.setSpeedFactor(0.001);
  try {
    const parsed = parseBackfillRequest(
      { scope, datasets: ['ActualCost'], from: '2022-02', to: '2022-02', destination: DESTINATION },
      { now: new Date(), maxConcurrency: 6 },
    );
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
    const timing = {
      ...backfillTiming(loadConfig(process.env).backfill),
      pollIntervalMs: 300,
      maxPollIntervalMs: 1000,
      landingTimeoutMs: 120_000,
    };
    const input = buildBackfillInput(
      parsed.value,
      parsed.value.request.destination as typeof DESTINATION,
      timing,
    );
    const id = stack.host.engine.startNew(BACKFILL_ORCHESTRATOR, {
      instanceId: parsed.value.instanceId,
      input,
    });
    const exportName = input.windows.length === 1 ? 'cea-bf-actualcost-202202' : '';
    const real = await waitUntil(async () =>
      (await stack.emulatorAdmin.runs()).find((r) => r.exportName === exportName && r.status === 'Queued'),
    );

    const container = BlobServiceClient.fromConnectionString(testStorageConnection()).getContainerClient(
      DESTINATION.container,
    );
    const folder = `${DESTINATION.rootFolderPath}/${exportName}/20220201-20220228/${runTimeFolder()}`;
    const forged = [
      // The reported attack: zero blobs, a made-up run id.
      await writeForgedManifest(container, {
        folder: `${folder}/f1`,
        scope,
        exportName,
        startDate: '2022-02-01',
      }),
      // A made-up run whose blobs exist (written by the same hand).
      await (async () => {
        const runId = randomUUID();
        const blobName = `${folder}/${runId}/part_0_0001.csv`;
        await container.getBlockBlobClient(blobName).upload('a,b\n1,2\n', 8);
        return writeForgedManifest(container, {
          folder: `${folder}/${runId}`,
          runId,
          scope,
          exportName,
          startDate: '2022-02-01',
          blobs: [{ blobName, byteCount: 8, dataRowCount: 1 }],
        });
      })(),
    ];
    const catalog = new Catalog({ tableClient: tableClientFactory(loadConfig(process.env).storage.catalog) });
    const keyOf = (runId: string) =>
      landingKeyOf({ scope, exportName, period: '20220201-20220228', runId: runId.toLowerCase() });
    // Each forged landing is catalogued, then refused by the month: rejected, with the reason.
    for (const f of forged) {
      const row = await waitUntil(async () => {
        const landing = await catalog.get('landings', keyOf(f.runId));
        return landing?.state === 'rejected' ? landing : undefined;
      });
      expect(row.rejectionReason).toMatch(/not in the export's run history/);
    }
    expect(stack.host.engine.getStatus(id)!.runtimeStatus).toBe('Running');

    await stack.emulatorAdmin.setSpeedFactor(2000);
    await stack.emulatorAdmin.forceRunOutcome(real.runId, 'Completed');
    const output = (await until(id)).result as BackfillOutput;
    expect({ ...output.months[0], error: output.months[0]!.error ?? '' }).toMatchObject({
      outcome: 'Completed',
      runId: real.runId,
      attempts: 1,
      error: '',
    });
    // The history poll may end the month before the blob trigger has catalogued the run's manifest.
    const readLandings = async () => {
      const rows = [];
      for await (const row of catalog.landingsByExport(keyOf(real.runId).partitionKey)) rows.push(row);
      return rows;
    };
    const landings = await waitUntil(async () => {
      const rows = await readLandings();
      return rows.some((l) => l.state === 'complete') ? rows : undefined;
    });
    const complete = landings.filter((l) => l.state === 'complete');
    expect(complete.map((l) => l.runId)).toEqual([real.runId]);
    expect(complete[0]).toMatchObject({ current: true });
    expect(complete[0]!.rowCount).toBeGreaterThan(0);
    const lost = output.months.filter((m) => m.outcome !== 'Completed').length;
    const duplicates = complete.length - 1;
    console.log(
      `adversarial backfill landings: forged manifests tried ${forged.length}, refused ${
        landings.filter((l) => l.state === 'rejected').length
      }, months lost ${lost}, duplicates ${duplicates}`,
    );
    expect([lost, duplicates]).toEqual([0, 0]);
  } finally {
    await stack.emulatorAdmin.setSpeedFactor(2000);
  }
});

async function waitUntil<T>(probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

test('adversarial: manifests whose claims their folder contradicts are rejected by path, never filed under the export they name', async () => {
  const scope = '/subscriptions/6c1f5e0a-8d3b-4f7e-9a21-3b4c5d6e7f83';
  const container = BlobServiceClient.fromConnectionString(testStorageConnection()).getContainerClient(
    DESTINATION.container,
  );
  const period = '20220301-20220331';
  const stamp = runTimeFolder();
  const base = `${DESTINATION.rootFolderPath}/victim-export/${period}/${stamp}`;
  const elsewhere = `${DESTINATION.rootFolderPath}/other-export/${period}/${stamp}/${randomUUID()}/part_0_0001.csv`;
  await container.getBlockBlobClient(elsewhere).upload('a,b\n1,2\n', 8);
  const [r1, r2, r3, folder3] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
  const cases = [
    // Lists a blob of another export's folder.
    {
      kind: 'blobOutsideRunFolder',
      runFolder: r1,
      manifest: {
        folder: `${base}/${r1}`,
        runId: r1,
        exportName: 'victim-export',
        blobs: [{ blobName: elsewhere, byteCount: 8, dataRowCount: 1 }],
      },
    },
    // Names another export than the folder it was written in.
    {
      kind: 'exportNameMismatch',
      runFolder: r2,
      manifest: { folder: `${base}/${r2}`, runId: r2, exportName: 'other-export' },
    },
    // Names another run than its run folder.
    {
      kind: 'runIdMismatch',
      runFolder: folder3,
      manifest: { folder: `${base}/${folder3}`, runId: r3, exportName: 'victim-export' },
    },
  ];
  for (const c of cases) {
    await writeForgedManifest(container, { ...c.manifest, scope, startDate: '2022-03-01' });
  }
  const catalog = new Catalog({ tableClient: tableClientFactory(loadConfig(process.env).storage.catalog) });
  let rejected = 0;
  let filedUnderScope = 0;
  for (const c of cases) {
    // Filed by its path alone, in the unresolved partition of the folder's export.
    const row = await waitUntil(() =>
      catalog.get('landings', landingKeyOf({ exportName: 'victim-export', period, runId: c.runFolder })),
    );
    expect(row).toMatchObject({ state: 'rejected', scope: '' });
    expect(row.rejectionReason).toContain(c.kind);
    rejected++;
    for (const exportName of ['victim-export', 'other-export']) {
      for (const runId of [c.manifest.runId, c.runFolder]) {
        if (await catalog.get('landings', landingKeyOf({ scope, exportName, period, runId })))
          filedUnderScope++;
      }
    }
  }
  console.log(
    `adversarial misplaced manifests: tried ${cases.length}, rejected ${rejected}, filed under the scope they name ${filedUnderScope}`,
  );
  expect([rejected, filedUnderScope]).toEqual([cases.length, 0]);
});
