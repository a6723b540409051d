// Cost Export Autopilot: everything `azd up` needs, in one resource group (plus role assignments and
// the Event Grid system topic in the exports account's resource group when that account already exists).
// Naming: abbreviation prefix + resourceToken, each name overridable (the azd Flex quickstart convention).
targetScope = 'subscription'

// ---------------------------------------------------------------------------------------------------
// Parameters: azd environment
// ---------------------------------------------------------------------------------------------------
@minLength(1)
@maxLength(64)
@description('Name of the azd environment; seeds every generated name.')
param environmentName string

@minLength(1)
@description('Region for the app and its resources (Flex Consumption must be available there).')
@metadata({ azd: { type: 'location' } })
param location string

param resourceGroupName string = ''
param functionAppName string = ''
param hostStorageAccountName string = ''
param keyVaultName string = ''

// ---------------------------------------------------------------------------------------------------
// Parameters: where exports land
// ---------------------------------------------------------------------------------------------------
@description('Resource id of an existing exports storage account (any subscription / resource group the deployer can assign roles in). Empty: create a new account.')
param exportsStorageAccountId string = ''
@description('Container the exports write to and the blob trigger watches (EXPORTS_CONTAINER).')
param exportsContainerName string = 'msexports'
@description('New exports account only: keep true. Cost Management refuses to create or update an export whose destination account has shared keys disabled, resourceId (identity) destinations included (azure-cli#32912, azure-powershell#29424), and SAS-token delivery needs an account SAS, which the key signs.')
param exportsAllowSharedKeyAccess bool = true
@description('Name of the exports account\'s existing Event Grid system topic, if it has one (an account can have only one). Empty: create one.')
param exportsSystemTopicName string = ''
@description('Grant Storage Account Contributor on the exports account, needed only when the app creates exports with a resourceId destination.')
param grantExportsDestinationWrite bool = false
@description('Second phase: subscribe the blob trigger\'s webhook to BlobCreated events. Set by the postdeploy hook once the code is deployed.')
param exportEventsEnabled bool = false

// ---------------------------------------------------------------------------------------------------
// Parameters: the app's settings (src/config.ts); defaults equal the code's defaults
// ---------------------------------------------------------------------------------------------------
@description('Billing or RBAC scopes whose exports the app manages, separated by ";" (MANAGED_SCOPES).')
param managedScopes string = ''
param costManagementClientType string = 'CostExportAutopilot'
// Mail starts off: with no recipients there is no safe default, and a transport without them would
// make every function fail its settings check. The status page and /api/health say mail is off.
@description('How alert digests are mailed (ALERT_MAIL_TRANSPORT): none (default, mail off), acs (creates ACS Email) or smtp.')
@allowed(['acs', 'smtp', 'none'])
param alertMailTransport string = 'none'
@description('Digest recipients separated by ";" (ALERT_RECIPIENTS). Required unless alertMailTransport is none.')
param alertRecipients string = ''
@description('SMTP only: the From address. With ACS the Azure-managed domain\'s DoNotReply address is used.')
param alertSender string = ''
@description('ACS data location, e.g. "United States", "Europe".')
param acsDataLocation string = 'United States'
param smtpHost string = ''
param smtpPort int = 587
param smtpSecure bool = false
param smtpUser string = ''
@description('SMTP only: name of the Key Vault secret holding the SMTP password (set it in the vault after deployment).')
param smtpPasswordSecretName string = 'smtp-password'
param sasWatchSchedule string = '0 0 6 * * *'
param sasAlertThresholdsDays string = '30,14,7,3,1,0'
param outOfBandSchedule string = '0 0 */6 * * *'
@minValue(1)
@maxValue(50)
param outOfBandConcurrency int = 4
param exportSyncSchedule string = '0 30 5 * * *'
param fleetReconcileSchedule string = '0 45 5 * * *'
@minValue(1)
@maxValue(50)
param fleetConcurrency int = 4
param ledgerSweepSchedule string = '0 45 6 * * *'
@minValue(1)
@maxValue(31)
param ledgerFinalAfterDays int = 4
@minValue(0)
@maxValue(720)
param ledgerGraceHours int = 12
@allowed(['off', 'report', 'heal'])
param healingPolicy string = 'report'
@description('Per-scope healing policies: scope=policy pairs, comma-separated.')
param healingScopes string = ''
@minValue(1)
@maxValue(8760)
param healingCooldownHours int = 24
@minValue(1)
@maxValue(20)
param healingMaxAttempts int = 3
@minValue(1)
@maxValue(1000)
param healingMaxPerSweep int = 20
@minValue(1)
@maxValue(12)
param backfillMaxConcurrency int = 3
@minValue(1)
@maxValue(10)
param backfillMaxAttempts int = 3
@minValue(5)
@maxValue(2880)
param backfillLandingTimeoutMinutes int = 480
@minValue(1)
@maxValue(240)
param backfillPollIntervalMinutes int = 15
@minLength(3)
@maxLength(45)
@description('Application (client) ID of an Entra app registration for the API. When set, App Service Authentication requires an Entra token on every call (401 otherwise) and the app checks its app roles reader and operator (AUTH_MODE=entra). Empty: function keys only.')
param entraClientId string = ''
param durableTaskHub string = 'costexportautopilot'
param durableCleanupSchedule string = '0 15 4 * * *'
@description('Where Durable Functions keeps orchestration state: AzureStorage (the host storage account; the default, nothing more to run) or DurableTaskScheduler (a managed scheduler; for large fleets, docs/deployment.md).')
@allowed(['AzureStorage', 'DurableTaskScheduler'])
param durableBackend string = 'AzureStorage'
@allowed(['Consumption', 'Dedicated'])
param durableTaskSchedulerSku string = 'Consumption'
@minValue(1)
@maxValue(3650)
param durableHistoryRetentionDays int = 30

