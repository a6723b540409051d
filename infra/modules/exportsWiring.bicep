// Everything the app needs on the exports account, deployed into that account's resource group
// (which may sit in another subscription): read access, the blob trigger's poison queue, the Event
// Grid system topic. The subscription to the app's webhook is the second phase (eventSubscription.bicep).
param accountName string
@description('The exports account\'s own region: a system topic must live where its source does.')
param location string
param tags object
@description('Principal id of the app identity (the only principal granted roles by this template).')
param principalId string
@description('Name of the system topic to create, or of the account\'s existing one (an account can have only one).')
param systemTopicName string
param useExistingSystemTopic bool
@description('Grant Storage Account Contributor on this account, needed only when the app creates exports with a resourceId destination (same tenant). SAS-token delivery needs no role here.')
param grantDestinationWrite bool

// Storage Blob Data Reader: the blob trigger and the catalog read manifest.json and part files; the
// app never writes or deletes export data.
var storageBlobDataReaderRoleId = '2a2b9908-6ea1-4ae2-8e65-a410f84e7d1d'
// Storage Queue Data Contributor, scoped to the one poison queue below: after repeated failures the
// blob trigger writes the blob's name to `webjobs-blobtrigger-poison` on the trigger's own account.
var storageQueueDataContributorRoleId = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
// Storage Account Contributor (opt-in): Cost Management checks write access to the destination
// account when an export names it by resourceId. Broad (it includes listKeys), hence off by default.
var storageAccountContributorRoleId = '17d1049b-9a84-46fb-8f53-869881c3d3ab'

var poisonQueueName = 'webjobs-blobtrigger-poison'

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: accountName
}

// Existing on purpose: re-declaring the service would reset a partner account's queue CORS rules.
resource queueServices 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' existing = {
  parent: account
  name: 'default'
}

resource poisonQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: queueServices
  name: poisonQueueName
}

resource blobReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, principalId, storageBlobDataReaderRoleId)
  scope: account
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataReaderRoleId)
  }
}

resource poisonQueueWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(poisonQueue.id, principalId, storageQueueDataContributorRoleId)
  scope: poisonQueue
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageQueueDataContributorRoleId)
  }
}

resource destinationWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (grantDestinationWrite) {
  name: guid(account.id, principalId, storageAccountContributorRoleId)
  scope: account
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageAccountContributorRoleId)
  }
}

resource newSystemTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' = if (!useExistingSystemTopic) {
  name: systemTopicName
  location: location
  tags: tags
  properties: {
    source: account.id
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

output systemTopicName string = useExistingSystemTopic ? systemTopicName : newSystemTopic.name
