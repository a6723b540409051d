// listBlobNames against the jest Azurite, with the SDK's own listBlobsFlat as the oracle: tricky
// names, paging, SAS and shared-key clients, the fallback when the SDK's pipeline is not reachable,
// errors that never show a signature; and parseBlobListPage on hand-written bodies.
import { Readable } from 'node:stream';
import { inspect } from 'node:util';
import {
  createHttpHeaders,
  isRestError,
  type PipelineRequest,
  type PipelineResponse,
} from '@azure/core-rest-pipeline';
import {
  AnonymousCredential,
  BlobServiceClient,
  ContainerClient,
  ContainerSASPermissions,
} from '@azure/storage-blob';
import {
  blobSize,
  listBlobNames,
  parseBlobListPage,
  type ListedBlobEntry,
} from '../../src/azure/blobListing';
import { testStorageConnection, uniqueName } from '../support/storage';

interface Context {
  version: string;
  sendRequest(request: PipelineRequest): Promise<PipelineResponse>;
}

const contextOf = (container: ContainerClient) =>
  (container as unknown as { storageClientContext: Context }).storageClientContext;

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

  test('uses the container client pipeline, with the body streamed past core-client parsing', async () => {
    const context = contextOf(container);
    const requests: PipelineRequest[] = [];
    const responses: PipelineResponse[] = [];
    const original = context.sendRequest.bind(context);
    jest.spyOn(context, 'sendRequest').mockImplementation(async (request) => {
      requests.push(request);
      const response = await original(request);
      responses.push(response);
      return response;
    });
    const sdk = jest.spyOn(container, 'listBlobsFlat');

    expect(await collect(listBlobNames(container, PREFIX))).toHaveLength(TRICKY.length);

    expect(sdk).not.toHaveBeenCalled();
    expect(requests).toHaveLength(1);
    const request = requests[0]!;
    expect(request.method).toBe('GET');
    expect(request.streamResponseStatusCodes?.has(200)).toBe(true);
    expect(request.allowInsecureConnection).toBe(true); // Azurite is http on loopback
    expect(request.headers.get('x-ms-version')).toBe(context.version);
    expect(request.headers.get('authorization')).toMatch(/^SharedKey devstoreaccount1:/);
    const url = new URL(request.url);
    expect(url.searchParams.get('restype')).toBe('container');
    expect(url.searchParams.get('comp')).toBe('list');
    expect(url.searchParams.get('prefix')).toBe(PREFIX);
    expect(url.search).not.toContain('+'); // spaces as %20: the shared-key signer does not decode `+`
    expect(responses[0]!.status).toBe(200);
    expect((responses[0] as { parsedBody?: unknown }).parsedBody).toBeUndefined();
    expect(responses[0]!.bodyAsText).toBeUndefined();
  });

  test('follows markers: 7 blobs at 2 per page come back once each, in order', async () => {
    const context = contextOf(container);
    const send = jest.spyOn(context, 'sendRequest');

    const listed = await collect(listBlobNames(container, 'paging/', { maxPageSize: 2 }));

    expect(listed).toEqual(
      Array.from({ length: 7 }, (_, i) => ({ name: `paging/part-${i}.csv`, size: 10 + i })),
    );
    expect(send).toHaveBeenCalledTimes(4);
    const urls = send.mock.calls.map(([request]) => new URL(request.url).searchParams);
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
    const sasContainer = new ContainerClient(sasUrl, new AnonymousCredential());
    const send = jest.spyOn(contextOf(sasContainer), 'sendRequest');

    expect(await collect(listBlobNames(sasContainer, PREFIX, { maxPageSize: 3 }))).toEqual(
      await oracle(container, PREFIX),
    );
    const query = new URL(send.mock.calls[0]![0].url).searchParams;
    const sas = new URL(sasUrl).searchParams;
    for (const key of ['sv', 'sp', 'se', 'sr', 'sig']) expect(query.get(key)).toBe(sas.get(key));
  });

  test('falls back to listBlobsFlat when the client has no storageClientContext', async () => {
    const listBlobsFlat = jest.fn((options?: Parameters<ContainerClient['listBlobsFlat']>[0]) =>
      container.listBlobsFlat(options),
    );
    const bare = {
      url: container.url,
      containerName: container.containerName,
      listBlobsFlat,
    } as unknown as ContainerClient;

    expect(await collect(listBlobNames(bare, PREFIX))).toEqual(await oracle(container, PREFIX));
    expect(await collect(listBlobNames(bare, 'paging/', { maxPageSize: 2 }))).toHaveLength(7);
    expect(await collect(listBlobNames(bare, 'nothing-here/'))).toEqual([]);
    expect(listBlobsFlat).toHaveBeenCalledWith({ prefix: PREFIX });
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
  test('every tricky name: its size by one HEAD through the pipeline, as the SDK reports it', async () => {
    const expected = await oracle(container, PREFIX);
    const send = jest.spyOn(contextOf(container), 'sendRequest');
    for (const blob of expected) {
      expect({ name: blob.name, stat: await blobSize(container, blob.name) }).toEqual({
        name: blob.name,
        stat: { size: blob.size },
      });
    }
    expect(send.mock.calls.map(([request]) => request.method)).toEqual(TRICKY.map(() => 'HEAD'));
  });

  test('a missing blob is undefined; a missing container too', async () => {
    expect(await blobSize(container, `${PREFIX}not there.csv`)).toBeUndefined();
    expect(await blobSize(service.getContainerClient(uniqueName('none')), 'a.csv')).toBeUndefined();
  });

  test('through a SAS container URL, and through the SDK when the pipeline is not reachable', async () => {
    const sasUrl = await container.generateSasUrl({
      permissions: ContainerSASPermissions.parse('r'),
      expiresOn: new Date(Date.now() + 3_600_000),
    });
    const sasContainer = new ContainerClient(sasUrl, new AnonymousCredential());
    const fish = `${PREFIX}fish & chips.csv`;
    const size = (await container.getBlobClient(fish).getProperties()).contentLength;
    expect(await blobSize(sasContainer, fish)).toEqual({ size });
    const bare = {
      url: container.url,
      containerName: container.containerName,
      getBlobClient: (name: string) => container.getBlobClient(name),
    } as unknown as ContainerClient;
    expect(await blobSize(bare, fish)).toEqual({ size });
    expect(await blobSize(bare, `${PREFIX}nope`)).toBeUndefined();
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

describe('listBlobNames with a stand-in pipeline', () => {
  const page = (names: string[], nextMarker = '') =>
    `<?xml version="1.0" encoding="utf-8"?><EnumerationResults ContainerName="c"><Blobs>${names
      .map((n) => `<Blob><Name>${n}</Name><Properties><Content-Length>1</Content-Length></Properties></Blob>`)
      .join('')}</Blobs><NextMarker>${nextMarker}</NextMarker></EnumerationResults>`;

  function standIn(url: string, bodies: Array<string | Error | number>) {
    const sendRequest = jest.fn(async (request: PipelineRequest): Promise<PipelineResponse> => {
      const next = bodies.shift();
      if (next === undefined) throw new Error('no more responses');
      if (typeof next === 'number') {
        return {
          request,
          status: next,
          headers: createHttpHeaders({ 'x-ms-error-code': 'AuthenticationFailed' }),
        };
      }
      const stream =
        next instanceof Error
          ? new Readable({ read() { this.destroy(next); } }) // prettier-ignore
          : Readable.from([Buffer.from(next.slice(0, 7)), Buffer.from(next.slice(7))]);
      return { request, status: 200, headers: createHttpHeaders(), readableStreamBody: stream };
    });
    const client = {
      url,
      containerName: 'c',
      storageClientContext: { version: '2099-01-01', sendRequest },
    } as unknown as ContainerClient;
    return { client, sendRequest };
  }

  test('merges the List Blobs parameters into a SAS query string', async () => {
    const { client, sendRequest } = standIn(
      'https://acct.blob.core.windows.net/c?sv=2022-11-02&sp=rl&sig=abc%2Bdef%3D&prefix=stale',
      [page(['a/x'], 'a/x'), page(['a/y'])],
    );
    expect(await collect(listBlobNames(client, 'a/ b+c', { maxPageSize: 5 }))).toEqual([
      { name: 'a/x', size: 1 },
      { name: 'a/y', size: 1 },
    ]);
    const [first, second] = sendRequest.mock.calls.map(([request]) => request);
    expect(first!.allowInsecureConnection).toBe(false);
    const q = new URL(first!.url).searchParams;
    expect(Object.fromEntries(q)).toEqual({
      sv: '2022-11-02',
      sp: 'rl',
      sig: 'abc+def=',
      prefix: 'a/ b+c',
      restype: 'container',
      comp: 'list',
      maxresults: '5',
    });
    expect(first!.url).toContain('prefix=a%2F%20b%2Bc');
    expect(new URL(second!.url).searchParams.get('marker')).toBe('a/x');
  });

  test('fetches a page again when its body is cut short or fails mid-stream', async () => {
    const full = page(['a/1', 'a/2']);
    const { client, sendRequest } = standIn('https://acct.blob.core.windows.net/c', [
      full.slice(0, full.length - 30),
      new Error('socket hang up'),
      full,
    ]);
    expect(await collect(listBlobNames(client, 'a/'))).toHaveLength(2);
    expect(sendRequest).toHaveBeenCalledTimes(3);
  });

  test('a non-200 answer is a RestError with the storage error code and no URL', async () => {
    const { client } = standIn('https://acct.blob.core.windows.net/c?sv=1&sig=SECRETSIG', [403]);
    const error = await collect(listBlobNames(client, 'p/')).catch((e: unknown) => e);
    expect(isRestError(error)).toBe(true);
    expect(error).toMatchObject({ statusCode: 403, code: 'AuthenticationFailed' });
    expect(String((error as Error).message)).not.toContain('SECRETSIG');
  });

  test('refuses plain http to another host without quoting the URL', async () => {
    const { client, sendRequest } = standIn('http://acct.example.com/c?sv=1&sig=SECRETSIG', [page([])]);
    const error = await collect(listBlobNames(client, 'p/')).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/plain http/);
    expect((error as Error).message).not.toContain('SECRETSIG');
    expect(sendRequest).not.toHaveBeenCalled();
  });
});

describe('parseBlobListPage', () => {
  const doc = (inner: string) =>
    `<?xml version="1.0" encoding="utf-8"?>\n<EnumerationResults ServiceEndpoint="https://a.blob.core.windows.net/" ContainerName="c">${inner}</EnumerationResults>\n`;
  const blob = (name: string, props = '<Content-Length>12</Content-Length>') =>
    `<Blob>${name}<Properties><Last-Modified>Mon, 01 Jan 2024 00:00:00 GMT</Last-Modified>${props}<BlobType>BlockBlob</BlobType></Properties></Blob>`;

  test('decodes entities and character references in names', () => {
    const xml = doc(
      `<Prefix>r/</Prefix><Blobs>${blob('<Name>r/fish &amp; chips &lt;1&gt; &quot;q&quot; it&apos;s.csv</Name>')}${blob(
        '<Name>r/&#233;t&#xE9; &#x1F600;&#10;.csv</Name>',
      )}</Blobs><NextMarker />`,
    );
    expect(parseBlobListPage(xml)).toEqual({
      blobs: [
        { name: `r/fish & chips <1> "q" it's.csv`, size: 12 },
        { name: 'r/été 😀\n.csv', size: 12 },
      ],
    });
  });

  test('URL-decodes Encoded="true" names, after their entities', () => {
    const xml = doc(
      `<Blobs>${blob('<Name Encoded="true">r/a%01b%EF%BF%BE%26.csv</Name>')}${blob(
        '<Name Encoded="false">r/100%25.csv</Name>',
      )}</Blobs>`,
    );
    expect(parseBlobListPage(xml).blobs.map((b) => b.name)).toEqual([
      'r/a\u0001b\uFFFE&.csv',
      'r/100%25.csv',
    ]);
  });

  test('ignores BlobPrefix elements and metadata that happens to hold a Name', () => {
    const withMetadata =
      '<Blob><Name>r/file.csv</Name><Properties><Content-Length>5</Content-Length></Properties>' +
      '<Metadata><Name>meta</Name><Content-Length>99</Content-Length></Metadata></Blob>';
    const xml = doc(
      `<Delimiter>/</Delimiter><Blobs><BlobPrefix><Name>r/sub/</Name></BlobPrefix>${withMetadata}` +
        '<BlobPrefix><Name>r/zz/</Name></BlobPrefix></Blobs><NextMarker/>',
    );
    expect(parseBlobListPage(xml)).toEqual({ blobs: [{ name: 'r/file.csv', size: 5 }] });
  });

  test('reads NextMarker with entities; empty or absent means the last page', () => {
    const withMarker = doc(
      `<Blobs>${blob('<Name>a</Name>')}</Blobs><NextMarker>2!72!MDAwMDI2IXIvYSAmYiE-&amp;&lt;</NextMarker>`,
    );
    expect(parseBlobListPage(withMarker).nextMarker).toBe('2!72!MDAwMDI2IXIvYSAmYiE-&<');
    expect(parseBlobListPage(doc('<Blobs /><NextMarker></NextMarker>'))).toEqual({ blobs: [] });
    expect(parseBlobListPage(doc('<Blobs></Blobs>'))).toEqual({ blobs: [] });
    expect(parseBlobListPage(doc('<Blobs/><NextMarker />'))).toEqual({ blobs: [] });
  });

  test('a blob without Content-Length has no size; a 0 one has size 0', () => {
    const xml = doc(
      `<Blobs>${blob('<Name>a</Name>', '')}${blob('<Name>b</Name>', '<Content-Length>0</Content-Length>')}</Blobs>`,
    );
    const { blobs } = parseBlobListPage(xml);
    expect(blobs).toEqual([{ name: 'a' }, { name: 'b', size: 0 }]);
    expect('size' in blobs[0]!).toBe(false);
  });

  test('keeps whitespace in names as it is', () => {
    expect(
      parseBlobListPage(doc(`<Blobs>${blob('<Name>  two  spaces  </Name>')}</Blobs>`)).blobs[0]!.name,
    ).toBe('  two  spaces  ');
  });

  test.each([
    ['an empty body', ''],
    ['HTML', '<html><body>Proxy error</body></html>'],
    ['JSON', '{"value":[]}'],
    ['a storage Error document', '<?xml version="1.0"?><Error><Code>ContainerNotFound</Code></Error>'],
    ['a truncated listing', doc(`<Blobs>${blob('<Name>a</Name>')}</Blobs>`).slice(0, -40)],
  ])('rejects %s as not an EnumerationResults document', (_what, body) => {
    expect(() => parseBlobListPage(body)).toThrow(/not an EnumerationResults document/);
  });

  test.each([
    ['no Blobs element', doc('<NextMarker/>')],
    ['an unclosed Blob', doc('<Blobs><Blob><Name>a</Name></Blobs>')],
    ['a Blob whose first child is not Name', doc(`<Blobs><Blob><Properties/><Name>a</Name></Blob></Blobs>`)],
    ['a bare &', doc(`<Blobs>${blob('<Name>a & b</Name>')}</Blobs>`)],
    ['an unknown entity', doc(`<Blobs>${blob('<Name>&nbsp;</Name>')}</Blobs>`)],
    ['a NUL character reference', doc(`<Blobs>${blob('<Name>a&#0;</Name>')}</Blobs>`)],
    ['CDATA in a name', doc(`<Blobs>${blob('<Name><![CDATA[a]]></Name>')}</Blobs>`)],
    ['bad percent-encoding', doc(`<Blobs>${blob('<Name Encoded="true">a%E0%A4</Name>')}</Blobs>`)],
    [
      'a non-numeric Content-Length',
      doc(`<Blobs>${blob('<Name>a</Name>', '<Content-Length>12x</Content-Length>')}</Blobs>`),
    ],
  ])('rejects %s', (_what, body) => {
    expect(() => parseBlobListPage(body)).toThrow(/malformed List Blobs response/);
  });
});
