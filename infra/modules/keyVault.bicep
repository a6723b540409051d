// Key Vault for SAS token values (and the SMTP password when SMTP is used). RBAC mode only: no
// access policies; soft delete + purge protection so a deleted token cannot be lost for good.
param name string
param location string
param tags object
@description('Principal id of the app identity (the only principal granted roles by this template).')
param principalId string

// Key Vault Secrets Officer: the app writes a secret when a SAS token is registered or rotated and
// reads it when an export is updated; it never needs keys, certificates or vault settings.
var keyVaultSecretsOfficerRoleId = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
  }
}

resource secretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, principalId, keyVaultSecretsOfficerRoleId)
  scope: vault
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsOfficerRoleId)
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
