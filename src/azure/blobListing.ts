// Blob names (and Content-Length) under a prefix, for the landing catalog's run-folder checks, through
// the storage SDK's public listing (ContainerClient.listBlobsFlat by page) and Get Blob Properties.
//
// The SDK maps every blob of a page to a full BlobItem, which a scanner of the raw XML would skip:
// measured by bench/blobListing.ts, about 18 ms more client CPU per 100-blob page and 1 ms per 1-blob
// run folder. A landing lists one run folder once, so no user notices that; a library's non-public
// pipeline can change without notice.
// Errors never carry the request URL: a SAS container URL holds its signature in the query.
//
// storage-blob's tryTimeoutInMs only sends the service a `timeout=` parameter: the client never
// abandons a try. So each page and each HEAD runs under an abort signal of its own, as long as the
// pipeline's tries would take (a frozen account otherwise holds the landing forever).
import { isRestError, RestError } from '@azure/core-rest-pipeline';
import type { ContainerClient } from '@azure/storage-blob';

import { redactSecrets } from '../domain/redact';
import { isLoopbackHttp, STORAGE_MAX_RETRIES, STORAGE_TRY_TIMEOUT_MS } from './storageClients';

/** One List Blobs page or Get Blob Properties, retries included. */
const CALL_BUDGET_MS = (STORAGE_MAX_RETRIES + 1) * STORAGE_TRY_TIMEOUT_MS;

/** The caller's signal (if any) and the call's own budget. */
function callSignal(abortSignal: AbortSignal | undefined): AbortSignal {
  const budget = AbortSignal.timeout(CALL_BUDGET_MS);
  return abortSignal ? AbortSignal.any([abortSignal, budget]) : budget;
}

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

/** Names (and Content-Length) of the blobs under `prefix`, page by page. */
export async function* listBlobNames(
  container: ContainerClient,
  prefix: string,
  options: ListBlobNamesOptions = {},
): AsyncIterable<ListedBlobEntry> {
  const { maxPageSize, abortSignal } = options;
  if (
    maxPageSize !== undefined &&
    !(Number.isInteger(maxPageSize) && maxPageSize >= 1 && maxPageSize <= 5000)
  ) {
    throw new RangeError(`maxPageSize: expected an integer from 1 to 5000, got ${maxPageSize}`);
  }
  const where = `List Blobs in container "${container.containerName}" under prefix "${prefix}"`;
  refusePlainHttpElsewhere(container, where);
  let marker: string | undefined;
  try {
    do {
      // One page per call, so each page gets its own budget.
      const pages = container
        .listBlobsFlat({ ...(prefix ? { prefix } : {}), abortSignal: callSignal(abortSignal) })
        .byPage({
          ...(marker ? { continuationToken: marker } : {}),
          ...(maxPageSize ? { maxPageSize } : {}),
        });
      const result = await pages.next();
      if (result.done === true) break;
      const page = result.value;
      for (const item of page.segment.blobItems) yield entry(item.name, item.properties.contentLength);
      // A service that repeated a marker would otherwise keep us listing forever.
      const next = page.continuationToken || undefined;
      if (next !== undefined && next === marker) {
        throw new Error(redactSecrets(`${where}: the service returned the same continuation marker twice`));
      }
      marker = next;
    } while (marker !== undefined);
  } catch (error) {
    throw scrubbed(error, where);
  }
}

/**
 * One blob's Content-Length by a HEAD (Get Blob Properties); undefined when the blob does not exist.
 * For a run of one blob this checks it with one read-class request instead of a listing (List Blobs
 * is billed in the costlier list class).
 */
export async function blobSize(
  container: ContainerClient,
  name: string,
  options: { abortSignal?: AbortSignal } = {},
): Promise<{ size?: number } | undefined> {
  const where = `Get Blob Properties of "${name}" in container "${container.containerName}"`;
  refusePlainHttpElsewhere(container, where);
  try {
    const properties = await container
      .getBlobClient(name)
      .getProperties({ abortSignal: callSignal(options.abortSignal) });
    return properties.contentLength === undefined ? {} : { size: properties.contentLength };
  } catch (error) {
    if (isRestError(error) && error.statusCode === 404) return undefined;
    throw scrubbed(error, where);
  }
}

/** The SDK would send a key or token over plain http anywhere; we allow it to Azurite on loopback only. */
function refusePlainHttpElsewhere(container: ContainerClient, where: string): void {
  if (new URL(container.url).protocol === 'http:' && !isLoopbackHttp(container.url)) {
    throw new Error(redactSecrets(`${where}: refusing plain http to a host other than this machine`));
  }
}

/**
 * A service answer becomes a RestError that names the call, its status and storage error code, and
 * holds neither the request (its URL may carry a SAS signature) nor the response. Other errors keep
 * their type, with any secret in the message redacted (core-rest-pipeline's "Cannot connect to
 * {url}" quotes the URL).
 */
function scrubbed(error: unknown, where: string): unknown {
  if (isRestError(error) && error.statusCode !== undefined) {
    const code = error.code ?? error.response?.headers.get('x-ms-error-code');
    const requestId = error.response?.headers.get('x-ms-request-id');
    const message = `${where} failed: HTTP ${error.statusCode}${code ? ` ${code}` : ''}${requestId ? ` (request id ${requestId})` : ''}`;
    return new RestError(redactSecrets(message), {
      statusCode: error.statusCode,
      ...(code ? { code: redactSecrets(code) } : {}),
    });
  }
  if (error instanceof Error) {
    const message = redactSecrets(error.message);
    if (message !== error.message) error.message = message;
  }
  return error;
}

function entry(name: string, size: number | undefined): ListedBlobEntry {
  return size === undefined ? { name } : { name, size };
}
