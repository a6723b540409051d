// One typed settings object, built from environment variables and validated once.
// Every problem is reported together, each naming the variable and what it expects,
// so a misconfigured deployment fails at its first invocation with one readable message.

import { AUTH_MODES, type AuthMode } from './domain/callerRoles';
import { HEALING_POLICIES, type HealingPolicy } from './domain/ledger';
import { parseScope } from './domain/scope';

export type Env = Record<string, string | undefined>;

/** A storage connection in the Functions host's own convention: `NAME` holds a connection string
 * (local development), or `NAME__blobServiceUri` / `NAME__tableServiceUri` / `NAME__accountName`
 * select managed-identity access (Azure), optionally with `NAME__clientId` for a user-assigned identity. */
export type StorageConnection =
  | { kind: 'connectionString'; name: string; connectionString: string }
  | {
      kind: 'identity';
      name: string;
      blobServiceUri: string;
      tableServiceUri: string;
      queueServiceUri: string;
      clientId?: string;
    };

export type MailTransport = 'acs' | 'smtp' | 'none';
export type LandingTriggerSource = 'EventGrid' | 'LogsAndContainerScan';
export type SecretStoreKind = 'keyvault' | 'table';

export interface AppConfig {
  costManagement: {
    /** ARM endpoint; the emulator's URL locally. */
    endpoint: string;
    /** PEM file of a CA to trust (the local emulator's self-signed certificate). */
    caFile?: string;
    /** Sent as the `ClientType` header so the app gets its own throttling bucket. */
    clientType: string;
  };
  storage: {
    /** Holds the catalog tables (exports, tokens, landings, backfillRuns). */
    catalog: StorageConnection;
    /** The account exports land in; the blob trigger's connection. */
    exports: StorageConnection;
    exportsContainer: string;
    landingTriggerSource: LandingTriggerSource;
    /** Blob endpoint of any storage account, `{account}` standing for its name: the SAS probe's target.
     * `https://{account}.blob.core.windows.net` in Azure; e.g. `http://127.0.0.1:10000/{account}` for Azurite. */
    blobEndpointTemplate: string;
  };
  /** Billing or RBAC scopes whose exports the app discovers and manages. */
  managedScopes: string[];
  secrets: { store: SecretStoreKind; keyVaultUri?: string };
  sasWatch: { schedule: string; thresholdsDays: number[] };
  alerts: {
    transport: MailTransport;
    recipients: string[];
    sender?: string;
    acsEndpoint?: string;
    smtp?: { host: string; port: number; secure: boolean; user?: string; password?: string };
  };
  outOfBand: { schedule: string; concurrency: number };
  exportSync: { schedule: string };
  /** Export fleet reconcile rounds (services/fleetReconcile.ts): when, and scopes reconciled at once. */
  fleet: { schedule: string; concurrency: number };
  /** The completeness ledger: its daily sweep, when a month is final, and healing per scope. */
  ledger: {
    schedule: string;
    finalAfterDays: number;
    graceHours: number;
    healing: {
      /** For scopes without an override. */
      defaultPolicy: HealingPolicy;
      /** Canonical scope text as written in HEALING_SCOPES → policy. */
      scopes: Record<string, HealingPolicy>;
      coolDownHours: number;
      maxAttempts: number;
      /** Backfills one sweep may start at most. */
      maxPerSweep: number;
    };
  };
  backfill: {
    maxConcurrency: number;
    maxAttempts: number;
    landingTimeoutMinutes: number;
    pollIntervalMinutes: number;
  };
  /** Who may call the HTTP API: any holder of a function key, or Entra callers by app role
   * (`reader`, `operator`) as App Service Authentication passes them in `x-ms-client-principal`. */
  auth: { mode: AuthMode };
  durableTaskHub: string;
  /** Purge of finished orchestrations' history, so the task hub does not grow forever. */
  durableCleanup: { schedule: string; retentionDays: number };
}

