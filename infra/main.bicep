// tenantsync in the MSP's own subscription: Function App on Flex Consumption (custom handler),
// storage for the host and the tables (identity only: shared keys off), a Service Bus queue, a Key
// Vault in RBAC mode, one user-assigned identity holding exactly the roles it needs, Application
// Insights on Log Analytics, and App Service Authentication for the admin endpoints.
//
// Deploy: make deploy (see README "Deploy into your subscription").
targetScope = 'resourceGroup'

@description('Azure region for every resource.')
param location string = resourceGroup().location

@description('Short lower-case prefix for resource names (3-10 letters or digits).')
@minLength(3)
@maxLength(10)
param prefix string = 'tsync'

@description('The MSP partner tenant id (where tenantsync\'s app registration lives).')
param partnerTenantId string = tenant().tenantId

@description('Application (client) id of tenantsync\'s multi-tenant app registration (from `tenantsync register`).')
param appClientId string = ''

@description('How the app authenticates to customer tenants: federated (managed identity, no secret), certificate (kept in Key Vault) or secret (Key Vault; its expiry is watched).')
@allowed([
  'federated'
  'certificate'
  'secret'
])
param appAuth string = 'federated'

@description('Object id of the Entra group whose members may use the admin API when signed in through App Service Authentication.')
param adminGroupId string = ''

@description('Client id of the app registration App Service Authentication signs admins in with (empty: authentication off, function keys only).')
param authClientId string = ''

@description('Mailbox (UPN in the partner tenant) that sends admin-consent links.')
param consentMailFrom string = ''

@description('NCRONTAB schedule of the fan-out (UTC).')
param fanoutSchedule string = '0 0 */6 * * *'

@description('NCRONTAB schedule of tenant discovery (UTC).')
param discoverySchedule string = '0 30 */6 * * *'

@description('Window the fan-out spreads tenants over (ISO 8601).')
param fanoutSpread string = 'PT30M'

@description('Grant consent through Partner Center automatically for newly discovered tenants.')
param autoConsent bool = true

@description('Maximum instances of the Flex Consumption app.')
param maximumInstanceCount int = 40

var suffix = uniqueString(resourceGroup().id, prefix)
var names = {
  identity: '${prefix}-id-${suffix}'
  storage: toLower(take('${prefix}st${suffix}', 24))
  serviceBus: '${prefix}-sb-${suffix}'
  keyVault: take('${prefix}-kv-${suffix}', 24)
  logs: '${prefix}-logs-${suffix}'
  insights: '${prefix}-ai-${suffix}'
  plan: '${prefix}-plan-${suffix}'
  app: '${prefix}-func-${suffix}'
}
var queueName = 'tenant-sync'
var deploymentContainer = 'app-package'
var publicUrl = 'https://${names.app}.azurewebsites.net'

// Built-in role definition ids: exactly these, and nothing broader (a contract test checks the list).
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b' // host: timer leases, deployment package
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3' // tenants and synced data
  serviceBusDataSender: '69a216fc-b8fb-44d8-bc22-1f3c2552a1d6' // fan-out
  serviceBusDataReceiver: '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0' // TenantSync trigger
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7' // partner refresh token (read and rotate)
}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: names.identity
  location: location
}

resource logs 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: names.logs
  location: location
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: 30
  }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: names.insights
  location: location
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logs.id
  }
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: names.storage
  location: location
  sku: { name: 'Standard_LRS' }
  kind: 'StorageV2'
  properties: {
    allowSharedKeyAccess: false // identity-based access only
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource packageContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainer
}

resource serviceBus 'Microsoft.ServiceBus/namespaces@2022-10-01-preview' = {
  name: names.serviceBus
  location: location
  sku: { name: 'Standard', tier: 'Standard' } // duplicate detection needs Standard
  properties: {
    disableLocalAuth: true // no SAS keys: identity only
    minimumTlsVersion: '1.2'
  }
}

resource queue 'Microsoft.ServiceBus/namespaces/queues@2022-10-01-preview' = {
  parent: serviceBus
  name: queueName
  properties: {
    requiresDuplicateDetection: true // MessageId = tenant + schedule slot: re-fired timers are dropped
    duplicateDetectionHistoryTimeWindow: 'PT10M'
    maxDeliveryCount: 10
    lockDuration: 'PT5M' // the maximum; the host renews it during a run
    deadLetteringOnMessageExpiration: true
    defaultMessageTimeToLive: 'P14D'
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: names.keyVault
  location: location
  properties: {
    tenantId: tenant().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
  }
}

resource blobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, roles.storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource tableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, roles.storageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource busSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(queue.id, identity.id, roles.serviceBusDataSender)
  scope: queue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataSender)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource busReceiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(queue.id, identity.id, roles.serviceBusDataReceiver)
  scope: queue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataReceiver)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource secretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, identity.id, roles.keyVaultSecretsOfficer)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsOfficer)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: names.plan
  location: location
  kind: 'functionapp'
  sku: { name: 'FC1', tier: 'FlexConsumption' }
  properties: { reserved: true }
}

