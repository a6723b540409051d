// The Function App on Flex Consumption (Linux, Node 20), running as the user-assigned identity.
// Flex takes runtime, version and scale from functionAppConfig: FUNCTIONS_EXTENSION_VERSION,
// FUNCTIONS_WORKER_RUNTIME, WEBSITE_RUN_FROM_PACKAGE and WEBSITE_CONTENT* are not app settings here.
param name string
param planName string
param location string
param tags object
param identityId string
param identityClientId string
param applicationInsightsName string
param hostBlobEndpoint string
param hostQueueEndpoint string
param hostTableEndpoint string
param deploymentContainerName string
@description('The app\'s own settings (src/config.ts); merged over the host settings below.')
param appSettings object
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int
@allowed([512, 2048, 4096])
param instanceMemoryMB int
@description('Always-ready instances for the durable group (orchestrators, activities). Microsoft recommends 1 for Durable Functions on Flex; 0 saves the baseline cost and accepts cold starts.')
@minValue(0)
param durableAlwaysReadyInstances int
@description('Entra app registration of the API; empty leaves App Service Authentication off.')
param entraClientId string = ''

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// Settings the host and the Azure SDK read. AzureWebJobsStorage is also the catalog's connection
// (src/config.ts storage.catalog), in the NAME__*ServiceUri / __credential / __clientId convention.
var hostSettings = {
  AzureWebJobsStorage__blobServiceUri: hostBlobEndpoint
  AzureWebJobsStorage__queueServiceUri: hostQueueEndpoint
  AzureWebJobsStorage__tableServiceUri: hostTableEndpoint
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  // DefaultAzureCredential / ManagedIdentityCredential pick the user-assigned identity from this
  // (Cost Management, Key Vault and ACS clients).
  AZURE_CLIENT_ID: identityClientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { name: 'FC1', tier: 'FlexConsumption' }
  properties: { reserved: true }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    // Key Vault references in app settings (SMTP_PASSWORD) resolve with the same identity.
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${hostBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
        // "Set the always ready instance count for the durable group to 1" (Durable Functions Azure
        // Storage provider docs, "Flex Consumption plan"): orchestrations otherwise wait for a cold start.
        alwaysReady: durableAlwaysReadyInstances > 0 ? [{ name: 'durable', instanceCount: durableAlwaysReadyInstances }] : []
      }
      // Node 22 LTS: Node 20 reached end of life in April 2026; 22 is the Flex stack's default Node
      // (functionAppStacks, Get-AzFunctionAppFlexConsumptionRuntime).
      runtime: { name: 'node', version: '22' }
    }
  }
}

resource settings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: functionApp
  name: 'appsettings'
  properties: union(hostSettings, appSettings)
}

// App Service Authentication in front of the app (AUTH_MODE=entra): validates the caller's Entra
// token, answers 401 without one, and passes the claims (app roles) in x-ms-client-principal, a
// header it strips from outside requests. /api/health stays open for probes.
resource auth 'Microsoft.Web/sites/config@2024-04-01' = if (!empty(entraClientId)) {
  parent: functionApp
  name: 'authsettingsV2'
  properties: {
    platform: { enabled: true }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'Return401'
      excludedPaths: ['/api/health']
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: entraClientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
        }
        validation: { allowedAudiences: ['api://${entraClientId}', entraClientId] }
      }
    }
    login: { tokenStore: { enabled: false } }
  }
}

output name string = functionApp.name
output id string = functionApp.id
output defaultHostName string = functionApp.properties.defaultHostName