/** HEALING_SCOPES: `scope=policy` pairs, comma-separated; keys are canonical scopes. */
function healingScopes(r: SettingsReader): Record<string, HealingPolicy> {
  const scopes: Record<string, HealingPolicy> = {};
  for (const pair of r.list('HEALING_SCOPES')) {
    const at = pair.lastIndexOf('=');
    const policy = pair.slice(at + 1).trim() as HealingPolicy;
    let scope: string | undefined;
    try {
      scope = at > 0 ? parseScope(pair.slice(0, at).trim()).canonical : undefined;
    } catch {
      scope = undefined;
    }
    if (!scope || !HEALING_POLICIES.includes(policy)) {
      r.problems.push(
        `HEALING_SCOPES: expected scope=policy pairs (policy off, report or heal), got "${pair.slice(0, 200)}"`,
      );
      continue;
    }
    scopes[scope.toLowerCase()] = policy;
  }
  return scopes;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n- ${problems.join('\n- ')}`);
    this.name = 'ConfigError';
  }
}

/** Reads settings and collects every problem instead of stopping at the first. */
class SettingsReader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  raw(name: string): string | undefined {
    const value = this.env[name]?.trim();
    return value ? value : undefined;
  }

  string(name: string, fallback: string, pattern?: RegExp, expects?: string): string {
    const value = this.raw(name) ?? fallback;
    if (pattern && !pattern.test(value)) this.problems.push(`${name}: expected ${expects}, got "${value}"`);
    return value;
  }

  optionalString(name: string): string | undefined {
    return this.raw(name);
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const text = this.raw(name);
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!Number.isInteger(value) || value < min || value > max) {
      this.problems.push(`${name}: expected a whole number from ${min} to ${max}, got "${text}"`);
      return fallback;
    }
    return value;
  }

  oneOf<T extends string>(name: string, fallback: T, allowed: readonly T[]): T {
    const text = this.raw(name);
    if (text === undefined) return fallback;
    const match = allowed.find((a) => a.toLowerCase() === text.toLowerCase());
    if (!match) this.problems.push(`${name}: expected one of ${allowed.join(', ')}, got "${text}"`);
    return match ?? fallback;
  }

  list(name: string, fallback: string[] = []): string[] {
    const text = this.raw(name);
    if (text === undefined) return fallback;
    return text
      .split(/[;,\n]/)
      .map((s) => s.trim())
      .filter(Boolean);
  }

  url(name: string, fallback?: string): string | undefined {
    const text = this.raw(name) ?? fallback;
    if (text === undefined) return undefined;
    try {
      const url = new URL(text);
      if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('protocol');
      return text.replace(/\/+$/, '');
    } catch {
      this.problems.push(`${name}: expected an absolute http(s) URL, got "${text}"`);
      return undefined;
    }
  }

  /** An absolute URL with `{account}` in its host or path; plain http only to this machine, because
   * the SAS probe sends a token in the query. */
  blobEndpointTemplate(name: string, fallback: string): string {
    const value = (this.raw(name) ?? fallback).replace(/\/+$/, '');
    const expects = `${name}: expected an absolute URL containing {account} once, like "https://{account}.blob.core.windows.net" or "http://127.0.0.1:10000/{account}"`;
    if (value.split('{account}').length !== 2) {
      this.problems.push(`${expects}, got "${value}"`);
      return fallback;
    }
    let url: URL;
    try {
      url = new URL(value.replace('{account}', 'account'));
    } catch {
      this.problems.push(`${expects}, got "${value}"`);
      return fallback;
    }
    const loopback = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i.test(url.hostname);
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
      this.problems.push(
        `${name}: expected https (plain http only to 127.0.0.1 or localhost), got "${value}"`,
      );
      return fallback;
    }
    if (url.search || url.hash) {
      this.problems.push(`${name}: expected no query or fragment, got "${value}"`);
      return fallback;
    }
    return value;
  }

  /** Six-field NCRONTAB (`sec min hour day month weekday`), as Functions timer triggers use. */
  ncrontab(name: string, fallback: string): string {
    const value = this.raw(name) ?? fallback;
    // `%NAME%` indirection is resolved by the host, so it never reaches the app.
    if (!/^\S+( \S+){5}$/.test(value)) {
      this.problems.push(
        `${name}: expected a six-field NCRONTAB expression like "0 0 6 * * *", got "${value}"`,
      );
    }
    return value;
  }

  storageConnection(name: string): StorageConnection {
    const connectionString = this.raw(name);
    if (connectionString) {
      if (
        connectionString !== 'UseDevelopmentStorage=true' &&
        !/AccountName=|BlobEndpoint=/i.test(connectionString)
      ) {
        // Never echo the value: it may hold an account key.
        this.problems.push(`${name}: expected a storage connection string (value not shown)`);
      }
      return { kind: 'connectionString', name, connectionString };
    }
    const account = this.raw(`${name}__accountName`);
    const service = (s: 'blob' | 'table' | 'queue') =>
      this.url(`${name}__${s}ServiceUri`) ??
      (account ? `https://${account}.${s}.core.windows.net` : undefined);
    const blobServiceUri = service('blob');
    const tableServiceUri = service('table');
    const queueServiceUri = service('queue');
    if (!blobServiceUri && !tableServiceUri) {
      this.problems.push(
        `${name}: expected a connection string in ${name}, or managed-identity settings ` +
          `${name}__accountName (or ${name}__blobServiceUri and ${name}__tableServiceUri)`,
      );
    }
    const clientId = this.raw(`${name}__clientId`);
    return {
      kind: 'identity',
      name,
      blobServiceUri: blobServiceUri ?? '',
      tableServiceUri: tableServiceUri ?? '',
      queueServiceUri: queueServiceUri ?? '',
      ...(clientId ? { clientId } : {}),
    };
  }
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const CONTAINER_NAME = /^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;

