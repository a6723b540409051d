// Azure Communication Services Email for the expiry digest, with an Azure-managed sender domain
// (no DNS work; a custom domain can be linked later in the portal).
param communicationServiceName string
param emailServiceName string
param tags object
@description('Where ACS stores data at rest, e.g. "United States", "Europe".')
param dataLocation string
@description('Principal id of the app identity (the only principal granted roles by this template).')
param principalId string

// Communication and Email Service Owner, scoped to this one ACS resource: no built-in send-only role
// exists, and a custom role would need roleDefinitions/write at subscription scope from whoever
// deploys, plus the same CommunicationServices read/write actions; one resource is the whole blast radius.
var communicationEmailServiceOwnerRoleId = '09976791-48a7-449e-bb21-39d1a415f350'

resource emailService 'Microsoft.Communication/emailServices@2023-04-01' = {
  name: emailServiceName
  location: 'global'
  tags: tags
  properties: { dataLocation: dataLocation }
}

resource managedDomain 'Microsoft.Communication/emailServices/domains@2023-04-01' = {
  parent: emailService
  name: 'AzureManagedDomain'
  location: 'global'
  tags: tags
  properties: {
    domainManagement: 'AzureManaged'
    userEngagementTracking: 'Disabled'
  }
}

resource communication 'Microsoft.Communication/communicationServices@2023-04-01' = {
  name: communicationServiceName
  location: 'global'
  tags: tags
  properties: {
    dataLocation: dataLocation
    linkedDomains: [managedDomain.id]
  }
}

resource emailSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(communication.id, principalId, communicationEmailServiceOwnerRoleId)
  scope: communication
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', communicationEmailServiceOwnerRoleId)
  }
}

output endpoint string = 'https://${communication.properties.hostName}'
// An Azure-managed domain comes with the DoNotReply sender username.
output senderAddress string = 'DoNotReply@${managedDomain.properties.fromSenderDomain}'
