// Blob names (and Content-Length) under a prefix, for the landing catalog's run-folder checks.
//
// ContainerClient.listBlobsFlat spends ~12.5 ms of client CPU per 100-blob page: core-client's
// deserialization policy parses every XML body with fast-xml-parser, then the mapper builds a full
// BlobItem per blob. We need two fields. So the List Blobs call goes through the container client's
// own pipeline (auth by shared key, SAS or bearer token; retries; user agent; request ids) with the
// 200 body streamed past that policy, and a small scanner reads names and sizes from the text.
//
// The pipeline is the SDK's non-public `storageClientContext`. If a later SDK drops it (or its
// `sendRequest` or `version`), listing falls back to listBlobsFlat: slower, same answers.
// Errors never carry the request URL: a SAS container URL holds its signature in the query.
import { setTimeout as sleep } from 'node:timers/promises';
import {
  createHttpHeaders,
  createPipelineRequest,
  RestError,
  type PipelineRequest,
  type PipelineResponse,
} from '@azure/core-rest-pipeline';
import type { ContainerClient } from '@azure/storage-blob';
import { redactSecrets } from '../domain/redact';
import { isLoopbackHttp, STORAGE_TRY_TIMEOUT_MS } from './storageClients';

export interface ListedBlobEntry {
  name: string;
  size?: number;
}

/** The exports container as the landing catalog reads it: names and sizes under a prefix, or one
 * blob's size. */
export function containerBlobLister(container: ContainerClient): {
  list(prefix: string): AsyncIterable<ListedBlobEntry>;
  stat(name: string): Promise<{ size?: number } | undefined>;
} {
  return {
    list: (prefix: string) => listBlobNames(container, prefix),
    stat: (name: string) => blobSize(container, name),
  };
}

export interface ListBlobNamesOptions {
  /** Blobs per List Blobs call (1–5000); the service's default (5000) when unset. */
  maxPageSize?: number;
  abortSignal?: AbortSignal;
}

/** The part of the SDK's generated StorageClient (a core-client ServiceClient) used here. */
interface StorageContext {
  /** The x-ms-version the SDK sends; the pipeline does not add it (operation specs do). */
  version: string;
  sendRequest(request: PipelineRequest): Promise<PipelineResponse>;
}

function storageContextOf(container: ContainerClient): StorageContext | undefined {
  const context = (container as unknown as { storageClientContext?: Partial<StorageContext> })
    .storageClientContext;
  if (typeof context?.sendRequest !== 'function' || typeof context.version !== 'string') return undefined;
  return context as StorageContext;
}

/**
 * Names (and Content-Length) of the blobs under `prefix`, page by page, through the container
 * client's own pipeline.
 */
export async function* listBlobNames(
  container: ContainerClient,
  prefix: string,
  options: ListBlobNamesOptions = {},
): AsyncIterable<ListedBlobEntry> {
  const { maxPageSize } = options;
  if (
    maxPageSize !== undefined &&
    !(Number.isInteger(maxPageSize) && maxPageSize >= 1 && maxPageSize <= 5000)
  ) {
    throw new RangeError(`maxPageSize: expected an integer from 1 to 5000, got ${maxPageSize}`);
  }
  const context = storageContextOf(container);
  try {
    if (context) yield* listThroughPipeline(context, container, prefix, options);
    else yield* listThroughSdk(container, prefix, options);
  } catch (error) {
    // Pipeline errors can quote the URL (core-rest-pipeline's "Cannot connect to {url}" does).
    throw scrubbed(error);
  }
}

async function* listThroughSdk(
  container: ContainerClient,
  prefix: string,
  { maxPageSize, abortSignal }: ListBlobNamesOptions,
): AsyncGenerator<ListedBlobEntry> {
  const pages = container
    .listBlobsFlat({ ...(prefix ? { prefix } : {}), ...(abortSignal ? { abortSignal } : {}) })
    .byPage(maxPageSize ? { maxPageSize } : {});
  for await (const page of pages) {
    for (const item of page.segment.blobItems) yield entry(item.name, item.properties.contentLength);
  }
}

async function* listThroughPipeline(
  context: StorageContext,
  container: ContainerClient,
  prefix: string,
  { maxPageSize, abortSignal }: ListBlobNamesOptions,
): AsyncGenerator<ListedBlobEntry> {
  const where = `List Blobs in container "${container.containerName}" under prefix "${prefix}"`;
  const { base, insecure } = containerUrl(container, where);
  let marker: string | undefined;
  do {
    const url = listUrl(base, prefix, marker, maxPageSize);
    const page = await fetchPage(context, url, insecure, where, abortSignal);
    for (const blob of page.blobs) yield blob;
    // A service that repeated a marker would otherwise keep us listing forever.
    if (page.nextMarker !== undefined && page.nextMarker === marker) {
      throw new Error(redactSecrets(`${where}: the service returned the same continuation marker twice`));
    }
    marker = page.nextMarker;
  } while (marker !== undefined);
}