function readSmtp(r: SettingsReader, transport: MailTransport): AppConfig['alerts']['smtp'] {
  const smtpHost = r.optionalString('SMTP_HOST');
  if (transport === 'smtp' && !smtpHost)
    r.problems.push('SMTP_HOST: required when ALERT_MAIL_TRANSPORT is smtp');
  const smtpUser = r.optionalString('SMTP_USER');
  const smtpPassword = r.optionalString('SMTP_PASSWORD');
  if (!smtpHost) return undefined;
  return {
    host: smtpHost,
    port: r.int('SMTP_PORT', 587, 1, 65535),
    secure: r.oneOf('SMTP_SECURE', 'false', ['true', 'false']) === 'true',
    ...(smtpUser ? { user: smtpUser } : {}),
    ...(smtpPassword ? { password: smtpPassword } : {}),
  };
}

function readAlerts(r: SettingsReader): AppConfig['alerts'] {
  const transport = r.oneOf<MailTransport>('ALERT_MAIL_TRANSPORT', 'none', ['acs', 'smtp', 'none']);
  const recipients = r.list('ALERT_RECIPIENTS');
  for (const address of recipients) {
    if (!EMAIL.test(address)) r.problems.push(`ALERT_RECIPIENTS: "${address}" is not an e-mail address`);
  }
  const sender = r.optionalString('ALERT_SENDER');
  if (sender && !EMAIL.test(sender)) r.problems.push(`ALERT_SENDER: "${sender}" is not an e-mail address`);
  if (transport !== 'none') {
    if (recipients.length === 0)
      r.problems.push(`ALERT_RECIPIENTS: required when ALERT_MAIL_TRANSPORT is ${transport}`);
    if (!sender) r.problems.push(`ALERT_SENDER: required when ALERT_MAIL_TRANSPORT is ${transport}`);
  }
  const acsEndpoint = r.url('ACS_ENDPOINT');
  if (transport === 'acs' && !acsEndpoint)
    r.problems.push('ACS_ENDPOINT: required when ALERT_MAIL_TRANSPORT is acs');
  const smtp = readSmtp(r, transport);
  return {
    transport,
    recipients,
    ...(sender ? { sender } : {}),
    ...(acsEndpoint ? { acsEndpoint } : {}),
    ...(smtp ? { smtp } : {}),
  };
}