// ---------------------------------------------------------------------------------------------------
// Parameters: scale
// ---------------------------------------------------------------------------------------------------
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100
@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048
@description('Always-ready instances for the durable group: 1 as Microsoft recommends for Durable Functions on Flex (a baseline cost); 0 to scale to zero.')
@minValue(0)
param durableAlwaysReadyInstances int = 1

// ---------------------------------------------------------------------------------------------------
// Variables
// ---------------------------------------------------------------------------------------------------
var abbrs = loadJsonContent('./abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }

// The blob trigger's registered name: part of the Event Grid webhook URL, so a rename needs re-provisioning.
var landingFunctionName = 'exportLanded'

var appName = !empty(functionAppName) ? functionAppName : '${abbrs.webSitesFunctions}api-${resourceToken}'
// Container names: 3-63 lower-case letters, digits and single hyphens.
var deploymentContainerName = 'app-package-${take(appName, 32)}-${take(resourceToken, 7)}'
// Storage account names: 3-24 lower-case letters and digits, globally unique.
var hostStorageName = !empty(hostStorageAccountName)
  ? hostStorageAccountName
  : '${abbrs.storageStorageAccounts}${resourceToken}'
// Key Vault names: 3-24 letters, digits and hyphens, globally unique (and reserved while soft-deleted).
var vaultName = !empty(keyVaultName) ? keyVaultName : '${abbrs.keyVaultVaults}${resourceToken}'

// An existing account's id: /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/{name}
var createExportsAccount = empty(exportsStorageAccountId)
var exportsIdParts = split(exportsStorageAccountId, '/')
var exportsSubscriptionId = createExportsAccount ? subscription().subscriptionId : exportsIdParts[2]
var exportsResourceGroupName = createExportsAccount ? rg.name : exportsIdParts[4]
var exportsAccountName = createExportsAccount
  ? '${abbrs.storageStorageAccounts}exp${resourceToken}'
  : last(exportsIdParts)
var systemTopicName = !empty(exportsSystemTopicName)
  ? exportsSystemTopicName
  : '${abbrs.eventGridDomainsTopics}exports-${resourceToken}'

// ---------------------------------------------------------------------------------------------------
// Resources
// ---------------------------------------------------------------------------------------------------
resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}api-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    applicationInsightsName: '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
    principalId: identity.outputs.principalId
  }
}

module hostStorage 'modules/hostStorage.bicep' = {
  name: 'hostStorage'
  scope: rg
  params: {
    name: hostStorageName
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    principalId: identity.outputs.principalId
  }
}

module keyVault 'modules/keyVault.bicep' = {
  name: 'keyVault'
  scope: rg
  params: {
    name: vaultName
    location: location
    tags: tags
    principalId: identity.outputs.principalId
  }
}

module communication 'modules/communication.bicep' = if (alertMailTransport == 'acs') {
  name: 'communication'
  scope: rg
  params: {
    communicationServiceName: '${abbrs.communicationCommunicationServices}${resourceToken}'
    emailServiceName: '${abbrs.communicationEmailServices}${resourceToken}'
    tags: tags
    dataLocation: acsDataLocation
    principalId: identity.outputs.principalId
  }
}

module exportsAccount 'modules/exportsAccount.bicep' = {
  name: 'exportsAccount'
  scope: resourceGroup(exportsSubscriptionId, exportsResourceGroupName)
  params: {
    createAccount: createExportsAccount
    name: exportsAccountName
    location: location
    tags: tags
    containerName: exportsContainerName
    allowSharedKeyAccess: exportsAllowSharedKeyAccess
  }
}

