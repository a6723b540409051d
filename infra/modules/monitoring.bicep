// Log Analytics + workspace-based Application Insights, both with local (key) auth disabled: telemetry
// is accepted only from Entra identities holding Monitoring Metrics Publisher on the component.
param logAnalyticsName string
param applicationInsightsName string
param location string
param tags object
@description('Principal id of the app identity (the only principal granted roles by this template).')
param principalId string

// Monitoring Metrics Publisher: lets the Functions host send telemetry with Entra auth
// (APPLICATIONINSIGHTS_AUTHENTICATION_STRING) now that instrumentation-key ingestion is off.
var monitoringMetricsPublisherRoleId = '3913510d-42f4-4e42-8a64-420c390055eb'

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: 30
    features: { disableLocalAuth: true }
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    DisableLocalAuth: true
  }
}

// The app writes one JSON line per operational event (src/domain/logEvent.ts): the Node worker's
// context.log cannot attach custom properties to a trace (azure-functions-nodejs-library#227), so
// this workspace function turns those lines into columns: `CostAutopilotEvents | where Event ==
// 'landing.rejected' | project TimeGenerated, tostring(Fields.exportName), tostring(Fields.reason)`.
resource eventsFunction 'Microsoft.OperationalInsights/workspaces/savedSearches@2020-08-01' = {
  parent: logAnalytics
  name: 'costautopilot-events'
  properties: {
    category: 'Cost Export Autopilot'
    displayName: 'Cost Export Autopilot events'
    functionAlias: 'CostAutopilotEvents'
    query: 'AppTraces | where Message startswith \'{"event":\' | extend Fields = parse_json(Message) | project TimeGenerated, Event = tostring(Fields.event), SeverityLevel, OperationName, InvocationId = tostring(Properties.InvocationId), AppRoleInstance, Fields'
    version: 2
  }
}

resource publishMetrics 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, principalId, monitoringMetricsPublisherRoleId)
  scope: appInsights
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisherRoleId)
  }
}

// The app module reads the connection string itself from the component, so no output carries it.
output name string = appInsights.name
