// The storage account Cost Management exports land in: created here (with the exports container),
// or an existing account the partner already uses, possibly in another subscription / resource group
// (this module is then deployed into that account's resource group and only reads it).
param createAccount bool
@description('Name of the account to create, or of the existing account.')
param name string
@description('Used only when the account is created.')
param location string
param tags object
param containerName string
@description('Keep true. Cost Management checks at PUT that the destination account allows shared key access, for resourceId destinations delivered with the export\'s own identity too (azure-cli#32912, azure-powershell#29424); SAS-token delivery needs an account SAS, which the key signs. The app itself never uses a key.')
param allowSharedKeyAccess bool

resource newAccount 'Microsoft.Storage/storageAccounts@2023-05-01' = if (createAccount) {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    allowSharedKeyAccess: allowSharedKeyAccess
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    // Cost Management requires: no firewall, and copy scope "from any storage account" (allowedCopyScope unset).
    publicNetworkAccess: 'Enabled'
    networkAcls: { defaultAction: 'Allow', bypass: 'AzureServices' }
  }
}

resource newBlobServices 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = if (createAccount) {
  parent: newAccount
  name: 'default'
}

resource newContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = if (createAccount) {
  parent: newBlobServices
  name: containerName
  properties: { publicAccess: 'None' }
}

resource existingAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = if (!createAccount) {
  name: name
}

// ARM's if() evaluates only the branch taken, so the reference to the account not in use is never read.
output id string = createAccount ? newAccount.id : existingAccount.id
output name string = name
output location string = createAccount ? newAccount.location : existingAccount.location
output blobEndpoint string = createAccount
  ? newAccount.properties.primaryEndpoints.blob
  : existingAccount.properties.primaryEndpoints.blob
output queueEndpoint string = createAccount
  ? newAccount.properties.primaryEndpoints.queue
  : existingAccount.properties.primaryEndpoints.queue