function readSasThresholdsDays(r: SettingsReader): number[] {
  const thresholdsText = r.list('SAS_ALERT_THRESHOLDS_DAYS', ['30', '14', '7', '3', '1', '0']);
  const thresholdsDays = [...new Set(thresholdsText.map(Number))].sort((a, b) => b - a);
  if (thresholdsText.some((t) => !/^\d{1,3}$/.test(t))) {
    r.problems.push(
      `SAS_ALERT_THRESHOLDS_DAYS: expected whole numbers of days from 0 to 999, like "30,14,7,3,1,0", got "${thresholdsText.join(',')}"`,
    );
  }
  return thresholdsDays;
}

function readSecrets(r: SettingsReader, env: Env): AppConfig['secrets'] {
  const secretStore = r.oneOf<SecretStoreKind>('SECRET_STORE', 'keyvault', ['keyvault', 'table']);
  const keyVaultUri = r.url('KEY_VAULT_URI');
  // App Service (which hosts Functions) sets WEBSITE_INSTANCE_ID on every instance it runs; a laptop
  // does not. The dev-only table would keep SAS values next to the data they unlock.
  if (secretStore === 'table' && env.WEBSITE_INSTANCE_ID?.trim()) {
    r.problems.push(
      'SECRET_STORE: table is for local development only and is refused when running in Azure (WEBSITE_INSTANCE_ID is set); use keyvault with KEY_VAULT_URI',
    );
  }
  if (secretStore === 'keyvault' && !keyVaultUri) {
    r.problems.push(
      'KEY_VAULT_URI: required when SECRET_STORE is keyvault (the default); use SECRET_STORE=table only for local development',
    );
  }
  return { store: secretStore, ...(keyVaultUri ? { keyVaultUri } : {}) };
}

function readAuth(r: SettingsReader, env: Env): AppConfig['auth'] {
  const authMode = r.oneOf<AuthMode>('AUTH_MODE', 'functionKey', AUTH_MODES);
  // Only App Service Authentication strips a forged x-ms-client-principal from outside requests;
  // App Service sets WEBSITE_AUTH_ENABLED=True on the app when it is on.
  if (
    authMode === 'entra' &&
    env.WEBSITE_INSTANCE_ID?.trim() &&
    env.WEBSITE_AUTH_ENABLED?.trim().toLowerCase() !== 'true'
  ) {
    r.problems.push(
      'AUTH_MODE: entra needs App Service Authentication turned on for the app (WEBSITE_AUTH_ENABLED is not True); deploy with entraClientId or use functionKey',
    );
  }
  return { mode: authMode };
}

function readCostManagement(r: SettingsReader): AppConfig['costManagement'] {
  const caFile = r.optionalString('COST_MANAGEMENT_CA_FILE');
  return {
    endpoint:
      r.url('COST_MANAGEMENT_ENDPOINT', 'https://management.azure.com') ?? 'https://management.azure.com',
    ...(caFile ? { caFile } : {}),
    clientType: r.string(
      'COST_MANAGEMENT_CLIENT_TYPE',
      'CostExportAutopilot',
      /^[\w.-]{1,64}$/,
      'letters, digits, . _ - (at most 64)',
    ),
  };
}

function readStorage(r: SettingsReader): AppConfig['storage'] {
  return {
    catalog: r.storageConnection('AzureWebJobsStorage'),
    exports: r.storageConnection('ExportsStorage'),
    exportsContainer: r.string(
      'EXPORTS_CONTAINER',
      'msexports',
      CONTAINER_NAME,
      'a storage container name (3-63 lower-case letters, digits, hyphens)',
    ),
    landingTriggerSource: r.oneOf<LandingTriggerSource>('LANDING_TRIGGER_SOURCE', 'EventGrid', [
      'EventGrid',
      'LogsAndContainerScan',
    ]),
    blobEndpointTemplate: r.blobEndpointTemplate(
      'STORAGE_BLOB_ENDPOINT_TEMPLATE',
      'https://{account}.blob.core.windows.net',
    ),
  };
}

