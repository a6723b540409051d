import { ConfigError, loadConfig } from '../../src/config';

const base = {
  AzureWebJobsStorage: 'UseDevelopmentStorage=true',
  ExportsStorage: 'UseDevelopmentStorage=true',
  SECRET_STORE: 'table',
};

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
}

describe('loadConfig', () => {
  it('applies documented defaults to a minimal local environment', () => {
    const config = loadConfig(base);
    expect(config.costManagement.endpoint).toBe('https://management.azure.com');
    expect(config.storage.exportsContainer).toBe('msexports');
    expect(config.sasWatch.thresholdsDays).toEqual([30, 14, 7, 3, 1, 0]);
    expect(config.alerts.transport).toBe('none');
    expect(config.durableCleanup).toEqual({ schedule: '0 15 4 * * *', retentionDays: 30 });
    expect(config.storage.catalog).toEqual({
      kind: 'connectionString',
      name: 'AzureWebJobsStorage',
      connectionString: 'UseDevelopmentStorage=true',
    });
  });

  it('builds managed-identity storage from the Functions __accountName convention', () => {
    const config = loadConfig({
      ...base,
      AzureWebJobsStorage: '',
      AzureWebJobsStorage__accountName: 'sthost',
      AzureWebJobsStorage__clientId: 'abc',
    });
    expect(config.storage.catalog).toEqual({
      kind: 'identity',
      name: 'AzureWebJobsStorage',
      blobServiceUri: 'https://sthost.blob.core.windows.net',
      tableServiceUri: 'https://sthost.table.core.windows.net',
      queueServiceUri: 'https://sthost.queue.core.windows.net',
      clientId: 'abc',
    });
  });

  it.each([
    [{ BACKFILL_MAX_ATTEMPTS: '0' }, 'BACKFILL_MAX_ATTEMPTS: expected a whole number from 1 to 10'],
    [
      { DURABLE_HISTORY_RETENTION_DAYS: '0' },
      'DURABLE_HISTORY_RETENTION_DAYS: expected a whole number from 1 to 3650',
    ],
    [{ DURABLE_CLEANUP_SCHEDULE: 'daily' }, 'DURABLE_CLEANUP_SCHEDULE: expected a six-field NCRONTAB'],
    [{ OUT_OF_BAND_CONCURRENCY: 'many' }, 'OUT_OF_BAND_CONCURRENCY: expected a whole number'],
    [{ COST_MANAGEMENT_ENDPOINT: 'ftp://x' }, 'COST_MANAGEMENT_ENDPOINT: expected an absolute http(s) URL'],
    [{ SAS_WATCH_SCHEDULE: '0 6 * * *' }, 'SAS_WATCH_SCHEDULE: expected a six-field NCRONTAB'],
    [{ SAS_ALERT_THRESHOLDS_DAYS: '30,soon' }, 'SAS_ALERT_THRESHOLDS_DAYS: expected whole numbers'],
    [{ ALERT_MAIL_TRANSPORT: 'pigeon' }, 'ALERT_MAIL_TRANSPORT: expected one of acs, smtp, none'],
    [{ ALERT_MAIL_TRANSPORT: 'smtp' }, 'SMTP_HOST: required when ALERT_MAIL_TRANSPORT is smtp'],
    [{ ALERT_RECIPIENTS: 'ops' }, 'ALERT_RECIPIENTS: "ops" is not an e-mail address'],
    [{ EXPORTS_CONTAINER: 'Bad_Name' }, 'EXPORTS_CONTAINER: expected a storage container name'],
    [{ SECRET_STORE: 'keyvault' }, 'KEY_VAULT_URI: required when SECRET_STORE is keyvault'],
    [
      { SECRET_STORE: 'table', WEBSITE_INSTANCE_ID: '4f9c0e7a1b2d' },
      'SECRET_STORE: table is for local development only and is refused when running in Azure',
    ],
    [
      { ExportsStorage: '' },
      'ExportsStorage: expected a connection string in ExportsStorage, or managed-identity settings',
    ],
  ])('rejects %j naming the variable', (overrides, message) => {
    expect(problemsOf({ ...base, ...overrides }).join('\n')).toContain(message);
  });

  it('reports every problem at once', () => {
    expect(problemsOf({ ...base, BACKFILL_MAX_ATTEMPTS: '0', OUT_OF_BAND_CONCURRENCY: 'x' })).toHaveLength(2);
  });

  it('never echoes a storage connection string, which may hold an account key', () => {
    const secret = 'DefaultEndpointsProtocol=https;AccountKey=c2VjcmV0;EndpointSuffix=core.windows.net';
    const problems = problemsOf({ ...base, ExportsStorage: secret.replace('AccountKey', 'Key') });
    expect(problems.join('\n')).toContain(
      'ExportsStorage: expected a storage connection string (value not shown)',
    );
    expect(problems.join('\n')).not.toContain('c2VjcmV0');
  });
});

describe('STORAGE_BLOB_ENDPOINT_TEMPLATE (the SAS probe target)', () => {
  it('defaults to the public Azure blob endpoint', () => {
    expect(loadConfig(base).storage.blobEndpointTemplate).toBe('https://{account}.blob.core.windows.net');
  });

  it.each([
    ['http://127.0.0.1:10000/{account}', 'http://127.0.0.1:10000/{account}'],
    ['https://{account}.blob.core.usgovcloudapi.net/', 'https://{account}.blob.core.usgovcloudapi.net'],
    ['http://localhost:10000/{account}', 'http://localhost:10000/{account}'],
  ])('accepts %s', (value, expected) => {
    expect(loadConfig({ ...base, STORAGE_BLOB_ENDPOINT_TEMPLATE: value }).storage.blobEndpointTemplate).toBe(
      expected,
    );
  });

  it.each([
    ['https://example.blob.core.windows.net', 'containing {account} once'],
    ['https://{account}.blob/{account}', 'containing {account} once'],
    ['http://{account}.blob.core.windows.net', 'plain http only to 127.0.0.1'],
    ['ftp://127.0.0.1/{account}', 'plain http only to 127.0.0.1'],
    ['https://{account}.blob.core.windows.net/?x=1', 'no query or fragment'],
    ['not a url {account}', 'containing {account} once'],
  ])('refuses %s, naming the setting', (value, reason) => {
    const problems = problemsOf({ ...base, STORAGE_BLOB_ENDPOINT_TEMPLATE: value });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^STORAGE_BLOB_ENDPOINT_TEMPLATE: /);
    expect(problems[0]).toContain(reason);
  });
});
