// The local Functions host over real loopback HTTP, with a virtual clock and the jest Azurite:
// sample functions registered here through the real @azure/functions / durable-functions APIs.
import http from 'node:http';
import { PassThrough } from 'node:stream';

import { app, type HttpRequest, type InvocationContext, type Timer } from '@azure/functions';
import { BlobServiceClient } from '@azure/storage-blob';
import type { OrchestrationContext } from 'durable-functions';
import * as df from 'durable-functions';

import { VirtualClock } from '../../dev/host/clock';
import { MAX_REQUEST_BODY_BYTES, MAX_URL_BYTES, readBodyWithinLimit } from '../../dev/host/httpLimits';
import type { HostLogLevel } from '../../dev/host/invocation';
import type { InvocationTiming } from '../../dev/host/invocationTiming';
import { type LocalHost, startLocalHost } from '../../dev/host/localHost';
import { instanceStatus, raiseEventTo } from '../../src/azure/durableClient';
import { testStorageConnection, uniqueName } from '../support/storage';

const START = Date.UTC(2025, 0, 1);
const MINUTE = 60_000;

// ---- sample functions ----------------------------------------------------------------------
df.app.activity('greet', { handler: (name: string) => `Hello ${name}` });

df.app.orchestration('greeting', function* (ctx: OrchestrationContext) {
  const { name } = ctx.df.getInput<{ name: string }>();
  ctx.df.setCustomStatus('waiting');
  yield ctx.df.createTimer(new Date(ctx.df.currentUtcDateTime.getTime() + 5 * MINUTE));
  return yield ctx.df.callActivity('greet', name);
});

df.app.orchestration('approvalFlow', function* (ctx: OrchestrationContext) {
  const decision: unknown = yield ctx.df.waitForExternalEvent('Decision');
  return { decision };
});

app.http('startGreeting', {
  route: 'greetings/{name}',
  methods: ['POST'],
  authLevel: 'function',
  extraInputs: [df.input.durableClient()],
  handler: async (request: HttpRequest, context: InvocationContext) => {
    const client = df.getClient(context);
    const id = await client.startNew('greeting', { input: { name: request.params.name } });
    return client.createCheckStatusResponse(request, id);
  },
});

app.http('durableOps', {
  route: 'ops/{op}/{id}',
  methods: ['POST'],
  extraInputs: [df.input.durableClient()],
  handler: async (request: HttpRequest, context: InvocationContext) => {
    const client = df.getClient(context);
    const { op, id } = request.params;
    try {
      switch (op) {
        case 'start':
          return { jsonBody: { id: await client.startNew('approvalFlow', { instanceId: id }) } };
        case 'raise':
          await client.raiseEvent(id!, 'Decision', await request.json());
          return { status: 202 };
        case 'status': {
          const s = await client.getStatus(id!);
          return { jsonBody: { runtimeStatus: s.runtimeStatus, output: s.output } };
        }
        case 'typedStatus':
          return { jsonBody: { runtimeStatus: (await instanceStatus(client, id!))?.runtimeStatus ?? null } };
        case 'typedRaise':
          return { jsonBody: { outcome: await raiseEventTo(client, id!, 'Decision', await request.json()) } };
        case 'terminate':
          await client.terminate(id!, 'enough');
          return { status: 202 };
        case 'purge':
          return { jsonBody: await client.purgeInstanceHistory(id!) };
        default:
          return { status: 400 };
      }
    } catch (err) {
      return { status: 409, jsonBody: { error: (err as Error).message } };
    }
  },
});

app.http('items', {
  route: 'items/{id:int?}',
  methods: ['GET', 'PUT'],
  handler: async (request: HttpRequest) => ({
    status: request.method === 'PUT' ? 201 : 200,
    headers: { 'x-item': request.params.id ?? 'none' },
    jsonBody: {
      id: request.params.id ?? null,
      q: request.query.get('q'),
      header: request.headers.get('x-test'),
      body: request.method === 'PUT' ? await request.json() : null,
    },
  }),
});

app.http('explode', {
  methods: ['GET'],
  handler: () => {
    throw new Error('boom https://acct.blob.core.windows.net/c?sv=2024&sig=TOPSECRET');
  },
});

