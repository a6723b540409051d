// SAS tokens end to end: the real registrations served by the local host over HTTP, tokens probed
// against an HTTPS Azurite (a token with spr=https cannot be used over plain http, so the jest Azurite
// cannot serve the probe), values stored in a Key Vault fake through the real SDK and its challenge
// flow, metadata in the jest Azurite's tables, and rotation PUTs sent to the Exports emulator.
// The last test scans every table, response and log line for the tokens' signatures.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { rootCertificates } from 'node:tls';

import { TableClient } from '@azure/data-tables';
import type { TokenCredential } from '@azure/identity';
import {
  AccountSASPermissions,
  AccountSASResourceTypes,
  AccountSASServices,
  BlobServiceClient,
  generateAccountSASQueryParameters,
  SASProtocol,
  type StoragePipelineOptions,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';

import { AZURITE_ACCOUNT, AZURITE_KEY, stopProcess } from '../../dev/azurite';
import { type RunningEmulator, startEmulator } from '../../dev/emulator/server';
import { findRegistration } from '../../dev/host/functionsCoreStub';
import { type LocalHost, startLocalHost } from '../../dev/host/localHost';
import { createLoopbackCertificate } from '../../dev/tls';
import { Catalog, TABLE_KINDS } from '../../src/azure/catalog';
import { CostExportsClient } from '../../src/azure/costExports';
import { LoopbackTokenCredential } from '../../src/azure/credentials';
import { buildExportBody } from '../../src/azure/exportBody';
import { createSasProbe, PROBE_PREFIX } from '../../src/azure/sasProbe';
import {
  KeyVaultSecretStore,
  SAS_CONTENT_TYPE,
  sasSecretName,
  TableSecretStore,
} from '../../src/azure/secrets';
import { tableClientFactory } from '../../src/azure/storageClients';
import { carriesStaleToken } from '../../src/domain/alertPolicy';
import { sasTokenFingerprint } from '../../src/domain/sasToken';
import {
  LIST_TOKENS_FUNCTION,
  REGISTER_TOKEN_FUNCTION,
  ROTATE_TOKEN_FUNCTION,
} from '../../src/functions/tokens';
import { useAppServices } from '../../src/services/appServices';
import { syncExports } from '../../src/services/exportRegistry';
import { registerToken, type RotationOutcome, type TokenView } from '../../src/services/tokens';
import { inspect, newTally, printTally, send } from '../support/hostileAnswers';
import { type KeyVaultFake, startKeyVaultFake } from '../support/keyVaultFake';
import { testStorageConnection, uniqueName } from '../support/storage';

const DAY = 86_400_000;
const CONTAINER = 'exports';
const SUB1 = '/subscriptions/00000000-0000-0000-0000-0000000000a1';
const SUB2 = '/subscriptions/00000000-0000-0000-0000-0000000000a2';

interface HttpsAzurite {
  blobEndpoint: string;
  caPem: string;
  stop(): Promise<void>;
}

/** Azurite's blob service over HTTPS with a loopback certificate (dev/azurite.ts starts plain http). */
async function startHttpsAzurite(): Promise<HttpsAzurite> {
  const { cert, key } = await createLoopbackCertificate();
  const dir = mkdtempSync(path.join(tmpdir(), 'azurite-tls-'));
  writeFileSync(path.join(dir, 'cert.pem'), cert);
  writeFileSync(path.join(dir, 'key.pem'), key);
  const script = path.join(path.dirname(require.resolve('azurite/package.json')), 'dist/src/blob/main.js');
  const child: ChildProcess = spawn(
    process.execPath,
    [
      script,
      '--silent',
      '--inMemoryPersistence',
      '--disableTelemetry',
      '--skipApiVersionCheck',
      ...['--blobHost', '127.0.0.1', '--blobPort', '0'],
      ...['--cert', path.join(dir, 'cert.pem'), '--key', path.join(dir, 'key.pem')],
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const origin = await new Promise<string>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`HTTPS Azurite did not start:\n${output}`)), 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const m = /(?:listens on|listening at) (https:\/\/\S+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        child.stdout?.resume();
        resolve(m[1]!);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`HTTPS Azurite exited with ${code}:\n${output}`));
    });
  });
  return {
    blobEndpoint: origin,
    caPem: cert,
    stop: async () => {
      await stopProcess(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const credential = new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY);
const wrongKey = new StorageSharedKeyCredential(
  AZURITE_ACCOUNT,
  Buffer.from('w'.repeat(64)).toString('base64'),
);

function makeToken(
  options: {
    days?: number;
    permissions?: string;
    services?: string;
    protocol?: SASProtocol;
    key?: StorageSharedKeyCredential;
  } = {},
): string {
  return generateAccountSASQueryParameters(
    {
      startsOn: new Date(Date.now() + Math.min(0, options.days ?? 30) * DAY - 3_600_000),
      expiresOn: new Date(Date.now() + (options.days ?? 30) * DAY),
      permissions: AccountSASPermissions.parse(options.permissions ?? 'rwdlac'),
      services: AccountSASServices.parse(options.services ?? 'b').toString(),
      resourceTypes: AccountSASResourceTypes.parse('sco').toString(),
      protocol: options.protocol ?? SASProtocol.Https,
    },
    options.key ?? credential,
  ).toString();
}

/** The answers of the token endpoints, as the tests read them. */
type ApiJson = Partial<RotationOutcome> & {
  token?: TokenView;
  tokens?: TokenView[];
  error?: {
    code: string;
    fields: { field: string; message: string }[];
    problems?: { code: string }[];
    probe?: { ok: boolean; failedStep?: string; steps: { step: string; ok: boolean; status?: number }[] };
  };
};

const signatureOf = (token: string) => decodeURIComponent(new URLSearchParams(token).get('sig') ?? '');

describe('SAS tokens through the local host (HTTPS Azurite probe, Key Vault fake, Exports emulator)', () => {
  const logs: string[] = [];
  const responses: string[] = [];
  const tokensUsed: string[] = [];
  const sleeps: number[] = [];
  let onSleep: (ms: number) => Promise<void> = () => Promise.resolve();
  let azurite: HttpsAzurite;
  let vault: KeyVaultFake;
  let emulator: RunningEmulator;
  let host: LocalHost;
  let catalog: Catalog;
  let costExports: CostExportsClient;
  const tablePrefix = uniqueName('tok');

  const kvCredential: TokenCredential = {
    getToken: () =>
      Promise.resolve({ token: 'test-vault-token', expiresOnTimestamp: Date.now() + 3_600_000 }),
  };

  async function call(
    method: string,
    route: string,
    body?: unknown,
  ): Promise<{ status: number; json: ApiJson }> {
    const response = await fetch(`${host.baseUrl}/${route}`, {
      method,
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      headers: { 'content-type': 'application/json' },
    });
    const text = await response.text();
    responses.push(text);
    return { status: response.status, json: (text ? JSON.parse(text) : {}) as ApiJson };
  }

  const register = (sasToken: string, extra: Record<string, unknown> = {}) => {
    tokensUsed.push(sasToken);
    return call('POST', 'tokens', {
      storageAccount: AZURITE_ACCOUNT,
      container: CONTAINER,
      sasToken,
      ...extra,
    });
  };

  beforeAll(async () => {
    [azurite, vault, emulator] = await Promise.all([
      startHttpsAzurite(),
      startKeyVaultFake(),
      startEmulator({ speedFactor: Infinity }),
    ]);
    const blobs = new BlobServiceClient(`${azurite.blobEndpoint}/${AZURITE_ACCOUNT}`, credential, {
      tlsOptions: { ca: [...rootCertificates, azurite.caPem] },
    } as StoragePipelineOptions);
    await blobs.getContainerClient(CONTAINER).create();

    const connection = {
      kind: 'connectionString' as const,
      name: 'AzureWebJobsStorage',
      connectionString: testStorageConnection(),
    };
    catalog = new Catalog({ tableClient: tableClientFactory(connection), tablePrefix });
    await catalog.ensureTables();
    costExports = new CostExportsClient({
      endpoint: emulator.url,
      credential: new LoopbackTokenCredential(emulator.url),
      clientType: 'tokensTest',
      caPem: emulator.caPem,
      retry: { maxRetries: 0 },
    });
    useAppServices({
      tokens: {
        catalog,
        secrets: new KeyVaultSecretStore({
          vaultUrl: vault.url,
          credential: kvCredential,
          caPem: vault.caPem,
          disableChallengeResourceVerification: true,
          maxRetries: 0,
        }),
        probe: createSasProbe({
          blobEndpointTemplate: `${azurite.blobEndpoint}/{account}`,
          caPem: azurite.caPem,
        }),
        costExports,
        now: () => new Date(),
        sleep: async (ms) => {
          sleeps.push(ms);
          await onSleep(ms);
        },
        rotation: { maxAttempts: 4, maxWaitMs: 10_000, concurrency: 2 },
      },
    });
    host = await startLocalHost({
      registrations: [REGISTER_TOKEN_FUNCTION, ROTATE_TOKEN_FUNCTION, LIST_TOKENS_FUNCTION].map(
        findRegistration,
      ),
      startTimers: false,
      startBlobWatchers: false,
      // Raw messages, not redacted: the scan at the end must see what the functions really log.
      logger: (level, message) => logs.push(`${level} ${message}`),
    });
  }, 60_000);

  afterAll(async () => {
    useAppServices(undefined);
    await host?.stop();
    await Promise.all([azurite?.stop(), vault?.close(), emulator?.stop()]);
  });

  it('registers the three routes at authLevel function', () => {
    expect(findRegistration(REGISTER_TOKEN_FUNCTION).trigger).toMatchObject({
      type: 'httpTrigger',
      route: 'tokens',
      methods: ['POST'],
      authLevel: 'function',
    });
    expect(findRegistration(ROTATE_TOKEN_FUNCTION).trigger).toMatchObject({
      route: 'tokens/{storageAccount}/rotate',
      methods: ['POST'],
      authLevel: 'function',
    });
    expect(findRegistration(LIST_TOKENS_FUNCTION).trigger).toMatchObject({
      route: 'tokens',
      methods: ['GET'],
    });
  });

  let first: TokenView;
  const firstToken = makeToken({ days: 30 });

  it('registers a good token: probed, stored in Key Vault with its expiry, metadata only in the table', async () => {
    const { status, json } = await register(firstToken);
    expect(status).toBe(201);
    first = json.token as TokenView;
    expect(first).toMatchObject({
      storageAccount: AZURITE_ACCOUNT,
      tokenId: sasTokenFingerprint(firstToken),
      fingerprint: sasTokenFingerprint(firstToken),
      status: 'active',
      permissions: 'rwdlac',
      services: 'b',
      resourceTypes: 'sco',
      secretName: 'sas-devstoreaccount1',
    });
    expect(first.daysLeft).toBeGreaterThanOrEqual(29);

    const versions = vault.versions(sasSecretName(AZURITE_ACCOUNT));
    expect(versions).toHaveLength(1);
    expect(versions[0]).toMatchObject({
      value: firstToken,
      contentType: SAS_CONTENT_TYPE,
      version: first.secretVersion,
    });
    expect(Math.abs(versions[0]!.expiresOn!.getTime() - Date.parse(first.expiresOn))).toBeLessThan(1000);
    // The SDK's challenge flow: an unauthenticated first request, then the real one with a token.
    expect(vault.requests.slice(0, 2).map((r) => [r.method, r.status, r.authorized])).toEqual([
      ['PUT', 401, false],
      ['PUT', 200, true],
    ]);

    // The probe cleaned up after itself.
    const blobs = new BlobServiceClient(`${azurite.blobEndpoint}/${AZURITE_ACCOUNT}`, credential, {
      tlsOptions: { ca: [...rootCertificates, azurite.caPem] },
    } as StoragePipelineOptions);
    const left: string[] = [];
    for await (const b of blobs.getContainerClient(CONTAINER).listBlobsFlat({ prefix: PROBE_PREFIX }))
      left.push(b.name);
    expect(left).toEqual([]);
  });

  it.each([
    ['expired', makeToken({ days: -1 }), 422, 'TokenNotFitForExports', 'expired'],
    [
      'missing permission d',
      makeToken({ permissions: 'rwlac' }),
      422,
      'TokenNotFitForExports',
      'permissionsMissing',
    ],
    [
      'for the file service',
      makeToken({ services: 'f' }),
      422,
      'TokenNotFitForExports',
      'blobServiceMissing',
    ],
    [
      'allowing http',
      makeToken({ protocol: SASProtocol.HttpsAndHttp }),
      422,
      'TokenNotFitForExports',
      'httpAllowed',
    ],
  ])(
    'refuses a token %s before probing or storing anything',
    async (_label, token, status, code, problem) => {
      const before = vault.versions(sasSecretName(AZURITE_ACCOUNT)).length;
      const { status: got, json } = await register(token);
      expect(got).toBe(status);
      expect(json.error).toMatchObject({ code, fields: [expect.objectContaining({ field: 'sasToken' })] });
      expect(json.error?.problems?.map((p) => p.code)).toContain(problem);
      expect(vault.versions(sasSecretName(AZURITE_ACCOUNT))).toHaveLength(before);
    },
  );

  it('refuses a token signed with the wrong key: Azurite rejects the probe', async () => {
    const { status, json } = await register(makeToken({ key: wrongKey }));
    expect(status).toBe(422);
    expect(json.error).toMatchObject({
      code: 'ProbeFailed',
      fields: [expect.objectContaining({ field: 'sasToken' })],
    });
    expect(json.error?.probe).toMatchObject({ ok: false, failedStep: 'create' });
    expect(json.error?.probe?.steps[0]).toMatchObject({ step: 'create', ok: false, status: 403 });
    expect(vault.versions(sasSecretName(AZURITE_ACCOUNT))).toHaveLength(1);
  });

  it('names the container when it does not exist', async () => {
    const { status, json } = await register(makeToken(), { container: 'nosuchcontainer' });
    expect(status).toBe(422);
    expect(json.error).toMatchObject({
      code: 'ProbeFailed',
      fields: [expect.objectContaining({ field: 'container' })],
    });
  });

  it.each([
    [{ container: CONTAINER, sasToken: 'x' }, 'storageAccount'],
    [{ storageAccount: 'Not-An-Account', container: CONTAINER, sasToken: 'x' }, 'storageAccount'],
    [{ storageAccount: AZURITE_ACCOUNT, sasToken: 'x' }, 'container'],
    [{ storageAccount: AZURITE_ACCOUNT, container: CONTAINER }, 'sasToken'],
    [
      { storageAccount: AZURITE_ACCOUNT, container: CONTAINER, sasToken: 'sv=2024-11-04&sig=abc' },
      'sasToken.sig',
    ],
    ['{not json', 'body'],
  ])('answers 400 naming the field for %j', async (body, field) => {
    const { status, json } = await call('POST', 'tokens', body);
    expect(status).toBe(400);
    expect(json.error).toMatchObject({
      code: field === 'body' ? 'InvalidJson' : 'InvalidRequest',
      fields: [expect.objectContaining({ field })],
    });
  });

  it('rotating an account nothing knows is a 400 naming storageAccount', async () => {
    const token = makeToken();
    tokensUsed.push(token);
    const { status, json } = await call('POST', 'tokens/unknownacct1/rotate', { sasToken: token });
    expect(status).toBe(400);
    expect(json.error).toMatchObject({ fields: [expect.objectContaining({ field: 'storageAccount' })] });
  });

  it('Key Vault down: 503, and no metadata row without a stored secret', async () => {
    vault.down = true;
    try {
      const token = makeToken({ days: 20 });
      const { status, json } = await register(token);
      expect(status).toBe(503);
      expect(json.error?.code).toBe('SecretStoreUnavailable');
      expect(await catalog.getToken(AZURITE_ACCOUNT, sasTokenFingerprint(token))).toBeUndefined();
    } finally {
      vault.down = false;
    }
    const tokens = (await call('GET', 'tokens')).json.tokens as TokenView[];
    expect(tokens.filter((t) => t.storageAccount === AZURITE_ACCOUNT)).toHaveLength(1);
  });

  it('lists metadata and days left, never values', async () => {
    const { status, json } = await call('GET', 'tokens');
    expect(status).toBe(200);
    expect(json.tokens).toEqual([first]);
  });

  describe('rotation', () => {
    const names = ['daily-a', 'daily-b', 'monthly-c'];
    const scopes = [SUB1, SUB1, SUB2];
    const put = async (scope: string, name: string) =>
      costExports.createOrUpdate(
        scope,
        name,
        buildExportBody({
          dataset: 'ActualCost',
          timeframe: 'MonthToDate',
          destination: { storageAccount: AZURITE_ACCOUNT, sasToken: firstToken, container: CONTAINER },
          schedule: { status: 'Active', recurrence: 'Daily', recurrencePeriod: { from: '2025-07-01' } },
        }),
      );

    beforeAll(async () => {
      for (let i = 0; i < names.length; i++) await put(scopes[i]!, names[i]!);
      // An export elsewhere that rotation must not touch.
      await costExports.createOrUpdate(
        SUB2,
        'other-account',
        buildExportBody({
          dataset: 'ActualCost',
          timeframe: 'MonthToDate',
          destination: { storageAccount: 'otheraccount1', sasToken: firstToken, container: CONTAINER },
          schedule: { status: 'Active', recurrence: 'Daily', recurrencePeriod: { from: '2025-07-01' } },
        }),
      );
      const report = await syncExports({ catalog, costExports, now: () => new Date() }, [SUB1, SUB2]);
      expect(report.totals).toMatchObject({ synced: 2, exports: 4 });
    });

    const tokenRefs = async () =>
      Object.fromEntries(
        await Promise.all(
          names.map(
            async (n, i) => [n, (await catalog.getExport(scopes[i]!, n))!.destination.tokenRef] as const,
          ),
        ),
      );

    it('pushes the new token to every export of the account; a deleted export is reported and recorded', async () => {
      await costExports.delete(SUB2, 'monthly-c'); // deleted in Cost Management after the last sync
      const token = makeToken({ days: 60 });
      tokensUsed.push(token);
      const { status, json } = await call('POST', `tokens/${AZURITE_ACCOUNT}/rotate`, { sasToken: token });
      expect(status).toBe(207);
      const outcome = json as RotationOutcome;
      expect(outcome.token).toMatchObject({ fingerprint: sasTokenFingerprint(token), status: 'active' });
      expect(outcome.updated).toBe(2);
      expect(outcome.failed).toBe(1);
      expect(outcome.results.map((r) => [r.exportName, r.status])).toEqual([
        ['daily-a', 'updated'],
        ['daily-b', 'updated'],
        ['monthly-c', 'failed'],
      ]);
      expect(outcome.results[2]!.error).toContain('404');
      // The record: which exports carry which token. monthly-c was never reached, so it is on the
      // token registered before, and the watch reports it as on a replaced token.
      expect(await tokenRefs()).toEqual({
        'daily-a': sasTokenFingerprint(token),
        'daily-b': sasTokenFingerprint(token),
        'monthly-c': first.tokenId,
      });
      const current = { tokenId: outcome.token.tokenId, fingerprint: outcome.token.fingerprint };
      const lagging = (await catalog.getExport(SUB2, 'monthly-c'))!;
      expect(carriesStaleToken({ sasDelivered: true, tokenRef: lagging.destination.tokenRef }, current)).toBe(
        true,
      );
      expect((await catalog.getExport(SUB2, 'other-account'))!.destination.tokenRef).toBeUndefined();
      expect((await catalog.getToken(AZURITE_ACCOUNT, first.tokenId))!.status).toBe('rotated');
      expect(vault.versions(sasSecretName(AZURITE_ACCOUNT)).map((v) => v.value)).toEqual([firstToken, token]);
      expect(
        logs.some((l) => l.startsWith('warn') && l.includes('monthly-c') && l.includes('old token')),
      ).toBe(true);
      await put(SUB2, 'monthly-c'); // back for the next tests
      await catalog.modifyExport(SUB2, 'monthly-c', (r) => ({ ...r, missing: false }));
    });

    it('rides out a 429 storm: waits what the service asks (through the injected sleep) and finishes', async () => {
      await emulator.admin.setThrottle({ otherPerScope: { limit: 2, windowSeconds: 4 } });
      let waits = 0;
      let lifted: Promise<unknown> | undefined;
      onSleep = async () => {
        // The storm passes after the third wait; every later wait ends only once it has.
        if (++waits >= 3) await (lifted ??= emulator.admin.setThrottle({ otherPerScope: null }));
      };
      sleeps.length = 0;
      try {
        const token = makeToken({ days: 61 });
        tokensUsed.push(token);
        const { status, json } = await call('POST', `tokens/${AZURITE_ACCOUNT}/rotate`, { sasToken: token });
        const outcome = json as RotationOutcome;
        expect(status).toBe(200);
        expect(outcome.results.every((r) => r.status === 'updated')).toBe(true);
        expect(outcome.results.some((r) => r.attempts > 1)).toBe(true);
        expect(sleeps.length).toBeGreaterThanOrEqual(1);
        expect(sleeps.every((ms) => ms >= 1000 && ms <= 10_000)).toBe(true);
        expect(new Set(Object.values(await tokenRefs()))).toEqual(new Set([sasTokenFingerprint(token)]));
      } finally {
        onSleep = () => Promise.resolve();
        await emulator.admin.setThrottle({ otherPerScope: null });
      }
    });

    it('a storm that does not pass ends in per-export failures with bounded attempts, never a loop', async () => {
      await emulator.admin.setThrottle({ otherPerScope: { limit: 1, windowSeconds: 5 } });
      sleeps.length = 0;
      try {
        const before = await tokenRefs();
        const token = makeToken({ days: 62 });
        tokensUsed.push(token);
        const { status, json } = await call('POST', `tokens/${AZURITE_ACCOUNT}/rotate`, { sasToken: token });
        const outcome = json as RotationOutcome;
        expect(status).toBe(207);
        const failed = outcome.results.filter((r) => r.status === 'failed');
        expect(failed.length).toBeGreaterThanOrEqual(1);
        for (const r of failed) {
          expect(r.attempts).toBe(4);
          expect(r.error).toMatch(/gave up after 4 attempts: .*429/);
        }
        expect(sleeps.length).toBeLessThanOrEqual(3 * 3);
        const after = await tokenRefs();
        for (const r of failed) expect(after[r.exportName]).toBe(before[r.exportName]);
      } finally {
        await emulator.admin.setThrottle({ otherPerScope: null });
      }
    });

    it('a 429 asking for longer than the cap is reported at once, without waiting', async () => {
      await emulator.admin.setThrottle({ otherPerScope: { limit: 1, windowSeconds: 600 } });
      sleeps.length = 0;
      try {
        const token = makeToken({ days: 63 });
        tokensUsed.push(token);
        const { status, json } = await call('POST', `tokens/${AZURITE_ACCOUNT}/rotate`, { sasToken: token });
        expect(status).toBe(207);
        const throttled = (json as RotationOutcome).results.filter((r) => r.status === 'failed');
        expect(throttled.length).toBeGreaterThanOrEqual(1);
        for (const r of throttled) {
          expect(r.attempts).toBe(1);
          expect(r.error).toMatch(/TooManyRequests \(HTTP 429\), retry after \d+ ms/);
        }
        expect(sleeps).toEqual([]);
      } finally {
        await emulator.admin.setThrottle({ otherPerScope: null });
      }
    });
  });

  describe('secrecy (runs last)', () => {
    it('never writes, answers or logs a token signature', async () => {
      const signatures = tokensUsed.map(signatureOf).filter((s) => s.length > 0);
      expect(signatures.length).toBeGreaterThan(5);
      const forms = signatures.flatMap((s) => [s, encodeURIComponent(s)]);
      const rows: string[] = [];
      for (const kind of TABLE_KINDS) {
        const table = TableClient.fromConnectionString(testStorageConnection(), `${tablePrefix}${kind}`, {
          allowInsecureConnection: true,
        });
        for await (const row of table.listEntities()) rows.push(JSON.stringify(row));
      }
      expect(rows.length).toBeGreaterThan(3);
      const haystacks = { tables: rows.join('\n'), responses: responses.join('\n'), logs: logs.join('\n') };
      for (const [where, text] of Object.entries(haystacks)) {
        for (const form of forms) {
          if (text.includes(form)) throw new Error(`a token signature appears in ${where}`);
        }
      }
    });
  });
});

describe('registration against the jest Azurite (plain http, SECRET_STORE=table)', () => {
  // Azurite over http enforces spr, so only a token allowing http can be probed there; the runtime
  // tolerates httpAllowed exactly when the blob endpoint template is loopback http.
  it('accepts an spr=https,http token when allowed, probing it for real, and stores it in the table store', async () => {
    const blobEndpoint = process.env.TEST_STORAGE_BLOB_ENDPOINT!; // http://127.0.0.1:PORT/devstoreaccount1
    const container = uniqueName('probe');
    await BlobServiceClient.fromConnectionString(testStorageConnection())
      .getContainerClient(container)
      .create();
    const connection = {
      kind: 'connectionString' as const,
      name: 'AzureWebJobsStorage',
      connectionString: testStorageConnection(),
    };
    const catalog = new Catalog({
      tableClient: tableClientFactory(connection),
      tablePrefix: uniqueName('http'),
    });
    await catalog.ensureTables();
    const secrets = new TableSecretStore(
      TableClient.fromConnectionString(testStorageConnection(), uniqueName('devsecrets'), {
        allowInsecureConnection: true,
      }),
    );
    const deps = {
      catalog,
      secrets,
      probe: createSasProbe({ blobEndpointTemplate: `${new URL(blobEndpoint).origin}/{account}` }),
      costExports: {
        get: () => Promise.reject(new Error('unused')),
        createOrUpdate: () => Promise.reject(new Error('unused')),
      },
      now: () => new Date(),
      sleep: () => Promise.resolve(),
    };
    const token = makeToken({ protocol: SASProtocol.HttpsAndHttp });
    const request = { storageAccount: AZURITE_ACCOUNT, container, sasToken: token };
    await expect(registerToken(deps, request)).rejects.toMatchObject({
      status: 422,
      fields: [expect.objectContaining({ field: 'sasToken' })],
    });
    const view = await registerToken({ ...deps, allowHttpTokens: true }, request);
    expect(view).toMatchObject({ fingerprint: sasTokenFingerprint(token), status: 'active' });
    expect(await secrets.get(view.secretName, view.secretVersion)).toBe(token);

    // An https-only token cannot be probed over http: Azurite refuses the protocol.
    const httpsOnly = await deps.probe({ storageAccount: AZURITE_ACCOUNT, container, sasToken: makeToken() });
    expect(httpsOnly).toMatchObject({
      ok: false,
      failedStep: 'create',
      steps: [{ status: 403, code: 'AuthorizationProtocolMismatch' }],
    });
  });
});

describe('parallel registrations for one account (real registrations over HTTP, jest Azurite)', () => {
  let host: LocalHost;
  let catalog: Catalog;
  let container: string;
  const tally = newTally();

  beforeAll(async () => {
    const blobEndpoint = process.env.TEST_STORAGE_BLOB_ENDPOINT!;
    container = uniqueName('race');
    await BlobServiceClient.fromConnectionString(testStorageConnection())
      .getContainerClient(container)
      .create();
    const connection = {
      kind: 'connectionString' as const,
      name: 'AzureWebJobsStorage',
      connectionString: testStorageConnection(),
    };
    catalog = new Catalog({ tableClient: tableClientFactory(connection), tablePrefix: uniqueName('race') });
    await catalog.ensureTables();
    useAppServices({
      tokens: {
        catalog,
        secrets: new TableSecretStore(
          TableClient.fromConnectionString(testStorageConnection(), uniqueName('devsecrets'), {
            allowInsecureConnection: true,
          }),
        ),
        probe: createSasProbe({ blobEndpointTemplate: `${new URL(blobEndpoint).origin}/{account}` }),
        costExports: {
          get: () => Promise.reject(new Error('unused')),
          createOrUpdate: () => Promise.reject(new Error('unused')),
        },
        allowHttpTokens: true,
        now: () => new Date(),
        sleep: () => Promise.resolve(),
      },
    });
    host = await startLocalHost({
      registrations: [REGISTER_TOKEN_FUNCTION, LIST_TOKENS_FUNCTION].map(findRegistration),
      startTimers: false,
      startBlobWatchers: false,
    });
  }, 60_000);

  afterAll(async () => {
    printTally('parallel token registrations', tally);
    useAppServices(undefined);
    await host?.stop();
  });

  it.each([4, 8])('%i parallel POST /api/tokens leave exactly one active token', async (parallel) => {
    // Distinct tokens (different expiries), sent at once, twice over for the same-token case.
    const tokens = Array.from({ length: parallel }, (_, i) =>
      makeToken({ days: 30 + i + parallel * 10, protocol: SASProtocol.HttpsAndHttp }),
    );
    const answers = await Promise.all(
      [...tokens, tokens[0]!].map((sasToken) =>
        send(`${host.baseUrl}/tokens`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ storageAccount: AZURITE_ACCOUNT, container, sasToken }),
        }),
      ),
    );
    for (const [i, answer] of answers.entries()) {
      expect(inspect(tally, `register ${i}`, answer)).toEqual([]);
      expect(answer.status).toBe(201);
    }
    const listed = JSON.parse((await send(`${host.baseUrl}/tokens`)).text) as { tokens: TokenView[] };
    const mine = listed.tokens.filter((t) => tokens.some((x) => sasTokenFingerprint(x) === t.tokenId));
    expect(mine).toHaveLength(parallel);
    const active = listed.tokens.filter((t) => t.status === 'active');
    expect(active).toHaveLength(1);
    // Every other token of the account is superseded, with the time it was.
    for (const t of listed.tokens.filter((x) => x.status !== 'active')) {
      expect(t).toMatchObject({ status: 'rotated', rotatedAt: expect.any(String) });
    }
  });
});

describe('TableSecretStore (SECRET_STORE=table, development only)', () => {
  it('keeps versions and returns the newest by default', async () => {
    const table = TableClient.fromConnectionString(testStorageConnection(), uniqueName('devsecrets'), {
      allowInsecureConnection: true,
    });
    let t = Date.UTC(2025, 0, 1);
    const store = new TableSecretStore(table, () => new Date((t += 1000)));
    const a = await store.set('sas-partner01', 'value-a', { expiresOn: new Date(t + DAY), contentType: 'x' });
    const b = await store.set('sas-partner01', 'value-b', { expiresOn: new Date(t + DAY), contentType: 'x' });
    expect(a.version < b.version).toBe(true);
    expect(await store.get('sas-partner01')).toBe('value-b');
    expect(await store.get('sas-partner01', a.version)).toBe('value-a');
    expect(await store.get('sas-unknown')).toBeUndefined();
    await expect(store.set('bad name', 'v', { expiresOn: new Date(), contentType: 'x' })).rejects.toThrow(
      /secret name/,
    );
  });
});
