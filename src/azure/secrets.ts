// Where SAS token values live: Azure Key Vault in Azure, a Table Storage table for local development.
// Both sit behind SecretStore so the token service never knows which one it talks to. Only this module
// and the secret store itself ever hold a token value; errors carry codes and statuses, never values.
//
// Key Vault: one secret per storage account (`sas-{account}`), a new version per rotation, with
// `expiresOn` set to the token's expiry so Key Vault's own SecretNearExpiry / SecretExpired Event Grid
// events fire as a second, independent alarm.
import { randomBytes } from 'node:crypto';
import { rootCertificates } from 'node:tls';

import { isRestError } from '@azure/core-rest-pipeline';
import type { TableClient } from '@azure/data-tables';
import type { TokenCredential } from '@azure/identity';
import type * as KeyVaultSecrets from '@azure/keyvault-secrets';
import type { SecretClient, SecretClientOptions } from '@azure/keyvault-secrets';

import type { AppConfig, Env, SecretStoreKind, StorageConnection } from '../config';
import { redactSecrets } from '../domain/redact';
import { createCostManagementCredential, isLoopbackEndpoint } from './credentials';
import { lazyModule } from './lazyModule';
import { createTableClient } from './storageClients';

const keyVaultSdk = lazyModule<typeof KeyVaultSecrets>('@azure/keyvault-secrets');

export interface SecretWriteOptions {
  /** The secret stops being valid then (Key Vault `exp`). */
  expiresOn: Date;
  /** MIME-like label of what the value is, e.g. `application/vnd.azure.storage.sas`. */
  contentType: string;
  /** Non-secret labels (Key Vault allows 15; values ≤ 256 characters). */
  tags?: Record<string, string>;
}

export interface StoredSecretRef {
  name: string;
  version: string;
}

export interface SecretStore {
  readonly kind: SecretStoreKind;
  /** Writes a new version of `name`. Throws SecretStoreError; never echoes the value. */
  set(name: string, value: string, options: SecretWriteOptions): Promise<StoredSecretRef>;
  /** The value of a version (default: the newest); undefined when the secret does not exist. */
  get(name: string, version?: string): Promise<string | undefined>;
}

/** The store refused or could not be reached. `unavailable` errors (network, 5xx, 429, auth) mean
 * "try again later / fix the deployment", and HTTP callers answer 503. */
export class SecretStoreError extends Error {
  constructor(
    readonly store: SecretStoreKind,
    readonly operation: 'set' | 'get',
    readonly code: string,
    readonly status: number | undefined,
    readonly unavailable: boolean,
  ) {
    super(
      `secret store (${store}) ${operation} failed: ${code}${status === undefined ? '' : ` (HTTP ${status})`}`,
    );
    this.name = 'SecretStoreError';
  }
}

export const SAS_CONTENT_TYPE = 'application/vnd.azure.storage.sas';
const SECRET_NAME = /^[0-9a-zA-Z-]{1,127}$/;

/** A Key Vault secret name (`^[0-9a-zA-Z-]{1,127}$`) from any text: other characters become `-`. */
export function sanitizeSecretName(text: string): string {
  const name = text.replace(/[^0-9a-zA-Z-]/g, '-').slice(0, 127);
  if (!SECRET_NAME.test(name)) throw new TypeError('secret name: expected at least one character');
  return name;
}

/** The secret that holds the SAS token of a storage account. */
export function sasSecretName(storageAccount: string): string {
  return sanitizeSecretName(`sas-${storageAccount}`);
}

function checkName(name: string): string {
  if (typeof name !== 'string' || !SECRET_NAME.test(name)) {
    throw new TypeError(
      `secret name: expected 1-127 letters, digits and hyphens, got ${JSON.stringify(name)}`,
    );
  }
  return name;
}

/** Maps an SDK failure to SecretStoreError: status and code only (SDK messages may quote requests). */
function storeError(store: SecretStoreKind, operation: 'set' | 'get', error: unknown): SecretStoreError {
  if (error instanceof SecretStoreError) return error;
  if (isRestError(error)) {
    const status = error.statusCode;
    const code = redactSecrets(error.code ?? (status ? `HTTP${status}` : 'RequestFailed')).slice(0, 64);
    const unavailable =
      status === undefined || status >= 500 || status === 429 || status === 401 || status === 403;
    return new SecretStoreError(store, operation, code, status, unavailable);
  }
  const name = error instanceof Error ? error.name : 'Error';
  // Credential failures (no managed identity, no login) are deployment problems: unavailable.
  return new SecretStoreError(store, operation, redactSecrets(name).slice(0, 64), undefined, true);
}

export interface KeyVaultSecretStoreOptions {
  vaultUrl: string;
  credential: TokenCredential;
  /** An extra CA to trust (a loopback test fake). */
  caPem?: string;
  /** For a loopback fake whose host is not `*.vault.azure.net`. */
  disableChallengeResourceVerification?: boolean;
  /** SDK retries of transient failures (default 2, starting at 500 ms), so "Key Vault down" fails fast. */
  maxRetries?: number;
  retryDelayMs?: number;
}