function readLedger(r: SettingsReader): AppConfig['ledger'] {
  return {
    schedule: r.ncrontab('LEDGER_SWEEP_SCHEDULE', '0 45 6 * * *'),
    finalAfterDays: r.int('LEDGER_FINAL_AFTER_DAYS', 4, 1, 31),
    graceHours: r.int('LEDGER_GRACE_HOURS', 12, 0, 720),
    healing: {
      defaultPolicy: r.oneOf<HealingPolicy>('HEALING_POLICY', 'report', [...HEALING_POLICIES]),
      scopes: healingScopes(r),
      coolDownHours: r.int('HEALING_COOLDOWN_HOURS', 24, 1, 8760),
      maxAttempts: r.int('HEALING_MAX_ATTEMPTS', 3, 1, 20),
      maxPerSweep: r.int('HEALING_MAX_PER_SWEEP', 20, 1, 1000),
    },
  };
}

function readBackfill(r: SettingsReader): AppConfig['backfill'] {
  return {
    maxConcurrency: r.int('BACKFILL_MAX_CONCURRENCY', 3, 1, 12),
    maxAttempts: r.int('BACKFILL_MAX_ATTEMPTS', 3, 1, 10),
    landingTimeoutMinutes: r.int('BACKFILL_LANDING_TIMEOUT_MINUTES', 480, 5, 2880),
    pollIntervalMinutes: r.int('BACKFILL_POLL_INTERVAL_MINUTES', 15, 1, 240),
  };
}

export function loadConfig(env: Env = process.env): AppConfig {
  const r = new SettingsReader(env);
  // Groups are read in this order so the problems list in the order operators have always seen.
  const alerts = readAlerts(r);
  const thresholdsDays = readSasThresholdsDays(r);
  const secrets = readSecrets(r, env);
  const auth = readAuth(r, env);
  const config: AppConfig = {
    costManagement: readCostManagement(r),
    storage: readStorage(r),
    managedScopes: r.list('MANAGED_SCOPES'),
    secrets,
    sasWatch: { schedule: r.ncrontab('SAS_WATCH_SCHEDULE', '0 0 6 * * *'), thresholdsDays },
    alerts,
    outOfBand: {
      schedule: r.ncrontab('OUT_OF_BAND_SCHEDULE', '0 0 */6 * * *'),
      concurrency: r.int('OUT_OF_BAND_CONCURRENCY', 4, 1, 50),
    },
    exportSync: { schedule: r.ncrontab('EXPORT_SYNC_SCHEDULE', '0 30 5 * * *') },
    fleet: {
      schedule: r.ncrontab('FLEET_RECONCILE_SCHEDULE', '0 45 5 * * *'),
      concurrency: r.int('FLEET_CONCURRENCY', 4, 1, 50),
    },
    ledger: readLedger(r),
    backfill: readBackfill(r),
    auth,
    durableTaskHub: r.string(
      'DURABLE_TASK_HUB',
      'costexportautopilot',
      /^[A-Za-z][A-Za-z0-9]{2,44}$/,
      '3-45 letters and digits, starting with a letter',
    ),
    durableCleanup: {
      schedule: r.ncrontab('DURABLE_CLEANUP_SCHEDULE', '0 15 4 * * *'),
      retentionDays: r.int('DURABLE_HISTORY_RETENTION_DAYS', 30, 1, 3650),
    },
  };
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return config;
}

let cached: AppConfig | undefined;

/** The process-wide settings, validated on first use. */
export function getConfig(): AppConfig {
  cached ??= loadConfig();
  return cached;
}

/** For tests and the local host, which change the environment between runs. */
export function resetConfigCache(): void {
  cached = undefined;
}
