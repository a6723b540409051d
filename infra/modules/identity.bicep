// The app's one identity. User-assigned rather than system-assigned because it outlives the function
// app: Cost Management roles on billing scopes are granted by hand (ARM cannot), and recreating the
// app must not silently drop them. It also exists before the app, so the Flex deployment container
// and host storage roles are in place on the app's first start.
param name string
param location string
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output principalId string = identity.properties.principalId
output clientId string = identity.properties.clientId
