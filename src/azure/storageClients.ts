// SDK clients for a storage connection as the Functions host defines it (config.ts StorageConnection):
// a connection string locally, managed identity in Azure. The same settings the bindings use, so the
// app never silently talks to an emulator in Azure or to Azure from a laptop.
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import { TableClient, TableServiceClient } from '@azure/data-tables';
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';

import type { StorageConnection } from '../config';
import { redactMessage } from '../domain/redact';

export interface StorageClientOptions {
  /** Replaces DefaultAzureCredential for identity connections (tests, tools). */
  credential?: TokenCredential;
}

/** A connection that cannot be used. The message names the setting and never holds its value. */
export class StorageConnectionError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StorageConnectionError';
  }
}

const DEVELOPMENT_TABLE_ENDPOINT = 'http://127.0.0.1:10002/devstoreaccount1';
const DEVELOPMENT_BLOB_ENDPOINT = 'http://127.0.0.1:10000/devstoreaccount1';

/** `Key=Value;...` with case-insensitive keys (returned lower-cased); values may contain `=`. */
export function parseConnectionString(text: string): Map<string, string> {
  const settings = new Map<string, string>();
  for (const part of text.split(';')) {
    const at = part.indexOf('=');
    if (at <= 0) continue;
    settings.set(part.slice(0, at).trim().toLowerCase(), part.slice(at + 1).trim());
  }
  return settings;
}

/** The service endpoint a connection string selects, the way the SDKs resolve it. */
export function serviceEndpoint(connectionString: string, service: 'table' | 'blob'): string | undefined {
  const s = parseConnectionString(connectionString);
  if (s.get('usedevelopmentstorage')?.toLowerCase() === 'true') {
    return service === 'table' ? DEVELOPMENT_TABLE_ENDPOINT : DEVELOPMENT_BLOB_ENDPOINT;
  }
  const explicit = s.get(`${service}endpoint`);
  if (explicit) return explicit;
  const account = s.get('accountname');
  if (!account) return undefined;
  const protocol = s.get('defaultendpointsprotocol') ?? 'https';
  return `${protocol}://${account}.${service}.${s.get('endpointsuffix') ?? 'core.windows.net'}`;
}

/**
 * The storage account a connection's blob endpoint names, when it names one in its host
 * (`https://{account}.blob.{suffix}`). A path-style endpoint (`http://127.0.0.1:10000/devstoreaccount1`,
 * Azurite) answers for any account name under its own, and a custom domain names none: undefined.
 */
export function blobAccountName(connection: StorageConnection): string | undefined {
  const endpoint =
    connection.kind === 'connectionString'
      ? serviceEndpoint(connection.connectionString, 'blob')
      : connection.blobServiceUri;
  let host: string;
  try {
    host = new URL(endpoint ?? '').hostname;
  } catch {
    return undefined;
  }
  return /^([a-z0-9]{3,24})\.blob\./i.exec(host)?.[1]?.toLowerCase();
}

/** Plain http to this machine: the only place the table client may skip TLS (Azurite). */
export function isLoopbackHttp(endpoint: string): boolean {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return false;
  }
  if (url.protocol !== 'http:') return false;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127(?:\.\d{1,3}){3}$/.test(host);
}

/** http is allowed to loopback only; elsewhere a key or token must not cross the network in clear. */
function insecureAllowed(
  connection: StorageConnection,
  endpoint: string | undefined,
  setting: string,
): boolean {
  if (endpoint === undefined || !endpoint.toLowerCase().startsWith('http:')) return false;
  if (isLoopbackHttp(endpoint)) return true;
  throw new StorageConnectionError(
    `${setting}: the ${connection.name} endpoint uses http on a host other than this machine; use https`,
  );
}

/** Each try of a storage call is abandoned after this long (a frozen account otherwise never answers). */
export const STORAGE_TRY_TIMEOUT_MS = 5_000;
/** Retries after the first try: with back-off, a call gives up within about 3 × 5 s + 3 s. */
export const STORAGE_MAX_RETRIES = 2;

/** Sets a timeout on every try that does not carry one (PipelineRequest.timeout: an AbortError past it). */
const tryTimeoutPolicy: PipelinePolicy = {
  name: 'costExportAutopilotTryTimeout',
  sendRequest: (request, next) => {
    if (!request.timeout) request.timeout = STORAGE_TRY_TIMEOUT_MS;
    return next(request);
  },
};

/** Pipeline options of every table client: bounded tries, each with a timeout. */
const TABLE_PIPELINE = {
  retryOptions: { maxRetries: STORAGE_MAX_RETRIES, retryDelayInMs: 300, maxRetryDelayInMs: 2_000 },
  additionalPolicies: [{ policy: tryTimeoutPolicy, position: 'perRetry' as const }],
};

