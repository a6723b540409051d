// listBlobNames and blobSize against the jest Azurite, with the SDK's own listBlobsFlat as the oracle:
// tricky names, paging, SAS and shared-key clients, errors that never show a signature, and no key
// sent over plain http to another host.
import { inspect } from 'node:util';

import { isRestError } from '@azure/core-rest-pipeline';
import {
  AnonymousCredential,
  BlobServiceClient,
  ContainerClient,
  ContainerSASPermissions,
  newPipeline,
  type WebResource,
} from '@azure/storage-blob';

import { blobSize, listBlobNames, type ListedBlobEntry } from '../../src/azure/blobListing';
import { testStorageConnection, uniqueName } from '../support/storage';

/** A client like `container` (same URL, same credential) whose operations are recorded by a request
 * policy of its own, through the SDK's public Pipeline. */
function recorded(container: ContainerClient): { client: ContainerClient; requests: WebResource[] } {
  const requests: WebResource[] = [];
  const pipeline = newPipeline(container.credential);
  pipeline.factories.push({
    create: (next) => ({
      sendRequest: (request) => {
        requests.push(request);
        return next.sendRequest(request);
      },
    }),
  });
  return { client: new ContainerClient(container.url, pipeline), requests };
}

async function collect(iterable: AsyncIterable<ListedBlobEntry>): Promise<ListedBlobEntry[]> {
  const out: ListedBlobEntry[] = [];
  for await (const entry of iterable) out.push(entry);
  return out;
}

/** What the SDK reports, in the same shape. */
async function oracle(container: ContainerClient, prefix: string): Promise<ListedBlobEntry[]> {
  const out: ListedBlobEntry[] = [];
  for await (const blob of container.listBlobsFlat({ prefix })) {
    out.push({ name: blob.name, size: blob.properties.contentLength! });
  }
  return out;
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

// Every character XML escapes, quotes, unicode (combining and astral), spaces at the ends, `%` and
// `+` (which must not be URL-decoded), nested folders. The prefix itself has a space, `&` and `<`.
const PREFIX = 'exports/tricky & <co> run 1/';
const TRICKY = [
  'a b.csv',
  'fish & chips.csv',
  '<tag>.csv',
  "it's.csv",
  'say "hi".csv',
  'données/é.csv',
  'emoji 😀/part.csv',
  'nested/deep/er/file.parquet',
  '%41 literal percent.csv',
  'plus+sign.csv',
  ' padded .csv ',
  '&amp; already escaped.csv',
  'empty.csv',
];
const OUTSIDE = [
  'exports/tricky & <co> run 1.csv',
  'exports/tricky & <co> run 10/x.csv',
  'elsewhere/a b.csv',
];

let service: BlobServiceClient;
let container: ContainerClient;

beforeAll(async () => {
  service = BlobServiceClient.fromConnectionString(testStorageConnection());
  container = service.getContainerClient(uniqueName('listing'));
  await container.create();
  const names = [...TRICKY.map((n) => PREFIX + n), ...OUTSIDE];
  await Promise.all(
    names.map((name, i) => {
      const body = name.endsWith('empty.csv') ? '' : 'x'.repeat(i + 1);
      return container.getBlockBlobClient(name).upload(body, Buffer.byteLength(body));
    }),
  );
  await Promise.all(
    Array.from({ length: 7 }, (_, i) =>
      container.getBlockBlobClient(`paging/part-${i}.csv`).upload('p'.repeat(10 + i), 10 + i),
    ),
  );
});

afterAll(async () => {
  await container?.deleteIfExists();
});

afterEach(() => {
  jest.restoreAllMocks();
});

describe('listBlobNames against Azurite', () => {
  test('lists exactly what listBlobsFlat lists under a prefix with tricky names, sizes included', async () => {
    const expected = await oracle(container, PREFIX);
    const listed = await collect(listBlobNames(container, PREFIX));

    expect(listed).toEqual(expected);
    expect(listed.map((b) => b.name).sort(byName)).toEqual(TRICKY.map((n) => PREFIX + n).sort(byName));
    expect(listed.find((b) => b.name.endsWith('empty.csv'))).toEqual({ name: `${PREFIX}empty.csv`, size: 0 });
    for (const outside of OUTSIDE) expect(listed.map((b) => b.name)).not.toContain(outside);
  });

  test('lists the whole container when the prefix is empty', async () => {
    expect(await collect(listBlobNames(container, ''))).toEqual(await oracle(container, ''));
  });

  test("lists by the SDK's public listBlobsFlat, one List Blobs call per page, with the prefix", async () => {
    const { client, requests } = recorded(container);
    const sdk = jest.spyOn(client, 'listBlobsFlat');

    expect(await collect(listBlobNames(client, PREFIX))).toHaveLength(TRICKY.length);

    expect(sdk).toHaveBeenCalledWith(expect.objectContaining({ prefix: PREFIX }));
    expect(requests).toHaveLength(1);
    const request = requests[0]!;
    expect(request.method).toBe('GET');
    const url = new URL(request.url);
    expect(url.searchParams.get('restype')).toBe('container');
    expect(url.searchParams.get('comp')).toBe('list');
    expect(url.searchParams.get('prefix')).toBe(PREFIX);
  });

  test('follows markers: 7 blobs at 2 per page come back once each, in order', async () => {
    const { client, requests } = recorded(container);

    const listed = await collect(listBlobNames(client, 'paging/', { maxPageSize: 2 }));

    expect(listed).toEqual(
      Array.from({ length: 7 }, (_, i) => ({ name: `paging/part-${i}.csv`, size: 10 + i })),
    );
    expect(requests).toHaveLength(4);
    const urls = requests.map((request) => new URL(request.url).searchParams);
    expect(urls.map((q) => q.get('maxresults'))).toEqual(['2', '2', '2', '2']);
    expect(urls[0]!.get('marker')).toBeNull();
    expect(urls.slice(1).every((q) => q.get('marker'))).toBe(true);
  });

  test('yields nothing for a prefix with no blobs', async () => {
    expect(await collect(listBlobNames(container, 'nothing-here/'))).toEqual([]);
    expect(await collect(listBlobNames(container, 'nothing-here/', { maxPageSize: 1 }))).toEqual([]);
  });

  test('works through a SAS container URL, keeping the SAS parameters', async () => {
    const sasUrl = await container.generateSasUrl({
      permissions: ContainerSASPermissions.parse('rl'),
      expiresOn: new Date(Date.now() + 3_600_000),
    });
    const { client: sasContainer, requests } = recorded(
      new ContainerClient(sasUrl, new AnonymousCredential()),
    );

    expect(await collect(listBlobNames(sasContainer, PREFIX, { maxPageSize: 3 }))).toEqual(
      await oracle(container, PREFIX),
    );
    const query = new URL(requests[0]!.url).searchParams;
    const sas = new URL(sasUrl).searchParams;
    for (const key of ['sv', 'sp', 'se', 'sr', 'sig']) expect(query.get(key)).toBe(sas.get(key));
  });

  test('refuses plain http to another host without quoting the URL, before any request', async () => {
    const client = new ContainerClient(
      'http://acct.example.com/c?sv=1&sig=SECRETSIG',
      new AnonymousCredential(),
    );
    const sdk = jest.spyOn(client, 'listBlobsFlat');
    const error = await collect(listBlobNames(client, 'p/')).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/plain http/);
    expect((error as Error).message).not.toContain('SECRETSIG');
    expect(sdk).not.toHaveBeenCalled();
    const head = await blobSize(client, 'p/a.csv').catch((e: unknown) => e);
    expect((head as Error).message).toMatch(/plain http/);
    expect((head as Error).message).not.toContain('SECRETSIG');
  });

  test('a missing container is a 404 RestError naming container and prefix, with no signature', async () => {
    const missing = service.getContainerClient(uniqueName('missing'));
    const sasUrl = await missing.generateSasUrl({
      permissions: ContainerSASPermissions.parse('rl'),
      expiresOn: new Date(Date.now() + 3_600_000),
    });
    expect(sasUrl).toContain('sig=');

    for (const client of [missing, new ContainerClient(sasUrl, new AnonymousCredential())]) {
      const error: unknown = await collect(listBlobNames(client, 'some prefix/')).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isRestError(error)).toBe(true);
      if (!isRestError(error)) continue;
      expect(error.statusCode).toBe(404);
      expect(error.code).toBe('ContainerNotFound');
      expect(error.message).toContain(`"${missing.containerName}"`);
      expect(error.message).toContain('"some prefix/"');
      expect(error.message).not.toMatch(/sig=/i);
      expect(inspect(error)).not.toMatch(/sig=/i);
      expect(JSON.stringify(error)).not.toMatch(/sig=/i);
    }
  });

  test('an aborted signal stops the listing', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(
      collect(listBlobNames(container, PREFIX, { abortSignal: controller.signal })),
    ).rejects.toMatchObject({ name: 'AbortError' });
  });
});