module exportsWiring 'modules/exportsWiring.bicep' = {
  name: 'exportsWiring'
  scope: resourceGroup(exportsSubscriptionId, exportsResourceGroupName)
  params: {
    accountName: exportsAccount.outputs.name
    location: exportsAccount.outputs.location
    tags: tags
    principalId: identity.outputs.principalId
    systemTopicName: systemTopicName
    useExistingSystemTopic: !empty(exportsSystemTopicName)
    grantDestinationWrite: grantExportsDestinationWrite
  }
}

// Settings read by src/config.ts, by name. Storage connections use the host's identity convention
// (NAME__*ServiceUri + NAME__credential + NAME__clientId); no connection string or key anywhere.
// COST_MANAGEMENT_CA_FILE is deliberately absent: it trusts the local emulator's certificate only.
var coreSettings = {
  ExportsStorage__blobServiceUri: exportsAccount.outputs.blobEndpoint
  // The blob trigger's poison queue lives on the trigger's own account.
  ExportsStorage__queueServiceUri: exportsAccount.outputs.queueEndpoint
  ExportsStorage__credential: 'managedidentity'
  ExportsStorage__clientId: identity.outputs.clientId
  EXPORTS_CONTAINER: exportsContainerName
  LANDING_TRIGGER_SOURCE: 'EventGrid'
  // Where the SAS probe reaches a partner's account; follows the cloud's storage suffix.
  STORAGE_BLOB_ENDPOINT_TEMPLATE: 'https://{account}.blob.${environment().suffixes.storage}'
  // Follows the cloud the app is deployed to (public, US Gov, China).
  COST_MANAGEMENT_ENDPOINT: environment().resourceManager
  COST_MANAGEMENT_CLIENT_TYPE: costManagementClientType
  MANAGED_SCOPES: managedScopes
  SECRET_STORE: 'keyvault'
  KEY_VAULT_URI: keyVault.outputs.uri
  SAS_WATCH_SCHEDULE: sasWatchSchedule
  SAS_ALERT_THRESHOLDS_DAYS: sasAlertThresholdsDays
  ALERT_MAIL_TRANSPORT: alertMailTransport
  // fail(): a transport without recipients (or SMTP without host or sender) cannot work; stop the
  // deployment instead of shipping an app whose every function fails its settings check.
  ALERT_RECIPIENTS: alertMailTransport == 'none' || !empty(alertRecipients)
    ? alertRecipients
    : fail('alertRecipients is required when alertMailTransport is ${alertMailTransport}: azd env set ALERT_RECIPIENTS "finops@contoso.com", or ALERT_MAIL_TRANSPORT none')
  OUT_OF_BAND_SCHEDULE: outOfBandSchedule
  OUT_OF_BAND_CONCURRENCY: string(outOfBandConcurrency)
  EXPORT_SYNC_SCHEDULE: exportSyncSchedule
  FLEET_RECONCILE_SCHEDULE: fleetReconcileSchedule
  FLEET_CONCURRENCY: string(fleetConcurrency)
  LEDGER_SWEEP_SCHEDULE: ledgerSweepSchedule
  LEDGER_FINAL_AFTER_DAYS: string(ledgerFinalAfterDays)
  LEDGER_GRACE_HOURS: string(ledgerGraceHours)
  HEALING_POLICY: healingPolicy
  HEALING_SCOPES: healingScopes
  HEALING_COOLDOWN_HOURS: string(healingCooldownHours)
  HEALING_MAX_ATTEMPTS: string(healingMaxAttempts)
  HEALING_MAX_PER_SWEEP: string(healingMaxPerSweep)
  BACKFILL_MAX_CONCURRENCY: string(backfillMaxConcurrency)
  BACKFILL_MAX_ATTEMPTS: string(backfillMaxAttempts)
  BACKFILL_LANDING_TIMEOUT_MINUTES: string(backfillLandingTimeoutMinutes)
  BACKFILL_POLL_INTERVAL_MINUTES: string(backfillPollIntervalMinutes)
  AUTH_MODE: empty(entraClientId) ? 'functionKey' : 'entra'
  DURABLE_TASK_HUB: durableTaskHub
  DURABLE_CLEANUP_SCHEDULE: durableCleanupSchedule
  DURABLE_HISTORY_RETENTION_DAYS: string(durableHistoryRetentionDays)
}

