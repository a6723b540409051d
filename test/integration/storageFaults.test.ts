// The app with its storage frozen (connections accepted, never answered) and down (connections
// refused), through a TCP proxy in front of the suite's Azurite: every answer comes back (the jest
// timeout is the only clock here), /api/status says `degraded`, the others a generic 503 in the one
// error shape, nothing leaks the SDK's error text, and token registration does not blame the token.
import {
  AccountSASPermissions,
  AccountSASResourceTypes,
  AccountSASServices,
  generateAccountSASQueryParameters,
  SASProtocol,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';

import { AZURITE_ACCOUNT, AZURITE_KEY } from '../../dev/azurite';
import { containerBlobLister } from '../../src/azure/blobListing';
import { createContainerClient } from '../../src/azure/storageClients';
import { type AppHost, startAppHost } from '../support/appHost';
import { type FaultProxy, type ProxyMode, startFaultProxy } from '../support/faultProxy';
import { inspect, newTally, printTally, send, type Tally } from '../support/hostileAnswers';
import { testStorageConnection } from '../support/storage';

jest.setTimeout(180_000);

let app: AppHost;
let tableProxy: FaultProxy;
let blobProxy: FaultProxy;
let proxiedStorage: string;
const tally: Tally = newTally();

function token(): string {
  return generateAccountSASQueryParameters(
    {
      startsOn: new Date(Date.now() - 3_600_000),
      expiresOn: new Date(Date.now() + 60 * 86_400_000),
      permissions: AccountSASPermissions.parse('rwdlac'),
      services: AccountSASServices.parse('b').toString(),
      resourceTypes: AccountSASResourceTypes.parse('sco').toString(),
      protocol: SASProtocol.HttpsAndHttp, // Azurite here speaks http (loopback only)
    },
    new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
  ).toString();
}

beforeAll(async () => {
  const azurite = testStorageConnection();
  const port = (name: string) => Number(new URL(new RegExp(`${name}=([^;]+)`).exec(azurite)![1]!).port);
  tableProxy = await startFaultProxy(port('TableEndpoint'));
  blobProxy = await startFaultProxy(port('BlobEndpoint'));
  const proxied = azurite
    .replace(/(TableEndpoint=http:\/\/127\.0\.0\.1:)\d+/, `$1${tableProxy.port}`)
    .replace(/(BlobEndpoint=http:\/\/127\.0\.0\.1:)\d+/, `$1${blobProxy.port}`);
  proxiedStorage = proxied;
  app = await startAppHost({ storage: proxied });
}, 120_000);

afterAll(async () => {
  printTally('storage frozen and down', tally);
  await app?.stop();
  await tableProxy?.stop();
  await blobProxy?.stop();
});

async function storage(mode: ProxyMode): Promise<void> {
  await tableProxy.setMode(mode);
  await blobProxy.setMode(mode);
}

const register = (sasToken: string) =>
  send(`${app.api}/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ storageAccount: AZURITE_ACCOUNT, container: app.container, sasToken }),
  });

test('healthy: registration and status work through the proxy', async () => {
  const registered = await register(token());
  expect(registered.status).toBe(201);
  const status = JSON.parse((await send(`${app.api}/status?format=json`)).text);
  expect(status.catalog).toMatchObject({ reachable: true });
});

describe.each<ProxyMode>(['freeze', 'down'])('storage %s', (mode) => {
  beforeAll(() => storage(mode));
  afterAll(() => storage('pass'));

  test('GET /api/status answers degraded, naming the catalog, with no SDK text', async () => {
    const answer = await send(`${app.api}/status?format=json`);
    expect(inspect(tally, `status (${mode})`, answer)).toEqual([]);
    expect(answer.status).toBe(200);
    const report = JSON.parse(answer.text);
    expect(report.status).toBe('degraded');
    expect(report.catalog.reachable).toBe(false);
    expect(report.catalog.error).toMatch(
      /^storage (did not answer|refused the connection|dropped the connection)/,
    );
    expect(report.problems).toEqual(
      expect.arrayContaining([expect.objectContaining({ kind: 'catalogUnreachable' })]),
    );
  });

  test('GET /api/tokens answers a generic 503 in the one error shape', async () => {
    const answer = await send(`${app.api}/tokens`);
    expect(inspect(tally, `list tokens (${mode})`, answer, true)).toEqual([]);
    expect(answer.status).toBe(503);
    expect(JSON.parse(answer.text).error).toMatchObject({ code: 'DependencyUnavailable', fields: [] });
  });

  // Frozen, the probe's first step is abandoned after its budget (10 s): before, it waited forever,
  // because storage-blob's tryTimeoutInMs only tells the service a timeout.
  test('POST /api/tokens says storage is unavailable and does not blame the token', async () => {
    const answer = await register(token());
    expect(inspect(tally, `register (${mode})`, answer, true)).toEqual([]);
    expect(answer.status).toBe(503);
    const error = JSON.parse(answer.text).error;
    expect(['StorageUnavailable', 'DependencyUnavailable', 'SecretStoreUnavailable']).toContain(error.code);
    expect(error.fields).toEqual([]);
  });
});

test("frozen: the landing catalog's blob listing gives up instead of waiting forever", async () => {
  await storage('freeze');
  try {
    const lister = containerBlobLister(
      createContainerClient(
        { kind: 'connectionString', name: 'exports', connectionString: proxiedStorage },
        app.container,
      ),
    );
    await expect(lister.stat('some/manifest.json')).rejects.toMatchObject({ name: 'AbortError' });
  } finally {
    await storage('pass');
  }
});

test('storage back: the same calls work again', async () => {
  const answer = await send(`${app.api}/tokens`);
  expect(inspect(tally, 'list tokens (back)', answer)).toEqual([]);
  expect(answer.status).toBe(200);
  expect(tally.serverErrors).toBe(0);
  expect(tally.leaks).toBe(0);
});