/**
 * One blob's Content-Length by a HEAD (Get Blob Properties) through the same pipeline; undefined when
 * the blob does not exist. For a run of one blob this checks it with one read-class request instead
 * of a listing (List Blobs is billed in the costlier list class, and answers with XML).
 */
export async function blobSize(
  container: ContainerClient,
  name: string,
  options: { abortSignal?: AbortSignal } = {},
): Promise<{ size?: number } | undefined> {
  const context = storageContextOf(container);
  try {
    return context
      ? await headThroughPipeline(context, container, name, options)
      : await headThroughSdk(container, name);
  } catch (error) {
    throw scrubbed(error);
  }
}

async function headThroughSdk(
  container: ContainerClient,
  name: string,
): Promise<{ size?: number } | undefined> {
  try {
    const properties = await container.getBlobClient(name).getProperties();
    return properties.contentLength === undefined ? {} : { size: properties.contentLength };
  } catch (error) {
    if (error instanceof RestError && error.statusCode === 404) return undefined;
    throw error;
  }
}

async function headThroughPipeline(
  context: StorageContext,
  container: ContainerClient,
  name: string,
  { abortSignal }: { abortSignal?: AbortSignal },
): Promise<{ size?: number } | undefined> {
  const where = `Get Blob Properties of "${name}" in container "${container.containerName}"`;
  const { base, insecure } = containerUrl(container, where);
  // The blob's path as the SDK escapes it: each segment percent-encoded, `/` kept.
  const path = name.split('/').map(encodeURIComponent).join('/');
  const url = `${base.origin}${base.pathname.replace(/\/+$/, '')}/${path}${base.search}`;
  const response = await context.sendRequest(
    createPipelineRequest({
      url,
      method: 'HEAD',
      headers: createHttpHeaders({ 'x-ms-version': context.version }),
      allowInsecureConnection: insecure,
      timeout: STORAGE_TRY_TIMEOUT_MS,
      ...(abortSignal ? { abortSignal } : {}),
    }),
  );
  if (response.status === 404) return undefined;
  if (response.status !== 200) throw statusError(response, where);
  const length = Number(response.headers.get('content-length'));
  return Number.isSafeInteger(length) && length >= 0 ? { size: length } : {};
}

/** The container URL, and whether it is plain http. The SDK would send a key or token over plain http
 * anywhere; we allow it to Azurite on loopback only. */
function containerUrl(container: ContainerClient, where: string): { base: URL; insecure: boolean } {
  const base = new URL(container.url);
  const insecure = base.protocol === 'http:';
  if (insecure && !isLoopbackHttp(container.url)) {
    throw new Error(redactSecrets(`${where}: refusing plain http to a host other than this machine`));
  }
  return { base, insecure };
}

/** The container URL (which may carry a SAS) with the List Blobs parameters set. */
function listUrl(
  base: URL,
  prefix: string,
  marker: string | undefined,
  maxPageSize: number | undefined,
): string {
  const url = new URL(base.href);
  const query = url.searchParams;
  query.set('restype', 'container');
  query.set('comp', 'list');
  if (prefix) query.set('prefix', prefix);
  else query.delete('prefix');
  if (marker) query.set('marker', marker);
  else query.delete('marker');
  if (maxPageSize !== undefined) query.set('maxresults', String(maxPageSize));
  else query.delete('maxresults');
  // URLSearchParams writes a space as `+` (and a literal `+` as %2B), but the shared-key signer
  // canonicalises values with decodeURIComponent, which keeps `+`: a prefix with a space would get a
  // signature the service rejects. Every `+` here is a space, so %20 is exact.
  return `${url.origin}${url.pathname}?${query.toString().replace(/\+/g, '%20')}`;
}

// A 200 body cut short is not retried by the pipeline once it is streamed (the SDK retries its
// "Unclosed root tag" parse errors), so a page is fetched again here, a few times.
const PAGE_ATTEMPTS = 3;
const PAGE_RETRY_DELAY_MS = 500;
const ROOT_CLOSE = '</EnumerationResults>';

