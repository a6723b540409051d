// Offline checks of the deployable infrastructure (infra/, azure.yaml). No Bicep compiler runs here,
// so these are syntax-level: every file parses, settings match src/config.ts, API versions are pinned,
// no secret leaks into outputs or app settings, every role assignment is the app identity's and named.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

import type * as FunctionsCoreStub from '../../dev/host/functionsCoreStub';
import { loadConfig } from '../../src/config';
import { logEventLine } from '../../src/domain/logEvent';
import type { BicepNode } from '../support/bicep';
import {
  allObjectKeys,
  declarations,
  moduleDeclarations,
  parseBicep,
  parseBicepFile,
  property,
  resourceDeclarations,
  stringValue,
  syntaxProblems,
} from '../support/bicep';

const ROOT = join(__dirname, '..', '..');
const INFRA = join(ROOT, 'infra');
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

function bicepFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return bicepFiles(path);
    return entry.name.endsWith('.bicep') ? [relative(ROOT, path)] : [];
  });
}

const FILES = bicepFiles(INFRA).sort();
const trees = new Map<string, BicepNode>(FILES.map((f) => [f, parseBicepFile(join(ROOT, f))]));
const tree = (file: string): BicepNode => {
  const root = trees.get(file);
  if (!root) throw new Error(`${file} is not among the parsed Bicep files`);
  return root;
};
const MAIN = 'infra/main.bicep';
const APP_MODULE = 'infra/modules/functionApp.bicep';

// --- what src/config.ts reads -------------------------------------------------------------------

/** The SettingsReader method that reads the setting (`string`, `int`, `storageConnection`, ...). */
type ReaderKind = string;