export class KeyVaultSecretStore implements SecretStore {
  readonly kind = 'keyvault' as const;
  private readonly client: SecretClient;

  constructor(options: KeyVaultSecretStoreOptions) {
    const clientOptions: SecretClientOptions = {
      retryOptions: { maxRetries: options.maxRetries ?? 2, retryDelayInMs: options.retryDelayMs ?? 500 },
      ...(options.disableChallengeResourceVerification ? { disableChallengeResourceVerification: true } : {}),
      ...(options.caPem ? { tlsOptions: { ca: [...rootCertificates, options.caPem] } } : {}),
    };
    this.client = new (keyVaultSdk().SecretClient)(options.vaultUrl, options.credential, clientOptions);
  }

  async set(name: string, value: string, options: SecretWriteOptions): Promise<StoredSecretRef> {
    checkName(name);
    try {
      const secret = await this.client.setSecret(name, value, {
        expiresOn: options.expiresOn,
        contentType: options.contentType,
        enabled: true,
        ...(options.tags ? { tags: options.tags } : {}),
      });
      const version = secret.properties.version;
      if (!version) throw new SecretStoreError(this.kind, 'set', 'NoVersionReturned', undefined, true);
      return { name, version };
    } catch (error) {
      throw storeError(this.kind, 'set', error);
    }
  }

  async get(name: string, version?: string): Promise<string | undefined> {
    checkName(name);
    try {
      const secret = await this.client.getSecret(name, version ? { version } : {});
      return secret.value;
    } catch (error) {
      if (isRestError(error) && error.statusCode === 404) return undefined;
      throw storeError(this.kind, 'get', error);
    }
  }
}

/** The part of TableClient the development store uses. */
export type SecretTableClient = Pick<TableClient, 'createTable' | 'upsertEntity' | 'getEntity'>;

const LATEST = 'latest';

/**
 * Development only (SECRET_STORE=table): values in a table of the app's own storage account. Never
 * the default (config requires KEY_VAULT_URI unless this is chosen explicitly) because anyone who
 * can read the account's tables can read the tokens. Rows: PartitionKey = secret name, RowKey =
 * version, plus a `latest` row pointing at the newest version.
 */
export class TableSecretStore implements SecretStore {
  readonly kind = 'table' as const;
  private ready: Promise<void> | undefined;

  constructor(
    private readonly table: SecretTableClient,
    private readonly now: () => Date = () => new Date(),
  ) {}

  private ensureTable(): Promise<void> {
    this.ready ??= this.table.createTable().then(
      () => undefined,
      (error: unknown) => {
        this.ready = undefined;
        throw error;
      },
    );
    return this.ready;
  }

  async set(name: string, value: string, options: SecretWriteOptions): Promise<StoredSecretRef> {
    checkName(name);
    // Sortable and unique: time first, then randomness (Key Vault versions are 32 hex digits too).
    const version = `${this.now().getTime().toString(16).padStart(12, '0')}${randomBytes(10).toString('hex')}`;
    try {
      await this.ensureTable();
      await this.table.upsertEntity(
        {
          partitionKey: name,
          rowKey: version,
          value,
          expiresOn: options.expiresOn.toISOString(),
          contentType: options.contentType,
          tags: JSON.stringify(options.tags ?? {}),
        },
        'Replace',
      );
      await this.table.upsertEntity({ partitionKey: name, rowKey: LATEST, version }, 'Replace');
      return { name, version };
    } catch (error) {
      throw storeError(this.kind, 'set', error);
    }
  }

  async get(name: string, version?: string): Promise<string | undefined> {
    checkName(name);
    try {
      await this.ensureTable();
      let wanted = version;
      if (!wanted) {
        const latest = await this.table.getEntity<{ version: string }>(name, LATEST);
        wanted = latest.version;
      }
      const row = await this.table.getEntity<{ value: string }>(name, wanted);
      return row.value;
    } catch (error) {
      if (isRestError(error) && error.statusCode === 404) return undefined;
      throw storeError(this.kind, 'get', error);
    }
  }
}

/** The development store's table name. */
export const DEV_SECRETS_TABLE = 'devsecrets';

/** The store the settings select. Key Vault gets DefaultAzureCredential (managed identity), or a
 * static token for a loopback vault (a local fake), by the same rule as the ARM adapter. */
export function createSecretStore(
  settings: AppConfig['secrets'],
  catalogConnection: StorageConnection,
  options: { env?: Env; caPem?: string } = {},
): SecretStore {
  if (settings.store === 'table') {
    return new TableSecretStore(createTableClient(catalogConnection, DEV_SECRETS_TABLE));
  }
  const vaultUrl = settings.keyVaultUri;
  if (!vaultUrl) throw new TypeError('KEY_VAULT_URI: required when SECRET_STORE is keyvault');
  return new KeyVaultSecretStore({
    vaultUrl,
    credential: createCostManagementCredential(vaultUrl, options.env),
    ...(options.caPem ? { caPem: options.caPem } : {}),
    ...(isLoopbackEndpoint(vaultUrl) ? { disableChallengeResourceVerification: true } : {}),
  });
}
