// Second phase: the Event Grid subscription that pushes BlobCreated events for manifest.json to the
// blob trigger's webhook. Event Grid validates the endpoint when the subscription is created, and the
// host only answers (and only has its `blobs_extension` system key) once the code is deployed, so
// azd's postdeploy hook turns EXPORT_EVENTS_ENABLED on and provisions again (docs/deployment.md).
param systemTopicName string
param functionAppName string
param functionAppResourceGroupName string
param functionAppSubscriptionId string
param containerName string
@description('The registered name of the EventGrid-source blob trigger (src/functions/exportLanded.ts).')
param functionName string

resource systemTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' existing = {
  name: systemTopicName
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
  scope: resourceGroup(functionAppSubscriptionId, functionAppResourceGroupName)
}

// The key goes straight into the webhook URL, which Event Grid stores write-only; it is never an
// output or an app setting.
var webhookUrl = 'https://${functionApp.properties.defaultHostName}/runtime/webhooks/blobs?functionName=Host.Functions.${functionName}&code=${listKeys('${functionApp.id}/host/default', '2024-04-01').systemKeys.blobs_extension}'

resource manifestLanded 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = {
  parent: systemTopic
  name: 'export-manifest-landed'
  properties: {
    destination: {
      endpointType: 'WebHook'
      properties: {
        endpointUrl: webhookUrl
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: ['Microsoft.Storage.BlobCreated']
      subjectBeginsWith: '/blobServices/default/containers/${containerName}/'
      subjectEndsWith: 'manifest.json'
    }
    // A day of retries rides out an app outage. Later events are dropped by Event Grid; a waiting
    // backfill still learns of its run through the orchestration's run-history timer fallback.
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
  }
}

output name string = manifestLanded.name
