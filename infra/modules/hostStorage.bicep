// The app's own storage account: Functions host state (AzureWebJobsStorage), the Flex deployment
// package container, Durable Functions' task hub, and the catalog tables. Identity-only access.
param name string
param location string
param tags object
param deploymentContainerName string
@description('Principal id of the app identity (the only principal granted roles by this template).')
param principalId string

// One flag per storage service, with the reason it is on (the azd Flex quickstart habit).
var storageEndpointConfig = {
  enableBlob: true // AzureWebJobsStorage host locks and keys, the Flex deployment package, Durable large messages
  enableQueue: true // Durable Functions control and work-item queues
  enableTable: true // Durable Functions history/instances tables and the app's catalog tables
}

// Storage Blob Data Owner: the host manages its own containers (leases, keys, blob receipts) and
// the Flex platform reads the deployment package with this identity; Contributor cannot set ACLs
// the host expects, Owner is what the Functions docs list for AzureWebJobsStorage.
var storageBlobDataOwnerRoleId = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
// Storage Queue Data Contributor: Durable Functions creates, reads and deletes its task-hub queues.
var storageQueueDataContributorRoleId = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
// Storage Table Data Contributor: Durable history/instance tables and the catalog tables
// (exports, tokens, landings, backfillRuns) are created and upserted by the app.
var storageTableDataContributorRoleId = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    allowSharedKeyAccess: false // identity only: no account key can reach the host or the catalog
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    defaultToOAuthAuthentication: true
    dnsEndpointType: 'Standard'
    publicNetworkAccess: 'Enabled'
    networkAcls: { defaultAction: 'Allow', bypass: 'AzureServices' }
  }
}

resource blobServices 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobServices
  name: deploymentContainerName
  properties: { publicAccess: 'None' }
}

resource blobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (storageEndpointConfig.enableBlob) {
  name: guid(storage.id, principalId, storageBlobDataOwnerRoleId)
  scope: storage
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataOwnerRoleId)
  }
}

resource queueContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (storageEndpointConfig.enableQueue) {
  name: guid(storage.id, principalId, storageQueueDataContributorRoleId)
  scope: storage
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageQueueDataContributorRoleId)
  }
}

resource tableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (storageEndpointConfig.enableTable) {
  name: guid(storage.id, principalId, storageTableDataContributorRoleId)
  scope: storage
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageTableDataContributorRoleId)
  }
}

output name string = storage.name
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output queueEndpoint string = storage.properties.primaryEndpoints.queue
output tableEndpoint string = storage.properties.primaryEndpoints.table