async function fetchPage(
  context: StorageContext,
  url: string,
  insecure: boolean,
  where: string,
  abortSignal: AbortSignal | undefined,
): Promise<{ blobs: ListedBlobEntry[]; nextMarker?: string }> {
  for (let attempt = 1; ; attempt++) {
    const request = createPipelineRequest({
      url,
      method: 'GET',
      headers: createHttpHeaders({ 'x-ms-version': context.version, Accept: 'application/xml' }),
      allowInsecureConnection: insecure,
      // Streamed status codes are not parsed by core-client's deserialization policy.
      streamResponseStatusCodes: new Set([200]),
      // Per try: the storage retry policy only tells the service a timeout, never stops waiting.
      timeout: STORAGE_TRY_TIMEOUT_MS,
      ...(abortSignal ? { abortSignal } : {}),
    });
    const response = await context.sendRequest(request);
    if (response.status !== 200) throw statusError(response, where);
    let body: string;
    try {
      body = await readBody(response);
    } catch (error) {
      if (abortSignal?.aborted || attempt >= PAGE_ATTEMPTS) throw error;
      await sleep(PAGE_RETRY_DELAY_MS * attempt, undefined, abortSignal ? { signal: abortSignal } : {});
      continue;
    }
    // Only a listing that starts right but does not end is taken as cut short; garbage fails at once.
    if (attempt < PAGE_ATTEMPTS && ROOT_OPEN.test(body) && !body.trimEnd().endsWith(ROOT_CLOSE)) {
      await sleep(PAGE_RETRY_DELAY_MS * attempt, undefined, abortSignal ? { signal: abortSignal } : {});
      continue;
    }
    try {
      return parseBlobListPage(body);
    } catch (error) {
      throw new Error(redactSecrets(`${where}: ${(error as Error).message}`));
    }
  }
}

async function readBody(response: PipelineResponse): Promise<string> {
  const stream = response.readableStreamBody;
  if (!stream) {
    // An HTTP client that ignores streamResponseStatusCodes still leaves the text.
    if (typeof response.bodyAsText === 'string') return response.bodyAsText;
    throw new Error('the response has no body');
  }
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  // Decoded once, whole: a multi-byte character may straddle two chunks.
  return Buffer.concat(chunks).toString('utf8');
}

/** The service's status and error code; never the URL (a SAS signature) nor the response object. */
function statusError(response: PipelineResponse, where: string): RestError {
  const code = response.headers.get('x-ms-error-code');
  const requestId = response.headers.get('x-ms-request-id');
  const message = `${where} failed: HTTP ${response.status}${code ? ` ${code}` : ''}${requestId ? ` (request id ${requestId})` : ''}`;
  return new RestError(redactSecrets(message), {
    statusCode: response.status,
    ...(code ? { code: redactSecrets(code) } : {}),
  });
}

function scrubbed(error: unknown): unknown {
  if (error instanceof Error) {
    const message = redactSecrets(error.message);
    if (message !== error.message) error.message = message;
  }
  return error;
}

function entry(name: string, size: number | undefined): ListedBlobEntry {
  return size === undefined ? { name } : { name, size };
}

// ------------------------------------------------------------------------------------ the scanner
//
// Not an XML parser: it relies on what well-formed XML guarantees (every `<` starts markup, so text
// never holds `<Blob>` or `</Name>`) and on the List Blobs schema (`Name` is a Blob's first child,
// `Content-Length` sits in its `Properties`, `NextMarker` follows `Blobs`). Anything else it does
// not understand is an error rather than a guess.