// host.json names the Azure Storage provider; app settings override host.json values
// (AzureFunctionsJobHost__path__to__value), so the scheduler is chosen here without a second host.json.
// The connection string carries no secret: the app identity authenticates (ClientID selects it).
var durableSchedulerSettings = durableBackend == 'DurableTaskScheduler'
  ? {
      AzureFunctionsJobHost__extensions__durableTask__storageProvider__type: 'azureManaged'
      AzureFunctionsJobHost__extensions__durableTask__storageProvider__connectionStringName: 'DURABLE_TASK_SCHEDULER_CONNECTION_STRING'
      DURABLE_TASK_SCHEDULER_CONNECTION_STRING: 'Endpoint=${durableTaskScheduler!.outputs.endpoint};Authentication=ManagedIdentity;ClientID=${identity.outputs.clientId}'
    }
  : {}

var acsMailSettings = alertMailTransport == 'acs'
  ? {
      ACS_ENDPOINT: communication!.outputs.endpoint
      ALERT_SENDER: communication!.outputs.senderAddress
    }
  : {}

// The password is a Key Vault reference resolved by the platform with the app identity: the value
// itself never appears in the template, the deployment history or the app settings blade.
var smtpMailSettings = alertMailTransport == 'smtp'
  ? {
      ALERT_SENDER: !empty(alertSender) ? alertSender : fail('alertSender is required when alertMailTransport is smtp: azd env set ALERT_SENDER "costs@contoso.com"')
      SMTP_HOST: !empty(smtpHost) ? smtpHost : fail('smtpHost is required when alertMailTransport is smtp: azd env set SMTP_HOST "smtp.contoso.com"')
      SMTP_PORT: string(smtpPort)
      SMTP_SECURE: string(smtpSecure)
      SMTP_USER: smtpUser
      SMTP_PASSWORD: '@Microsoft.KeyVault(VaultName=${keyVault.outputs.name};SecretName=${smtpPasswordSecretName})'
    }
  : {}

module durableTaskScheduler 'modules/durableTaskScheduler.bicep' = if (durableBackend == 'DurableTaskScheduler') {
  name: 'durableTaskScheduler'
  scope: rg
  params: {
    name: '${abbrs.durableTaskSchedulers}${resourceToken}'
    location: location
    tags: tags
    taskHubName: durableTaskHub
    principalId: identity.outputs.principalId
    skuName: durableTaskSchedulerSku
  }
}

module api 'modules/functionApp.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: appName
    planName: '${abbrs.webServerFarms}${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    applicationInsightsName: monitoring.outputs.name
    hostBlobEndpoint: hostStorage.outputs.blobEndpoint
    hostQueueEndpoint: hostStorage.outputs.queueEndpoint
    hostTableEndpoint: hostStorage.outputs.tableEndpoint
    deploymentContainerName: deploymentContainerName
    appSettings: union(coreSettings, acsMailSettings, smtpMailSettings, durableSchedulerSettings)
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    durableAlwaysReadyInstances: durableAlwaysReadyInstances
    entraClientId: entraClientId
  }
}

module eventSubscription 'modules/eventSubscription.bicep' = if (exportEventsEnabled) {
  name: 'eventSubscription'
  scope: resourceGroup(exportsSubscriptionId, exportsResourceGroupName)
  params: {
    systemTopicName: exportsWiring.outputs.systemTopicName
    functionAppName: api.outputs.name
    functionAppResourceGroupName: rg.name
    functionAppSubscriptionId: subscription().subscriptionId
    containerName: exportsContainerName
    functionName: landingFunctionName
  }
}

// ---------------------------------------------------------------------------------------------------
// Outputs (azd stores them in the environment); ids and URLs only, never a key or secret
// ---------------------------------------------------------------------------------------------------
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = api.outputs.name
output SERVICE_API_NAME string = api.outputs.name
output SERVICE_API_BASE_URL string = 'https://${api.outputs.defaultHostName}/api'
// HTTP functions use function-level auth; fetch a key with the Azure CLI, never from these outputs.
output SERVICE_API_AUTH_HELP string = 'az functionapp keys list -g ${rg.name} -n ${api.outputs.name} --query functionKeys.default -o tsv'
// The identity a billing admin grants Cost Management roles to (docs/deployment.md).
output AZURE_APP_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output AZURE_APP_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_KEY_VAULT_URI string = keyVault.outputs.uri
output EXPORTS_ACCOUNT_RESOURCE_ID string = exportsAccount.outputs.id
output EXPORTS_CONTAINER string = exportsContainerName
output EXPORTS_EVENT_TOPIC_NAME string = exportsWiring.outputs.systemTopicName
output EXPORT_EVENTS_ENABLED bool = exportEventsEnabled