describe('blobSize against Azurite', () => {
  test('every tricky name: its size by one HEAD, as the SDK lists it', async () => {
    const expected = await oracle(container, PREFIX);
    const { client, requests } = recorded(container);
    for (const blob of expected) {
      expect({ name: blob.name, stat: await blobSize(client, blob.name) }).toEqual({
        name: blob.name,
        stat: { size: blob.size },
      });
    }
    expect(requests.map((request) => request.method)).toEqual(TRICKY.map(() => 'HEAD'));
  });

  test('a missing blob is undefined; a missing container too', async () => {
    expect(await blobSize(container, `${PREFIX}not there.csv`)).toBeUndefined();
    expect(await blobSize(service.getContainerClient(uniqueName('none')), 'a.csv')).toBeUndefined();
  });

  test('through a SAS container URL', async () => {
    const sasUrl = await container.generateSasUrl({
      permissions: ContainerSASPermissions.parse('r'),
      expiresOn: new Date(Date.now() + 3_600_000),
    });
    const sasContainer = new ContainerClient(sasUrl, new AnonymousCredential());
    const fish = `${PREFIX}fish & chips.csv`;
    const size = (await container.getBlobClient(fish).getProperties()).contentLength;
    expect(await blobSize(sasContainer, fish)).toEqual({ size });
    expect(await blobSize(sasContainer, `${PREFIX}nope`)).toBeUndefined();
  });

  test('a refused read is a RestError without the signature', async () => {
    const sasUrl = await container.generateSasUrl({
      permissions: ContainerSASPermissions.parse('l'), // list only: reading properties is refused
      expiresOn: new Date(Date.now() + 3_600_000),
    });
    const error: unknown = await blobSize(
      new ContainerClient(sasUrl, new AnonymousCredential()),
      `${PREFIX}a b.csv`,
    ).catch((e: unknown) => e);
    expect(isRestError(error) && error.statusCode).toBe(403);
    expect(`${String(error)} ${inspect(error)}`).not.toMatch(/sig=/);
  });
});