const ticks: { at: number; timer: Timer }[] = [];
app.timer('tick', {
  schedule: '%TICK_SCHEDULE%',
  handler: (timer: Timer) => {
    ticks.push({ at: clock.now(), timer });
  },
});
const startupRuns: number[] = [];
app.timer('onStartup', {
  schedule: '0 0 3 * * *',
  runOnStartup: true,
  handler: () => {
    startupRuns.push(clock.now());
  },
});

const container = uniqueName('landing');
const landed: { content: string; metadata: unknown }[] = [];
app.storageBlob('onLanded', {
  // The container comes from an app setting, as the app's own blob trigger does (%EXPORTS_CONTAINER%).
  path: '%LANDING_CONTAINER%/{folder}/{file}.json',
  connection: 'LandingStorage',
  source: 'EventGrid',
  handler: (blob: unknown, context: InvocationContext) => {
    landed.push({ content: (blob as Buffer).toString('utf8'), metadata: context.triggerMetadata });
  },
});

// ---- host ----------------------------------------------------------------------------------
let clock: VirtualClock;
let host: LocalHost;
const logs: { level: HostLogLevel; message: string }[] = [];
const invocations: InvocationTiming[] = [];

beforeAll(async () => {
  await BlobServiceClient.fromConnectionString(testStorageConnection())
    .getContainerClient(container)
    .create();
  clock = new VirtualClock(START);
  host = await startLocalHost({
    clock,
    env: {
      TICK_SCHEDULE: '0 */5 * * * *',
      LandingStorage: testStorageConnection(),
      LANDING_CONTAINER: container,
    },
    // Each poll lists Azurite for real: a long interval keeps virtual hours cheap.
    blobPollIntervalMs: MINUTE,
    functionKey: 'local-test-key',
    logger: (level, message) => logs.push({ level, message }),
    onInvocation: (timing) => invocations.push(timing),
  });
  await clock.runUntilIdle();
});

afterAll(async () => {
  await host?.stop();
});

describe('HTTP triggers', () => {
  test('route params, optional constrained params, query, headers, body and the response shape', async () => {
    const got = await fetch(`${host.baseUrl}/items/42?q=find`, { headers: { 'x-test': 'yes' } });
    expect(got.status).toBe(200);
    expect(got.headers.get('x-item')).toBe('42');
    expect(got.headers.get('content-type')).toMatch(/application\/json/);
    expect(await got.json()).toEqual({ id: '42', q: 'find', header: 'yes', body: null });

    const none = await fetch(`${host.baseUrl}/items`);
    expect(await none.json()).toMatchObject({ id: null });

    const put = await fetch(`${host.baseUrl}/ITEMS/7`, { method: 'PUT', body: JSON.stringify({ a: 1 }) });
    expect(put.status).toBe(201);
    expect(await put.json()).toMatchObject({ id: '7', body: { a: 1 } });
  });

  test('method, constraint and route mismatches are 404', async () => {
    expect((await fetch(`${host.baseUrl}/items/1`, { method: 'DELETE' })).status).toBe(404);
    expect((await fetch(`${host.baseUrl}/items/abc`)).status).toBe(404);
    expect((await fetch(`${host.origin}/elsewhere`)).status).toBe(404);
  });

  test('a throwing handler answers 500, is logged with secrets redacted, and the host keeps serving', async () => {
    const res = await fetch(`${host.baseUrl}/explode`);
    expect(res.status).toBe(500);
    const line = logs.find((l) => l.message.includes('[explode]'))!;
    expect(line.level).toBe('error');
    expect(line.message).toContain('sig=REDACTED');
    expect(line.message).not.toContain('TOPSECRET');
    expect((await fetch(`${host.baseUrl}/items/1`)).status).toBe(200);
  });

  test('function-level keys: absent or correct is accepted, a wrong key is 401', async () => {
    expect((await fetch(`${host.baseUrl}/greetings/x?code=wrong`, { method: 'POST' })).status).toBe(401);
    const ok = await fetch(`${host.baseUrl}/greetings/keyed`, {
      method: 'POST',
      headers: { 'x-functions-key': 'local-test-key' },
    });
    expect(ok.status).toBe(202);
  });
});