const ROOT_OPEN = /^\uFEFF?\s*(?:<\?xml[^>]*\?>\s*)?<EnumerationResults[\s>]/;
const EMPTY_BLOBS = /<Blobs\s*\/>/;
const NAME_WITH_ATTRIBUTES = /<Name(?:\s+Encoded\s*=\s*(["'])(true|false)\1)?\s*>/y;
const ENTITY = /&(?:#x([0-9A-Fa-f]{1,6})|#([0-9]{1,7})|(amp|lt|gt|quot|apos));|&/g;
const NAMED_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function malformed(what: string): Error {
  return new Error(`malformed List Blobs response: ${what}`);
}

/** One List Blobs response body: its blobs in order, and the marker of the next page (absent on the last). */
export function parseBlobListPage(xml: string): { blobs: ListedBlobEntry[]; nextMarker?: string } {
  const closeAt = xml.lastIndexOf(ROOT_CLOSE);
  if (!ROOT_OPEN.test(xml) || closeAt < 0 || xml.slice(closeAt + ROOT_CLOSE.length).trim() !== '') {
    throw new Error('List Blobs response is not an EnumerationResults document');
  }
  let blobsStart = xml.indexOf('<Blobs>');
  let blobsEnd: number;
  if (blobsStart >= 0) {
    blobsStart += '<Blobs>'.length;
    blobsEnd = xml.indexOf('</Blobs>', blobsStart);
    if (blobsEnd < 0) throw malformed('Blobs is not closed');
  } else {
    const empty = EMPTY_BLOBS.exec(xml);
    if (!empty) throw malformed('no Blobs element');
    blobsStart = blobsEnd = empty.index + empty[0].length;
  }

  const blobs: ListedBlobEntry[] = [];
  // `<Blob>` never matches `<BlobPrefix>` (hierarchical listings), which is skipped as intended.
  for (let at = xml.indexOf('<Blob>', blobsStart); at >= 0 && at < blobsEnd;) {
    const close = xml.indexOf('</Blob>', at);
    if (close < 0 || close > blobsEnd) throw malformed('a Blob is not closed');
    let p = at + '<Blob>'.length;
    while (isSpace(xml.charCodeAt(p))) p++;
    let encoded = false;
    let textStart: number;
    if (xml.startsWith('<Name>', p)) {
      textStart = p + '<Name>'.length;
    } else {
      NAME_WITH_ATTRIBUTES.lastIndex = p;
      const open = NAME_WITH_ATTRIBUTES.exec(xml);
      if (!open) throw malformed('a Blob does not start with its Name');
      encoded = open[2] === 'true';
      textStart = p + open[0].length;
    }
    const textEnd = xml.indexOf('</Name>', textStart);
    if (textEnd < 0 || textEnd > close || xml.indexOf('<', textStart) !== textEnd) {
      throw malformed('a blob Name is not plain text');
    }
    let name = decodeEntities(xml.slice(textStart, textEnd));
    if (encoded) name = decodeEncodedName(name);
    if (!name) throw malformed('a blob has an empty Name');
    blobs.push(entry(name, contentLength(xml, textEnd, close)));
    at = xml.indexOf('<Blob>', close + '</Blob>'.length);
  }

  const nextMarker = readNextMarker(xml, blobsEnd, closeAt);
  return nextMarker ? { blobs, nextMarker } : { blobs };
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** Content-Length inside the Properties of the blob element that ends at `close`. */
function contentLength(xml: string, from: number, close: number): number | undefined {
  const properties = xml.indexOf('<Properties>', from);
  if (properties < 0 || properties > close) return undefined;
  const propertiesEnd = xml.indexOf('</Properties>', properties);
  if (propertiesEnd < 0 || propertiesEnd > close) throw malformed('Properties is not closed');
  const open = xml.indexOf('<Content-Length>', properties);
  if (open < 0 || open > propertiesEnd) return undefined;
  let p = open + '<Content-Length>'.length;
  let value = 0;
  const digitsStart = p;
  for (let c = xml.charCodeAt(p); c >= 0x30 && c <= 0x39; c = xml.charCodeAt(++p))
    value = value * 10 + c - 0x30;
  if (p === digitsStart || p - digitsStart > 16 || !xml.startsWith('</Content-Length>', p)) {
    throw malformed('a Content-Length is not a number');
  }
  return value;
}

function readNextMarker(xml: string, from: number, closeAt: number): string | undefined {
  const open = xml.indexOf('<NextMarker', from);
  if (open < 0 || open > closeAt) return undefined;
  const after = open + '<NextMarker'.length;
  const gt = xml.indexOf('>', after);
  const tag = xml.slice(after, gt + 1);
  if (gt < 0 || !/^\s*\/?>$/.test(tag)) throw malformed('NextMarker has an unexpected form');
  if (tag.endsWith('/>')) return undefined;
  const textEnd = xml.indexOf('</NextMarker>', gt + 1);
  if (textEnd < 0 || xml.indexOf('<', gt + 1) !== textEnd) throw malformed('NextMarker is not plain text');
  return decodeEntities(xml.slice(gt + 1, textEnd)) || undefined;
}

/** The five predefined entities and character references; a stray `&` is an error. */
function decodeEntities(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(
    ENTITY,
    (match, hex: string | undefined, dec: string | undefined, named: string | undefined) => {
      if (named) return NAMED_ENTITIES[named]!;
      if (hex === undefined && dec === undefined) throw malformed(`a bare "&" in text`);
      const code = hex !== undefined ? parseInt(hex, 16) : parseInt(dec!, 10);
      // XML allows no NUL, lone surrogates or code points past U+10FFFF, even as references.
      if (code === 0 || (code >= 0xd800 && code <= 0xdfff) || code > 0x10ffff) {
        throw malformed(`the character reference ${match} is not allowed`);
      }
      return String.fromCodePoint(code);
    },
  );
}

/** `<Name Encoded="true">`: the service percent-encodes names holding characters XML cannot carry. */
function decodeEncodedName(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw malformed('an Encoded blob name is not valid percent-encoding');
  }
}