// Secrets are Key Vault references resolved by the platform with the identity above; an unresolved
// one reaches the handler as the literal reference, which it reports by setting name.
var secretRef = 'https://${names.keyVault}${environment().suffixes.keyvaultDns}/secrets'
var appSettings = [
  { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: insights.properties.ConnectionString }
  { name: 'AzureWebJobsStorage__accountName', value: storage.name }
  { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
  { name: 'AzureWebJobsStorage__clientId', value: identity.properties.clientId }
  { name: 'ServiceBusConnection__fullyQualifiedNamespace', value: '${serviceBus.name}.servicebus.windows.net' }
  { name: 'ServiceBusConnection__credential', value: 'managedidentity' }
  { name: 'ServiceBusConnection__clientId', value: identity.properties.clientId }
  { name: 'AZURE_CLIENT_ID', value: identity.properties.clientId }
  { name: 'TABLES_ENDPOINT', value: storage.properties.primaryEndpoints.table }
  { name: 'SYNC_QUEUE_NAME', value: queueName }
  { name: 'KEY_VAULT_URL', value: vault.properties.vaultUri }
  { name: 'PARTNER_TENANT_ID', value: partnerTenantId }
  { name: 'APP_CLIENT_ID', value: appClientId }
  { name: 'APP_AUTH', value: appAuth }
  { name: 'APP_CLIENT_SECRET', value: appAuth == 'secret' ? '@Microsoft.KeyVault(SecretUri=${secretRef}/app-client-secret/)' : '' }
  { name: 'APP_CERTIFICATE', value: appAuth == 'certificate' ? '@Microsoft.KeyVault(SecretUri=${secretRef}/app-certificate/)' : '' }
  { name: 'STATE_SIGNING_KEY', value: '@Microsoft.KeyVault(SecretUri=${secretRef}/state-signing-key/)' }
  { name: 'PUBLIC_BASE_URL', value: publicUrl }
  { name: 'AZURE_AUTHORITY_HOST', value: environment().authentication.loginEndpoint }
  { name: 'GRAPH_BASE_URL', value: '${environment().graph}v1.0' }
  { name: 'PARTNER_CENTER_BASE_URL', value: 'https://api.partnercenter.microsoft.com' }
  { name: 'FANOUT_SCHEDULE', value: fanoutSchedule }
  { name: 'DISCOVERY_SCHEDULE', value: discoverySchedule }
  { name: 'PARTNER_KEEPALIVE_SCHEDULE', value: '0 0 3 * * 1' }
  { name: 'FANOUT_SPREAD', value: fanoutSpread }
  { name: 'SYNC_CONCURRENCY', value: '4' }
  { name: 'CONSENT_MAIL_FROM', value: consentMailFrom }
  { name: 'CONSENT_LINK_TTL', value: 'P7D' }
  { name: 'AUTO_CONSENT', value: string(autoConsent) }
  { name: 'ADMIN_GROUP_ID', value: adminGroupId }
  { name: 'LOG_FORMAT', value: 'json' }
  { name: 'LOG_LEVEL', value: 'info' }
]

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: names.app
  location: location
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identity.id}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identity.id
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainer}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identity.id
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: 2048
      }
      runtime: { name: 'custom', version: '1.0' }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      appSettings: appSettings
    }
  }
  dependsOn: [blobOwner, tableContributor, busSender, busReceiver, secretsOfficer, packageContainer]
}

// App Service Authentication: admins sign in with Entra; unauthenticated requests still reach the
// host (the OAuth callbacks are anonymous and rely on their signed state; every other route needs a
// function key, and a signed-in principal must also be in the admin group).
resource auth 'Microsoft.Web/sites/config@2024-04-01' = if (!empty(authClientId)) {
  parent: app
  name: 'authsettingsV2'
  properties: {
    platform: { enabled: true }
    globalValidation: {
      requireAuthentication: false
      unauthenticatedClientAction: 'AllowAnonymous'
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: authClientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
        }
        validation: {
          allowedAudiences: ['api://${authClientId}']
        }
      }
    }
    login: { tokenStore: { enabled: true } }
  }
}

@description('The app\'s public URL.')
output appUrl string = publicUrl

@description('Redirect URIs to register on tenantsync\'s app registration (tenantsync register --public-url does it).')
output redirectUris array = ['${publicUrl}/api/connect/callback', '${publicUrl}/api/consent/callback']

output functionAppName string = app.name
output keyVaultName string = vault.name
output keyVaultUrl string = vault.properties.vaultUri

@description('Principal (object) id of the managed identity: the subject of the app registration\'s federated credential.')
output managedIdentityPrincipalId string = identity.properties.principalId
output managedIdentityClientId string = identity.properties.clientId