describe("the Functions host's HTTP limits", () => {
  test('a URL over 4 KB is 414 and never reaches the function', async () => {
    const base = `${host.baseUrl}/items/1?q=`;
    const path = new URL(base).pathname + '?q=';
    const fits = await fetch(base + 'a'.repeat(MAX_URL_BYTES - path.length));
    expect(fits.status).toBe(200);
    const over = await fetch(base + 'a'.repeat(MAX_URL_BYTES - path.length + 1));
    expect(over.status).toBe(414);
  });

  test('a body announced over 100 MB is 413 before it is read', async () => {
    const url = new URL(`${host.baseUrl}/items/7`);
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(
        url,
        { method: 'PUT', headers: { 'content-length': String(MAX_REQUEST_BODY_BYTES + 1) } },
        (res) => {
          resolve(res.statusCode ?? 0);
          res.resume();
          req.destroy();
        },
      );
      req.on('error', reject);
      req.write('{');
    });
    expect(status).toBe(413);
  });

  test('a streamed body over the limit is drained and refused; one within it is read whole', async () => {
    const stream = (parts: string[]) => {
      const s = new PassThrough();
      for (const p of parts) s.write(p);
      s.end();
      return Object.assign(s, { headers: {} }) as unknown as http.IncomingMessage;
    };
    expect(await readBodyWithinLimit(stream(['abc', 'def']), 6)).toEqual({
      kind: 'ok',
      body: Buffer.from('abcdef'),
    });
    expect(await readBodyWithinLimit(stream(['abc', 'defg']), 6)).toEqual({ kind: 'tooLarge' });
  });
});