/** Every `r.<reader>('NAME')` call in src/config.ts: the settings the app reads by name. */
function configSettings(): Map<string, ReaderKind> {
  const source = read('src/config.ts');
  const settings = new Map<string, ReaderKind>();
  // Any reader method, so a new kind of setting cannot slip past this check.
  const call = /\br\.(\w+)(?:<[^>]*>)?\(\s*'([A-Za-z_]\w*)'/g;
  for (const match of source.matchAll(call)) settings.set(match[2]!, match[1]!);
  return settings;
}

const CONFIG = configSettings();
const STORAGE_CONNECTIONS = [...CONFIG].filter(([, kind]) => kind === 'storageConnection').map(([n]) => n);

/** Read by the code but never set in Azure, each with the reason. */
const DEV_ONLY_SETTINGS: Record<string, string> = {
  COST_MANAGEMENT_CA_FILE: 'trusts the local Exports emulator certificate; Azure uses the public roots',
};

/** Set by Bicep but read by the platform or an SDK rather than src/config.ts. */
const PLATFORM_SETTINGS: Record<string, string> = {
  AZURE_CLIENT_ID: 'selects the user-assigned identity for DefaultAzureCredential (src/azure/credentials.ts)',
  APPLICATIONINSIGHTS_CONNECTION_STRING: 'Functions host telemetry',
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Entra-authenticated telemetry (local auth is disabled)',
  AzureFunctionsJobHost__extensions__durableTask__storageProvider__type:
    'overrides host.json: the Durable Task Scheduler backend (durableBackend)',
  AzureFunctionsJobHost__extensions__durableTask__storageProvider__connectionStringName:
    'overrides host.json: the setting that holds the scheduler connection',
  DURABLE_TASK_SCHEDULER_CONNECTION_STRING:
    "read by the Durable Functions extension (the scheduler's endpoint)",
};

/** Identity-based connection suffixes the host and src/config.ts understand. */
const CONNECTION_SUFFIXES = [
  'accountName',
  'blobServiceUri',
  'queueServiceUri',
  'tableServiceUri',
  'credential',
  'clientId',
];

/** Settings Flex Consumption rejects or ignores: runtime and scale come from functionAppConfig. */
const FLEX_FORBIDDEN = [
  'FUNCTIONS_EXTENSION_VERSION',
  'FUNCTIONS_WORKER_RUNTIME',
  'FUNCTIONS_WORKER_RUNTIME_VERSION',
  'WEBSITE_RUN_FROM_PACKAGE',
  'WEBSITE_CONTENTSHARE',
  'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING',
  'WEBSITE_NODE_DEFAULT_VERSION',
  'AzureWebJobsStorage',
];

/** The app-settings variables: `*Settings` in main.bicep and the app module. */
function settingsVars(): { file: string; name: string; value: BicepNode }[] {
  return [MAIN, APP_MODULE].flatMap((file) =>
    declarations(tree(file), 'var')
      .filter((v) => v.name.endsWith('Settings') && v.value)
      .map((v) => ({ file, name: v.name, value: v.value! })),
  );
}

function settingValues(): Map<string, BicepNode[]> {
  const values = new Map<string, BicepNode[]>();
  for (const { value } of settingsVars()) {
    const objects =
      value.type === 'object'
        ? [value, ...value.descendantsOfType('object')]
        : value.descendantsOfType('object');
    for (const object of objects) {
      for (const property of object.namedChildren.filter((c) => c.type === 'object_property')) {
        const [key, v] = property.namedChildren;
        if (!key || !v) continue;
        const name = stringValue(key) ?? key.text;
        values.set(name, [...(values.get(name) ?? []), v]);
      }
    }
  }
  return values;
}

const BICEP_SETTINGS = settingValues();

// -------------------------------------------------------------------------------------------------

describe('Bicep syntax (tree-sitter-bicep)', () => {
  it('finds the template and its modules', () => {
    expect(FILES).toEqual(
      expect.arrayContaining([MAIN, APP_MODULE, 'infra/modules/eventSubscription.bicep']),
    );
  });

  it.each(FILES)('%s parses without ERROR or missing nodes', (file) => {
    expect(syntaxProblems(tree(file))).toEqual([]);
  });

  it('reports positions for a broken file (the check can fail)', () => {
    const broken = parseBicep(
      "param a string\nresource s 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n  name: a\n",
    );
    expect(syntaxProblems(broken)).toEqual([expect.stringMatching(/^(ERROR|missing "}")@\d+:\d+$/)]);
  });
});

describe('app settings against src/config.ts', () => {
  it('reads a plausible list of settings from src/config.ts', () => {
    expect(CONFIG.size).toBeGreaterThan(20);
    expect(STORAGE_CONNECTIONS.sort()).toEqual(['AzureWebJobsStorage', 'ExportsStorage']);
  });

  it.each([...CONFIG].filter(([, kind]) => kind !== 'storageConnection'))(
    '%s (%s) is set by the template, or listed as dev-only',
    (name) => {
      if (name in DEV_ONLY_SETTINGS) expect(BICEP_SETTINGS.has(name)).toBe(false);
      else expect(BICEP_SETTINGS.has(name)).toBe(true);
    },
  );

  it.each(STORAGE_CONNECTIONS)(
    '%s is an identity connection: service URIs, credential and client id',
    (name) => {
      expect(
        BICEP_SETTINGS.has(`${name}__blobServiceUri`) || BICEP_SETTINGS.has(`${name}__accountName`),
      ).toBe(true);
      expect(stringValue(BICEP_SETTINGS.get(`${name}__credential`)?.[0])).toBe('managedidentity');
      // A user-assigned identity: without the client id the host would look for a system-assigned one.
      expect(BICEP_SETTINGS.has(`${name}__clientId`)).toBe(true);
      // The blob trigger and Durable Functions both need the queue service of their connection.
      expect(BICEP_SETTINGS.has(`${name}__queueServiceUri`)).toBe(true);
      expect(BICEP_SETTINGS.has(name)).toBe(false);
    },
  );

  it('sets nothing the code does not read, except listed platform settings', () => {
    const unexpected = [...BICEP_SETTINGS.keys()].filter((name) => {
      if (CONFIG.has(name) || name in PLATFORM_SETTINGS) return false;
      const [connection, suffix] = name.split('__');
      return !(suffix && STORAGE_CONNECTIONS.includes(connection!) && CONNECTION_SUFFIXES.includes(suffix));
    });
    expect(unexpected).toEqual([]);
  });

  it('keeps the allow lists honest (no stale entries)', () => {
    for (const name of Object.keys(DEV_ONLY_SETTINGS)) expect(CONFIG.has(name)).toBe(true);
    for (const name of Object.keys(PLATFORM_SETTINGS)) expect(BICEP_SETTINGS.has(name)).toBe(true);
  });

  it.each(FLEX_FORBIDDEN)('does not set %s (not an app setting on Flex Consumption)', (name) => {
    expect(BICEP_SETTINGS.has(name)).toBe(false);
  });

  it('sets every %NAME% that host.json refers to', () => {
    const referenced = [...read('host.json').matchAll(/%(\w+)%/g)].map((m) => m[1]!);
    expect(referenced.length).toBeGreaterThan(0);
    for (const name of referenced) expect(BICEP_SETTINGS.has(name)).toBe(true);
  });

  it('local.settings.sample.json covers every setting the code reads', () => {
    const sample = JSON.parse(read('local.settings.sample.json')) as { Values: Record<string, string> };
    const missing = [...CONFIG.keys()].filter((name) => !(name in sample.Values));
    expect(missing).toEqual([]);
  });
});

describe('template defaults that start', () => {
  const paramDefault = (name: string) =>
    stringValue(declarations(tree(MAIN), 'param').find((p) => p.name === name)?.value);

  it('starts with mail off: no transport is on until recipients are given', () => {
    expect(paramDefault('alertMailTransport')).toBe('none');
    expect(read('infra/main.parameters.json')).toContain('"${ALERT_MAIL_TRANSPORT=none}"');
    expect(paramDefault('alertRecipients')).toBe('');
  });

  it("the settings the defaults produce pass the app's own check, so no function fails on them", () => {
    const sample = JSON.parse(read('local.settings.sample.json')) as { Values: Record<string, string> };
    const env = {
      ...sample.Values,
      ALERT_MAIL_TRANSPORT: paramDefault('alertMailTransport'),
      ALERT_RECIPIENTS: paramDefault('alertRecipients'),
      ALERT_SENDER: undefined,
      ACS_ENDPOINT: undefined,
      SMTP_HOST: undefined,
    };
    expect(() => loadConfig(env)).not.toThrow();
    expect(loadConfig(env).alerts.transport).toBe('none');
  });

  it('stops a deployment whose mail settings cannot work (fail()), instead of shipping an app that cannot start', () => {
    // Without the guard, transport acs or smtp with no recipients made every getConfig() throw.
    const guarded = (setting: string) =>
      BICEP_SETTINGS.get(setting)?.map((v) => v.text.replace(/\s+/g, ' ')) ?? [];
    const every = (setting: string, pattern: RegExp) => {
      expect(guarded(setting).length).toBeGreaterThan(0);
      for (const value of guarded(setting)) expect(value).toMatch(pattern);
    };
    every(
      'ALERT_RECIPIENTS',
      /^alertMailTransport == 'none' \|\| !empty\(alertRecipients\) \? alertRecipients : fail\('alertRecipients is required/,
    );
    every('SMTP_HOST', /^!empty\(smtpHost\) \? smtpHost : fail\(/);
    expect(guarded('ALERT_SENDER')).toContainEqual(
      expect.stringMatching(/^!empty\(alertSender\) \? alertSender : fail\(/),
    );
    // And the app agrees those combinations cannot work.
    expect(() => loadConfig({ ALERT_MAIL_TRANSPORT: 'smtp', SMTP_HOST: 'smtp.contoso.com' })).toThrow(
      /ALERT_RECIPIENTS/,
    );
  });
});

describe('API versions', () => {
  /** Resource types allowed on a preview API version, each with the reason. None today. */
  const PREVIEW_ALLOWED: Record<string, string> = {};
  const resources = FILES.flatMap((file) => resourceDeclarations(tree(file)).map((r) => ({ file, ...r })));

  it.each(resources.map((r) => [`${r.file}:${r.line} ${r.symbol}`, r] as const))(
    '%s is pinned to a dated, non-preview API version',
    (_label, resource) => {
      expect(resource.type).toMatch(/^Microsoft\.\w+\/[\w/]+$/);
      expect(resource.apiVersion).toMatch(/^\d{4}-\d{2}-\d{2}(-preview)?$/);
      if (!(resource.type in PREVIEW_ALLOWED)) expect(resource.apiVersion).not.toMatch(/preview/);
    },
  );

  it('uses one API version per resource type across all files', () => {
    const versions = new Map<string, Set<string>>();
    for (const r of resources)
      versions.set(r.type, (versions.get(r.type) ?? new Set()).add(r.apiVersion ?? ''));
    const mixed = [...versions].filter(([, v]) => v.size > 1).map(([t, v]) => `${t}: ${[...v].join(', ')}`);
    expect(mixed).toEqual([]);
  });
});

describe('no secrets in outputs or app settings', () => {
  const SECRET_CALL =
    /\blist(Keys|AccountSas|ServiceSas|ConnectionStrings|Secrets)\s*\(|primaryKey|secondaryKey|AccountKey=|SharedAccessKey|sig=/i;
  const outputs = FILES.flatMap((file) => declarations(tree(file), 'output').map((o) => ({ file, ...o })));

  it.each(outputs.map((o) => [`${o.file} ${o.name}`, o] as const))('%s holds no secret', (_label, output) => {
    expect(output.name).not.toMatch(/secret|password|connection_?string|sas|token|KEY(?!_VAULT)/i);
    expect(output.value?.text ?? '').not.toMatch(SECRET_CALL);
  });

  it.each(settingsVars().map((v) => [`${v.file} ${v.name}`, v] as const))(
    '%s holds no secret',
    (_label, v) => {
      expect(v.value.text).not.toMatch(SECRET_CALL);
    },
  );

  it('the SMTP password is a Key Vault reference, not a value', () => {
    const values = BICEP_SETTINGS.get('SMTP_PASSWORD') ?? [];
    expect(values).toHaveLength(1);
    expect(values[0]!.text).toMatch(
      /^'@Microsoft\.KeyVault\(VaultName=\$\{[^}]+\};SecretName=\$\{[^}]+\}\)'$/,
    );
  });

  it('listKeys appears only in the Event Grid webhook URL', () => {
    const withListKeys = FILES.filter((file) => /\blistKeys\s*\(/.test(tree(file).text));
    expect(withListKeys).toEqual(['infra/modules/eventSubscription.bicep']);
    const root = tree('infra/modules/eventSubscription.bicep');
    const holders = declarations(root, 'var').filter((v) => /\blistKeys\s*\(/.test(v.value?.text ?? ''));
    expect(holders.map((v) => v.name)).toEqual(['webhookUrl']);
    const subscription = resourceDeclarations(root).find((r) => r.type.endsWith('/eventSubscriptions'));
    expect(property(subscription?.body, 'properties', 'destination', 'properties', 'endpointUrl')?.text).toBe(
      'webhookUrl',
    );
  });

  it('no parameter carries a default that looks like a secret', () => {
    for (const file of FILES) {
      for (const p of declarations(tree(file), 'param')) expect(p.value?.text ?? '').not.toMatch(SECRET_CALL);
    }
  });
});

describe('role assignments', () => {
  const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
  const assignments = FILES.flatMap((file) =>
    resourceDeclarations(tree(file))
      .filter((r) => r.type === 'Microsoft.Authorization/roleAssignments')
      .map((r) => ({ file, ...r })),
  );

  /** The least-privilege picture: a new role means changing this list on purpose. */
  const EXPECTED_ROLES = [
    'infra/modules/communication.bicep communicationEmailServiceOwnerRoleId',
    'infra/modules/durableTaskScheduler.bicep durableTaskDataContributorRoleId',
    'infra/modules/exportsWiring.bicep storageAccountContributorRoleId',
    'infra/modules/exportsWiring.bicep storageBlobDataReaderRoleId',
    'infra/modules/exportsWiring.bicep storageQueueDataContributorRoleId',
    'infra/modules/hostStorage.bicep storageBlobDataOwnerRoleId',
    'infra/modules/hostStorage.bicep storageQueueDataContributorRoleId',
    'infra/modules/hostStorage.bicep storageTableDataContributorRoleId',
    'infra/modules/keyVault.bicep keyVaultSecretsOfficerRoleId',
    'infra/modules/monitoring.bicep monitoringMetricsPublisherRoleId',
  ];

  const roleVar = (body: BicepNode | undefined): string | undefined => {
    const call = property(body, 'properties', 'roleDefinitionId');
    if (call?.type !== 'call_expression') return undefined;
    const [fn, args] = call.namedChildren;
    const [kind, role] = args?.namedChildren ?? [];
    if (fn?.text !== 'subscriptionResourceId') return undefined;
    if (stringValue(kind) !== 'Microsoft.Authorization/roleDefinitions' || role?.type !== 'identifier')
      return undefined;
    return role.text;
  };

  it('grants exactly the expected roles', () => {
    expect(assignments.map((a) => `${a.file} ${roleVar(a.body)}`).sort()).toEqual(EXPECTED_ROLES);
  });

  it.each(assignments.map((a) => [`${a.file} ${a.symbol}`, a] as const))(
    '%s is for the app identity, with a named and justified role GUID',
    (_label, a) => {
      expect(property(a.body, 'properties', 'principalId')?.text).toBe('principalId');
      expect(stringValue(property(a.body, 'properties', 'principalType'))).toBe('ServicePrincipal');
      const name = roleVar(a.body);
      expect(name).toMatch(/RoleId$/);
      const variable = declarations(tree(a.file), 'var').find((v) => v.name === name);
      expect(stringValue(variable?.value)).toMatch(GUID);
      // The justification sits next to the GUID: a comment naming the role and why.
      expect(variable?.comment).toMatch(/^\/\/ .{20,}/s);
      // Deterministic names: redeploying updates, never duplicates.
      expect(property(a.body, 'name')?.text).toMatch(new RegExp(`^guid\\(.+, principalId, ${name}\\)$`));
    },
  );

  it('every module that grants roles receives the app identity as principalId', () => {
    const granting = new Set(assignments.map((a) => a.file));
    const modules = moduleDeclarations(tree(MAIN)).filter((m) => granting.has(join('infra', m.path)));
    expect(new Set(modules.map((m) => join('infra', m.path)))).toEqual(granting);
    for (const m of modules) {
      expect(property(m.body, 'params', 'principalId')?.text).toBe('identity.outputs.principalId');
    }
  });
});

describe('azd wiring', () => {
  const azureYaml = read('azure.yaml');

  it('azure.yaml declares service api: the project root, a TypeScript function app', () => {
    const service = /\nservices:\n {2}api:\n((?: {4}.*\n)+)/.exec(azureYaml)?.[1] ?? '';
    expect(service).toMatch(/^ {4}project: \.\/$/m);
    expect(service).toMatch(/^ {4}language: ts$/m);
    expect(service).toMatch(/^ {4}host: function$/m);
  });

  it('azure.yaml has azd zip the staged package (npm run package), not the project folder', () => {
    // Zipping the project would ship the dev tree; test/integration/package.test.ts proves the stage.
    const service = /\nservices:\n {2}api:\n((?: {4}.*\n)+)/.exec(azureYaml)?.[1] ?? '';
    expect(service).toMatch(/^ {4}dist: \.package\/app$/m);
    expect(service).toMatch(/^ {4}remoteBuild: false$/m);
    const prepackage = [...service.matchAll(/^ +run: (.+)$/gm)].map((m) => m[1]);
    expect(prepackage).toEqual(['npm run package -- --no-zip', 'npm run package -- --no-zip']);
    expect(JSON.parse(read('package.json')).scripts.package).toBe('tsx dev/package/cli.ts');
  });

  it('durable functions get an always-ready instance and a 10 s queue polling cap, as Microsoft recommends on Flex', () => {
    const site = resourceDeclarations(tree(APP_MODULE)).find(
      (r) => r.type === 'Microsoft.Web/sites' && !r.existing,
    );
    const scale = property(
      site?.body,
      'properties',
      'functionAppConfig',
      'scaleAndConcurrency',
      'alwaysReady',
    );
    expect(scale?.text).toMatch(/name: 'durable', instanceCount: durableAlwaysReadyInstances/);
    expect(
      declarations(tree(MAIN), 'param').find((p) => p.name === 'durableAlwaysReadyInstances')?.value?.text,
    ).toBe('1');
    const host = JSON.parse(read('host.json'));
    expect(host.extensions.durableTask.storageProvider.maxQueuePollingInterval).toBe('00:00:10');
  });

  it('azd down resets the Event Grid phase flag, so the next azd up starts from phase one', () => {
    expect(azureYaml).toMatch(/\n {2}postdown:\n(?: {4}.*\n)+/);
    expect([...azureYaml.matchAll(/run: azd env set EXPORT_EVENTS_ENABLED false$/gm)]).toHaveLength(2);
  });

  it('azure.yaml hooks point at scripts that exist', () => {
    const scripts = [...azureYaml.matchAll(/^\s+run: (\S+)$/gm)].map((m) => m[1]!);
    expect(scripts).toEqual(['./infra/hooks/postdeploy.sh', './infra/hooks/postdeploy.ps1']);
    for (const script of scripts) expect(existsSync(join(ROOT, script))).toBe(true);
  });

  it('the function app carries the azd-service-name tag of that service', () => {
    const site = resourceDeclarations(tree(APP_MODULE)).find(
      (r) => r.type === 'Microsoft.Web/sites' && !r.existing,
    );
    const tags = property(site?.body, 'tags');
    expect(tags && allObjectKeys(tags)).toContain('azd-service-name');
    expect(tags?.text).toMatch(/'azd-service-name': 'api'/);
  });

  it('runs Node 22 LTS on Flex Consumption (FC1); @types/node is no newer than that runtime', () => {
    const resources = resourceDeclarations(tree(APP_MODULE));
    const plan = resources.find((r) => r.type === 'Microsoft.Web/serverfarms');
    expect(stringValue(property(plan?.body, 'sku', 'name'))).toBe('FC1');
    const site = resources.find((r) => r.type === 'Microsoft.Web/sites' && !r.existing);
    const runtime = property(site?.body, 'properties', 'functionAppConfig', 'runtime');
    expect(stringValue(property(runtime, 'name'))).toBe('node');
    expect(stringValue(property(runtime, 'version'))).toBe('22');
    const pkg = JSON.parse(read('package.json')) as { devDependencies: Record<string, string> };
    expect(pkg.devDependencies['@types/node']).toMatch(/^\^?20\./);
  });

  it('main.parameters.json maps only parameters main.bicep declares', () => {
    const parameters = JSON.parse(read('infra/main.parameters.json')) as {
      parameters: Record<string, unknown>;
    };
    const declared = new Set(declarations(tree(MAIN), 'param').map((p) => p.name));
    expect(Object.keys(parameters.parameters).filter((name) => !declared.has(name))).toEqual([]);
    expect(Object.keys(parameters.parameters)).toEqual(
      expect.arrayContaining(['environmentName', 'location']),
    );
  });

  it('every module path exists', () => {
    for (const m of moduleDeclarations(tree(MAIN))) expect(FILES).toContain(join('infra', m.path));
  });
});

describe('security posture of the resources', () => {
  const find = (file: string, type: string): BicepNode | undefined =>
    resourceDeclarations(tree(file)).find((r) => r.type === type && !r.existing)?.body;

  it.each([
    [
      'host storage: no shared keys',
      'infra/modules/hostStorage.bicep',
      'Microsoft.Storage/storageAccounts',
      ['properties', 'allowSharedKeyAccess'],
      'false',
    ],
    [
      'host storage: no public blobs',
      'infra/modules/hostStorage.bicep',
      'Microsoft.Storage/storageAccounts',
      ['properties', 'allowBlobPublicAccess'],
      'false',
    ],
    [
      'exports storage: no public blobs',
      'infra/modules/exportsAccount.bicep',
      'Microsoft.Storage/storageAccounts',
      ['properties', 'allowBlobPublicAccess'],
      'false',
    ],
    [
      'Key Vault: RBAC mode',
      'infra/modules/keyVault.bicep',
      'Microsoft.KeyVault/vaults',
      ['properties', 'enableRbacAuthorization'],
      'true',
    ],
    [
      'Key Vault: purge protection',
      'infra/modules/keyVault.bicep',
      'Microsoft.KeyVault/vaults',
      ['properties', 'enablePurgeProtection'],
      'true',
    ],
    [
      'Key Vault: soft delete',
      'infra/modules/keyVault.bicep',
      'Microsoft.KeyVault/vaults',
      ['properties', 'enableSoftDelete'],
      'true',
    ],
    [
      'Application Insights: local auth off',
      'infra/modules/monitoring.bicep',
      'Microsoft.Insights/components',
      ['properties', 'DisableLocalAuth'],
      'true',
    ],
    [
      'Log Analytics: local auth off',
      'infra/modules/monitoring.bicep',
      'Microsoft.OperationalInsights/workspaces',
      ['properties', 'features', 'disableLocalAuth'],
      'true',
    ],
    ['function app: HTTPS only', APP_MODULE, 'Microsoft.Web/sites', ['properties', 'httpsOnly'], 'true'],
  ] as const)('%s', (_label, file, type, path, expected) => {
    expect(property(find(file, type), ...path)?.text).toBe(expected);
  });

  it('the Event Grid subscription delivers only BlobCreated events for manifest.json in the exports container', () => {
    const body = resourceDeclarations(tree('infra/modules/eventSubscription.bicep')).find((r) =>
      r.type.endsWith('/eventSubscriptions'),
    )?.body;
    const filter = property(body, 'properties', 'filter');
    expect(property(filter, 'includedEventTypes')?.text).toBe("['Microsoft.Storage.BlobCreated']");
    expect(stringValue(property(filter, 'subjectEndsWith'))).toBe('manifest.json');
    expect(property(filter, 'subjectBeginsWith')?.text).toBe(
      "'/blobServices/default/containers/${containerName}/'",
    );
  });

  it('the workspace function CostAutopilotEvents unpacks the lines the app writes', () => {
    const search = find(
      'infra/modules/monitoring.bicep',
      'Microsoft.OperationalInsights/workspaces/savedSearches',
    );
    expect(stringValue(property(search, 'properties', 'functionAlias'))).toBe('CostAutopilotEvents');
    const query = stringValue(property(search, 'properties', 'query')) ?? '';
    const prefix = /startswith '(.*?)'/.exec(query.replace(/\\'/g, "'"))?.[1];
    expect(prefix).toBeDefined();
    // Every event line the app writes starts with that prefix, whatever its fields.
    const line = logEventLine('landing.rejected', { reason: 'x', event: 'spoof' });
    expect(line.startsWith(prefix!)).toBe(true);
    expect(query).toContain('parse_json(Message)');
    expect(query).toMatch(/^AppTraces\b/);
  });

  it('the webhook names the blob trigger src/functions/exportLanded.ts registers, on ExportsStorage via EventGrid', () => {
    const name = stringValue(
      declarations(tree(MAIN), 'var').find((v) => v.name === 'landingFunctionName')?.value,
    );
    // The real registration, as Azure's worker would receive it, with Azure's default source setting.
    const saved = process.env.LANDING_TRIGGER_SOURCE;
    delete process.env.LANDING_TRIGGER_SOURCE;
    try {
      jest.isolateModules(() => {
        /* eslint-disable @typescript-eslint/no-require-imports -- jest.isolateModules needs require */
        require('../../src/functions/exportLanded');
        const stub = require('../../dev/host/functionsCoreStub') as typeof FunctionsCoreStub;
        /* eslint-enable @typescript-eslint/no-require-imports */
        const trigger = stub.findRegistration(name!).trigger;
        expect(trigger).toMatchObject({
          type: 'blobTrigger',
          source: 'EventGrid',
          connection: 'ExportsStorage',
        });
        expect(String(trigger.path)).toMatch(/^%EXPORTS_CONTAINER%\//);
      });
    } finally {
      if (saved !== undefined) process.env.LANDING_TRIGGER_SOURCE = saved;
    }
  });
});

describe('Durable Functions backend', () => {
  const param = (name: string) => declarations(tree(MAIN), 'param').find((p) => p.name === name);
  const setting = (name: string) => BICEP_SETTINGS.get(name)?.[0];
  const DTS = 'infra/modules/durableTaskScheduler.bicep';

  it('is Azure Storage by default, matching host.json, and the Durable Task Scheduler on request', () => {
    expect(stringValue(param('durableBackend')?.value)).toBe('AzureStorage');
    expect(JSON.parse(read('host.json')).extensions.durableTask.storageProvider.type).toBe('AzureStorage');
    expect(read(MAIN)).toMatch(
      /module durableTaskScheduler 'modules\/durableTaskScheduler\.bicep' = if \(durableBackend == 'DurableTaskScheduler'\)/,
    );
    expect(read('infra/main.parameters.json')).toMatch(
      /"durableBackend": \{ "value": "\$\{DURABLE_BACKEND=AzureStorage\}" \}/,
    );
  });

  it('points the extension at the scheduler with azureManaged and an identity connection, only for that backend', () => {
    const holder = declarations(tree(MAIN), 'var').find((v) => v.name === 'durableSchedulerSettings');
    expect(holder?.value?.text).toMatch(/^durableBackend == 'DurableTaskScheduler'/);
    expect(
      stringValue(setting('AzureFunctionsJobHost__extensions__durableTask__storageProvider__type')),
    ).toBe('azureManaged');
    const connectionName = stringValue(
      setting('AzureFunctionsJobHost__extensions__durableTask__storageProvider__connectionStringName'),
    );
    expect(connectionName).toBe('DURABLE_TASK_SCHEDULER_CONNECTION_STRING');
    const connection = setting(connectionName!)?.text ?? '';
    expect(connection).toMatch(/Endpoint=\$\{durableTaskScheduler!\.outputs\.endpoint\}/);
    // The app's user-assigned identity, never a key.
    expect(connection).toMatch(/Authentication=ManagedIdentity;ClientID=\$\{identity\.outputs\.clientId\}/);
  });

  it('creates the task hub under the name host.json uses, and grants the data role on it', () => {
    const resources = resourceDeclarations(tree(DTS));
    const hub = resources.find((r) => r.type === 'Microsoft.DurableTask/schedulers/taskHubs');
    expect(property(hub?.body, 'name')?.text).toBe('taskHubName');
    const module = moduleDeclarations(tree(MAIN)).find(
      (m) => m.path === 'modules/durableTaskScheduler.bicep',
    );
    expect(property(module?.body, 'params', 'taskHubName')?.text).toBe('durableTaskHub');
    expect(JSON.parse(read('host.json')).extensions.durableTask.hubName).toBe('%DURABLE_TASK_HUB%');
    const grant = resources.find((r) => r.type === 'Microsoft.Authorization/roleAssignments');
    expect(property(grant?.body, 'scope')?.text).toBe('taskHub');
  });
});

describe('who may call (entraClientId)', () => {
  it('turns App Service Authentication on only with entraClientId, answering 401 without a token', () => {
    const auth = resourceDeclarations(tree(APP_MODULE)).find((r) => r.symbol === 'auth');
    expect(auth?.type).toBe('Microsoft.Web/sites/config');
    expect(read(APP_MODULE)).toMatch(/resource auth '[^']+' = if \(!empty\(entraClientId\)\)/);
    expect(stringValue(property(auth?.body, 'name'))).toBe('authsettingsV2');
    const validation = property(auth?.body, 'properties', 'globalValidation');
    expect(property(validation, 'requireAuthentication')?.text).toBe('true');
    expect(stringValue(property(validation, 'unauthenticatedClientAction'))).toBe('Return401');
    expect(
      property(
        auth?.body,
        'properties',
        'identityProviders',
        'azureActiveDirectory',
        'registration',
        'clientId',
      )?.text,
    ).toBe('entraClientId');
  });

  it('sets AUTH_MODE=entra exactly when entraClientId is given, and passes it to the app module', () => {
    expect([...new Set(BICEP_SETTINGS.get('AUTH_MODE')?.map((n) => n.text))]).toEqual([
      "empty(entraClientId) ? 'functionKey' : 'entra'",
    ]);
    const api = moduleDeclarations(tree(MAIN)).find((m) => m.path === 'modules/functionApp.bicep');
    expect(property(api?.body, 'params', 'entraClientId')?.text).toBe('entraClientId');
  });
});
