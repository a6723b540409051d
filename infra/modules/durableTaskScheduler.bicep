// The Durable Task Scheduler backend for Durable Functions (durableBackend = 'DurableTaskScheduler'):
// a scheduler, one task hub named like DURABLE_TASK_HUB, and the data role for the app identity.
// For large fleets: orchestration state lives in a managed service instead of the host storage
// account's queues and tables, so thousands of concurrent backfill months and round pages do not
// compete with the app's own tables for that account's request rate.
param name string
param location string
param tags object
param taskHubName string
param principalId string
@description('Consumption: pay per action, for variable load; Dedicated: reserved capacity units for steady high throughput.')
@allowed(['Consumption', 'Dedicated'])
param skuName string = 'Consumption'

// Durable Task Data Contributor: every data operation on the task hub (schedule, run work items,
// query and purge instances), which the Durable Functions extension needs; scoped to this task hub.
var durableTaskDataContributorRoleId = '0ad04412-c4d5-4796-b79c-f76d14c8d402'

resource scheduler 'Microsoft.DurableTask/schedulers@2025-11-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    sku: skuName == 'Dedicated' ? { name: 'Dedicated', capacity: 1 } : { name: 'Consumption' }
    // An empty list denies all traffic; access is still gated by Entra ID and the role below.
    ipAllowlist: ['0.0.0.0/0']
  }
}

resource taskHub 'Microsoft.DurableTask/schedulers/taskHubs@2025-11-01' = {
  parent: scheduler
  name: taskHubName
}

resource taskHubDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(taskHub.id, principalId, durableTaskDataContributorRoleId)
  scope: taskHub
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', durableTaskDataContributorRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

output endpoint string = scheduler.properties.endpoint
output name string = scheduler.name