describe('durable client against the engine', () => {
  test('an HTTP starter returns check-status links that work over HTTP until Completed', async () => {
    const res = await fetch(`${host.baseUrl}/greetings/Ada`, { method: 'POST' });
    expect(res.status).toBe(202);
    const links = (await res.json()) as Record<string, string>;
    expect(res.headers.get('location')).toBe(links.statusQueryGetUri);
    expect(
      links.statusQueryGetUri!.startsWith(
        `${host.origin}/runtime/webhooks/durabletask/instances/${links.id}`,
      ),
    ).toBe(true);

    let status = await fetch(links.statusQueryGetUri!);
    expect(status.status).toBe(202);
    expect(await status.json()).toMatchObject({
      runtimeStatus: 'Running',
      customStatus: 'waiting',
      input: { name: 'Ada' },
    });

    await clock.advance(5 * MINUTE);
    status = await fetch(links.statusQueryGetUri!);
    expect(status.status).toBe(200);
    expect(await status.json()).toMatchObject({
      name: 'greeting',
      runtimeStatus: 'Completed',
      output: 'Hello Ada',
    });

    const withHistory = await fetch(`${links.statusQueryGetUri!}&showHistory=true`);
    const body = (await withHistory.json()) as { historyEvents: { EventType: string }[] };
    expect(body.historyEvents.map((e) => e.EventType)).toContain('TimerFired');
  });

  test('startNew with an id, duplicate refusal, raiseEvent, getStatus, purge through the real DurableClient', async () => {
    const call = async (op: string, id: string, body?: unknown) => {
      const res = await fetch(`${host.baseUrl}/ops/${op}/${id}`, {
        method: 'POST',
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return {
        status: res.status,
        body: res.status === 202 ? undefined : ((await res.json()) as Record<string, unknown>),
      };
    };
    expect(await call('start', 'flow-1')).toEqual({ status: 200, body: { id: 'flow-1' } });
    const dup = await call('start', 'flow-1');
    expect(dup.status).toBe(409);
    expect(String(dup.body!.error)).toContain(
      'An Orchestration instance with the status Running already exists.',
    );

    expect((await call('raise', 'flow-1', { ok: true })).status).toBe(202);
    await clock.runUntilIdle();
    expect(await call('status', 'flow-1')).toEqual({
      status: 200,
      body: { runtimeStatus: 'Completed', output: { decision: { ok: true } } },
    });
    expect((await call('raise', 'flow-1', {})).status).toBe(202); // 410 Gone is success for the client
    expect((await call('purge', 'flow-1')).body).toEqual({ instancesDeleted: 1 });
    expect(String((await call('status', 'flow-1')).body!.error)).toContain('404');
    // The same answers as statuses, through the real client's own error texts.
    expect(await call('typedStatus', 'flow-1')).toEqual({ status: 200, body: { runtimeStatus: null } });
    expect(await call('typedRaise', 'flow-1', {})).toEqual({ status: 200, body: { outcome: 'notFound' } });

    await call('start', 'flow-2');
    await call('start', 'flow-3');
    expect(await call('typedStatus', 'flow-3')).toEqual({ status: 200, body: { runtimeStatus: 'Running' } });
    expect(await call('typedRaise', 'flow-3', 'go')).toEqual({ status: 200, body: { outcome: 'raised' } });
    expect((await call('terminate', 'flow-2')).status).toBe(202);
    expect((await call('status', 'flow-2')).body).toEqual({ runtimeStatus: 'Terminated', output: 'enough' });
  });
});

describe('invocation timing', () => {
  test('every invocation is reported once with its function, trigger type, duration and failure', async () => {
    const from = invocations.length;
    await host.fireTimer('tick');
    expect((await fetch(`${host.baseUrl}/explode`)).status).toBe(500);
    const start = await fetch(`${host.baseUrl}/ops/start/timed-1`, { method: 'POST' });
    expect(start.status).toBe(200);
    await clock.runUntilIdle();
    const seen = invocations.slice(from);
    expect(seen.map(({ functionName, trigger, failed }) => ({ functionName, trigger, failed }))).toEqual(
      expect.arrayContaining([
        { functionName: 'tick', trigger: 'timerTrigger', failed: false },
        { functionName: 'explode', trigger: 'httpTrigger', failed: true },
        { functionName: 'durableOps', trigger: 'httpTrigger', failed: false },
        { functionName: 'approvalFlow', trigger: 'orchestrationTrigger', failed: false },
      ]),
    );
    expect(seen.filter((t) => t.functionName === 'tick')).toHaveLength(1);
    for (const t of seen) expect(t.ms).toBeGreaterThanOrEqual(0);
  });
});

describe('timer triggers', () => {
  test('runOnStartup fired once at start; the NCRONTAB schedule (from %SETTING%) fires on the virtual clock', async () => {
    expect(startupRuns).toEqual([START]);
    const before = ticks.length;
    const five = 5 * MINUTE;
    const first = Math.floor(clock.now() / five) * five + five;
    await clock.advanceTo(first + 2 * five);
    expect(ticks.slice(before).map((t) => t.at)).toEqual([first, first + five, first + 2 * five]);
    const last = ticks.at(-1)!.timer;
    expect(last.isPastDue).toBe(false);
    expect(new Date(last.scheduleStatus.next).getTime()).toBe(ticks.at(-1)!.at + 5 * MINUTE);
    expect(host.nextTimerRuns().tick?.getTime()).toBe(ticks.at(-1)!.at + 5 * MINUTE);
  });

  test('fireTimer runs a timer function now', async () => {
    const before = ticks.length;
    await host.fireTimer('tick');
    expect(ticks.length).toBe(before + 1);
    await expect(host.fireTimer('nope')).rejects.toThrow(/No timer function named "nope"/);
  });
});

describe('blob triggers', () => {
  test('an uploaded blob fires once per version with the host-shaped metadata', async () => {
    const cc = BlobServiceClient.fromConnectionString(testStorageConnection()).getContainerClient(container);
    await cc.getBlockBlobClient('2025-01/manifest.json').upload('{"v":1}', 7);
    await cc.getBlockBlobClient('2025-01/readme.txt').upload('skip', 4);
    landed.length = 0;
    await clock.advance(MINUTE);
    expect(landed).toHaveLength(1);
    expect(landed[0]!.content).toBe('{"v":1}');
    expect(landed[0]!.metadata).toMatchObject({
      blobTrigger: `${container}/2025-01/manifest.json`,
      folder: '2025-01',
      file: 'manifest',
      properties: { contentLength: 7 },
    });
    expect(String((landed[0]!.metadata as { uri: string }).uri)).toContain(
      `/${container}/2025-01/manifest.json`,
    );

    await clock.advance(3 * MINUTE);
    expect(landed).toHaveLength(1);

    await cc.getBlockBlobClient('2025-01/manifest.json').upload('{"v":2}', 7);
    await clock.advance(MINUTE);
    expect(landed.map((l) => l.content)).toEqual(['{"v":1}', '{"v":2}']);
  });

  test('invokeBlob delivers directly and checks the path pattern', async () => {
    landed.length = 0;
    await host.invokeBlob('onLanded', `${container}/x/y.json`, '{}');
    expect(landed[0]!.metadata).toMatchObject({
      folder: 'x',
      file: 'y',
      blobTrigger: `${container}/x/y.json`,
    });
    await expect(host.invokeBlob('onLanded', `${container}/x/y.csv`, '')).rejects.toThrow(/does not match/);
  });
});
