// What the app is set up to do, for the health and status endpoints: whether the settings validate
// (liveness) and a summary of the configuration that never holds a secret.
import { serviceEndpoint } from '../azure/storageClients';
import { type AppConfig, ConfigError, type StorageConnection } from '../config';
import { type ConfigNoticeInput, configNotices } from '../domain/configNotices';
import { redactDeep, redactError, redactSecrets } from '../domain/redact';

export type HealthResult =
  | { status: 200; body: { status: 'ok'; version: string; notices?: string[] } }
  | { status: 503; body: { status: 'unhealthy'; version: string; problems: string[] } };

/** Liveness: the settings validate. No I/O; `validate` throws a ConfigError (or anything else).
 * Valid settings that leave something off (mail) come back as `notices`. */
export function checkHealth(validate: () => ConfigNoticeInput, version: string): HealthResult {
  try {
    const notices = configNotices(validate());
    return { status: 200, body: { status: 'ok', version, ...(notices.length > 0 ? { notices } : {}) } };
  } catch (error) {
    // ConfigError problems name the variable and never its secret value; redacted all the same,
    // because some echo URLs, which may carry a SAS query.
    const problems =
      error instanceof ConfigError ? error.problems.map((p) => redactSecrets(p)) : [redactError(error)];
    return { status: 503, body: { status: 'unhealthy', version, problems } };
  }
}

// ------------------------------------------------------------------------------ configuration summary

export interface ConnectionSummary {
  /** The app setting (prefix) the connection comes from. */
  setting: string;
  auth: 'connection string' | 'development storage' | 'managed identity';
  userAssignedIdentity?: boolean;
  tableEndpoint?: string;
  blobEndpoint?: string;
}

export interface ConfigurationSummary {
  costManagement: { endpoint: string; clientType: string; extraCaTrusted: boolean };
  storage: {
    catalog: ConnectionSummary;
    exports: ConnectionSummary;
    exportsContainer: string;
    landingTriggerSource: string;
    blobEndpointTemplate: string;
  };
  managedScopes: string[];
  secrets: { store: string; keyVaultUri?: string };
  schedules: { sasWatch: string; outOfBand: string; exportSync: string };
  thresholds: {
    sasAlertDays: number[];
    outOfBandConcurrency: number;
    backfillMaxConcurrency: number;
    backfillMaxAttempts: number;
    backfillLandingTimeoutMinutes: number;
    backfillPollIntervalMinutes: number;
  };
  alerts: {
    transport: string;
    /** How many; the addresses are not shown. */
    recipients: number;
    sender?: string;
    acsEndpoint?: string;
    smtp?: { host: string; port: number; secure: boolean };
  };
  durableTaskHub: string;
}

function connectionSummary(connection: StorageConnection): ConnectionSummary {
  if (connection.kind === 'identity') {
    return {
      setting: connection.name,
      auth: 'managed identity',
      userAssignedIdentity: connection.clientId !== undefined,
      ...(connection.tableServiceUri ? { tableEndpoint: connection.tableServiceUri } : {}),
      ...(connection.blobServiceUri ? { blobEndpoint: connection.blobServiceUri } : {}),
    };
  }
  // Only the endpoints the string selects: never the string itself (it may hold an account key).
  const development = /usedevelopmentstorage\s*=\s*true/i.test(connection.connectionString);
  const table = serviceEndpoint(connection.connectionString, 'table');
  const blob = serviceEndpoint(connection.connectionString, 'blob');
  return {
    setting: connection.name,
    auth: development ? 'development storage' : 'connection string',
    ...(table ? { tableEndpoint: table } : {}),
    ...(blob ? { blobEndpoint: blob } : {}),
  };
}

/** What the app is set up to do, without a secret: endpoints, names, schedules and limits only. */
export function configurationSummary(config: AppConfig): ConfigurationSummary {
  const { alerts } = config;
  return redactDeep({
    costManagement: {
      endpoint: config.costManagement.endpoint,
      clientType: config.costManagement.clientType,
      extraCaTrusted: config.costManagement.caFile !== undefined,
    },
    storage: {
      catalog: connectionSummary(config.storage.catalog),
      exports: connectionSummary(config.storage.exports),
      exportsContainer: config.storage.exportsContainer,
      landingTriggerSource: config.storage.landingTriggerSource,
      blobEndpointTemplate: config.storage.blobEndpointTemplate,
    },
    managedScopes: [...config.managedScopes],
    secrets: {
      store: config.secrets.store,
      ...(config.secrets.keyVaultUri ? { keyVaultUri: config.secrets.keyVaultUri } : {}),
    },
    schedules: {
      sasWatch: config.sasWatch.schedule,
      outOfBand: config.outOfBand.schedule,
      exportSync: config.exportSync.schedule,
    },
    thresholds: {
      sasAlertDays: [...config.sasWatch.thresholdsDays],
      outOfBandConcurrency: config.outOfBand.concurrency,
      backfillMaxConcurrency: config.backfill.maxConcurrency,
      backfillMaxAttempts: config.backfill.maxAttempts,
      backfillLandingTimeoutMinutes: config.backfill.landingTimeoutMinutes,
      backfillPollIntervalMinutes: config.backfill.pollIntervalMinutes,
    },
    alerts: {
      transport: alerts.transport,
      recipients: alerts.recipients.length,
      ...(alerts.sender ? { sender: alerts.sender } : {}),
      ...(alerts.acsEndpoint ? { acsEndpoint: alerts.acsEndpoint } : {}),
      ...(alerts.smtp
        ? { smtp: { host: alerts.smtp.host, port: alerts.smtp.port, secure: alerts.smtp.secure } }
        : {}),
    },
    durableTaskHub: config.durableTaskHub,
  });
}