/** Pipeline options of every blob client. `tryTimeoutInMs` only sends the service a `timeout=`
 * parameter (storage-common's StorageRetryPolicyV2): the client never abandons a try, so callers
 * set an abortSignal per operation (blobListing.ts, sasProbe.ts). */
const BLOB_PIPELINE = {
  retryOptions: {
    maxTries: STORAGE_MAX_RETRIES + 1,
    tryTimeoutInMs: STORAGE_TRY_TIMEOUT_MS,
    retryDelayInMs: 300,
    maxRetryDelayInMs: 2_000,
  },
};

const credentials = new Map<string, TokenCredential>();

/** One DefaultAzureCredential per identity (it caches tokens), user-assigned when clientId is set. */
export function credentialFor(
  connection: Extract<StorageConnection, { kind: 'identity' }>,
  options: StorageClientOptions = {},
): TokenCredential {
  if (options.credential) return options.credential;
  const id = connection.clientId ?? '';
  let credential = credentials.get(id);
  if (!credential) {
    credential = new DefaultAzureCredential(
      connection.clientId ? { managedIdentityClientId: connection.clientId } : {},
    );
    credentials.set(id, credential);
  }
  return credential;
}

function fromConnectionString<T>(connection: StorageConnection, build: () => T): T {
  try {
    return build();
  } catch (error) {
    // SDK messages about a malformed string are safe once redacted; the string itself is never shown.
    const reason = redactMessage(error);
    throw new StorageConnectionError(`${connection.name}: the connection string is not usable (${reason})`);
  }
}

function identityUri(
  connection: Extract<StorageConnection, { kind: 'identity' }>,
  service: 'table' | 'blob',
): string {
  const uri = service === 'table' ? connection.tableServiceUri : connection.blobServiceUri;
  if (!uri) {
    throw new StorageConnectionError(
      `${connection.name}__${service}ServiceUri: required (or ${connection.name}__accountName) for managed-identity access`,
    );
  }
  return uri;
}

export function createTableServiceClient(
  connection: StorageConnection,
  options: StorageClientOptions = {},
): TableServiceClient {
  if (connection.kind === 'connectionString') {
    const endpoint = serviceEndpoint(connection.connectionString, 'table');
    const allowInsecureConnection = insecureAllowed(connection, endpoint, connection.name);
    return fromConnectionString(connection, () =>
      TableServiceClient.fromConnectionString(connection.connectionString, {
        ...TABLE_PIPELINE,
        allowInsecureConnection,
      }),
    );
  }
  const uri = identityUri(connection, 'table');
  return new TableServiceClient(uri, credentialFor(connection, options), {
    ...TABLE_PIPELINE,
    allowInsecureConnection: insecureAllowed(connection, uri, `${connection.name}__tableServiceUri`),
  });
}

export function createTableClient(
  connection: StorageConnection,
  tableName: string,
  options: StorageClientOptions = {},
): TableClient {
  if (connection.kind === 'connectionString') {
    const endpoint = serviceEndpoint(connection.connectionString, 'table');
    const allowInsecureConnection = insecureAllowed(connection, endpoint, connection.name);
    return fromConnectionString(connection, () =>
      TableClient.fromConnectionString(connection.connectionString, tableName, {
        ...TABLE_PIPELINE,
        allowInsecureConnection,
      }),
    );
  }
  const uri = identityUri(connection, 'table');
  return new TableClient(uri, tableName, credentialFor(connection, options), {
    ...TABLE_PIPELINE,
    allowInsecureConnection: insecureAllowed(connection, uri, `${connection.name}__tableServiceUri`),
  });
}

/** The factory Catalog takes: validates the connection once, then builds a client per table. */
export function tableClientFactory(
  connection: StorageConnection,
  options: StorageClientOptions = {},
): (tableName: string) => TableClient {
  createTableServiceClient(connection, options);
  return (tableName) => createTableClient(connection, tableName, options);
}

export function createBlobServiceClient(
  connection: StorageConnection,
  options: StorageClientOptions = {},
): BlobServiceClient {
  if (connection.kind === 'connectionString') {
    return fromConnectionString(connection, () =>
      BlobServiceClient.fromConnectionString(connection.connectionString, BLOB_PIPELINE),
    );
  }
  return new BlobServiceClient(
    identityUri(connection, 'blob'),
    credentialFor(connection, options),
    BLOB_PIPELINE,
  );
}

export function createContainerClient(
  connection: StorageConnection,
  containerName: string,
  options: StorageClientOptions = {},
): ContainerClient {
  return createBlobServiceClient(connection, options).getContainerClient(containerName);
}
